package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
	"mpg/promo"
)

// promoWorld is pointsWorld with SHOP42 holding 200.00 EUR to fund its promotions.
func promoWorld(t *testing.T) (*world, uint64) {
	w, shop := pointsWorld(t)
	if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: w.float, Credit: shop, Amount: 20000, Code: domain.CodeTopup}}}); err != nil {
		t.Fatal(err)
	}
	return w, shop
}

func (w *world) promotion(shop uint64, p promo.Promotion) promo.Promotion {
	w.t.Helper()
	if p.Name == "" {
		p.Name = "Offer " + p.Code
	}
	got, err := w.e.CreatePromotion(context.Background(), shop, p, "test")
	if err != nil {
		w.t.Fatal(err)
	}
	return got
}

func TestDiscountIsPaidFromTheBudgetInThePaymentsJob(t *testing.T) {
	w, shop := promoWorld(t)
	p := w.promotion(shop, promo.Promotion{Code: "SUMMER", Percent: 10, Budget: 500, MinAmount: 1000})
	if b, _ := w.l.Account(p.Account); b.Available() != 500 || w.available("SHOP42") != 19500 {
		t.Fatalf("the budget was not funded from the shop: %+v", b)
	}
	before := w.available(alice)
	w.expect(alice, "PAY SHOP42 12.50 1234", "Paid 11.25 EUR to Corner Shop")
	w.outbox()
	if paid := before - w.available(alice); paid != 1125+10 {
		t.Errorf("alice paid %d, want 11.25 and the fee", paid)
	}
	if got := w.available("SHOP42"); got != 19500+1250 {
		t.Errorf("the shop has %d, want the whole price in", got)
	}
	rec := w.lastPayment(shop)
	if rec.Amount != 1125 || rec.Discount == nil || rec.Discount.Amount != 125 || rec.Discount.Price != 1250 || rec.Points.Earned != 11 {
		t.Errorf("the record: %+v discount %+v", rec, rec.Discount)
	}
	if got := w.sms(alice, "PAY SHOP42 9 1234")[alice]; len(got) != 1 || strings.Contains(got[0], "Offer") {
		t.Errorf("below the minimum amount: %q", got)
	}
	// A refund gives back what was paid, never the discount.
	if _, _, _, err := w.e.RefundPayment(context.Background(), RefundRequest{Merchant: shop, PaymentID: rec.ID, Amount: 1250, Actor: "shop"}); err == nil {
		t.Error("refunded the price, more than was paid")
	}
	if r, _, _, err := w.e.RefundPayment(context.Background(), RefundRequest{Merchant: shop, PaymentID: rec.ID, Actor: "shop"}); err != nil || r.Refunded != 1125 {
		t.Errorf("a full refund: %v %d", err, r.Refunded)
	}
	ended, err := w.e.EndPromotion(context.Background(), shop, "SUMMER", "shop")
	if err != nil || ended.Ended == 0 {
		t.Fatal(err)
	}
	if b, _ := w.l.Account(p.Account); b.Available() != 0 {
		t.Errorf("the budget keeps %d after the end", b.Available())
	}
	if got := w.sms(alice, "PAY SHOP42 20 1234")[alice]; strings.Contains(got[0], "Offer") {
		t.Errorf("after the end: %q", got)
	}
	w.verify()
}

func TestCodesJoinLeaveAndAudiences(t *testing.T) {
	w, shop := promoWorld(t)
	w.promotion(shop, promo.Promotion{Code: "WELCOME", Fixed: 200, Budget: 5000, WithCode: true})
	w.promotion(shop, promo.Promotion{Code: "FRANCE", Percent: 5, Budget: 5000, Audience: `language == "FR"`})
	if got := w.sms(alice, "PAY SHOP42 10 1234")[alice]; strings.Contains(got[0], "Offer") {
		t.Errorf("no code, not in the audience: %q", got)
	}
	w.expect(alice, "PAY SHOP42 10 WELCOME 1234", "Offer WELCOME: 2.00 EUR off 10.00 EUR.")
	w.expect(alice, "OFFERS", "Offers for you: WELCOME -2.00 EUR Corner Shop.")
	w.expect(alice, "LANG FR", "français")
	w.expect(alice, "OFFRES", "FRANCE -5% Corner Shop; WELCOME -2,00 EUR Corner Shop")
	w.expect(alice, "PAYER SHOP42 10 R1 1234", "Offre FRANCE: -0,50 EUR sur 10,00 EUR.")
	w.expect(bob, "JOIN WELCOME", "You joined WELCOME (Offer WELCOME) at Corner Shop")
	w.topup(bob, 5000, 2)
	w.expect(bob, "PAY SHOP42 10 4321", "Offer WELCOME: 2.00 EUR off 10.00 EUR.")
	w.expect(bob, "LEAVE WELCOME", "You left WELCOME.")
	if got := w.sms(bob, "PAY SHOP42 10 WELCOME 4321")[bob]; strings.Contains(got[0], "Offer") {
		t.Errorf("after LEAVE: %q", got)
	}
	w.expect(bob, "JOIN NOSUCH", "No offer NOSUCH is running.")
	if _, err := w.e.CreatePromotion(context.Background(), shop, promo.Promotion{Code: "BAD", Name: "x", Percent: 5, Budget: 100, Audience: `age > 3`}, "t"); err == nil {
		t.Error("a rule naming what a member does not have was saved")
	}
	if _, err := w.e.CreatePromotion(context.Background(), shop, promo.Promotion{Code: "WELCOME", Name: "x", Percent: 5, Budget: 100}, "t"); err == nil {
		t.Error("a code used twice")
	}
	if _, err := w.e.CreatePromotion(context.Background(), shop, promo.Promotion{Code: "HUGE", Name: "x", Percent: 5, Budget: 1 << 40}, "t"); err == nil {
		t.Error("a budget the shop cannot fund")
	}
}

// TestRacingPaymentsNeverOverspendABudgetNorPassALimit: payments race through the SMS on
// two engines over the same books; exactly as many get the discount as the budget and the
// member's limit allow.
func TestRacingPaymentsNeverOverspendABudgetNorPassALimit(t *testing.T) {
	w, shop := promoWorld(t)
	other, err := New(w.e.cfg, w.l)
	if err != nil {
		t.Fatal(err)
	}
	w.promotion(shop, promo.Promotion{Code: "LIMIT", Fixed: 100, Budget: 10000, PerMember: 3})
	run := func(n int, text func(i int) (string, string)) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				from, sms := text(i)
				for range 5 { // a temporary failure is delivered again, as the SMSC does
					if err := []*Engine{w.e, other}[i%2].Handle(context.Background(), Inbound{From: from, To: "1234", Text: sms}); err == nil {
						return
					}
				}
				t.Errorf("%s %q failed 5 times", from, sms)
			}()
		}
		wg.Wait()
	}
	run(8, func(i int) (string, string) { return alice, fmt.Sprintf("PAY SHOP42 5 R%d 1234", i) })
	if got := w.discounted(shop, "LIMIT"); got != 3 {
		t.Errorf("%d payments of one member got a discount limited to 3 a member", got)
	}
	ctx := context.Background()
	if _, err := w.e.EndPromotion(ctx, shop, "LIMIT", "t"); err != nil {
		t.Fatal(err)
	}
	w.promotion(shop, promo.Promotion{Code: "BUDGET", Fixed: 100, Budget: 400})
	time.Sleep(promoRecheck) // the other engine (daemon) sees a new promotion this much later at most
	members := []string{alice, bob}
	w.topup(bob, 10000, 2)
	for i := range 6 {
		n := fmt.Sprintf("+3361111110%d", i)
		w.expect(n, "REG 2468", "Welcome")
		w.topup(n, 10000, 2)
		members = append(members, n)
	}
	run(len(members), func(i int) (string, string) {
		pin := map[string]string{alice: "1234", bob: "4321"}[members[i]]
		if pin == "" {
			pin = "2468"
		}
		return members[i], "PAY SHOP42 5 " + pin
	})
	if got := w.discounted(shop, "BUDGET"); got != 4 {
		t.Errorf("%d payments got 1.00 from a budget of 4.00", got)
	}
	p, _, _ := w.e.promotion("BUDGET")
	if b, _ := w.l.Account(p.Account); b.Available() != 0 {
		t.Errorf("the budget holds %d", b.Available())
	}
	w.verify()
}

// discounted counts the payments a promotion took part in.
func (w *world) discounted(shop uint64, code string) int {
	n := 0
	for _, p := range w.payments(shop) {
		if p.Discount != nil && p.Discount.Promotion == code {
			n++
		}
	}
	return n
}

// TestRequestsAndCheckoutsGetTheirDiscountWhenConfirmed: a merchant's request to pay and a
// web checkout are discounted in the job that confirms them, as a texted PAY is; what the
// page shows before the code is what is paid.
func TestRequestsAndCheckoutsGetTheirDiscountWhenConfirmed(t *testing.T) {
	w, shop := promoWorld(t)
	w.promotion(shop, promo.Promotion{Code: "AUTUMN", Percent: 20, Budget: 1000})
	ctx := context.Background()
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 1000, Reference: "order-1", Actor: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if code, d, ok := w.e.OfferFor(p); !ok || code != "AUTUMN" || d != 200 {
		t.Fatalf("the offer shown before the code: %s %d %v", code, d, ok)
	}
	before := w.available(alice)
	w.expect(alice, "YES "+w.codeTo(alice), "Offer AUTUMN: 2.00 EUR off 10.00 EUR.")
	got, _ := w.e.GetPayment(shop, p.ID)
	if got.Amount != 800 || got.Discount == nil || got.Discount.Price != 1000 || before-w.available(alice) != 800 {
		t.Errorf("after YES: %+v %+v, alice paid %d", got, got.Discount, before-w.available(alice))
	}
	if v := w.e.View(got); v.Discount == nil || v.Discount.Amount != "2.00" || v.Amount != "8.00" {
		t.Errorf("the merchant's view: %+v", v)
	}
	w.verify()
}

// TestEndedPromotionsLeaveRoomAndHistory: a merchant runs at most maxPromosPerMerchant at a
// time; ended ones no longer count, are not read by payments, and stay listed.
func TestEndedPromotionsLeaveRoomAndHistory(t *testing.T) {
	w, shop := promoWorld(t)
	ctx := context.Background()
	for i := range maxPromosPerMerchant {
		w.promotion(shop, promo.Promotion{Code: fmt.Sprintf("PR%d", i), Fixed: 10, Budget: 100})
	}
	if _, err := w.e.CreatePromotion(ctx, shop, promo.Promotion{Code: "ONEMORE", Name: "x", Fixed: 10, Budget: 100}, "t"); err == nil {
		t.Fatal("more promotions than a merchant may run")
	}
	for i := range maxPromosPerMerchant {
		if _, err := w.e.EndPromotion(ctx, shop, fmt.Sprintf("PR%d", i), "t"); err != nil {
			t.Fatal(err)
		}
	}
	w.promotion(shop, promo.Promotion{Code: "ONEMORE", Fixed: 50, Budget: 100})
	w.expect(alice, "PAY SHOP42 10 1234", "Offer ONEMORE: 0.50 EUR off 10.00 EUR.")
	all, err := w.e.Promotions("SHOP42")
	if err != nil || len(all) != maxPromosPerMerchant+1 || all[0].Code != "ONEMORE" {
		t.Errorf("listed %d, first %+v, %v", len(all), all[0], err)
	}
}

// TestAPromotionPastItsEndGivesBackItsBudget: the sweep ends it and the rest of the budget
// goes back to the merchant.
func TestAPromotionPastItsEndGivesBackItsBudget(t *testing.T) {
	w, shop := promoWorld(t)
	before := w.available("SHOP42")
	p := w.promotion(shop, promo.Promotion{Code: "WEEK", Percent: 10, Budget: 1000, End: w.now.Add(7 * 24 * time.Hour).UnixNano()})
	w.expect(alice, "PAY SHOP42 10 1234", "Offer WEEK")
	if n, err := w.e.EndDuePromotions(context.Background()); err != nil || n != 0 {
		t.Fatalf("before its end: %d %v", n, err)
	}
	w.advance(8 * 24 * time.Hour)
	if n, err := w.e.EndDuePromotions(context.Background()); err != nil || n != 1 {
		t.Fatalf("after its end: %d %v", n, err)
	}
	// The shop funded 10.00, was paid the price of 10.00 (9.00 by alice, 1.00 from the
	// budget) and got the 9.00 left of the budget back: 9.00 more than before.
	if got := w.e.BudgetLeft(p); got != 0 || w.available("SHOP42") != before+900 {
		t.Errorf("budget left %d; the shop has %d, want %d", got, w.available("SHOP42"), before+900)
	}
}

// TestAConfirmedPayKeepsItsDiscount: a texted PAY above confirm_above reserves the discount
// from the budget with the rest; YES pays it, NO releases it.
func TestAConfirmedPayKeepsItsDiscount(t *testing.T) {
	w, shop := promoWorld(t)
	w.e.cfg.ConfirmAbove = 3000
	p := w.promotion(shop, promo.Promotion{Code: "BIG", Percent: 10, Budget: 1000})
	w.handle(alice, "PAY SHOP42 50 1234") // asks YES <code>
	if got := w.e.BudgetLeft(p); got != 500 {
		t.Errorf("the budget holds %d while the payment waits, want 5.00 reserved", got)
	}
	before := w.available("SHOP42")
	w.expect(alice, "YES "+w.codeTo(alice), "Offer BIG: 5.00 EUR off 50.00 EUR.")
	rec := w.lastPayment(shop)
	if rec.Amount != 4500 || rec.Discount == nil || rec.Discount.Price != 5000 || w.available("SHOP42")-before != 5000 {
		t.Errorf("after YES: %+v %+v, the shop got %d", rec, rec.Discount, w.available("SHOP42")-before)
	}
	w.handle(alice, "PAY SHOP42 40 R2 1234")
	w.handle(alice, "NO "+w.codeTo(alice))
	if got := w.e.BudgetLeft(p); got != 500 {
		t.Errorf("after NO the budget holds %d, want the 4.00 released", got)
	}
	w.verify()
}
