package ledgertest

import (
	"context"
	"errors"
	"mpg/domain"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// PropertyTierRulesAgreeWithModel drives one tiered purse through random payments,
// reservations, voids, partial posts, top-ups, clock moves and replays of a copy taken while
// serving, and checks every outcome and the 24-hour window against a plain model: a list of
// what was spent when, reservations counted from when they were made.
func PropertyTierRulesAgreeWithModel(t *testing.T, open Opener) {
	rapid.Check(t, func(rt *rapid.T) {
		lim := domain.TierLimits{
			PerPayment: rapid.Uint64Range(1, 3000).Draw(rt, "per_payment"),
			Daily:      rapid.Uint64Range(1, 8000).Draw(rt, "daily"),
			MaxBalance: rapid.Uint64Range(1, 20000).Draw(rt, "max_balance"),
		}
		var clock atomic.Int64
		clock.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
		cfg := Config{Tiers: map[uint8]domain.TierLimits{1: lim}, ExpiryEvery: time.Hour, Tuning: Tuning{NoSync: true, CheckpointEvery: time.Hour},
			Now: func() time.Time { return time.Unix(0, clock.Load()) }}
		l, store := open(t, cfg)
		defer func() { l.Close() }()
		ctx := context.Background()
		res, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{
			{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
			{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33611110001", Tier: 1},
			{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42"},
		}})
		if err != nil {
			rt.Fatal(err)
		}
		float, purse, shop := res.Accounts[0].ID, res.Accounts[1].ID, res.Accounts[2].ID

		type spend struct {
			at     int64
			amount uint64
		}
		var spends []*spend
		open := map[domain.ID]*spend{} // reservations not yet resolved, and the spend each counted
		openAmount := map[domain.ID]uint64{}
		var balance, pendingOut uint64 // what the purse holds; what is reserved out of it
		spent := func() uint64 {
			var s uint64
			for _, x := range spends {
				if x.at > clock.Load()-int64(domain.SpendWindow) {
					s += x.amount
				}
			}
			return s
		}
		expect := func(what string, err error, want domain.Reason) {
			if want == 0 && err != nil {
				rt.Fatalf("%s: %v, want success", what, err)
			}
			if want != 0 && !errors.Is(err, want) {
				rt.Fatalf("%s: %v, want %v", what, err, want)
			}
		}
		debitRule := func(amount uint64) domain.Reason {
			switch {
			case amount > lim.PerPayment:
				return domain.ErrLimitPerPayment
			case spent()+amount > lim.Daily:
				return domain.ErrLimitDaily
			case amount > balance-pendingOut:
				return domain.ErrInsufficientFunds
			}
			return 0
		}

		for range rapid.IntRange(1, 40).Draw(rt, "steps") {
			// At least a minute between steps, so no two spends share an entry.
			clock.Add(int64(rapid.SampledFrom([]time.Duration{time.Minute, time.Hour, 6 * time.Hour, 23*time.Hour + 59*time.Minute, 24 * time.Hour}).Draw(rt, "advance")))
			switch rapid.IntRange(0, 5).Draw(rt, "op") {
			case 0: // top-up
				amount := rapid.Uint64Range(1, 10000).Draw(rt, "topup")
				want := domain.Reason(0)
				if balance+amount > lim.MaxBalance {
					want = domain.ErrLimitBalance
				}
				_, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: float, Credit: purse, Amount: amount}}})
				expect("top-up", err, want)
				if want == 0 {
					balance += amount
				}
			case 1: // payment
				amount := rapid.Uint64Range(1, 4000).Draw(rt, "pay")
				want := debitRule(amount)
				_, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: purse, Credit: shop, Amount: amount}}})
				expect("pay", err, want)
				if want == 0 {
					balance -= amount
					spends = append(spends, &spend{clock.Load(), amount})
				}
			case 2: // reservation
				amount := rapid.Uint64Range(1, 4000).Draw(rt, "reserve")
				want := debitRule(amount)
				id := domain.NewID()
				_, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: id, Debit: purse, Credit: shop, Amount: amount, Flags: domain.Pending}}})
				expect("reserve", err, want)
				if want == 0 {
					s := &spend{clock.Load(), amount}
					spends = append(spends, s)
					open[id], openAmount[id] = s, amount
					pendingOut += amount
				}
			case 3, 4: // void, or post part or all
				if len(open) == 0 {
					continue
				}
				var id domain.ID
				for k := range open {
					id = k
					break
				}
				amount := openAmount[id]
				s := open[id]
				if rapid.Bool().Draw(rt, "void") {
					mustSubmitRT(rt, l, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: id, Flags: domain.VoidPending}}})
					s.amount -= min(s.amount, amount)
				} else {
					take := rapid.Uint64Range(1, amount).Draw(rt, "take")
					mustSubmitRT(rt, l, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: id, Flags: domain.PostPending, Amount: take}}})
					s.amount -= min(s.amount, amount-take)
					balance -= take
				}
				pendingOut -= amount
				delete(open, id)
				delete(openAmount, id)
			case 5: // a copy taken while serving, opened: the journal replayed
				if store.Copy == nil {
					continue
				}
				l2 := store.Copy(t, l, cfg)
				a, _ := l2.Account(purse)
				l2.Close()
				if got := domain.SpentSince(a.Spends, clock.Load()); got != spent() {
					rt.Fatalf("replayed window %d, model %d", got, spent())
				}
			}
			a, err := l.Account(purse)
			if err != nil {
				rt.Fatal(err)
			}
			if got := domain.SpentSince(a.Spends, clock.Load()); got != spent() {
				rt.Fatalf("window %d, model %d (%+v)", got, spent(), a.Spends)
			}
			if a.Available() != int64(balance-pendingOut) {
				rt.Fatalf("available %d, model %d", a.Available(), balance-pendingOut)
			}
		}
		rep, err := l.Verify(ctx, nil)
		if err != nil || !rep.OK() {
			rt.Fatalf("verify: %v %s", err, rep.Problem)
		}
	})
}

func mustSubmitRT(rt *rapid.T, l Ledger, job domain.Job) {
	if _, err := l.Submit(context.Background(), job); err != nil {
		rt.Fatal(err)
	}
}
