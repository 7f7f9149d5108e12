package pgledger

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"mpg/internal/pgtest"
	"mpg/ledger"
	"mpg/ledger/ledgertest"
)

// TestConformance runs the suite every ledger passes against a PostgreSQL database, with
// the tests of books two daemons share (Another opens a second ledger on the same
// database, as a second daemon would).
func TestConformance(t *testing.T) { ledgertest.Run(t, pgOpener) }

// pgOpener makes a new database with an empty ledger in it.
func pgOpener(t testing.TB, c ledgertest.Config) (ledgertest.Ledger, ledgertest.Store) {
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Create(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	// A restart keeps the daemon's name (it sends what it left queued at once); a second
	// daemon has its own.
	var others atomic.Int32
	reopen := func(t testing.TB, c ledgertest.Config) ledgertest.Ledger { return openShared(t, dsn, "first", c) }
	another := func(t testing.TB, c ledgertest.Config) ledgertest.Ledger {
		return openShared(t, dsn, fmt.Sprintf("other-%d", others.Add(1)), c)
	}
	return reopen(t, c), ledgertest.Store{Reopen: reopen, Another: another}
}

// openShared opens the ledger in the database dsn names, closed at the test's end.
func openShared(t testing.TB, dsn, daemon string, c ledgertest.Config) *ledger.Ledger {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, _, err := OpenLedger(ctx, dsn, &ledger.Options{
		Now: c.Now, Tiers: c.Tiers, ExpiryEvery: c.ExpiryEvery, OutboxRetention: c.OutboxRetention,
		MaxBatchJobs: c.Tuning.MaxBatchJobs, Daemon: daemon,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
