package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/ledger"
)

func (a *app) benchLedgerCmd() *cobra.Command {
	var accounts, transfers, clients, rate int
	var keep bool
	var cpuprofile string
	c := &cobra.Command{
		Use:   "ledger",
		Short: "Drive the ledger alone with concurrent clients and report throughput and latency",
		Long: `bench ledger creates a new ledger file, opens --accounts purses funded from the float,
then --clients goroutines submit --transfers single transfers between random purses,
each waiting for its commit (fsync on). It then closes and reopens the file to time a
cold open. The last line is:
  transfers_per_s=<n> p50_ms=<x> p99_ms=<y> per_fsync=<z>
With --rate, transfers are scheduled at that rate and latency counts from when each was due.`,
		Example: "  mpg bench ledger --db /tmp/bench.db --accounts 100000 --transfers 2000000 --clients 2048",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if accounts < 2 || transfers < 1 || clients < 1 || clients > 65536 {
				return fmt.Errorf("need --accounts >= 2, --transfers >= 1, --clients 1..65536")
			}
			if _, err := os.Stat(a.dbPath); err == nil {
				return fmt.Errorf("%s exists: bench ledger writes a new file (pass another --db)", a.dbPath)
			}
			if !keep {
				defer os.Remove(a.dbPath)
			}
			stopProfile, err := startCPUProfile(cpuprofile)
			if err != nil {
				return err
			}
			defer stopProfile()
			// The purses get a tier whose limits never bind but whose 24-hour window is kept,
			// so the rules' cost is measured with the transfers.
			opt := a.ledgerOptions()
			opt.Tiers = map[uint8]domain.TierLimits{1: {Daily: 1 << 62, MaySend: true}}
			return benchLedger(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), a.dbPath, opt, accounts, transfers, clients, rate)
		},
	}
	c.Flags().IntVar(&accounts, "accounts", 100000, "purses to open")
	c.Flags().IntVar(&transfers, "transfers", 1000000, "transfers to submit")
	c.Flags().IntVar(&clients, "clients", 2048, "concurrent submitters")
	c.Flags().IntVar(&rate, "rate", 0, "target transfers per second over all clients (0: as fast as commits allow)")
	c.Flags().BoolVar(&keep, "keep", false, "keep the file afterwards")
	c.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	return c
}

func benchLedger(ctx context.Context, out, errw io.Writer, path string, opt *ledger.Options, nAcc, nTr, nCli, rate int) error {
	l, err := ledger.Create(path, opt)
	if err != nil {
		return err
	}
	defer func() { l.Close() }()
	res, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindFloat, Owner: ownerFloat}}})
	if err != nil {
		return err
	}
	float := res.Accounts[0].ID
	// Open and fund the purses in parallel jobs of 64.
	start := time.Now()
	ids := make([]uint64, nAcc)
	var next atomic.Int64
	err = parallel(64, func() error {
		for {
			lo := int(next.Add(64)) - 64
			if lo >= nAcc {
				return nil
			}
			hi := min(lo+64, nAcc)
			var specs []domain.AccountSpec
			for i := lo; i < hi; i++ {
				specs = append(specs, domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: fmt.Sprintf("+3361%08d", i), Tier: 1})
			}
			r, err := l.Submit(ctx, domain.Job{Open: specs})
			if err != nil {
				return err
			}
			var fund []domain.Transfer
			for i, acc := range r.Accounts {
				ids[lo+i] = acc.ID
				fund = append(fund, domain.Transfer{ID: domain.NewID(), Debit: float, Credit: acc.ID, Amount: 1_000_000_00})
			}
			if _, err := l.Submit(ctx, domain.Job{Transfers: fund}); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "setup: %d accounts opened and funded in %s\n", nAcc, time.Since(start).Round(time.Millisecond))

	commits0 := l.Stats().Commits.Load()
	lat := make([][]time.Duration, nCli)
	var done, refused atomic.Int64
	var issued atomic.Int64
	stopProgress := reportProgress(errw, &done, nTr, "transfers", time.Second)
	start = time.Now()
	err = parallelN(nCli, func(c int) error {
		rng := rand.New(rand.NewPCG(uint64(c), 42))
		mine := make([]time.Duration, 0, nTr/nCli+1)
		// With a rate, transfer k is due at start + k/rate: an open-loop schedule, so a
		// slow commit shows as latency instead of silently lowering the load.
		for {
			k := issued.Add(1)
			if k > int64(nTr) {
				break
			}
			due := start
			if rate > 0 {
				due = start.Add(time.Duration(float64(k) / float64(rate) * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
			}
			d := ids[rng.IntN(nAcc)]
			cr := ids[rng.IntN(nAcc)]
			if cr == d {
				cr = float
			}
			t0 := time.Now()
			if rate > 0 && due.Before(t0) {
				t0 = due // latency counts from when the transfer was due
			}
			_, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: d, Credit: cr, Amount: 1 + uint64(rng.IntN(500))}}})
			mine = append(mine, time.Since(t0))
			if err != nil {
				if _, ok := err.(*domain.RefusedError); !ok {
					return err
				}
				refused.Add(1)
			}
			done.Add(1)
		}
		lat[c] = mine
		return nil
	})
	elapsed := time.Since(start)
	stopProgress()
	if err != nil {
		return err
	}
	commits := l.Stats().Commits.Load() - commits0
	all := slices.Concat(lat...)
	slices.Sort(all)
	n, p50, p99 := len(all), pct(all, 0.50), pct(all, 0.99)
	rssRun := rssMB()
	if err := l.Close(); err != nil {
		return err
	}
	// Cold open, to the first committed job, with the run's garbage gone first.
	all, lat, ids = nil, nil, nil
	runtime.GC()
	t0 := time.Now()
	l2, err := ledger.Open(path, opt)
	if err != nil {
		return err
	}
	l = l2
	openTime := time.Since(t0)
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: float, Credit: float + 1, Amount: 1}}}); err != nil {
		return err
	}
	firstCommit := time.Since(t0)
	fi, _ := os.Stat(path)
	fmt.Fprintf(out, "accounts=%d transfers=%d clients=%d refused=%d elapsed=%s fsyncs=%d file_mb=%d rss_mb_during_run=%d\n",
		nAcc, nTr, nCli, refused.Load(), elapsed.Round(time.Millisecond), commits, fi.Size()>>20, rssRun)
	fmt.Fprintf(out, "open_ms=%.1f open_to_first_commit_ms=%.1f\n", ms2(openTime), ms2(firstCommit))
	fmt.Fprintf(out, "transfers_per_s=%.0f p50_ms=%.2f p99_ms=%.2f per_fsync=%.1f\n",
		float64(n)/elapsed.Seconds(), ms2(p50), ms2(p99), float64(n)/float64(max(commits, 1)))
	return nil
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func ms2(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rssMB reads the resident set size of this process from /proc (Linux).
func rssMB() int64 { return procRSSMB("self") }

// reportProgress prints done/total and the rate every interval until stop is called.
func reportProgress(w io.Writer, done *atomic.Int64, total int, what string, every time.Duration) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				d := done.Load()
				fmt.Fprintf(w, "bench: %d/%d %s, %.0f/s\n", d, total, what, float64(d-last)/every.Seconds())
				last = d
			}
		}
	}()
	// Stopping waits for the reporter: nothing it writes may interleave with what follows.
	return func() { close(quit); <-finished }
}

func parallel(n int, f func() error) error {
	return parallelN(n, func(int) error { return f() })
}

// parallelN runs f(0..n-1) on n goroutines and returns the first error.
func parallelN(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// startCPUProfile writes a CPU profile to path (none when empty) until the returned stop.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
