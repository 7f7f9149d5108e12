package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"mpg/smpp"
)

func (a *app) benchSMPPCmd() *cobra.Command {
	var messages, clients, window, binds int
	c := &cobra.Command{
		Use:   "smpp",
		Short: "Drive the SMPP session against the simulator with a no-op handler",
		Long: `bench smpp starts the SMSC simulator on loopback, binds the session to it, then sends
--messages MO from --clients simulated phones at once (each waits for its deliver_sm_resp),
then submits as many MT. The last line is:
  mo_per_s=<n> mt_per_s=<n> p99_ms=<x>
where p99_ms is the MO round trip (deliver_sm to deliver_sm_resp).`,
		Example: "  mpg bench smpp --messages 50000 --clients 64",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if messages < 1 || clients < 1 || clients > 10000 {
				return fmt.Errorf("need --messages >= 1 and --clients 1..10000")
			}
			return benchSMPP(cmd.Context(), cmd.OutOrStdout(), messages, clients, window, binds)
		},
	}
	c.Flags().IntVar(&messages, "messages", 50000, "MO to send, then MT to submit")
	c.Flags().IntVar(&clients, "clients", 64, "concurrent simulated phones / submitters")
	c.Flags().IntVar(&window, "window", 64, "session window per bind")
	c.Flags().IntVar(&binds, "binds", 1, "transceiver binds")
	return c
}

func benchSMPP(ctx context.Context, out io.Writer, n, clients, window, binds int) error {
	sim, err := smpp.NewSim("127.0.0.1:0", "bench", "bench")
	if err != nil {
		return err
	}
	defer sim.Close()
	cl := smpp.NewClient(smpp.Config{Addr: sim.Addr(), Bind: smpp.Bind{SystemID: "bench", Password: "bench"},
		Transceiver: true, Binds: binds, Window: window, MaxInflight: 4 * clients, Rate: 1e9},
		func(context.Context, smpp.MO) error { return nil }, nil)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cl.Run(rctx) }()
	defer func() { stop(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); !cl.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("session did not bind to the simulator")
		}
	}
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	start := time.Now()
	err = parallelN(clients, func(c int) error {
		for next.Add(1) <= int64(n) {
			t0 := time.Now()
			st, err := sim.SendMO(ctx, fmt.Sprintf("+3369%07d", c), "1234", "BAL 1234")
			if err != nil {
				return err
			}
			if st != smpp.StatusOK {
				return fmt.Errorf("MO answered %v", st)
			}
			lat[c] = append(lat[c], time.Since(t0))
		}
		return nil
	})
	moTime := time.Since(start)
	if err != nil {
		return err
	}
	next.Store(0)
	start = time.Now()
	err = parallelN(clients, func(c int) error {
		for next.Add(1) <= int64(n) {
			if _, err := cl.Submit(ctx, "1234", fmt.Sprintf("+3369%07d", c), "Balance 12.50 EUR", false); err != nil {
				return err
			}
		}
		return nil
	})
	mtTime := time.Since(start)
	if err != nil {
		return err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	fmt.Fprintf(out, "messages=%d clients=%d binds=%d window=%d mo_elapsed=%s mt_elapsed=%s p50_ms=%.2f\n",
		n, clients, binds, window, moTime.Round(time.Millisecond), mtTime.Round(time.Millisecond), ms2(pct(all, 0.5)))
	fmt.Fprintf(out, "mo_per_s=%.0f mt_per_s=%.0f p99_ms=%.2f\n", float64(n)/moTime.Seconds(), float64(n)/mtTime.Seconds(), ms2(pct(all, 0.99)))
	return nil
}
