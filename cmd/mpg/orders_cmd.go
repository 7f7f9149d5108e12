package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/engine"
)

// A subscriber's standing orders, for customer care: listed as his ORDERS numbers them,
// and one ended (audited; the subscriber is told by SMS).

func (a *app) subscriberOrdersCmd() *cobra.Command {
	var output string
	var stop int
	c := &cobra.Command{
		Use:   "orders <msisdn>",
		Short: "A subscriber's standing orders (EVERY), numbered as his ORDERS; --stop n ends one",
		Long: `orders lists the subscriber's standing orders with their numbers (the ones his ORDERS
shows and his STOPORDER takes), what each pays, on which day, its next due date and the
last one run. --stop n ends order n: its record goes in one step, the operator's uid is
written to the audit trail and the subscriber is told by SMS.`,
		Example: "  mpg subscriber orders 0612345678\n  mpg subscriber orders 0612345678 --stop 2",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(_ store, eng *engine.Engine, msisdn string) error {
				if stop > 0 {
					o, err := eng.StopOrder(cmd.Context(), a.actor(), msisdn, stop)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: standing order %d stopped (%s to %s)\n", domain.Mask(msisdn), o.N, o.Amount, o.Payee)
					return nil
				}
				orders, err := eng.Orders(msisdn)
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), orders)
				}
				return ordersTable(cmd, orders)
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	c.Flags().IntVar(&stop, "stop", 0, "end standing order n (its number in the list)")
	return c
}

func ordersTable(cmd *cobra.Command, orders []engine.Order) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "N\tPRODUCT\tPAYEE\tACCOUNT\tAMOUNT\tEVERY\tNEXT\tLAST")
	for _, o := range orders {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.N, o.Product, o.Payee, o.Account, o.Amount, o.Every, o.Next, o.Last)
	}
	return tw.Flush()
}
