package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOperatorLifecycleThroughTheDaemon is what customer care does, through the admin socket
// while the daemon serves, to a subscriber whose SMSC sends numbers as digits with TON 1:
// open at the counter, activation by SMS, numbers typed in every form, lockout and unlock,
// tier, find, check, reverse, close; every step audited with the operator's uid.
func TestOperatorLifecycleThroughTheDaemon(t *testing.T) {
	db, sim, cfg := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop", "--msisdn", "0699000000"})
	_, httpAddr, _ := serveTest(t, db, cfg, nil)
	ctx := context.Background()
	const alice = "+33611110001"
	// waitText waits for the n-th text to a phone and returns it.
	waitText := func(phone string, n int) string {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		got, err := sim.WaitMT(wctx, phone, n)
		if err != nil {
			t.Fatal(err)
		}
		return got[n-1]
	}
	text := func(from, msg string, n int) string {
		t.Helper()
		if _, err := sim.SendMO(ctx, from, "1234", msg); err != nil {
			t.Fatal(err)
		}
		return waitText(alice, n)
	}

	// Opened at the counter with a national number; the code to set a PIN comes by SMS.
	mustRun(t, "--db", db, "account", "open", "0611110001", "--name", "Alice")
	code := regexp.MustCompile(`PIN (\d{6}) `).FindStringSubmatch(waitText(alice, 1))
	if code == nil {
		t.Fatalf("no activation code: %q", sim.MT(alice))
	}
	if got := text(alice, "PIN "+code[1]+" 2468", 2); !strings.Contains(got, "Your PIN is set") {
		t.Fatalf("activation: %q", got)
	}
	// Every form an operator types names the same purse.
	mustRun(t, "--db", db, "account", "topup", "33611110001", "20", "--region", "FR")
	mustRun(t, "--db", db, "account", "topup", "0033611110001", "1")
	mustRun(t, "--db", db, "account", "topup", "06 11 11 00 01", "1")
	if out := mustRun(t, "--db", db, "ledger", "accounts", "--owner", "0611110001"); !strings.Contains(out, alice) || !strings.Contains(out, "22.00 EUR") {
		t.Fatalf("accounts --owner 06…: %s", out)
	}
	waitText(alice, 5)
	if got := text(alice, "PAY SHOP42 3 2468", 6); !strings.Contains(got, "Paid 3.00 EUR") {
		t.Fatalf("pay: %q", got)
	}
	receipt := got6(sim.MT(alice)[5])

	// Locked by wrong PINs, seen by the operator, unlocked by the operator.
	for i := range 3 {
		text(alice, fmt.Sprintf("BAL 000%d", i+1), 7+i)
		if i == 0 {
			if out := mustRun(t, "--db", db, "ledger", "show", alice); !strings.Contains(out, "1 wrong PIN since the last right one") {
				t.Fatalf("show after one wrong PIN: %s", out)
			}
		}
	}
	if out := mustRun(t, "--db", db, "ledger", "show", "0611110001"); !strings.Contains(out, "LOCKED until") {
		t.Fatalf("show lockout: %s", out)
	}
	mustRun(t, "--db", db, "account", "unlock", "+33 6 11 11 00 01")
	if got := waitText(alice, 10); !strings.Contains(got, "unlocked") {
		t.Fatalf("unlock notice: %q", got)
	}
	mustRun(t, "--db", db, "account", "tier", alice, "2")
	if got := waitText(alice, 11); !strings.Contains(got, "level 2") {
		t.Fatalf("tier notice: %q", got)
	}

	// Find and check by what the subscriber reads out; reverse by the receipt.
	if out := mustRun(t, "--db", db, "ledger", "check", receipt); !strings.Contains(out, "is genuine: 3.00 EUR from "+alice+" to SHOP42") {
		t.Fatalf("check: %s", out)
	}
	altered := receipt[:len(receipt)-1] + map[bool]string{true: "Q", false: "R"}[receipt[len(receipt)-1] != 'Q'] // never the same
	if _, err := run(t, "--db", db, "ledger", "check", altered); exitCode(err) != 2 {
		t.Fatalf("check of an altered receipt: %v", err)
	}
	if out := mustRun(t, "--db", db, "ledger", "find", receipt); !strings.Contains(out, "matched by receipt") {
		t.Fatalf("find: %s", out)
	}
	mustRun(t, "--db", db, "ledger", "reverse", receipt)
	if got := waitText(alice, 12); !strings.Contains(got, "3.00 EUR is back") {
		t.Fatalf("reversal notice: %q", got)
	}
	if got := waitText("+33699000000", 2); !strings.Contains(got, "taken back") {
		t.Fatalf("merchant's reversal notice: %q", got)
	}

	// Closed: refused while it holds money, paid out with --payout.
	if _, err := run(t, "--db", db, "account", "close", alice); err == nil || !strings.Contains(err.Error(), "--payout") {
		t.Fatalf("close with money: %v", err)
	}
	if out := mustRun(t, "--db", db, "account", "close", alice, "--payout"); !strings.Contains(out, "paid out 22.00 EUR") {
		t.Fatalf("close: %s", out)
	}

	// A sender that is no phone number (an alphanumeric one, or named like a system
	// account) opens nothing, and top-ups still find the float by its kind.
	for _, from := range []string{"@float", "MYBANK"} {
		if st, err := sim.SendMO(ctx, from, "1234", "REG 1234"); err != nil || st != 0 {
			t.Fatalf("MO from %s: %v %v", from, st, err)
		}
	}
	if out := mustRun(t, "--db", db, "ledger", "accounts", "--kind", "purse"); strings.Contains(out, "@float") || strings.Contains(out, "MYBANK") {
		t.Fatalf("a purse for a non-number: %s", out)
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "mpg_mo_not_subscriber_total 2") {
		t.Fatalf("metric for senders that are no number:\n%s", metrics)
	}

	// The audit trail names the operator by the uid the kernel reported for the socket.
	u, _ := user.Current()
	who := "socket:uid " + strconv.Itoa(os.Getuid())
	if u != nil {
		who = "socket:uid " + u.Username + "(" + u.Uid + ")"
	}
	audit := mustRun(t, "--db", db, "ledger", "audit", "--limit", "50")
	for _, action := range []string{"account open", "account topup", "pin unlock", "account tier", "payment reverse", "account close"} {
		if !regexp.MustCompile(regexp.QuoteMeta(who) + `\s+` + action).MatchString(audit) {
			t.Errorf("audit has no %q by %q:\n%s", action, who, audit)
		}
	}
	if !strings.Contains(audit, alice+"  pin set with a one-time code") && !strings.Contains(audit, "pin set with a one-time code") {
		t.Errorf("audit lacks the activation:\n%s", audit)
	}
	if out := mustRun(t, "--db", db, "ledger", "verify"); !strings.Contains(out, "ok") {
		t.Fatalf("verify: %s", out)
	}
}

// got6 is the receipt code at the end of a payment reply.
func got6(reply string) string { return reply[strings.LastIndex(reply, " ")+1:] }
