package main

import (
	"strings"
	"testing"
)

// mpg subscriber settings shows a subscriber's preferences and, with --receive, changes
// where money sent to him lands, refusing bank while no bank account is linked.
func TestSubscriberSettingsCLI(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "account", "open", "0612345678", "--name", "Alice")
	out := mustRun(t, "--db", db, "subscriber", "settings", "0612345678")
	if !strings.Contains(out, "Money sent to you: e-purse") || !strings.Contains(out, "Bank account: none") {
		t.Fatalf("settings:\n%s", out)
	}
	if out, err := run(t, "--db", db, "subscriber", "settings", "0612345678", "--receive", "bank"); err == nil || !strings.Contains(err.Error()+out, "no bank account is linked") {
		t.Fatalf("receive bank without an account: %v %s", err, out)
	}
	mustRun(t, "--db", db, "account", "bank", "link", "0612345678", "FR76 3000 6000 0112 3456 7890 189")
	out = mustRun(t, "--db", db, "subscriber", "settings", "0612345678", "--receive", "bank", "-o", "json")
	if !strings.Contains(out, `"receive": "bank"`) || !strings.Contains(out, `"bank_account": "FR76 **** 0189"`) {
		t.Fatalf("settings -o json:\n%s", out)
	}
	out = mustRun(t, "--db", db, "subscriber", "settings", "0612345678")
	if !strings.Contains(out, "Money sent to you: bank account") {
		t.Fatalf("settings after --receive bank:\n%s", out)
	}
}
