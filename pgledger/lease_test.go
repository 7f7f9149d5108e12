package pgledger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mpg/internal/pgtest"
)

// newDB is a migrated, open ledger database of the test's own.
func newDB(t testing.TB) *DB {
	t.Helper()
	db, _ := migratedDB(t)
	return db
}

// migratedDB is newDB with the database's DSN, for tests that open it again.
func migratedDB(t testing.TB) (*DB, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := pgtest.Start(t)
	if err := MigrateDSN(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db, dsn
}

func mustAcquire(t *testing.T, db *DB, name, holder string, ttl time.Duration) Lease {
	t.Helper()
	l, ok, err := db.Acquire(ctxT(t), name, holder, ttl)
	if err != nil || !ok {
		t.Fatalf("%s acquires %s: %v, %v", holder, name, ok, err)
	}
	return l
}

func refused(t *testing.T, db *DB, name, holder string) {
	t.Helper()
	if _, ok, err := db.Acquire(ctxT(t), name, holder, time.Minute); err != nil || ok {
		t.Fatalf("%s acquires %s held by another: %v, %v; want refused", holder, name, ok, err)
	}
}

// waitPast waits until the database's clock is past at (4 s at most).
func waitPast(t *testing.T, db *DB, at time.Time) {
	t.Helper()
	for i := 0; i < 200; i++ {
		var past bool
		if err := db.pool.QueryRow(ctxT(t), "SELECT clock_timestamp() > $1", at).Scan(&past); err != nil {
			t.Fatal(err)
		}
		if past {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the database's clock never passed %v", at)
}

func TestLeaseOneHolderWins(t *testing.T) {
	ctx := ctxT(t)
	db := newDB(t)
	a := mustAcquire(t, db, "outbox", "a", time.Minute)
	if a.Token != 1 || a.Holder != "a" || a.Name != "outbox" || !a.Acquired.Equal(a.Renewed) {
		t.Fatalf("first lease: %+v", a)
	}
	if d := a.Expires.Sub(a.Renewed); d != time.Minute {
		t.Fatalf("expires %v after the grant, want 1m", d)
	}
	refused(t, db, "outbox", "b")

	// The holder acquiring again renews: same tenure, same token, later expiry.
	a2 := mustAcquire(t, db, "outbox", "a", time.Minute)
	if a2.Token != 1 || !a2.Acquired.Equal(a.Acquired) || a2.Expires.Before(a.Expires) {
		t.Fatalf("acquired again: %+v, first %+v", a2, a)
	}
	refused(t, db, "outbox", "b")

	// Another lease is another row.
	if b := mustAcquire(t, db, "bank", "b", time.Minute); b.Token != 1 {
		t.Fatalf("bank: %+v", b)
	}
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM leases").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d lease rows, %v", n, err)
	}
}

func TestLeaseRenewalKeepsIt(t *testing.T) {
	ctx := ctxT(t)
	db := newDB(t)
	const ttl = 300 * time.Millisecond
	a := mustAcquire(t, db, "outbox", "a", ttl)
	first := a
	for i := 0; i < 6; i++ { // 600 ms: twice the ttl
		time.Sleep(100 * time.Millisecond)
		prev := a.Expires
		if ok, err := db.Renew(ctx, &a); err != nil || !ok {
			t.Fatalf("renewal %d: %v, %v", i, ok, err)
		}
		if !a.Expires.After(prev) || a.Expires.Sub(a.Renewed) != ttl || a.Token != 1 {
			t.Fatalf("renewal %d: %+v, expiry before %v", i, a, prev)
		}
		refused(t, db, "outbox", "b")
	}
	if !a.Expires.After(first.Expires.Add(ttl)) || !a.Acquired.Equal(first.Acquired) {
		t.Fatalf("after renewals %+v, first %+v", a, first)
	}
}

func TestLeaseTakenOverAfterExpiry(t *testing.T) {
	ctx := ctxT(t)
	db := newDB(t)
	const ttl = 300 * time.Millisecond
	a := mustAcquire(t, db, "outbox", "a", ttl)
	refused(t, db, "outbox", "b")

	var b Lease
	for i := 0; ; i++ {
		if i == 150 { // 3 s
			t.Fatal("b never took the expired lease over")
		}
		l, ok, err := db.Acquire(ctx, "outbox", "b", ttl)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			b = l
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b.Token != a.Token+1 || b.Acquired.Before(a.Expires) || !b.Acquired.Equal(b.Renewed) {
		t.Fatalf("taken over: %+v, after %+v", b, a)
	}

	// a has lost it: it cannot renew, acquire or release it.
	before := a
	if ok, err := db.Renew(ctx, &a); err != nil || ok {
		t.Fatalf("a renews a lost lease: %v, %v", ok, err)
	}
	if a != before {
		t.Fatalf("a failed renewal changed the lease: %+v", a)
	}
	refused(t, db, "outbox", "a")
	if err := db.Release(ctx, a); err != nil {
		t.Fatal(err)
	}
	refused(t, db, "outbox", "a")
	if ok, err := db.Renew(ctx, &b); err != nil || !ok || b.Token != 2 {
		t.Fatalf("b renews: %v, %v, %+v", ok, err, b)
	}
}

func TestLeaseReleaseLetsAnotherIn(t *testing.T) {
	ctx := ctxT(t)
	db := newDB(t)
	a := mustAcquire(t, db, "outbox", "a", time.Minute)
	refused(t, db, "outbox", "b")
	if err := db.Release(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := mustAcquire(t, db, "outbox", "b", time.Minute) // at once, not in a minute
	if b.Token != 2 {
		t.Fatalf("after a release: %+v", b)
	}
	if ok, err := db.Renew(ctx, &a); err != nil || ok {
		t.Fatalf("renewing a released lease: %v, %v", ok, err)
	}
	if err := db.Release(ctx, a); err != nil { // not a's any more: nothing happens
		t.Fatal(err)
	}
	refused(t, db, "outbox", "a")

	// A release ends the tenure: its holder taking the lease again starts a new one.
	if err := db.Release(ctx, b); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.Renew(ctx, &b); err != nil || ok {
		t.Fatalf("renewing after its own release: %v, %v", ok, err)
	}
	if b2 := mustAcquire(t, db, "outbox", "b", time.Minute); b2.Token != 3 {
		t.Fatalf("b again after its release: %+v", b2)
	}
}

func TestLeaseAfterItsOwnExpiry(t *testing.T) {
	ctx := ctxT(t)
	db := newDB(t)
	const ttl = 300 * time.Millisecond
	a := mustAcquire(t, db, "outbox", "a", ttl)

	// Expired, but nobody took it: the token is still a's, so renewing is safe.
	waitPast(t, db, a.Expires)
	if ok, err := db.Renew(ctx, &a); err != nil || !ok || a.Token != 1 {
		t.Fatalf("renewing an expired lease nobody took: %v, %v, %+v", ok, err, a)
	}
	refused(t, db, "outbox", "b")

	// Acquired again after it expired: a new tenure, a new token, even for the same holder;
	// the old tenure is lost.
	waitPast(t, db, a.Expires)
	a2 := mustAcquire(t, db, "outbox", "a", ttl)
	if a2.Token != 2 || a2.Acquired.Before(a.Expires) {
		t.Fatalf("acquired after its expiry: %+v, before %+v", a2, a)
	}
	if ok, err := db.Renew(ctx, &a); err != nil || ok {
		t.Fatalf("the old tenure renews: %v, %v", ok, err)
	}
}

func TestLeaseFence(t *testing.T) {
	ctx := ctxT(t)
	db := newDB(t)
	const ttl = 300 * time.Millisecond
	a := mustAcquire(t, db, "bank", "a", ttl)

	// a's work, guarded by Fence, is in flight while its lease expires: b's takeover waits for
	// it to commit.
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := Fence(ctx, tx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO kv (bucket, k, v) VALUES ('meta', 'work', 'a')"); err != nil {
		t.Fatal(err)
	}
	waitPast(t, db, a.Expires)
	type result struct {
		l   Lease
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, ok, err := db.Acquire(ctx, "bank", "b", ttl)
		done <- result{l, ok, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("b took the lease while a's fenced work was in flight: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("b's acquisition still waits after a's work committed")
	}
	if r.err != nil || !r.ok || r.l.Token != 2 {
		t.Fatalf("b after a's work: %+v", r)
	}
	b := r.l

	// a's next work is refused and rolled back; b's passes.
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := Fence(ctx, tx, a); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO kv (bucket, k, v) VALUES ('meta', 'late', 'a')")
		return err
	})
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("a's work after the takeover: %v, want ErrLeaseLost", err)
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := Fence(ctx, tx, b); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO kv (bucket, k, v) VALUES ('meta', 'late', 'b')")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var by string
	if err := db.pool.QueryRow(ctx, "SELECT convert_from(v, 'UTF8') FROM kv WHERE bucket = 'meta' AND k = 'late'").Scan(&by); err != nil || by != "b" {
		t.Fatalf("late work by %q, %v; want b's only", by, err)
	}

	// Released, the lease fences nobody's work.
	if err := db.Release(ctx, b); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return Fence(ctx, tx, b) })
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("fenced by a released lease: %v", err)
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return Fence(ctx, tx, Lease{Name: "never", Holder: "b", Token: 1}) })
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("fenced by a lease never taken: %v", err)
	}
}

func TestLeaseRefusesBadArguments(t *testing.T) {
	ctx := ctxT(t)
	db := newDB(t)
	for _, c := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "a", time.Second}, {"outbox", "", time.Second}, {"outbox", "a", 0}, {"outbox", "a", time.Microsecond}} {
		if _, ok, err := db.Acquire(ctx, c.name, c.holder, c.ttl); err == nil || ok {
			t.Errorf("Acquire(%q, %q, %v): %v, %v; want an error", c.name, c.holder, c.ttl, ok, err)
		}
	}
	if ok, err := db.Renew(ctx, &Lease{}); err == nil || ok {
		t.Errorf("Renew of no lease: %v, %v", ok, err)
	}
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM leases").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d lease rows, %v", n, err)
	}
}

// TestLeaseConcurrentDaemons runs 20 goroutines of 3 daemons (3 holders) acquiring and
// renewing one lease for 2 s; now and then a daemon stalls past the ttl, as a paused
// process would, so the lease changes hands. Every grant is recorded with the database's
// times, and afterwards: every token belongs to one holder, tokens are dense (every new
// tenure was seen), and each tenure began, on the database's clock, no earlier than the
// latest expiry granted to any earlier tenure: no two holders ever held it at once.
func TestLeaseConcurrentDaemons(t *testing.T) {
	ctx := ctxT(t)
	db := newDB(t)
	const (
		ttl        = 200 * time.Millisecond
		run        = 2 * time.Second
		goroutines = 20
		daemons    = 3
		maxIter    = 5000
	)
	var (
		mu      sync.Mutex
		grants  []Lease
		lost    atomic.Int64
		stalled [daemons]atomic.Int64 // unix nanos (this process's clock) until which the daemon does nothing
		wg      sync.WaitGroup
		errs    = make(chan error, goroutines)
	)
	deadline := time.Now().Add(run)
	for g := 0; g < goroutines; g++ {
		d := g % daemons
		holder := fmt.Sprintf("daemon-%d", d)
		rng := rand.New(rand.NewPCG(uint64(g), 18))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var l Lease
			held := false
			for i := 0; i < maxIter && time.Now().Before(deadline); i++ {
				if until := time.Unix(0, stalled[d].Load()); time.Now().Before(until) {
					time.Sleep(min(time.Until(until), time.Until(deadline)))
					continue
				}
				var ok bool
				var err error
				if held {
					ok, err = db.Renew(ctx, &l)
					if err == nil && !ok {
						lost.Add(1)
						held = false
					}
				} else {
					var got Lease
					if got, ok, err = db.Acquire(ctx, "outbox", holder, ttl); ok {
						l, held = got, true
					}
				}
				if err != nil {
					errs <- err
					return
				}
				if ok {
					mu.Lock()
					grants = append(grants, l)
					mu.Unlock()
					if rng.IntN(60) == 0 {
						stalled[d].Store(time.Now().Add(ttl * 3 / 2).UnixNano())
					}
				}
				time.Sleep(time.Duration(rng.IntN(8)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	type tenure struct {
		holder   string
		acquired time.Time
		expires  time.Time // the latest expiry granted
		grants   int
	}
	tenures := map[int64]*tenure{}
	for _, g := range grants {
		te := tenures[g.Token]
		if te == nil {
			te = &tenure{holder: g.Holder, acquired: g.Acquired}
			tenures[g.Token] = te
		}
		if g.Holder != te.holder || !g.Acquired.Equal(te.acquired) {
			t.Fatalf("token %d granted to %s (tenure from %v) and to %s (from %v)", g.Token, te.holder, te.acquired, g.Holder, g.Acquired)
		}
		if g.Expires.Before(g.Renewed) || g.Expires.Before(g.Acquired) {
			t.Fatalf("grant %+v expires before it was made", g)
		}
		if g.Expires.After(te.expires) {
			te.expires = g.Expires
		}
		te.grants++
	}
	tokens := make([]int64, 0, len(tenures))
	for k := range tenures {
		tokens = append(tokens, k)
	}
	sort.Slice(tokens, func(i, j int) bool { return tokens[i] < tokens[j] })
	holders := map[string]bool{}
	var latest time.Time // the latest expiry granted to the tenures before
	for i, k := range tokens {
		te := tenures[k]
		if k != int64(i+1) {
			t.Fatalf("tokens %v: not dense from 1", tokens)
		}
		if i > 0 && te.acquired.Before(latest) {
			t.Fatalf("tenure %d (%s) began at %v, before tenure %d's lease (%s) expired at %v: two holders at once",
				k, te.holder, te.acquired, k-1, tenures[k-1].holder, latest)
		}
		if i > 0 && !te.acquired.After(tenures[k-1].acquired) {
			t.Fatalf("tenure %d began at %v, not after tenure %d at %v", k, te.acquired, k-1, tenures[k-1].acquired)
		}
		if te.expires.After(latest) {
			latest = te.expires
		}
		holders[te.holder] = true
	}
	t.Logf("%d grants, %d tenures, %d holders, %d renewals found the lease lost", len(grants), len(tokens), len(holders), lost.Load())
	if len(tokens) < 3 || len(holders) < 2 {
		t.Fatalf("%d tenures by %d holders: the lease never changed hands enough to test", len(tokens), len(holders))
	}

	// The row agrees with the last tenure.
	var token int64
	var holder string
	if err := db.pool.QueryRow(ctx, "SELECT token, holder FROM leases WHERE name = 'outbox'").Scan(&token, &holder); err != nil {
		t.Fatal(err)
	}
	if last := tokens[len(tokens)-1]; token != last || holder != tenures[last].holder {
		t.Fatalf("row: token %d holder %s; last tenure %d by %s", token, holder, last, tenures[last].holder)
	}
}

// The design page shows Acquire's statement: it must be the one the code runs.
func TestLeaseStatementDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/postgres-design.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "```sql\n"+acquireSQL+"\n```") {
		t.Fatal("docs/postgres-design.md does not show acquireSQL as pgledger/lease.go has it")
	}
}
