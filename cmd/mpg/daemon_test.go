package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"mpg/config"
	"mpg/ledger"
	"mpg/smpp"
)

func TestDemoPlaysAConversationOverSMPP(t *testing.T) {
	a := &app{cfg: config.Default(), log: zap.NewNop()}
	var out bytes.Buffer
	if err := a.demo(context.Background(), strings.NewReader(""), &out, demoAlice, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"+33612345678 < Balance 50.00 EUR",
		"+33612345678 < Paid 12.50 EUR to Corner Shop. Fee 0.10 EUR. Balance 37.40 EUR",
		"+33698765432 < Payment received: 12.50 EUR from +336****678",
		"Unknown merchant SHOP4",
		"+33687654321 < Solde 55,00 EUR",
		"You already sent 5.00 EUR to +336****321",
		"+33611223344 < 2.00 EUR from +336****678 is now in your e-purse",
		"Wrong PIN. 2 tries left",
		"+33687654321 < 余额 55.00 EUR",
		"to pay 4.50 EUR to Corner Shop on its web page",
		"+33612345678 < Paid 4.50 EUR to Corner Shop",
		"page  : Paid. Thank you.",
		"+33612345678 < Sent to your bank: 20.00 EUR to Corner Shop",
		"settlement: payout MPG",
		"settlement file (pain.001.001.03, SEPA): ",
		"Confirmation by phone call: run the demo at a terminal",
		"Demo over: its ledger, keys, settlement file and simulators",
		"+33612345678 < Authorised 30.00 EUR at Corner Shop on your credit line. Available 70.00 EUR",
		"+33612345678 < Corner Shop charged 25.00 EUR to your credit line",
		"+33612345678 < Repaid 10.00 EUR on your credit line: 15.00 EUR still owed",
		"+33612345678 < Paid 20.00 EUR to Corner Shop from your bank account FR76 **** 0189. Bank approval 000001",
		"+12 pts (12 total).", // points and offers: earned in the payment's job, shown in its reply
		"+33612345678 < Offers for you: WELCOME -1.00 EUR Corner Shop.",
		"+33612345678 < Paid 7.00 EUR to Corner Shop.",
		"Offer WELCOME: 1.00 EUR off 8.00 EUR. +7 pts (19 total).",
		"+33698765432 < Payment received: 8.00 EUR from +336****678 for WELCOME",
		"+33612345678 < You have 19 points. 19 expire on",
		"Paid with 19 pts (0.19 EUR): 0 pts left.",
		"+4 pts (49 total).", // a checkout earns like a texted payment
		"+33612345678 < Money sent to you now goes to your bank account FR76 **** 0189",
		"+33612345678 < 3.00 EUR from +336****321 Bob: on its way to your bank account FR76 **** 0189",
		"Money sent to you: bank account (RECEIVE BANK or PURSE)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	// The points come right after the payment's receipt, in its own reply.
	if !regexp.MustCompile(`Receipt [0-9A-Z]+-[0-9A-Z]+ \+12 pts`).MatchString(out.String()) {
		t.Errorf("the first payment's reply lacks its receipt then its points:\n%s", out.String())
	}
}

// syncBuffer is a log sink tests can read while the daemon writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) Sync() error    { return nil }
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// testServeConfig is a daemon's configuration bound to a simulator at smsc, with test keys.
func testServeConfig(smsc string) config.Config {
	cfg := config.Default()
	cfg.SMPP.Addr, cfg.SMPP.Password = smsc, "pw"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Engine.PINKey, cfg.Engine.ReceiptKey = "test-pin-key-0123456789", "test-receipt-key-0123456789"
	cfg.Engine.MOPerMinute = 0 // these tests text fast from few numbers; flood control has its own
	return cfg
}

// serveTest opens the ledger as the daemon does (opt may adjust its options) and starts the
// daemon on it; both end with the test.
func serveTest(t *testing.T, db string, cfg config.Config, opt func(*ledger.Options)) (l *ledger.Ledger, httpAddr string, stop func() error) {
	t.Helper()
	o := (&app{cfg: cfg}).daemonLedgerOptions(cfg)
	if opt != nil {
		opt(o)
	}
	l, err := ledger.Open(db, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	_, httpAddr, stop, err = startDaemon(context.Background(), cfg, l, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop() })
	return l, httpAddr, stop
}

// testSetup makes a ledger file (init, then the given admin commands) and a simulator, and
// returns them with the configuration of a daemon bound to that simulator.
func testSetup(t *testing.T, admin ...[]string) (db string, sim *smpp.Sim, cfg config.Config) {
	t.Helper()
	bk := newBooks(t, config.DriverBbolt)
	sim, cfg = testSetupOn(t, bk, admin...)
	return bk.ledger.Path, sim, cfg
}

// testSetupOn makes a ledger in the books (init, then the given admin commands) and a
// simulator, and returns the simulator with the configuration of a daemon on the books
// bound to it.
func testSetupOn(t *testing.T, bk testBooks, admin ...[]string) (sim *smpp.Sim, cfg config.Config) {
	t.Helper()
	mustRun(t, bk.cli("ledger", "init", "--currency", "EUR")...)
	for _, args := range admin {
		mustRun(t, bk.cli(args...)...)
	}
	sim, err := smpp.NewSim("127.0.0.1:0", "mpg", "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	cfg = testServeConfig(sim.Addr())
	cfg.Ledger = bk.ledger
	return sim, cfg
}

// TestServeEndpointsAndNoPINAnywhere runs the daemon against the simulator with debug logs,
// texts commands with PINs (right and wrong, changed), then checks the health and metrics
// endpoints and greps the log and the ledger file for every PIN used: none may be there.
func TestServeEndpointsAndNoPINAnywhere(t *testing.T) {
	db, sim, cfg := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop"})
	cfg.Engine.ConfirmAbove = 1000 // a payment above 10.00 asks YES <code>
	var logs syncBuffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), &logs, zapcore.DebugLevel))
	l, err := ledger.Open(db, (&app{cfg: cfg}).daemonLedgerOptions(cfg))
	if err != nil {
		t.Fatal(err)
	}
	_, httpAddr, stopDaemon, err := startDaemon(context.Background(), cfg, l, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := "http://" + httpAddr
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz %d", code)
	}
	pins := []string{"739164", "582047", "000001"}
	ph := &phone{sim: sim, out: io.Discard}
	for _, text := range []string{"REG 739164 Zoe", "BAL 739164", "BAL 000001", "PAY SHOP42 1 739164", "PIN 739164 582047", "BAL 582047"} {
		if err := ph.text(ctx, "+33655555555", text, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := sim.MT("+33655555555"); len(got) != 6 || !strings.Contains(got[5], "Balance 0.00 EUR") {
		t.Fatalf("replies: %q", got)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "mpg_smpp_mo_total 6") || !strings.Contains(body, "mpg_ledger_commits_total") ||
		!strings.Contains(body, "mpg_statistics_lag_entries ") {
		t.Fatalf("/metrics %d:\n%s", code, body)
	}
	// One-time codes are secrets too: a confirmation code, and the code that sets the PIN of
	// a purse opened at the counter. PINs glued to words are secrets as well.
	codeRe := regexp.MustCompile(`\b(\d{6})\b`)
	mustRun(t, "--db", db, "account", "topup", "+33655555555", "50")
	if err := ph.text(ctx, "+33655555555", "PAY SHOP42 20 582047", false); err != nil {
		t.Fatal(err)
	}
	got := sim.MT("+33655555555")
	code := codeRe.FindStringSubmatch(got[len(got)-1])
	if code == nil || !strings.Contains(got[len(got)-1], "YES") {
		t.Fatalf("no confirmation code: %q", got)
	}
	for _, text := range []string{"YES " + code[1], "BAL:582047", "BAL582047"} {
		if err := ph.text(ctx, "+33655555555", text, false); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, "--db", db, "account", "open", "+33655555556")
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	act, err := sim.WaitMT(wctx, "+33655555556", 1)
	if err != nil {
		t.Fatal(err)
	}
	activation := codeRe.FindStringSubmatch(act[0])
	if activation == nil {
		t.Fatalf("no activation code: %q", act)
	}
	if err := ph.text(ctx, "+33655555556", "PIN "+activation[1]+" 924680", false); err != nil {
		t.Fatal(err)
	}
	if got := sim.MT("+33655555556"); !strings.Contains(got[len(got)-1], "PIN is set") {
		t.Fatalf("activation: %q", got)
	}
	pins = append(pins, code[1], activation[1], "924680")
	if err := stopDaemon(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	file, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"command":"BAL"`) {
		t.Fatalf("debug log has no MO with its command word:\n%s", logs.String())
	}
	for _, pin := range pins {
		if strings.Contains(logs.String(), pin) {
			t.Errorf("PIN %s in the log:\n%s", pin, logs.String())
		}
		if bytes.Contains(file, []byte(pin)) {
			t.Errorf("PIN %s in the ledger file", pin)
		}
	}
}

// TestAdminWhileServing runs admin commands while the daemon holds the file: they go through
// its socket, and their effect is the daemon's.
func TestAdminWhileServing(t *testing.T) {
	db, sim, cfg := testSetup(t)
	dir := filepath.Dir(db)
	l, err := ledger.Open(db, (&app{cfg: cfg}).daemonLedgerOptions(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, _, stopDaemon, err := startDaemon(context.Background(), cfg, l, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer stopDaemon()
	ctx := context.Background()
	if fi, err := os.Stat(socketPath(db)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket: %v %v", err, fi)
	}
	mustRun(t, "--db", db, "merchant", "add", "SHOP42", "--name", "Corner Shop")
	ph := &phone{sim: sim, out: io.Discard}
	if err := ph.text(ctx, "+33655555555", "REG 739164", false); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "--db", db, "account", "topup", "+33655555555", "20"); !strings.Contains(out, "balance 20.00 EUR") {
		t.Fatalf("topup through the daemon: %q", out)
	}
	if err := ph.text(ctx, "+33655555555", "PAY SHOP42 5 739164", false); err != nil {
		t.Fatal(err)
	}
	if got := sim.MT("+33655555555"); !strings.Contains(got[len(got)-1], "Balance 15.00 EUR") {
		t.Fatalf("after PAY: %q", got)
	}
	if out := mustRun(t, "--db", db, "ledger", "show", "SHOP42", "-o", "json"); !strings.Contains(out, `"available": "5.00 EUR"`) {
		t.Fatalf("show through the daemon: %s", out)
	}
	if out := mustRun(t, "--db", db, "ledger", "verify"); !strings.Contains(out, "ledger verify: ok") {
		t.Fatalf("verify through the daemon: %s", out)
	}
	// Promotions and campaigns too: SHOP42's takings fund a promotion, a campaign sends it.
	mustRun(t, "--db", db, "promo", "create", "SHOP42", "SPRING", "--name", "Spring", "--percent", "10", "--budget", "2")
	if out := mustRun(t, "--db", db, "promo", "list", "SHOP42"); !strings.Contains(out, "SPRING") {
		t.Fatalf("promo list through the daemon: %s", out)
	}
	if out := mustRun(t, "--db", db, "campaign", "create", "--promo", "SPRING", "--text", "Spring at Corner Shop"); !strings.Contains(out, "created") {
		t.Fatalf("campaign through the daemon: %s", out)
	}
	mustRun(t, "--db", db, "dispute", "list", "SHOP42")
	// Statistics: the daemon's follower counts the payment; a rebuild counts it again.
	waitStats := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			out := mustRun(t, "--db", db, "stats", "--by", "merchant")
			if strings.Contains(out, "SHOP42 Corner Shop") && strings.Contains(out, "5.00") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("stats through the daemon %s: %s", what, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitStats("after PAY")
	if out := mustRun(t, "--db", db, "stats", "rebuild"); !strings.Contains(out, "the daemon's follower counts them again") {
		t.Fatalf("stats rebuild through the daemon: %s", out)
	}
	waitStats("after a rebuild")
	backup := filepath.Join(dir, "copy.db")
	mustRun(t, "--db", db, "ledger", "backup", backup)
	if _, err := os.Stat(backup); err != nil {
		t.Fatalf("backup through the daemon: %v", err)
	}
	if _, err := run(t, "--db", db, "ledger", "init"); err == nil || !strings.Contains(err.Error(), "daemon holds") {
		t.Fatalf("init through the daemon: %v", err)
	}
}

// TestReadyzWhenTheLedgerStops: after a write error the ledger takes no more work; the daemon
// says so on /readyz and in a metric, and MO get a temporary error (the SMSC keeps them).
func TestReadyzWhenTheLedgerStops(t *testing.T) {
	db, sim, cfg := testSetup(t)
	var broken atomic.Bool
	_, httpAddr, _ := serveTest(t, db, cfg, func(o *ledger.Options) {
		o.CommitFault = func() error {
			if broken.Load() {
				return errors.New("no space left on device")
			}
			return nil
		}
	})
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before: %d", code)
	}
	broken.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st, _ := sim.SendMO(ctx, "+33655555555", "1234", "REG 739164"); st != smpp.StatusTempAppErr {
		t.Fatalf("MO while the ledger is stopped: %v, want ESME_RX_T_APPN", st)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "ledger stopped") {
		t.Fatalf("/readyz after a write error: %d %s", code, body)
	}
	if _, body := get("/metrics"); !strings.Contains(body, "mpg_ledger_stopped 1") {
		t.Fatalf("metrics:\n%s", body)
	}
}

// TestGracefulStopDrainsTheOutbox: replies still queued when the daemon is told to stop
// leave before the links unbind (within smpp.drain_s), even from a slow SMSC.
func TestGracefulStopDrainsTheOutbox(t *testing.T) {
	db, sim, cfg := testSetup(t)
	cfg.SMPP.DrainS = 10
	l, _, stop := serveTest(t, db, cfg, nil)
	sim.Delay(150 * time.Millisecond) // each submit_sm_resp comes late
	ctx := context.Background()
	const n = 30
	for i := range n {
		if st, err := sim.SendMO(ctx, fmt.Sprintf("+336555500%02d", i), "1234", "HELP"); err != nil || st != smpp.StatusOK {
			t.Fatalf("MO %d: %v %v", i, st, err)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := 0
	for i := range n {
		got += len(sim.MT(fmt.Sprintf("+336555500%02d", i)))
	}
	if got != n {
		t.Fatalf("%d of %d replies left before the unbind", got, n)
	}
	if left, _ := l.Unsent(); left != 0 {
		t.Fatalf("%d replies still unsent", left)
	}
}

// TestFloodControlOverSMPP: a number texting faster than engine.mo_per_minute gets
// ESME_RX_T_APPN (its MO wait at the SMSC), one notice, and a metric counts the refusals.
func TestFloodControlOverSMPP(t *testing.T) {
	db, sim, cfg := testSetup(t)
	cfg.Engine.MOPerMinute, cfg.Engine.MOBurst = 2, 2
	_, httpAddr, _ := serveTest(t, db, cfg, nil)
	ctx := context.Background()
	const flooder = "+33655551111"
	var statuses []pdu.Status
	for i := range 4 {
		st, err := sim.SendMO(ctx, flooder, "1234", fmt.Sprintf("HELP %d", i))
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, st)
	}
	if statuses[0] != smpp.StatusOK || statuses[1] != smpp.StatusOK || statuses[3] != smpp.StatusTempAppErr {
		t.Fatalf("statuses %v", statuses)
	}
	if st, _ := sim.SendMO(ctx, "+33655552222", "1234", "HELP"); st != smpp.StatusOK {
		t.Fatalf("another number held up: %v", st)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, _ := sim.WaitMT(wctx, flooder, 3)
	time.Sleep(100 * time.Millisecond)
	notices := 0
	for _, m := range sim.MT(flooder) {
		if strings.Contains(m, "Too many messages") {
			notices++
		}
	}
	if notices != 1 {
		t.Fatalf("%d notices in %q", notices, got)
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "mpg_mo_flood_refused_total") || strings.Contains(string(b), "mpg_mo_flood_refused_total 0") {
		t.Fatalf("metrics:\n%s", b)
	}
}

// TestRepliesThroughAnAwkwardSMSC: an SMSC that throttles longer than a few retries, answers
// with statuses outside the usual list and sends a receipt before the submit's response;
// every reply arrives exactly once, and the operator sees, counts and resends them through
// the admin socket.
func TestRepliesThroughAnAwkwardSMSC(t *testing.T) {
	db, sim, cfg := testSetup(t)
	cfg.SMPP.RetryMs = 20
	l, _, _ := serveTest(t, db, cfg, nil)
	ctx := context.Background()
	phones := []string{"+33655550001", "+33655550002", "+33655550003"}
	for _, fault := range []func(){
		func() { sim.Throttle(12) },                            // twice the old "failed for ever" limit
		func() { sim.RefuseSubmits(0x45, 6) },                  // ESME_RSUBMITFAIL
		func() { sim.RefuseSubmits(smpp.StatusUnknownErr, 6) }, // ESME_RUNKNOWNERR
		func() { sim.RefuseSubmits(smpp.StatusInvBndSts, 6) },  // ESME_RINVBNDSTS, as during a rebind
		func() { sim.ReceiptFirst(3) },
	} {
		before := make([]int, len(phones))
		for i, p := range phones {
			before[i] = len(sim.MT(p))
		}
		fault()
		for _, p := range phones {
			if st, err := sim.SendMO(ctx, p, "1234", "HELP"); err != nil || st != smpp.StatusOK {
				t.Fatalf("MO: %v %v", st, err)
			}
		}
		for i, p := range phones {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := sim.WaitMT(wctx, p, before[i]+1)
			cancel()
			if err != nil {
				t.Fatalf("%s: no reply through the fault: %v", p, err)
			}
		}
	}
	waitFor(t, "outbox settled", func() bool { n, _ := l.Unsent(); return n == 0 })
	time.Sleep(200 * time.Millisecond) // receipts
	for _, p := range phones {
		if got := sim.MT(p); len(got) != 5 {
			t.Fatalf("%s got %d replies for 5 HELP: %q", p, len(got), got)
		}
	}
	counts := mustRun(t, "--db", db, "outbox", "count", "-o", "json")
	if !strings.Contains(counts, `"failed": 0`) || !strings.Contains(counts, `"delivered": 15`) {
		t.Fatalf("outbox count: %s", counts)
	}
	list := mustRun(t, "--db", db, "outbox", "list", "--state", "delivered", "--limit", "1")
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	show := mustRun(t, "--db", db, "outbox", "show", id)
	if !strings.Contains(show, "state:     delivered") || !strings.Contains(show, "attempts:") {
		t.Fatalf("outbox show: %s", show)
	}
	m, _ := strconv.ParseUint(id, 10, 64)
	msg, _ := l.Message(m)
	before := len(sim.MT(msg.To))
	out := mustRun(t, "--db", db, "outbox", "resend", id)
	if !strings.Contains(out, "queued again as") {
		t.Fatalf("resend: %s", out)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := sim.WaitMT(wctx, msg.To, before+1); err != nil {
		t.Fatalf("the resent reply did not arrive: %v", err)
	}
	if audit := mustRun(t, "--db", db, "ledger", "audit"); !strings.Contains(audit, "outbox resend") || !strings.Contains(audit, "socket:uid") {
		t.Fatalf("audit: %s", audit)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDemoPromptTakesBobsPhoneAndQuitsOnlyWhenAsked drives the demo's prompt as a person
// does: an empty Enter is nothing (the demo goes on), a merchant's request to Bob is
// answered from Bob's phone with /as bob in the same demo, and /quit ends it, saying that
// its data goes. The log never gives the merchant pages' address as port 0.
func TestDemoPromptTakesBobsPhoneAndQuitsOnlyWhenAsked(t *testing.T) {
	var logs syncBuffer
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), &logs, zapcore.DebugLevel))
	a := &app{cfg: config.Default(), log: log}
	in, typed := io.Pipe()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- a.demo(context.Background(), in, &out, demoAlice, true) }()
	defer typed.Close()
	wait := func(re *regexp.Regexp) []string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if m := re.FindStringSubmatch(out.String()); m != nil {
				return m
			}
		}
		t.Fatalf("the demo never printed %s:\n%s", re, out.String())
		return nil
	}
	typeLine := func(s string) {
		t.Helper()
		wrote := make(chan error, 1)
		go func() { _, err := io.WriteString(typed, s+"\n"); wrote <- err }()
		select {
		case err := <-wrote:
			if err != nil {
				t.Fatalf("typing %q: %v", s, err)
			}
		case err := <-done:
			t.Fatalf("the demo ended (%v) before %q was typed:\n%s", err, s, out.String())
		case <-time.After(10 * time.Second):
			t.Fatalf("the demo did not read %q", s)
		}
	}
	wait(regexp.MustCompile(`You are \+33612345678\.`))
	curl := wait(regexp.MustCompile(`Bearer ([^']+)'.* (http://127\.0\.0\.1:\d+)/v1/payments`))
	typeLine("")
	typeLine("   ")
	typeLine("BAL 1234")
	wait(regexp.MustCompile(`\+33612345678 < Balance 50\.00 EUR`))

	// SHOP42 asks Bob to pay, as the banner's curl line does; Bob answers from his phone.
	req, _ := http.NewRequest("POST", curl[2]+"/v1/payments", strings.NewReader(`{"msisdn":"0687654321","amount":"3.20","reference":"order-7"}`))
	req.Header.Set("Authorization", "Bearer "+curl[1])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("request to pay: HTTP %d", resp.StatusCode)
	}
	code := wait(regexp.MustCompile(`\+33687654321 < Corner Shop asks 3\.20 EUR[^\n]*YES (\d{6})`))
	typeLine("/as bob")
	wait(regexp.MustCompile(`You are \+33687654321\.`))
	typeLine("YES " + code[1])
	wait(regexp.MustCompile(`\+33687654321 < Paid 3\.20 EUR to Corner Shop`))
	typeLine("/as 0612345678")
	wait(regexp.MustCompile(`You are \+33612345678\.\n`))
	typeLine("/as nobody")
	wait(regexp.MustCompile(`! /as alice, bob, carol or a phone number`))

	typeLine("/quit")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("/quit did not end the demo")
	}
	if !strings.Contains(out.String(), "Demo over: its ledger, keys, settlement file and simulators") {
		t.Errorf("the demo deleted its data without saying so:\n%s", out.String())
	}
	if !strings.Contains(logs.String(), "public_url") || regexp.MustCompile(`public_url[^\n]*:0\b`).MatchString(logs.String()) {
		t.Errorf("the log gives the merchant pages' public URL with port 0:\n%s", logs.String())
	}
}
