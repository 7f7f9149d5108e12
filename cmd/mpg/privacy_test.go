package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"mpg/engine"
	"mpg/ledger"
)

// A normal day of a planted person through the daemon: SMS over SMPP, operator commands
// through its socket (a bank account linked, his consents listed, his data exported). The
// consents and the export are his; the log and /metrics never carry his number (masked
// only), his name or his IBAN.
func TestPersonalDataThroughTheDaemon(t *testing.T) {
	const number, name, iban = "+33655501234", "Zacharie Plantard", "FR7630006000011234567890189"
	db, sim, cfg := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop"})
	var logs syncBuffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), &logs, zapcore.DebugLevel))
	l, err := ledger.Open(db, (&app{cfg: cfg}).daemonLedgerOptions(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, httpAddr, stop, err := startDaemon(context.Background(), cfg, l, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	ph := &phone{sim: sim, out: io.Discard}
	text := func(from, s string) {
		t.Helper()
		if err := ph.text(ctx, from, s, false); err != nil {
			t.Fatal(err)
		}
	}
	text(number, "REG 739164 "+name)
	mustRun(t, "--db", db, "account", "topup", number, "50")
	mustRun(t, "--db", db, "account", "tier", number, "2")
	mustRun(t, "--db", db, "account", "bank", "link", number, iban)
	for _, s := range []string{"PAY SHOP42 5 739164", "SEND 0655509876 2 739164", "PROMO ON", "STOP", "BAL 739164", "MINI 739164", "DATA 739164", "SEND " + number + " 1 739164"} {
		text(number, s)
	}
	if got := sim.MT(number); !strings.Contains(got[len(got)-2], "Your data: balance") {
		t.Fatalf("DATA: %q", got)
	}
	table := mustRun(t, "--db", db, "subscriber", "consents", number)
	if !strings.Contains(table, "PROMO ON") || !strings.Contains(table, "STOP") || !strings.Contains(table, "Send START to receive them again") {
		t.Fatalf("consents:\n%s", table)
	}
	var cs []engine.Consent
	if err := json.Unmarshal([]byte(mustRun(t, "--db", db, "subscriber", "consents", number, "-o", "json")), &cs); err != nil || len(cs) != 2 || !cs[0].Granted || cs[1].Granted {
		t.Fatalf("consents json: %+v %v", cs, err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if out := mustRun(t, "--db", db, "subscriber", "export", number, "--out", dir); !strings.Contains(out, "wrote 5 files") {
		t.Fatalf("export: %s", out)
	}
	js, err := os.ReadFile(filepath.Join(dir, "export.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{number, name, iban, `"role": "payer"`, `"role": "payee"`, "Corner Shop", "+336****876"} {
		if !strings.Contains(string(js), want) {
			t.Errorf("export.json lacks %q", want)
		}
	}
	if strings.Contains(string(js), "+33655509876") {
		t.Error("export.json holds the payee's full number")
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(logs.String(), "+336****234") || !strings.Contains(logs.String(), `"command":"REG"`) {
		t.Fatalf("the log does not show the masked number and the command word:\n%s", logs.String())
	}
	for _, bad := range []string{number, "0655501234", "33655501234", "Zacharie", "Plantard", iban, "30006000011234567890189", "+33655509876"} {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("the log holds %q", bad)
		}
		if strings.Contains(string(metrics), bad) {
			t.Errorf("/metrics holds %q", bad)
		}
	}
	if t.Failed() {
		t.Log(logs.String())
	}
	// The ledger file, free pages included, and a backup of it hold none of him either.
	stop()
	l.Close()
	backup := filepath.Join(t.TempDir(), "backup.db")
	mustRun(t, "--db", db, "ledger", "backup", backup)
	for _, f := range []string{db, backup} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{number, "33655501234", "Zacharie", "Plantard", iban, "30006000011234567890189", "+33655509876"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s holds %q", filepath.Base(f), bad)
			}
		}
	}
}

func TestLogMinimisers(t *testing.T) {
	for in, want := range map[string]string{"BAL:582047": "BAL", "BAL582047": "BAL", "REG 739164 Zoe Martin": "REG", "SEND*0612345678*5*1234": "SEND", "  ": ""} {
		if got := keyword(in); got != want {
			t.Errorf("keyword(%q) = %q, want %q", in, got, want)
		}
	}
	got := strings.Join(maskArgs([]string{"account", "open", "0612345678", "--name=Zoe Martin", "FR7630006000011234567890189", "--out=/tmp/12345678/x", "25.00"}), " ")
	if got != "account open 0612****678 --name=… FR76 **** 0189 --out=/tmp/12345678/x 25.00" {
		t.Errorf("maskArgs: %s", got)
	}
	// A merchant's bank account as an operator links it: the IBAN typed with spaces, the holder.
	got = strings.Join(maskArgs([]string{"merchant", "iban", "SHOP42", "FR76 3000 6000 0112 3456 7890 189", "--holder=Zoe Martin"}), " ")
	if got != "merchant iban SHOP42 FR76 **** 0189 --holder=…" {
		t.Errorf("maskArgs: %s", got)
	}
}

// Without a daemon the CLI opens the file itself: the export prints one JSON document and
// is audited with the number masked; a number with no consent lists none.
func TestSubscriberExportWithoutDaemon(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "account", "open", "0612345678", "--name", "Alice Martin", "--tier", "2")
	mustRun(t, "--db", db, "account", "open", "0687654321", "--name", "Bob Other")
	mustRun(t, "--db", db, "account", "topup", "0612345678", "12.50")
	var x engine.Export
	out := mustRun(t, "--db", db, "subscriber", "export", "0612345678")
	if err := json.Unmarshal([]byte(out), &x); err != nil || x.Number != "+33612345678" || len(x.Accounts) != 1 ||
		x.Accounts[0].Name != "Alice Martin" || x.Accounts[0].Available != 1250 || len(x.Payments) != 1 || x.Profile.PINSet {
		t.Fatalf("%v %s", err, out)
	}
	if strings.Contains(out, "Bob") || strings.Contains(out, "87654321") {
		t.Fatalf("another person in the export: %s", out)
	}
	if out := mustRun(t, "--db", db, "subscriber", "consents", "0612345678"); strings.TrimSpace(out) != "TIME  OFFERS  CHANNEL  COMMAND  TEXT" {
		t.Fatalf("consents: %q", out)
	}
	audit := mustRun(t, "--db", db, "ledger", "audit")
	if !strings.Contains(audit, "subscriber export") || !strings.Contains(audit, "+336****678") || strings.Contains(audit, "subscriber export +33612345678") {
		t.Fatalf("audit: %s", audit)
	}
}
