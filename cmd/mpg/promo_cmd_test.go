package main

import (
	"strings"
	"testing"

	"mpg/ledger"
)

// TestPromoCLI: an operator makes a merchant's promotion funded from its account, lists it
// with what is left of its budget, and ends it: the budget goes back to the merchant.
func TestPromoCLI(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "merchant", "add", "shop42", "--name", "Corner Shop", "--msisdn", "+33698765432")
	if _, err := run(t, "--db", db, "promo", "create", "SHOP42", "SUMMER", "--name", "Summer", "--percent", "10", "--budget", "50"); err == nil ||
		!strings.Contains(err.Error(), "which holds 0.00 EUR") {
		t.Fatalf("a budget the merchant cannot fund: %v", err)
	}
	l, _ := alicePays(t, db, "PAY SHOP42 15 2468") // the shop's takings fund its promotions
	l.Close()
	for _, bad := range [][]string{
		{"--percent", "10", "--fixed", "2"},
		{"--percent", "10", "--audience", "age > 3"},
		{"--percent", "10", "--days", "someday"},
		{"--percent", "10", "--hours", "20-8"},
	} {
		args := append([]string{"--db", db, "promo", "create", "SHOP42", "BAD", "--name", "Bad", "--budget", "5"}, bad...)
		if _, err := run(t, args...); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
	out := mustRun(t, "--db", db, "promo", "create", "shop42", "summer", "--name", "Summer", "--percent", "10", "--budget", "10",
		"--min", "5", "--days", "mon,tue,wed,thu,fri", "--hours", "8-20", "--per-member", "3", "--audience", `level == "gold"`)
	if !strings.Contains(out, "SUMMER: promotion of SHOP42, budget 10.00 EUR") {
		t.Fatalf("create: %s", out)
	}
	if out := mustRun(t, "--db", db, "promo", "list"); !strings.Contains(out, "SUMMER") || !strings.Contains(out, "running") || !strings.Contains(out, "10.00 EUR") {
		t.Fatalf("list: %s", out)
	}
	mustRun(t, "--db", db, "promo", "end", "SUMMER")
	if out := mustRun(t, "--db", db, "promo", "list", "SHOP42"); !strings.Contains(out, "ended") || !strings.Contains(out, "0.00 EUR") {
		t.Fatalf("list after the end: %s", out)
	}
	l, err := ledger.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if shop, _ := l.Find("SHOP42"); shop.Available() != 1500 {
		t.Fatalf("the budget did not go back to the merchant: %d", shop.Available())
	}
}
