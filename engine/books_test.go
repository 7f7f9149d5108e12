package engine

import (
	"flag"
	"os"
	"testing"

	"mpg/internal/pgtest"
	"mpg/internal/testbooks"
)

// The engine's tests run on a ledger file, and with MPG_TEST_LEDGER=postgres (make test
// does both) on a PostgreSQL database of their own: every feature on both ledgers.
var onPostgres = testbooks.Postgres

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// rawBooks is every byte the world's books keep at rest.
func (w *world) rawBooks(t *testing.T) []byte { return w.books.Raw(t) }

// flagSet reports whether the named flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
