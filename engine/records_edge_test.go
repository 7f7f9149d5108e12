package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
)

var bigTiers = map[uint8]Limits{1: {PerTx: 1000000, Daily: 1 << 40, MaxBalance: 1 << 40}, 2: {PerTx: 1000000, Daily: 1 << 40, MaxBalance: 1 << 40, CanSend: true}}

// ExpirePayments reads only the first 1000 entries of the open index. Held SENDs stay
// open for the whole claim window (days), so 1000 unclaimed SENDs keep every later
// merchant request / checkout / own confirmation from ever expiring.
func TestManyHeldSendsDoNotStopOtherExpiries(t *testing.T) {
	w := newWorldTiers(t, bigTiers)
	ctx := context.Background()
	shop := w.l.AccountsOf("SHOP42")[0].ID
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 10000000, 2)
	for i := range 1000 {
		if err := w.e.Handle(ctx, Inbound{From: alice, To: "1234", Text: fmt.Sprintf("SEND +3361%07d 1 739164", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := w.l.ProfilesFrom(keyOpen, "", 1000); len(n) != 1000 {
		t.Fatalf("open entries %d", len(n))
	}
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	w.advance(time.Hour) // the request's 15 minutes are long gone; the SENDs' 48 h are not
	n, err := w.e.ExpirePayments(ctx)
	got, _ := w.e.GetPayment(shop, p.ID)
	if err != nil || n != 1 {
		t.Fatalf("expired %d %v", n, err)
	}
	if got.State != domain.PaymentExpired {
		t.Fatalf("request an hour past its 15 minutes is still %s", got.State)
	}
}

// lagWorld is a world whose ledger commits lag after the engine read the clock.
func lagWorld(t *testing.T) (*world, *atomic.Int64) {
	lag := new(atomic.Int64)
	return newWorldLag(t, bigTiers, 0, lag), lag
}

// TestHeldRecordAndLedgerEndTheSameWay: the ledger's hold lives from its commit, a moment
// after the turn read the clock; the record waits for it (heldMargin), and a claim after the
// record's deadline is refused by the ledger: the record and the money never disagree.
func TestHeldRecordAndLedgerEndTheSameWay(t *testing.T) {
	w, lag := lagWorld(t)
	ctx := context.Background()
	const carol = "+33611111111"
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 10000, 2)
	lag.Store(int64(50 * time.Millisecond)) // the SEND's job commits 50 ms after its turn read the clock
	w.expect(alice, "SEND 0611111111 20 739164", "held")
	lag.Store(0)
	escrow := w.l.AccountsOf("@escrow")[0].ID
	ps, _, _ := w.e.ListPayments(escrow, PaymentFilter{})
	id := ps[0].ID
	w.advance(48*time.Hour + 10*time.Millisecond)
	if n, err := w.e.ExpirePayments(ctx); n != 0 || err != nil {
		t.Fatalf("expired %d %v before the ledger released the hold", n, err)
	}
	w.sms(carol, "REG 135790 Carol")
	if p, _, _ := w.e.payment(id); p.State != domain.PaymentHeld || w.available(carol) != 0 {
		t.Fatalf("claimed after the record's deadline: %s, carol %d", p.State, w.available(carol))
	}
	w.advance(heldMargin)
	if n, err := w.e.ExpirePayments(ctx); n != 1 || err != nil {
		t.Fatalf("expired %d %v", n, err)
	}
	for deadline := time.Now().Add(5 * time.Second); w.available(alice) != 10000; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the ledger did not give the hold back: alice %d", w.available(alice))
		}
	}
	if p, _, _ := w.e.payment(id); p.State != domain.PaymentExpired || w.available(carol) != 0 {
		t.Fatalf("record %s, carol %d", p.State, w.available(carol))
	}
}

// two first refunds of one payment computed from the same read (racing API calls, or a
// refund racing a reversal) derive the same transfer id giveBackID(p, 0, 0) with different
// bodies: the loser is refused ErrIDReused (checked before the record's version), which
// RefundPayment does not retry: the merchant gets an error for a refund the cap allows.
func TestRacingFirstRefundsAreComputedAgain(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	w.expect(alice, "PAY SHOP42 9 A1 739164", "Paid 9.00 EUR")
	p0 := w.lastPayment(shop)
	a, va, _ := w.e.merchantPayment(shop, p0.ID)
	b, vb, _ := w.e.merchantPayment(shop, p0.ID)
	_, ja, err := w.e.giveBack(&a, va, RefundRequest{Merchant: shop, PaymentID: p0.ID, Amount: 100, Kind: domain.RefundByMerchant})
	if err != nil {
		t.Fatal(err)
	}
	_, jb, err := w.e.giveBack(&b, vb, RefundRequest{Merchant: shop, PaymentID: p0.ID, Amount: 200, Kind: domain.RefundByMerchant})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.l.Submit(ctx, ja); err != nil {
		t.Fatal(err)
	}
	_, err = w.l.Submit(ctx, jb)
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a refund computed from a stale record: %v, want a conflict", err)
	}

	// The same through the API entry point, racing.
	w.sms(alice, "PAY SHOP42 9 A2 739164")
	p1 := w.lastPayment(shop)
	other, _ := New(w.e.cfg, w.l)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := []*Engine{w.e, other}[i%2]
			_, _, _, err := e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p1.ID, Amount: uint64(10 + i), Actor: "key"})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if p, _ := w.e.GetPayment(shop, p1.ID); len(errs) > 0 || len(p.Refunds) != 8 || p.Refunded != 10+11+12+13+14+15+16+17 {
		t.Fatalf("racing refunds within the cap: errors %v, record %d refunds, %d", errs, len(p.Refunds), p.Refunded)
	}
}

// requestPaidBy reads at most 2000 of the merchant's payments from the hour before: a
// busy merchant's legacy request is not found, Reverse falls back to a bare reversal of the
// whole transfer, and a payment refunded 1.50 is given back 4.50 more (6.00 on 4.50).
func TestRequestPaidBeforeOneIdBehindABusyHour(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	w.expect(alice, "PAY SHOP42 20 SALE 739164", "Paid")       // the shop has money of other sales
	w.expiredCheckouts(shop, 2000, w.now.Add(-30*time.Minute)) // 2000 payments in the half hour before
	p, tr := w.oldRequest(shop)
	before := w.available(alice)
	if _, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 150}); err != nil {
		t.Fatal(err)
	}
	stored, _ := w.l.Transfer(tr.ID)
	rev, err := w.e.Reverse(ctx, "care", stored)
	t.Logf("reversal %d %v; given back in all %d on 450", rev.Amount, err, w.available(alice)-before)
	if w.available(alice)-before > 450 {
		t.Fatalf("given back %d on a 4.50 payment", w.available(alice)-before)
	}
}

// a SEND above the confirmation threshold is held under a derived id (sha256, not
// time-ordered): its record sorts at a random time in the payee's list, so a date filter
// misses it (and it takes a random place in the open index).
func TestConfirmedHeldSendSortsByItsTime(t *testing.T) {
	w := newWorldWith(t, bigTiers, 500)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 100000, 2)
	from := time.Now().Add(-time.Hour).UnixNano()
	missing := 0
	for i := range 6 {
		carol := fmt.Sprintf("+3361111111%d", i)
		got := w.sms(alice, fmt.Sprintf("SEND %s 20 739164", carol))
		code := sixDigits.FindStringSubmatch(got[alice][0])[1]
		w.sms(alice, "YES "+code)
		w.sms(carol, "REG 135790 Carol")
		purse := w.l.AccountsOf(carol)[0].ID
		all, _, _ := w.e.ListPayments(purse, PaymentFilter{})
		today, _, _ := w.e.ListPayments(purse, PaymentFilter{From: from, To: time.Now().Add(time.Hour).UnixNano()})
		if len(all) != 1 {
			t.Fatalf("carol's list %d", len(all))
		}
		pid, _ := domain.ParseID(all[0].ID)
		t.Logf("claimed SEND %s: time in id %s; in the last hour's list: %d", all[0].ID, time.Unix(0, int64(binaryTime(pid))).UTC(), len(today))
		if len(today) != 1 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of 6 SENDs claimed just now are not in the list of the last hour", missing)
	}
}

// the webhook-settings cache keeps an entry for every payee account ever paid (every
// SEND's payee purse included), forever.
func TestWebhookSettingsKeptOnlyForMerchants(t *testing.T) {
	w := newWorldTiers(t, bigTiers)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 100000, 2)
	for i := range 20 {
		n := fmt.Sprintf("+3362%07d", i)
		w.expect(n, "REG 246810", "Welcome")
		w.sms(alice, fmt.Sprintf("SEND %s 1 739164", n))
	}
	w.advance(time.Hour)
	c := 0
	w.e.hooks.Range(func(_, _ any) bool { c++; return true })
	t.Logf("cache entries %d", c)
	if c > 1 {
		t.Fatalf("%d cached settings for subscribers' purses", c)
	}
}

// a reference filter over more than maxListScan payments without it answers an empty
// page and no cursor: the texted payment INV77 exists but the merchant is told there is none.
func TestReferenceFilterPastTheScanBoundGivesACursor(t *testing.T) {
	w, shop := merchantWorld(t)
	w.expiredCheckouts(shop, maxListScan+1, time.Now().Add(-2*time.Hour))
	w.expect(alice, "PAY SHOP42 3 INV77 739164", "Paid 3.00 EUR")
	out, next, err := w.e.ListPayments(shop, PaymentFilter{Reference: "INV77"})
	t.Logf("found %d, next %q, err %v", len(out), next, err)
	if len(out) == 0 && next == "" {
		t.Fatalf("INV77 is not found and the list says it is complete")
	}
}
