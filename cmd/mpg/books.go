package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"mpg/config"
	"mpg/ledger"
	"mpg/pgledger"
)

// The books are a bbolt file (ledger.driver "bbolt", the default: nothing else to install)
// or a PostgreSQL database several daemons share ("postgres"). Every command opens them
// here; the rest of cmd/mpg sees a store either way.

// connectTimeout bounds connecting to the database when a command starts.
const connectTimeout = 15 * time.Second

func (a *app) postgres() bool { return a.cfg.Ledger.Driver == config.DriverPostgres }

// openBooks opens the ledger the configuration names.
func (a *app) openBooks(o *ledger.Options) (*ledger.Ledger, error) {
	if !a.postgres() {
		return ledger.Open(a.dbPath, o)
	}
	dsn, err := a.cfg.Ledger.DSNValue()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	l, db, err := pgledger.OpenLedger(ctx, dsn, o)
	if err != nil {
		return nil, err
	}
	a.pg = db
	return l, nil
}

// createBooks makes new, empty books: a new file, or the schema and an empty ledger in a
// database that has none.
func (a *app) createBooks(ctx context.Context, o *ledger.Options) (*ledger.Ledger, error) {
	if !a.postgres() {
		return ledger.Create(a.dbPath, o)
	}
	dsn, err := a.cfg.Ledger.DSNValue()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := pgledger.Create(cctx, dsn); err != nil {
		return nil, err
	}
	return a.openBooks(o)
}

// migrateSchema brings the database's schema to this mpg's (none: the whole schema).
func (a *app) migrateSchema(ctx context.Context) error {
	dsn, err := a.cfg.Ledger.DSNValue()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return pgledger.MigrateDSN(ctx, dsn)
}

// booksName names the books in messages: the file, or the database (no password).
func (a *app) booksName() string {
	if !a.postgres() {
		return a.dbPath
	}
	if dsn, err := a.cfg.Ledger.DSNValue(); err == nil {
		return pgledger.Describe(dsn)
	}
	return "the PostgreSQL ledger"
}

// adminSocket is where the daemon listens for the CLI: ledger.admin_socket, else beside
// the file, else mpg.sock in the working directory.
func adminSocket(cfg config.Config, dbPath string) string {
	switch {
	case cfg.Ledger.AdminSocket != "":
		return cfg.Ledger.AdminSocket
	case cfg.Ledger.Driver == config.DriverPostgres:
		return "mpg.sock"
	}
	return socketPath(dbPath)
}

// daemonName names this daemon among those sharing a database: ledger.daemon, else the
// host and the admin socket, the same across restarts (a restarted daemon sends at once
// what it left queued). A CLI that opens the database itself takes a name of its own.
func (a *app) daemonName() string {
	if a.cfg.Ledger.Daemon != "" {
		return a.cfg.Ledger.Daemon
	}
	host, _ := os.Hostname()
	sock, err := filepath.Abs(adminSocket(a.cfg, a.dbPath))
	if err != nil {
		sock = adminSocket(a.cfg, a.dbPath)
	}
	return host + ":" + sock
}

// socketPath is the admin socket beside a ledger file.
func socketPath(db string) string { return db + ".sock" }
