package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"mpg/config"
	"mpg/internal/pgtest"
	"mpg/ledger"
)

// testBooks are the books a test runs on: a ledger file, or a PostgreSQL database of the
// test's own. The tests that must hold on both ledgers run once on each (onBothLedgers).
type testBooks struct {
	driver string
	args   []string      // the CLI's flags naming the books
	ledger config.Ledger // the configuration's ledger section, for a daemon on them
}

// onBothLedgers runs f on a ledger file and on a PostgreSQL database. Without a PostgreSQL
// server the second is skipped (with MPG_REQUIRE_POSTGRES=1, as in CI, it fails).
func onBothLedgers(t *testing.T, f func(t *testing.T, bk testBooks)) {
	for _, driver := range []string{config.DriverBbolt, config.DriverPostgres} {
		t.Run(driver, func(t *testing.T) { f(t, newBooks(t, driver)) })
	}
}

// newBooks names new, empty books (no ledger in them yet: `ledger init` makes it).
func newBooks(t *testing.T, driver string) testBooks {
	t.Helper()
	dir := t.TempDir()
	if driver == config.DriverBbolt {
		db := filepath.Join(dir, "mpg.db")
		l := config.Default().Ledger
		l.Path = db
		return testBooks{driver: driver, args: []string{"--db", db}, ledger: l}
	}
	dsn := pgtest.Start(t)
	l := config.Default().Ledger
	l.Driver, l.DSN, l.AdminSocket = config.DriverPostgres, dsn, filepath.Join(dir, "mpg.sock")
	toml := "[ledger]\ndriver = \"postgres\"\ndsn = " + strconv.Quote(dsn) + "\nadmin_socket = " + strconv.Quote(l.AdminSocket) + "\n"
	path := filepath.Join(dir, "mpg.toml")
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return testBooks{driver: driver, args: []string{"--config", path}, ledger: l}
}

// cli is the CLI's arguments for a command on the books.
func (bk testBooks) cli(args ...string) []string {
	return append(append([]string{}, bk.args...), args...)
}

// open opens the books as the daemon with configuration cfg does (its ledger section is the
// books'), closed at the test's end.
func (bk testBooks) open(t *testing.T, cfg config.Config, opt func(*ledger.Options)) *ledger.Ledger {
	t.Helper()
	cfg.Ledger = bk.ledger
	a := &app{cfg: cfg, dbPath: bk.ledger.Path}
	o := a.daemonLedgerOptions(cfg)
	if opt != nil {
		opt(o)
	}
	l, err := a.openBooks(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
