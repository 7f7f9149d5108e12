package voice

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"mpg/domain"
	"mpg/engine"
	"mpg/internal/testbooks"
	"mpg/ledger"
)

// The confirmation calls are tested against baresip, a SIP phone mpg did not write, on
// 127.0.0.1: it auto-answers (or does not), and keys in DTMF (RFC 4733) when told to over
// its ctrl_tcp socket. The prompts are spoken by espeak-ng.

const alice = "+33612345678"

func needPrograms(t *testing.T) {
	for _, p := range []string{"baresip", "espeak-ng"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("MPG_REQUIRE_INTEROP") == "1" {
				t.Fatalf("%s not installed (Debian package %s; .ci/run installs it)", p, p)
			}
			t.Skipf("%s not installed (apt-get install %s)", p, p)
		}
	}
}

// freePort is LoopbackPhonePort, or the test stops.
func freePort(t *testing.T) int {
	port := LoopbackPhonePort()
	if port == 0 {
		t.Fatal("no free port")
	}
	return port
}

// baresip is a running baresip and a reader of its control socket's events.
type baresip struct {
	*Baresip
	in *bufio.Reader
}

// startBaresip starts a phone on 127.0.0.1 that answers by itself (auto) or never; it
// quits by itself after 55 s, and is stopped when the test ends.
func startBaresip(t *testing.T, auto bool) *baresip {
	b, err := StartBaresip(t.TempDir(), alice, auto, 55*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return &baresip{Baresip: b, in: bufio.NewReader(b.Ctrl)}
}

// await reads baresip's events until one of type kind (within d).
func (b *baresip) await(t *testing.T, kind string, d time.Duration) {
	t.Helper()
	b.Ctrl.SetReadDeadline(time.Now().Add(d))
	for {
		size, err := b.in.ReadString(':')
		if err != nil {
			out, _ := os.ReadFile(filepath.Join(b.Dir, "log"))
			t.Fatalf("waiting for %s: %v; baresip said:\n%s", kind, err, out)
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(size, ":"))
		msg := make([]byte, n+1)
		if _, err := io.ReadFull(b.in, msg); err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Event bool   `json:"event"`
			Type  string `json:"type"`
		}
		if json.Unmarshal(msg[:n], &ev) == nil && ev.Event && ev.Type == kind {
			return
		}
	}
}

// keys has baresip key in digits (DTMF over RTP) in the call under way.
func (b *baresip) keys(t *testing.T, digits string) {
	if err := b.Key(digits); err != nil {
		t.Fatal(err)
	}
}

// site is an engine on real books where Alice (PIN 739164, 200.00 EUR) confirms by call
// every payment above 50.00 EUR, and a voice worker dialing the phone at trunk.
type site struct {
	books  *testbooks.Books
	l      *ledger.Ledger
	e      *engine.Engine
	cfg    engine.Config
	seen   uint64
	worker *Worker
}

func newSite(t *testing.T) *site {
	cfg := engine.Config{ShortCode: "1234", Currency: "EUR", Exponent: 2, Region: "FR", ConfirmAbove: 5000,
		PINKey: []byte("pin-key-for-tests-only"), ReceiptKey: []byte("receipt-key-for-tests")}
	s := &site{books: testbooks.New(t), cfg: cfg}
	s.l = s.books.Create(t, &ledger.Options{Tiers: engine.LedgerTiers(nil), ExpiryHook: engine.ExpiryNotices(cfg)})
	ctx := context.Background()
	res, err := s.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{
		{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		{Currency: "EUR", Kind: domain.KindFees, Owner: "@fees"},
		{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42", Name: "Corner Shop"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if s.e, err = engine.New(cfg, s.l); err != nil {
		t.Fatal(err)
	}
	s.e.SetVoice(true)
	s.sms(t, "REG 739164 Alice")
	if _, err := s.l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: res.Accounts[0].ID,
		Credit: s.l.AccountsOf(alice)[0].ID, Amount: 20000, Code: domain.CodeTopup}}}); err != nil {
		t.Fatal(err)
	}
	if got := s.sms(t, "CONFIRM VOICE 739164"); len(got) != 1 || !strings.Contains(got[0], "phone call") {
		t.Fatalf("CONFIRM VOICE: %q", got)
	}
	return s
}

// sms texts the short code as Alice and returns what she was sent since the last look.
func (s *site) sms(t *testing.T, text string) []string {
	t.Helper()
	if err := s.e.Handle(context.Background(), engine.Inbound{From: alice, To: "1234", Text: text}); err != nil {
		t.Fatal(err)
	}
	return s.news(t)
}

func (s *site) news(t *testing.T) []string {
	t.Helper()
	msgs, err := s.l.Messages(100, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].ID > s.seen {
			text, _ := s.e.DeliverText(msgs[i])
			if msgs[i].To == alice {
				out = append(out, text)
			}
			s.seen = msgs[i].ID
		}
	}
	return out
}

func (s *site) available(t *testing.T, owner string) int64 {
	return s.l.AccountsOf(owner)[0].Available()
}

// balances waits (up to 2 s) for the shop's and Alice's available balances to be shop and
// purse. The call's state is in a record that readers see as soon as its batch commits,
// balances once the batch is published a moment later, so a look between the two sees the
// state before the money.
func (s *site) balances(t *testing.T, shop, purse int64) {
	t.Helper()
	var gotShop, gotAlice int64
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if gotShop, gotAlice = s.available(t, "SHOP42"), s.available(t, alice); gotShop == shop && gotAlice == purse {
			return
		}
	}
	t.Fatalf("shop %d, alice %d; want %d and %d", gotShop, gotAlice, shop, purse)
}

// run starts a voice worker calling the phone at port, until the test ends or stop.
func (s *site) run(t *testing.T, port int, ring time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	phone, err := NewPhone(ctx, Config{Trunk: fmt.Sprintf("sip:127.0.0.1:%d", port), Transport: "udp", Bind: "127.0.0.1:0",
		FromUser: "mpg", Ring: ring, Key: 15 * time.Second, MaxCalls: 2})
	if err != nil {
		t.Fatal(err)
	}
	s.worker = &Worker{Engine: s.e, Phone: phone, Speaker: Speaker{Program: "espeak-ng"}, Every: 50 * time.Millisecond, Log: t.Logf}
	done := make(chan struct{})
	go func() { defer close(done); s.worker.Run(ctx) }()
	stop = func() { cancel(); <-done; phone.Close() }
	t.Cleanup(stop)
	return stop
}

// state waits (up to d) for Alice's call to reach want.
func (s *site) state(t *testing.T, want string, d time.Duration) {
	t.Helper()
	var got string
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if _, got, _ = s.e.ConfirmCall(alice); got == want {
			return
		}
	}
	t.Fatalf("call state %q, want %q", got, want)
}

// says reports whether one of the texts contains want.
func says(texts []string, want string) bool {
	for _, s := range texts {
		if strings.Contains(s, want) {
			return true
		}
	}
	return false
}

// The right PIN keyed in the call pays: the shop is paid, Alice texted her receipt.
func TestCallRightPINPays(t *testing.T) {
	needPrograms(t)
	phone := startBaresip(t, true)
	s := newSite(t)
	leaks := goleak.IgnoreCurrent()
	stop := s.run(t, phone.SIP, 10*time.Second)
	if got := s.sms(t, "PAY SHOP42 60 739164"); !says(got, "We are calling you to confirm PAY of 60.00 EUR to Corner Shop") {
		t.Fatalf("asked: %q", got)
	}
	phone.await(t, "CALL_ESTABLISHED", 10*time.Second)
	s.state(t, engine.CallAnswered, 5*time.Second)
	phone.keys(t, "739164#")
	s.state(t, engine.CallConfirmed, 15*time.Second)
	s.balances(t, 6000, 14000)
	if got := s.news(t); !says(got, "Paid 60.00 EUR to Corner Shop") {
		t.Fatalf("told %q", got)
	}
	// The worker counts the call once the engine's step returns to it, a moment after the
	// step's commit that the test saw.
	for end := time.Now().Add(2 * time.Second); s.worker.Stats.Confirmed.Load() != 1 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if s.worker.Stats.Confirmed.Load() != 1 {
		t.Fatalf("stats %+v", &s.worker.Stats)
	}
	stop() // the worker, its phone and its calls end with it
	goleak.VerifyNone(t, leaks)
}

// Wrong PINs keyed in the call refuse the payment: no money moves, the reservation is
// released, Alice is told by SMS.
func TestCallWrongPINsRefuse(t *testing.T) {
	needPrograms(t)
	phone := startBaresip(t, true)
	s := newSite(t)
	s.run(t, phone.SIP, 10*time.Second)
	s.sms(t, "PAY SHOP42 60 739164")
	phone.await(t, "CALL_ESTABLISHED", 10*time.Second)
	phone.keys(t, "111111#222222#333333#")
	s.state(t, engine.CallRefused, 20*time.Second)
	s.balances(t, 0, 20000)
	if got := s.news(t); !says(got, "was wrong. The payment was not made") {
		t.Fatalf("told %q", got)
	}
}

// A phone that rings and is never answered: no payment, the reservation released, an SMS.
func TestCallNoAnswerReleases(t *testing.T) {
	needPrograms(t)
	phone := startBaresip(t, false)
	s := newSite(t)
	s.run(t, phone.SIP, 3*time.Second)
	s.sms(t, "PAY SHOP42 60 739164")
	if s.available(t, alice) != 14000 {
		t.Fatalf("not reserved: %d", s.available(t, alice))
	}
	s.state(t, engine.CallNoAnswer, 10*time.Second)
	s.balances(t, 0, 20000)
	if got := s.news(t); !says(got, "got no answer") {
		t.Fatalf("told %q", got)
	}
}

// The daemon stops dead while Alice is on the line (its books closed under it): on the
// restart nothing was posted, the call is resolved as not confirmed, the money is back and
// she is told; her PIN keyed after that posts nothing.
func TestCallCrashMidCallIsNotConfirmed(t *testing.T) {
	needPrograms(t)
	phone := startBaresip(t, true)
	s := newSite(t)
	stop := s.run(t, phone.SIP, 10*time.Second)
	s.sms(t, "PAY SHOP42 60 739164")
	phone.await(t, "CALL_ESTABLISHED", 10*time.Second)
	s.state(t, engine.CallAnswered, 5*time.Second)
	call := s.e.LastCallID(alice)
	s.l.Close() // the crash: nothing more is recorded
	stop()

	s.l = s.books.Open(t, &ledger.Options{Tiers: engine.LedgerTiers(nil), ExpiryHook: engine.ExpiryNotices(s.cfg)})
	var err error
	if s.e, err = engine.New(s.cfg, s.l); err != nil {
		t.Fatal(err)
	}
	s.e.SetVoice(true)
	if _, state, _ := s.e.ConfirmCall(alice); state != engine.CallAnswered {
		t.Fatalf("after the crash: %q", state)
	}
	s.run(t, phone.SIP, 10*time.Second)
	s.state(t, engine.CallFailed, 5*time.Second)
	s.balances(t, 0, 20000)
	if got := s.news(t); !says(got, "could not be completed") {
		t.Fatalf("told %q", got)
	}
	if v, err := s.e.VoicePIN(context.Background(), alice, call, "739164"); call == "" || err != nil || v.State != engine.CallFailed {
		t.Fatalf("late PIN: %+v %v", v, err)
	}
	if s.available(t, "SHOP42") != 0 {
		t.Fatal("a late PIN paid")
	}
}

// No phone at the trunk's address (nothing listens there): the call fails or rings out, and
// either way nothing is paid, the reservation is released and Alice is told.
func TestCallToNoPhoneReleases(t *testing.T) {
	needPrograms(t)
	s := newSite(t)
	s.run(t, freePort(t), 3*time.Second)
	s.sms(t, "PAY SHOP42 60 739164")
	var state string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if _, state, _ = s.e.ConfirmCall(alice); state == engine.CallFailed || state == engine.CallNoAnswer {
			break
		}
	}
	if state != engine.CallFailed && state != engine.CallNoAnswer {
		t.Fatalf("call state %q", state)
	}
	s.balances(t, 0, 20000)
	if got := s.news(t); !says(got, "could not be completed") && !says(got, "got no answer") {
		t.Fatalf("told %q", got)
	}
}
