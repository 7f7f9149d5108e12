package ledgertest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
	"mpg/ledger"
)

// TransferRulesAndRefusals: each refusal of a single transfer, idempotent retries, and a
// blocked account that pays nothing but still receives.
func TransferRulesAndRefusals(t *testing.T, open Opener) {
	l, _ := open(t, Config{})
	ctx := context.Background()
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33612345678", Name: "Alice"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42", Name: "Shop"},
		domain.AccountSpec{Currency: "XOF", Kind: domain.KindPurse, Owner: "+221770000000"},
	)
	float, alice, shop, xof := acc[0].ID, acc[1].ID, acc[2].ID, acc[3].ID
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(float, alice, 10_000)}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tr   domain.Transfer
		want domain.Reason
	}{
		{"insufficient", transfer(alice, shop, 10_001), domain.ErrInsufficientFunds},
		{"same account", transfer(alice, alice, 1), domain.ErrSameAccount},
		{"zero", transfer(alice, shop, 0), domain.ErrZeroAmount},
		{"currency", transfer(alice, xof, 1), domain.ErrCurrencyMismatch},
		{"unknown", transfer(alice, 999, 1), domain.ErrAccountNotFound},
		{"zero id", domain.Transfer{Debit: alice, Credit: shop, Amount: 1}, domain.ErrZeroID},
		{"overflow", transfer(float, alice, ^uint64(0)), domain.ErrOverflow},
	}
	for _, c := range cases {
		_, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{c.tr}})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// Idempotency: same id and body returns the first result; another body is refused.
	tr := transfer(alice, shop, 1250)
	r1, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{tr}})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{tr}})
	if err != nil || !r2.Existed[0] || r2.Transfers[0].Seq != r1.Transfers[0].Seq {
		t.Fatalf("retry: %v %+v", err, r2)
	}
	tr.Amount = 1
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{tr}}); !errors.Is(err, domain.ErrIDReused) {
		t.Fatalf("reuse: %v", err)
	}
	a, _ := l.Account(alice)
	if a.Available() != 10_000-1250 {
		t.Fatalf("alice: %+v", a)
	}
	// Blocked: no debits, credits still arrive.
	if _, err := l.Submit(ctx, domain.Job{Status: []domain.StatusChange{{Account: alice, Status: domain.StatusBlocked}}, Audit: &domain.Audit{Actor: "test", Action: "block"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(alice, shop, 1)}}); !errors.Is(err, domain.ErrAccountBlocked) {
		t.Fatalf("blocked debit: %v", err)
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(float, alice, 1)}}); err != nil {
		t.Fatalf("blocked credit: %v", err)
	}
	mustVerify(t, l)
}

// LinkedChainAllOrNothing: a job's transfers are linked; one refused leaves none, nor the
// job's messages.
func LinkedChainAllOrNothing(t *testing.T, open Opener) {
	l, _ := open(t, Config{})
	ctx := context.Background()
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "a"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindMerchant, Owner: "m"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFees, Owner: "@fees"},
	)
	float, a, m, fees := acc[0].ID, acc[1].ID, acc[2].ID, acc[3].ID
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(float, a, 100)}}); err != nil {
		t.Fatal(err)
	}
	// Payment 90 plus fee 20 exceeds 100: the first transfer must not stay.
	_, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(a, m, 90), transfer(a, fees, 20)},
		Messages: []domain.Message{{To: "a", Text: "paid"}}})
	var re *domain.RefusedError
	if !errors.As(err, &re) || re.Reason != domain.ErrInsufficientFunds || re.Index != 1 {
		t.Fatalf("chain: %v", err)
	}
	for _, id := range []uint64{a, m, fees} {
		acct, _ := l.Account(id)
		if acct.DebitsPosted+acct.DebitsPending+acct.CreditsPending != 0 && id != a {
			t.Fatalf("account %d moved: %+v", id, acct)
		}
	}
	if acct, _ := l.Account(a); acct.Available() != 100 {
		t.Fatalf("payer moved: %+v", acct)
	}
	if msgs, _ := l.Messages(10, 0, 0); len(msgs) != 0 {
		t.Fatalf("refused job left messages: %+v", msgs)
	}
	res, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(a, m, 80), transfer(a, fees, 20)}})
	if err != nil || res.Transfers[0].Flags&domain.Linked == 0 || res.Transfers[1].Flags&domain.Linked != 0 {
		t.Fatalf("chain ok: %v %+v", err, res)
	}
	mustVerify(t, l)
}

// PendingPostVoidExpiry: a reservation counts until posted (in part) or voided, and one
// past its timeout is voided at the next start, by a transfer of id domain.ExpiryID.
func PendingPostVoidExpiry(t *testing.T, open Opener) {
	now := time.Unix(1_800_000_000, 0)
	var clock = func() time.Time { return now }
	l, store := open(t, Config{Now: func() time.Time { return clock() }, ExpiryEvery: time.Hour})
	ctx := context.Background()
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "a"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindMerchant, Owner: "m"},
	)
	float, a, m := acc[0].ID, acc[1].ID, acc[2].ID
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(float, a, 1000)}}); err != nil {
		t.Fatal(err)
	}
	p1 := domain.Transfer{ID: domain.NewID(), Debit: a, Credit: m, Amount: 600, Flags: domain.Pending, Timeout: time.Minute}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{p1}}); err != nil {
		t.Fatal(err)
	}
	// The reservation counts: 600 pending leaves 400.
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(a, m, 401)}}); !errors.Is(err, domain.ErrInsufficientFunds) {
		t.Fatalf("pending not reserved: %v", err)
	}
	post := domain.Transfer{ID: domain.NewID(), PendingID: p1.ID, Amount: 500, Flags: domain.PostPending}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: p1.ID, Amount: 601, Flags: domain.PostPending}}}); !errors.Is(err, domain.ErrAmountExceedsPending) {
		t.Fatalf("over-post: %v", err)
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{post}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: p1.ID, Flags: domain.VoidPending}}}); !errors.Is(err, domain.ErrPendingResolved) {
		t.Fatalf("void after post: %v", err)
	}
	if acct, _ := l.Account(a); acct.Available() != 500 || acct.DebitsPending != 0 {
		t.Fatalf("after partial post: %+v", acct)
	}
	// A second pending expires; after reopen the expiry runs at start.
	p2 := domain.Transfer{ID: domain.NewID(), Debit: a, Credit: m, Amount: 300, Flags: domain.Pending, Timeout: time.Minute}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{p2}}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	now = now.Add(2 * time.Minute)
	l2 := store.Reopen(t, Config{Now: clock, ExpiryEvery: time.Hour})
	defer l2.Close()
	if _, err := l2.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: p2.ID, Flags: domain.PostPending}}}); !errors.Is(err, domain.ErrPendingResolved) {
		t.Fatalf("post after expiry: %v", err)
	}
	if acct, _ := l2.Account(a); acct.Available() != 500 || acct.DebitsPending != 0 {
		t.Fatalf("after expiry: %+v", acct)
	}
	if t2, err := l2.Transfer(domain.ExpiryID(p2.ID)); err != nil || t2.Flags&domain.Expired == 0 {
		t.Fatalf("expiry transfer: %v %+v", err, t2)
	}
	mustVerify(t, l2)
}

// HistoryAndReopen: an account's history pages newest first, and a restart finds the
// balances as they were.
func HistoryAndReopen(t *testing.T, open Opener) {
	l, store := open(t, Config{Tuning: Tuning{CheckpointEvery: time.Millisecond, CheckpointChunk: 2}})
	ctx := context.Background()
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "a"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "b"},
	)
	float, a, b := acc[0].ID, acc[1].ID, acc[2].ID
	for i := range 20 {
		if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(float, a, 100), transfer(a, b, uint64(i+1))}}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := l.History(b, 5, 0)
	if err != nil || len(h) != 5 || h[0].Amount != 20 || h[4].Amount != 16 {
		t.Fatalf("history: %v %+v", err, h)
	}
	older, err := l.History(b, 100, h[4].Seq)
	if err != nil || len(older) != 15 || older[0].Amount != 15 {
		t.Fatalf("older: %v %d", err, len(older))
	}
	before, _ := l.Account(a)
	l.Close()
	l2 := store.Reopen(t, Config{})
	defer l2.Close()
	after, _ := l2.Account(a)
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("reopen: %+v != %+v", after, before)
	}
	mustVerify(t, l2)
}

// ProfilesAndTransferAt: payment records are written with their job or not at all, by
// compare-and-set on their version, and survive a restart; TransferAt finds transfers only.
func ProfilesAndTransferAt(t *testing.T, open Opener) {
	l, store := open(t, Config{})
	ctx := context.Background()
	acc := mustOpen(t, l, domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"}, domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "+331"})
	res, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(acc[0].ID, acc[1].ID, 10)}, Profiles: []domain.Profile{{Owner: "+331", Data: []byte("v1")}}})
	if err != nil {
		t.Fatal(err)
	}
	// A refused job leaves the profile as it was.
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(acc[1].ID, acc[0].ID, 11)}, Profiles: []domain.Profile{{Owner: "+331", Data: []byte("v2"), Version: 1}}}); !errors.Is(err, domain.ErrInsufficientFunds) {
		t.Fatal(err)
	}
	if p, v, _ := l.Profile("+331"); string(p) != "v1" || v != 1 {
		t.Fatalf("profile %q version %d", p, v)
	}
	// A write computed from an older read is refused: nothing overwrites what it did not see.
	if _, err := l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: "+331", Data: []byte("stale"), Version: 0}}}); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("stale profile write: %v", err)
	}
	if _, err := l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: "+331", Data: []byte("v1"), Version: 1}}}); err != nil {
		t.Fatal(err)
	}
	if tr, err := l.TransferAt(res.Transfers[0].Seq); err != nil || tr.ID != res.Transfers[0].ID {
		t.Fatalf("TransferAt: %v %+v", err, tr)
	}
	if _, err := l.TransferAt(1); !errors.Is(err, domain.ErrTransferNotFound) {
		t.Fatalf("TransferAt of an account entry: %v", err)
	}
	l.Close()
	l2 := store.Reopen(t, Config{})
	defer l2.Close()
	if p, v, _ := l2.Profile("+331"); string(p) != "v1" || v != 2 {
		t.Fatalf("profile after reopen %q", p)
	}
}

// A dispute's evidence names each transfer's chained hash and the journal's head: the hash
// read at a position is the transfer's, it changes with every entry, and a position past
// the end or zero is an error.
func EntryHashAndHead(t *testing.T, open Opener) {
	l, _ := open(t, Config{})
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33612345678"},
	)
	seq1, h1, err := l.Head()
	if err != nil || seq1 == 0 || len(h1) != 64 {
		t.Fatalf("head after opening: %d %q %v", seq1, h1, err)
	}
	seen := map[string]bool{h1: true}
	for i := 0; i < 3; i++ {
		tr := transfer(acc[0].ID, acc[1].ID, 100)
		if _, err := l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{tr}}); err != nil {
			t.Fatal(err)
		}
		got, err := l.Transfer(tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		seq, h, err := l.Head()
		if err != nil || seq != got.Seq || seen[h] {
			t.Fatalf("head after transfer %d: %d %q %v (transfer at %d)", i, seq, h, err, got.Seq)
		}
		seen[h] = true
		if eh, err := l.EntryHash(got.Seq); err != nil || eh != h {
			t.Fatalf("EntryHash(%d) = %q %v, head %q", got.Seq, eh, err, h)
		}
	}
	if eh, err := l.EntryHash(seq1); err != nil || eh != h1 {
		t.Fatalf("an older entry's hash changed: %q %v, was %q", eh, err, h1)
	}
	last, _, _ := l.Head()
	for _, seq := range []uint64{0, last + 1} {
		if h, err := l.EntryHash(seq); err == nil {
			t.Fatalf("EntryHash(%d) = %q, want an error", seq, h)
		}
	}
	mustVerify(t, l)
}

// CreditLineLimitsChangeButNeverBelowWhatIsOwed: a line's limit may be raised or
// lowered, never below what it owes and holds; racing debits and a lowering never leave the
// line beyond its limit; the limit survives a restart and verify checks it.
func CreditLineLimitsChangeButNeverBelowWhatIsOwed(t *testing.T, open Opener) {
	l, store := open(t, Config{})
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
	l2 := store.Reopen(t, Config{})
	defer l2.Close()
	if b, _ := l2.Account(line); b.Limit != want {
		t.Fatalf("limit after reopen %d, want %d", b.Limit, want)
	}
	mustVerify(t, l2)
}

// ConcurrentSubmitters has many goroutines move money between a few purses at once while
// readers watch; the total never changes and nothing is lost or doubled.
func ConcurrentSubmitters(t *testing.T, open Opener) {
	l, _ := open(t, Config{Tuning: Tuning{MaxBatchJobs: 64, CheckpointEvery: 5 * time.Millisecond, CheckpointChunk: 3}})
	ctx := context.Background()
	const purses, each = 10, 1000
	specs := []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"}}
	for i := range purses {
		specs = append(specs, domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: string(rune('a' + i))})
	}
	mustOpen(t, l, specs...)
	var fund []domain.Transfer
	for i := range purses {
		fund = append(fund, transfer(1, uint64(2+i), each))
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: fund}); err != nil {
		t.Fatal(err)
	}
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// Readers: balances always sum to the funded total (a commit is published whole).
	for range 4 {
		untilStopped(&wg, stop, func() bool {
			// One Accounts call reads one published state.
			var sum int64
			for _, a := range l.Accounts(ledger.Filter{Kind: domain.KindPurse}) {
				sum += a.Available() + int64(a.DebitsPending)
			}
			if sum != purses*each {
				t.Errorf("readers saw %d in the purses, want %d", sum, purses*each)
				return false
			}
			if _, err := l.History(2, 5, 0); err != nil {
				t.Error(err)
				return false
			}
			return true
		})
	}
	// Verify while writes go on: it must never report a difference between the live
	// balances and the journal snapshot it read.
	untilStopped(&wg, stop, func() bool {
		rep, err := l.Verify(ctx, nil)
		if err != nil || !rep.OK() {
			t.Errorf("verify during writes: %v %s", err, rep.Problem)
			return false
		}
		return true
	})
	var writers sync.WaitGroup
	for g := range 64 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 50 {
				dr := uint64(2 + (g+i)%purses)
				cr := uint64(2 + (g+2*i+1)%purses)
				if dr == cr {
					continue
				}
				_, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(dr, cr, uint64(1+i%300))}})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, domain.ErrInsufficientFunds):
					refused.Add(1)
				default:
					t.Error(err)
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	rep := mustVerify(t, l)
	if rep.Transfers != uint64(ok.Load())+purses {
		t.Fatalf("%d transfers in the journal, %d acknowledged", rep.Transfers, ok.Load()+purses)
	}
	if c, jobs := l.Stats().Commits.Load(), uint64(ok.Load()+refused.Load()); c >= jobs {
		t.Fatalf("no group commit: %d commits for %d jobs from 64 concurrent submitters", c, jobs)
	}
}

// untilStopped runs step in a goroutine of wg, again and again, until stop is closed or
// step returns false.
func untilStopped(wg *sync.WaitGroup, stop <-chan struct{}, step func() bool) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if !step() {
				return
			}
		}
	}()
}
