package pgledger

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The migrations are numbered SQL files, dense from 0001: migrations/NNNN_what.sql. A
// released file is never edited; a change to the schema is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string // the file's name
	sql     string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// loadMigrations reads the embedded files and checks that they are numbered 1, 2, 3...
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, path := range names {
		base := path[len("migrations/"):]
		m := migrationName.FindStringSubmatch(base)
		if m == nil {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", base)
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d (versions are dense from 1)", m.name, i+1)
		}
	}
	return ms, nil
}

var migrations = func() []migration {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		panic("pgledger: " + err.Error())
	}
	return ms
}()

// SchemaVersion is the newest schema this mpg knows: the number of its migrations.
var SchemaVersion = len(migrations)

// PostgreSQL's error codes (SQLSTATE) this package acts on.
const (
	codeUniqueViolation = "23505"
	codeUndefinedTable  = "42P01"
	codeDuplicateTable  = "42P07"
	codeDuplicateObject = "42710"
)

func isCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}

// ErrNoSchema is Open's answer for a database mpg has never been set up in.
var ErrNoSchema = errors.New("the database has no mpg schema: run mpg ledger init")

// SchemaError is Open's answer for a database whose schema is not the one this mpg reads.
type SchemaError struct {
	Found int // the database's schema
	Known int // the newest this mpg knows
}

func (e *SchemaError) Error() string {
	if e.Found > e.Known {
		return fmt.Sprintf("the database is at schema %d, this mpg reads up to %d: a newer mpg wrote it", e.Found, e.Known)
	}
	return fmt.Sprintf("the database is at schema %d, this mpg needs %d: run mpg ledger migrate-schema", e.Found, e.Known)
}

// querier is what Version needs: a pool, a connection or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Version is the database's schema version: 0 when mpg has never migrated it.
func Version(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM mpg_schema").Scan(&v)
	if isCode(err, codeUndefinedTable) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return v, nil
}

// Migrate brings the database to SchemaVersion: it applies, in order, each migration the
// database has not had, each in a transaction of its own that also records its version in
// mpg_schema. A database already there is left as it is. It refuses a database at a newer
// schema than this mpg knows.
//
// Several processes may migrate the same database at once: each migration's first write is
// its row in mpg_schema, so a second migrator waits on the first's row and, when the first
// commits, finds the version taken and goes on to the next (no advisory lock needed).
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := ensureSchemaTable(ctx, pool); err != nil {
		return err
	}
	cur, err := Version(ctx, pool)
	if err != nil {
		return err
	}
	if cur > SchemaVersion {
		return &SchemaError{Found: cur, Known: SchemaVersion}
	}
	for _, m := range migrations[cur:] {
		if err := apply(ctx, pool, m); err != nil {
			return err
		}
	}
	return nil
}

// ensureSchemaTable makes mpg_schema, the record of the migrations applied.
func ensureSchemaTable(ctx context.Context, pool *pgxpool.Pool) error {
	const ddl = `CREATE TABLE IF NOT EXISTS mpg_schema (
    version bigint      PRIMARY KEY CHECK (version >= 1),
    name    text        NOT NULL,
    applied timestamptz NOT NULL DEFAULT now()
)`
	var err error
	for try := 0; try < 3; try++ {
		// PostgreSQL's IF NOT EXISTS can still fail when two sessions create the table at
		// the same moment (on the table's row type: 42710 or 23505); the table is there for
		// the next try.
		if _, err = pool.Exec(ctx, ddl); err == nil || !isCode(err, codeUniqueViolation, codeDuplicateTable, codeDuplicateObject) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create mpg_schema: %w", err)
	}
	return nil
}

// errApplied rolls back a migration another process applied first.
var errApplied = errors.New("applied by another process")

// apply runs one migration and records it, in one transaction.
func apply(ctx context.Context, pool *pgxpool.Pool, m migration) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO mpg_schema (version, name) VALUES ($1, $2)", m.version, m.name)
		if isCode(err, codeUniqueViolation) {
			return errApplied
		}
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if m.version > 1 {
			var prev int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM mpg_schema WHERE version = $1", m.version-1).Scan(&prev); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if prev != 1 {
				return fmt.Errorf("migration %s: schema %d was never applied", m.name, m.version-1)
			}
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		return nil
	})
	if errors.Is(err, errApplied) {
		return nil
	}
	return err
}
