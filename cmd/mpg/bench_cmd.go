package main

import "github.com/spf13/cobra"

func (a *app) benchCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "bench",
		Short:   "Measure throughput and latency: the ledger alone, or the SMPP session",
		Example: "  mpg bench ledger --db /tmp/bench.db --accounts 100000 --transfers 2000000 --clients 2048\n  mpg bench smpp --messages 50000",
	}
	c.AddCommand(a.benchLedgerCmd(), a.benchSMPPCmd())
	return c
}
