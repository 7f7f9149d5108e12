package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"mpg/bank"
	"mpg/domain"
)

// crashAfterSend is a bank link through which a request reaches the bank, and then the
// daemon dies before it can record the answer (its context ends, as in a SIGKILL the step
// never returns from).
type crashAfterSend struct {
	Bank
	cancel context.CancelFunc
}

func (c crashAfterSend) Debit(ctx context.Context, d domain.BankDebit) (domain.BankAnswer, error) {
	a, err := c.Bank.Debit(ctx, d)
	c.cancel()
	return a, err
}

func (c crashAfterSend) Credit(ctx context.Context, d domain.BankDebit) (domain.BankAnswer, error) {
	a, err := c.Bank.Credit(ctx, d)
	c.cancel()
	return a, err
}

// TestACrashMidCallIsFollowedByARepeat: the daemon dies between sending the 0200 and
// recording its answer; after the restart the request goes again as a repeat (0201) of the
// same message, never as a second original, and the bank debits once.
func TestACrashMidCallIsFollowedByARepeat(t *testing.T) {
	w, sim := debitWorld(t)
	p := w.debitAndConfirm("5")
	ctx, cancel := context.WithCancel(context.Background())
	w.e.SetBank(crashAfterSend{Bank: w.e.bank, cancel: cancel})
	if done, err := w.e.BankStep(ctx, p.ID); done || err == nil {
		t.Fatalf("the step went on after the crash: %v %v", done, err)
	}
	cfg := w.e.cfg
	w.l.Close()
	w2 := reopen(t, w, cfg)
	w2.e.SetBank(bank.NewClient(bank.Config{Addr: sim.Addr(), Timeout: time.Second}))
	if end := w2.settle(p.ID); end.State != domain.PaymentCompleted {
		t.Fatalf("%s %s", end.State, end.Reason)
	}
	if got := strings.Join(sim.Messages(p.Bank.Key), " "); got != "0200 0201" {
		t.Fatalf("the bank got %s", got)
	}
	if sim.Debits.Load() != 1 || sim.Balance(aliceIBAN) != 100000-500 || w2.available("SHOP42") != 500 {
		t.Fatalf("%d debits, bank %d, shop %d", sim.Debits.Load(), sim.Balance(aliceIBAN), w2.available("SHOP42"))
	}
}

// TestUnsureAnswersAreNeverDeclines: a 96 answering the repeat, or an answer mpg cannot
// read, leaves the payment waiting for a sure answer; the next repeat finds the debit.
func TestUnsureAnswersAreNeverDeclines(t *testing.T) {
	for _, f := range []bank.Fault{bank.FaultMalfunction, bank.FaultGarbage} {
		t.Run(string(f), func(t *testing.T) {
			w, sim := debitWorld(t)
			p := w.debitAndConfirm("3")
			sim.Inject(bank.FaultApproveThenDrop, 1) // debited, the answer lost
			if done, err := w.e.BankStep(context.Background(), p.ID); done || err != nil {
				t.Fatalf("%v %v", done, err)
			}
			sim.Inject(f, 1) // and the repeat answered 96, or unreadably
			if done, err := w.e.BankStep(context.Background(), p.ID); done || err != nil {
				got, _ := w.e.GetPayment(0, p.ID)
				t.Fatalf("ended on %s: %v %v, %s %s", f, done, err, got.State, got.Reason)
			}
			end := w.settle(p.ID)
			if end.State != domain.PaymentCompleted || sim.Balance(aliceIBAN) != 100000-300 || w.available("SHOP42") != 300 {
				t.Fatalf("%s %s, bank %d", end.State, end.Reason, sim.Balance(aliceIBAN))
			}
			if got := strings.Join(sim.Messages(p.Bank.Key), " "); got != "0200 0201 0201" {
				t.Fatalf("the bank got %s", got)
			}
		})
	}
}

// TestTheReversalNamesTheDebitAsSent: the reversal goes long after the 0200 left (the
// clocks of the YES, the 0200 and the reversal all differ); its field 90 names the 0200
// as sent, so the bank finds and reverses it, and nothing stays taken.
func TestTheReversalNamesTheDebitAsSent(t *testing.T) {
	w, sim := debitWorld(t)
	p := w.debitAndConfirm("4")
	w.advance(3 * time.Minute) // the worker was busy: the 0200 leaves later than the YES
	sim.Inject(bank.FaultApproveThenDrop, 5)
	end := w.settle(p.ID)
	if end.State != domain.PaymentRefused || sim.Reversals.Load() != 1 || sim.Balance(aliceIBAN) != 100000 {
		t.Fatalf("%s, %d reversals, bank %d", end.State, sim.Reversals.Load(), sim.Balance(aliceIBAN))
	}
	if end.Bank.Sent == nil || end.Bank.Reversal == nil || end.Bank.Sent.Time == transmittedAt(p.Bank.At) {
		t.Fatalf("recorded %+v", end.Bank)
	}
	if got := strings.Join(sim.Messages(p.Bank.Key), " "); got != "0200 0201 0201 0201 0201 0400" {
		t.Fatalf("the bank got %s", got)
	}
}

func transmittedAt(nanos int64) string { return time.Unix(0, nanos).UTC().Format("0102150405") }
