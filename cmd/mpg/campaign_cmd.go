package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/engine"
)

// campaignCmd is the operator's side of marketing campaigns: create one, list them, read a
// report, stop one. The daemon's sweep does the sending.
func (a *app) campaignCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "campaign",
		Short: "Marketing campaigns: create, list, report, stop (sent only to members who opted in)",
		Example: `  mpg campaign create --promo SUMMER --text "Summer at Corner Shop: 10% off from 5.00"
  mpg campaign create --promo GOLD --text "Gold members: 2.00 off at Corner Shop" --audience 'level == "gold"'
  mpg campaign list
  mpg campaign report 18ee35204024dee9
  mpg campaign stop 18ee35204024dee9`,
	}
	c.AddCommand(a.campaignCreateCmd(), a.campaignListCmd(), a.campaignReportCmd(), a.campaignStopCmd())
	return c
}

func (a *app) campaignCreateCmd() *cobra.Command {
	var code, text, audience string
	c := &cobra.Command{
		Use:   "create --promo CODE --text TEXT [--audience RULE]",
		Short: "Text a promotion to the members who opted in and match the rule, in their sending hours",
		Example: `  mpg campaign create --promo SUMMER --text "Summer at Corner Shop: 10% off from 5.00"
  mpg campaign create --promo GOLD --text "Gold members: 2.00 off at Corner Shop" --audience 'level == "gold"'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				x, err := a.engine(l).CreateCampaign(cmd.Context(), code, text, audience, a.actor())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "campaign %s created: %s, sent by the daemon's sweep until %s\n",
					x.ID, x.Promo, time.Unix(0, x.Until).UTC().Format(time.RFC3339))
				return nil
			})
		},
	}
	c.Flags().StringVar(&code, "promo", "", "the promotion's code")
	c.Flags().StringVar(&text, "text", "", fmt.Sprintf("the SMS, at most %d characters; mpg adds how to stop", engine.MaxCampaignText))
	c.Flags().StringVar(&audience, "audience", "", `a rule over the member, e.g. 'level == "gold" && days_since_last_payment > 30' ("": everybody who opted in)`)
	c.MarkFlagRequired("promo")
	c.MarkFlagRequired("text")
	return c
}

func (a *app) campaignListCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "list",
		Short:   "Campaigns, oldest first",
		Example: "  mpg campaign list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				cs, err := a.engine(l).Campaigns()
				if err != nil || output == "json" {
					if err != nil {
						return err
					}
					for i := range cs {
						cs[i].Cursor, cs[i].Last = "", "" // where the sweep is: sealed, nothing to read
					}
					return writeJSON(cmd.OutOrStdout(), cs)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tPROMO\tSTATE\tCREATED\tAUDIENCE\tSENT\tTEXT")
				for _, x := range cs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", x.ID, x.Promo, x.State,
						time.Unix(0, x.Created).UTC().Format(time.RFC3339), x.Matched, x.Sent, x.Text)
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}

func (a *app) campaignReportCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "report <id>",
		Short:   "What a campaign did: audience, sent, delivered, opted out after it, its promotion's use",
		Example: "  mpg campaign report 18ee35204024dee9\n  mpg campaign report 18ee35204024dee9 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				rep, err := a.engine(l).ReportCampaign(args[0])
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), rep)
				}
				return writeCampaignReport(cmd.OutOrStdout(), rep, floatCurrency(l, a.cfg.Ledger.Currency))
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json (times in unix nanoseconds, amounts in minor units)")
	return c
}

// writeCampaignReport writes a report as an operator reads it.
func writeCampaignReport(w io.Writer, rep engine.CampaignReport, currency string) error {
	at := func(ns int64) string {
		if ns == 0 {
			return "-"
		}
		return time.Unix(0, ns).UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "campaign\t%s (%s), %s\n", rep.ID, rep.Promo, rep.State)
	fmt.Fprintf(tw, "created\t%s, ended %s, round %d\n", at(rep.Created), at(rep.Ended), rep.Round)
	fmt.Fprintf(tw, "audience\t%d opted-in members matched the rule\n", rep.Matched)
	fmt.Fprintf(tw, "sent\t%d (to %d members); delivered %d, failed %d\n", rep.Sent, rep.Recipients, rep.Delivered, rep.Failed)
	fmt.Fprintf(tw, "opted out after it\t%d\n", rep.OptedOut)
	fmt.Fprintf(tw, "promotion\t%d uses by the recipients; budget %s, %s left\n", rep.Uses,
		domain.FormatAmount(rep.Budget, currency), domain.FormatAmount(rep.BudgetLeft, currency))
	if rep.Partial {
		fmt.Fprintln(tw, "note\tmore recipients than one report reads: the counts are of the first ones")
	}
	return tw.Flush()
}

func (a *app) campaignStopCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "stop <id>",
		Short:   "Stop a campaign: nothing more is sent",
		Example: "  mpg campaign stop 18ee35204024dee9",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				x, err := a.engine(l).StopCampaign(cmd.Context(), args[0], a.actor())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "campaign %s: %s, %d sent\n", x.ID, x.State, x.Sent)
				return nil
			})
		},
	}
}
