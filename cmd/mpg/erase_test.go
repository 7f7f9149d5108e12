package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestSubscriberEraseFromTheCLI: an erasure by the operator closes and pays out the purse at
// once, keeps the books readable until the retention ends; --now erases at once, after which
// the number finds nothing, the erasure log names only a party id, the identity key given
// in the environment seals the file, and the books verify.
func TestSubscriberEraseFromTheCLI(t *testing.T) {
	t.Setenv("MPG_IDENTITY_KEY", strings.Repeat("ab", 32))
	db := cliLedger(t)
	mustRun(t, "--db", db, "account", "open", "0612345678", "--name", "Alice Planted", "--tier", "2")
	mustRun(t, "--db", db, "account", "topup", "0612345678", "20")
	out := mustRun(t, "--db", db, "subscriber", "erase", "0612345678")
	if !strings.Contains(out, "purse closed (20.00 EUR paid out)") || !strings.Contains(out, "erased for good on") || strings.Contains(out, "12345678") {
		t.Fatalf("erase: %s", out)
	}
	if again := mustRun(t, "--db", db, "subscriber", "erase", "0612345678"); !strings.Contains(again, "erasure asked before; erased for good on") {
		t.Fatalf("asked again: %s", again)
	}
	if out, err := run(t, "--db", db, "subscriber", "export", "0600000000"); err == nil || !strings.Contains(out+err.Error(), "holds nothing") {
		t.Fatalf("export of a number nobody holds: %v %s", err, out)
	}
	if show := mustRun(t, "--db", db, "ledger", "show", "+33612345678"); !strings.Contains(show, "Alice Planted") {
		t.Fatalf("during the retention the books still name her: %s", show)
	}
	out = mustRun(t, "--db", db, "subscriber", "erase", "0612345678", "--now")
	if !strings.Contains(out, "erased") {
		t.Fatalf("erase --now: %s", out)
	}
	if out, err := run(t, "--db", db, "ledger", "show", "+33612345678"); err == nil {
		t.Fatalf("the number still finds her: %s", out)
	}
	if out, err := run(t, "--db", db, "subscriber", "erase", "0612345678", "--now"); err == nil || !strings.Contains(out+err.Error(), "holds nothing") {
		t.Fatalf("erasing again: %v %s", err, out)
	}
	log, err := os.ReadFile(db + ".erasures")
	if err != nil || !bytes.Contains(log, []byte(" ~")) || bytes.Contains(log, []byte("12345678")) {
		t.Fatalf("erasure log: %q %v", log, err)
	}
	if out := mustRun(t, "--db", db, "ledger", "verify"); !strings.Contains(strings.ToLower(out), "ok") {
		t.Fatalf("verify: %s", out)
	}
	// Without the identity key the file does not open: it is not in the file.
	t.Setenv("MPG_IDENTITY_KEY", "")
	if out, err := run(t, "--db", db, "ledger", "verify"); err == nil {
		t.Fatalf("opened without the identity key: %s", out)
	}
}
