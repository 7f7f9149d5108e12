package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mpg/domain"
	"mpg/ledger"
)

// TestErasureWaitsForTheRetentionThenIsForGood: an erasure closes the purse and stops offers
// at once, keeps the books readable for the retention, then makes the person unreadable:
// his number finds nothing, his accounts and payment records name nobody, and the books
// still verify.
func TestErasureWaitsForTheRetentionThenIsForGood(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.expect(alice, "REG 739164 Alice Planted", "Welcome Alice")
	w.topup(alice, 5000, 2)
	w.expect(alice, "PROMO ON", "")
	w.expect(alice, "PAY SHOP42 3 INV77 739164", "Paid 3.00 EUR")
	p := w.refund(w.paymentsOf("SHOP42", domain.KindMerchant)[0], 100) // the record is written whole
	purse := w.l.AccountsOf(alice)[0].ID
	if p.MSISDN != alice {
		t.Fatalf("the refunded payment's record: %+v", p)
	}

	er, err := w.e.RequestErasure(ctx, "op", alice, false)
	if err != nil || er.Done || er.Paid != 5000-300+100 || !er.Due.Equal(w.now.AddDate(5, 0, 0)) {
		t.Fatalf("erasure asked: %+v %v", er, err)
	}
	if a, _ := w.l.Account(purse); a.Status != domain.StatusClosed || a.Owner != alice || a.Name != "Alice Planted" {
		t.Fatalf("during the retention the books still name him: %+v", a)
	}
	if cs, _ := w.e.Consents(alice); len(cs) != 2 || cs[1].Granted {
		t.Fatalf("offers not stopped: %+v", cs)
	}
	if n, err := w.e.EraseDue(ctx); n != 0 || err != nil {
		t.Fatalf("erased before the retention ended: %d %v", n, err)
	}

	w.advance(5*365*24*time.Hour + 48*time.Hour)
	if n, err := w.e.EraseDue(ctx); n != 1 || err != nil {
		t.Fatalf("erasures due: %d %v", n, err)
	}
	a, _ := w.l.Account(purse)
	if !ledger.IsParty(a.Owner) || a.Name != "" {
		t.Fatalf("the erased purse still names him: %+v", a)
	}
	if len(w.l.AccountsOf(alice)) != 0 {
		t.Fatal("his number still finds his accounts")
	}
	if got, _, _ := w.e.payment(p.ID); got.MSISDN != "" || got.Refunded != 100 {
		t.Fatalf("the payment record after erasure: %+v", got)
	}
	if cs, _ := w.e.Consents(alice); len(cs) != 0 {
		t.Fatalf("consents kept: %+v", cs)
	}
	log, _ := w.l.AuditLog(50, 0)
	for _, e := range log {
		if strings.Contains(e.Actor+e.Detail, alice) {
			t.Fatalf("the audit log still names him: %+v", e)
		}
	}
	if rep, err := w.l.Verify(ctx, nil); err != nil || !rep.OK() {
		t.Fatalf("verify after erasure: %v %+v", err, rep)
	}
	// The sweep finishes the request; asking again finds nobody.
	if n, err := w.e.EraseDue(ctx); n != 0 || err != nil {
		t.Fatalf("second sweep: %d %v", n, err)
	}
	if rs, _ := w.l.ProfilesFrom(keyErasure, "", 10); len(rs) != 0 {
		t.Fatalf("erasure records left: %+v", rs)
	}
	if _, err := w.e.RequestErasure(ctx, "op", alice, true); !errors.Is(err, ErrNoPerson) {
		t.Fatalf("erasing again: %v", err)
	}
}
