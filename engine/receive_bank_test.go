package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mpg/bank"
	"mpg/domain"
)

// receiveWorld is debitWorld where alice chose to receive on her bank account and bob,
// registered and funded, may send to her.
func receiveWorld(t *testing.T) (*world, *bank.Sim) {
	w, sim := debitWorld(t)
	w.expect(alice, "RECEIVE BANK", "now goes to your bank account FR76 **** 0189")
	w.expect(bob, "REG 246810 Bob", "Welcome")
	w.topup(bob, 5000, 2)
	w.outbox()
	return w, sim
}

// settleReceipt runs the bank credit of a SEND's payee until it ends, moving the clock past
// each backoff.
func (w *world) settleReceipt(id string) bankReceipt {
	w.t.Helper()
	for n := 0; n < 40; n++ {
		done, err := w.e.ReceiptStep(context.Background(), id)
		if err != nil {
			w.t.Fatalf("step %d: %v", n, err)
		}
		if done {
			var r bankReceipt
			if _, _, err := w.e.record(keyBankReceipt+id, &r); err != nil {
				w.t.Fatal(err)
			}
			return r
		}
		w.advance(11 * time.Minute)
	}
	w.t.Fatal("the credit never ended")
	return bankReceipt{}
}

// receiptQueued is the one SEND whose payee's bank credit waits for the bank worker.
func (w *world) receiptQueued() string {
	w.t.Helper()
	recs, err := w.l.ProfilesFrom(keyReceiptQueue, "", 10)
	if err != nil || len(recs) != 1 {
		w.t.Fatalf("bank credits queued: %d, %v", len(recs), err)
	}
	return strings.TrimPrefix(recs[0].Owner, keyReceiptQueue)
}

// TestASendGoesOnToThePayeesBankAccount: bob's SEND to alice, who chose RECEIVE BANK, is
// paid into her purse and moved on to bank clearing in the same job; the bank credits her
// account once the job is durable; each side is told; the books, the bank and its
// settlement file agree.
func TestASendGoesOnToThePayeesBankAccount(t *testing.T) {
	w, sim := receiveWorld(t)
	got := w.sms(bob, "SEND "+alice+" 10 246810")
	if len(got[bob]) != 1 || !strings.Contains(got[bob][0], "Sent 10.00 EUR") ||
		len(got[alice]) != 1 || !strings.Contains(got[alice][0], "10.00 EUR from +336****321 Bob: on its way to your bank account FR76 **** 0189") {
		t.Fatalf("replies %q", got)
	}
	if w.available(alice) != 0 || w.available(bob) != 4000 || sim.Credits.Load() != 0 {
		t.Fatalf("alice's purse %d, bob's %d, %d credits before the worker", w.available(alice), w.available(bob), sim.Credits.Load())
	}
	id := w.receiptQueued()
	if r := w.settleReceipt(id); r.State != domain.RefundCredited || r.Auth == "" {
		t.Fatalf("%+v", r)
	}
	if msgs := w.outbox()[alice]; len(msgs) != 1 || !strings.Contains(msgs[0], "10.00 EUR from +336****321 is on your bank account FR76 **** 0189. Bank approval") {
		t.Fatalf("%q", msgs)
	}
	if sim.Balance(aliceIBAN) != 100000+1000 || sim.Credits.Load() != 1 {
		t.Fatalf("bank %d, %d credits", sim.Balance(aliceIBAN), sim.Credits.Load())
	}
	if recs, _ := w.l.ProfilesFrom(keyReceiptQueue, "", 10); len(recs) != 0 {
		t.Fatalf("queue after: %d", len(recs))
	}
	// Another step on an ended credit does nothing.
	if done, err := w.e.ReceiptStep(context.Background(), id); !done || err != nil || sim.Credits.Load() != 1 {
		t.Fatalf("a step after the end: %v %v, %d credits", done, err, sim.Credits.Load())
	}
	agree(t, w, sim)
}

// TestAPayeesBankCreditUnderEveryFault: an unsure credit (a lost answer, 96, garbage) is
// repeated (0201), never guessed; a sure decline, or a reversal after bank.tries, puts the
// money back in alice's purse in one job, and she is told why. Either way she gets it
// exactly once, and the ledger and the bank agree.
func TestAPayeesBankCreditUnderEveryFault(t *testing.T) {
	cases := []struct {
		name     string
		faults   map[bank.Fault]int
		closed   bool
		credited bool
		reply    string
	}{
		{"answer lost", map[bank.Fault]int{bank.FaultApproveThenDrop: 1}, false, true, "is on your bank account"},
		{"96", map[bank.Fault]int{bank.FaultMalfunction: 2}, false, true, "is on your bank account"},
		{"unreadable answer", map[bank.Fault]int{bank.FaultGarbage: 1}, false, true, "is on your bank account"},
		{"declined: the account is closed", nil, true, false, "Your bank did not take 10.00 EUR from +336****321 (account closed or unknown): it is in your e-purse. Balance 10.00 EUR."},
		{"never answered: reversed", map[bank.Fault]int{bank.FaultApproveThenDrop: 5}, false, false, "(your bank did not answer): it is in your e-purse"},
		{"reversal declined: the credit stands", map[bank.Fault]int{bank.FaultApproveThenDrop: 5, bank.FaultDeclineReversal: 1}, false, true, "is on your bank account"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, sim := receiveWorld(t)
			if c.closed {
				sim.Open(aliceIBAN, bank.SimAccount{Balance: sim.Balance(aliceIBAN), Closed: true})
			}
			w.expect(bob, "SEND "+alice+" 10 246810", "Sent")
			for f, n := range c.faults {
				sim.Inject(f, n)
			}
			r := w.settleReceipt(w.receiptQueued())
			time.Sleep(sim.Late)
			if msgs := w.outbox()[alice]; len(msgs) != 1 || !strings.Contains(msgs[0], c.reply) {
				t.Fatalf("%q, want %q", msgs, c.reply)
			}
			credited := sim.Balance(aliceIBAN) - 100000
			if c.credited != (r.State == domain.RefundCredited) || credited+w.available(alice) != 1000 || sim.Credits.Load() > 1 {
				t.Fatalf("%s: bank credited %d, purse has %d, %d credits", r.State, credited, w.available(alice), sim.Credits.Load())
			}
			agree(t, w, sim)
		})
	}
}

// TestReceivePreferences: RECEIVE BANK needs a linked account; RECEIVE PURSE undoes it and
// SENDs stay in the purse; SETTINGS shows where money lands, in the subscriber's language.
func TestReceivePreferences(t *testing.T) {
	w, _ := debitWorld(t)
	w.expect(bob, "REG 246810 Bob", "Welcome")
	w.topup(bob, 5000, 2)
	w.expect(bob, "RECEIVE BANK", "No bank account is linked")
	w.expect(bob, "RECEVOIR BANQUE", "Aucun compte bancaire")
	w.expect(alice, "RECEIVE BANK", "bank account FR76 **** 0189")
	w.expect(alice, "SETTINGS 739164", "Money sent to you: bank account (RECEIVE BANK or PURSE)")
	w.expect(alice, "RECEIVE PURSE", "stays in your e-purse")
	w.expect(alice, "SETTINGS 739164", "Money sent to you: e-purse")
	w.expect(alice, "REGLAGES 739164", "Compte bancaire: FR76 **** 0189")
	w.expect(alice, "RECEIVE", "RECEIVE BANK or PURSE") // no word: its usage
	got := w.sms(bob, "SEND "+alice+" 10 246810")
	if len(got[alice]) != 1 || strings.Contains(got[alice][0], "bank") || w.available(alice) != 1000 {
		t.Fatalf("alice got %q and has %d", got[alice], w.available(alice))
	}
	if recs, _ := w.l.ProfilesFrom(keyReceiptQueue, "", 10); len(recs) != 0 {
		t.Fatalf("bank credits queued for a purse: %d", len(recs))
	}
	if got := w.sms(alice, "SETTINGS 000000")[alice]; len(got) != 1 || !strings.Contains(got[0], "Wrong PIN") {
		t.Fatalf("SETTINGS with a wrong PIN: %q", got)
	}
	// A blocked purse keeps what it receives, whatever its owner chose.
	w.expect(alice, "RECEIVE BANK", "bank account")
	w.expect(alice, "BLOCK", "")
	got = w.sms(bob, "SEND "+alice+" 5 246810")
	if len(got[bob]) != 1 || !strings.Contains(got[bob][0], "Sent 5.00 EUR") || w.available(alice) != 1500 {
		t.Fatalf("bob got %q, alice has %d", got[bob], w.available(alice))
	}
	if recs, _ := w.l.ProfilesFrom(keyReceiptQueue, "", 10); len(recs) != 0 {
		t.Fatalf("bank credits queued for a blocked purse: %d", len(recs))
	}
}

// TestAConfirmedSendGoesOnToTheBankToo: a SEND above the confirmation threshold, confirmed
// with YES, goes on to the payee's bank like one below it.
func TestAConfirmedSendGoesOnToTheBankToo(t *testing.T) {
	w, sim := receiveWorld(t)
	w.e.cfg.ConfirmAbove = 500
	ask := w.expect(bob, "SEND "+alice+" 10 246810", "YES")
	code := sixDigits.FindStringSubmatch(ask[strings.Index(ask, "YES"):])[1]
	got := w.sms(bob, "YES "+code)
	if len(got[alice]) != 1 || !strings.Contains(got[alice][0], "on its way to your bank account") || w.available(alice) != 0 {
		t.Fatalf("alice got %q and has %d", got[alice], w.available(alice))
	}
	if r := w.settleReceipt(w.receiptQueued()); r.State != domain.RefundCredited || sim.Balance(aliceIBAN) != 101000 {
		t.Fatalf("%+v, bank %d", r, sim.Balance(aliceIBAN))
	}
	agree(t, w, sim)
}

// TestSendsToABankPayeeAtOnce: SENDs to alice from two daemons at once, some confirmed with
// YES, while both daemons' bank workers run and alice switches between RECEIVE BANK and
// PURSE: every cent sent reaches her exactly once, on her bank account or in her purse, and
// the books, the bank and its settlement agree.
func TestSendsToABankPayeesAtOnce(t *testing.T) {
	w, sim := receiveWorld(t)
	other := w.secondDaemon().e
	const carol = "+33611223344"
	w.expect(carol, "REG 135790 Carol", "Welcome")
	w.topup(carol, 5000, 2)
	w.outbox()
	ctx, stop := context.WithCancel(context.Background())
	workers := make(chan struct{}, 2)
	for _, e := range []*Engine{w.e, other} {
		go func() { e.RunBank(ctx, 5*time.Millisecond, 2); workers <- struct{}{} }()
	}
	var acts []func()
	for i := range 8 {
		acts = append(acts,
			func() { w.handleOn(w.e, bob, fmt.Sprintf("SEND %s 1 B%d 246810", alice, i)) },
			func() { w.handleOn(other, carol, fmt.Sprintf("SEND %s 2 C%d 135790", alice, i)) })
	}
	acts = append(acts, func() { w.handleOn(other, alice, "RECEIVE BANK") }) // again: nothing changes
	atOnce(acts)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if recs, _ := w.l.ProfilesFrom(keyReceiptQueue, "", 100); len(recs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bank credits still queued after 10 s")
		}
	}
	stop()
	<-workers
	<-workers
	sent := (5000 - w.available(bob)) + (5000 - w.available(carol))
	credited := sim.Balance(aliceIBAN) - 100000
	if sent != 8*100+8*200 || credited != sent || w.available(alice) != 0 || sim.Credits.Load() != 16 {
		t.Fatalf("sent %d: the bank credited %d and alice's purse has %d", sent, credited, w.available(alice))
	}
	agree(t, w, sim)
}

// settleReceiptLoosely runs the bank worker's steps on a credit, its errors retried as the
// worker retries them, and returns the record and whether the credit is still queued.
func (w *world) settleReceiptLoosely(id string, steps int) (bankReceipt, bool) {
	w.t.Helper()
	for range steps {
		if done, _ := w.e.ReceiptStep(context.Background(), id); done {
			break
		}
		w.advance(11 * time.Minute)
	}
	var r bankReceipt
	if _, _, err := w.e.record(keyBankReceipt+id, &r); err != nil {
		w.t.Fatal(err)
	}
	recs, _ := w.l.ProfilesFrom(keyReceiptQueue, "", 10)
	return r, len(recs) > 0
}

func (w *world) clearingBalance() int64 {
	w.t.Helper()
	clr, err := w.e.clearing(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	a, _ := w.l.Account(clr.ID)
	return a.Available()
}

// TestARefusedCreditWaitsForRoomInThePurse: the bank declines alice's credit while her purse
// cannot take the money back (its maximum balance): the credit stays queued and in bank
// clearing, retried, until she has room; then it reaches her purse, once.
func TestARefusedCreditWaitsForRoomInThePurse(t *testing.T) {
	w, sim := debitWorldTiers(t, map[uint8]Limits{
		1: {PerTx: 100000, Daily: 200000, MaxBalance: 1500, CanSend: true},
		2: {PerTx: 100000, Daily: 200000, MaxBalance: 1000000, CanSend: true}})
	w.expect(alice, "RECEIVE BANK", "bank account")
	w.expect(bob, "REG 246810 Bob", "Welcome")
	w.topup(bob, 5000, 2)
	sim.Open(aliceIBAN, bank.SimAccount{Balance: sim.Balance(aliceIBAN), Closed: true}) // the bank declines
	w.expect(bob, "SEND "+alice+" 10 246810", "Sent")
	id := w.receiptQueued()
	w.topup(alice, 1000, 1) // her purse fills meanwhile: 1000 back would pass 1500
	w.outbox()
	r, queued := w.settleReceiptLoosely(id, 3)
	if !queued || r.State != domain.RefundSentToBank || r.LastError == "" || w.clearingBalance() != 1000 {
		t.Fatalf("a refused return: state %s, queued %v, error %q, clearing %d", r.State, queued, r.LastError, w.clearingBalance())
	}
	w.expect(alice, "PAY SHOP42 6 739164", "Paid") // room for it now: 400 + 1000
	if r, queued = w.settleReceiptLoosely(id, 3); queued || r.State != domain.RefundToPurse || w.available(alice) != 1400 || w.clearingBalance() != 0 {
		t.Fatalf("state %s, queued %v, purse %d, clearing %d", r.State, queued, w.available(alice), w.clearingBalance())
	}
	if msgs := w.outbox()[alice]; len(msgs) != 1 || !strings.Contains(msgs[0], "it is in your e-purse. Balance 14.00 EUR") {
		t.Fatalf("%q", msgs)
	}
	w.verify()
}

// TestARefusedCreditOfAClosedPurseIsPaidOut: alice is erased (her purse closed and paid out)
// while her credit is in flight; the bank declines it: the amount is paid out to the float
// as her closing balance was, and bank clearing keeps nothing.
func TestARefusedCreditOfAClosedPurseIsPaidOut(t *testing.T) {
	w, sim := receiveWorld(t)
	sim.Open(aliceIBAN, bank.SimAccount{Balance: sim.Balance(aliceIBAN), Closed: true})
	w.expect(bob, "SEND "+alice+" 10 246810", "Sent")
	id := w.receiptQueued()
	float, _ := w.l.System(domain.KindFloat, "EUR")
	if _, err := w.e.RequestErasure(context.Background(), "ops", alice, false); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	before, _ := w.l.Account(float.ID)
	r, queued := w.settleReceiptLoosely(id, 10)
	after, _ := w.l.Account(float.ID)
	if queued || r.State != receiptPaidOut || w.clearingBalance() != 0 || after.Available()-before.Available() != 1000 {
		t.Fatalf("state %s, queued %v, clearing %d, float +%d", r.State, queued, w.clearingBalance(), after.Available()-before.Available())
	}
	if msgs := w.outbox()[alice]; len(msgs) != 0 {
		t.Fatalf("the erased payee is texted %q", msgs)
	}
	w.verify()
}

// TestASendRecomputedWhenThePayeeChangesMidTurn: while bob's SEND is computed with the sweep
// to alice's bank, she texts RECEIVE PURSE, or her purse is blocked: the job is refused as a
// conflict (it names her profile's version; the sweep's debit of a blocked purse is hers,
// not bob's), and computed again the SEND lands in her purse; bob is told "Sent", never that
// his own purse is blocked.
func TestASendRecomputedWhenThePayeeChangesMidTurn(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(w *world)
	}{
		{"RECEIVE PURSE", func(w *world) { w.expect(alice, "RECEIVE PURSE", "stays in your e-purse") }},
		{"blocked", func(w *world) {
			purse := w.l.AccountsOf(alice)[0]
			if _, err := w.l.Submit(context.Background(), domain.Job{Status: []domain.StatusChange{{Account: purse.ID, Status: domain.StatusBlocked}}}); err != nil {
				w.t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, _ := receiveWorld(t)
			in := Inbound{From: bob, To: "1234", Text: "SEND " + alice + " 10 246810"}
			tn := &turn{e: w.e, in: in, dedupeKey: w.e.dedupeKey(in)}
			if err := tn.load(); err != nil {
				t.Fatal(err)
			}
			job := tn.run()
			if tn.sweep == nil {
				t.Fatal("the SEND was computed without its sweep")
			}
			c.change(w)
			if err := tn.submit(context.Background(), job); err != errConflict {
				t.Fatalf("the stale SEND's job: %v, want a conflict", err)
			}
			got := w.sms(bob, in.Text)
			if len(got[bob]) != 1 || !strings.Contains(got[bob][0], "Sent 10.00 EUR") || w.available(alice) != 1000 {
				t.Fatalf("bob %q, alice's purse %d", got[bob], w.available(alice))
			}
			if recs, _ := w.l.ProfilesFrom(keyReceiptQueue, "", 10); len(recs) != 0 {
				t.Fatalf("%d bank credits queued", len(recs))
			}
		})
	}
}

// A SEND held by a fraud rule and released by an operator goes on to the payee's bank as
// the SEND itself would have: the release posts it into her purse and sweeps it to bank
// clearing in one job, and the bank credits her account.
func TestAReleasedSendGoesOnToThePayeesBank(t *testing.T) {
	w, sim := receiveWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 1, 60, nil)) // every payment of the hour held
	w.expect(bob, "SEND "+alice+" 10 246810", "is being checked")
	cases, err := w.e.FraudCases(context.Background(), 10)
	if err != nil || len(cases) != 1 || cases[0].Action != "hold" {
		t.Fatalf("queue %+v, %v", cases, err)
	}
	if _, err := w.e.DecideFraud(context.Background(), "console:ops", cases[0].ID, true); err != nil {
		t.Fatal(err)
	}
	if w.available(alice) != 0 || w.available(bob) != 4000 {
		t.Fatalf("alice's purse %d, bob's %d after the release", w.available(alice), w.available(bob))
	}
	if r := w.settleReceipt(w.receiptQueued()); r.State != domain.RefundCredited {
		t.Fatalf("%+v", r)
	}
	if sim.Balance(aliceIBAN) != 100000+1000 {
		t.Fatalf("bank %d", sim.Balance(aliceIBAN))
	}
	agree(t, w, sim)
}
