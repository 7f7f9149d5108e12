package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"mpg/engine"
)

// campaignCmd is the operator's side of marketing campaigns: create one, list them, read a
// report, stop one. The daemon's sweep does the sending.
func (a *app) campaignCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "campaign",
		Short: "Marketing campaigns: create, list, report, stop (sent only to members who opted in)",
		Example: `  mpg campaign create --promo SUMMER --text "Summer at Corner Shop: -20% with code SUMMER"
  mpg campaign create --promo GOLD10 --text "Gold members: 10% off" --audience 'level == "gold"'
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
		Example: `  mpg campaign create --promo SUMMER --text "Summer at Corner Shop: -20% with code SUMMER"
  mpg campaign create --promo GOLD10 --text "Gold members: 10% off" --audience 'level == "gold"'`,
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
	return &cobra.Command{
		Use:     "report <id>",
		Short:   "What a campaign did: audience, sent, delivered, opted out after it",
		Example: "  mpg campaign report 18ee35204024dee9",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				rep, err := a.engine(l).ReportCampaign(args[0])
				if err != nil {
					return err
				}
				return writeJSON(cmd.OutOrStdout(), rep)
			})
		},
	}
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
