package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
	"mpg/loyalty"
)

// pointsWorld is a world with the points programme on: 1 point per 1.00 paid at any shop or
// biller, ×2 on Sundays at SHOP42, where a point pays 0.01 EUR; alice holds 500.00 EUR.
func pointsWorld(t *testing.T) (*world, uint64) {
	w := newWorld(t)
	w.e.cfg.Loyalty = &loyalty.Programme{
		Rules: []loyalty.Rule{{Merchant: "SHOP42", PerUnit: 1, BonusDays: []time.Weekday{time.Sunday}, BonusTimes: 2},
			{PerUnit: 1, Products: []string{"pay", "bill"}}},
		ExpiryMonths: 24, Notices: []time.Duration{720 * time.Hour, 48 * time.Hour}, Exponent: 2, Location: time.UTC,
		Rates: map[string]uint64{"SHOP42": 1}, MerchantMax: 3,
	}
	if err := w.e.cfg.Loyalty.Validate(); err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "REG 1234 Alice", "Welcome")
	w.expect(bob, "REG 4321 Bob", "Welcome")
	w.topup(alice, 50000, 2)
	return w, w.l.AccountsOf("SHOP42")[0].ID
}

// points is a member's points as the ledger holds them, checked against his wallet.
func (w *world) points(number string) uint64 {
	w.t.Helper()
	var bal uint64
	for _, a := range w.l.AccountsOf(number) {
		if a.Kind == domain.KindPoints {
			bal = uint64(a.Available())
		}
	}
	var wallet loyalty.Wallet
	if _, _, err := w.e.record(keyWallet+number, &wallet); err != nil {
		w.t.Fatal(err)
	}
	if wallet.Balance() != bal {
		w.t.Fatalf("%s: %d points in the ledger, %d in the wallet's lots", number, bal, wallet.Balance())
	}
	return bal
}

func TestPointsAreEarnedInThePaymentsJobAndShownInItsReply(t *testing.T) {
	w, _ := pointsWorld(t)
	w.expect(alice, "PAY SHOP42 12.50 1234", "Paid 12.50 EUR to Corner Shop") // a Wednesday
	if got := w.points(alice); got != 12 {
		t.Fatalf("12.50 paid: %d points, want 12", got)
	}
	w.expect(alice, "BILL EDF 778899 30 1234", "+30 pts (42 total).")
	w.expect(alice, "POINTS 1234", "You have 42 points. 42 expire on 30/11/2028.")
	w.expect(alice, "BAL 1234", "left of your 24-hour limit. Points: 42.")
	r := w.sms(alice, "SEND "+bob+" 5 1234")[alice]
	if len(r) != 1 || strings.Contains(r[0], "pts") || w.points(alice) != 42 {
		t.Errorf("a SEND earns nothing and says nothing of points: %q, %d points", r, w.points(alice))
	}
	w.advance(4 * 24 * time.Hour) // Sunday: ×2 at SHOP42
	w.expect(alice, "PAY SHOP42 10 1234", "+20 pts (62 total).")
	w.expect(bob, "POINTS 4321", "You have 0 points.")
}

func TestPayWithPointsThenRefundGivesBackAndTakesBackOnce(t *testing.T) {
	w, shop := pointsWorld(t)
	w.expect(alice, "PAY SHOP42 100 1234", "+100 pts (100 total).")
	before := w.available(alice)
	w.expect(alice, "PAY SHOP42 12.50 1234 PTS", "Paid with 100 pts (1.00 EUR): 0 pts left. +11 pts (11 total).")
	if paid := before - w.available(alice); paid != 1150+10 { // the fee is on the money part
		t.Errorf("the purse paid %d, want 11.50 and its fee", paid)
	}
	id := w.lastPayment(shop).ID
	ctx := context.Background()
	p, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: id, Actor: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Amount != 1150 || p.Points.Restored != 100 || p.Points.TakenBack != 11 || p.State != domain.PaymentRefunded {
		t.Errorf("after the refund: %+v %+v", p, *p.Points)
	}
	if got := w.points(alice); got != 100 {
		t.Errorf("after the refund: %d points, want the 100 spent back and the 11 earned gone", got)
	}
	if got := w.outbox()[alice]; len(got) != 1 || !strings.Contains(got[0], "Points: 100 back, 11 taken back (100 total).") {
		t.Errorf("the refund's SMS: %q", got)
	}
	if _, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: id, Actor: "shop"}); err == nil {
		t.Error("refunded twice")
	}
	w.outbox()
	w.expect(alice, "REDEEM SHOP42 0.40 1234", "Paid with 40 pts (0.40 EUR): 60 pts left.")
	allPoints := w.lastPaymentOf(shop, 40)
	if p, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: allPoints, Actor: "shop"}); err != nil || p.Points.Restored != 40 {
		t.Fatalf("a payment all in points is refunded in points: %v %+v", err, p.Points)
	}
	if got := w.points(alice); got != 100 {
		t.Errorf("%d points, want 100", got)
	}
	w.verify()
}

// lastPaymentOf finds the payment all in points of n points (it moves no money).
func (w *world) lastPaymentOf(shop uint64, n uint64) string {
	w.t.Helper()
	for _, p := range w.payments(shop) {
		if p.Amount == 0 && p.Points != nil && p.Points.Spent == n {
			return p.ID
		}
	}
	w.t.Fatalf("no payment of %d points", n)
	return ""
}

func (w *world) payments(shop uint64) []domain.Payment {
	w.t.Helper()
	ps, _, err := w.e.ListPayments(shop, PaymentFilter{Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	return ps
}

func TestPointsNoticesAndExpiryFollowTheClock(t *testing.T) {
	w, _ := pointsWorld(t)
	ctx := context.Background()
	w.expect(alice, "PAY SHOP42 25 1234", "+25 pts (25 total).")
	expires := time.Date(2028, 12, 1, 0, 0, 0, 0, time.UTC)
	w.advance(expires.Add(-31 * 24 * time.Hour).Sub(w.now))
	if n, err := w.e.ExpirePoints(ctx); err != nil || n != 0 {
		t.Fatalf("31 days before: %d wallets, %v", n, err)
	}
	w.advance(2 * 24 * time.Hour)
	if n, err := w.e.ExpirePoints(ctx); err != nil || n != 1 {
		t.Fatalf("29 days before: %d wallets, %v", n, err)
	}
	if got := w.sms(bob, "POINTS 4321")[alice]; len(got) != 1 || !strings.Contains(got[0], "25 of your 25 points expire on 30/11/2028") {
		t.Errorf("the 30-day notice: %q", got)
	}
	w.expect(alice, "PAY SHOP42 5 1234", "+5 pts (30 total).") // a new lot, two years on
	w.advance(expires.Add(-47 * time.Hour).Sub(w.now))
	if n, _ := w.e.ExpirePoints(ctx); n != 1 {
		t.Fatalf("47 hours before: %d wallets", n)
	}
	if got := w.outbox()[alice]; len(got) != 1 || !strings.Contains(got[0], "25 of your 30 points expire on 30/11/2028") {
		t.Errorf("the 48-hour notice: %q", got)
	}
	w.advance(48 * time.Hour)
	if n, _ := w.e.ExpirePoints(ctx); n != 1 {
		t.Fatalf("after the expiry: %d wallets", n)
	}
	if got := w.points(alice); got != 5 {
		t.Errorf("after the first lot expired: %d points, want the new lot's 5", got)
	}
	expired, err := w.l.System(domain.KindPointsExpired, domain.PointsAsset)
	if err != nil || expired.CreditsPosted != 25 {
		t.Errorf("the expired account: %+v %v", expired, err)
	}
	w.expect(alice, "POINTS 1234", "You have 5 points. 5 expire on 30/11/2030.")
	if n, _ := w.e.ExpirePoints(ctx); n != 0 {
		t.Errorf("nothing due, yet %d wallets swept", n)
	}
}

// TestPointsRaceRefundsAndPaymentsOnOneMember: payments with points, payments that earn and
// refunds of both run at once on one member, through the SMS and the merchant API, on two
// engines over the same books. Whatever the order, the member's points in the ledger equal
// his lots, each refund gave back and took back its payment's points once, and the books
// verify.
func TestPointsRaceRefundsAndPaymentsOnOneMember(t *testing.T) {
	w, shop := pointsWorld(t)
	other, err := New(w.e.cfg, w.l)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 6 {
		w.expect(alice, fmt.Sprintf("PAY SHOP42 %d 1234", 10+i), "pts")
		ids = append(ids, w.lastPayment(shop).ID)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(2)
		go func() {
			defer wg.Done()
			e := []*Engine{w.e, other}[i%2]
			for range 5 {
				_, _, _, err := e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: id, Actor: "shop"})
				if err == nil {
					return
				}
				t.Logf("refund %s: %v", id, err)
			}
		}()
		go func() {
			defer wg.Done()
			e := []*Engine{other, w.e}[i%2]
			handleOn(w, e, fmt.Sprintf("PAY SHOP42 0.%02d 1234 PTS REF%d", 10+i, i))
		}()
	}
	wg.Wait()
	got := w.points(alice)
	var earned, takenBack, short, spent, restored uint64
	for _, p := range w.payments(shop) {
		pts := p.Points
		if pts == nil {
			continue
		}
		earned, takenBack, short, spent, restored = earned+pts.Earned, takenBack+pts.TakenBack, short+pts.Short, spent+pts.Spent, restored+pts.Restored
		if p.State == domain.PaymentRefunded && (pts.TakenBack+pts.Short != pts.Earned || pts.Restored != pts.Spent) {
			t.Errorf("refunded payment %s: %+v", p.ID, *pts)
		}
	}
	for _, id := range ids {
		if p, _, err := w.e.payment(id); err != nil || p.State != domain.PaymentRefunded {
			t.Errorf("payment %s: %s %v", id, p.State, err)
		}
	}
	if want := earned - takenBack - spent + restored; got != want {
		t.Errorf("%d points, want %d (earned %d, taken back %d, short %d, spent %d, restored %d)", got, want, earned, takenBack, short, spent, restored)
	}
	w.verify()
}

// TestAMerchantsOwnRuleComesFirst: a merchant sets its own rule and worth (the API's PUT
// /v1/loyalty); its payments follow them, other merchants' the configuration's.
func TestAMerchantsOwnRuleComesFirst(t *testing.T) {
	w, shop := pointsWorld(t)
	ctx := context.Background()
	if err := w.e.SetMerchantLoyalty(ctx, shop, MerchantLoyalty{PerUnit: 3, PointWorth: 2}, "shop"); err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "PAY SHOP42 10 1234", "+30 pts (30 total).")
	w.expect(alice, "BILL EDF 778899 10 1234", "+10 pts (40 total).")
	w.expect(alice, "PAY SHOP42 0.50 1234 PTS", "Paid with 25 pts (0.50 EUR): 15 pts left.")
	if err := w.e.SetMerchantLoyalty(ctx, shop, MerchantLoyalty{PerUnit: 1, PointWorth: 0}, "shop"); err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "PAY SHOP42 0.60 1234 PTS", "Corner Shop does not take points.")
	if err := w.e.SetMerchantLoyalty(ctx, shop, MerchantLoyalty{PerUnit: loyalty.MaxPerUnit + 1}, "shop"); err == nil {
		t.Error("a rule beyond the bounds was saved")
	}
	if err := w.e.SetMerchantLoyalty(ctx, shop, MerchantLoyalty{PerUnit: 2, BonusDays: []int{0}, BonusTimes: 2}, "shop"); err == nil {
		t.Error("a merchant printed more points than the service lets it (2 × 2 > 3)")
	}
	if ml, own, err := w.e.MerchantLoyaltyOf(shop); err != nil || !own || ml.PerUnit != 1 {
		t.Errorf("the rule read back: %+v %v %v", ml, own, err)
	}
	if err := w.e.DropMerchantLoyalty(ctx, shop, "shop"); err != nil {
		t.Fatal(err)
	}
	// The service's rule as it applies to SHOP42: its configured rule, ×2 on Sundays, 0.01 a point.
	if ml, own, err := w.e.MerchantLoyaltyOf(shop); err != nil || own || ml.PerUnit != 1 || ml.BonusTimes != 2 || ml.PointWorth != 1 {
		t.Errorf("the service's rule: %+v %v %v", ml, own, err)
	}
	w.expect(alice, "PAY SHOP42 0.10 1234 PTS", "Paid with 10 pts (0.10 EUR)")
	w.expect(bob, "PAY SHOP42 1 4321 PTS", "You have no points to pay Corner Shop with. Pay without PTS. Nothing was done.")
}

// TestStateCommandsRunAgainWhenTextedAgain: STOP, START, STOP within the dedupe window ends
// with offers off; POINTS and OFFERS texted again answer the state of now; JOIN after LEAVE
// joins again.
func TestStateCommandsRunAgainWhenTextedAgain(t *testing.T) {
	w, _ := pointsWorld(t)
	w.expect(alice, "STOP", "You will not receive offers")
	w.expect(alice, "START", "You will receive offers")
	w.expect(alice, "STOP", "You will not receive offers")
	if cs, _ := w.e.Consents(alice); len(cs) == 0 || cs[len(cs)-1].Granted {
		t.Errorf("the last STOP did not take: %+v", cs)
	}
	w.expect(alice, "POINTS 1234", "You have 0 points.")
	w.expect(alice, "PAY SHOP42 10 1234", "+10 pts")
	w.expect(alice, "POINTS 1234", "You have 10 points.")
	w.expect(alice, "LANG FR", "français")
	w.expect(alice, "LANG EN", "English")
	w.expect(alice, "LANG FR", "français")
}
