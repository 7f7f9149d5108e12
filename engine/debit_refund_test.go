package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"mpg/bank"
	"mpg/domain"
)

// paidDebit is a DEBIT of 20.00 by alice, paid by the bank.
func paidDebit(w *world) domain.Payment {
	w.t.Helper()
	p := w.debitAndConfirm("20")
	if p = w.settle(p.ID); p.State != domain.PaymentCompleted {
		w.t.Fatalf("%s %s", p.State, p.Reason)
	}
	w.outbox()
	return p
}

// refund refunds minor of a payment through the merchant API's operation.
func (w *world) refund(p domain.Payment, minor uint64) domain.Payment {
	w.t.Helper()
	got, _, _, err := w.e.RefundPayment(context.Background(), RefundRequest{Merchant: p.Merchant, PaymentID: p.ID, Amount: minor, Actor: "api"})
	if err != nil {
		w.t.Fatal(err)
	}
	return got
}

// settleCredit runs the credit of refund i until it ends, moving the clock past backoffs.
func (w *world) settleCredit(id string, i int) domain.Refund {
	w.t.Helper()
	for n := 0; n < 40; n++ {
		done, err := w.e.CreditStep(context.Background(), id, i)
		if err != nil {
			w.t.Fatalf("step %d: %v", n, err)
		}
		if done {
			p, _ := w.e.GetPayment(0, id)
			return p.Refunds[i]
		}
		w.advance(11 * time.Minute)
	}
	w.t.Fatal("the credit never ended")
	return domain.Refund{}
}

// agree checks that the ledger and the bank agree: reconcile finds nothing, and bank
// clearing is what the bank debited less what it credited.
func agree(t *testing.T, w *world, sim *bank.Sim) {
	t.Helper()
	var file bytes.Buffer
	sim.WriteSettlement(&file)
	settled, err := bank.ReadSettlement(&file)
	if err != nil {
		t.Fatal(err)
	}
	if diffs, _, err := w.e.ReconcileBank(settled); err != nil || len(diffs) != 0 {
		t.Fatalf("reconcile: %v %+v", err, diffs)
	}
	clr, _ := w.l.System(domain.KindBankClearing, "EUR")
	if net := 100000 - sim.Balance(aliceIBAN); -clr.Available() != net {
		t.Fatalf("clearing %d, the bank took %d net", clr.Available(), net)
	}
	w.verify()
}

// TestARefundedDebitGoesBackToTheBankAccount: a merchant's refund of a DEBIT is credited to
// the account it came from, after the refund is durable; alice is told in her language.
func TestARefundedDebitGoesBackToTheBankAccount(t *testing.T) {
	for _, c := range []struct{ lang, want string }{
		{"EN", "Corner Shop refunded 5.00 EUR: it is on its way to your bank account FR76 **** 0189. Bank approval"},
		{"FR", "Corner Shop vous a remboursé 5,00 EUR: virement en cours vers votre compte FR76 **** 0189"},
		{"ZH", "Corner Shop已退款 5.00 EUR,正在转入您的银行账户 FR76 **** 0189"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			w, sim := debitWorld(t)
			p := paidDebit(w)
			w.expect(alice, "LANG "+c.lang, "")
			purse := w.available(alice)
			p = w.refund(p, 500)
			r := p.Refunds[0]
			if r.State != domain.RefundSentToBank || r.Bank == nil || r.Bank.Key == p.Bank.Key || sim.Credits.Load() != 0 {
				t.Fatalf("after the refund: %+v, %d credits", r, sim.Credits.Load())
			}
			if recs, _ := w.l.ProfilesFrom(keyBankCredit, "", 10); len(recs) != 1 {
				t.Fatalf("credit queue: %d", len(recs))
			}
			if end := w.settleCredit(p.ID, 0); end.State != domain.RefundCredited || end.Bank.Auth == "" {
				t.Fatalf("%+v", end)
			}
			if msgs := w.outbox()[alice]; len(msgs) != 1 || !strings.Contains(msgs[0], c.want) {
				t.Fatalf("%q", msgs)
			}
			if sim.Balance(aliceIBAN) != 100000-2000+500 || w.available(alice) != purse || w.available("SHOP42") != 1500 {
				t.Fatalf("bank %d, purse %d, shop %d", sim.Balance(aliceIBAN), w.available(alice), w.available("SHOP42"))
			}
			if recs, _ := w.l.ProfilesFrom(keyBankCredit, "", 10); len(recs) != 0 {
				t.Fatalf("credit queue after: %d", len(recs))
			}
			agree(t, w, sim)
		})
	}
}

// TestARefundCreditUnderEveryFault: an unsure credit is repeated (0201), never guessed; a
// sure decline, or a reversal after bank.tries, gives the money to alice's purse in one
// job. Either way the money reaches her once, and the ledger and the bank agree.
func TestARefundCreditUnderEveryFault(t *testing.T) {
	cases := []struct {
		name     string
		faults   map[bank.Fault]int
		closed   bool
		credited bool
		reply    string
	}{
		{"credited", nil, false, true, "on its way to your bank account"},
		{"answer lost", map[bank.Fault]int{bank.FaultApproveThenDrop: 1}, false, true, "on its way"},
		{"96", map[bank.Fault]int{bank.FaultMalfunction: 2}, false, true, "on its way"},
		{"unreadable answer", map[bank.Fault]int{bank.FaultGarbage: 1}, false, true, "on its way"},
		{"declined: the account is closed", nil, true, false, "Your bank could not take it (account closed or unknown): it is in your e-purse. Balance 5.00 EUR"},
		{"never answered: reversed", map[bank.Fault]int{bank.FaultApproveThenDrop: 5}, false, false, "(your bank did not answer): it is in your e-purse"},
		{"reversal declined: the credit stands", map[bank.Fault]int{bank.FaultApproveThenDrop: 5, bank.FaultDeclineReversal: 1}, false, true, "on its way"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, sim := debitWorld(t)
			p := paidDebit(w)
			if c.closed {
				sim.Open(aliceIBAN, bank.SimAccount{Balance: sim.Balance(aliceIBAN), Closed: true})
			}
			p = w.refund(p, 500)
			for f, n := range c.faults {
				sim.Inject(f, n)
			}
			end := w.settleCredit(p.ID, 0)
			time.Sleep(sim.Late)
			if msgs := w.outbox()[alice]; len(msgs) != 1 || !strings.Contains(msgs[0], c.reply) {
				t.Fatalf("%q, want %q", msgs, c.reply)
			}
			credited := sim.Balance(aliceIBAN) - (100000 - 2000)
			toPurse := w.available(alice)
			if c.credited != (end.State == domain.RefundCredited) || credited+toPurse != 500 || sim.Credits.Load() > 1 {
				t.Fatalf("%s: bank credited %d, purse got %d, %d credits", end.State, credited, toPurse, sim.Credits.Load())
			}
			agree(t, w, sim)
		})
	}
}

// TestARefundCreditAfterACrashIsARepeat: the daemon dies between sending the credit and
// recording its answer; after the restart it goes again as 0201, and credits once.
func TestARefundCreditAfterACrashIsARepeat(t *testing.T) {
	w, sim := debitWorld(t)
	p := w.refund(paidDebit(w), 700)
	ctx, cancel := context.WithCancel(context.Background())
	w.e.SetBank(crashAfterSend{Bank: w.e.bank, cancel: cancel})
	if done, err := w.e.CreditStep(ctx, p.ID, 0); done || err == nil {
		t.Fatalf("the step went on after the crash: %v %v", done, err)
	}
	cfg := w.e.cfg
	w.l.Close()
	w2 := reopen(t, w, cfg)
	w2.e.SetBank(bank.NewClient(bank.Config{Addr: sim.Addr(), Timeout: time.Second}))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w2.e.RunBank(ctx, 10*time.Millisecond, 2); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if got, _ := w2.e.GetPayment(0, p.ID); got.Refunds[0].State == domain.RefundCredited {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not credited after the restart")
		}
	}
	stop()
	<-done
	if got := strings.Join(sim.Messages(p.Refunds[0].Bank.Key), " "); got != "0200 0201" || sim.Credits.Load() != 1 {
		t.Fatalf("the bank got %s, %d credits", got, sim.Credits.Load())
	}
	agree(t, w2, sim)
}

// TestRefundsOfADebitShareTheCap: two refunds of one DEBIT, each its own credit (its own
// RRN), both end; a third above what is left is refused.
func TestRefundsOfADebitShareTheCap(t *testing.T) {
	w, sim := debitWorld(t)
	p := paidDebit(w)
	w.refund(p, 1200)
	p = w.refund(p, 800)
	if p.State != domain.PaymentRefunded || p.Refunds[0].Bank.Key == p.Refunds[1].Bank.Key {
		t.Fatalf("%s %+v", p.State, p.Refunds)
	}
	if _, _, _, err := w.e.RefundPayment(context.Background(), RefundRequest{Merchant: p.Merchant, PaymentID: p.ID, Amount: 1, Actor: "api"}); err == nil {
		t.Fatal("a refund above what was paid")
	}
	for i := range 2 {
		if end := w.settleCredit(p.ID, i); end.State != domain.RefundCredited {
			t.Fatalf("refund %d: %+v", i, end)
		}
	}
	if sim.Balance(aliceIBAN) != 100000 || w.available("SHOP42") != 0 {
		t.Fatalf("bank %d shop %d", sim.Balance(aliceIBAN), w.available("SHOP42"))
	}
	agree(t, w, sim)
}

// TestReconcileFindsEveryDifferenceOfCredits: the simulator's own file agrees with the
// ledger; changed as a bank's file can be wrong, each change is one difference.
func TestReconcileFindsEveryDifferenceOfCredits(t *testing.T) {
	w, sim := debitWorld(t)
	p := w.refund(paidDebit(w), 100)
	w.settleCredit(p.ID, 0)
	sim.Open(aliceIBAN, bank.SimAccount{Balance: sim.Balance(aliceIBAN), Closed: true})
	p = w.refund(p, 200)
	if end := w.settleCredit(p.ID, 1); end.State != domain.RefundToPurse {
		t.Fatalf("%+v", end)
	}
	var file bytes.Buffer
	sim.WriteSettlement(&file)
	settled, err := bank.ReadSettlement(&file)
	if err != nil || len(settled) != 2 {
		t.Fatalf("%+v %v", settled, err)
	}
	if diffs, checked, err := w.e.ReconcileBank(settled); err != nil || len(diffs) != 0 || checked != 3 {
		t.Fatalf("clean: %+v, %d checked, %v", diffs, checked, err)
	}
	debit, credit, toPurse := p.Bank.Key, p.Refunds[0].Bank.Key, p.Refunds[1].Bank.Key
	line := func(key string) domain.BankSettled {
		for _, s := range settled {
			if s.Key == key {
				return s
			}
		}
		t.Fatalf("no line %s", key)
		return domain.BankSettled{}
	}
	without := func(key string) []domain.BankSettled {
		var out []domain.BankSettled
		for _, s := range settled {
			if s.Key != key {
				out = append(out, s)
			}
		}
		return out
	}
	flipped := line(debit)
	flipped.Credit = true
	cases := []struct {
		name string
		file []domain.BankSettled
		key  string
		what string
	}{
		{"a debit settled twice", append(without(""), line(debit)), debit, "settled 2 times by the bank: one debit"},
		{"a credit settled twice", append(without(""), line(credit)), credit, "settled 2 times by the bank: one refund credit"},
		{"a credit missing", without(credit), credit, "refund credited in the ledger, missing from the bank's settlement"},
		{"a credit mpg does not know", append(without(""), domain.BankSettled{Key: "ZZZZZZZZZZZZ", Account: aliceIBAN, Amount: 100, Currency: "EUR", Credit: true}),
			"ZZZZZZZZZZZZ", "credit settled by the bank, unknown to the ledger"},
		{"a credit the ledger gave to the purse", append(without(""), domain.BankSettled{Key: toPurse, Account: aliceIBAN, Amount: 200, Currency: "EUR", Credit: true}),
			toPurse, "credited by the bank, but the ledger gave the refund to the purse"},
		{"a debit settled as a credit", append(without(debit), flipped), debit, "the bank settled a credit, the ledger asked a debit"},
	}
	for _, c := range cases {
		diffs, _, err := w.e.ReconcileBank(c.file)
		if err != nil || len(diffs) != 1 || diffs[0].Key != c.key || !strings.HasPrefix(diffs[0].What, c.what) {
			t.Errorf("%s: %+v %v, want one difference %q on %s", c.name, diffs, err, c.what, c.key)
		}
	}
}

// TestRefundsOfADebitWithAFeeNeverReuseAnId: with a fee table for DEBIT, the merchant refunds
// a paid DEBIT twice in part. Both refunds are taken (the fee's transfer id and the refunds'
// never meet: "transfer id already used" was the 2nd refund's answer), each its own credit
// to the bank account; the fee stays with the fees account.
func TestRefundsOfADebitWithAFeeNeverReuseAnId(t *testing.T) {
	w, sim := debitWorld(t)
	w.e.cfg.Fees[domain.CodeDebit] = []Band{{UpTo: 1 << 62, Fee: 25}}
	p := paidDebit(w)
	if p.Fee != 25 || w.available("SHOP42") != 1975 {
		t.Fatalf("paid DEBIT: fee %d, shop %d", p.Fee, w.available("SHOP42"))
	}
	for i, minor := range []uint64{500, 300} {
		got, _, _, err := w.e.RefundPayment(context.Background(), RefundRequest{Merchant: p.Merchant, PaymentID: p.ID, Amount: minor, Actor: "api"})
		if err != nil {
			t.Fatalf("refund %d of %d: %v", i+1, minor, err)
		}
		p = got
	}
	if len(p.Refunds) != 2 || p.Refunded != 800 || p.Refunds[0].Transfer == p.Refunds[1].Transfer ||
		p.Refunds[0].Bank.Key == p.Refunds[1].Bank.Key {
		t.Fatalf("refunds %+v, refunded %d", p.Refunds, p.Refunded)
	}
	pid, _ := domain.ParseID(p.ID)
	fee, err := w.l.Transfer(claimID(pid, 'b')) // the merchant's fee, as the DEBIT's completion wrote it
	if err != nil || fee.Code != domain.CodeFee || fee.Amount != 25 {
		t.Fatalf("the fee's transfer: %+v %v", fee, err)
	}
	ids := map[string]string{p.Transfer: "payment", fee.ID.String(): "fee"}
	for i, r := range p.Refunds {
		if was, ok := ids[r.Transfer]; ok {
			t.Fatalf("refund %d's transfer %s is the %s's", i+1, r.Transfer, was)
		}
		ids[r.Transfer] = "refund"
	}
	for i := range 2 {
		if end := w.settleCredit(p.ID, i); end.State != domain.RefundCredited {
			t.Fatalf("refund %d: %+v", i+1, end)
		}
	}
	if sim.Balance(aliceIBAN) != 100000-2000+800 || w.available("SHOP42") != 1975-800 || w.available("@fees") != 25 {
		t.Fatalf("bank %d shop %d fees %d", sim.Balance(aliceIBAN), w.available("SHOP42"), w.available("@fees"))
	}
	agree(t, w, sim)
}
