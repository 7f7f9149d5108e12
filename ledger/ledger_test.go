package ledger

import (
	"context"
	"errors"
	"mpg/domain"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
)

// The tests of the bbolt file itself are here; those every ledger must pass are the
// conformance suite in ledger/ledgertest, run by conformance_test.go.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testLedger creates a ledger in a temporary directory with a float, a purse and a merchant.
func testLedger(t *testing.T, opt *Options) (*Ledger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mpg.db")
	l, err := Create(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func mustOpen(t *testing.T, l *Ledger, specs ...domain.AccountSpec) []domain.Account {
	t.Helper()
	res, err := l.Submit(context.Background(), domain.Job{Open: specs})
	if err != nil {
		t.Fatal(err)
	}
	return res.Accounts
}

func mustVerify(t *testing.T, l *Ledger) *Report {
	t.Helper()
	rep, err := l.Verify(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %s", rep.Problem)
	}
	return rep
}

func transfer(dr, cr, amount uint64) domain.Transfer {
	return domain.Transfer{ID: domain.NewID(), Debit: dr, Credit: cr, Amount: amount}
}

func TestSecondOpenerIsToldWho(t *testing.T) {
	_, path := testLedger(t, nil)
	_, err := Open(path, &Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second open: %v", err)
	}
}

func TestUnknownSchemaIsAClearError(t *testing.T) {
	l, path := testLedger(t, nil)
	l.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktMeta).Put(keySchema, u64key(99)) })
	db.Close()
	if _, err := Open(path, nil); !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "99") {
		t.Fatalf("open v99: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none.db"), nil); err == nil {
		t.Fatal("opening a missing file must fail, not create it")
	}
}
