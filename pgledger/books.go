package pgledger

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mpg/ledger"
)

// MigrateDSN connects to the database dsn names and brings its schema to this mpg's.
func MigrateDSN(ctx context.Context, dsn string) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return fmt.Errorf("pgledger: %w", err)
	}
	defer pool.Close()
	return Migrate(ctx, pool)
}

// Describe names the database a DSN points to as an operator reads it (as Store.Name
// does): database, host and port, never the password.
func Describe(dsn string) string {
	c, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "PostgreSQL (unreadable DSN)"
	}
	return describe(c)
}

// describe names a connection's database and server, never its password.
func describe(cc *pgx.ConnConfig) string {
	port := strconv.Itoa(int(cc.Port))
	if strings.HasPrefix(cc.Host, "/") { // a Unix socket's directory
		return fmt.Sprintf("PostgreSQL database %s on %s (socket, port %s)", cc.Database, cc.Host, port)
	}
	return fmt.Sprintf("PostgreSQL database %s on %s", cc.Database, net.JoinHostPort(cc.Host, port))
}

// Create makes the schema and an empty ledger in the database dsn names (`mpg ledger
// init`); a database that holds a ledger already is refused.
func Create(ctx context.Context, dsn string) error {
	if err := MigrateDSN(ctx, dsn); err != nil {
		return err
	}
	db, err := Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return ledger.InitShared(NewStore(db))
}

// OpenLedger opens the ledger in the database dsn names, as one of the daemons sharing
// it, and returns it with the database (for leases). Closing the ledger closes the database.
func OpenLedger(ctx context.Context, dsn string, o *ledger.Options) (*ledger.Ledger, *DB, error) {
	db, err := Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	l, err := ledger.OpenShared(NewStore(db), o)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return l, db, nil
}
