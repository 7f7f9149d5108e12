package ledger

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"

	bolt "go.etcd.io/bbolt"
)

// dedupeRecords counts the records of one key in the expiry list and says whether the index
// names one of them.
func dedupeRecords(t *testing.T, l *Ledger, key string) (n int, indexed bool) {
	t.Helper()
	l.db.View(func(tx *bolt.Tx) error {
		rk := tx.Bucket(bktDedupeIdx).Get([]byte(key))
		return tx.Bucket(bktDedupe).ForEach(func(k, v []byte) error {
			if kk, _, _, err := decodeDedupe(v); err == nil && string(kk) == key {
				n++
				indexed = indexed || string(k) == string(rk)
			}
			return nil
		})
	})
	return n, indexed
}

// TestDedupeRetryReplacedOnce: a refusal stored as retryable lets the next job with its key
// run, and that job's record takes its place (one record per key in the expiry list). A
// final record is never replaced; of many copies racing after a retryable record exactly
// one runs; both kinds survive a restart and leave nothing behind when their window ends.
func TestDedupeRetryReplacedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	opt := &Options{Now: func() time.Time { return time.Unix(0, clock.Load()) }, ExpiryEvery: 5 * time.Millisecond}
	l, err := Create(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { l.Close() }()
	ctx := context.Background()
	acc := mustOpen(t, l, domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33612345678"})
	refused := func(key string) domain.Job {
		return domain.Job{Dedupe: &domain.Dedupe{Key: key, TTL: 6 * time.Hour, Result: []byte("refused"), Retry: true}}
	}
	pay := func(key string) domain.Job {
		return domain.Job{Transfers: []domain.Transfer{transfer(acc[0].ID, acc[1].ID, 100)},
			Dedupe: &domain.Dedupe{Key: key, TTL: 6 * time.Hour, Result: []byte("paid")}}
	}
	// Refused twice (the cause stayed), each answer replacing the one before.
	for range 2 {
		if _, err := l.Submit(ctx, refused("k")); err != nil {
			t.Fatal(err)
		}
		if n, ok := dedupeRecords(t, l, "k"); n != 1 || !ok {
			t.Fatalf("%d records of the key, indexed %v; want 1, indexed", n, ok)
		}
	}
	// The cause went away: sixteen copies at once, one runs.
	var ran, dups atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.Submit(ctx, pay("k"))
			var dup *domain.DuplicateError
			switch {
			case err == nil:
				ran.Add(1)
			case errors.As(err, &dup) && string(dup.Result) == "paid":
				dups.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ran.Load() != 1 || dups.Load() != 15 {
		t.Fatalf("%d copies ran, %d duplicates; want 1 and 15", ran.Load(), dups.Load())
	}
	if a, _ := l.Account(acc[1].ID); a.CreditsPosted != 100 {
		t.Fatalf("credited %d, want 100", a.CreditsPosted)
	}
	// A final record is never replaced, not even by a retryable job.
	if _, err := l.Submit(ctx, refused("k")); !errors.Is(err, domain.ErrDuplicate) {
		t.Fatalf("retryable job over a final record: %v", err)
	}
	if n, ok := dedupeRecords(t, l, "k"); n != 1 || !ok {
		t.Fatalf("%d records of the key, indexed %v", n, ok)
	}
	// After a restart: the final record is still final, a retryable one still retryable.
	if _, err := l.Submit(ctx, refused("r")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	clock.Add(int64(time.Hour))
	if l, err = Open(path, opt); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Submit(ctx, pay("k")); !errors.Is(err, domain.ErrDuplicate) {
		t.Fatalf("final record after reopen: %v", err)
	}
	if _, err := l.Submit(ctx, pay("r")); err != nil {
		t.Fatalf("retryable record after reopen: %v", err)
	}
	if _, err := l.Submit(ctx, pay("r")); !errors.Is(err, domain.ErrDuplicate) {
		t.Fatalf("copy after the retry ran: %v", err)
	}
	// Their windows end: the sweep leaves neither records nor index entries.
	clock.Add(int64(7 * time.Hour))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		nk, _ := dedupeRecords(t, l, "k")
		nr, _ := dedupeRecords(t, l, "r")
		if nk+nr == 0 {
			break
		}
	}
	l.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bktDedupe).Stats().KeyN + tx.Bucket(bktDedupeIdx).Stats().KeyN; n != 0 {
			t.Errorf("%d dedupe records or index entries left after the window", n)
		}
		return nil
	})
	mustVerify(t, l)
}
