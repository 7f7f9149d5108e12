package engine

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
	"mpg/loyalty"
	"mpg/promo"
)

// A refund gives back the spent points before it takes back the earned ones: a member who
// spent what the payment earned gives them back from the points the same refund returns.
func TestLoyaltyEdgeRefundTakesBackBeforeGivingBack(t *testing.T) {
	w, shop := pointsWorld(t)
	ctx := context.Background()
	w.expect(alice, "PAY SHOP42 100 1234", "+100 pts (100 total).")
	w.expect(alice, "PAY SHOP42 12.50 1234 PTS", "+11 pts (11 total).")
	id := w.lastPayment(shop).ID
	w.expect(alice, "REDEEM SHOP42 0.11 1234", "Paid with 11 pts") // spends the 11 earned
	if got := w.points(alice); got != 0 {
		t.Fatalf("%d points before the refund", got)
	}
	p, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: id, Actor: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	// Net effect of refunding a payment that spent 100 and earned 11: +100 -11 = 89.
	if got := w.points(alice); got != 89 {
		t.Errorf("after the full refund: %d points (taken back %d, short %d), want 89", got, p.Points.TakenBack, p.Points.Short)
	}
}

// LEAVE works on an automatic promotion without limits too (it keeps no count per member).
func TestLoyaltyEdgeLeaveAutomaticPromotion(t *testing.T) {
	w, shop := promoWorld(t)
	w.promotion(shop, promo.Promotion{Code: "AUTO", Percent: 10, Budget: 1000})
	w.expect(alice, "LEAVE AUTO", "")
	got := w.sms(alice, "PAY SHOP42 10 1234")[alice]
	if len(got) != 1 || strings.Contains(got[0], "Offer AUTO") {
		t.Errorf("after LEAVE AUTO the member still gets it: %q", got)
	}
}

// A promotion with a code and an audience: the code does not widen the audience.
func TestLoyaltyEdgeCodePromotionIgnoresAudience(t *testing.T) {
	w, shop := promoWorld(t)
	w.promotion(shop, promo.Promotion{Code: "GOLDONLY", Fixed: 200, Budget: 1000, WithCode: true, Audience: `level == "gold"`})
	t.Logf("OFFERS to a base-level member: %q", w.sms(alice, "OFFERS")[alice])
	got := w.sms(alice, "PAY SHOP42 10 GOLDONLY 1234")[alice]
	if len(got) != 1 || strings.Contains(got[0], "Offer GOLDONLY") {
		t.Errorf("a base-level member got a gold-only promotion with its code: %q", got)
	}
}

// A wallet holding MaxLots lots never refuses a payment: it earns nothing more (counted).
func TestLoyaltyEdgeTooManyLotsBlocksPayments(t *testing.T) {
	w, _ := pointsWorld(t)
	w.e.cfg.Loyalty.ExpiryMonths = 120
	for i := 0; i < 64; i++ {
		w.expect(alice, fmt.Sprintf("PAY SHOP42 1 INV%d 1234", i), "Paid")
		w.advance(31 * 24 * time.Hour)
	}
	got := w.sms(alice, "PAY SHOP42 1 LAST 1234")[alice]
	if len(got) != 1 || !strings.Contains(got[0], "Paid") {
		t.Errorf("the 65th month's payment: %q", got)
	}
}

// A payment all in points: CHECK and the merchant's view name what it paid and to whom.
func TestLoyaltyEdgePointsOnlyPaymentViews(t *testing.T) {
	w, shop := pointsWorld(t)
	w.expect(alice, "PAY SHOP42 100 1234", "+100 pts")
	w.outbox()
	out := w.sms(alice, "REDEEM SHOP42 0.40 1234")
	t.Logf("replies: %q", out)
	id := w.lastPaymentOf(shop, 40)
	p, err := w.e.GetPayment(shop, id)
	t.Logf("record: %+v err %v view %+v", p, err, w.e.View(p))
	rc := regexp.MustCompile(`Receipt (\S+)`).FindStringSubmatch(out[alice][0])[1]
	if got := w.sms(bob, "CHECK "+rc)[bob]; len(got) != 1 || !strings.Contains(got[0], "0.40 EUR to Corner Shop") {
		t.Errorf("CHECK of a payment all in points: %q", got)
	}
	if v := w.e.View(p); v.Receipt != rc || v.Points == nil || v.Points.Worth != "0.40" {
		t.Errorf("the merchant's view: %+v", v)
	}
}

// An operator's reversal by the receipt of a payment all in points reverses the payment
// (points back once, the wallet with them), and no refund follows it.
func TestLoyaltyEdgeReversePointsOnlyByReceipt(t *testing.T) {
	w, shop := pointsWorld(t)
	w.expect(alice, "PAY SHOP42 100 1234", "+100 pts")
	r := w.expect(alice, "REDEEM SHOP42 0.40 1234", "Paid with 40 pts")
	rc := regexp.MustCompile(`Receipt (\S+)`).FindStringSubmatch(r)[1]
	found, err := w.e.Find(rc, "")
	if err != nil || len(found) != 1 {
		t.Fatal(found, err)
	}
	t.Logf("the receipt names: code %d amount %d", found[0].Transfer.Code, found[0].Transfer.Amount)
	if _, err := w.e.Reverse(context.Background(), "op", found[0].Transfer); err != nil {
		t.Fatalf("reverse by the receipt: %v", err)
	}
	id := w.lastPaymentOf(shop, 40)
	if _, _, _, err := w.e.RefundPayment(context.Background(), RefundRequest{Merchant: shop, PaymentID: id, Actor: "shop"}); err == nil {
		t.Error("refunded after it was reversed")
	}
	if got := w.points(alice); got != 100 { // fails too if the ledger and the wallet disagree
		t.Errorf("%d points, want the 40 back once", got)
	}
}

// A member erased while his wallet is filed in the due index: the sweep goes on.
func TestLoyaltyEdgeErasedMemberInPointsIndex(t *testing.T) {
	w, _ := pointsWorld(t)
	ctx := context.Background()
	w.e.cfg.Loyalty.ExpiryMonths = 120
	w.expect(alice, "PAY SHOP42 25 1234", "+25 pts")
	if _, err := w.e.RequestErasure(ctx, "op", alice, false); err != nil {
		t.Fatal(err)
	}
	w.advance(5*366*24*time.Hour + 48*time.Hour)
	if n, err := w.e.EraseDue(ctx); err != nil || n != 1 {
		t.Fatalf("erase due: %d %v", n, err)
	}
	w.advance(6 * 365 * 24 * time.Hour)
	if _, err := w.e.ExpirePoints(ctx); err != nil {
		t.Errorf("the sweep fails: %v", err)
	}
	if recs, _ := w.l.ProfilesFrom(keyPointsDue, "", 10); len(recs) != 0 {
		t.Errorf("due entries left after the sweep: %d", len(recs))
	}
}

// YES to a texted PAY above confirm_above when earning fails (a wallet at MaxLots): the
// money and its record move together.
func TestLoyaltyEdgeConfirmedPayWhenEarnFails(t *testing.T) {
	w := newWorldWith(t, nil, 5000)
	w.e.cfg.Loyalty = &loyalty.Programme{Rules: []loyalty.Rule{{PerUnit: 1}}, ExpiryMonths: 120, Exponent: 2, Location: time.UTC}
	w.expect(alice, "REG 1234 Alice", "Welcome")
	w.topup(alice, 50000, 2)
	shop := w.l.AccountsOf("SHOP42")[0].ID
	for i := 0; i < 64; i++ {
		w.expect(alice, fmt.Sprintf("PAY SHOP42 1 INV%d 1234", i), "Paid")
		w.advance(31 * 24 * time.Hour)
	}
	before := w.available("SHOP42")
	ask := w.expect(alice, "PAY SHOP42 60 BIG 1234", "YES")
	got := w.sms(alice, "YES "+sixDigits.FindStringSubmatch(ask)[1])
	t.Logf("YES: %q", got[alice])
	rec := w.lastPayment(shop)
	t.Logf("shop got %d; the record: %s amount %d", w.available("SHOP42")-before, rec.State, rec.Amount)
	if w.available("SHOP42")-before == 6000 && rec.State != domain.PaymentCompleted {
		t.Errorf("the money moved, the record says %s", rec.State)
	}
	w.advance(time.Hour)
	n, err := w.e.ExpirePayments(context.Background())
	got2, _ := w.e.GetPayment(shop, rec.ID)
	t.Logf("after the expiry sweep (%d, %v): %s", n, err, got2.State)
}

// A merchant's own rule cannot print points other merchants must take: it is bounded by
// loyalty.merchant_max_per_unit.
func TestLoyaltyEdgeMerchantRuleMintsPointsOthersHonour(t *testing.T) {
	w, _ := pointsWorld(t)
	ctx := context.Background()
	res, err := w.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP99", Name: "Mint"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.e.SetMerchantLoyalty(ctx, res.Accounts[0].ID, MerchantLoyalty{PerUnit: 1000}, "mint"); err == nil {
		t.Fatal("a merchant's own rule printed 1000 points per 1.00 that other merchants must take")
	}
}

// Partial refunds of a payment with points: each once, all at the end.
func TestLoyaltyEdgePartialRefundsWithPoints(t *testing.T) {
	w, shop := pointsWorld(t)
	ctx := context.Background()
	w.expect(alice, "PAY SHOP42 100 1234", "+100 pts")
	w.expect(alice, "PAY SHOP42 12.50 1234 PTS", "+11 pts")
	id := w.lastPayment(shop).ID
	for _, a := range []uint64{383, 1, 383, 383} {
		p, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: id, Amount: a, Actor: "shop"})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("refunded %d: %+v", p.Refunded, *p.Points)
	}
	if got := w.points(alice); got != 100 {
		t.Errorf("%d points", got)
	}
	w.verify()
}

// walletBumper is the books with a member texting at the worst moment: the first job that
// writes his points wallet finds it changed just before (another of his payments).
type walletBumper struct {
	Ledger
	e      *Engine
	number string
	once   sync.Once
}

func (b *walletBumper) Submit(ctx context.Context, job domain.Job) (domain.Result, error) {
	for _, p := range job.Profiles {
		if p.Owner == keyWallet+b.number {
			b.once.Do(func() {
				var w loyalty.Wallet
				ver, _, _ := b.e.record(keyWallet+b.number, &w)
				w.Last++ // a change of his, committed first
				b.Ledger.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(keyWallet+b.number, w, ver)}})
			})
		}
	}
	return b.Ledger.Submit(ctx, job)
}

// An mDebit the bank approved while its payer's wallet moved: the approval is recorded (with
// its points) in the same round, not taken for another worker's.
func TestLoyaltyEdgeBankApprovalWhileTheWalletMoves(t *testing.T) {
	w, _ := debitWorldTiers(t, nil)
	w.e.cfg.Loyalty = &loyalty.Programme{Rules: []loyalty.Rule{{PerUnit: 1}}, ExpiryMonths: 24, Exponent: 2, Location: time.UTC}
	p := w.debitAndConfirm("20")
	bumper := &walletBumper{Ledger: w.l, number: alice}
	worker := NewAdmin(w.e.cfg, bumper)
	bumper.e = worker
	worker.SetBank(w.e.bank)
	done, err := worker.BankStep(context.Background(), p.ID)
	if err != nil || !done {
		t.Fatalf("one round: done %v, %v", done, err)
	}
	got, _ := w.e.GetPayment(0, p.ID)
	if got.State != domain.PaymentCompleted || got.Points == nil || got.Points.Earned != 20 {
		t.Fatalf("after the round: %s %+v", got.State, got.Points)
	}
	w.points(alice)
}
