// Package pgledger is mpg's ledger in PostgreSQL (issue 18), beside the embedded bbolt
// ledger (package ledger), for operators who run several daemons on one shared, replicated
// database.
//
// The ledger's rules are package ledger's, written once over its Store of buckets; this
// package keeps those buckets in the database: Store (store.go) is a ledger.SharedStore on
// a kv table, whose writable transactions, in all daemons, take one writer lock in turn.
// Beside it: the schema's versioned migrations (Migrate), Open, which refuses a database
// whose schema this mpg does not read, and the leases that share work among daemons, with
// fencing tokens (lease.go). Nothing in mpg opens a ledger on this package yet.
//
// The SQL stays portable (PostgreSQL, CockroachDB, YugabyteDB): no advisory locks, no
// LISTEN/NOTIFY, no sequences; work that must run once is shared by leases in a table.
package pgledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is an open PostgreSQL ledger database at the schema this mpg reads.
type DB struct {
	pool   *pgxpool.Pool
	schema int
}

// Open connects to the database dsn names and checks its schema: it refuses a database mpg
// was never set up in (ErrNoSchema), and one at another schema than this mpg's
// (*SchemaError): newer, written by a newer mpg, or older, to be migrated first.
func Open(ctx context.Context, dsn string) (*DB, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("pgledger: %w", err)
	}
	db, err := open(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

func open(ctx context.Context, pool *pgxpool.Pool) (*DB, error) {
	if err := pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("pgledger: connect: %w", err)
	}
	v, err := Version(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("pgledger: %w", err)
	}
	name := pool.Config().ConnConfig.Database
	switch {
	case v == 0:
		return nil, fmt.Errorf("pgledger: database %q: %w", name, ErrNoSchema)
	case v != SchemaVersion:
		return nil, fmt.Errorf("pgledger: database %q: %w", name, &SchemaError{Found: v, Known: SchemaVersion})
	}
	return &DB{pool: pool, schema: v}, nil
}

// Pool is the database's connection pool.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Schema is the database's schema version.
func (db *DB) Schema() int { return db.schema }

// Close closes the pool's connections.
func (db *DB) Close() { db.pool.Close() }

// IsSchemaError reports whether err is Open's refusal of a schema (none, older or newer).
func IsSchemaError(err error) bool {
	var se *SchemaError
	return errors.Is(err, ErrNoSchema) || errors.As(err, &se)
}
