package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/bank"
	"mpg/domain"
	"mpg/ledger"
)

const aliceIBAN = "FR7630006000011234567890189"

// debitWorld is a world whose engine talks ISO 8583 to a real bank simulator, with alice's
// bank account linked.
func debitWorld(t *testing.T) (*world, *bank.Sim) { return debitWorldTiers(t, nil) }

// debitWorldTiers is debitWorld with the tiers given (nil: the default ones).
func debitWorldTiers(t *testing.T, tiers map[uint8]Limits) (*world, *bank.Sim) {
	w := newWorldTiers(t, tiers)
	sim, err := bank.NewSim("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sim.Late, sim.Slow = 400*time.Millisecond, 30*time.Millisecond
	sim.Open(aliceIBAN, bank.SimAccount{Balance: 100000})
	client := bank.NewClient(bank.Config{Addr: sim.Addr(), Timeout: 200 * time.Millisecond})
	t.Cleanup(func() { client.Close(); sim.Close() })
	w.e.SetBank(client)
	w.expect(alice, "REG 739164 Alice", "Welcome Alice")
	if _, err := w.e.LinkBank(context.Background(), "ops", alice, "FR76 3000 6000 0112 3456 7890 189"); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	return w, sim
}

// debitAndConfirm texts DEBIT and YES and returns the payment waiting for the bank.
func (w *world) debitAndConfirm(amount string) domain.Payment {
	w.t.Helper()
	ask := w.expect(alice, "DEBIT SHOP42 "+amount+" 739164", "Irreversible")
	code := sixDigits.FindStringSubmatch(ask[strings.Index(ask, "YES"):])[1]
	w.expect(alice, "YES "+code, "Sent to your bank")
	recs, _ := w.l.ProfilesFrom(keyBankQueue, "", 10)
	if len(recs) != 1 {
		w.t.Fatalf("bank queue: %d", len(recs))
	}
	p, _ := w.e.GetPayment(0, strings.TrimPrefix(recs[0].Owner, keyBankQueue))
	return p
}

// settle runs the bank worker's steps until the payment ends, moving the clock past each
// backoff; it returns the final payment.
func (w *world) settle(id string) domain.Payment {
	w.t.Helper()
	for i := 0; i < 40; i++ {
		done, err := w.e.BankStep(context.Background(), id)
		if err != nil {
			w.t.Fatalf("step %d: %v", i, err)
		}
		if done {
			p, _ := w.e.GetPayment(0, id)
			return p
		}
		w.advance(11 * time.Minute)
	}
	w.t.Fatal("the payment never ended")
	return domain.Payment{}
}

// TestDebitUnderEveryFaultLedgerAndBankAgree: whatever the bank does, the payment ends
// once, the merchant is paid exactly when the bank's account was debited (and not
// reversed), and bank clearing equals what the bank settled.
func TestDebitUnderEveryFaultLedgerAndBankAgree(t *testing.T) {
	cases := []struct {
		name   string
		faults map[bank.Fault]int
		paid   bool
		reply  string
	}{
		{"approved", nil, true, "Paid 2.00 EUR to Corner Shop from your bank account FR76 **** 0189"},
		{"no answer once", map[bank.Fault]int{bank.FaultNoAnswer: 1}, true, "Paid"},
		{"late answer", map[bank.Fault]int{bank.FaultLate: 1}, true, "Paid"},
		{"approve then drop", map[bank.Fault]int{bank.FaultApproveThenDrop: 1}, true, "Paid"},
		{"duplicate answers", map[bank.Fault]int{bank.FaultDuplicate: 1}, true, "Paid"},
		{"refused connections", map[bank.Fault]int{bank.FaultRefuse: 2}, true, "Paid"},
		{"slow", map[bank.Fault]int{bank.FaultSlow: 1}, true, "Paid"},
		{"never answers: reversed", map[bank.Fault]int{bank.FaultNoAnswer: 5}, false, "did not answer in time"},
		{"debited, never answers: reversed", map[bank.Fault]int{bank.FaultApproveThenDrop: 5}, false, "did not answer in time"},
		{"reversal declined: the debit stands", map[bank.Fault]int{bank.FaultApproveThenDrop: 5, bank.FaultDeclineReversal: 1}, true, "Paid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, sim := debitWorld(t)
			p := w.debitAndConfirm("2")
			for f, n := range c.faults {
				sim.Inject(f, n)
			}
			end := w.settle(p.ID)
			time.Sleep(sim.Late) // a late answer arrives and changes nothing
			msgs := w.outbox()[alice]
			if len(msgs) != 1 || !strings.Contains(msgs[0], c.reply) {
				t.Fatalf("replies %q, want one with %q", msgs, c.reply)
			}
			debited := 100000 - sim.Balance(aliceIBAN)
			clr, _ := w.l.System(domain.KindBankClearing, "EUR")
			if c.paid != (end.State == domain.PaymentCompleted) || debited != int64(200)*boolToInt(c.paid) ||
				w.available("SHOP42") != debited || -clr.Available() != debited {
				t.Fatalf("state %s (%s), bank debited %d, shop %d, clearing %d", end.State, end.Reason, debited, w.available("SHOP42"), clr.Available())
			}
			// The queue is empty and another step changes nothing.
			if done, err := w.e.BankStep(context.Background(), p.ID); !done || err != nil || sim.Debits.Load() > 1 {
				t.Fatalf("after the end: %v %v, %d debits", done, err, sim.Debits.Load())
			}
		})
	}
}

func boolToInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestDebitDeclinesAndNeedsALinkedAccountAndYES(t *testing.T) {
	w, sim := debitWorld(t)
	w.expect(alice, "DEBIT SHOP4 2 739164", "Unknown merchant SHOP4")
	// NO: the bank is never asked.
	ask := w.expect(alice, "DEBIT SHOP42 3 739164", "Irreversible")
	w.expect(alice, "NO "+sixDigits.FindStringSubmatch(ask[strings.Index(ask, "YES"):])[1], "You refused the payment")
	if sim.Requests.Load() != 0 {
		t.Fatal("the bank was asked before YES")
	}
	// Declined by the bank: told with the reason; nothing moves.
	p := w.debitAndConfirm("90")
	sim.Open(aliceIBAN, bank.SimAccount{Balance: 5000})
	end := w.settle(p.ID)
	if end.State != domain.PaymentRefused || end.Reason != string(domain.CodeInsufficientFunds) || w.available("SHOP42") != 0 {
		t.Fatalf("declined: %+v", end)
	}
	if msgs := w.outbox()[alice]; len(msgs) != 1 || !strings.Contains(msgs[0], "Your bank declined the DEBIT of 90.00 EUR") {
		t.Fatalf("%q", msgs)
	}
	// Unlinked: DEBIT says so.
	if _, err := w.e.LinkBank(context.Background(), "ops", alice, ""); err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "DEBIT SHOP42 1 739164", "No bank account is linked")
	if _, err := w.e.LinkBank(context.Background(), "ops", alice, "FR7630006000011234567890180"); err == nil {
		t.Fatal("a wrong IBAN check digit was accepted")
	}
}

// TestBankWorkerResumesAfterARestart: a debit sent to the bank whose answer was lost stays
// queued in the ledger file; a new engine on the reopened file settles it once.
func TestBankWorkerResumesAfterARestart(t *testing.T) {
	w, sim := debitWorld(t)
	p := w.debitAndConfirm("5")
	sim.Inject(bank.FaultApproveThenDrop, 1)
	if done, _ := w.e.BankStep(context.Background(), p.ID); done {
		t.Fatal("ended without an answer")
	}
	cfg := w.e.cfg
	w.l.Close()
	w2 := reopen(t, w, cfg)
	w2.e.SetBank(bank.NewClient(bank.Config{Addr: sim.Addr(), Timeout: time.Second}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w2.e.RunBank(ctx, 10*time.Millisecond, 2); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		w2.advance(2 * time.Second)
		// The record is on disk when the job commits; balances are published to readers just
		// after: wait for both.
		if got, _ := w2.e.GetPayment(0, p.ID); got.State == domain.PaymentCompleted && w2.available("SHOP42") == 500 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not settled after the restart")
		}
	}
	cancel()
	<-done
	if sim.Debits.Load() != 1 || sim.Balance(aliceIBAN) != 100000-500 || w2.available("SHOP42") != 500 {
		t.Fatalf("%d debits, bank %d, shop %d", sim.Debits.Load(), sim.Balance(aliceIBAN), w2.available("SHOP42"))
	}
}

// reopen opens the world's ledger file again, as a restarted daemon does, with a new engine.
func reopen(t *testing.T, w *world, cfg Config) *world {
	t.Helper()
	l := w.books.Open(t, &ledger.Options{Now: cfg.Now, ExpiryEvery: 10 * time.Millisecond, ExpiryHook: ExpiryNotices(cfg),
		Tiers: LedgerTiers(cfg.Tiers)})
	w2 := *w
	w2.l = l
	var err error
	if w2.e, err = New(cfg, l); err != nil {
		t.Fatal(err)
	}
	return &w2
}

// TestMerchantAsksForADebit: a request to pay by bank from the merchant API is confirmed by
// YES <code> like a DEBIT, and paid by the bank worker.
func TestMerchantAsksForADebit(t *testing.T) {
	w, sim := debitWorld(t)
	ctx := context.Background()
	shop := w.l.AccountsOf("SHOP42")[0].ID
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 1500, Reference: "inv-9", Bank: true})
	if err != nil || p.Channel != domain.ChannelBank {
		t.Fatalf("%+v %v", p, err)
	}
	ask := w.outbox()[alice]
	if len(ask) != 1 || !strings.Contains(ask[0], "Irreversible") {
		t.Fatalf("%q", ask)
	}
	w.expect(alice, "YES "+sixDigits.FindStringSubmatch(ask[0][strings.Index(ask[0], "YES"):])[1], "Sent to your bank")
	end := w.settle(p.ID)
	if end.State != domain.PaymentCompleted || sim.Balance(aliceIBAN) != 100000-1500 || w.available("SHOP42") != 1500 {
		t.Fatalf("%+v", end)
	}
	// Without a linked account the merchant is told at once.
	w.e.LinkBank(ctx, "ops", alice, "")
	_, _, err = w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: "inv-10", Bank: true})
	wantCode(t, err, domain.CodeSubscriberNotFound)
}

func TestDebitFeeIsTheMerchants(t *testing.T) {
	w, sim := debitWorld(t)
	w.e.cfg.Fees[domain.CodeDebit] = []Band{{UpTo: 1 << 62, Fee: 25}}
	p := w.debitAndConfirm("10")
	if end := w.settle(p.ID); end.State != domain.PaymentCompleted || end.Fee != 25 {
		t.Fatalf("%+v", end)
	}
	if sim.Balance(aliceIBAN) != 100000-1000 || w.available("SHOP42") != 975 || w.available("@fees") != 25 {
		t.Fatalf("bank %d shop %d fees %d", sim.Balance(aliceIBAN), w.available("SHOP42"), w.available("@fees"))
	}
}

// TestReconcileListsEveryDifference reads the simulator's own settlement file (clean), then
// the same file changed in each way a bank's file can disagree with the ledger.
func TestReconcileListsEveryDifference(t *testing.T) {
	w, sim := debitWorld(t)
	var paid []domain.Payment
	for _, amount := range []string{"2", "3", "4"} {
		p := w.debitAndConfirm(amount)
		if p = w.settle(p.ID); p.State != domain.PaymentCompleted {
			t.Fatalf("%s: %s", amount, p.State)
		}
		paid = append(paid, p)
		w.outbox()
	}
	var file bytes.Buffer
	if err := sim.WriteSettlement(&file); err != nil {
		t.Fatal(err)
	}
	settled, err := bank.ReadSettlement(bytes.NewReader(file.Bytes()))
	if err != nil || len(settled) != 3 || settled[0].Currency != "EUR" {
		t.Fatalf("settlement %+v %v", settled, err)
	}
	if diffs, checked, err := w.e.ReconcileBank(settled); err != nil || len(diffs) != 0 || checked != 3 {
		t.Fatalf("clean file: %+v checked %d %v", diffs, checked, err)
	}
	at := func(key string) int {
		for i, s := range settled {
			if s.Key == key {
				return i
			}
		}
		t.Fatalf("no line %s", key)
		return -1
	}
	changed := func(change func([]domain.BankSettled) []domain.BankSettled) []domain.BankSettled {
		return change(append([]domain.BankSettled(nil), settled...))
	}
	cases := []struct {
		name  string
		file  []domain.BankSettled
		key   string
		what  string
		known bool
	}{
		{"amount", changed(func(s []domain.BankSettled) []domain.BankSettled { s[at(paid[0].Bank.Key)].Amount++; return s }),
			paid[0].Bank.Key, "amounts differ", true},
		{"currency", changed(func(s []domain.BankSettled) []domain.BankSettled { s[at(paid[1].Bank.Key)].Currency = "USD"; return s }),
			paid[1].Bank.Key, "currencies differ", true},
		{"account", changed(func(s []domain.BankSettled) []domain.BankSettled {
			s[at(paid[2].Bank.Key)].Account = "DE89370400440532013000"
			return s
		}), paid[2].Bank.Key, "accounts differ: the bank debited DE89 **** 3000", true},
		{"reversed at the bank", changed(func(s []domain.BankSettled) []domain.BankSettled { s[at(paid[0].Bank.Key)].Reversed = true; return s }),
			paid[0].Bank.Key, "paid in the ledger, not settled by the bank", true},
		{"missing from the file", changed(func(s []domain.BankSettled) []domain.BankSettled { return append(s[:0], s[1:]...) }),
			settled[0].Key, "paid in the ledger, not settled by the bank", true},
		{"unknown to the ledger", changed(func(s []domain.BankSettled) []domain.BankSettled {
			return append(s, domain.BankSettled{Key: "999999999999", Account: aliceIBAN, Amount: 100, Currency: "EUR"})
		}), "999999999999", "settled by the bank, unknown to the ledger", false},
	}
	for _, c := range cases {
		diffs, _, err := w.e.ReconcileBank(c.file)
		if err != nil || len(diffs) != 1 || diffs[0].Key != c.key || !strings.HasPrefix(diffs[0].What, c.what) || (diffs[0].Payment != "") != c.known {
			t.Errorf("%s: %+v %v, want one difference %q on %s", c.name, diffs, err, c.what, c.key)
		}
	}
}

// TestDebitRepliesLeaveInTheOrderTheyWereWritten: the outbox sends urgent messages first;
// "pending" must not be passed by the bank's "Paid" that it announces.
func TestDebitRepliesLeaveInTheOrderTheyWereWritten(t *testing.T) {
	w, _ := debitWorld(t)
	w.expect(bob, "BAL", "") // a normal message queued before, as on a busy outbox
	p := w.debitAndConfirm("2")
	if end := w.settle(p.ID); end.State != domain.PaymentCompleted {
		t.Fatalf("%s", end.State)
	}
	msgs, err := w.l.NextMessages(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range msgs {
		if m.To == alice {
			text, _ := w.e.DeliverText(m)
			order = append(order, text[:min(len(text), 18)])
		}
	}
	pending, paid := slices.IndexFunc(order, func(s string) bool { return strings.HasPrefix(s, "Sent to your bank") }),
		slices.IndexFunc(order, func(s string) bool { return strings.HasPrefix(s, "Paid") })
	if pending < 0 || paid < 0 || pending > paid {
		t.Fatalf("alice's messages leave as %q", order)
	}
}

// TestDebitsCountAgainstTheDailyLimitAtomically: three DEBITs of about 80.00 asked, their YES
// texted at once; the tier allows 200.00 in 24 hours, so exactly two go to the bank.
func TestDebitsCountAgainstTheDailyLimitAtomically(t *testing.T) {
	w, _ := debitWorld(t)
	var codes []string
	for i := 0; i < 3; i++ {
		ask := w.expect(alice, fmt.Sprintf("DEBIT SHOP42 80.0%d 739164", i), "Irreversible")
		codes = append(codes, sixDigits.FindStringSubmatch(ask[strings.Index(ask, "YES"):])[1])
	}
	var wg sync.WaitGroup
	for _, code := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.e.Handle(context.Background(), Inbound{From: alice, To: "1234", Text: "YES " + code}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	states := map[domain.PaymentState]int{}
	ps, _, _ := w.e.ListPayments(w.l.AccountsOf("SHOP42")[0].ID, PaymentFilter{Limit: 100})
	for _, p := range ps {
		states[p.State]++
		if p.State == domain.PaymentRefused && p.Reason != string(domain.CodeLimitExceeded) {
			t.Errorf("refused for %s", p.Reason)
		}
	}
	if states[domain.PaymentSentToBank] != 2 || states[domain.PaymentRefused] != 1 {
		t.Fatalf("states %v", states)
	}
	all, _ := w.l.Messages(100, 0, 0)
	refusals := 0
	for _, m := range all {
		if m.To == alice && strings.Contains(m.Text, "Over your 24-hour limit: you can still spend 39.9") {
			refusals++
		}
	}
	// A new DEBIT above what is left is refused before any code is sent.
	if got := w.sms(alice, "DEBIT SHOP42 50 739164")[alice]; !strings.Contains(got[len(got)-1], "Over your 24-hour limit: you can still spend 39.9") {
		t.Fatalf("a new DEBIT: %q", got)
	}
	if refusals != 1 {
		t.Fatalf("%d limit replies to the racing YES", refusals)
	}
}

// TestDebitWindowStaysBounded: many small DEBITs are remembered in at most maxBankSpends
// entries, none of the amount lost.
func TestDebitWindowStaysBounded(t *testing.T) {
	w, _ := debitWorld(t)
	var total uint64
	for i := 1; i <= maxBankSpends+6; i++ {
		ask := w.expect(alice, fmt.Sprintf("DEBIT SHOP42 0.%02d 739164", i), "Irreversible")
		w.expect(alice, "YES "+sixDigits.FindStringSubmatch(ask[strings.Index(ask, "YES"):])[1], "Sent to your bank")
		total += uint64(i)
		w.advance(time.Minute) // DEBITs of the same minute share one entry
	}
	b, _, err := w.l.Profile(alice)
	var p profile
	if err != nil || json.Unmarshal(b, &p) != nil {
		t.Fatal(err)
	}
	if len(p.BankSpends) != maxBankSpends || domain.SpentSince(p.BankSpends, w.e.cfg.Now().UnixNano()) != total {
		t.Fatalf("%d entries, %d counted, want %d", len(p.BankSpends), domain.SpentSince(p.BankSpends, w.e.cfg.Now().UnixNano()), total)
	}
}

// TestYESWithACodeTypedBeforeIsNotACopy: six random digits repeat. A number texted a code it
// already typed inside the dedupe window confirms with it; a real copy is still a copy.
func TestYESWithACodeTypedBeforeIsNotACopy(t *testing.T) {
	w, _ := debitWorld(t)
	p := w.debitAndConfirm("2")
	w.settle(p.ID)
	w.outbox()
	// The same digits come up for the next DEBIT: its code is set to what alice typed.
	ask := w.expect(alice, "DEBIT SHOP42 3 739164", "Irreversible")
	code := sixDigits.FindStringSubmatch(ask[strings.Index(ask, "YES"):])[1]
	var first string
	all, _ := w.l.Messages(100, 0, 0)
	for _, m := range all {
		if m.To == alice {
			if text, _ := w.e.DeliverText(m); strings.Contains(text, "Irreversible") && !strings.Contains(text, "3.00 EUR") {
				first = sixDigits.FindStringSubmatch(text[strings.Index(text, "YES"):])[1]
			}
		}
	}
	q := w.lastPayment(w.l.AccountsOf("SHOP42")[0].ID)
	rec, ver, err := w.e.payment(q.ID)
	if err != nil || first == "" || first == code {
		t.Fatalf("%v %q %q", err, first, code)
	}
	rec.CodeMAC = w.e.codeMACFor(&rec, first)
	if _, err := w.l.Submit(context.Background(), domain.Job{Profiles: []domain.Profile{write(keyPayment+rec.ID, rec, ver)}}); err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "YES "+first, "Sent to your bank: 3.00 EUR")
	// A copy of that YES, redelivered by the SMSC, moves nothing again.
	w.expect(alice, "YES "+first, "We already answered this message")
	if q, _ := w.e.GetPayment(0, q.ID); q.State != domain.PaymentSentToBank {
		t.Fatalf("%s", q.State)
	}
}
