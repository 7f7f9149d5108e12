package main

import (
	"regexp"
	"strings"
	"testing"

	"mpg/internal/pgtest"
)

// TestBenchPostgresSharesTheLoad runs `mpg bench --ledger postgres` as operators do, on a
// small load: two daemons (this test binary, run as mpg) on one empty database, every
// command answered, the MO spread over both, the books verified; and a second run on the
// same database, which now holds a ledger, is refused before anything starts.
func TestBenchPostgresSharesTheLoad(t *testing.T) {
	dsn := pgtest.Start(t)
	t.Setenv("MPG_TEST_AS_MPG", "1")
	out := mustRun(t, "bench", "--ledger", "postgres", "--dsn", dsn, "--daemons", "2",
		"--subscribers", "60", "--merchants", "2", "--commands", "400", "--outstanding", "12")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^mo_mt_per_s=\d+ p50_ms=[\d.]+ p99_ms=[\d.]+ p999_ms=[\d.]+ answered=400/400 verify=ok ledger=postgres daemons=2$`).MatchString(last) {
		t.Fatalf("last line: %q\n%s", last, out)
	}
	if !strings.Contains(out, "refused: none") || !regexp.MustCompile(`cpu_daemon=[\d.]+ cpu_daemons=[\d.]+\+[\d.]+ cpu_postgres=[\d.]+ cpu_driver=[\d.]+`).MatchString(out) {
		t.Fatalf("report: %s", out)
	}
	t.Log(out)
	// Both daemons took MO and committed jobs.
	m := regexp.MustCompile(`bench1=(\d+)/(\d+) bench2=(\d+)/(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no spread in the report: %s", out)
	}
	for _, v := range m[1:] {
		if v == "0" {
			t.Fatalf("a daemon took nothing: %s", m[0])
		}
	}
	_, err := run(t, "bench", "--ledger", "postgres", "--dsn", dsn, "--daemons", "1", "--subscribers", "10", "--commands", "10", "--outstanding", "2")
	if err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("a second bench on the same database: %v", err)
	}
}
