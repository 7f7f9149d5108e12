package main

import (
	"strings"
	"testing"
)

// An operator sets how a subscriber confirms payments (a call or a code), sees it and the
// last call's state, and the change is audited with who made it.
func TestAccountConfirmByOperator(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "account", "open", "+33612345678", "--name", "Alice", "--tier", "2")
	if out := mustRun(t, "--db", db, "account", "confirm", "0612345678"); !strings.Contains(out, "+33612345678: confirms by sms; last call: none") {
		t.Fatalf("show: %s", out)
	}
	if out := mustRun(t, "--db", db, "account", "confirm", "0612345678", "voice"); !strings.Contains(out, "confirms by voice") {
		t.Fatalf("set voice: %s", out)
	}
	if _, err := run(t, "--db", db, "account", "confirm", "0612345678", "fax"); err == nil {
		t.Fatal("confirm fax accepted")
	}
	if _, err := run(t, "--db", db, "account", "confirm", "0699999999", "voice"); err == nil {
		t.Fatal("a number with no purse accepted")
	}
	if out, err := run(t, "--db", db, "account", "confirm", "0699999999"); err == nil || !strings.Contains(err.Error(), "no e-purse") {
		t.Fatalf("a number with no purse shown: %v %s", err, out)
	}
	if out := mustRun(t, "--db", db, "ledger", "audit", "--limit", "10"); !strings.Contains(out, "confirm by") || !strings.Contains(out, "voice") {
		t.Fatalf("audit: %s", out)
	}
	if out := mustRun(t, "--db", db, "account", "confirm", "+33612345678", "sms"); !strings.Contains(out, "confirms by sms") {
		t.Fatalf("set sms: %s", out)
	}
}
