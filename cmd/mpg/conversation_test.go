package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"mpg/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

// conversation is texted over real SMPP (simulator ↔ daemon on loopback) and its replies are
// compared with testdata/conversation.golden. Transaction references, receipt codes,
// confirmation codes and dates change from run to run and are written as <ref>, <receipt>,
// <code> and <date>.
var conversation = []struct{ from, text string }{
	{"+33611000001", "HELP"},
	{"+33611000001", "BAL 1234"},
	{"+33611000001", "REG 1234 Alice"},
	{"+33611000001", "REG 1234 Alice"}, // the same SMS again (a redelivery): the first reply again
	{"+33611000001", "INSCRIRE 1234 Alice"},
	{"+33611000002", "注册 5678 Bob"},
	{"+33611000001", "!topup 100"},
	{"+33611000001", "bal 1234"},
	{"+33611000001", "!tier 2"}, // an agent checked Alice's ID: she may SEND now
	{"+33611000001", "PAY SHOP42 12.50 INV-7 1234"},
	{"+33611000001", "PAY SHOP4 1 1234"},
	{"+33611000001", "PAY SHOP42 1.234 1234"},
	{"+33611000001", "PAY SHOP42 USD 3 1234"},
	{"+33611000001", "PAY SHOP42 12"},
	{"+33611000001", "PAY SHOP42 500 1234"},
	{"+33611000001", "BILL EDF 0042-77 20 1234"},
	{"+33611000001", "SEND 0611000001 1 1234"},
	{"+33611000001", "SEND 0611000002 5 1234"},
	{"+33611000001", "SEND 12 5 1234"},
	{"+33611000001", "SEND +33611000003 4 1234"}, // Carol has no e-purse yet: held, she is invited
	{"0611000003", "REG 4321 Carol"},             // a national sender (TON 2): the same Carol, who claims it
	{"MYBANK", "BAL 1234"},                       // an alphanumeric sender: no command, no reply
	{"+33611000001", "BAL1234"},                  // a PIN glued to the keyword
	{"+33611000001", "PAY SHOP42 70 1234"},
	{"+33611000001", "!topup 100"},
	{"+33611000001", "PAY SHOP42 60 1234"},
	{"+33611000001", "YES 000000"},
	{"+33611000001", "NO <code>"},
	{"+33611000001", "PAY SHOP42 55 R2 1234"},
	{"+33611000001", "YES <code>"},
	{"+33611000001", "YES <code>"}, // a redelivered copy: the same answer, nothing moves
	{"+33611000001", "yes <code>"}, // the code again, as a new SMS: single use
	{"+33611000001", "MINI 1234"},
	{"+33611000001", "CHECK <receipt>"},
	{"+33611000001", "CHECK 1-AAAAAAAA"},
	{"+33611000001", "DEBIT SHOP42 5 1234"},
	{"+33611000001", "CREDIT 1234"},
	{"+33611000001", "REPAY 5 1234"},
	{"+33611000001", "PROMO ON"},
	{"+33611000001", "LANG FR"},
	{"+33611000001", "SOLDE 1234"},
	{"+33611000001", "PAYER SHOP42 2,50 1234"},
	{"+33611000002", "余额 5678"},
	{"+33611000002", "明细 5678"},
	{"+33611000002", "付款 SHOP42 1 5678"},
	{"+33611000002", "帮助"},
	{"+33611000001", "PIN 1234 2468"},
	{"+33611000001", "solde 1234"},
	{"+33611000001", "SOLDE 1111"},
	{"+33611000001", "SOLDE 1112"},
	{"+33611000001", "SOLDE 2468"},
	{"+33611000001", "SOLDE 1113"},
	{"+33611000001", "SOLDE  2468"},
	{"+33611000002", "冻结"},
	{"+33611000002", "付款 SHOP42 2 5678"},
	{"+33611000004", "HELLO"},
	{"+33611000004", ""},
}

var (
	refRe     = regexp.MustCompile(`(Ref|Réf|编号|ref|réf) [0-9A-F]{6}`)
	receiptRe = regexp.MustCompile(`[0-9A-F]+-[A-Z2-7]{8}`)
	codeRe    = regexp.MustCompile(`(YES|NO|OUI|NON|是|否|Code|code|确认码) [0-9]{6}`)
	dateRe    = regexp.MustCompile(`\b[0-3][0-9]/[01][0-9]\b`)
	timeRe    = regexp.MustCompile(`\b[0-2][0-9]:[0-5][0-9]\b`)
)

// TestConversationGolden plays the conversation on each ledger: the same SMS in, the same
// replies out, whichever keeps the books.
func TestConversationGolden(t *testing.T) { onBothLedgers(t, conversationGolden) }

func conversationGolden(t *testing.T, bk testBooks) {
	sim, cfg := testSetupOn(t, bk,
		[]string{"merchant", "add", "SHOP42", "--name", "Corner Shop", "--msisdn", "+33699000000"},
		[]string{"merchant", "add", "EDF", "--name", "EDF", "--biller"})
	cfg.Engine.ConfirmAbove, cfg.Engine.Fees.Pay = 5000, []config.Band{{UpTo: 1000, Fee: 0}, {UpTo: 0, Fee: 10}}
	l := bk.open(t, cfg, nil)
	_, _, stop, err := startDaemon(context.Background(), cfg, l, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	var b strings.Builder
	ph := &phone{sim: sim, out: &b, watch: []string{"+33611000002", "+33611000003", "+33699000000"}}
	var lastCode, lastReceipt string
	ctx := context.Background()
	for _, step := range conversation {
		text := strings.ReplaceAll(strings.ReplaceAll(step.text, "<code>", lastCode), "<receipt>", lastReceipt)
		// An agent's command through the admin CLI, which goes through the daemon's socket;
		// the subscriber's notice is awaited so that it is read here, not with a later reply.
		agent := func(what string, args ...string) {
			fmt.Fprintf(&b, "(agent %s)\n", what)
			n := len(sim.MT(step.from))
			mustRun(t, bk.cli(args...)...)
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			msgs, _ := sim.WaitMT(wctx, step.from, n+1)
			for _, m := range msgs[min(n, len(msgs)):] {
				fmt.Fprintf(&b, "  %s < %s\n", step.from, m)
			}
			ph.markSeen()
		}
		if amount, ok := strings.CutPrefix(step.text, "!topup "); ok {
			agent("tops up "+step.from+" with "+amount+" EUR", "account", "topup", step.from, amount)
			continue
		}
		if tier, ok := strings.CutPrefix(step.text, "!tier "); ok {
			agent("raises "+step.from+" to tier "+tier, "account", "tier", step.from, tier)
			continue
		}
		fmt.Fprintf(&b, "%s > %s\n", step.from, step.text)
		if err := ph.text(ctx, step.from, text, false); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		for _, m := range sim.MT(step.from) {
			if c := codeRe.FindString(m); c != "" {
				lastCode = c[len(c)-6:]
			}
			if r := receiptRe.FindString(m); r != "" && strings.Contains(m, "Receipt") {
				lastReceipt = r
			}
		}
	}
	// The books balance after the whole conversation.
	if rep, err := l.Verify(ctx, nil); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %s", err, rep.Problem)
	}
	got := b.String()
	got = codeRe.ReplaceAllString(got, "$1 <code>")
	got = refRe.ReplaceAllString(got, "$1 <ref>")
	got = receiptRe.ReplaceAllString(got, "<receipt>")
	got = dateRe.ReplaceAllString(got, "<date>")
	got = timeRe.ReplaceAllString(got, "<time>")
	path := filepath.Join("testdata", "conversation.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(path, []byte(got), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/mpg -run Golden -update)", err)
	}
	if got != string(want) {
		g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("conversation differs from %s at line %d:\n got %q\nwant %q", path, i+1, g[i], w[i])
			}
		}
		t.Fatalf("conversation differs from %s in length: %d lines, want %d", path, len(g), len(w))
	}
}
