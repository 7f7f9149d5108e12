package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mpg/domain"
	"mpg/fraud"
)

// oneRule is a rule set of one rule with one band: at min the score is score.
func oneRule(id string, min float64, score int, params map[string]float64) fraud.Config {
	return fraud.Config{Enabled: true, Version: 7, Review: 25, Hold: 60, Decline: 100, Rules: []fraud.RuleConfig{
		{ID: id, Version: 3, Enabled: true, Params: params, Bands: []fraud.Band{{Min: min, Score: score}}}}}
}

func (w *world) fraudRules(c fraud.Config) {
	w.t.Helper()
	r, err := fraud.New(c)
	if err != nil {
		w.t.Fatal(err)
	}
	w.e.risk, w.e.cfg.Fraud.Rules = r, c
}

// purseDebits counts the payments that left alice's purse (reserved or paid).
func (w *world) purseDebits() int {
	hist, err := w.l.History(w.purseOf(alice), 200, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	n := 0
	for _, tr := range hist {
		if tr.Debit == w.purseOf(alice) && paysSomeone(tr) {
			n++
		}
	}
	return n
}

// purseChannels are the channels whose money comes from the payer's purse, each prepared
// twice: all race at once.
var purseChannels = []string{"texted PAY", "YES to a request", "checkout code", "texted BILL", "texted SEND"}

// A rule that declines the fourth payment of the hour holds on every channel at once: ten
// payments from alice's purse racing through texted commands, YES to merchants' requests
// and checkout codes, on two engines, pay exactly three; the others are refused with words
// that say nothing of why, each decline is stored, and the books verify.
func TestFraudRuleHoldsWhilePaymentsRaceOnEveryChannel(t *testing.T) {
	w, shop := bookWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 4, 100, nil))
	d := w.secondDaemon()
	var acts []func()
	n := 0
	for _, ch := range bookChannels {
		for _, name := range purseChannels {
			if ch.name == name {
				acts = append(acts, ch.prep(w, shop, n), ch.prep(d, shop, n+1))
				n += 2
			}
		}
	}
	if w.purseDebits() != 0 {
		t.Fatal("a preparation paid")
	}
	atOnce(acts)
	if got := w.purseDebits(); got != 3 {
		t.Fatalf("%d payments left alice's purse, want 3 (the fourth of the hour declines)", got)
	}
	declined := 0
	for _, texts := range w.outbox() {
		for _, text := range texts {
			if strings.Contains(text, "This payment cannot be made") {
				declined++
			}
		}
	}
	cases, err := w.e.scanDecisions()
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != len(acts)-3 {
		t.Fatalf("%d decisions stored, want %d declines", len(cases), len(acts)-3)
	}
	for _, d := range cases {
		if d.Action != "decline" || d.Config != 7 || len(d.Hits) != 1 || d.Hits[0].Rule != "payer_count_hour" || d.Hits[0].Version != 3 {
			t.Fatalf("decision %+v", d)
		}
	}
	if declined == 0 {
		t.Fatal("no payer was told his payment cannot be made")
	}
	w.verify()
}

// scanDecisions reads every stored decision.
func (e *Engine) scanDecisions() ([]FraudDecision, error) {
	var out []FraudDecision
	_, err := e.scan(keyDecision, "", 1000, func(r domain.Profile) (bool, error) {
		d, _, err := e.fraudDecision(strings.TrimPrefix(r.Owner, keyDecision))
		out = append(out, d)
		return true, err
	})
	return out, err
}

// A hold reserves the money and pays nobody: released, the merchant is paid and the
// payment completes (told to the payer, counted then); declined, the money is back and the
// payment refused; a checkout held and left alone expires, the ledger giving the money back.
func TestFraudHoldReleaseDeclineAndExpiry(t *testing.T) {
	w, shop := merchantWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 3, 60, nil))
	ctx := context.Background()
	merchant := func() int64 { return w.available("SHOP42") }
	w.expect(alice, "PAY SHOP42 1 739164", "Paid")
	w.expect(alice, "PAY SHOP42 2 739164", "Paid")
	before, paidBefore := w.available(alice), merchant()
	from := w.head()
	w.expect(alice, "PAY SHOP42 3 739164", "is being checked")
	if w.available(alice) != before-300 || merchant() != paidBefore {
		t.Fatalf("a hold moved money: alice %d (was %d), shop %d (was %d)", w.available(alice), before, merchant(), paidBefore)
	}
	cases, err := w.e.FraudCases(ctx, 10)
	if err != nil || len(cases) != 1 || cases[0].Action != "hold" || cases[0].Amount != 300 {
		t.Fatalf("queue %+v, %v", cases, err)
	}
	p, _, err := w.e.payment(cases[0].Payment)
	if err != nil || p.State != domain.PaymentInReview {
		t.Fatalf("held payment %+v, %v", p, err)
	}
	if _, err := w.e.DecideFraud(ctx, "console:ops", cases[0].ID, true); err != nil {
		t.Fatal(err)
	}
	if merchant() != paidBefore+300 || w.available(alice) != before-300 {
		t.Fatalf("released: shop %d, alice %d", merchant(), w.available(alice))
	}
	if got := w.outbox()[alice]; len(got) == 0 || !strings.Contains(got[len(got)-1], "has gone through") {
		t.Fatalf("alice was told %q", got)
	}
	if p, _, _ = w.e.payment(p.ID); p.State != domain.PaymentCompleted {
		t.Fatalf("released payment is %s", p.State)
	}
	fs := w.factsSince(from)
	if len(ofKind(fs, domain.FactHeld)) != 1 || len(ofKind(fs, domain.FactPaid)) != 1 {
		t.Fatalf("facts of a held then released payment: %+v", fs)
	}
	if _, err := w.e.DecideFraud(ctx, "console:ops", cases[0].ID, true); domain.CodeOf(err) != domain.CodeInvalidState {
		t.Fatalf("released twice: %v", err)
	}

	// Declined: the money comes back.
	w.expect(alice, "PAY SHOP42 4 739164", "is being checked")
	cases, _ = w.e.FraudCases(ctx, 10)
	before = w.available(alice)
	if len(cases) != 1 {
		t.Fatalf("queue %+v", cases)
	}
	if _, err := w.e.DecideFraud(ctx, "console:ops", cases[0].ID, false); err != nil {
		t.Fatal(err)
	}
	if w.available(alice) != before+400 || merchant() != paidBefore+300 {
		t.Fatalf("declined: alice %d (was %d), shop %d", w.available(alice), before, merchant())
	}
	if p, _, _ := w.e.payment(cases[0].Payment); p.State != domain.PaymentRefused || p.Reason != string(domain.CodeRiskDeclined) {
		t.Fatalf("declined payment %+v", p)
	}

	// A checkout held and never reviewed: the review time runs out.
	id := w.checkout(shop, 1, "")
	code := w.codeTo(alice)
	before = w.available(alice)
	if _, err := w.e.CheckoutCode(ctx, id, code, ""); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := w.e.payment(id); p.State != domain.PaymentInReview || w.available(alice) != before-100 {
		t.Fatalf("checkout %s, alice %d (was %d)", p.State, w.available(alice), before)
	}
	w.advance(w.e.reviewFor() + heldMargin + time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for w.available(alice) != before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the ledger's expiry scan voids the reservation
	}
	if _, err := w.e.ExpirePayments(ctx); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := w.e.payment(id); p.State != domain.PaymentExpired || w.available(alice) != before {
		t.Fatalf("after the review time: %s, alice %d (was %d)", p.State, w.available(alice), before)
	}
	if cases, _ := w.e.FraudCases(ctx, 10); len(cases) != 0 {
		t.Fatalf("an expired hold stays in the queue: %+v", cases)
	}
	if d, _ := w.e.FraudDecisionOf(cases[0].ID); d.State != "declined" {
		t.Fatalf("the declined decision is %s", d.State)
	}
	w.verify()
}

// The payee's counters come from the follower: once it has folded a run of SENDs from many
// numbers to one purse (a mule collecting), the next SEND to it is held, while a SEND to
// another purse goes through.
func TestFraudFanInFromTheFollowersCounters(t *testing.T) {
	w := newWorldTiers(t, sendTiers)
	w.payers(8, 10000)
	w.fraudRules(oneRule("payee_fan_in", 6, 60, nil))
	mule, other := payer(7), payer(6)
	for i := range 5 {
		w.expect(payer(i), fmt.Sprintf("SEND %s 10 739164", mule), "Sent")
	}
	if err := w.e.CatchUpStatistics(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	time.Sleep(riskCacheFor) // a payee's activity is taken from memory that long
	w.expect(payer(5), fmt.Sprintf("SEND %s 10 739164", other), "Sent")
	w.expect(payer(5), fmt.Sprintf("SEND %s 10 739164", mule), "is being checked")
	d, err := w.e.FraudCases(context.Background(), 10)
	if err != nil || len(d) != 1 || d[0].Hits[0].Rule != "payee_fan_in" || d[0].Hits[0].Value != 6 {
		t.Fatalf("queue %+v, %v", d, err)
	}
	stored, again, err := w.e.ExplainFraud(d[0].ID)
	if err != nil || !strings.Contains(stored, "payee_fan_in=6") || !strings.Contains(again, "hold") {
		t.Fatalf("explained %q, now %q, %v", stored, again, err)
	}
	w.verify()
}
