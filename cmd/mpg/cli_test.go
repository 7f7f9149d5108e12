package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	bolt "go.etcd.io/bbolt"

	"mpg/domain"
	"mpg/ledger"
)

// run executes the CLI in-process as a user would type it.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	a := &app{}
	root := a.rootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	cfg := filepath.Join(t.TempDir(), "mpg.toml")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	root.SetArgs(append([]string{"--config", cfg}, args...))
	root.SetContext(context.Background())
	err := root.Execute()
	if a.log != nil {
		a.log.Sync()
	}
	var fwd *forwardedError
	if errors.As(err, &fwd) && fwd.code == 0 {
		err = nil // the daemon ran it, as main would exit 0
	}
	return out.String(), err
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("mpg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// cliLedger makes a ledger file in EUR for a test of the CLI, with the server keys set.
func cliLedger(t *testing.T) string {
	t.Helper()
	t.Setenv("MPG_PIN_KEY", "cli-test-pin-key-0123")
	t.Setenv("MPG_RECEIPT_KEY", "cli-test-receipt-key-01")
	db := filepath.Join(t.TempDir(), "mpg.db")
	mustRun(t, "--db", db, "ledger", "init", "--currency", "EUR")
	return db
}

func TestAdminCLI(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "account", "open", "+33612345678", "--name", "Alice", "--tier", "2")
	mustRun(t, "--db", db, "merchant", "add", "shop42", "--name", "Corner Shop", "--msisdn", "+33698765432")
	if out := mustRun(t, "--db", db, "account", "topup", "+33612345678", "12.50"); !strings.Contains(out, "balance 12.50 EUR") {
		t.Fatalf("topup: %s", out)
	}
	// Amounts follow the currency's decimals; errors are one line and a non-zero exit.
	for _, bad := range [][]string{
		{"account", "topup", "+33612345678", "1.234"},
		{"account", "topup", "+33612345678", "-5"},
		{"account", "open", "0612"},
		{"account", "open", "+33612345678"},
		{"merchant", "add", "SHOP42", "--name", "Again"},
		{"ledger", "show", "+33999999999"},
		{"ledger", "transfer", "nothex"},
	} {
		_, err := run(t, append([]string{"--db", db}, bad...)...)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("mpg %v: want a one-line error, got %v", bad, err)
		}
	}
	out := mustRun(t, "--db", db, "ledger", "show", "+33612345678", "-o", "json")
	var acc map[string]any
	if err := json.Unmarshal([]byte(out), &acc); err != nil || acc["available"] != "12.50 EUR" || acc["kind"] != "purse" {
		t.Fatalf("show json: %v %s", err, out)
	}
	if out := mustRun(t, "--db", db, "ledger", "accounts", "--kind", "merchant"); !strings.Contains(out, "SHOP42") || strings.Contains(out, "Alice") {
		t.Fatalf("accounts --kind: %s", out)
	}
	mustRun(t, "--db", db, "account", "block", "+33612345678")
	if out := mustRun(t, "--db", db, "ledger", "show", "+33612345678"); !strings.Contains(out, "blocked") {
		t.Fatalf("block: %s", out)
	}
	hist := mustRun(t, "--db", db, "ledger", "history", "+33612345678", "-o", "json")
	var ts []domain.Transfer
	if err := json.Unmarshal([]byte(hist), &ts); err != nil || len(ts) != 1 || ts[0].Amount != 1250 {
		t.Fatalf("history: %v %s", err, hist)
	}
	if out := mustRun(t, "--db", db, "ledger", "transfer", ts[0].ID.String()); !strings.Contains(out, "12.50 EUR") {
		t.Fatalf("transfer: %s", out)
	}
	if out := mustRun(t, "--db", db, "ledger", "verify"); !strings.Contains(out, "ledger verify: ok") {
		t.Fatalf("verify: %s", out)
	}
	backup := filepath.Join(t.TempDir(), "copy.db")
	mustRun(t, "--db", db, "ledger", "backup", backup)
	if out := mustRun(t, "--db", backup, "ledger", "verify"); !strings.Contains(out, "ok") {
		t.Fatalf("verify backup: %s", out)
	}

	// A second process is told who holds the file instead of hanging.
	l, err := ledger.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "--db", db, "ledger", "accounts")
	l.Close()
	if !errors.Is(err, ledger.ErrInUse) || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("in use: %v", err)
	}

	// Tampering with one journal entry is found, and verify exits 2.
	bdb, err := bolt.Open(db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	bdb.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("journal"))
		k := binary.BigEndian.AppendUint64(nil, ts[0].Seq)
		v := append([]byte(nil), b.Get(k)...)
		v[len(v)-30] ^= 1
		return b.Put(k, v)
	})
	bdb.Close()
	_, err = run(t, "--db", db, "ledger", "verify")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "hash chain broken") {
		t.Fatalf("tampered verify: %v (exit %d)", err, exitCode(err))
	}
}

func TestHelpListsEveryCommandWithExample(t *testing.T) {
	a := &app{}
	root := a.rootCmd()
	for _, c := range allCommands(root) {
		if c.Short == "" {
			t.Errorf("%s has no one-line purpose", c.CommandPath())
		}
		if c.Example == "" && c.Name() != "help" && !strings.HasPrefix(c.CommandPath(), "mpg completion") {
			t.Errorf("%s has no example", c.CommandPath())
		}
	}
	if out := mustRun(t, "version"); !strings.HasPrefix(out, "mpg ") {
		t.Fatalf("version: %q", out)
	}
}

func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		out = append(out, allCommands(sub)...)
	}
	return out
}

// runConfig runs mpg with a config file of this body, keeping stdout and stderr apart.
func runConfig(t *testing.T, body string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	a := &app{}
	root := a.rootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	cfg := filepath.Join(t.TempDir(), "mpg.toml")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	root.SetArgs(append([]string{"--config", cfg}, args...))
	root.SetContext(context.Background())
	err = root.Execute()
	if a.log != nil {
		a.log.Sync()
	}
	return out.String(), errOut.String(), err
}

// TestMerchantKeyWarnsWhenTheAPIIsOff: a merchant's (or a company's) key made while [merchant] addr is empty is still
// made and shown, and stderr says that it works only once the API is on; with the API on,
// nothing is said.
func TestMerchantKeyWarnsWhenTheAPIIsOff(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "merchant", "add", "SHOP42", "--name", "Corner Shop")
	out, errOut, err := runConfig(t, "", "--db", db, "merchant", "key", "create", "SHOP42")
	if err != nil || !strings.Contains(out, "give it to the merchant now") || strings.Contains(out, "warning") {
		t.Fatalf("API off: %v\n%s", err, out)
	}
	if !strings.Contains(errOut, "warning: the merchant API is off ([merchant] addr is not set") {
		t.Errorf("API off: no warning on stderr: %q", errOut)
	}
	out, errOut, err = runConfig(t, "[merchant]\naddr = \"127.0.0.1:8080\"\n", "--db", db, "merchant", "key", "create", "SHOP42")
	if err != nil || !strings.Contains(out, "give it to the merchant now") || errOut != "" {
		t.Fatalf("API on: %v\n%s\nstderr: %q", err, out, errOut)
	}
	// A company's key is for the same API.
	mustRun(t, "--db", db, "company", "add", "ACME", "--name", "Acme SA")
	if _, errOut, err := runConfig(t, "", "--db", db, "company", "key", "ACME"); err != nil || !strings.Contains(errOut, "the merchant API is off") {
		t.Errorf("company key, API off: %v, stderr %q", err, errOut)
	}
}

// TestSummariesCountInWords: the CLI's summaries say "1 difference", "2 differences".
func TestSummariesCountInWords(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, "0 differences"}, {1, "1 difference"}, {2, "2 differences"}} {
		if got := plural(c.n, "difference", "differences"); got != c.want {
			t.Errorf("plural(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	db := cliLedger(t)
	settle := filepath.Join(t.TempDir(), "settle.csv")
	os.WriteFile(settle, []byte("rrn,account,amount_minor,currency,status,auth_code,time,type\n"+
		"000000000001,FR7630006000011234567890189,250,978,settled,A1,2026-01-02T10:00:00Z,debit\n"), 0o600)
	out, err := run(t, "--db", db, "bank", "reconcile", settle)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "bank reconcile: 1 difference in 0 requests") {
		t.Fatalf("reconcile: %v\n%s", err, out)
	}
}

// TestOperatorRefusalsInCurrencyUnits: a refused top-up says what would fit in euros, with
// thousands grouped, never as a count of cents.
func TestOperatorRefusalsInCurrencyUnits(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "account", "open", "0612345678", "--name", "Alice", "--tier", "2")
	mustRun(t, "--db", db, "account", "topup", "0612345678", "82.50")
	_, err := run(t, "--db", db, "account", "topup", "0612345678", "2000")
	if err == nil || !strings.Contains(err.Error(), "at most 1,917.50 EUR more") || strings.Contains(err.Error(), "minor units") {
		t.Fatalf("topup beyond the tier's maximum balance: %v", err)
	}
}

// TestNegativeAmountsAreSaidSo: a negative amount, wherever a command takes one, is refused
// as such, not as an unknown shorthand flag "-5".
func TestNegativeAmountsAreSaidSo(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "account", "open", "0612345678", "--name", "Alice", "--tier", "2")
	mustRun(t, "--db", db, "company", "add", "ACME", "--name", "Acme SA")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"account", "topup", "0612345678", "-5"}, "amount must be positive: -5"},
		{[]string{"account", "topup", "0612345678", "-12.50", "--ref", "A7"}, "amount must be positive: -12.50"},
		{[]string{"account", "topup", "0612345678", "--", "-5"}, "amount must be positive: -5"},
		{[]string{"company", "topup", "ACME", "-100"}, "amount must be positive: -100"},
		{[]string{"credit", "grant", "0612345678", "-200"}, "amount must be positive: -200"},
		{[]string{"credit", "set-limit", "0612345678", "-1,5"}, "amount must be positive: -1,5"},
		{[]string{"company", "employee", "add", "ACME", "0612345678", "--per-payment", "-5"}, "amount must be positive: -5"},
		{[]string{"account", "topup", "0612345678", "0"}, "amount must be positive: 0"},
		// Other flag errors are the parser's own.
		{[]string{"account", "topup", "0612345678", "5", "-x"}, "unknown shorthand flag: 'x' in -x"},
	} {
		_, err := run(t, append([]string{"--db", db}, c.args...)...)
		if err == nil || err.Error() != c.want {
			t.Errorf("mpg %s: %v, want %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

// TestForeignNumbersAreNamedForeign: a +44 number that cannot exist is called foreign, not
// shown how French numbers are written; a bad national one is, with --region as the way out.
func TestForeignNumbersAreNamedForeign(t *testing.T) {
	db := filepath.Join(t.TempDir(), "mpg.db")
	mustRun(t, "--db", db, "ledger", "init", "--currency", "EUR")
	for _, c := range []struct{ number, want string }{
		{"+447700900123", `phone number "+447700900123" is foreign (+44 is GB, not FR) and not a valid GB number`},
		{"0612", `phone number "0612" is not a valid FR number (write it like +33612345678 or 06 12 34 56 78); a national number of another country: set --region`},
	} {
		_, err := run(t, "--db", db, "account", "open", c.number, "--name", "X")
		if err == nil || err.Error() != c.want || !errors.Is(err, domain.ErrNotMSISDN) {
			t.Errorf("account open %s: %v\n want %s", c.number, err, c.want)
		}
	}
}
