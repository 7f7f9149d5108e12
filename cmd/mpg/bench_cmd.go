package main

import "github.com/spf13/cobra"

func (a *app) benchCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "bench",
		Short:   "Measure mpg: the ledger alone (more to come)",
		Example: "  mpg bench ledger --db /tmp/bench.db --accounts 100000 --transfers 2000000 --clients 2048",
	}
	c.AddCommand(a.benchLedgerCmd())
	return c
}
