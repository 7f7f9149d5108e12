package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/engine"
	"mpg/fraud"
)

// The fraud rules' queue for operators: what waits for a review, release or decline one
// (audited with the operator), explain a decision (and what today's rule set would
// decide), list the rule set.

func (a *app) fraudCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "fraud",
		Short: "Fraud rules: the review queue, release, decline, explain, the rules",
		Example: `  mpg fraud review
  mpg fraud release 0f3c9a…
  mpg fraud decline 0f3c9a…
  mpg fraud explain 0f3c9a…
  mpg fraud rules`,
	}
	c.AddCommand(a.fraudReviewCmd(), a.fraudDecideCmd(true), a.fraudDecideCmd(false), a.fraudExplainCmd(), a.fraudRulesCmd())
	return c
}

func (a *app) fraudReviewCmd() *cobra.Command {
	var limit int
	c := &cobra.Command{
		Use:     "review",
		Short:   "List the payments the rules held or flagged, oldest first",
		Example: "  mpg fraud review --limit 20",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withLedger(func(l store) error {
				cases, err := a.engine(l).FraudCases(cmd.Context(), limit)
				if err != nil {
					return err
				}
				writeCases(cmd.OutOrStdout(), l, a.engine(l), cases)
				return nil
			})
		},
	}
	c.Flags().IntVar(&limit, "limit", 50, "at most this many")
	return c
}

// writeCases prints the queue: one line a decision, people's numbers masked.
func writeCases(w io.Writer, l store, eng *engine.Engine, cases []engine.FraudDecision) {
	if len(cases) == 0 {
		fmt.Fprintln(w, "nothing waits for a review")
		return
	}
	fmt.Fprintf(w, "%-32s  %-6s  %5s  %12s  %-14s  %-14s  %s\n", "DECISION", "ACTION", "SCORE", "AMOUNT", "PAYER", "PAYEE", "RULES")
	for _, d := range cases {
		fmt.Fprintf(w, "%-32s  %-6s  %5d  %12s  %-14s  %-14s  %s\n", d.ID, d.Action, d.Score,
			domain.FormatAmount(d.Amount, currencyOf(l)), eng.PartyOf(d.Payer), eng.PartyOf(d.Payee), hitsText(d.Hits))
	}
}

func currencyOf(l store) string {
	return floatCurrency(l, "EUR")
}

func hitsText(hits []fraud.Hit) string {
	var parts []string
	for _, h := range hits {
		parts = append(parts, fmt.Sprintf("%s=%g(+%d)", h.Rule, h.Value, h.Score))
	}
	return strings.Join(parts, " ")
}

func (a *app) fraudDecideCmd(release bool) *cobra.Command {
	use, short, example := "release <decision>", "Release a hold (the payment goes through) or close a flagged payment's case", "  mpg fraud release 0f3c9a…"
	if !release {
		use, short, example = "decline <decision>", "Decline a hold (the money goes back) or reverse a flagged payment", "  mpg fraud decline 0f3c9a…"
	}
	return &cobra.Command{
		Use: use, Short: short, Example: example,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				d, err := a.engine(l).DecideFraud(cmd.Context(), a.actor(), args[0], release)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s by %s at %s (payment %s)\n", d.ID, d.State, d.By,
					time.Unix(0, d.Decided).In(a.location()).Format(time.RFC3339), d.Payment)
				return nil
			})
		},
	}
}

func (a *app) fraudExplainCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "explain <decision>",
		Short:   "Say why the rules decided as they did, and what the rule set in use now decides on the same values",
		Example: "  mpg fraud explain 0f3c9a…",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				eng := a.engine(l)
				d, err := eng.FraudDecisionOf(args[0])
				if err != nil {
					return err
				}
				stored, now, err := eng.ExplainFraud(args[0])
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "decision %s, %s, rule set %d, %s at %s\n", d.ID, d.State, d.Config, d.Product+"/"+d.Channel,
					time.Unix(0, d.At).In(a.location()).Format(time.RFC3339))
				fmt.Fprintf(w, "payment %s of %s from %s to %s\n", d.Payment, domain.FormatAmount(d.Amount, currencyOf(l)), eng.PartyOf(d.Payer), eng.PartyOf(d.Payee))
				fmt.Fprintf(w, "then: %s\nnow:  %s\n", stored, now)
				return nil
			})
		},
	}
}

func (a *app) fraudRulesCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rules",
		Short:   "List the rule set in use: each rule, its version, bands and parameters",
		Example: "  mpg fraud rules",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := a.cfg.Fraud.RuleSet()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "mode %s, rule set %d: review at %d, hold at %d, decline at %d\n", a.cfg.Fraud.Mode, rs.Version, rs.Review, rs.Hold, rs.Decline)
			for _, r := range rs.Rules {
				on := "on"
				if !r.Enabled {
					on = "off"
				}
				fmt.Fprintf(w, "  %-22s v%d %-3s bands %v params %v\n", r.ID, r.Version, on, r.Bands, r.Params)
			}
			return nil
		},
	}
}
