package main

import (
	"strings"
	"testing"
)

// TestSubscriberOrdersCLI: customer care lists a subscriber's standing orders numbered as his
// ORDERS, ends one (audited under the operator's uid), and the list is empty after.
func TestSubscriberOrdersCLI(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "merchant", "add", "EDF", "--name", "EDF", "--biller")
	l, _ := alicePays(t, db, "EVERY 15 BILL EDF 0042-77 3 2468")
	l.Close()
	table := mustRun(t, "--db", db, "subscriber", "orders", cliAlice)
	for _, want := range []string{"N  PRODUCT", "1  bill", "EDF", "0042-77", "3.00 EUR", "15"} {
		if !strings.Contains(table, want) {
			t.Fatalf("the table lacks %q:\n%s", want, table)
		}
	}
	if _, err := run(t, "--db", db, "subscriber", "orders", cliAlice, "--stop", "2"); err == nil {
		t.Fatal("order 2 stopped")
	}
	if out := mustRun(t, "--db", db, "subscriber", "orders", cliAlice, "--stop", "1"); !strings.Contains(out, "standing order 1 stopped (3.00 EUR to EDF)") {
		t.Fatalf("stop: %s", out)
	}
	if out := mustRun(t, "--db", db, "subscriber", "orders", cliAlice, "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("after the stop: %s", out)
	}
	if out := mustRun(t, "--db", db, "ledger", "audit"); !strings.Contains(out, "standing order stop") {
		t.Fatalf("audit: %s", out)
	}
}
