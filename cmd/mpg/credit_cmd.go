package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/engine"
)

// Credit lines (mCredit) for operators: grant, change the limit, freeze, close, show.

func (a *app) creditCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "credit",
		Short: "Credit lines (mCredit): grant, set the limit, freeze, unfreeze, close, show",
		Example: `  mpg credit grant 0612345678 200
  mpg credit set-limit 0612345678 300
  mpg credit freeze 0612345678
  mpg credit show 0612345678`,
	}
	c.PersistentFlags().StringVar(&a.regionFlag, "region", "", "country of national numbers (default engine.region)")
	statementDay := 1
	amountCmd := func(use, short, example string, f func(eng *engine.Engine, cmd *cobra.Command, msisdn string, amount uint64) error) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Example: example, Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
					amount, err := domain.ParseAmountIn(args[1], floatCurrency(l, a.cfg.Ledger.Currency))
					if err != nil {
						return err
					}
					return f(eng, cmd, msisdn, amount)
				})
			},
		}
	}
	grant := amountCmd("grant <msisdn> <limit>", "Open a credit line with a limit (tier 2 and up); the subscriber is told",
		"  mpg credit grant 0612345678 200", func(eng *engine.Engine, cmd *cobra.Command, msisdn string, limit uint64) error {
			line, err := eng.GrantCredit(cmd.Context(), a.actor(), msisdn, limit, uint8(a.cfg.Engine.CreditMinTier), statementDay)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: credit line %d, limit %s\n", msisdn, line.ID, domain.FormatAmount(line.Limit, line.Currency))
			return nil
		})
	setLimit := amountCmd("set-limit <msisdn> <limit>", "Change the limit: never below what the line owes and holds",
		"  mpg credit set-limit 0612345678 300", func(eng *engine.Engine, cmd *cobra.Command, msisdn string, limit uint64) error {
			if err := eng.SetCreditLimit(cmd.Context(), a.actor(), msisdn, limit); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: credit limit set\n", msisdn)
			return nil
		})
	status := func(use, short string, s domain.Status) *cobra.Command {
		return &cobra.Command{
			Use: use + " <msisdn>", Short: short, Example: "  mpg credit " + use + " 0612345678", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
					if err := eng.SetCreditStatus(cmd.Context(), a.actor(), msisdn, s); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: credit line %s\n", msisdn, s)
					return nil
				})
			},
		}
	}
	show := &cobra.Command{
		Use: "show <msisdn>", Short: "The line: limit, owed, held, available", Example: "  mpg credit show 0612345678", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				line, err := eng.CreditLineOf(msisdn)
				if err != nil {
					return err
				}
				owed, held, avail := engine.LineUse(line)
				f := func(v uint64) string { return domain.FormatAmount(v, line.Currency) }
				fmt.Fprintf(cmd.OutOrStdout(), "%s: credit line %d (%s), limit %s, owed %s, held %s, available %s\n",
					msisdn, line.ID, line.Status, f(line.Limit), f(owed), f(held), f(avail))
				return nil
			})
		},
	}
	grant.Flags().IntVar(&statementDay, "statement-day", 1, "day of the month (1..28) of the statement SMS")
	c.AddCommand(grant, setLimit, status("freeze", "No new authorisation (captures and repayments still go)", domain.StatusBlocked),
		status("unfreeze", "Authorisations again", domain.StatusActive), status("close", "Close a line that owes and holds nothing", domain.StatusClosed), show)
	return c
}
