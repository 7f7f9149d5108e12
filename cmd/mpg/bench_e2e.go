package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"mpg/engine"
	"mpg/ledger"
	"mpg/smpp"
)

func (a *app) benchE2E(cmd *cobra.Command, subscribers, merchants, commands, clients int) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	dir, err := os.MkdirTemp("", "mpg-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := a.cfg
	cfg.Ledger.Currency = "EUR"
	cfg.Engine.PINKey, cfg.Engine.ReceiptKey = randomKey(), randomKey()
	cfg.Engine.MOPerMinute = 0 // each bench phone texts as fast as it is answered: no flood control
	l, err := ledger.Create(filepath.Join(dir, "mpg.db"), a.daemonLedgerOptions(cfg))
	if err != nil {
		return err
	}
	defer l.Close()
	specs := []ledger.AccountSpec{{Currency: "EUR", Kind: ledger.KindFloat, Owner: ownerFloat}, {Currency: "EUR", Kind: ledger.KindFees, Owner: ownerFees}}
	for m := range merchants {
		specs = append(specs, ledger.AccountSpec{Currency: "EUR", Kind: ledger.KindMerchant, Owner: fmt.Sprintf("SHOP%d", m), Name: fmt.Sprintf("Shop %d", m)})
	}
	for i := 0; i < len(specs); i += ledger.MaxJobAccounts {
		if _, err := l.Submit(ctx, ledger.Job{Open: specs[i:min(i+ledger.MaxJobAccounts, len(specs))]}); err != nil {
			return err
		}
	}
	float := l.AccountsOf(ownerFloat)[0].ID
	sim, err := smpp.NewSim("127.0.0.1:0", "mpg", "bench")
	if err != nil {
		return err
	}
	defer sim.Close()
	cfg.SMPP.Addr, cfg.SMPP.SystemID, cfg.SMPP.Password = sim.Addr(), "mpg", "bench"
	cfg.SMPP.Window, cfg.SMPP.RatePerS, cfg.SMPP.Binds = 256, 100000, 2
	cfg.HTTP.Addr = "127.0.0.1:0"
	d, _, stop, err := startDaemon(ctx, cfg, l, a.log.Named("daemon"))
	if err != nil {
		return err
	}
	defer stop()
	phoneOf := func(i int) string { return fmt.Sprintf("+336%08d", i) }
	// Subscribers register by SMS (their PIN is only known to the engine as an HMAC), then
	// get a top-up from the float.
	start := time.Now()
	var next atomic.Int64
	if err := parallelN(clients, func(int) error {
		for i := int(next.Add(1)) - 1; i < subscribers; i = int(next.Add(1)) - 1 {
			if st, err := sim.SendMO(ctx, phoneOf(i), "1234", "REG 1234"); err != nil || st != smpp.StatusOK {
				return fmt.Errorf("REG from %s: %v %v", phoneOf(i), st, err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	var fund []ledger.Transfer
	for i := range subscribers {
		accs := l.AccountsOf(phoneOf(i))
		if len(accs) == 0 {
			return fmt.Errorf("subscriber %s did not register", phoneOf(i))
		}
		fund = append(fund, ledger.Transfer{ID: ledger.NewID(), Debit: float, Credit: accs[0].ID, Amount: 20000, Code: engine.CodeTopup})
		if len(fund) == ledger.MaxJobTransfers || i == subscribers-1 {
			if _, err := l.Submit(ctx, ledger.Job{Transfers: fund}); err != nil {
				return err
			}
			fund = nil
		}
	}
	fmt.Fprintf(out, "setup: %d subscribers registered by SMS and funded, %d merchants, in %s\n", subscribers, merchants, time.Since(start).Round(time.Millisecond))

	// The load: client c texts as phone c and waits for its reply; SEND pays phones beyond the
	// clients', so that a payee's notice never lands on a phone that waits for an answer.
	lat := make([][]time.Duration, clients)
	var answered, sent atomic.Int64
	commits0 := l.Stats().Commits.Load()
	next.Store(0)
	start = time.Now()
	err = parallelN(clients, func(c int) error {
		rng := rand.New(rand.NewPCG(uint64(c), 7))
		me := phoneOf(c)
		for k := next.Add(1); k <= int64(commands); k = next.Add(1) {
			var text string
			switch r := rng.IntN(100); {
			case r < 70:
				text = fmt.Sprintf("PAY SHOP%d 0.%02d R%d 1234", rng.IntN(merchants), 1+rng.IntN(99), k)
			case r < 85:
				text = fmt.Sprintf("SEND %s 0.01 1234", phoneOf(clients+rng.IntN(subscribers-clients)))
			default:
				text = "BAL 1234"
			}
			have := len(sim.MT(me))
			t0 := time.Now()
			sent.Add(1)
			if _, err := sim.SendMO(ctx, me, "1234", text); err != nil {
				return err
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := sim.WaitMT(wctx, me, have+1)
			cancel()
			if err == nil {
				answered.Add(1)
				lat[c] = append(lat[c], time.Since(t0))
			}
		}
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	commits := l.Stats().Commits.Load() - commits0
	all := slices.Concat(lat...)
	slices.Sort(all)
	rep, err := l.Verify(ctx, nil)
	verify := "ok"
	if err != nil || !rep.OK() {
		verify = "FAILED"
	}
	fmt.Fprintf(out, "subscribers=%d merchants=%d clients=%d elapsed=%s fsyncs=%d cmds_per_fsync=%.1f mo_redelivered=%d rss_mb=%d\n",
		subscribers, merchants, clients, elapsed.Round(time.Millisecond), commits, float64(sent.Load())/float64(max(1, commits)),
		d.cl.Metrics.MORejected.Load(), rssMB())
	fmt.Fprintf(out, "cmds_per_s=%.0f p50_ms=%.2f p99_ms=%.2f answered=%d/%d verify=%s\n",
		float64(len(all))/elapsed.Seconds(), ms2(pct(all, 0.5)), ms2(pct(all, 0.99)), answered.Load(), sent.Load(), verify)
	if verify != "ok" {
		return &exitError{code: 2, msg: "ledger verify FAILED after the run"}
	}
	return nil
}
