package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/engine"
	"mpg/ledger"
)

// disputeCmd is the operator's side of dispute cases: list, show, open, decide, close, the
// evidence bundle and a merchant's counts.
func (a *app) disputeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "dispute",
		Short: "Dispute cases: list, show, open, decide, close, evidence, stats",
		Example: `  mpg dispute list
  mpg dispute open 3A-K4P92M7X "charged twice"
  mpg dispute decide 18ee… refund 5.00
  mpg dispute evidence 18ee…`,
	}
	c.AddCommand(a.disputeListCmd(), a.disputeShowCmd(), a.disputeOpenCmd(), a.disputeDecideCmd(), a.disputeCloseCmd(), a.disputeEvidenceCmd(), a.disputeStatsCmd())
	return c
}

func (a *app) disputeListCmd() *cobra.Command {
	var output, after string
	var limit int
	c := &cobra.Command{
		Use:     "list [merchant]",
		Short:   "Cases, oldest first (one merchant's, or all)",
		Example: "  mpg dispute list SHOP42 -o json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				var m uint64
				if len(args) == 1 {
					acc, err := l.Find(args[0])
					if err != nil {
						return err
					}
					m = acc.ID
				}
				eng := a.engine(l)
				cs, next, err := eng.ListDisputes(m, after, limit)
				if err != nil {
					return err
				}
				if output == "json" {
					views := make([]engine.DisputeView, len(cs))
					for i, x := range cs {
						views[i] = eng.ViewDispute(x)
					}
					return writeJSON(cmd.OutOrStdout(), views)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tREF\tPAYMENT\tKIND\tSTATE\tAMOUNT\tDEADLINE")
				for _, x := range cs {
					v := eng.ViewDispute(x)
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s %s\t%s\n", v.ID, v.Ref, v.PaymentID, v.Kind, v.State, v.Amount, v.Currency, v.Deadline)
				}
				if next != "" {
					fmt.Fprintf(tw, "more: --after %s\n", next)
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	c.Flags().StringVar(&after, "after", "", "the cursor a page ended with")
	c.Flags().IntVar(&limit, "limit", 100, "at most this many (1..100)")
	return c
}

func (a *app) disputeShowCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "show <id>",
		Short:   "One case, its history and its payment",
		Example: "  mpg dispute show 18ee35204024dee91c97bc999519a794",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				eng := a.engine(l)
				x, err := eng.GetDispute(0, args[0])
				if err != nil {
					return a.refused(l, err)
				}
				v := eng.ViewDispute(x)
				if p, err := eng.GetPayment(0, x.Payment); err == nil {
					pv := eng.View(p)
					v.Payment = &pv
				}
				return writeJSON(cmd.OutOrStdout(), v)
			})
		},
	}
	return c
}

func (a *app) disputeOpenCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "open <payment-id|receipt> <reason...>",
		Short:   "Open a case on a payment for its payer (nothing else is given back while it is open)",
		Example: `  mpg dispute open 3A-K4P92M7X never delivered`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				eng := a.engine(l)
				id := args[0]
				if _, err := eng.GetPayment(0, id); err != nil {
					tr, ok, err := eng.CheckReceipt(id)
					if err != nil || !ok {
						return fmt.Errorf("%q is neither a payment id nor a genuine receipt", id)
					}
					p, found, err := eng.PaymentOfTransfer(tr)
					if err != nil || !found {
						return fmt.Errorf("receipt %s names no payment record", id)
					}
					id = p.ID
				}
				x, err := eng.OpenDispute(cmd.Context(), engine.OpenDispute{PaymentID: id, Reason: strings.Join(args[1:], " "),
					Opener: domain.OpenerOperator, Actor: a.actor()})
				if err != nil {
					return a.refused(l, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "case %s (%s) opened on payment %s: %s\n", x.ID, engine.CaseRef(x.ID), x.Payment, x.State)
				return nil
			})
		},
	}
	return c
}

func (a *app) disputeDecideCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "decide <id> refund [amount] | reject",
		Short: "Decide a case: refund the disputed amount or part of it (the payment's one cap), or reject",
		Example: `  mpg dispute decide 18ee… refund
  mpg dispute decide 18ee… refund 5.00
  mpg dispute decide 18ee… reject`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				eng := a.engine(l)
				x, err := eng.GetDispute(0, args[0])
				if err != nil {
					return a.refused(l, err)
				}
				var amount uint64
				reject := false
				switch {
				case args[1] == "reject" && len(args) == 2:
					reject = true
				case args[1] == "refund" && len(args) == 3:
					if amount, err = domain.ParseAmountIn(args[2], x.Currency); err != nil {
						return err
					}
				case args[1] == "refund":
				default:
					return fmt.Errorf("decide <id> refund [amount] | reject")
				}
				return a.caseMoved(cmd, l)(eng.DecideDispute(cmd.Context(), a.actor(), x.ID, amount, reject))
			})
		},
	}
	return c
}

func (a *app) disputeCloseCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "close <id>",
		Short:   "Close a case at once (an open one is rejected first)",
		Example: "  mpg dispute close 18ee35204024dee91c97bc999519a794",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				return a.caseMoved(cmd, l)(a.engine(l).CloseDispute(cmd.Context(), a.actor(), args[0]))
			})
		},
	}
	return c
}

func (a *app) disputeEvidenceCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "evidence <id>",
		Short:   "The evidence bundle: the payment, its transfers, the SMS around it, and the audit chain checked up to now",
		Example: "  mpg dispute evidence 18ee35204024dee91c97bc999519a794 > case.json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				ev, err := a.engine(l).DisputeEvidenceBundle(0, args[0])
				if err != nil {
					return a.refused(l, err)
				}
				rep, err := l.Verify(cmd.Context(), nil)
				if err != nil {
					return err
				}
				return writeJSON(cmd.OutOrStdout(), struct {
					engine.Evidence
					Verify *ledger.Report `json:"ledger_verify"`
				}{ev, rep})
			})
		},
	}
	return c
}

func (a *app) disputeStatsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "stats <merchant>",
		Short:   "A merchant's cases: opened, open, decided for the subscriber, for the merchant",
		Example: "  mpg dispute stats SHOP42",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				acc, err := l.Find(args[0])
				if err != nil {
					return err
				}
				st, err := a.engine(l).MerchantDisputeStats(acc.ID)
				if err != nil {
					return err
				}
				return writeJSON(cmd.OutOrStdout(), st)
			})
		},
	}
	return c
}

// caseMoved says where an operator's step left a case, or why it was refused.
func (a *app) caseMoved(cmd *cobra.Command, l store) func(domain.Dispute, error) error {
	return func(x domain.Dispute, err error) error {
		if err != nil {
			return a.refused(l, err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "case %s: %s\n", x.ID, x.State)
		return nil
	}
}
