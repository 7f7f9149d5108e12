package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"mpg/engine"
	"mpg/fraud"
	"mpg/ledger"
)

// TestFraudCLI: a payment the rules held waits in `mpg fraud review`, is explained (what
// was decided, and what the rule set of the configuration would decide now), and an
// operator releases it: the merchant is paid; releasing it again is refused.
func TestFraudCLI(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "merchant", "add", "shop42", "--name", "Corner Shop", "--msisdn", "+33698765432")
	l, err := ledger.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	rules := fraud.Config{Enabled: true, Version: 4, Review: 25, Hold: 60, Decline: 100, Rules: []fraud.RuleConfig{
		{ID: "payer_count_hour", Version: 2, Enabled: true, Bands: []fraud.Band{{Min: 2, Score: 60}}}}}
	e, err := engine.New(engine.Config{ShortCode: "1234", Currency: "EUR", Exponent: 2, Region: "FR",
		PINKey: []byte("cli-test-pin-key-0123"), ReceiptKey: []byte("cli-test-receipt-key-01"), Fraud: engine.FraudConfig{Rules: rules}}, l)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, text := range []string{"REG 2468 Alice", "PAY SHOP42 3 2468", "PAY SHOP42 4 2468"} {
		if err := e.Handle(ctx, engine.Inbound{From: cliAlice, To: "1234", Text: text}); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(text, "REG") {
			if _, err := e.Topup(ctx, "test", cliAlice, 2000, "cash"); err != nil {
				t.Fatal(err)
			}
		}
	}
	l.Close()
	out := mustRun(t, "--db", db, "fraud", "review")
	id := regexp.MustCompile(`(?m)^([0-9a-f]{32}) +hold`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, "4.00 EUR") || !strings.Contains(out, "payer_count_hour=2(+60)") || strings.Contains(out, cliAlice) {
		t.Fatalf("review:\n%s", out)
	}
	if out := mustRun(t, "--db", db, "fraud", "explain", id[1]); !strings.Contains(out, "then: payer_count_hour=2 (+60): hold") ||
		!strings.Contains(out, "now:") || !strings.Contains(out, "rule set 4") {
		t.Fatalf("explain:\n%s", out)
	}
	if out := mustRun(t, "--db", db, "fraud", "release", id[1]); !strings.Contains(out, "released by") {
		t.Fatalf("release: %s", out)
	}
	if _, err := run(t, "--db", db, "fraud", "release", id[1]); err == nil {
		t.Fatal("released twice")
	}
	if out := mustRun(t, "--db", db, "fraud", "review"); !strings.Contains(out, "nothing waits") {
		t.Fatalf("review after: %s", out)
	}
	l, err = ledger.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if shop, _ := l.Find("SHOP42"); shop.Available() != 700 {
		t.Fatalf("the shop holds %d, want 700 (3.00 paid, 4.00 released)", shop.Available())
	}
	if out := mustRun(t, "--db", db, "fraud", "rules"); !strings.Contains(out, "mode shadow") || !strings.Contains(out, "merchant_refund_ratio") {
		t.Fatalf("rules: %s", out)
	}
}
