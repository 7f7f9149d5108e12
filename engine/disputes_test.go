package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
)

var refRe, okRe = regexp.MustCompile(`Ref ([0-9A-F]{6})`), regexp.MustCompile(`OK (\d{6}) `)

// okCode is the code of the one request to give back among texts (a short ref may be digits).
func okCode(t *testing.T, texts []string) string {
	t.Helper()
	if len(texts) != 1 || okRe.FindStringSubmatch(texts[0]) == nil {
		t.Fatalf("want one request with a code, got %q", texts)
	}
	return okRe.FindStringSubmatch(texts[0])[1]
}

const carol = "+33611112222"

// sendWorld: alice (tier 2, 100.00) and bob registered.
func sendWorld(t *testing.T) *world {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.expect(bob, "REG 246810 Bob", "Welcome")
	w.topup(alice, 10000, 2)
	w.topup(bob, 0+1, 2)
	w.outbox()
	return w
}

// sent sends and returns the payment's short reference.
func (w *world) sent(from, to, amount, pin string) string {
	w.t.Helper()
	got := w.sms(from, "SEND "+to+" "+amount+" "+pin)[from]
	if len(got) != 1 {
		w.t.Fatalf("SEND: %q", got)
	}
	m := refRe.FindStringSubmatch(got[0])
	if m == nil {
		w.t.Fatalf("no ref in %q", got[0])
	}
	return m[1]
}

// held is what return holds keep on an account (pending debits).
func (w *world) pendingOut(owner string) uint64 { return w.l.AccountsOf(owner)[0].DebitsPending }

func (w *world) paymentOfRef(owner, ref string) domain.Payment {
	w.t.Helper()
	purse := w.l.AccountsOf(owner)[0]
	hist, _ := w.l.History(purse.ID, 50, 0)
	for _, h := range hist {
		if shortRef(h) == ref {
			p, _, ok, err := w.e.paymentOf(h)
			if err != nil || !ok {
				w.t.Fatalf("payment of %s: %v", ref, err)
			}
			p, _, _ = w.e.payment(p.ID)
			return p
		}
	}
	w.t.Fatalf("no transfer %s", ref)
	return domain.Payment{}
}

func TestRevThenOKGivesTheSendBack(t *testing.T) {
	w := sendWorld(t)
	ref := w.sent(alice, bob, "25", "739164")
	got := w.sms(alice, "REV "+ref+" 739164")
	if len(got[alice]) != 1 || !strings.Contains(got[alice][0], "Asked +336****321 to give back 25.00 EUR, Ref "+ref+". 25.00 EUR is held") {
		t.Fatalf("payer: %q", got[alice])
	}
	if len(got[bob]) != 1 || !strings.Contains(got[bob][0], "+336****678 says 25.00 EUR (Ref "+ref+") was sent to you by mistake. Reply OK ") {
		t.Fatalf("payee: %q", got[bob])
	}
	code := okCode(t, got[bob])
	if w.available(bob) != 1 || w.pendingOut(bob) != 2500 {
		t.Fatalf("bob available %d, held %d", w.available(bob), w.pendingOut(bob))
	}
	// Another request while one is open is refused; bob can still not spend what is held.
	w.expect(alice, "rev "+ref+" 739164", "already open")
	w.expect(bob, "OK 000000", "")
	got = w.sms(bob, "OK "+code)
	if len(got[bob]) != 1 || !strings.Contains(got[bob][0], "You gave back 25.00 EUR to +336****678") || !strings.Contains(got[bob][0], "Balance 0.01 EUR") {
		t.Fatalf("payee after OK: %q", got)
	}
	if len(got[alice]) != 1 || !strings.Contains(got[alice][0], "gave back 25.00 EUR") || !strings.Contains(got[alice][0], "Balance 100.00 EUR") {
		t.Fatalf("payer after OK: %q", got[alice])
	}
	p := w.paymentOfRef(alice, ref)
	if p.State != domain.PaymentRefunded || p.Return != "" || p.Returns != 1 || len(p.Refunds) != 1 || p.Refunds[0].Kind != domain.RefundReturn {
		t.Fatalf("record: %+v", p)
	}
	if w.pendingOut(bob) != 0 || w.available(alice) != 10000 {
		t.Fatalf("bob held %d, alice %d", w.pendingOut(bob), w.available(alice))
	}
	// The code is spent.
	if got := w.sms(bob, "OK "+code)[bob]; len(got) != 1 || strings.Contains(got[0], "gave back") {
		t.Fatalf("second OK: %q", got)
	}
}

func TestRevNOOpensACaseAndNothingElseGivesBack(t *testing.T) {
	w := sendWorld(t)
	ctx := context.Background()
	ref := w.sent(alice, bob, "20", "739164")
	w.sms(bob, "SEND "+alice+" 5 246810") // bob spends part of it first: 15.01 left
	w.outbox()
	code := okCode(t, w.sms(alice, "RETOUR "+ref+" 739164")[bob])
	if w.pendingOut(bob) != 1501 {
		t.Fatalf("held %d, want what bob had", w.pendingOut(bob))
	}
	got := w.sms(bob, "NO "+code)
	if len(got[bob]) != 1 || !strings.Contains(got[bob][0], "You refused to give back 20.00 EUR to +336****678. The hold is released. Dispute case") {
		t.Fatalf("payee: %q", got)
	}
	if len(got[alice]) != 1 || !strings.Contains(got[alice][0], "+336****321 refused to give back 20.00 EUR, Ref "+ref+". Dispute case") {
		t.Fatalf("payer: %q", got[alice])
	}
	if w.pendingOut(bob) != 0 {
		t.Fatalf("hold not released: %d", w.pendingOut(bob))
	}
	p := w.paymentOfRef(alice, ref)
	c, err := w.e.GetDispute(0, p.Dispute)
	if err != nil || c.State != domain.DisputeUnderReview || c.Kind != domain.DisputeMistakenSend || c.Amount != 2000 {
		t.Fatalf("case %+v %v", c, err)
	}
	// While it is open nothing else is given back: an operator's reversal is refused.
	_, err = w.e.ReversePayment(ctx, "care:1", p.ID)
	wantCode(t, err, domain.CodeDisputeOpen)
	// A decision for the payer gives back under the one cap, from what bob has now.
	if _, err := w.e.DecideDispute(ctx, "care:2", c.ID, 3000, false); domain.CodeOf(err) != domain.CodeRefundTooLarge {
		t.Fatalf("a decision above the payment: %v", err)
	}
	w.outbox()
	c, err = w.e.DecideDispute(ctx, "care:2", c.ID, 1500, false)
	if err != nil || c.State != domain.DisputeDecided || c.Decision.Refund != 1500 {
		t.Fatalf("decide: %+v %v", c, err)
	}
	if w.available(bob) != 1 || w.available(alice) != 10000-2000+500+1500 {
		t.Fatalf("bob %d alice %d", w.available(bob), w.available(alice))
	}
	msgs := w.outbox()
	if !strings.Contains(strings.Join(msgs[alice], "|"), "decided for you: 15.00 EUR") || len(msgs[bob]) != 1 {
		t.Fatalf("decision SMS %q", msgs)
	}
	p = w.paymentOfRef(alice, ref)
	if p.Dispute != "" || p.Refunded != 1500 || p.State != domain.PaymentPartiallyRefunded || p.Refunds[0].Kind != domain.RefundDispute {
		t.Fatalf("record after decision: %+v", p)
	}
}

func TestRevUnansweredOpensACaseOnAMovedClock(t *testing.T) {
	w := sendWorld(t)
	ctx := context.Background()
	ref := w.sent(alice, bob, "10", "739164")
	w.sms(alice, "REV "+ref+" 739164")
	w.advance(47 * time.Hour)
	if n, _ := w.e.ExpireDisputes(ctx); n != 0 || w.pendingOut(bob) != 1000 {
		t.Fatalf("moved before the deadline: %d, held %d", n, w.pendingOut(bob))
	}
	w.advance(time.Hour + time.Second)
	if n, err := w.e.ExpireDisputes(ctx); n != 1 || err != nil {
		t.Fatalf("expired %d %v", n, err)
	}
	msgs := w.outbox()
	if !strings.Contains(strings.Join(msgs[alice], ""), "did not answer your request for 10.00 EUR") ||
		!strings.Contains(strings.Join(msgs[bob], ""), "You did not answer the request to give back 10.00 EUR") {
		t.Fatalf("SMS %q", msgs)
	}
	p := w.paymentOfRef(alice, ref)
	if c, err := w.e.GetDispute(0, p.Dispute); err != nil || c.State != domain.DisputeUnderReview || w.pendingOut(bob) != 0 {
		t.Fatalf("case %+v %v, held %d", c, err, w.pendingOut(bob))
	}
	// Too late for a new request, and the ledger's own timeout never fired first.
	w.advance(24 * time.Hour)
	if _, err := w.e.CloseDispute(ctx, "care:1", p.Dispute); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	w.expect(alice, "REV "+ref+" 739164", "Too late")
}

func TestRevAtMostThreeTimes(t *testing.T) {
	w := sendWorld(t)
	ctx := context.Background()
	ref := w.sent(alice, bob, "10", "739164")
	for i, kw := range []string{"REV", "rev", "Rev"} {
		code := okCode(t, w.sms(alice, kw+" "+ref+" 739164")[bob])
		w.sms(bob, "NO "+code)
		p := w.paymentOfRef(alice, ref)
		if _, err := w.e.DecideDispute(ctx, "care:1", p.Dispute, 0, true); err != nil {
			t.Fatal(i, err)
		}
	}
	w.outbox()
	w.expect(alice, "RETOUR "+ref+" 739164", "déjà demandé 3 fois")
	if p := w.paymentOfRef(alice, ref); p.Returns != 3 || w.available(bob) != 1001 {
		t.Fatalf("returns %d, bob %d", p.Returns, w.available(bob))
	}
}

// A REV racing the payee who spends the money at the same instant: the hold is computed from
// the payee's purse as read and the job names its journal position, so each REV commits
// with a hold the payee really had, nothing goes below zero, and no money appears.
func TestRevRacingThePayeeSpending(t *testing.T) {
	w := sendWorld(t)
	w.expect(carol, "REG 135790 Carol", "Welcome")
	total := func() int64 {
		return w.available(alice) + w.available(bob) + w.available(carol) + int64(w.pendingOut(bob))
	}
	before := total()
	for round := 0; round < 15; round++ {
		ref := w.sent(alice, bob, fmt.Sprintf("3.%02d", round), "739164") // each text its own: no repeat
		bobBefore := w.available(bob)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			w.e.Handle(context.Background(), Inbound{From: alice, To: "1234", Text: "REV " + ref + " 739164"})
		}()
		go func() {
			defer wg.Done()
			w.e.Handle(context.Background(), Inbound{From: bob, To: "1234", Text: fmt.Sprintf("SEND %s %d.%02d 246810", carol, 1+round%3, round)})
		}()
		wg.Wait()
		p := w.paymentOfRef(alice, ref)
		if p.Return == "" {
			t.Fatalf("round %d: the REV did not commit: %+v", round, p)
		}
		var r domain.ReturnRequest
		w.e.record(keyReturn+p.Return, &r)
		bobNow := w.l.AccountsOf(bob)[0]
		if r.Held > 300+uint64(round) || r.Held > uint64(bobBefore) || bobNow.Available() < 0 || bobNow.DebitsPending != r.Held {
			t.Fatalf("round %d: held %d of bob's %d, now %+v", round, r.Held, bobBefore, bobNow.Balances)
		}
		if r.Held < 300+uint64(round) && bobNow.Available() != 0 {
			t.Fatalf("round %d: a short hold (%d) left bob %d", round, r.Held, bobNow.Available())
		}
		var ask []string
		for _, m := range w.outbox()[bob] {
			if strings.Contains(m, "Reply OK") {
				ask = append(ask, m)
			}
		}
		code := okCode(t, ask)
		if got := w.sms(bob, "OK "+code); w.pendingOut(bob) != 0 {
			t.Fatalf("round %d: OK left a hold of %d: %q", round, w.pendingOut(bob), got)
		}
		if got := total(); got != before {
			t.Fatalf("round %d: money %d, was %d", round, got, before)
		}
	}
}

// disputeWorld: alice paid SHOP42, which has a webhook endpoint; the case settings given.
func disputeWorld(t *testing.T, amount string) (*world, uint64, string) {
	w, shop := merchantWorld(t)
	w.topup(alice, 10000, 2)
	w.e.cfg.Disputes = DisputeConfig{MerchantFor: 7 * 24 * time.Hour, CloseAfter: 72 * time.Hour, AutoRefundMax: 5000}
	w.e.cfg.Disputes.defaults()
	if _, err := w.e.SetWebhook(context.Background(), "test", shop, "https://shop.example/hook", false); err != nil {
		t.Fatal(err)
	}
	got := w.expect(alice, "PAY SHOP42 "+amount+" 739164", "Paid")
	return w, shop, refRe.FindStringSubmatch(got)[1]
}

func (w *world) events(typ string) int {
	ds, _ := w.e.Deliveries("", "", 1000)
	n := 0
	for _, d := range ds {
		if d.Type == typ {
			n++
		}
	}
	return n
}

func TestCaseThroughEveryStateAcrossARestart(t *testing.T) {
	w, shop, ref := disputeWorld(t, "30")
	ctx := context.Background()
	got := w.sms(alice, "DISPUTE "+ref+" never delivered, call 739164")
	if len(got[alice]) != 1 || !strings.Contains(got[alice][0], "Dispute case") || !strings.Contains(got[alice][0], "30.00 EUR to Corner Shop, Ref "+ref+". Answer due by 02/12 12:00") {
		t.Fatalf("opened: %q", got)
	}
	cs, _, _ := w.e.ListDisputes(shop, "", 10)
	if len(cs) != 1 || cs[0].State != domain.DisputeAwaitingMerchant || cs[0].Reason != "never delivered, call ****" || cs[0].Amount != 3000 {
		t.Fatalf("cases %+v", cs)
	}
	id := cs[0].ID
	if w.events("dispute.opened") != 1 || w.events("dispute.awaiting_merchant") != 1 {
		t.Fatal("no webhook events for the opening")
	}
	// No other give-back while it is open: the merchant's refund, an operator's reversal.
	p, _ := w.e.GetPayment(shop, cs[0].Payment)
	_, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 100})
	wantCode(t, err, domain.CodeDisputeOpen)
	tr, _ := w.l.Transfer(mustID(p.Transfer))
	_, err = w.e.Reverse(ctx, "care:1", tr)
	wantCode(t, err, domain.CodeDisputeOpen)
	w.expect(alice, "DISPUTE "+ref+" again", "already open")

	// A crash: the ledger and the engine start again from the file.
	cfg := w.e.cfg
	w.l.Close()
	w = reopen(t, w, cfg)
	if _, err := w.e.DisputeEvidence(ctx, shop+1, id, "x", "k"); domain.CodeOf(err) != domain.CodeNotFound {
		t.Fatalf("another merchant's case: %v", err)
	}
	c, err := w.e.DisputeEvidence(ctx, shop, id, "Delivered on 26/11, signed by A. Martin", "key:1")
	if err != nil || c.State != domain.DisputeUnderReview || c.Deadline != 0 {
		t.Fatalf("evidence: %+v %v", c, err)
	}
	w.advance(8 * 24 * time.Hour) // past the merchant's deadline: nothing is timed now
	w.e.ExpireDisputes(ctx)
	if c, _ = w.e.GetDispute(shop, id); c.State != domain.DisputeUnderReview {
		t.Fatalf("moved by the clock under review: %+v", c)
	}
	w.outbox()
	c, err = w.e.DecideDispute(ctx, "care:2", id, 1200, false)
	if err != nil || c.State != domain.DisputeDecided {
		t.Fatalf("decide: %+v %v", c, err)
	}
	if msgs := strings.Join(w.outbox()[alice], "|"); !strings.Contains(msgs, "decided for you: 12.00 EUR") {
		t.Fatalf("payer told %q", msgs)
	}
	// The decision was a give-back under the one cap: the merchant may refund the rest only.
	_, _, _, err = w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 1900})
	wantCode(t, err, domain.CodeRefundTooLarge)
	if _, _, _, err = w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 1800}); err != nil {
		t.Fatal(err)
	}
	w.l.Close()
	w = reopen(t, w, cfg)
	w.advance(71 * time.Hour)
	w.e.ExpireDisputes(ctx)
	if c, _ = w.e.GetDispute(shop, id); c.State != domain.DisputeDecided {
		t.Fatalf("closed early: %+v", c)
	}
	w.advance(2 * time.Hour)
	if n, _ := w.e.ExpireDisputes(ctx); n != 1 {
		t.Fatalf("closed %d", n)
	}
	c, _ = w.e.GetDispute(shop, id)
	var states []string
	for _, h := range c.History {
		states = append(states, string(h.State))
	}
	if c.State != domain.DisputeClosed || strings.Join(states, ",") != "opened,awaiting_merchant,under_review,decided,closed" {
		t.Fatalf("history %v", states)
	}
	for _, s := range []string{"under_review", "decided", "closed"} {
		if w.events("dispute."+s) != 1 {
			t.Fatalf("event dispute.%s: %d", s, w.events("dispute."+s))
		}
	}
	if st, _ := w.e.MerchantDisputeStats(shop); st.Opened != 1 || st.ForPayer != 1 {
		t.Fatalf("stats %+v", st)
	}
	if p, _ = w.e.GetPayment(shop, p.ID); p.State != domain.PaymentRefunded || p.Refunded != 3000 {
		t.Fatalf("payment %+v", p)
	}
}

func TestUnansweredCaseIsDecidedByTheAmount(t *testing.T) {
	for _, c := range []struct {
		amount string
		want   domain.DisputeState
	}{{"50", domain.DisputeDecided}, {"50.01", domain.DisputeUnderReview}} {
		w, shop, ref := disputeWorld(t, c.amount)
		ctx := context.Background()
		w.expect(alice, "DISPUTE "+ref+" wrong amount", "Dispute case")
		cs, _, _ := w.e.ListDisputes(shop, "", 10)
		before := w.available(alice)
		w.advance(7*24*time.Hour + time.Second)
		if n, err := w.e.ExpireDisputes(ctx); n != 1 || err != nil {
			t.Fatalf("%s: moved %d %v", c.amount, n, err)
		}
		got, _ := w.e.GetDispute(shop, cs[0].ID)
		if got.State != c.want {
			t.Fatalf("%s: %s, want %s", c.amount, got.State, c.want)
		}
		refunded := w.available(alice) - before
		if (c.want == domain.DisputeDecided) != (refunded == 5000) || (c.want != domain.DisputeDecided && refunded != 0) {
			t.Fatalf("%s: refunded %d", c.amount, refunded)
		}
	}
}

// A refund racing the opening of a case: the record's version guard lets one of them win.
func TestRefundRacingTheOpeningOfACase(t *testing.T) {
	for round := 0; round < 10; round++ {
		w, shop, _ := disputeWorld(t, "20")
		p := w.lastPayment(shop)
		var wg sync.WaitGroup
		var refundErr, openErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, _, _, refundErr = w.e.RefundPayment(context.Background(), RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 2000})
		}()
		go func() {
			defer wg.Done()
			_, openErr = w.e.OpenDispute(context.Background(), OpenDispute{PaymentID: p.ID, Reason: "r", Opener: domain.OpenerOperator, Actor: "care"})
		}()
		wg.Wait()
		if (refundErr == nil) == (openErr == nil) {
			t.Fatalf("round %d: refund %v, open %v", round, refundErr, openErr)
		}
		if errors.Is(refundErr, domain.ErrConflict) || errors.Is(openErr, domain.ErrConflict) {
			t.Fatalf("a conflict escaped")
		}
	}
}

// TestCasesFoundByPerson: a person's cases are found through the index filed with them; a
// case from before the index is found by a scan until IndexCases has filed it, and after.
func TestCasesFoundByPerson(t *testing.T) {
	w, _, ref := disputeWorld(t, "30")
	ctx := context.Background()
	w.expect(alice, "DISPUTE "+ref+" never delivered", "Dispute case")
	var old domain.Dispute
	if err := w.e.casesOf(alice, func(c domain.Dispute, _ uint64) error { old = c; return nil }); err != nil || old.ID == "" {
		t.Fatalf("by scan: %+v %v", old, err)
	}
	// As a file from before the index holds it: no index entry.
	if _, err := w.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: casePersonKey(alice, old.ID), Version: 1, Delete: true}}}); err != nil {
		t.Fatal(err)
	}
	if n, err := w.e.IndexCases(ctx); n != 1 || err != nil {
		t.Fatalf("indexed %d: %v", n, err)
	}
	if n, err := w.e.IndexCases(ctx); n != 0 || err != nil {
		t.Fatalf("indexed again %d: %v", n, err)
	}
	ref2 := refRe.FindStringSubmatch(w.expect(alice, "PAY SHOP42 12 739164", "Paid"))[1]
	w.expect(alice, "DISPUTE "+ref2+" wrong amount", "Dispute case")
	var found []string
	if err := w.e.casesOf(alice, func(c domain.Dispute, _ uint64) error { found = append(found, c.ID); return nil }); err != nil || len(found) != 2 {
		t.Fatalf("by index: %v %v", found, err)
	}
	if err := w.e.casesOf(bob, func(c domain.Dispute, _ uint64) error { found = append(found, c.ID); return nil }); err != nil || len(found) != 2 {
		t.Fatalf("bob's cases: %v %v", found, err)
	}
	if err := w.e.eraseNow(ctx, "op", alice); err != nil {
		t.Fatal(err)
	}
	if rs, _ := w.l.ProfilesFrom(keyDisputePerson, "", 10); len(rs) != 0 {
		t.Fatalf("index entries left after erasure: %+v", rs)
	}
}

// TestIndexingCasesNeverBringsBackAnErasedPerson: a case filed before the index, of a person
// erased since, is not filed under his number by the sweep: that would make him a person
// again.
func TestIndexingCasesNeverBringsBackAnErasedPerson(t *testing.T) {
	w, _, ref := disputeWorld(t, "30")
	ctx := context.Background()
	w.expect(alice, "DISPUTE "+ref+" never delivered", "Dispute case")
	var id string
	w.e.casesOf(alice, func(c domain.Dispute, _ uint64) error { id = c.ID; return nil })
	if _, err := w.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: casePersonKey(alice, id), Version: 1, Delete: true}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.l.Erase(ctx, alice, domain.Audit{Actor: "op", Action: "subscriber erase"}); err != nil {
		t.Fatal(err)
	}
	if n, err := w.e.IndexCases(ctx); n != 0 || err != nil {
		t.Fatalf("indexed %d: %v", n, err)
	}
	if _, err := w.l.SealFor(alice, "x"); !errors.Is(err, domain.ErrNoPerson) {
		t.Fatalf("the erased number is a person again: %v", err)
	}
}
