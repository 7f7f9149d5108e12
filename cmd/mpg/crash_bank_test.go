package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"mpg/bank"
	"mpg/domain"
	"mpg/engine"
	"mpg/ledger"
	"mpg/smpp"
)

// TestCrashBankChild is the daemon TestCrashDuringBankCalls kills.
func TestCrashBankChild(t *testing.T) {
	db, smsc, bankAddr := os.Getenv("MPG_CRASH_DB"), os.Getenv("MPG_CRASH_SMSC"), os.Getenv("MPG_CRASH_BANK")
	if bankAddr == "" {
		t.Skip("run by TestCrashDuringBankCalls")
	}
	cfg := crashConfig(smsc)
	cfg.Bank.Addr, cfg.Bank.TimeoutMs, cfg.Bank.Tries = bankAddr, 400, 3
	serveUntilKilled(db, cfg)
}

// TestCrashDuringBankCalls kills the daemon with SIGKILL at random moments, 6 times, while
// subscribers pay by DEBIT against a bank that answers slowly and now and then drops an
// approved answer. Phones redeliver what was not acknowledged, as an SMSC does. At the end
// every DEBIT has ended (paid, or reversed with nothing taken), the bank debited exactly
// the payments the ledger paid and never got a second original (0200) of one RRN, bank
// clearing matches, reconcile finds no difference, and verify is clean.
func TestCrashDuringBankCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop is not short")
	}
	db, sim, _ := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop"})
	bk, err := bank.NewSim("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	bk.Slow = 150 * time.Millisecond
	bk.Open(e2eIBAN, bank.SimAccount{Balance: 1 << 40})
	bk.Inject(bank.FaultSlow, -1)

	start := func() *exec.Cmd {
		return startChild(t, "TestCrashBankChild", sim, "MPG_CRASH_DB="+db, "MPG_CRASH_SMSC="+sim.Addr(), "MPG_CRASH_BANK="+bk.Addr())
	}
	kill := func(cmd *exec.Cmd) { killChild(cmd, sim) }
	phones := []string{"+33630000001", "+33630000002", "+33630000003", "+33630000004"}
	cmd := start()
	ctx := context.Background()
	for _, p := range phones {
		if st, err := sim.SendMO(ctx, p, "1234", "REG 1234"); err != nil || st != smpp.StatusOK {
			t.Fatalf("REG %s: %v %v", p, st, err)
		}
		mustRun(t, "--db", db, "account", "bank", "link", p, e2eIBAN)
	}

	var stop atomic.Bool
	var mu sync.Mutex
	outcome := map[string]string{} // phone/amount -> paid | reversed
	paidMinor := int64(0)
	var wg sync.WaitGroup
	for i, phone := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// DEBIT takes no reference: each of a phone's debits has its own amount, so that
			// its text is new (a same text is a redelivery, answered once).
			for cents := 1; !stop.Load(); cents++ {
				got, err := debitByPhone(sim, phone, cents)
				if err != nil {
					t.Errorf("%s %d: %v", phone, cents, err)
					return
				}
				mu.Lock()
				outcome[fmt.Sprintf("%d/%d", i, cents)] = got
				if got == "paid" {
					paidMinor += int64(cents)
				}
				mu.Unlock()
			}
		}()
	}
	for round := range 6 {
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		if round%2 == 1 {
			bk.Inject(bank.FaultApproveThenDrop, 1)
		}
		kill(cmd)
		mu.Lock()
		t.Logf("round %d: %d debits ended so far", round, len(outcome))
		mu.Unlock()
		cmd = start()
	}
	stop.Store(true)
	wg.Wait()
	kill(cmd)

	a := &app{cfg: crashConfig(sim.Addr()), log: zap.NewNop()}
	l, err := ledger.Open(db, a.daemonLedgerOptions(a.cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if rep, err := l.Verify(ctx, nil); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %s", err, rep.Problem)
	}
	paid := 0
	for _, o := range outcome {
		if o == "paid" {
			paid++
		}
	}
	shop := l.AccountsOf("SHOP42")[0].Available()
	clr, _ := l.System(domain.KindBankClearing, "EUR")
	taken := (1 << 40) - bk.Balance(e2eIBAN)
	if taken != shop || -clr.Available() != shop || shop != paidMinor {
		t.Fatalf("bank took %d, merchant has %d, clearing %d, %d debits paid of %d", taken, shop, clr.Available(), paid, len(outcome))
	}
	// After every kill, what may have left went again as a repeat (0201), never as a second 0200.
	if n := bk.Duplicates.Load(); n != 0 {
		t.Fatalf("the bank got %d second originals (0200) of one RRN", n)
	}
	var settlement bytes.Buffer
	bk.WriteSettlement(&settlement)
	settled, err := bank.ReadSettlement(&settlement)
	if err != nil {
		t.Fatal(err)
	}
	diffs, checked, err := engine.NewAdmin(engineConfig(a.cfg), l).ReconcileBank(settled)
	if err != nil || len(diffs) != 0 {
		t.Fatalf("reconcile: %v %+v", err, diffs)
	}
	if len(outcome) < 8 {
		t.Fatalf("only %d debits ended: the test proved little", len(outcome))
	}
	t.Logf("%d debits ended (%d paid), %d checked against the bank: no difference; verify clean", len(outcome), paid, checked)
}

var debitCode = regexp.MustCompile(`Reply YES (\d{6})`)

// debitByPhone pays cents by DEBIT and YES as a phone whose SMSC redelivers what the
// daemon did not acknowledge; it returns how the payment ended.
func debitByPhone(sim *smpp.Sim, phone string, cents int) (string, error) {
	amount := fmt.Sprintf("%d.%02d", cents/100, cents%100)
	ctx := context.Background()
	send := func(text string) error {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if st, err := sim.SendMO(ctx, phone, "1234", text); err == nil && st == smpp.StatusOK {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%q never acknowledged", text)
			}
		}
	}
	wait := func(from int, re *regexp.Regexp) ([]string, int, error) {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			msgs := sim.MT(phone)
			for i := from; i < len(msgs); i++ {
				if m := re.FindStringSubmatch(msgs[i]); m != nil {
					return m, i, nil
				}
			}
			if time.Now().After(deadline) {
				return nil, 0, fmt.Errorf("no %s after message %d: %q", re, from, msgs[min(from, len(msgs)):])
			}
		}
	}
	n := len(sim.MT(phone))
	if err := send("DEBIT SHOP42 " + amount + " 1234"); err != nil {
		return "", err
	}
	m, at, err := wait(n, debitCode)
	if err != nil {
		return "", err
	}
	if err := send("YES " + m[1]); err != nil {
		return "", err
	}
	end, _, err := wait(at+1, regexp.MustCompile(`(Paid `+regexp.QuoteMeta(amount)+` EUR to Corner Shop from your bank)|(DEBIT of `+regexp.QuoteMeta(amount)+` EUR to Corner Shop is cancelled)`))
	if err != nil {
		return "", err
	}
	if end[1] != "" {
		return "paid", nil
	}
	return "reversed", nil
}
