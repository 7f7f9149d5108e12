package pgledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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

// Describe names the database a DSN points to as an operator reads it: database, user,
// host and port, never the password.
func Describe(dsn string) string {
	c, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "PostgreSQL (unreadable DSN)"
	}
	return fmt.Sprintf("PostgreSQL database %q as %q on %s:%d", c.Database, c.User, c.Host, c.Port)
}
