package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mpg/domain"
	"mpg/smpp"
)

func TestSimulatorPhoneInterface(t *testing.T) {
	sim, err := smpp.NewSim("127.0.0.1:0", "mpg", "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewServer(simHandler(sim))
	defer srv.Close()
	post := func(body string) int {
		resp, err := http.Post(srv.URL+"/mo", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(`{"from":"+33612345678","to":"1234","text":"BAL"}`); code != http.StatusServiceUnavailable {
		t.Fatalf("no ESME bound: %d", code)
	}
	if code := post(`{"text":"x"}`); code != http.StatusBadRequest {
		t.Fatalf("bad body: %d", code)
	}
	var cl *smpp.Client
	cl = smpp.NewClient(smpp.Config{Addr: sim.Addr(), Bind: smpp.Bind{SystemID: "mpg", Password: "pw"}, Transceiver: true},
		func(ctx context.Context, mo smpp.MO) error {
			_, err := cl.Submit(ctx, mo.To, mo.From, "you said "+mo.Text, false)
			return err
		}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cl.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); !cl.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not bound")
		}
	}
	if code := post(`{"from":"+33612345678","to":"1234","text":"BAL"}`); code != http.StatusOK {
		t.Fatalf("MO: %d", code)
	}
	resp, err := http.Get(srv.URL + "/mt?phone=%2B33612345678")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var texts []string
	if err := json.NewDecoder(resp.Body).Decode(&texts); err != nil || len(texts) != 1 || texts[0] != "you said BAL" {
		t.Fatalf("MT: %v %q", err, texts)
	}
}

func TestBenchSMPPLastLine(t *testing.T) {
	out := mustRun(t, "bench", "smpp", "--messages", "300", "--clients", "4")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^mo_per_s=\d+ mt_per_s=\d+ p99_ms=[\d.]+$`).MatchString(lines[len(lines)-1]) {
		t.Fatalf("last line: %q", lines[len(lines)-1])
	}
}

// TestBenchEndToEndAnswersEverything runs `mpg bench` as operators do: the daemon in its own
// process (this test binary, run as mpg), the load from this one, every mix (http: requests
// to pay through the merchant API, each confirmed by YES <code>).
func TestBenchEndToEndAnswersEverything(t *testing.T) {
	t.Setenv("MPG_TEST_AS_MPG", "1")
	for _, mix := range []string{"pay", "mixed", "http", "debit", "credit"} {
		out := mustRun(t, "bench", "--subscribers", "100", "--merchants", "5", "--commands", "600", "--outstanding", "16", "--mix", mix)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		last := lines[len(lines)-1]
		if !regexp.MustCompile(`^(mo_mt|paid)_per_s=\d+ p50_ms=[\d.]+ p99_ms=[\d.]+ p999_ms=[\d.]+ answered=600/600 verify=ok$`).MatchString(last) {
			t.Fatalf("%s: last line: %q\n%s", mix, last, out)
		}
		if !strings.Contains(out, "refused: none") || !regexp.MustCompile(`cpu_daemon=[\d.]+ cpu_driver=[\d.]+`).MatchString(out) {
			t.Fatalf("%s: report: %s", mix, out)
		}
	}
}

// TestPhoneReadsItsNumberLikeEveryOther: `mpg phone --as 0612345678` texts as +33612345678,
// the number the daemon gives the sender, and so reads that phone's replies.
func TestPhoneReadsItsNumberLikeEveryOther(t *testing.T) {
	sim, err := smpp.NewSim("127.0.0.1:0", "mpg", "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewServer(simHandler(sim))
	defer srv.Close()
	var cl *smpp.Client
	froms := make(chan string, 4)
	// Like the daemon: the reply goes to the sender's E.164 number.
	cl = smpp.NewClient(smpp.Config{Addr: sim.Addr(), Bind: smpp.Bind{SystemID: "mpg", Password: "pw"}, Transceiver: true},
		func(ctx context.Context, mo smpp.MO) error {
			froms <- mo.From
			to, err := domain.Sender(mo.From, mo.FromTON, "FR")
			if err != nil {
				return err
			}
			_, err = cl.Submit(ctx, mo.To, to, "you said "+mo.Text, false)
			return err
		}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cl.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); !cl.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not bound")
		}
	}
	a := &app{}
	root := a.rootCmd()
	var out bytes.Buffer
	root.SetIn(strings.NewReader("\nBAL\n"))
	root.SetOut(&out)
	root.SetErr(&out)
	cfg := filepath.Join(t.TempDir(), "mpg.toml")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	root.SetArgs([]string{"--config", cfg, "phone", "--as", "06 12 34 56 78", "--smsc-http", strings.TrimPrefix(srv.URL, "http://")})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if from := <-froms; from != "+33612345678" && from != "33612345678" {
		t.Errorf("texted as %q, want +33612345678", from)
	}
	if !strings.Contains(out.String(), "< you said BAL") {
		t.Errorf("the reply did not reach the phone's screen:\n%s", out.String())
	}
	if _, err := run(t, "phone", "--as", "+447700900123"); err == nil || !strings.Contains(err.Error(), "foreign") {
		t.Errorf("a foreign number that cannot exist: %v", err)
	}
}
