package main

import (
	"os"
	"testing"

	"mpg/internal/pgtest"
)

// TestMain lets a test run this test binary as mpg itself (MPG_TEST_AS_MPG=1), for the
// commands that start `mpg serve` as a separate process, such as the end-to-end bench.
func TestMain(m *testing.M) {
	if os.Getenv("MPG_TEST_AS_MPG") == "1" {
		main()
		os.Exit(0)
	}
	// The tests give keys where they mean to: keys of the shell that runs them (an
	// MPG_PIN_KEY exported, a systemd credential) would be refused by their ledger files.
	for _, env := range []string{"MPG_PIN_KEY", "MPG_RECEIPT_KEY", "CREDENTIALS_DIRECTORY", ConsolePasswordEnv} {
		os.Unsetenv(env)
	}
	os.Exit(pgtest.Main(m)) // a PostgreSQL cluster for the tests that run on both ledgers
}
