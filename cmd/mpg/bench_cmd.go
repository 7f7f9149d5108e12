package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

func (a *app) benchCmd() *cobra.Command {
	var subscribers, merchants, cmds, clients int
	var cpuprofile string
	c := &cobra.Command{
		Use:     "bench",
		Short:   "Measure throughput and latency: the ledger alone, or the SMPP session",
		Example: "  mpg bench ledger --db /tmp/bench.db --accounts 100000 --transfers 2000000 --clients 2048\n  mpg bench smpp --messages 50000",
	}
	c.Long = `bench alone runs mpg end to end: the SMSC simulator and the daemon bound to it over SMPP
on loopback, with a temporary ledger (fsync on). Subscribers register by SMS and are topped
up; --clients phones then text a mix of PAY, SEND and BAL, each waiting for its reply.
The last line is:
  cmds_per_s=<n> p50_ms=<x> p99_ms=<y> answered=<k>/<n> verify=ok|FAILED
Latency is MO sent to reply received. bench ledger and bench smpp measure one part each.`
	c.Args = cobra.NoArgs
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if merchants < 1 || cmds < 1 || clients < 1 || clients >= subscribers {
			return fmt.Errorf("need --merchants, --commands >= 1 and 1 <= --clients < --subscribers")
		}
		if cpuprofile != "" {
			f, err := os.Create(cpuprofile)
			if err != nil {
				return err
			}
			defer f.Close()
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		return a.benchE2E(cmd, subscribers, merchants, cmds, clients)
	}
	c.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	c.Flags().IntVar(&subscribers, "subscribers", 2000, "subscribers (registered by SMS)")
	c.Flags().IntVar(&merchants, "merchants", 50, "merchants")
	c.Flags().IntVar(&cmds, "commands", 50000, "commands to text")
	c.Flags().IntVar(&clients, "clients", 256, "phones texting at once")
	c.AddCommand(a.benchLedgerCmd(), a.benchSMPPCmd())
	return c
}
