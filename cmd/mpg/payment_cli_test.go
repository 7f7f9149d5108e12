package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"mpg/engine"
	"mpg/ledger"
)

// TestTextedPaymentInTheCLIAndReversedOnce: a texted PAY with the subscriber's reference is
// in mpg payment list of its merchant with that reference; an operator reverses it once, and
// a second reversal, by its id or by its receipt, is refused as done already.
func TestTextedPaymentInTheCLIAndReversedOnce(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "merchant", "add", "shop42", "--name", "Corner Shop", "--msisdn", "+33698765432")
	l, _ := alicePays(t, db, "PAY SHOP42 3 INV77 2468")
	l.Close()

	out := mustRun(t, "--db", db, "payment", "list", "SHOP42")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 2 || !strings.Contains(rows[1], "INV77") || !strings.Contains(rows[1], "sms") ||
		!strings.Contains(rows[1], "completed") || !strings.Contains(rows[1], "3.00 EUR") {
		t.Fatalf("payment list: %s", out)
	}
	var views []engine.PaymentView
	if err := json.Unmarshal([]byte(mustRun(t, "--db", db, "payment", "list", "SHOP42", "-o", "json")), &views); err != nil || len(views) != 1 {
		t.Fatalf("payment list -o json: %v %+v", err, views)
	}
	p := views[0]
	if p.Reference != "INV77" || p.Receipt == "" || p.Product != "pay" {
		t.Fatalf("payment %+v", p)
	}
	if out := mustRun(t, "--db", db, "payment", "list", "SHOP42", "--reference", "INV77"); !strings.Contains(out, p.ID) {
		t.Fatalf("payment list --reference INV77: %s", out)
	}

	if out := mustRun(t, "--db", db, "ledger", "reverse", p.ID); !strings.Contains(out, "reversed payment "+p.ID) || !strings.Contains(out, "3.00 EUR back") {
		t.Fatalf("reverse: %s", out)
	}
	for _, again := range []string{p.ID, p.Receipt} {
		out, err := run(t, "--db", db, "ledger", "reverse", again)
		if err == nil || !strings.Contains(err.Error(), engine.ErrAlreadyReversed.Error()) || strings.Contains(out, "reversed payment") {
			t.Fatalf("reverse %s again: %v\n%s", again, err, out)
		}
	}
	if out := mustRun(t, "--db", db, "ledger", "show", cliAlice); !strings.Contains(out, "20.00 EUR") {
		t.Fatalf("alice after one reversal: %s", out)
	}
}

// cliAlice is the subscriber the CLI tests' texted payments come from.
const cliAlice = "+33612345678"

// alicePays registers cliAlice as Alice (PIN 2468) by SMS through an engine on the
// ledger file, as the daemon runs it for each SMS, tops her up 20.00 and texts pay. The
// ledger stays open for the caller to read and close.
func alicePays(t *testing.T, db, pay string) (*ledger.Ledger, *engine.Engine) {
	t.Helper()
	l, err := ledger.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Config{ShortCode: "1234", Currency: "EUR", Exponent: 2, Region: "FR",
		PINKey: []byte("cli-test-pin-key-0123"), ReceiptKey: []byte("cli-test-receipt-key-01")}, l)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Handle(ctx, engine.Inbound{From: cliAlice, To: "1234", Text: "REG 2468 Alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Topup(ctx, "test", cliAlice, 2000, "cash"); err != nil {
		t.Fatal(err)
	}
	if err := e.Handle(ctx, engine.Inbound{From: cliAlice, To: "1234", Text: pay}); err != nil {
		t.Fatal(err)
	}
	return l, e
}
