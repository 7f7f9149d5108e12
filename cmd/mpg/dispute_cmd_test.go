package main

import (
	"encoding/json"
	"strings"
	"testing"

	"mpg/domain"
	"mpg/engine"
	"mpg/ledger"
)

// TestDisputeCLI: an operator opens a case on a texted payment, a reversal is refused while
// it is open, the decision refunds part of it, and the evidence bundle holds the payment's
// transfers, its SMS and a clean ledger verify.
func TestDisputeCLI(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "merchant", "add", "shop42", "--name", "Corner Shop", "--msisdn", "+33698765432")
	l, e := alicePays(t, db, "PAY SHOP42 8 2468")
	shop, _ := l.Find("SHOP42")
	ps, _, _ := e.ListPayments(shop.ID, engine.PaymentFilter{Limit: 10})
	l.Close()
	if len(ps) != 1 {
		t.Fatalf("payments %+v", ps)
	}
	out := mustRun(t, "--db", db, "dispute", "open", ps[0].ID, "charged", "twice")
	id := strings.Fields(out)[1]
	if _, err := run(t, "--db", db, "ledger", "reverse", ps[0].ID); err == nil || !strings.Contains(err.Error(), "dispute") {
		t.Fatalf("reverse while a case is open: %v", err)
	}
	if out := mustRun(t, "--db", db, "dispute", "list", "SHOP42"); !strings.Contains(out, id) || !strings.Contains(out, "awaiting_merchant") {
		t.Fatalf("list: %s", out)
	}
	if out := mustRun(t, "--db", db, "dispute", "decide", id, "refund", "3.00"); !strings.Contains(out, "decided") {
		t.Fatalf("decide: %s", out)
	}
	var ev struct {
		Case      engine.DisputeView    `json:"case"`
		Transfers []engine.TransferFact `json:"transfers"`
		Messages  []engine.MessageFact  `json:"messages"`
		Verify    ledger.Report         `json:"ledger_verify"`
		Chain     engine.ChainProof     `json:"chain"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "--db", db, "dispute", "evidence", id)), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Case.State != string(domain.DisputeDecided) || len(ev.Transfers) != 2 || ev.Transfers[1].What != domain.RefundDispute ||
		len(ev.Messages) == 0 || !ev.Verify.OK() || ev.Transfers[0].Seq == 0 {
		t.Fatalf("evidence %+v", ev)
	}
	// The audit chain proof: each transfer's hash, at or below the head the bundle names.
	for _, f := range ev.Transfers {
		if len(f.Hash) != 64 || f.Seq > ev.Chain.HeadPosition || len(ev.Chain.HeadHash) != 64 {
			t.Fatalf("chain proof: transfer %+v, chain %+v", f, ev.Chain)
		}
	}
	if out := mustRun(t, "--db", db, "dispute", "stats", "SHOP42"); !strings.Contains(out, `"opened": 1`) {
		t.Fatalf("stats: %s", out)
	}
	mustRun(t, "--db", db, "dispute", "close", id)
	if out := mustRun(t, "--db", db, "payment", "show", ps[0].ID); !strings.Contains(out, `"refunded": "3.00"`) {
		t.Fatalf("payment: %s", out)
	}
}
