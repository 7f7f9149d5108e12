package ledger

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"mpg/domain"
)

// TestCreditLineLimitsChangeButNeverBelowWhatIsOwed: a line's limit may be raised or
// lowered, never below what it owes and holds; racing debits and a lowering never leave the
// line beyond its limit; the limit survives a restart and verify checks it.
func TestCreditLineLimitsChangeButNeverBelowWhatIsOwed(t *testing.T) {
	l, path := testLedger(t, nil)
	ctx := context.Background()
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindCreditLine, Owner: "+33612345678", Limit: 1000},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42", Name: "Shop"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33611111111"})
	line, shop := acc[0].ID, acc[1].ID
	hold := domain.Transfer{ID: domain.NewID(), Debit: line, Credit: shop, Amount: 800, Flags: domain.Pending}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{hold}}); err != nil {
		t.Fatal(err)
	}
	_, err := l.Submit(ctx, domain.Job{Limits: []domain.LimitChange{{Account: line, Limit: 500}}})
	var ref *domain.RefusedError
	if !errors.As(err, &ref) || ref.Reason != domain.ErrLimitExceeded || ref.Room != 800 {
		t.Fatalf("lowering below what is held: %v", err)
	}
	// The operator reads the refusal in the currency's units, never in minor units.
	if want := "owes and holds 8.00 EUR, more than a limit of 5.00 EUR"; !strings.Contains(err.Error(), want) {
		t.Fatalf("lowering below what is held: %q lacks %q", err, want)
	}
	if _, err := l.Submit(ctx, domain.Job{Limits: []domain.LimitChange{{Account: acc[2].ID, Limit: 5}}}); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("a purse's limit: %v", err)
	}
	if _, err := l.Submit(ctx, domain.Job{Limits: []domain.LimitChange{{Account: line, Limit: 900}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(line, shop, 101)}}); !errors.Is(err, domain.ErrLimitExceeded) {
		t.Fatalf("beyond the new limit: %v", err)
	}
	// Racing: 20 debits of 10 and a lowering to 950 (room 100 after it, 150 before).
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(line, shop, 10)}})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.Submit(ctx, domain.Job{Limits: []domain.LimitChange{{Account: line, Limit: 850}}})
	}()
	wg.Wait()
	a, _ := l.Account(line)
	if used := a.DebitsPosted + a.DebitsPending - a.CreditsPosted; used > a.Limit {
		t.Fatalf("line owes and holds %d beyond its limit %d", used, a.Limit)
	}
	mustVerify(t, l)
	want := a.Limit
	l.Close()
	l2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if b, _ := l2.Account(line); b.Limit != want {
		t.Fatalf("limit after reopen %d, want %d", b.Limit, want)
	}
	mustVerify(t, l2)
}
