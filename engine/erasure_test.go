package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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

// TestErasureAskedBySMS: ERASE <pin> says what it does and texts a code; NO, a code out of
// time or a blocked purse change nothing; YES <code> closes and pays out the purse, stops
// offers and files the erasure in one job, once even when the SMSC delivers it twice.
func TestErasureAskedBySMS(t *testing.T) {
	w := newWorldWith(t, nil, 4000)
	ctx := context.Background()
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 2)
	w.expect(alice, "PROMO ON", "")
	code := func(reply string) string {
		t.Helper()
		m := sixDigits.FindStringSubmatch(reply[strings.Index(reply, "YES"):])
		if m == nil {
			t.Fatalf("no code in %q", reply)
		}
		return m[1]
	}
	ask := w.expect(alice, "ERASE 739164", "ERASE closes your e-purse (50.00 EUR paid out) and stops offers; the law keeps your payments 5 years")
	w.expect(alice, "NO "+code(ask), "")
	late := w.expect(alice, "EFFACER 739164", "EFFACER ferme votre porte-monnaie")
	late = sixDigits.FindStringSubmatch(late[strings.Index(late, "OUI"):])[1]
	w.advance(6 * time.Minute)
	w.expect(alice, "YES "+late, "expired")
	if a := w.l.AccountsOf(alice)[0]; a.Status != domain.StatusActive || a.Available() != 5000 {
		t.Fatalf("nothing should have changed: %+v", a)
	}

	// A SEND waiting for its YES: the erasure waits for it.
	held := w.expect(alice, "SEND "+bob+" 45 739164", "YES")
	w.expect(alice, "erase 739164", "still waiting")
	w.expect(alice, "NO "+code(held), "")

	// Blocked: only an operator can erase. Once unblocked, the same text runs again.
	w.expect(alice, "BLOCK", "")
	w.expect(alice, "Erase 739164", "blocked")
	if _, err := w.l.Submit(ctx, domain.Job{Status: []domain.StatusChange{{Account: w.l.AccountsOf(alice)[0].ID, Status: domain.StatusActive}}}); err != nil {
		t.Fatal(err)
	}
	w.outbox()

	yes := "YES " + code(w.expect(alice, "Erase 739164", "YES"))
	got := w.expect(alice, yes, "Your e-purse is closed; 50.00 EUR was paid out to you. No more offers. Your data will be erased on 25/11/2031")
	w.sms(alice, yes) // the SMSC delivers it again
	a := w.l.AccountsOf(alice)[0]
	if a.Status != domain.StatusClosed || a.CreditsPosted != a.DebitsPosted {
		t.Fatalf("purse after YES: %+v (%s)", a, got)
	}
	if f, _ := w.l.Account(w.float); f.CreditsPosted != 5000 {
		t.Fatalf("paid out %d, want 5000 once", f.CreditsPosted)
	}
	if cs, _ := w.e.Consents(alice); len(cs) != 2 || cs[1].Granted || cs[1].Channel != ConsentSMS {
		t.Fatalf("offers not stopped by the erasure: %+v", cs)
	}
	if rs, _ := w.l.ProfilesFrom(keyErasure, "", 10); len(rs) != 1 {
		t.Fatalf("erasure filed %d times", len(rs))
	}
	w.advance(5*366*24*time.Hour + time.Hour)
	if n, err := w.e.EraseDue(ctx); n != 1 || err != nil {
		t.Fatalf("erasure due: %d %v", n, err)
	}
	if len(w.l.AccountsOf(alice)) != 0 {
		t.Fatal("the number still finds him after the retention")
	}
}

// TestErasureYESRacesAPaymentIn: money paid into the purse while the YES that closes it is
// committed is never left in a closed purse: the close is computed again from the new
// balance, or the payment in is refused.
func TestErasureYESRacesAPaymentIn(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 2)
	w.expect(bob, "REG 246810 Bob", "Welcome")
	w.topup(bob, 5000, 2)
	yes := "YES " + sixDigits.FindStringSubmatch(w.expect(alice, "ERASE 739164", "YES"))[1]
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.handle(bob, fmt.Sprintf("SEND %s 1.0%d 246810", alice, i))
		}()
	}
	w.handle(alice, yes)
	wg.Wait()
	a := w.l.AccountsOf(alice)[0]
	if a.Status != domain.StatusClosed || a.CreditsPosted != a.DebitsPosted || a.DebitsPending+a.CreditsPending != 0 {
		t.Fatalf("closed purse with money in it: %+v", a)
	}
	if rep, err := w.l.Verify(context.Background(), nil); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// TestErasureAskedTwiceIsFiledOnce: asking again before the retention ends does nothing
// again and says when the erasure is due; an export of a number nobody holds is refused.
func TestErasureAskedTwiceIsFiledOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.expect(alice, "REG 739164 Alice", "Welcome")
	first, err := w.e.RequestErasure(ctx, "op", alice, false)
	if err != nil || first.Already {
		t.Fatalf("first: %+v %v", first, err)
	}
	w.advance(time.Hour)
	again, err := w.e.RequestErasure(ctx, "op", alice, false)
	if err != nil || !again.Already || !again.Due.Equal(first.Due) {
		t.Fatalf("again: %+v %v", again, err)
	}
	if rs, _ := w.l.ProfilesFrom(keyErasure, "", 10); len(rs) != 1 {
		t.Fatalf("filed %d times", len(rs))
	}
	if _, err := w.e.ExportFor(ctx, "op", "+33600000000"); !errors.Is(err, ErrNoPerson) {
		t.Fatalf("export of nobody: %v", err)
	}
}
