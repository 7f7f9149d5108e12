package ledger_test

import (
	"path/filepath"
	"testing"

	"mpg/ledger"
	"mpg/ledger/ledgertest"
)

// TestConformance runs the suite every ledger passes against the bbolt file.
func TestConformance(t *testing.T) { ledgertest.Run(t, bboltOpener) }

// bboltOpener creates a ledger file in a temporary directory; the store reopens that file,
// and copies it with BackupFile into another.
func bboltOpener(t testing.TB, c ledgertest.Config) (ledgertest.Ledger, ledgertest.Store) {
	path := filepath.Join(t.TempDir(), "mpg.db")
	l, err := ledger.Create(path, options(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, ledgertest.Store{
		Reopen: func(t testing.TB, c ledgertest.Config) ledgertest.Ledger { return open(t, path, c) },
		Copy: func(t testing.TB, from ledgertest.Ledger, c ledgertest.Config) ledgertest.Ledger {
			cp := filepath.Join(t.TempDir(), "copy.db")
			if _, err := from.(*ledger.Ledger).BackupFile(cp); err != nil {
				t.Fatal(err)
			}
			return open(t, cp, c)
		},
	}
}

func open(t testing.TB, path string, c ledgertest.Config) *ledger.Ledger {
	l, err := ledger.Open(path, options(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func options(c ledgertest.Config) *ledger.Options {
	return &ledger.Options{
		Now: c.Now, Tiers: c.Tiers, ExpiryEvery: c.ExpiryEvery, OutboxRetention: c.OutboxRetention,
		MaxBatchJobs: c.Tuning.MaxBatchJobs, CheckpointEvery: c.Tuning.CheckpointEvery,
		CheckpointChunk: c.Tuning.CheckpointChunk, NoSync: c.Tuning.NoSync,
	}
}
