package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/bank"
	"mpg/domain"
)

// A refusal whose cause can go away is no answer for ever: the same text runs again once
// the cause is gone. A copy the SMSC redelivers meanwhile is refused again and moves
// nothing; after the text ran, every copy is a repeat.

const shopPhone = "+33698765432"

// fails is how many wrong PINs the subscriber's profile counts now.
func (w *world) fails(msisdn string) int {
	w.t.Helper()
	b, _, err := w.l.Profile(msisdn)
	var p profile
	if err != nil || json.Unmarshal(b, &p) != nil {
		w.t.Fatalf("profile of %s: %v", msisdn, err)
	}
	return p.Fails
}

func (w *world) setStatus(owner string, s domain.Status) {
	w.t.Helper()
	id := w.l.AccountsOf(owner)[0].ID
	if _, err := w.l.Submit(context.Background(), domain.Job{Status: []domain.StatusChange{{Account: id, Status: s}}}); err != nil {
		w.t.Fatal(err)
	}
}

func TestRefusedForMoneyRunsAfterATopUp(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 200, 1)
	const pay = "PAY SHOP42 4 739164"
	w.expect(alice, pay, "Not enough money")
	// Redelivered while the purse is still short: refused again, to alice only.
	if got := w.sms(alice, pay); len(got) != 1 || len(got[alice]) != 1 || !strings.Contains(got[alice][0], "Not enough money") {
		t.Fatalf("copy while short: %q", got)
	}
	w.topup(alice, 500, 1)
	got := w.sms(alice, pay)
	if len(got[alice]) != 1 || !strings.Contains(got[alice][0], "Paid 4.00 EUR to Corner Shop") || len(got[shopPhone]) != 1 {
		t.Fatalf("after the top-up: %q", got)
	}
	if got := w.sms(alice, pay); len(got) != 1 || !strings.Contains(got[alice][0], "You already paid 4.00 EUR") {
		t.Fatalf("third copy: %q", got)
	}
	if w.available("SHOP42") != 400 || w.available(alice) != 300 {
		t.Fatalf("shop %d, alice %d", w.available("SHOP42"), w.available(alice))
	}
	w.verify()
}

func TestRefusedWhileBlockedRunsAfterUnblock(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 1000, 1)
	w.expect(alice, "BLOCK", "blocked")
	const pay, guess = "PAY SHOP42 3 739164", "PAY SHOP42 3 000000"
	for range 2 { // the text and a copy
		w.expect(alice, pay, "blocked")
		w.expect(alice, guess, "blocked")
	}
	if w.fails(alice) != 0 || w.available(alice) != 1000 {
		t.Fatalf("while blocked: %d wrong PINs counted, balance %d", w.fails(alice), w.available(alice))
	}
	w.setStatus(alice, domain.StatusActive)
	w.expect(alice, pay, "Paid 3.00 EUR")
	w.expect(alice, pay, "You already paid 3.00 EUR")
	// The wrong PIN is checked once the purse is open again, and counted once.
	w.expect(alice, guess, "Wrong PIN")
	w.expect(alice, guess, "We already answered")
	if w.fails(alice) != 1 || w.available("SHOP42") != 300 {
		t.Fatalf("%d wrong PINs counted, shop %d", w.fails(alice), w.available("SHOP42"))
	}
}

func TestRefusedWhileLockedRunsAfterTheLockout(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 1000, 1)
	if err := w.e.ResetPIN(context.Background(), "care:1", alice); err != nil {
		t.Fatal(err)
	}
	code := codeIn(t, w.inbox()[alice])
	var guess string
	for i := range 3 {
		if guess = fmt.Sprintf("00000%d", i); guess == code {
			guess = "999999"
		}
		w.sms(alice, "PIN "+guess+" 246802")
	}
	w.expect(alice, "BAL 246802", "locked")
	// The right code while locked: refused, not checked, not counted; its copy the same.
	set, pay, wrong := "PIN "+code+" 246802", "PAY SHOP42 2 246802", "PAY SHOP42 2 111111"
	for range 2 {
		w.expect(alice, set, "locked")
		w.expect(alice, pay, "locked")
		w.expect(alice, wrong, "locked")
	}
	w.advance(31 * time.Minute)
	w.expect(alice, set, "Your PIN is set")
	w.expect(alice, set, "We already answered")
	w.expect(alice, pay, "Paid 2.00 EUR")
	w.expect(alice, pay, "You already paid")
	// The guess that locked the purse stays answered: its copy counts nothing again. The
	// one refused while locked is checked now, once.
	w.expect(alice, "PIN "+guess+" 246802", "We already answered")
	w.expect(alice, wrong, "Wrong PIN")
	w.expect(alice, wrong, "We already answered")
	if w.fails(alice) != 1 || w.available("SHOP42") != 200 {
		t.Fatalf("%d wrong PINs counted, shop %d", w.fails(alice), w.available("SHOP42"))
	}
}

// TestYESRefusedWhileBlockedRunsAfterUnblock: the subscriber's own confirmation outlives a
// refused YES (the reservation stays); the same YES after the unblock pays, once.
func TestYESRefusedWhileBlockedRunsAfterUnblock(t *testing.T) {
	w := newWorldWith(t, nil, 5000)
	w.expect(alice, "REG 739164", "Welcome")
	w.topup(alice, 10000, 1)
	ask := w.expect(alice, "PAY SHOP42 60 739164", "reply YES")
	yes := "YES " + sixDigits.FindStringSubmatch(ask[strings.Index(ask, "YES"):])[1]
	w.expect(alice, "BLOCK", "blocked")
	w.expect(alice, yes, "blocked")
	w.expect(alice, yes, "blocked")
	w.setStatus(alice, domain.StatusActive)
	w.expect(alice, yes, "Paid 60.00 EUR")
	w.expect(alice, yes, "You already paid 60.00 EUR")
	if w.available("SHOP42") != 6000 {
		t.Fatalf("shop %d", w.available("SHOP42"))
	}
}

func TestDebitNotAvailableRunsOnceTheBankIsSet(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	if _, err := w.e.LinkBank(context.Background(), "ops", alice, aliceIBAN); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	const debit = "DEBIT SHOP42 5 739164"
	w.expect(alice, debit, "not available")
	w.expect(alice, debit, "not available")
	// The daemon restarts with a bank connector configured.
	cfg := w.e.cfg
	w.l.Close()
	w = reopen(t, w, cfg)
	sim, err := bank.NewSim("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client := bank.NewClient(bank.Config{Addr: sim.Addr(), Timeout: 200 * time.Millisecond})
	t.Cleanup(func() { client.Close(); sim.Close() })
	w.e.SetBank(client)
	w.expect(alice, debit, "Irreversible")
	w.expect(alice, debit, "We already answered")
	if recs, _ := w.l.ProfilesFrom(keyPayment, "", 10); len(recs) != 1 {
		t.Fatalf("%d payments asked, want 1", len(recs))
	}
}

// TestFinalRefusalsStayAnswered: what cannot change (a code that names no merchant, a wrong
// PIN) is answered once and its copies are repeats; a parse error's copy is told the same
// again (it changes nothing).
func TestFinalRefusalsStayAnswered(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 1000, 1)
	for _, c := range [][3]string{{"PAY SHOP4 1 739164", "Unknown merchant", "We already answered"},
		{"PAY SHOP42 1.234 739164", "not understood", "not understood"}, {"PAY SHOP42 1 000000", "Wrong PIN", "We already answered"}} {
		w.expect(alice, c[0], c[1])
		w.expect(alice, c[0], c[2])
	}
	if w.fails(alice) != 1 {
		t.Fatalf("%d wrong PINs counted, want 1", w.fails(alice))
	}
}

// TestMerchantRequestRefusedStaysRefused: a YES to a merchant's request that was refused
// ended that request (the merchant was told); the same YES later pays nothing.
func TestMerchantRequestRefusedStaysRefused(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 100, 1)
	shop := w.l.AccountsOf("SHOP42")[0].ID
	p, _, err := w.e.CreatePayment(context.Background(), CreatePayment{Merchant: shop, MSISDN: alice, Amount: 450, Reference: "order-9",
		Idempotency: Idempotency{Key: "k9", BodyHash: "h9"}})
	if err != nil {
		t.Fatal(err)
	}
	yes := "YES " + payCode(t, w.outbox()[alice])
	w.expect(alice, yes, "Not enough money")
	w.topup(alice, 1000, 1)
	w.expect(alice, yes, "We already answered")
	if got, _ := w.e.GetPayment(0, p.ID); got.State != domain.PaymentRefused || w.available("SHOP42") != 0 {
		t.Fatalf("payment %s, shop %d", got.State, w.available("SHOP42"))
	}
}

// TestCopiesOfARefusedPaymentRaceOnce: the cause is gone and many copies of the refused text
// arrive at once, through two daemons sharing the ledger: exactly one pays.
func TestCopiesOfARefusedPaymentRaceOnce(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	const pay = "PAY SHOP42 4 739164"
	w.expect(alice, pay, "Not enough money")
	w.topup(alice, 5000, 1)
	other, err := New(w.e.cfg, w.l)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 16 {
		e := []*Engine{w.e, other}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := e.Handle(context.Background(), Inbound{From: alice, To: "1234", Text: pay}); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	got := w.inbox()
	paid := strings.Count(strings.Join(got[alice], "\n"), "Paid 4.00 EUR")
	repeats := strings.Count(strings.Join(got[alice], "\n"), "You already paid 4.00 EUR")
	if paid != 1 || repeats != 15 || len(got[shopPhone]) != 1 || w.available("SHOP42") != 400 || w.available(alice) != 4600 {
		t.Fatalf("%d paid, %d repeats, merchant told %d times, shop %d, alice %d", paid, repeats, len(got[shopPhone]),
			w.available("SHOP42"), w.available(alice))
	}
	w.verify()
}
