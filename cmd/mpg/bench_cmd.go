package main

import "github.com/spf13/cobra"

func (a *app) benchCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "bench",
		Short:   "Measure throughput and latency (bench ledger: the ledger alone)",
		Example: "  mpg bench ledger --db /tmp/bench.db --accounts 100000 --transfers 2000000 --clients 2048",
	}
	c.AddCommand(a.benchLedgerCmd())
	return c
}
