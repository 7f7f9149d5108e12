package pgledger

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mpg/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The tables 0001 makes: the buckets' key-value table, the writer lock, and the leases.
var tables = []string{"mpg_schema", "kv", "writer_lock", "leases"}

func newPool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := pgtest.Start(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, dsn
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestMigrateFreshThenAgain(t *testing.T) {
	ctx := ctxT(t)
	pool, dsn := newPool(t)
	if v, err := Version(ctx, pool); err != nil || v != 0 {
		t.Fatalf("fresh database: version %d, %v", v, err)
	}
	if err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if v, err := Version(ctx, pool); err != nil || v != SchemaVersion {
		t.Fatalf("after Migrate: version %d, %v; want %d", v, err, SchemaVersion)
	}
	for _, name := range tables {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1", name).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: %d, %v", name, n, err)
		}
	}
	var all int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()").Scan(&all); err != nil || all != len(tables) {
		t.Errorf("%d tables, the test knows %d: %v", all, len(tables), err)
	}

	// Again: nothing to do, nothing recorded twice.
	if err := Migrate(ctx, pool); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM mpg_schema").Scan(&rows); err != nil || rows != SchemaVersion {
		t.Fatalf("mpg_schema has %d rows, %v; want %d", rows, err, SchemaVersion)
	}

	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Schema() != SchemaVersion {
		t.Fatalf("Open: schema %d", db.Schema())
	}
	// The handle works: a row in, a row out.
	if _, err := db.Pool().Exec(ctx, "INSERT INTO kv (bucket, k, v) VALUES ('meta', 'probe', '\\x01')"); err != nil {
		t.Fatal(err)
	}
	// The writer lock's one row is there for writable transactions to lock.
	var id int
	if err := db.Pool().QueryRow(ctx, "SELECT id FROM writer_lock").Scan(&id); err != nil || id != 1 {
		t.Fatalf("writer_lock: %d, %v", id, err)
	}
}

// Several daemons starting at once all migrate: each migration is applied once.
func TestMigrateConcurrently(t *testing.T) {
	ctx := ctxT(t)
	pool, _ := newPool(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = Migrate(ctx, pool)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM mpg_schema").Scan(&rows); err != nil || rows != SchemaVersion {
		t.Fatalf("mpg_schema has %d rows, %v; want %d", rows, err, SchemaVersion)
	}
}

func TestOpenRefusesEmptyDatabase(t *testing.T) {
	ctx := ctxT(t)
	_, dsn := newPool(t)
	_, err := Open(ctx, dsn)
	if !errors.Is(err, ErrNoSchema) || !IsSchemaError(err) || !strings.Contains(err.Error(), "run mpg ledger init") {
		t.Fatalf("Open of an empty database: %v", err)
	}
	t.Log(err)
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := ctxT(t)
	pool, dsn := newPool(t)
	if err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	next := SchemaVersion + 1
	if _, err := pool.Exec(ctx, "INSERT INTO mpg_schema (version, name) VALUES ($1, 'from_the_future.sql')", next); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, dsn)
	var se *SchemaError
	if !errors.As(err, &se) || se.Found != next || se.Known != SchemaVersion {
		t.Fatalf("Open of a newer schema: %v", err)
	}
	want := "schema 2, this mpg reads up to 1"
	if SchemaVersion != 1 {
		want = "this mpg reads up to"
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("Open of a newer schema: %q, want it to say %q", err, want)
	}
	t.Log(err)
	// Migrate refuses it too, and changes nothing.
	if err := Migrate(ctx, pool); !errors.As(err, &se) {
		t.Fatalf("Migrate of a newer schema: %v", err)
	}
}

// A database behind this mpg is refused too: it is to be migrated first. (Shown by making
// this mpg one schema newer than its files.)
func TestOpenRefusesOlderSchema(t *testing.T) {
	ctx := ctxT(t)
	pool, dsn := newPool(t)
	if err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	known := SchemaVersion
	SchemaVersion++
	defer func() { SchemaVersion = known }()
	_, err := Open(ctx, dsn)
	var se *SchemaError
	if !errors.As(err, &se) || se.Found != known || !strings.Contains(err.Error(), "run mpg ledger migrate-schema") {
		t.Fatalf("Open of an older schema: %v", err)
	}
	t.Log(err)
}

// A migration that fails leaves nothing behind: neither its tables nor its version.
func TestMigrationIsOneTransaction(t *testing.T) {
	ctx := ctxT(t)
	pool, _ := newPool(t)
	if err := ensureSchemaTable(ctx, pool); err != nil {
		t.Fatal(err)
	}
	bad := migration{version: 1, name: "0001_bad.sql", sql: "CREATE TABLE half (id bigint PRIMARY KEY); CREATE TABLE half (id bigint PRIMARY KEY);"}
	if err := apply(ctx, pool, bad); err == nil || !strings.Contains(err.Error(), "0001_bad.sql") {
		t.Fatalf("a failing migration: %v", err)
	}
	if v, err := Version(ctx, pool); err != nil || v != 0 {
		t.Fatalf("after a failed migration: version %d, %v", v, err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the failed migration's table: %d, %v", n, err)
	}
}

// The files are numbered densely from 1; anything else is refused when mpg is built.
func TestLoadMigrations(t *testing.T) {
	if len(migrations) == 0 || migrations[0].name != "0001_init.sql" {
		t.Fatalf("migrations: %v", migrations)
	}
	for _, c := range []struct {
		files fstest.MapFS
		want  string
	}{
		{fstest.MapFS{"migrations/0002_b.sql": {}}, "want version 1"},
		{fstest.MapFS{"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}}, "want version 2"},
		{fstest.MapFS{"migrations/1_a.sql": {}}, "NNNN_name.sql"},
	} {
		if _, err := loadMigrations(c.files); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.files, err, c.want)
		}
	}
}
