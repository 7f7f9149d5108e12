package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"mpg/config"
	"mpg/domain"
	"mpg/engine"
	"mpg/settlement"
)

// settlementConfig is the [settlement] section as the engine takes it.
func settlementConfig(s config.Settlement) engine.SettlementConfig {
	iban := s.DebtorIBAN
	if v, err := domain.ParseIBAN(iban); err == nil {
		iban = v // a bad one stays as typed: a run refuses it and says why
	}
	return engine.SettlementConfig{Files: settlement.Files{}, Enabled: s.Enabled, At: s.AtOffset(), Dir: s.Dir, ReservePercent: s.ReservePercent, ReserveDays: s.ReserveDays,
		ReserveMin: s.ReserveMinMinor, MinPayout: s.MinPayoutMinor, Initiator: s.Initiator,
		Debtor: domain.SEPAParty{Name: s.DebtorName, IBAN: iban, BIC: strings.ToUpper(s.DebtorBIC)}}
}

func (a *app) merchantIBANCmd() *cobra.Command {
	var bic, holder string
	var unlink bool
	c := &cobra.Command{
		Use:   "iban <merchant> [IBAN]",
		Short: "Link the bank account a merchant is paid into (settlement), show it, or unlink it",
		Example: `  mpg merchant iban SHOP42 "FR76 3000 6000 0112 3456 7890 189" --bic AGRIFRPP --holder "Corner Shop SARL"
  mpg merchant iban SHOP42
  mpg merchant iban SHOP42 --unlink`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccount(args[0], merchantAccount, func(l store, m domain.Account) error {
				e, out := a.engine(l), cmd.OutOrStdout()
				if len(args) == 1 && !unlink {
					b, found, err := e.PayoutBankOf(m.ID)
					if err == nil && !found {
						err = fmt.Errorf("%s has no bank account linked (mpg merchant iban %s IBAN)", m.Owner, m.Owner)
					}
					if err == nil {
						fmt.Fprintf(out, "%s is paid into %s %s, held by %s\n", m.Owner, domain.MaskIBAN(b.IBAN), b.BIC, b.Holder)
					}
					return err
				}
				iban := ""
				if !unlink {
					iban = args[1]
				}
				b, err := e.LinkPayoutBank(cmd.Context(), a.actor(), m.ID, iban, bic, holder)
				if err != nil {
					return err
				}
				if unlink {
					fmt.Fprintf(out, "%s has no bank account now: it is no longer settled\n", m.Owner)
					return nil
				}
				fmt.Fprintf(out, "%s is paid into %s, held by %s\n", m.Owner, domain.MaskIBAN(b.IBAN), b.Holder)
				return nil
			})
		},
	}
	c.Flags().StringVar(&bic, "bic", "", "the bank's BIC (optional in SEPA)")
	c.Flags().StringVar(&holder, "holder", "", "the account holder's name (default: the merchant's name)")
	c.Flags().BoolVar(&unlink, "unlink", false, "remove the bank account: the merchant is no longer settled")
	return c
}

func (a *app) settleCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "settle",
		Short: "Pay merchants what they are owed now (at most once a day each) and write the pain.001 file",
		Long: `settle pays every merchant with a linked bank account (mpg merchant iban) what it is owed:
its balance less the reserve ([settlement] reserve_percent of the last reserve_days days'
payments, at least reserve_min_minor). Each payout moves to the settlement account in one
job with its record; the payouts go into an ISO 20022 pain.001.001.03 file in
[settlement] dir, to upload to the operator's bank. The bank's pain.002 status report is
read back with mpg settle confirm. The daemon does the same each day at [settlement] at
when [settlement] enabled is true.`,
		Example: `  mpg settle
  mpg settle -o json
  mpg settle confirm pain002-from-the-bank.xml
  mpg settle show MPG20261125-SHOP42
  mpg settle list SHOP42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withLedger(func(l store) error {
				rep, err := a.engine(l).Settle(cmd.Context(), a.actor())
				if err != nil && len(rep.Issued) == 0 {
					return err
				}
				if output == "json" {
					if rep.Issued == nil {
						rep.Issued = []engine.Payout{} // none issued: [], not null
					}
					return cmp.Or(writeJSON(cmd.OutOrStdout(), rep), err)
				}
				return cmp.Or(writeSettleReport(cmd.OutOrStdout(), rep), err)
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json (amounts in minor units)")
	c.AddCommand(a.settleConfirmCmd(), a.settleShowCmd(), a.settleListCmd())
	return c
}

func writeSettleReport(w io.Writer, rep engine.SettleReport) error {
	day := rep.Day
	if t, err := time.Parse("20060102", rep.Day); err == nil {
		day = t.Format("2006-01-02")
	}
	fmt.Fprintf(w, "settlement of %s: %s issued\n", day, plural(len(rep.Issued), "payout", "payouts"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range rep.Issued {
		fmt.Fprintf(tw, "  %s\t%s\t%s\treserve %s\tto %s\n", p.ID, p.Code, domain.FormatAmount(p.Amount, p.Currency), domain.FormatAmount(p.Reserve, p.Currency), domain.MaskIBAN(p.IBAN))
	}
	tw.Flush()
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "  not paid: %s\n", s)
	}
	for _, s := range rep.Errors {
		fmt.Fprintf(w, "  left for the next run: %s\n", s)
	}
	for _, f := range rep.Files {
		fmt.Fprintf(w, "file: %s\n", f)
	}
	return nil
}

func (a *app) settleConfirmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "confirm <pain.002 file>",
		Short: "Read the bank's pain.002 status report: settled payouts are paid, rejected ones go back to the merchant",
		Long: `confirm reads an ISO 20022 pain.002.001.03 payment status report that answers a file
mpg wrote. A transfer settled (ACSC) marks its payout paid; rejected (RJCT), the money goes
back to the merchant's account and the bank's reason is kept. Any other status (received,
accepted, pending) leaves the payout issued: an outcome the bank has not given is never
guessed. Reading the same report again changes nothing.`,
		Example: "  mpg settle confirm pain002-20261126.xml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			return a.withLedger(func(l store) error {
				rep, err := a.engine(l).ConfirmPayouts(cmd.Context(), a.actor(), f)
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "status report of %s:\n", rep.File)
				for _, ln := range rep.Lines {
					fmt.Fprintf(w, "  %s\t%s", ln.Payout, ln.State)
					if ln.Reason != "" {
						fmt.Fprintf(w, " (%s)", ln.Reason)
					}
					if ln.Note != "" {
						fmt.Fprintf(w, ": %s", ln.Note)
					}
					fmt.Fprintln(w)
				}
				for _, u := range rep.Unknown {
					fmt.Fprintf(w, "  %s: not in that file, ignored\n", u)
				}
				return err
			})
		},
	}
}

func (a *app) settleShowCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "show <payout>",
		Short:   "A payout and the movements it covers (payments, refunds, fees), which add up to it",
		Example: "  mpg settle show MPG20261125-SHOP42\n  mpg settle show MPG20261125-SHOP42 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				v, err := a.engine(l).PayoutDetail(args[0])
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), v)
				}
				return writePayout(cmd.OutOrStdout(), v)
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json (amounts in minor units)")
	return c
}

func signed(v int64) string {
	if v < 0 {
		return "-" + domain.FormatMinor(uint64(-v), 2)
	}
	return "+" + domain.FormatMinor(uint64(v), 2)
}

func writePayout(w io.Writer, v engine.PayoutView) error {
	m := func(x uint64) string { return domain.FormatAmount(x, v.Currency) }
	fmt.Fprintf(w, "payout %s of %s: %s, %s", v.ID, v.Code, m(v.Amount), v.State)
	if v.Reason != "" {
		fmt.Fprintf(w, " (%s)", v.Reason)
	}
	fmt.Fprintf(w, "\nto %s (%s), file %s %s\n", domain.MaskIBAN(v.IBAN), v.Holder, v.File, v.FilePath)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, mv := range v.Movements {
		fmt.Fprintf(tw, "  %s\t%s\t%s\tpayment %s\t%s\n", time.Unix(0, mv.Time).UTC().Format(time.RFC3339), mv.What, signed(mv.Effect), orDash(mv.Payment), mv.Transfer)
	}
	tw.Flush()
	fmt.Fprintf(w, "movements %s = payout %s + reserve kept %s - reserve before %s\n", signed(v.Sum), m(v.Amount), m(v.Reserve), m(v.ReserveBefore))
	if !v.Complete {
		fmt.Fprintln(w, "(more movements than the list holds)")
	}
	return nil
}

func (a *app) settleListCmd() *cobra.Command {
	var limit int
	c := &cobra.Command{
		Use:     "list <merchant>",
		Short:   "A merchant's payouts, newest first",
		Example: "  mpg settle list SHOP42 --limit 10",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccount(args[0], merchantAccount, func(l store, m domain.Account) error {
				ps, err := a.engine(l).PayoutsOf(m.ID, limit)
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				for _, p := range ps {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.ID, domain.FormatAmount(p.Amount, p.Currency), p.State, p.Reason)
				}
				tw.Flush()
				return err
			})
		},
	}
	c.Flags().IntVar(&limit, "limit", 30, "at most this many")
	return c
}
