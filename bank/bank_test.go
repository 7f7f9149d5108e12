package bank

import (
	"bytes"
	"context"
	"errors"
	"strings"
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
	// The same RRN again, as a plain resend or as a repeat: the first answer, no new debit.
	for _, f := range []func(context.Context, domain.BankDebit) (domain.BankAnswer, error){c.Debit, c.Status} {
		if a, err := f(ctx, debit("000000000001", 2500)); err != nil || a.Outcome != domain.BankApproved || s.Balance(iban) != 7500 {
			t.Fatalf("repeat: %+v %v, balance %d", a, err, s.Balance(iban))
		}
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
