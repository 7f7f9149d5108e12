package ledger

import (
	"context"
	"errors"
	"mpg/domain"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConcurrentSubmitters has many goroutines move money between a few purses at once while
// readers watch; the total never changes and nothing is lost or doubled.
func TestConcurrentSubmitters(t *testing.T) {
	l, _ := testLedger(t, &Options{MaxBatchJobs: 64, CheckpointEvery: 5 * time.Millisecond, CheckpointChunk: 3})
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// One Accounts call reads one published state.
				var sum int64
				for _, a := range l.Accounts(Filter{Kind: domain.KindPurse}) {
					sum += a.Available() + int64(a.DebitsPending)
				}
				if sum != purses*each {
					t.Errorf("readers saw %d in the purses, want %d", sum, purses*each)
					return
				}
				if _, err := l.History(2, 5, 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Verify while writes go on: it must never report a difference between the live
	// balances and the journal snapshot it read.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			rep, err := l.Verify(ctx, nil)
			if err != nil || !rep.OK() {
				t.Errorf("verify during writes: %v %s", err, rep.Problem)
				return
			}
		}
	}()
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
