package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mpg/domain"
)

// The tests of books several daemons share: they run where the Store has Another (a
// database), and are skipped for a ledger that is one process's alone (a file).

// sharedWorld is the rules world with a second daemon on the same books.
func sharedWorld(t *testing.T, open Opener) (*rulesWorld, Ledger) {
	t.Helper()
	w := newRulesWorld(t, open)
	if w.store.Another == nil {
		t.Skip("these books belong to one process")
	}
	return w, w.store.Another(t, w.cfg)
}

// eitherDaemon submits n jobs at once, the even ones to a and the odd ones to b.
func eitherDaemon(a, b Ledger, n int, job func(i int) domain.Job) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = l.Submit(context.Background(), job(i))
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// agree checks that b reads account id as a does: each reads the books as of the last
// commit, whichever daemon made it.
func agree(t *testing.T, a, b Ledger, id uint64) domain.Account {
	t.Helper()
	want, err := a.Account(id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Account(id)
	if err != nil || got.Balances != want.Balances || got.Status != want.Status {
		t.Fatalf("the other daemon reads account %d as %+v (%v), want %+v", id, got, err, want)
	}
	return got
}

// SharedRulesAcrossDaemons: the money rules hold for payments racing through two daemons on
// one book, exactly as through one: a tier's daily limit and maximum balance, and no
// balance below zero; both daemons then read the same balances and the books verify.
func SharedRulesAcrossDaemons(t *testing.T, open Opener) {
	w, b := sharedWorld(t, open)
	// 16 top-ups of 10.00 through both daemons into a purse that may hold 50.00: 5 land.
	errs := eitherDaemon(w.l, b, 16, func(int) domain.Job { return domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 1000)}} })
	if ok, refused := count(errs, domain.ErrLimitBalance); ok != 5 || refused != 11 {
		t.Fatalf("%d credited, %d refused for the maximum balance; want 5 and 11 (%v)", ok, refused, errs)
	}
	// 16 payments of 10.00 against a 30.00 daily limit: 3 pass, whichever daemon took them.
	errs = eitherDaemon(w.l, b, 16, func(int) domain.Job { return domain.Job{Transfers: []domain.Transfer{transfer(w.a, w.shop, 1000)}} })
	if ok, refused := count(errs, domain.ErrLimitDaily); ok != 3 || refused != 13 {
		t.Fatalf("%d paid, %d refused for the daily limit; want 3 and 13 (%v)", ok, refused, errs)
	}
	// The other purse has 20.00 and is exempt of nothing: 8 payments of 5.00 leave it at 0.
	mustSubmit(t, b, domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.b, 2000)}})
	errs = eitherDaemon(w.l, b, 8, func(int) domain.Job { return domain.Job{Transfers: []domain.Transfer{transfer(w.b, w.shop, 500)}} })
	if ok, refused := count(errs, domain.ErrInsufficientFunds); ok != 4 || refused != 4 {
		t.Fatalf("%d paid, %d refused for funds; want 4 and 4 (%v)", ok, refused, errs)
	}
	for _, id := range []uint64{w.a, w.b, w.shop, w.float} {
		agree(t, w.l, b, id)
	}
	if acc := agree(t, w.l, b, w.shop); acc.Available() != 5000 {
		t.Fatalf("the shop holds %d, want 5000", acc.Available())
	}
	mustVerify(t, w.l)
	mustVerify(t, b)
}

// SharedDedupeAcrossDaemons: the same inbound message handed to two daemons at once (an
// SMSC redelivering after a lost acknowledgement) is applied once; every other copy is
// answered as a duplicate with the first one's result.
func SharedDedupeAcrossDaemons(t *testing.T, open Opener) {
	w, b := sharedWorld(t, open)
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 3000)}})
	errs := eitherDaemon(w.l, b, 10, func(int) domain.Job {
		return domain.Job{
			Transfers: []domain.Transfer{transfer(w.a, w.shop, 700)},
			Dedupe:    &domain.Dedupe{Key: "+33611110001|sm-77", TTL: time.Hour, Result: []byte("paid")},
		}
	})
	ok, dups := 0, 0
	for _, err := range errs {
		var dup *domain.DuplicateError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &dup) && string(dup.Result) == "paid":
			dups++
		default:
			t.Fatalf("copy answered %v", err)
		}
	}
	if ok != 1 || dups != 9 {
		t.Fatalf("%d applied, %d duplicates; want 1 and 9", ok, dups)
	}
	if acc := agree(t, w.l, b, w.a); acc.Available() != 2300 {
		t.Fatalf("the purse holds %d, want 2300: the payment was taken %d times", acc.Available(), (3000-acc.Available())/700)
	}
}

// SharedPendingAcrossDaemons: a reservation made through one daemon is posted through the
// other, once; a second post or a void through either is refused; one that times out is
// voided once, by whichever daemon sweeps first.
func SharedPendingAcrossDaemons(t *testing.T, open Opener) {
	w, b := sharedWorld(t, open)
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 4000)}})
	pid := domain.NewID()
	mustSubmit(t, w.l, domain.Job{Transfers: []domain.Transfer{{ID: pid, Debit: w.a, Credit: w.shop, Amount: 1000, Flags: domain.Pending}}})
	errs := eitherDaemon(w.l, b, 6, func(int) domain.Job {
		return domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: pid, Flags: domain.PostPending}}}
	})
	if ok, resolved := count(errs, domain.ErrPendingResolved); ok != 1 || resolved != 5 {
		t.Fatalf("%d posts applied, %d refused as resolved; want 1 and 5 (%v)", ok, resolved, errs)
	}
	_, err := b.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: pid, Flags: domain.VoidPending}}})
	if !errors.Is(err, domain.ErrPendingResolved) {
		t.Fatalf("void after post: %v", err)
	}
	expiring := domain.NewID()
	mustSubmit(t, b, domain.Job{Transfers: []domain.Transfer{{ID: expiring, Debit: w.a, Credit: w.shop, Amount: 800, Flags: domain.Pending, Timeout: time.Minute}}})
	w.clock.Add(int64(2 * time.Minute))
	deadline := time.Now().Add(5 * time.Second)
	for w.l.Stats().Expired.Load()+b.Stats().Expired.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // time for a second void, if the daemons could both make one
	if n := w.l.Stats().Expired.Load() + b.Stats().Expired.Load(); n != 1 {
		t.Fatalf("the reservation was voided %d times by expiry", n)
	}
	if acc := agree(t, w.l, b, w.a); acc.Available() != 3000 || acc.DebitsPending != 0 {
		t.Fatalf("purse %+v: want 30.00 available and nothing pending", acc.Balances)
	}
	mustVerify(t, b)
}

// SharedAccountsOnEitherDaemon: accounts opened through both daemons at once get distinct,
// dense ids, both daemons find every one, and an owner's second purse is refused whichever
// daemon is asked.
func SharedAccountsOnEitherDaemon(t *testing.T, open Opener) {
	w, b := sharedWorld(t, open)
	errs := eitherDaemon(w.l, b, 20, func(i int) domain.Job {
		return domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindPurse, Owner: fmt.Sprintf("+336222200%02d", i), Tier: 1}}}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	errs = eitherDaemon(w.l, b, 6, func(int) domain.Job {
		return domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33622229999", Tier: 1}}}
	})
	if ok, exists := count(errs, domain.ErrAccountExists); ok != 1 || exists != 5 {
		t.Fatalf("%d purses opened for one owner, %d refused; want 1 and 5 (%v)", ok, exists, errs)
	}
	want := uint64(6 + 21) // the world's six, then 21
	for id := uint64(1); id <= want; id++ {
		agree(t, w.l, b, id)
	}
	if _, err := b.Account(want + 1); err == nil {
		t.Fatalf("account %d exists: ids are not dense", want+1)
	}
	mustVerify(t, w.l)
}

// SharedOutboxOneSender: a reply is sent by the daemon that committed it and by no other;
// when that daemon dies with replies still queued, another takes them over once the dead
// one has been silent for the orphan time, and sends each.
func SharedOutboxOneSender(t *testing.T, open Opener) {
	w, b := sharedWorld(t, open)
	ctx := context.Background()
	first := queue(t, w.l, domain.Job{Messages: []domain.Message{{From: "1234", To: "+33611110001", Text: "one"}}})
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	got, _ := b.NextMessages(short, 10)
	cancel()
	if len(got) != 0 {
		t.Fatalf("the other daemon was handed %+v", got)
	}
	msgs, err := w.l.NextMessages(ctx, 10)
	if err != nil || len(msgs) != 1 || msgs[0].ID != first {
		t.Fatalf("the committing daemon got %v %+v", err, msgs)
	}
	if err := w.l.MarkSent(ctx, first, "smsc-1"); err != nil {
		t.Fatal(err)
	}
	orphan := queue(t, w.l, domain.Job{Messages: []domain.Message{{From: "1234", To: "+33611110002", Text: "two"}}})
	w.l.Close() // dies before sending it
	w.clock.Add(int64(time.Minute))
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msgs, err = b.NextMessages(wait, 10)
	if err != nil || len(msgs) != 1 || msgs[0].ID != orphan || msgs[0].Text != "two" {
		t.Fatalf("after the first daemon died: %v %+v", err, msgs)
	}
	if err := b.MarkSent(ctx, orphan, "smsc-2"); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Unsent(); err != nil || n != 0 {
		t.Fatalf("%d unsent (%v)", n, err)
	}
}
