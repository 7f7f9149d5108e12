package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
)

// The payer's rule book, rule by channel: every cell of the README's table is a case here.
// Each channel's step is prepared before the rule's cause (the code texted, the checkout
// bound to the number), and committed after it: nothing may move or be committed.

// bookWorld: alice at tier 2 with 100.00 EUR, a linked bank account at a simulated bank, a
// 200.00 EUR credit line, employee of ACME; payments above 30.00 EUR ask YES <code>. Bob
// has a purse, for alice's SENDs.
func bookWorld(t *testing.T) (*world, uint64) { return bookWorldTiers(t, nil) }

// bookWorldTiers is bookWorld with the tiers given (nil: the default ones).
func bookWorldTiers(t *testing.T, tiers map[uint8]Limits) (*world, uint64) {
	w, _ := debitWorldTiers(t, tiers)
	ctx := context.Background()
	w.e.cfg.ConfirmAbove, w.e.cfg.CheckoutMax = 3000, 5000
	w.topup(alice, 10000, 2)
	w.expect(bob, "REG 246810 Bob", "Welcome")
	if _, err := w.e.GrantCredit(ctx, "ops", alice, 20000, 2, 5); err != nil {
		t.Fatal(err)
	}
	res, err := w.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindCompany, Owner: "ACME", Name: "Acme SA"}}})
	if err != nil {
		t.Fatal(err)
	}
	w.l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: w.float, Credit: res.Accounts[0].ID, Amount: 10000, Code: domain.CodeTopup}}})
	if _, err := w.e.SetEmployee(ctx, "test", res.Accounts[0].ID, Employee{MSISDN: alice}); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	return w, w.l.AccountsOf("SHOP42")[0].ID
}

// handle runs one SMS without reading the outbox: safe from many goroutines at once. A
// temporary failure (the turn lost every race for the profile) is delivered again, as the
// SMSC does.
func (w *world) handle(from, text string) {
	var err error
	for range 5 {
		if err = w.e.Handle(context.Background(), Inbound{From: from, To: "1234", Text: text}); err == nil {
			return
		}
	}
	w.t.Errorf("%s %q: %v", from, text, err)
}

// committed is what any channel's step moves or commits: the payees' money in (the
// merchant, the biller, bob's purse for a SEND, alice's credit line for a REPAY), on its
// way in, and the DEBITs queued for the bank.
func (w *world) committed() [3]uint64 {
	var in, pending uint64
	for _, owner := range []string{"SHOP42", "EDF", bob} {
		for _, a := range w.l.AccountsOf(owner) {
			in, pending = in+a.CreditsPosted, pending+a.CreditsPending
		}
	}
	if line, err := w.e.CreditLineOf(alice); err == nil {
		in, pending = in+line.CreditsPosted, pending+line.CreditsPending
	}
	q, _ := w.l.ProfilesFrom(keyBankQueue, "", 100)
	return [3]uint64{in, pending, uint64(len(q))}
}

// nothingCommitted: no money in, none more on its way (a reservation released is fine), no
// DEBIT queued.
func nothingCommitted(before, after [3]uint64) bool {
	return after[0] == before[0] && after[1] <= before[1] && after[2] == before[2]
}

// codeTo is the six digits of the last SMS to a number.
func (w *world) codeTo(msisdn string) string {
	w.t.Helper()
	got := w.outbox()[msisdn]
	return payCode(w.t, got[len(got)-1:])
}

// bookChannel prepares one channel's step and returns the act that commits it.
type bookChannel struct {
	name   string
	credit bool // a payment on the credit line: the line's rules apply too
	// tier: the payer's tier 24-hour limit governs it (his purse's window, or the DEBITs'
	// own window). Not: a company payment (the employee's limits), a credit payment (the
	// line's limit), a REPAY (it pays a debt back, exempt from the tier limits).
	tier bool
	prep func(w *world, shop uint64, n int) func()
}

func (w *world) request(shop uint64, n int, bank, credit bool) string {
	p, _, err := w.e.CreatePayment(context.Background(), CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100,
		Reference: fmt.Sprintf("r%d", n), Bank: bank, Credit: credit})
	if err != nil {
		w.t.Fatal(err)
	}
	return p.ID
}

func (w *world) checkout(shop uint64, n int, company string) string {
	ctx := context.Background()
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: fmt.Sprintf("c%d", n)})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.e.CheckoutPhone(ctx, p.ID, alice, company, ""); err != nil {
		w.t.Fatal(err)
	}
	return p.ID
}

var bookChannels = []bookChannel{
	{name: "texted PAY", tier: true, prep: func(w *world, _ uint64, n int) func() {
		return func() { w.handle(alice, fmt.Sprintf("PAY SHOP42 1 P%d 739164", n)) }
	}},
	{name: "texted company PAY", prep: func(w *world, _ uint64, n int) func() {
		return func() { w.handle(alice, fmt.Sprintf("PAY SHOP42 1.0%d ACME 739164", n)) }
	}},
	{name: "YES to his own PAY", tier: true, prep: func(w *world, _ uint64, n int) func() {
		code := payCode(w.t, w.sms(alice, fmt.Sprintf("PAY SHOP42 31 Y%d 739164", n))[alice])
		return func() { w.handle(alice, "YES "+code) }
	}},
	{name: "YES to a request", tier: true, prep: func(w *world, shop uint64, n int) func() {
		w.request(shop, n, false, false)
		code := w.codeTo(alice)
		return func() { w.handle(alice, "YES "+code) }
	}},
	{name: "YES to a DEBIT", tier: true, prep: func(w *world, _ uint64, n int) func() {
		w.outbox()
		code := payCode(w.t, w.sms(alice, fmt.Sprintf("DEBIT SHOP42 1.0%d 739164", n))[alice])
		return func() { w.handle(alice, "YES "+code) }
	}},
	{name: "YES to a bank request", tier: true, prep: func(w *world, shop uint64, n int) func() {
		w.request(shop, n, true, false)
		code := w.codeTo(alice)
		return func() { w.handle(alice, "YES "+code) }
	}},
	{name: "checkout code", tier: true, prep: func(w *world, shop uint64, n int) func() {
		id := w.checkout(shop, n, "")
		code := w.codeTo(alice)
		return func() { w.e.CheckoutCode(context.Background(), id, code, "") }
	}},
	{name: "checkout on the company", prep: func(w *world, shop uint64, n int) func() {
		id := w.checkout(shop, n, "ACME")
		code := w.codeTo(alice)
		return func() { w.e.CheckoutCode(context.Background(), id, code, "") }
	}},
	{name: "texted CREDIT", credit: true, prep: func(w *world, _ uint64, n int) func() {
		return func() { w.handle(alice, fmt.Sprintf("CREDIT SHOP42 1.0%d 739164", n)) }
	}},
	{name: "YES to a credit request", credit: true, prep: func(w *world, shop uint64, n int) func() {
		w.request(shop, n, false, true)
		code := w.codeTo(alice)
		return func() { w.handle(alice, "YES "+code) }
	}},
	{name: "texted BILL", tier: true, prep: func(w *world, _ uint64, n int) func() {
		return func() { w.handle(alice, fmt.Sprintf("BILL EDF 0042-%d 1 739164", n)) }
	}},
	{name: "texted SEND", tier: true, prep: func(w *world, _ uint64, n int) func() {
		return func() { w.handle(alice, fmt.Sprintf("SEND %s 1.%02d 739164", bob, n)) }
	}},
	// REPAY moves money from the purse to the credit line: the purse's rules (blocked,
	// locked, closed) apply. Not the line's: a frozen or overdue line is what a repayment is
	// for (only a repayment lifts the overdue state), so REPAY is no credit channel here.
	{name: "texted REPAY", prep: func(w *world, _ uint64, n int) func() {
		w.owe(500)
		return func() { w.handle(alice, fmt.Sprintf("REPAY 1.%02d 739164", n)) }
	}},
}

// owe makes alice's line owe minor, as a captured credit payment leaves it.
func (w *world) owe(minor uint64) {
	w.t.Helper()
	line, err := w.e.CreditLineOf(alice)
	if err != nil {
		w.t.Fatal(err)
	}
	owe := domain.Transfer{ID: domain.NewID(), Debit: line.ID, Credit: w.float, Amount: minor, Code: domain.CodeCreditAuth}
	if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{owe}}); err != nil {
		w.t.Fatal(err)
	}
}

// bookRules are the causes, each made as its user makes it.
var bookRules = []struct {
	name       string
	creditOnly bool
	cause      func(w *world)
}{
	{"blocked by BLOCK", false, func(w *world) { w.handle(alice, "BLOCK") }},
	{"locked by wrong PINs", false, func(w *world) {
		// Three wrong PINs in a row lock; a right one racing them starts the count again.
		for i := 0; i < 30; i++ {
			if st, _, _ := w.e.StateOf(alice); st.LockedUntil > 0 || st.LockedForever {
				return
			}
			w.handle(alice, fmt.Sprintf("BAL 0000%02d", i))
		}
	}},
	{"closed", false, func(w *world) {
		// An operator closes the purse, its money paid out (a reservation of the prepared
		// step released first, as the ledger demands).
		if _, err := w.e.ClosePurse(context.Background(), "ops", alice, true); err != nil {
			w.t.Fatal(err)
		}
	}},
	{"credit line frozen", true, func(w *world) {
		if err := w.e.SetCreditStatus(context.Background(), "ops", alice, domain.StatusBlocked); err != nil {
			w.t.Fatal(err)
		}
	}},
	{"credit line overdue", true, func(w *world) { w.makeOverdue() }},
}

// makeOverdue sets alice's line's terms as a statement left unpaid past its date.
func (w *world) makeOverdue() {
	w.t.Helper()
	terms, ver, _ := w.e.terms(alice)
	terms.Due, terms.DueBy = 1000, w.now.Add(-1).UnixNano()
	line, _ := w.e.CreditLineOf(alice) // the line owes what the statement asks
	owe := domain.Transfer{ID: domain.NewID(), Debit: line.ID, Credit: w.float, Amount: 1000, Code: domain.CodeCreditAuth}
	if _, err := w.l.Submit(context.Background(), domain.Job{Profiles: []domain.Profile{write(keyCreditTerms+alice, terms, ver)},
		Transfers: []domain.Transfer{owe}, Audit: &domain.Audit{Actor: "test", Action: "credit overdue"}}); err != nil {
		w.t.Fatal(err)
	}
}

func TestRuleBookHoldsOnEveryChannel(t *testing.T) {
	for _, rule := range bookRules {
		for _, ch := range bookChannels {
			if rule.creditOnly && !ch.credit {
				continue
			}
			t.Run(rule.name+"/"+ch.name, func(t *testing.T) {
				w, shop := bookWorld(t)
				act := ch.prep(w, shop, 0)
				if rule.name == "closed" {
					w.releaseReservations()
				}
				rule.cause(w)
				before := w.committed()
				act()
				if after := w.committed(); !nothingCommitted(before, after) {
					t.Fatalf("%s moved money: %v, then %v", ch.name, before, after)
				}
				w.settleBank()
				if after := w.committed(); !nothingCommitted(before, after) {
					t.Fatalf("%s: the bank was paid: %v, then %v", ch.name, before, after)
				}
				w.verify()
			})
		}
	}
}

// releaseReservations voids alice's own reservation (a PAY waiting for YES), so an operator
// may close her purse.
func (w *world) releaseReservations() {
	b, ver, _ := w.l.Profile(alice)
	var p profile
	if b == nil || json.Unmarshal(b, &p) != nil || p.Confirm == nil {
		return
	}
	voids := voids(p.Confirm)
	p.Confirm = nil
	if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: voids, Profiles: []domain.Profile{w.e.profileWrite(alice, &p, ver)}}); err != nil {
		w.t.Fatal(err)
	}
}

// settleBank runs the bank worker over every queued DEBIT.
func (w *world) settleBank() {
	q, _ := w.l.ProfilesFrom(keyBankQueue, "", 100)
	for _, r := range q {
		w.settle(strings.TrimPrefix(r.Owner, keyBankQueue))
	}
}

// TestRuleBookRacesEveryChannelOnTwoDaemons: the cause of each rule is made by a second
// engine on the same ledger (another daemon: its own locks) while the first commits steps
// of every channel at once. Each step that committed did so before the cause: its journal
// entry comes before the cause's, which the writer's guards ensure.
func TestRuleBookRacesEveryChannelOnTwoDaemons(t *testing.T) {
	for _, rule := range bookRules {
		if rule.name == "closed" {
			continue // a close needs the reservations released first: not a race
		}
		for half := range 2 { // at most 5 requests wait for one number: the channels in two halves
			t.Run(fmt.Sprintf("%s/%d", rule.name, half), func(t *testing.T) { raceRule(t, rule.creditOnly, rule.name, rule.cause, half) })
		}
	}
}

func raceRule(t *testing.T, creditOnly bool, name string, cause func(*world), half int) {
	w, shop := bookWorld(t)
	var acts []func()
	for i, ch := range bookChannels {
		if (!creditOnly && i%2 == half) || (creditOnly && ch.credit) {
			acts = append(acts, ch.prep(w, shop, i+1))
		}
	}
	d := w.secondDaemon()
	acts = append(acts[:len(acts)/2], append([]func(){func() { cause(d) }}, acts[len(acts)/2:]...)...)
	atOnce(acts)
	w.commitsBefore(name)
	w.verify()
}

// secondDaemon is the world seen through a second engine on the same books, as another
// daemon's: its own locks and caches.
func (w *world) secondDaemon() *world {
	w.t.Helper()
	other, err := New(w.e.cfg, w.l)
	if err != nil {
		w.t.Fatal(err)
	}
	other.SetBank(w.e.bank)
	d := *w
	d.e = other
	return &d
}

// atOnce runs acts at the same moment and waits for them all.
func atOnce(acts []func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, act := range acts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			act()
		}()
	}
	close(start)
	wg.Wait()
}

// commitsBefore checks that every step of alice that committed did so before the cause's
// audit entry.
func (w *world) commitsBefore(rule string) {
	w.t.Helper()
	action := map[string]string{"blocked by BLOCK": "subscriber block", "locked by wrong PINs": "pin lockout",
		"credit line frozen": "credit blocked", "credit line overdue": "credit overdue"}[rule]
	audits, _ := w.l.AuditLog(1000, 0)
	cause := uint64(1 << 62)
	answered := map[string]uint64{}
	for _, a := range audits {
		if a.Action == action {
			cause = a.Seq
		}
		if a.Action == "payment answered" {
			answered[a.Detail] = a.Seq
		}
	}
	if cause == 1<<62 {
		w.t.Fatalf("no %q in the audit", action)
	}
	var ps []domain.Payment // to every payee of alice's channels: shop, biller, bob, her line
	for _, owner := range []string{"SHOP42", "EDF", bob} {
		some, _, _ := w.e.ListPayments(w.l.AccountsOf(owner)[0].ID, PaymentFilter{Limit: 1000})
		ps = append(ps, some...)
	}
	if line, err := w.e.CreditLineOf(alice); err == nil {
		some, _, _ := w.e.ListPayments(line.ID, PaymentFilter{Limit: 1000})
		ps = append(ps, some...)
	}
	for _, p := range ps {
		var seq uint64
		switch p.State {
		case domain.PaymentCompleted, domain.PaymentAuthorised:
			id, _ := domain.ParseID(p.Transfer)
			tr, err := w.l.Transfer(id)
			if err != nil {
				w.t.Fatalf("%s %s (%s) %s: %v", p.ProductOf(), p.ID, p.Channel, p.State, err)
			}
			seq = tr.Seq
		case domain.PaymentSentToBank:
			seq = answered[p.ID]
		default:
			continue
		}
		if seq > cause {
			w.t.Errorf("%s %s (%s) committed at %d, after %q at %d", p.ProductOf(), p.ID, p.Channel, seq, rule, cause)
		}
	}
}

// bookTiers: 60.00 EUR a day, at most 50.00 a payment, at both tiers (bob's purse is at 1).
var bookTiers = map[uint8]Limits{
	1: {PerTx: 5000, Daily: 6000, MaxBalance: 100000},
	2: {PerTx: 5000, Daily: 6000, MaxBalance: 100000, CanSend: true},
}

// spendToTheLimit: alice spends what her 24-hour limit leaves, as she would: texted PAYs of
// at most 30.00 (no YES asked) from her purse, then DEBITs confirmed by YES and paid by the
// bank (DEBITs have their own window: bank money never passes through the purse).
func (w *world) spendToTheLimit() {
	w.t.Helper()
	daily := w.e.cfg.Tiers[2].Daily
	for i := 0; ; i++ {
		left := daily - min(daily, domain.SpentSince(w.l.AccountsOf(alice)[0].Spends, w.now.UnixNano()))
		if left == 0 {
			break
		}
		if i == 5 {
			w.t.Fatalf("the purse's window still leaves %d", left)
		}
		w.handle(alice, fmt.Sprintf("PAY SHOP42 %s T%d 739164", domain.FormatMinor(min(left, 3000), 2), i))
	}
	for i := 0; ; i++ {
		b, _, _ := w.l.Profile(alice)
		var p profile
		if b != nil {
			json.Unmarshal(b, &p)
		}
		left := daily - min(daily, domain.SpentSince(p.BankSpends, w.now.UnixNano()))
		if left == 0 {
			break
		}
		if i == 5 {
			w.t.Fatalf("the DEBITs' window still leaves %d", left)
		}
		w.outbox()
		code := payCode(w.t, w.sms(alice, fmt.Sprintf("DEBIT SHOP42 %s 739164", domain.FormatMinor(min(left, 5000), 2)))[alice])
		w.handle(alice, "YES "+code)
	}
	w.settleBank()
	w.outbox()
}

// TestRuleBookTierLimitOnEveryChannel: alice at her 24-hour limit is refused on every
// channel her tier's limit governs. Each step is prepared first (a code texted, a checkout
// bound) while the limit still leaves room, and committed once she spent the rest. YES to
// her own PAY is not among them: its reservation counts against the limit from the moment
// the PAY asked for it (the texted PAY's cell), so posting it cannot go past the limit and is
// no new spend. The company, credit and REPAY channels have other limits (see bookChannel).
func TestRuleBookTierLimitOnEveryChannel(t *testing.T) {
	for _, ch := range bookChannels {
		if !ch.tier || ch.name == "YES to his own PAY" {
			continue
		}
		t.Run(ch.name, func(t *testing.T) {
			w, shop := bookWorldTiers(t, bookTiers)
			act := ch.prep(w, shop, 0)
			w.spendToTheLimit()
			before := w.committed()
			act()
			if after := w.committed(); !nothingCommitted(before, after) {
				t.Fatalf("%s at the 24-hour limit moved money: %v, then %v", ch.name, before, after)
			}
			w.settleBank()
			if after := w.committed(); !nothingCommitted(before, after) {
				t.Fatalf("%s at the 24-hour limit: the bank was paid: %v, then %v", ch.name, before, after)
			}
			w.verify()
		})
	}
}

// TestOnePayerOnEveryChannelStaysWithinTheDailyLimit: alice's steps on every channel her
// purse's 24-hour limit governs are committed at once, on two engines sharing the ledger
// (two daemons): texted PAYs, YES to merchants' requests, checkout codes, each 10.00, 140.00
// in all against a limit of 60.00. Exactly 60.00 is taken from her purse, whatever the
// order. A DEBIT confirmed in the same race counts in its own window (bank money never
// passes through the purse), not against the purse's.
func TestOnePayerOnEveryChannelStaysWithinTheDailyLimit(t *testing.T) {
	for round := range 3 {
		w, shop := bookWorldTiers(t, bookTiers)
		other, err := New(w.e.cfg, w.l)
		if err != nil {
			t.Fatal(err)
		}
		other.SetBank(w.e.bank)
		engines := []*Engine{w.e, other}
		ctx := context.Background()
		var acts []func(e *Engine)
		for i := range 2 { // at most 5 payments wait for one merchant: 2 requests, 2 checkouts, a DEBIT
			if _, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 1000, Reference: fmt.Sprintf("q%d", i)}); err != nil {
				t.Fatal(err)
			}
			code := w.codeTo(alice)
			acts = append(acts, func(e *Engine) { handleOn(w, e, "YES "+code) })
		}
		for i := range 2 {
			p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 1000, Reference: fmt.Sprintf("c%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.e.CheckoutPhone(ctx, p.ID, alice, "", ""); err != nil {
				t.Fatal(err)
			}
			code := w.codeTo(alice)
			acts = append(acts, func(e *Engine) { e.CheckoutCode(ctx, p.ID, code, "") })
		}
		debit := payCode(t, w.sms(alice, "DEBIT SHOP42 10 739164")[alice])
		acts = append(acts, func(e *Engine) { handleOn(w, e, "YES "+debit) })
		for i := range 10 {
			acts = append(acts, func(e *Engine) { handleOn(w, e, fmt.Sprintf("PAY SHOP42 10 R%d 739164", i)) })
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, act := range acts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				act(engines[(i+round)%2])
			}()
		}
		close(start)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the racing steps did not end in 30 s")
		}
		taken := domain.SpentSince(w.l.AccountsOf(alice)[0].Spends, w.now.UnixNano())
		m := w.l.AccountsOf("SHOP42")[0]
		if taken != 6000 || m.CreditsPosted+m.CreditsPending != 6000 {
			t.Fatalf("round %d: %d counted against the 24-hour limit, the merchant has %d (+%d on its way); the limit is 6000",
				round, taken, m.CreditsPosted, m.CreditsPending)
		}
		if q, _ := w.l.ProfilesFrom(keyBankQueue, "", 10); len(q) != 1 {
			t.Fatalf("round %d: %d DEBITs queued for the bank, want 1", round, len(q))
		}
		w.verify()
	}
}

// handleOn runs one SMS on engine e (a daemon of the world's ledger), delivered again after
// a temporary failure, as the SMSC does.
func handleOn(w *world, e *Engine, text string) {
	var err error
	for range 5 {
		if err = e.Handle(context.Background(), Inbound{From: alice, To: "1234", Text: text}); err == nil {
			return
		}
	}
	w.t.Errorf("%q: %v", text, err)
}
