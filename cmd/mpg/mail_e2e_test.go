package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"mpg/ledger"
	"mpg/smpp"
)

// relay is an SMTP server on loopback (emersion/go-smtp) that takes every message after
// PLAIN auth and keeps it.
type relay struct {
	mu      sync.Mutex
	msgs    []string
	refuse  int // messages still to refuse for now (451)
	refused int
}

type relaySession struct {
	r    *relay
	user string
}

func (s *relaySession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *relaySession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if password != "relay-pass-0123" {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}
func (s *relaySession) Mail(string, *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (s *relaySession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.refuse > 0 {
		s.r.refuse--
		s.r.refused++
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.r.msgs = append(s.r.msgs, string(b))
	return err
}
func (s *relaySession) Reset()        {}
func (s *relaySession) Logout() error { return nil }

func (r *relay) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// TestDaemonSendsMerchantNotices: with [mail] set (a loopback relay, the password from the
// environment), an operator gives SHOP42 an address through the daemon's socket, Alice pays
// by SMS over SMPP and gets her reply while the relay refuses (451, twice), and the relay
// then gets the notice, once; mpg merchant mail lists it sent. Neither the password nor the
// address is in the daemon's log.
func TestDaemonSendsMerchantNotices(t *testing.T) {
	const alice = "+33612345678"
	r := &relay{refuse: 2}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &relaySession{r: r}, nil }))
	srv.Domain, srv.AllowInsecureAuth, srv.ReadTimeout, srv.WriteTimeout = "127.0.0.1", true, 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	db, sim, cfg := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop"})
	t.Setenv("MPG_TEST_MAIL_PASSWORD", "relay-pass-0123")
	cfg.Mail.Server, cfg.Mail.Port, cfg.Mail.From, cfg.Mail.Username = "127.0.0.1", atoi(t, port), "mpg <notices@pay.example>", "mpg"
	cfg.Mail.PasswordEnv, cfg.Mail.TLSPolicy, cfg.Mail.EveryMs, cfg.Mail.StatementHour = "MPG_TEST_MAIL_PASSWORD", "none", 20, -1
	cfg.Mail.RetryS = []int{1, 1, 1}
	var logs syncBuffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), &logs, zapcore.DebugLevel))
	l, err := ledger.Open(db, (&app{cfg: cfg}).daemonLedgerOptions(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	_, httpAddr, stop, err := startDaemon(context.Background(), cfg, l, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop() })

	mustRun(t, "--db", db, "merchant", "email", "SHOP42", "owner@shop.example")
	ctx := context.Background()
	await := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(strings.Join(sim.MT(alice), "|"), want); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no SMS to Alice saying %q: %q", want, sim.MT(alice))
			}
		}
	}
	if st, err := sim.SendMO(ctx, alice, "1234", "REG 1234 Alice"); err != nil || st != smpp.StatusOK {
		t.Fatalf("REG: %v %v", st, err)
	}
	await("Welcome Alice")
	mustRun(t, "--db", db, "account", "topup", "0612345678", "10")
	if st, err := sim.SendMO(ctx, alice, "1234", "PAY SHOP42 3 INV9 1234"); err != nil || st != smpp.StatusOK {
		t.Fatalf("PAY: %v %v", st, err)
	}
	await("Paid 3.00 EUR to Corner Shop")
	if n := len(r.messages()); n != 0 {
		t.Fatalf("the relay took %d messages before the payer's reply: it was to refuse until after", n)
	}
	for deadline := time.Now().Add(10 * time.Second); len(r.messages()) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no notice reached the relay")
		}
	}
	time.Sleep(200 * time.Millisecond) // time for a copy, if there were one
	if got := r.messages(); len(got) != 1 || r.refused != 2 || !strings.Contains(got[0], "Payment received: 3.00 EUR, Ref INV9") || !strings.Contains(got[0], "+336****678") {
		t.Fatalf("the relay got %q", got)
	}
	var out string
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out, "sent"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("mpg merchant mail list: %s", out)
		}
		out = mustRun(t, "--db", db, "merchant", "mail", "list", "--merchant", "SHOP42")
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"mpg_mail_sent_total 1", "mpg_mail_failed_total 0", "mpg_mail_queued 0"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if s := logs.String(); strings.Contains(s, "relay-pass-0123") || strings.Contains(s, "owner@shop.example") {
		t.Fatalf("the log shows the password or the address:\n%s", s)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
