package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mpg subscriber settings shows a subscriber's preferences and, with --receive, changes
// where money sent to him lands, refusing bank while no bank account is linked, or where no
// bank connector is configured (as RECEIVE BANK by SMS does).
func TestSubscriberSettingsCLI(t *testing.T) {
	db := cliLedger(t)
	withBank := filepath.Join(t.TempDir(), "mpg.toml")
	if err := os.WriteFile(withBank, []byte("[bank]\naddr = \"127.0.0.1:9\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "--db", db, "account", "open", "0612345678", "--name", "Alice")
	out := mustRun(t, "--db", db, "subscriber", "settings", "0612345678")
	if !strings.Contains(out, "Money sent to you: e-purse") || !strings.Contains(out, "Bank account: none") {
		t.Fatalf("settings:\n%s", out)
	}
	if out, err := run(t, "--db", db, "--config", withBank, "subscriber", "settings", "0612345678", "--receive", "bank"); err == nil || !strings.Contains(err.Error()+out, "no bank account is linked") {
		t.Fatalf("receive bank without an account: %v %s", err, out)
	}
	mustRun(t, "--db", db, "account", "bank", "link", "0612345678", "FR76 3000 6000 0112 3456 7890 189")
	if out, err := run(t, "--db", db, "subscriber", "settings", "0612345678", "--receive", "bank"); err == nil || !strings.Contains(err.Error()+out, "no bank connector is configured") {
		t.Fatalf("receive bank without a connector: %v %s", err, out)
	}
	out = mustRun(t, "--db", db, "--config", withBank, "subscriber", "settings", "0612345678", "--receive", "bank", "-o", "json")
	for _, want := range []string{`"receive": "bank"`, `"bank_account": "FR76 **** 0189"`, `"confirm_by": "sms"`, `"standing_orders": 0`, `"saved_bills": 0`} {
		if !strings.Contains(out, want) {
			t.Fatalf("settings -o json: no %s in\n%s", want, out)
		}
	}
	out = mustRun(t, "--db", db, "subscriber", "settings", "0612345678")
	if !strings.Contains(out, "Money sent to you: bank account") {
		t.Fatalf("settings after --receive bank:\n%s", out)
	}
}
