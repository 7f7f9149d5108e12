package pgledger

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"mpg/domain"
	"mpg/ledger"
	"mpg/ledger/ledgertest"
)

// TestCopyOfAFileWithLaggingRecords: a file's account records lag its journal (a file
// checkpoints in rounds; replay_from says where replay starts), but on a shared store every
// reader and every later open trusts the records ("an account not in memory is always read
// current from its record"). CopyFile copies the lagging records as they are, and the first
// batch of the first daemon on the database (ledger migrate's own check opens one) moves
// replay_from to the end without writing the accounts its open replayed: the database then
// answers stale balances, and the next daemon runs the money rules on them.
func TestCopyOfAFileWithLaggingRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tiers := map[uint8]domain.TierLimits{2: {PerPayment: 10000, Daily: 50000, MaxBalance: 100000}}
	dir := t.TempDir()
	path := filepath.Join(dir, "books.db")
	fl, err := ledger.Create(path, &ledger.Options{Tiers: tiers, CheckpointEvery: time.Hour, ExpiryEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	res, err := fl.Submit(ctx, domain.Job{Open: []domain.AccountSpec{
		{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33611110001", Tier: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	float, purse := res.Accounts[0].ID, res.Accounts[1].ID
	if _, err := fl.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: float, Credit: purse, Amount: 5000}}}); err != nil {
		t.Fatal(err)
	}
	// A backup of the running daemon's file (BackupFile: the books as of one commit; the
	// balance records as the last checkpoint round left them) is what is migrated; a crash
	// image of the file is the same.
	crashed := filepath.Join(dir, "crashed.db")
	if _, err := fl.BackupFile(crashed); err != nil {
		t.Fatal(err)
	}
	fl.Close()
	img, err := os.ReadFile(crashed)
	if err != nil {
		t.Fatal(err)
	}
	// The file is sound: opened again, it replays and holds 50.00.
	if l, err := ledger.Open(filepath.Join(dir, "crashed.db"), &ledger.Options{Tiers: tiers}); err != nil {
		t.Fatal(err)
	} else {
		a, _ := l.Account(purse)
		l.Close()
		if a.Available() != 5000 {
			t.Fatalf("the file itself holds %d", a.Available())
		}
		if err := os.WriteFile(crashed, img, 0o600); err != nil { // the image again, untouched by that open
			t.Fatal(err)
		}
	}

	db, dsn := migratedDB(t)
	store := NewStore(db)
	if _, err := ledger.CopyFile(ctx, crashed, store, nil); err != nil {
		t.Fatal(err)
	}
	first, err := ledger.OpenShared(store, &ledger.Options{Tiers: tiers, Daemon: "first"})
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := first.Account(purse)
	rep, _ := first.Verify(ctx, nil)
	first.Close()

	l2 := openShared(t, dsn, "second", ledgertestConfig(tiers))
	a2, _ := l2.Account(purse)
	_, payErr := l2.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: purse, Credit: float, Amount: 3000}}})
	var problems []string
	if a1.Available() != 5000 {
		problems = append(problems, "first daemon answers "+itoa(a1.Available()))
	}
	if a2.Available() != 5000 {
		problems = append(problems, "second daemon answers "+itoa(a2.Available()))
	}
	if payErr != nil {
		problems = append(problems, "a payment of 30.00 from the 50.00 purse: "+payErr.Error())
	}
	if rep != nil && !rep.OK() {
		problems = append(problems, "verify: "+rep.Problem)
	}
	if len(problems) > 0 {
		t.Fatalf("the journal gives the purse 50.00; %v", problems)
	}
	if errors.Is(payErr, domain.ErrInsufficientFunds) {
		t.Fatal("unreachable")
	}
}

func ledgertestConfig(tiers map[uint8]domain.TierLimits) ledgertest.Config {
	return ledgertest.Config{Tiers: tiers}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
