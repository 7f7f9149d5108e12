package voice

import (
	"os"
	"testing"

	"mpg/internal/pgtest"
)

// TestMain gives the tests a PostgreSQL cluster when they run on it (MPG_TEST_LEDGER=postgres).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
