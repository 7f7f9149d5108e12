package ledgertest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
)

var testTiers = map[uint8]domain.TierLimits{
	1: {PerPayment: 1000, Daily: 3000, MaxBalance: 5000},
	2: {PerPayment: 10000, Daily: 50000, MaxBalance: 100000},
}

type rulesWorld struct {
	l                              Ledger
	store                          Store
	cfg                            Config
	clock                          *atomic.Int64
	float, a, b, shop, escrow, fee uint64
}

func newRulesWorld(t *testing.T, open Opener) *rulesWorld {
	t.Helper()
	w := &rulesWorld{clock: &atomic.Int64{}}
	w.clock.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	w.cfg = Config{Tiers: testTiers, Tuning: Tuning{CheckpointEvery: time.Hour}, Now: func() time.Time { return time.Unix(0, w.clock.Load()) }, ExpiryEvery: 5 * time.Millisecond}
	w.l, w.store = open(t, w.cfg)
	l := w.l
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33611110001", Tier: 1},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33611110002", Tier: 1},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindEscrow, Owner: "@escrow"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFees, Owner: "@fees"},
	)
	w.float, w.a, w.b, w.shop, w.escrow, w.fee = acc[0].ID, acc[1].ID, acc[2].ID, acc[3].ID, acc[4].ID, acc[5].ID
	return w
}

// concurrently submits n jobs at once and returns the errors.
func concurrently(l Ledger, n int, job func(i int) domain.Job) []error {
	return eitherDaemon(l, l, n, job)
}

func count(errs []error, target error) (ok, matched int) {
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, target):
			matched++
		}
	}
	return ok, matched
}

// MaxBalanceHeldUnderConcurrentCredits: a tier's maximum balance holds under racing top-ups,
// pending credits included.
func MaxBalanceHeldUnderConcurrentCredits(t *testing.T, open Opener) {
	w := newRulesWorld(t, open)
	// 16 top-ups of 10.00 at once into a purse that may hold 50.00: exactly 5 land.
	errs := concurrently(w.l, 16, func(int) domain.Job { return domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 1000)}} })
	if ok, refused := count(errs, domain.ErrLimitBalance); ok != 5 || refused != 11 {
		t.Fatalf("%d credited, %d refused for the maximum balance; want 5 and 11 (%v)", ok, refused, errs)
	}
	acc, _ := w.l.Account(w.a)
	if acc.Available() != 5000 {
		t.Fatalf("purse holds %d, its tier allows 5000", acc.Available())
	}
	// Money on its way in counts: a pending credit leaves no room for a top-up.
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.b, 4000)}})
	if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: w.float, Credit: w.b, Amount: 1000, Flags: domain.Pending}}}); err != nil {
		t.Fatal(err)
	}
	_, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.b, 1)}})
	var ref *domain.RefusedError
	if !errors.As(err, &ref) || ref.Reason != domain.ErrLimitBalance || ref.Room != 0 {
		t.Fatalf("credit over a pending one: %v", err)
	}
	mustVerify(t, w.l)
}

// DailyAndPerPaymentLimitsUnderConcurrentDebits: a tier's per-payment and rolling 24-hour
// limits hold under racing payments; a fee is exempt.
func DailyAndPerPaymentLimitsUnderConcurrentDebits(t *testing.T, open Opener) {
	w := newRulesWorld(t, open)
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 5000)}})
	_, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{transfer(w.a, w.shop, 1001)}})
	var ref *domain.RefusedError
	if !errors.As(err, &ref) || ref.Reason != domain.ErrLimitPerPayment || ref.Room != 1000 {
		t.Fatalf("above the per-payment limit: %v", err)
	}
	// 16 payments of 10.00 at once against a 30.00 daily limit: exactly 3 pass.
	errs := concurrently(w.l, 16, func(int) domain.Job { return domain.Job{Transfers: []domain.Transfer{transfer(w.a, w.shop, 1000)}} })
	if ok, refused := count(errs, domain.ErrLimitDaily); ok != 3 || refused != 13 {
		t.Fatalf("%d paid, %d refused for the daily limit; want 3 and 13", ok, refused)
	}
	// A fee is exempt from the limits, not from the balance.
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: w.a, Credit: w.fee, Amount: 50, Flags: domain.Exempt}}})
	// The window is 24 hours exactly: a nanosecond before, the spends still count.
	w.clock.Add(int64(domain.SpendWindow) - 1)
	if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{transfer(w.a, w.shop, 10)}}); !errors.Is(err, domain.ErrLimitDaily) {
		t.Fatalf("23:59:59.999999999 later: %v", err)
	}
	w.clock.Add(int64(time.Millisecond))
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{transfer(w.a, w.shop, 1000)}})
	mustVerify(t, w.l)
}

// ReservationCountsUntilReleased: a reservation counts in the daily window until voided or
// expired, a partial post keeps what it took, and the window survives a replay and a restart.
func ReservationCountsUntilReleased(t *testing.T, open Opener) {
	w := newRulesWorld(t, open)
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 5000)}})
	pend := func(amount uint64, timeout time.Duration) domain.ID {
		id := domain.NewID()
		mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{{ID: id, Debit: w.a, Credit: w.shop, Amount: amount, Flags: domain.Pending, Timeout: timeout}}})
		return id
	}
	p1, p2 := pend(1000, time.Minute), pend(1000, 0)
	pend(1000, 0)
	if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{transfer(w.a, w.shop, 1)}}); !errors.Is(err, domain.ErrLimitDaily) {
		t.Fatalf("three reservations fill the daily limit: %v", err)
	}
	// A void gives the room back; so does an expiry.
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: p2, Flags: domain.VoidPending}}})
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{transfer(w.a, w.shop, 1000)}})
	w.clock.Add(int64(2 * time.Minute))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := w.l.Transfer(domain.ExpiryID(p1)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reservation never expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A partial post keeps only what it took in the window.
	p4 := pend(1000, 0)
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: p4, Flags: domain.PostPending, Amount: 400}}})
	// A purse blocked meanwhile: its reservation cannot be posted, only released.
	p3 := pend(500, 0)
	mustSubmit(t, w.l, domain.Job{Status: []domain.StatusChange{{Account: w.a, Status: domain.StatusBlocked}}})
	if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: p3, Flags: domain.PostPending}}}); !errors.Is(err, domain.ErrAccountBlocked) {
		t.Fatalf("post from a blocked purse: %v", err)
	}
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: p3, Flags: domain.VoidPending}}})
	mustSubmit(t, w.l, domain.Job{Status: []domain.StatusChange{{Account: w.a, Status: domain.StatusActive}}})
	before, _ := w.l.Account(w.a)
	// A copy taken while serving has older checkpoint records: opening it replays the
	// journal, which must rebuild the window exactly (Counted marks what counted).
	if w.store.Copy != nil {
		replayed := w.store.Copy(t, w.l, w.cfg)
		ra, _ := replayed.Account(w.a)
		if got := domain.SpentSince(ra.Spends, w.clock.Load()); got != 2400 {
			t.Fatalf("spent after replay %d, want 2000 (%+v)", got, ra.Spends)
		}
		replayed.Close()
	}
	// The window survives a restart as it was.
	w.l.Close()
	l := w.store.Reopen(t, w.cfg)
	w.l = l
	after, _ := l.Account(w.a)
	if got, want := domain.SpentSince(after.Spends, w.clock.Load()), domain.SpentSince(before.Spends, w.clock.Load()); got != want || got != 2400 {
		t.Fatalf("spent after reopen %d, before %d, want 2400", got, want)
	}
	mustVerify(t, l)
}

// HoldsIndexedByPayee: money held for a number is listed by it, at most MaxHoldsPerOwner
// (default 8) under racing holds.
func HoldsIndexedByPayee(t *testing.T, open Opener) {
	w := newRulesWorld(t, open)
	w.l.Close()
	w.cfg.Tiers = map[uint8]domain.TierLimits{1: {MaySend: true}} // no limits: this test is about the holds
	l := w.store.Reopen(t, w.cfg)
	w.l = l
	mustSubmit(t, l, domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 100000)}})
	const payee = "+33699990000"
	errs := concurrently(l, 12, func(int) domain.Job {
		return domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: w.a, Credit: w.escrow, Amount: 100, Flags: domain.Pending, For: payee}}}
	})
	if ok, refused := count(errs, domain.ErrTooManyHolds); ok != 8 || refused != 4 {
		t.Fatalf("%d held, %d refused; want 8 and 4", ok, refused)
	}
	holds, err := l.HoldsFor(payee)
	if err != nil || len(holds) != 8 {
		t.Fatalf("HoldsFor: %d %v", len(holds), err)
	}
	// Claiming one removes that one only.
	mustSubmit(t, l, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: holds[3].ID, Flags: domain.PostPending}}})
	left, _ := l.HoldsFor(payee)
	if len(left) != 7 {
		t.Fatalf("%d holds left, want 7", len(left))
	}
	for _, h := range left {
		if h.ID == holds[3].ID {
			t.Fatal("the claimed hold is still listed")
		}
	}
	if _, err := l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: w.a, Credit: w.escrow, Amount: 1, For: payee}}}); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("a single transfer holding money: %v", err)
	}
	mustVerify(t, l)
}

// TierThatMayNotSend: a tier that may not send pays merchants only.
func TierThatMayNotSend(t *testing.T, open Opener) {
	w := newRulesWorld(t, open) // tier 1 may not send; tier 2 in testTiers neither
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 3000)}})
	for _, tr := range []domain.Transfer{transfer(w.a, w.b, 100), {ID: domain.NewID(), Debit: w.a, Credit: w.escrow, Amount: 100, Flags: domain.Pending, For: "+33699990000"}} {
		if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{tr}}); !errors.Is(err, domain.ErrTierCannotSend) {
			t.Fatalf("%+v: %v", tr, err)
		}
	}
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{transfer(w.a, w.shop, 100)}}) // a merchant: yes
}

// TierChangeAndSystemAccounts: a tier change takes effect and survives a restart; system
// accounts are one per kind and currency, and no sender opens one.
func TierChangeAndSystemAccounts(t *testing.T, open Opener) {
	w := newRulesWorld(t, open)
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 5000)}})
	if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 1)}}); !errors.Is(err, domain.ErrLimitBalance) {
		t.Fatal(err)
	}
	mustSubmit(t, w.l, domain.Job{Tiers: []domain.TierChange{{Account: w.a, Tier: 2}}})
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 20000)}})
	if _, err := w.l.Submit(context.Background(), domain.Job{Tiers: []domain.TierChange{{Account: w.a, Tier: 9}}}); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("unknown tier: %v", err)
	}
	// A sender named like a system account opens nothing, and finds nothing by that name.
	if _, err := w.l.Submit(context.Background(), domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindPurse, Owner: "@float"}}}); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("purse owned by @float: %v", err)
	}
	if _, err := w.l.Submit(context.Background(), domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float2"}}}); !errors.Is(err, domain.ErrAccountExists) {
		t.Fatalf("second EUR float: %v", err)
	}
	w.l.Close()
	l := w.store.Reopen(t, w.cfg)
	w.l = l
	if a, _ := l.Account(w.a); a.Tier != 2 {
		t.Fatalf("tier after reopen %d", a.Tier)
	}
	if f, err := l.System(domain.KindFloat, "EUR"); err != nil || f.ID != w.float {
		t.Fatalf("System(float): %v %+v", err, f)
	}
	if _, err := l.System(domain.KindFloat, "XOF"); !errors.Is(err, domain.ErrAccountNotFound) {
		t.Fatalf("System(float, XOF): %v", err)
	}
	mustVerify(t, l)
}
