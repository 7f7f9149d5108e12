package bank

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"mpg/domain"
)

const iban = "FR7630006000011234567890189"

func setup(t *testing.T) (*Sim, *Client) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s, err := NewSim("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Late, s.Slow = 600*time.Millisecond, 50*time.Millisecond
	s.Open(iban, SimAccount{Balance: 10000})
	c := NewClient(Config{Addr: s.Addr(), Timeout: 300 * time.Millisecond})
	t.Cleanup(func() { c.Close(); s.Close() })
	return s, c
}

func debit(rrn string, amount uint64) domain.BankDebit {
	return domain.BankDebit{Key: rrn, Trace: rrn[6:], Account: iban, Amount: amount, Currency: "EUR", Merchant: "SHOP42", At: time.Now().UnixNano()}
}

func TestDebitsAndDeclines(t *testing.T) {
	s, c := setup(t)
	ctx := context.Background()
	if err := c.Echo(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := c.Debit(ctx, debit("000000000001", 2500))
	if err != nil || a.Outcome != domain.BankApproved || a.AuthCode == "" || s.Balance(iban) != 7500 {
		t.Fatalf("debit: %+v %v, balance %d", a, err, s.Balance(iban))
	}
	for _, x := range []struct {
		d    domain.BankDebit
		code string
	}{
		{debit("000000000002", 9000), CodeInsufficientFunds},
		{domain.BankDebit{Key: "000000000003", Trace: "000003", Account: "FR7630006000019999999999999", Amount: 1, Currency: "EUR"}, CodeInvalidAccount},
	} {
		a, err := c.Debit(ctx, x.d)
		if err != nil || a.Outcome != domain.BankDeclined || a.Code != x.code {
			t.Fatalf("%s: %+v %v", x.d.Key, a, err)
		}
	}
	s.Open("FR7630006000010000000000097", SimAccount{Balance: 100, Closed: true})
	if a, _ := c.Debit(ctx, domain.BankDebit{Key: "000000000004", Trace: "000004", Account: "FR7630006000010000000000097", Amount: 1, Currency: "EUR"}); a.Code != CodeAccountClosed {
		t.Fatalf("closed: %+v", a)
	}
	// The same RRN again as a repeat: the first answer, no new debit. As a second original
	// (which mpg never sends): a duplicate transmission, unknown, nothing debited.
	if a, err := c.Status(ctx, debit("000000000001", 2500)); err != nil || a.Outcome != domain.BankApproved || s.Balance(iban) != 7500 {
		t.Fatalf("repeat: %+v %v, balance %d", a, err, s.Balance(iban))
	}
	if a, err := c.Debit(ctx, debit("000000000001", 2500)); !errors.Is(err, domain.ErrBankUnknown) || a.Code != CodeDuplicate || s.Balance(iban) != 7500 {
		t.Fatalf("second original: %+v %v, balance %d", a, err, s.Balance(iban))
	}
}

// Every fault ends with the client saying approved or declined for sure, or "unknown" —
// and "unknown" is always resolved by asking again with the same RRN: one debit at most.
func TestEveryFaultIsResolvedByTheSameKey(t *testing.T) {
	for _, f := range []Fault{FaultNoAnswer, FaultLate, FaultApproveThenDrop, FaultDuplicate, FaultRefuse, FaultSlow} {
		t.Run(string(f), func(t *testing.T) {
			s, c := setup(t)
			ctx := context.Background()
			if f == FaultRefuse {
				c.Close()
			}
			s.Inject(f, 1)
			d := debit("000000000042", 1000)
			a, err := c.Debit(ctx, d)
			switch f {
			case FaultDuplicate, FaultSlow:
				if err != nil || a.Outcome != domain.BankApproved {
					t.Fatalf("%+v %v", a, err)
				}
			case FaultRefuse:
				// Closed at once: either the dial fails, or the first write does (then the
				// client cannot know what the bank read, and says unknown).
				if !errors.Is(err, domain.ErrBankUnreachable) && !errors.Is(err, domain.ErrBankUnknown) {
					t.Fatalf("refused connection: %v", err)
				}
			default:
				if !errors.Is(err, domain.ErrBankUnknown) {
					t.Fatalf("want an unknown outcome, got %+v %v", a, err)
				}
			}
			if f == FaultLate {
				time.Sleep(s.Late) // the late answer arrives and matches nothing waiting
			}
			// Ask again with the same key until the bank answers.
			var got domain.BankAnswer
			for i := 0; ; i++ {
				if got, err = c.Status(ctx, d); err == nil {
					break
				}
				if i > 5 {
					t.Fatalf("status: %v", err)
				}
			}
			if got.Outcome != domain.BankApproved || s.Balance(iban) != 9000 || s.Debits.Load() != 1 {
				t.Fatalf("after %s: %+v, balance %d, %d debits", f, got, s.Balance(iban), s.Debits.Load())
			}
		})
	}
}

func TestReversalsAndTheirAdvice(t *testing.T) {
	s, c := setup(t)
	ctx := context.Background()
	d := debit("000000000007", 3000)
	if _, err := c.Debit(ctx, d); err != nil {
		t.Fatal(err)
	}
	// A declined reversal leaves the debit standing; the advice then reverses it; again is once.
	s.Inject(FaultDeclineReversal, 1)
	if a, err := c.Reverse(ctx, d, false); err != nil || a.Outcome != domain.BankDeclined || s.Balance(iban) != 7000 {
		t.Fatalf("declined reversal: %+v %v", a, err)
	}
	for i := 0; i < 2; i++ {
		if a, err := c.Reverse(ctx, d, true); err != nil || a.Outcome != domain.BankApproved || s.Balance(iban) != 10000 || s.Reversals.Load() != 1 {
			t.Fatalf("advice %d: %+v %v balance %d", i, a, err, s.Balance(iban))
		}
	}
	// Reversing what never arrived: nothing taken, and the original arriving late is refused.
	lost := debit("000000000008", 500)
	if a, err := c.Reverse(ctx, lost, false); err != nil || a.Outcome != domain.BankApproved {
		t.Fatalf("reverse unknown: %+v %v", a, err)
	}
	if a, err := c.Debit(ctx, lost); err != nil || a.Outcome != domain.BankDeclined || s.Balance(iban) != 10000 {
		t.Fatalf("late original: %+v %v", a, err)
	}
	var b bytes.Buffer
	if err := s.WriteSettlement(&b); err != nil || !strings.Contains(b.String(), "000000000007,"+iban+",3000,978,reversed") {
		t.Fatalf("settlement: %v\n%s", err, b.String())
	}
	rows, err := ReadSettlement(&b)
	if err != nil || len(rows) != 1 || rows[0] != (domain.BankSettled{Key: "000000000007", Account: iban, Amount: 3000, Currency: "EUR", Reversed: true}) {
		t.Fatalf("read back: %+v %v", rows, err)
	}
	if _, err := ReadSettlement(strings.NewReader("rrn,amount\n1,2\n")); err == nil {
		t.Fatal("a file that is no settlement was read")
	}
}

// TestKeepAliveClosesALinkThatStoppedAnswering: a connection the bank no longer answers on
// (a half-open TCP link looks just like this) is found by the echo and replaced, before a
// debit is sent into it.
func TestKeepAliveClosesALinkThatStoppedAnswering(t *testing.T) {
	s, c := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.KeepAlive(ctx, 50*time.Millisecond, t.Logf) }()
	defer func() { cancel(); <-done }()
	current := func() *conn { c.mu.Lock(); defer c.mu.Unlock(); return c.cur }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never %s", what)
			}
		}
	}
	waitFor("up", c.Up)
	first := current()
	s.Inject(FaultNoAnswer, -1) // the bank stops answering on every link
	waitFor("down", func() bool { return !c.Up() && c.EchoesFailed.Load() >= 2 })
	if cur := current(); cur == first {
		t.Fatal("the unanswered link was kept")
	}
	s.Inject(FaultNoAnswer, 0)
	waitFor("up again", c.Up)
	if a, err := c.Debit(context.Background(), debit("000000000031", 100)); err != nil || a.Outcome != domain.BankApproved {
		t.Fatalf("debit on the new link: %+v %v", a, err)
	}
}

// stamped is a debit whose first transmission was stamped at a time of its own (an hour
// ago), as the engine records it before sending.
func stamped(c *Client, rrn string, amount uint64) domain.BankDebit {
	d := debit(rrn, amount)
	d.Sent = c.Stamp(d, false, time.Now().Add(-time.Hour))
	return d
}

// TestMessagesCarryTheBitmapsOfTheStandard: bit 1 of the primary bitmap is set, and a
// secondary bitmap follows, exactly when a field above 64 is present.
func TestMessagesCarryTheBitmapsOfTheStandard(t *testing.T) {
	withAccount := &msg{MTI: mtiFinancial, Process: procDebit, Amount: "2500", Sent: "0102150405", Trace: "000001",
		RRN: "00000000000A", Merchant: "SHOP42", Currency: "978", AccountID: iban}
	without := &msg{MTI: mtiFinancialResp, Process: procDebit, Amount: "2500", Trace: "000001", RRN: "00000000000A", Response: "00"}
	for _, c := range []struct {
		m         *msg
		primary   string
		secondary string
	}{
		// 1 (secondary), 3, 4, 7, 11, 37, 42, 49; then 102.
		{withAccount, "B220000008408000", "0000000004000000"},
		// 3, 4, 11, 37, 39 and nothing above 64: one bitmap, bit 1 clear.
		{without, "302000000A000000", ""},
	} {
		b, err := encode(c.m)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b[4:20]); got != c.primary {
			t.Errorf("%s: primary bitmap %s, want %s", c.m.MTI, got, c.primary)
		}
		if c.secondary != "" && string(b[20:36]) != c.secondary {
			t.Errorf("%s: secondary bitmap %s, want %s", c.m.MTI, b[20:36], c.secondary)
		}
		if c.secondary == "" && string(b[20:26]) != procDebit {
			t.Errorf("%s: field 3 does not follow the primary bitmap: %s", c.m.MTI, b)
		}
		back, err := decode(b)
		if err != nil || *back != *c.m {
			t.Errorf("%s read back: %+v %v", c.m.MTI, back, err)
		}
	}
}

func TestResponseCodesAreSortedByWhatTheyAnswer(t *testing.T) {
	for _, c := range []struct {
		code string
		kind Kind
		want Class
	}{
		{"00", First, Approved}, {"08", First, Approved}, {"11", Repeat, Approved},
		{"05", First, Declined}, {"51", Repeat, Declined}, {"14", First, Declined}, {"62", Repeat, Declined},
		{"12", First, Declined}, {"30", First, Declined},
		// A bank that takes no repeats may hold the original's money: not a decline.
		{"12", Repeat, Unknown}, {"30", Repeat, Unknown},
		{"96", First, Unknown}, {"96", Repeat, Unknown}, {"91", First, Unknown}, {"68", Repeat, Unknown},
		{"06", First, Unknown}, {"10", First, Unknown}, {"94", First, Unknown}, {"N7", First, Unknown}, {"", First, Unknown},
		{"00", Reversal, Approved}, {"25", Reversal, Approved}, {"12", Reversal, Declined}, {"96", Reversal, Unknown},
		{"08", Reversal, Unknown}, {"Q1", Reversal, Unknown},
	} {
		if got := Classify(c.code, c.kind); got != c.want {
			t.Errorf("%q answering %d: %s, want %s", c.code, c.kind, got, c.want)
		}
	}
}

// TestAMalfunctionIsNoDecline: a 96 is unknown, whether it answers the debit or its repeat;
// the repeat after it finds out what the bank did.
func TestAMalfunctionIsNoDecline(t *testing.T) {
	s, c := setup(t)
	ctx := context.Background()
	d := stamped(c, "000000000050", 1000)
	s.Inject(FaultApproveThenDrop, 1)
	if _, err := c.Debit(ctx, d); !errors.Is(err, domain.ErrBankUnknown) {
		t.Fatalf("dropped answer: %v", err)
	}
	s.Inject(FaultMalfunction, 1)
	if a, err := c.Status(ctx, d); !errors.Is(err, domain.ErrBankUnknown) || a.Code != CodeSystemError || a.Outcome == domain.BankDeclined {
		t.Fatalf("96 to the repeat: %+v %v", a, err)
	}
	if a, err := c.Status(ctx, d); err != nil || a.Outcome != domain.BankApproved || s.Balance(iban) != 9000 {
		t.Fatalf("the next repeat: %+v %v", a, err)
	}
	if got := s.Messages(d.Key); strings.Join(got, " ") != "0200 0201 0201" {
		t.Fatalf("the bank got %v", got)
	}
}

// TestReversalsNameTheRequestAsSent: a reversal sent long after its original carries, in
// field 90, the original's type, trace, transmission time and acquirer; its repeat is 0401.
func TestReversalsNameTheRequestAsSent(t *testing.T) {
	s, c := setup(t)
	c.cfg.Acquirer = "12345"
	ctx := context.Background()
	d := stamped(c, "000000000060", 1500)
	if a, err := c.Debit(ctx, d); err != nil || a.Outcome != domain.BankApproved {
		t.Fatalf("%+v %v", a, err)
	}
	d.Reversal = c.Stamp(d, true, time.Now())
	s.Inject(FaultNoAnswer, 1)
	if _, err := c.Reverse(ctx, d, false); !errors.Is(err, domain.ErrBankUnknown) {
		t.Fatalf("unanswered reversal: %v", err)
	}
	if a, err := c.Reverse(ctx, d, true); err != nil || a.Outcome != domain.BankApproved || a.Code != CodeApproved || s.Balance(iban) != 10000 {
		t.Fatalf("reversal repeat: %+v %v balance %d", a, err, s.Balance(iban))
	}
	if got := strings.Join(s.Messages(d.Key), " "); got != "0200 0400 0401" {
		t.Fatalf("the bank got %s", got)
	}
	// Field 90 naming another transmission names nothing this bank got: 25, nothing reversed.
	e := stamped(c, "000000000061", 700)
	c.Debit(ctx, e)
	e.Sent.Time = transmitted(time.Now().Add(time.Minute))
	if a, err := c.Reverse(ctx, e, false); err != nil || a.Code != CodeNotFound || s.Balance(iban) != 9300 {
		t.Fatalf("a reversal naming another request: %+v %v balance %d", a, err, s.Balance(iban))
	}
}

// TestRefundCredits: a credit puts money on the account once; its repeat answers the first
// outcome; its reversal takes it back; the settlement file says which lines are credits.
func TestRefundCredits(t *testing.T) {
	s, c := setup(t)
	ctx := context.Background()
	d := stamped(c, "000000000070", 400)
	if a, err := c.Credit(ctx, d); err != nil || a.Outcome != domain.BankApproved || s.Balance(iban) != 10400 {
		t.Fatalf("credit: %+v %v balance %d", a, err, s.Balance(iban))
	}
	d.Credit = true
	if a, err := c.Status(ctx, d); err != nil || a.Outcome != domain.BankApproved || s.Balance(iban) != 10400 || s.Credits.Load() != 1 {
		t.Fatalf("repeat: %+v %v balance %d", a, err, s.Balance(iban))
	}
	unknown := stamped(c, "000000000071", 400)
	unknown.Account = "FR7630006000019999999999999"
	if a, err := c.Credit(ctx, unknown); err != nil || a.Outcome != domain.BankDeclined || a.Code != CodeInvalidAccount {
		t.Fatalf("to an unknown account: %+v %v", a, err)
	}
	var b bytes.Buffer
	s.WriteSettlement(&b)
	rows, err := ReadSettlement(&b)
	if err != nil || len(rows) != 1 || !rows[0].Credit || rows[0].Amount != 400 || rows[0].Reversed {
		t.Fatalf("settlement: %+v %v", rows, err)
	}
	if a, err := c.Reverse(ctx, d, false); err != nil || a.Outcome != domain.BankApproved || s.Balance(iban) != 10000 {
		t.Fatalf("credit reversed: %+v %v balance %d", a, err, s.Balance(iban))
	}
	// A file written before credits (no type column) reads as debits.
	old, err := ReadSettlement(strings.NewReader("rrn,account,amount_minor,currency,status,auth_code,time\n1,X,5,978,settled,000001,t\n"))
	if err != nil || len(old) != 1 || old[0].Credit {
		t.Fatalf("old file: %+v %v", old, err)
	}
}

// TestTheBanksOwnNetworkMessagesAreAnswered: the bank signs on, echoes, changes keys on the
// link mpg opened; each is answered 0810 "00" on that link.
func TestTheBanksOwnNetworkMessagesAreAnswered(t *testing.T) {
	s, c := setup(t)
	if err := c.Echo(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{netSignOn, netEcho, "161"} {
		if n := s.Network(code, time.Second); n != 1 {
			t.Fatalf("network %s: %d links answered", code, n)
		}
	}
}

// TestAnUnreadableAnswerIsLoggedByItsShape: the log says the message's length, type,
// bitmaps and fields, never the account or the amount it carried; the link stays up, and
// the request is found out by its repeat.
func TestAnUnreadableAnswerIsLoggedByItsShape(t *testing.T) {
	s, c := setup(t)
	var mu sync.Mutex
	var logs []string
	c.cfg.Log = func(f string, args ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, args...)); mu.Unlock() }
	ctx := context.Background()
	d := stamped(c, "000000000080", 2345)
	c.Echo(ctx)
	link := c.cur
	s.Inject(FaultGarbage, 1)
	if _, err := c.Debit(ctx, d); !errors.Is(err, domain.ErrBankUnknown) {
		t.Fatalf("garbled answer: %v", err)
	}
	if a, err := c.Status(ctx, d); err != nil || a.Outcome != domain.BankApproved || c.cur != link {
		t.Fatalf("repeat on the same link: %+v %v", a, err)
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(logs, "\n")
	if !strings.Contains(all, "cannot read") || !strings.Contains(all, "MTI 0210") || !strings.Contains(all, "fields 2 3 4 7 11 37 38 39 42 49 102") {
		t.Fatalf("log: %s", all)
	}
	for _, secret := range []string{iban, iban[len(iban)-8:], "2345"} {
		if strings.Contains(all, secret) {
			t.Fatalf("the log shows %q: %s", secret, all)
		}
	}
}

// TestTheInterfacePageIsTheCode: docs/bank-interface.md lists every response code with the
// class mpg gives it, and every element mpg reads with its format, as the code has them.
func TestTheInterfacePageIsTheCode(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "bank-interface.md"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for rc, c := range codes {
		row := fmt.Sprintf("| %s | %s | %s | %s | %s |", rc, c.meaning, Classify(rc, First), Classify(rc, Repeat), Classify(rc, Reversal))
		if !strings.Contains(page, row) {
			t.Errorf("the page lacks %s", row)
		}
	}
	for _, e := range elements1987 {
		if row := fmt.Sprintf("| %d | %s | %s |", e.n, e.name, e.describe()); !strings.Contains(page, row) {
			t.Errorf("the page lacks %s", row)
		}
	}
}
