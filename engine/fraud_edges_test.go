package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mpg/domain"
)

// A payment held for a review is the operators' alone: a merchant's cancel is refused (it
// would leave the money reserved with nobody able to end the hold).
func TestFraudHoldCannotBeCancelledByTheMerchant(t *testing.T) {
	w, shop := merchantWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 3, 60, nil))
	ctx := context.Background()
	w.expect(alice, "PAY SHOP42 1 739164", "Paid")
	w.expect(alice, "PAY SHOP42 2 739164", "Paid")
	before := w.available(alice)
	w.expect(alice, "PAY SHOP42 3 739164", "is being checked")
	cases, err := w.e.FraudCases(ctx, 10)
	if err != nil || len(cases) != 1 {
		t.Fatalf("queue %+v %v", cases, err)
	}
	p, err := w.e.CancelPayment(ctx, "merchant", shop, cases[0].Payment)
	if domain.CodeOf(err) == domain.CodeInvalidState {
		return // refused: only an operator ends a hold
	}
	_, derr := w.e.DecideFraud(ctx, "console:ops", cases[0].ID, false)
	if p.State == domain.PaymentCancelled && w.available(alice) != before {
		t.Fatalf("payment %s but alice's 3.00 still reserved (available %d, was %d); operator decline: %v", p.State, w.available(alice), before, derr)
	}
}

// A flagged (review) payment declined by an operator is reversed in the same job that
// closes its decision: a release landing first refuses the decline, and the payment is not
// reversed.
func TestFraudDeclineOfAFlaggedPaymentIsOneJobWithItsReversal(t *testing.T) {
	w, _ := merchantWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 3, 30, nil)) // 30: review
	ctx := context.Background()
	w.expect(alice, "PAY SHOP42 1 739164", "Paid")
	w.expect(alice, "PAY SHOP42 2 739164", "Paid")
	w.expect(alice, "PAY SHOP42 3 739164", "Paid")
	cases, err := w.e.FraudCases(ctx, 10)
	if err != nil || len(cases) != 1 || cases[0].Action != "review" {
		t.Fatalf("queue %+v %v", cases, err)
	}
	// Operator A declines: decideJob runs (and reverses) ...
	d, ver, err := w.e.fraudDecision(cases[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.e.decideJob(&d, ver, "opA", false); err != nil {
		t.Fatal(err)
	}
	// ... operator B's release lands first; A's job then conflicts and A's retry sees it closed.
	if _, err := w.e.DecideFraud(ctx, "opB", cases[0].ID, true); err != nil {
		t.Fatal(err)
	}
	stored, _ := w.e.FraudDecisionOf(cases[0].ID)
	p, _, _ := w.e.payment(cases[0].Payment)
	if stored.State == "released" && p.Refunded > 0 {
		t.Fatalf("decision %s by %s, yet the payment was reversed (%s, refunded %d)", stored.State, stored.By, p.State, p.Refunded)
	}
}

// A PAY above ConfirmAbove is confirmed by the payer (YES <code>) before money moves: a
// hold, which would pay it on an operator's release alone, declines instead.
func TestFraudHoldNeverSkipsThePayersConfirmation(t *testing.T) {
	w, _ := bookWorld(t) // ConfirmAbove 30.00
	w.fraudRules(oneRule("payer_count_hour", 1, 60, nil))
	ctx := context.Background()
	shopBefore := w.available("SHOP42")
	got := w.sms(alice, "PAY SHOP42 31 739164")[alice]
	cases, _ := w.e.FraudCases(ctx, 10)
	if len(cases) == 1 && cases[0].Action == "hold" {
		if _, err := w.e.DecideFraud(ctx, "console:ops", cases[0].ID, true); err != nil {
			t.Fatal(err)
		}
	}
	if w.available("SHOP42") != shopBefore {
		t.Fatalf("31.00 paid without the payer's YES (he was told %q)", got)
	}
}

// Five merchant requests waiting, a third wrong code: each request is refused for the
// wrong code, in one job with a fact for each (within MaxFacts) and one for the code.
func TestThirdWrongCodeRefusesFiveRequests(t *testing.T) {
	w, shop := bookWorld(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, w.request(shop, i, false, false))
	}
	w.outbox()
	var last []string
	for i := range 3 {
		last = w.sms(alice, fmt.Sprintf("YES 00000%d", i+1))[alice]
	}
	for _, id := range ids {
		p, _, _ := w.e.payment(id)
		if p.State != domain.PaymentRefused {
			t.Fatalf("after 3 wrong codes request %s is %s (tries %d); alice told %q", id, p.State, p.Tries, last)
		}
	}
}

// A texted DEBIT is one payment, scored once: at its YES, when the payer commits.
func TestFraudScoresADebitOnce(t *testing.T) {
	w, _ := bookWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 1, 30, nil)) // review from the first payment
	w.outbox()
	code := payCode(t, w.sms(alice, "DEBIT SHOP42 1.00 739164")[alice])
	w.sms(alice, "YES "+code)
	ds, err := w.e.scanDecisions()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		var s []string
		for _, d := range ds {
			s = append(s, fmt.Sprintf("%s/%s payment=%q", d.Action, d.Channel, d.Payment))
		}
		t.Fatalf("%d decisions for one DEBIT: %v", len(ds), s)
	}
}

// A merchant's request held at YES: its open-index entry follows the new deadline, so the
// expiry sweep, which reads the index in deadline order, never stalls on held payments.
func TestFraudHeldRequestIsRefiledUnderItsDeadline(t *testing.T) {
	w, shop := bookWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 1, 60, nil))
	id := w.request(shop, 1, false, false)
	code := w.codeTo(alice)
	w.sms(alice, "YES "+code)
	p, _, _ := w.e.payment(id)
	if p.State != domain.PaymentInReview {
		t.Fatalf("request %s", p.State)
	}
	recs, err := w.l.ProfilesFrom(keyOpen, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		deadline, rid, _ := parseOpenKey(r.Owner)
		if rid == id && deadline != openDeadline(p.State, p.Expires) {
			t.Fatalf("open entry of the held request at %d, its deadline is %d (%.0f h earlier)", deadline,
				openDeadline(p.State, p.Expires), float64(openDeadline(p.State, p.Expires)-deadline)/3.6e12)
		}
	}
}

// An operator declining a flagged company payment: its decision names the payment (read
// from the step's job on every channel) and the money goes back.
func TestFraudDeclineOfAFlaggedCompanyPaymentReversesIt(t *testing.T) {
	w, _ := bookWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 1, 30, nil))
	ctx := context.Background()
	before := w.available("SHOP42")
	w.expect(alice, "PAY SHOP42 1.00 ACME 739164", "")
	if w.available("SHOP42") != before+100 {
		t.Fatalf("not paid: %d", w.available("SHOP42")-before)
	}
	cases, err := w.e.FraudCases(ctx, 10)
	if err != nil || len(cases) != 1 {
		t.Fatalf("queue %+v %v", cases, err)
	}
	d, err := w.e.DecideFraud(ctx, "console:ops", cases[0].ID, false)
	if err == nil && d.State == "declined" && w.available("SHOP42") == before+100 {
		t.Fatalf("decision %s (payment %q) yet the merchant keeps the 1.00", d.State, d.Payment)
	}
}

// Release after the review time ran out (the ledger voided the reservation) but before
// ExpirePayments ran: must not pay.
func TestFraudReleaseAfterTheLedgerTimeoutMovesNothing(t *testing.T) {
	w, _ := merchantWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 1, 60, nil))
	ctx := context.Background()
	before, shop := w.available(alice), w.available("SHOP42")
	w.expect(alice, "PAY SHOP42 1 739164", "is being checked")
	cases, _ := w.e.FraudCases(ctx, 10)
	w.advance(w.e.reviewFor() + 10*1e9)
	deadline := 0
	for w.available(alice) != before && deadline < 500 {
		deadline++
		w.advance(0)
		timeSleep()
	}
	_, err := w.e.DecideFraud(ctx, "console:ops", cases[0].ID, true)
	p, _, _ := w.e.payment(cases[0].Payment)
	t.Logf("release: %v; payment %s; alice %d (was %d); shop +%d", err, p.State, w.available(alice), before, w.available("SHOP42")-shop)
	if w.available("SHOP42") != shop && w.available(alice) == before {
		t.Fatal("paid the merchant and gave alice her money back")
	}
	if p.State == domain.PaymentCompleted && w.available("SHOP42") == shop {
		t.Fatal("completed, nothing paid")
	}
}

func timeSleep() { time.Sleep(10 * time.Millisecond) }

// A payer's record the payment path cannot read (damaged, or a newer format written by an
// upgraded daemon) never refuses a payment: it goes on unscored, counted.
func TestFraudUnreadableActivityNeverRefusesAPayment(t *testing.T) {
	w, shop := bookWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 10, 60, nil))
	if _, err := w.l.Submit(context.Background(), domain.Job{Profiles: []domain.Profile{{Owner: memberKey(w.purseOf(alice)),
		Data: []byte{domain.RawRecord, payerFormat + 1, 0}}}}); err != nil {
		t.Fatal(err)
	}
	id := w.request(shop, 1, false, false)
	code := w.codeTo(alice)
	got := w.sms(alice, "YES "+code)[alice]
	p, _, _ := w.e.payment(id)
	if p.State == domain.PaymentRefused {
		t.Fatalf("request refused for good (%s) by an unreadable activity record; alice told %q", p.Reason, got)
	}
}

// The payer's own payments the follower has not folded yet count for the rules on every
// channel: a DEBIT (bank to merchant) is in no purse's history, so its facts past the
// follower's position are read. A rule that declines the 4th payment of the hour lets three
// DEBITs through while the follower, caught up before, does not run.
func TestFraudCountsUnfoldedDebits(t *testing.T) {
	w, shop := bookWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 4, 100, nil))
	if err := w.e.CatchUpStatistics(context.Background(), 20); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		w.outbox()
		got := w.sms(alice, fmt.Sprintf("DEBIT SHOP42 1.0%d 739164", i))[alice]
		if len(got) == 1 && strings.Contains(got[0], "YES") {
			w.sms(alice, "YES "+payCode(t, got))
			w.settleBank()
		}
	}
	ps, _, err := w.e.ListPayments(shop, PaymentFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	paid := 0
	for _, p := range ps {
		if p.Channel == domain.ChannelBank && p.State == domain.PaymentCompleted {
			paid++
		}
	}
	if paid != 3 {
		t.Fatalf("%d DEBITs paid in the hour, want 3 (the rule declines the 4th)", paid)
	}
}

// One wrong code is one wrong-PIN fact, whatever it answered: the payer's own
// confirmation, or two merchant requests open.
func TestOneWrongCodeIsOneFact(t *testing.T) {
	w, shop := bookWorld(t)
	w.sms(alice, "PAY SHOP42 31 739164")
	from := w.head()
	w.sms(alice, "YES 000001")
	own := len(ofKind(w.factsSince(from), domain.FactWrongPIN))
	w2, _ := bookWorld(t)
	w2.request(shop, 1, false, false)
	w2.request(shop, 2, false, false)
	from2 := w2.head()
	w2.sms(alice, "YES 000001")
	req := len(ofKind(w2.factsSince(from2), domain.FactWrongPIN))
	if own != 1 || req != 1 {
		t.Fatalf("wrong-PIN facts of one wrong code: own confirmation %d, two requests %d", own, req)
	}
}

// An employee with no purse of his own pays on his company's account (the rule book
// allows it): the fraud rules score his payment too (no history as a payer), and a rule
// that declines every payment declines it. (His checkout used to panic on the nil purse.)
func TestFraudScoresAnEmployeeWithoutAPurse(t *testing.T) {
	w, shop := bookWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 1, 100, nil)) // declines every payment
	ctx := context.Background()
	const carol = "+33622220077"
	company := w.l.AccountsOf("ACME")[0].ID
	if _, err := w.e.SetEmployee(ctx, "test", company, Employee{MSISDN: carol}); err != nil {
		t.Fatal(err)
	}
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: "c-carol"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.e.CheckoutPhone(ctx, p.ID, carol, "ACME", ""); err != nil {
		t.Fatal(err)
	}
	code := w.codeTo(carol)
	w.e.CheckoutCode(ctx, p.ID, code, "")
	if got, _, _ := w.e.payment(p.ID); got.State == domain.PaymentCompleted {
		t.Fatalf("a rule declining every payment: carol's company checkout %s", got.State)
	}
}

// A checkout held for a review cannot be bound to a number again (it would go back to
// awaiting a code while its money stays reserved).
func TestFraudHeldCheckoutCannotBeRebound(t *testing.T) {
	w, shop := merchantWorld(t)
	w.fraudRules(oneRule("payer_count_hour", 1, 60, nil))
	ctx := context.Background()
	before, shopBefore := w.available(alice), w.available("SHOP42")
	id := w.checkout(shop, 1, "")
	if _, err := w.e.CheckoutCode(ctx, id, w.codeTo(alice), ""); err != nil {
		t.Fatal(err)
	}
	p, _, _ := w.e.payment(id)
	if p.State != domain.PaymentInReview {
		t.Fatalf("checkout %s", p.State)
	}
	cases, _ := w.e.FraudCases(ctx, 10)
	_, err := w.e.CheckoutPhone(ctx, id, alice, "", "")
	p, _, _ = w.e.payment(id)
	t.Logf("rebind: %v; state %s", err, p.State)
	if err == nil {
		w.fraudRules(oneRule("payer_count_hour", 100, 60, nil)) // the second try is allowed
		_, err2 := w.e.CheckoutCode(ctx, id, w.codeTo(alice), "")
		p, _, _ = w.e.payment(id)
		t.Logf("second code: %v; state %s reason %s", err2, p.State, p.Reason)
	}
	_, derr := w.e.DecideFraud(ctx, "console:ops", cases[0].ID, true)
	t.Logf("release: %v; alice %d (was %d), shop +%d", derr, w.available(alice), before, w.available("SHOP42")-shopBefore)
	if err == nil {
		t.Fatalf("a held checkout was rebound (now %s); alice %d (was %d), shop +%d", p.State, w.available(alice), before, w.available("SHOP42")-shopBefore)
	}
}
