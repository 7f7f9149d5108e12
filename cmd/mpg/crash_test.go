package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/config"
	"mpg/domain"
	"mpg/engine"
	"mpg/ledger"
	"mpg/smpp"
	"mpg/stats"
)

// TestCrashChildDaemon is the daemon TestCrashDaemonUnderLoad kills: it serves until killed.
func TestCrashChildDaemon(t *testing.T) {
	db, smsc := os.Getenv("MPG_CRASH_DB"), os.Getenv("MPG_CRASH_SMSC")
	if db == "" {
		t.Skip("run by TestCrashDaemonUnderLoad")
	}
	serveUntilKilled(db, crashConfig(smsc))
}

func crashConfig(smsc string) config.Config {
	cfg := testServeConfig(smsc)
	cfg.SMPP.EnquireLinkS, cfg.SMPP.RespTimeoutS = 1, 2
	cfg.SMPP.RatePerS, cfg.SMPP.Window = 20000, 64
	return cfg
}

// TestCrashDaemonUnderLoad kills the daemon with SIGKILL at random moments while phones pay,
// 10 times, and redelivers what was not acknowledged, as an SMSC does. Afterwards every
// payment acknowledged took effect exactly once, every one got its reply, and the books verify.
func TestCrashDaemonUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop is not short")
	}
	db, sim, _ := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop"})
	phones := []string{"+33610000001", "+33610000002", "+33610000003", "+33610000004"}

	start := func() *exec.Cmd {
		return startChild(t, "TestCrashChildDaemon", sim, "MPG_CRASH_DB="+db, "MPG_CRASH_SMSC="+sim.Addr())
	}
	kill := func(cmd *exec.Cmd) { killChild(cmd, sim) }

	// Register and fund the phones first.
	cmd := start()
	ctx := context.Background()
	for _, p := range phones {
		if st, err := sim.SendMO(ctx, p, "1234", "REG 1234"); err != nil || st != smpp.StatusOK {
			t.Fatalf("REG %s: %v %v", p, st, err)
		}
	}
	kill(cmd)
	for _, p := range phones {
		mustRun(t, "--db", db, "account", "topup", p, "400")
	}

	var mu sync.Mutex
	acked := map[string]string{} // ref -> phone
	pending := map[string]string{}
	next := 0
	for round := range 10 {
		cmd := start()
		// Redeliver what the last daemon did not acknowledge, then load until the kill.
		mu.Lock()
		redo := pending
		pending = map[string]string{}
		mu.Unlock()
		stopAt := time.Now().Add(time.Duration(200+rand.IntN(600)) * time.Millisecond)
		var wg sync.WaitGroup
		send := func(ref, phone string) {
			st, err := sim.SendMO(ctx, phone, "1234", "PAY SHOP42 0.01 "+ref+" 1234")
			mu.Lock()
			defer mu.Unlock()
			if err == nil && st == smpp.StatusOK {
				acked[ref] = phone
			} else {
				pending[ref] = phone
			}
		}
		for ref, phone := range redo {
			wg.Add(1)
			go func() { defer wg.Done(); send(ref, phone) }()
		}
		for _, phone := range phones {
			wg.Add(1)
			mu.Lock()
			base := next
			next += 10000
			mu.Unlock()
			go func() {
				defer wg.Done()
				for k := base; time.Now().Before(stopAt); k++ {
					send(fmt.Sprintf("R%d", k), phone)
				}
			}()
		}
		time.Sleep(time.Until(stopAt))
		kill(cmd)
		wg.Wait()
		t.Logf("round %d: %d acknowledged so far, %d to redeliver", round, len(acked), len(pending))
	}
	// A last daemon takes the redeliveries and drains the outbox.
	cmd = start()
	for ref, phone := range pending {
		if st, err := sim.SendMO(ctx, phone, "1234", "PAY SHOP42 0.01 "+ref+" 1234"); err != nil || st != smpp.StatusOK {
			t.Fatalf("final redelivery %s: %v %v", ref, st, err)
		}
		acked[ref] = phone
	}

	// Wait for every acknowledged payment's reply to arrive, then stop the daemon.
	count := func() map[string]int {
		seen := map[string]int{}
		for _, p := range phones {
			for _, m := range sim.MT(p) {
				if i := strings.Index(m, "Receipt "); i >= 0 && strings.HasPrefix(m, "Paid") {
					if j := strings.IndexByte(m[i:], '-'); j > 0 {
						seen[m[i:i+j+1]]++
					}
				}
			}
		}
		return seen
	}
	// Wait until the outbox is drained: at least one reply per acknowledged payment has gone
	// out and nothing more arrives for half a second.
	last, stable := int64(-1), time.Now()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n := sim.Submits.Load()
		if n != last {
			last, stable = n, time.Now()
		}
		if n >= int64(len(acked)) && time.Since(stable) > 500*time.Millisecond {
			break
		}
	}
	kill(cmd)

	l, err := ledger.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rep, err := l.Verify(ctx, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %s", err, rep.Problem)
	}
	shop := l.AccountsOf("SHOP42")[0]
	hist, err := l.History(shop.ID, 1<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Each reply carries a receipt that starts with the payment's journal position in hex:
	// unique, unlike the 6-digit short reference.
	byRef := map[string]int{}
	receipt := map[string]string{}
	for _, tr := range hist {
		byRef[tr.Ref]++
		receipt[tr.Ref] = fmt.Sprintf("Receipt %X-", tr.Seq)
	}
	replies := count()
	for ref := range acked {
		if byRef[ref] != 1 {
			t.Errorf("acknowledged payment %s took effect %d times", ref, byRef[ref])
		}
		if replies[receipt[ref]] < 1 {
			t.Errorf("acknowledged payment %s (%s) got no reply", ref, receipt[ref])
		}
	}
	for ref, n := range byRef {
		if n > 1 {
			t.Errorf("payment %s took effect %d times", ref, n)
		}
	}
	if len(acked) < 20 {
		t.Fatalf("only %d payments acknowledged: the test proved little", len(acked))
	}
	t.Logf("%d payments acknowledged, each applied once and answered; verify clean", len(acked))
	statisticsEqualARecount(t, l, crashConfig(sim.Addr()))
}

// statisticsEqualARecount: the statistics follower, killed with its daemons, goes on from
// the position the books hold and ends with the figures a recount of the journal from
// scratch gives, hour by hour, product by product.
func statisticsEqualARecount(t *testing.T, l *ledger.Ledger, cfg config.Config) {
	t.Helper()
	e := engine.NewAdmin(engineConfig(cfg), l)
	var pos struct{ N uint64 }
	if b, _, err := l.Profile("@sx:pos"); err != nil || json.Unmarshal(b, &pos) != nil || pos.N <= 1 {
		t.Fatalf("the killed daemons' followers folded nothing (%s, %v)", b, err)
	}
	t.Logf("the followers had folded the journal up to %d when the last daemon stopped", pos.N)
	if err := e.CatchUpStatistics(context.Background(), 1000); err != nil {
		t.Fatal(err)
	}
	var all []domain.JournalEntry
	for next := uint64(1); ; {
		page, n, err := l.Journal(next, ledger.MaxJournalRead)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if n == next {
			break
		}
		next = n
	}
	q := stats.Query{From: time.Now().Add(-24 * time.Hour), To: time.Now().Add(time.Hour), By: stats.ByHour}
	for _, by := range []string{stats.ByHour, stats.ByProduct} {
		q.By = by
		got, err := e.Statistics(q)
		if err != nil {
			t.Fatal(err)
		}
		want := stats.NewReport(stats.Keyed(stats.Recount(all)), q)
		if !reflect.DeepEqual(got.Rows, want.Rows) || got.Totals.Cell.Paid == 0 {
			t.Fatalf("by %s the roll-ups say\n%+v\na recount of the journal says\n%+v", by, got.Rows, want.Rows)
		}
	}
}
