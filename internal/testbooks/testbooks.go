// Package testbooks gives a test the books of the ledger MPG_TEST_LEDGER names: a ledger
// file (by default) or, with MPG_TEST_LEDGER=postgres, a PostgreSQL database of the test's
// own (internal/pgtest: the package's TestMain must run pgtest.Main). make test runs the
// engine's and the merchant side's tests both ways: every feature on both ledgers.
package testbooks

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mpg/internal/pgtest"
	"mpg/ledger"
	"mpg/pgledger"
)

// Postgres reports whether the tests run on PostgreSQL.
var Postgres = os.Getenv("MPG_TEST_LEDGER") == "postgres"

// Books are one test's books: a file, or a database.
type Books struct {
	Path string // the file
	DSN  string // the database, once created
}

// New names new books for t (nothing is created until Create).
func New(t testing.TB) *Books {
	return &Books{Path: filepath.Join(t.TempDir(), "mpg.db")}
}

// Create makes an empty ledger in the books and opens it, closed at the test's end.
func (b *Books) Create(t testing.TB, o *ledger.Options) *ledger.Ledger { return b.open(t, o, true) }

// Open opens the books again, as a restarted daemon does, closed at the test's end.
func (b *Books) Open(t testing.TB, o *ledger.Options) *ledger.Ledger { return b.open(t, o, false) }

func (b *Books) open(t testing.TB, o *ledger.Options, create bool) *ledger.Ledger {
	t.Helper()
	var l *ledger.Ledger
	var err error
	switch {
	case !Postgres && create:
		l, err = ledger.Create(b.Path, o)
	case !Postgres:
		l, err = ledger.Open(b.Path, o)
	default:
		l, err = b.openDatabase(t, o, create)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func (b *Books) openDatabase(t testing.TB, o *ledger.Options, create bool) (*ledger.Ledger, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if create {
		b.DSN = pgtest.Start(t)
		if err := pgledger.Create(ctx, b.DSN); err != nil {
			return nil, err
		}
	}
	if o == nil {
		o = &ledger.Options{}
	}
	o.Daemon = "test" // the same across a reopen: it sends what it left queued
	l, _, err := pgledger.OpenLedger(ctx, b.DSN, o)
	return l, err
}

// Raw is every byte the books keep at rest: the file, or every row of the database.
func (b *Books) Raw(t testing.TB) []byte {
	t.Helper()
	if !Postgres {
		raw, err := os.ReadFile(b.Path)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT bucket, k, v FROM kv")
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	var bucket string
	var k, v []byte
	_, err = pgx.ForEachRow(rows, []any{&bucket, &k, &v}, func() error {
		all.WriteString(bucket)
		all.Write(k)
		all.Write(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all.Bytes()
}
