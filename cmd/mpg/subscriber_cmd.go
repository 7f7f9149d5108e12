package main

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"mpg/commands"
	"mpg/domain"
	"mpg/engine"
)

// What mpg holds about a person: his marketing consents as given, and everything else, for
// the person's right of access and portability.

func (a *app) subscriberCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "subscriber",
		Short: "A person's data: marketing consents, and an export of everything held about him",
		Example: `  mpg subscriber consents 0612345678
  mpg subscriber export 0612345678 --out /tmp/alice
  mpg subscriber erase 0612345678
  mpg subscriber settings 0612345678 --receive bank
  mpg subscriber orders 0612345678`,
	}
	c.PersistentFlags().StringVar(&a.regionFlag, "region", "", "country of national numbers (default engine.region)")
	c.AddCommand(a.subscriberConsentsCmd(), a.subscriberExportCmd(), a.subscriberEraseCmd(), a.subscriberSettingsCmd(), a.subscriberOrdersCmd())
	return c
}

func (a *app) subscriberConsentsCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "consents <msisdn>",
		Short:   "Every marketing consent and withdrawal: when, how, and the wording shown or texted",
		Example: "  mpg subscriber consents +33612345678 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				cs, err := eng.Consents(msisdn)
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), cs)
				}
				return consentTable(cmd, cs)
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}

func consentTable(cmd *cobra.Command, cs []engine.Consent) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tOFFERS\tCHANNEL\tCOMMAND\tTEXT")
	for _, c := range cs {
		on := "off"
		if c.Granted {
			on = "on"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", time.Unix(0, c.Time).UTC().Format(time.RFC3339), on, c.Channel, c.Command, c.Text)
	}
	return tw.Flush()
}

func (a *app) subscriberExportCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "export <msisdn>",
		Short: "Everything held about a person, as one JSON document, or with --out as files (JSON and CSV)",
		Long: `export gathers the person's profile (no PIN hash), accounts and balances, consents, the
payments he made and received, the transfers of his accounts, the SMS sent to him and the
money held for him. Without --out it prints the JSON document; with --out it writes
export.json, payments.csv, transfers.csv, messages.csv and consents.csv in that directory
(created 0700, files 0600). Every export is audited with the number masked.`,
		Example: "  mpg subscriber export 0612345678 --out /tmp/alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				x, err := eng.ExportFor(cmd.Context(), a.actor(), msisdn)
				if err != nil {
					return err
				}
				if out == "" {
					return writeJSON(cmd.OutOrStdout(), x)
				}
				return writeExport(cmd, out, x)
			})
		},
	}
	c.Flags().StringVar(&out, "out", "", "directory to write the files in")
	return c
}

func writeExport(cmd *cobra.Command, dir string, x engine.Export) error {
	names, files, err := engine.ExportFiles(x)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), files[n], 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files in %s: %d payments, %d transfers, %d messages, %d consents\n",
		len(names), dir, len(x.Payments), len(x.Transfers), len(x.Messages), len(x.Consents))
	return nil
}

func (a *app) subscriberEraseCmd() *cobra.Command {
	var now bool
	c := &cobra.Command{
		Use:   "erase <msisdn>",
		Short: "Erase a person: purse closed and paid out, offers stopped now; unreadable for good when the retention ends",
		Long: `erase closes the person's purse at once (its balance paid out, as account close --payout
does) and stops his offers. His financial records are kept for privacy.retention_years after
that (the law's retention); then mpg destroys his key: his number and name can never be read
again, in the file, the journal or any backup, while every transfer, balance and the hash
chain still verify. --now erases at once (nothing has to be kept). Every erasure is written
to the erasure log beside the ledger (ledger path + ".erasures") and replayed when the file
is opened, so a restored backup is erased again: keep that log with the ledger, not with its
backups.`,
		Example: "  mpg subscriber erase 0612345678\n  mpg subscriber erase 0612345678 --now",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				er, err := eng.RequestErasure(cmd.Context(), a.actor(), msisdn, now)
				if err != nil {
					return err
				}
				cur := floatCurrency(l, a.cfg.Ledger.Currency)
				paid := domain.FormatAmount(er.Paid, cur)
				if er.Already {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: erasure asked before; erased for good on %s, when the retention ends (nothing done again; --now erases at once)\n",
						domain.Mask(msisdn), er.Due.UTC().Format(time.DateOnly))
					return nil
				}
				if er.Done {
					fmt.Fprintf(cmd.OutOrStdout(), "%s erased (%s paid out): the number and name can no longer be read\n", domain.Mask(msisdn), paid)
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: purse closed (%s paid out), offers stopped; erased for good on %s, when the retention ends\n",
					domain.Mask(msisdn), paid, er.Due.UTC().Format(time.DateOnly))
				return nil
			})
		},
	}
	c.Flags().BoolVar(&now, "now", false, "erase at once instead of when the retention ends")
	return c
}

func (a *app) subscriberSettingsCmd() *cobra.Command {
	var output, receive string
	c := &cobra.Command{
		Use:   "settings <msisdn>",
		Short: "A subscriber's preferences (what SETTINGS texts him); --receive changes where money sent to him lands",
		Long: `settings shows a subscriber's preferences: the language of his replies, offers, where money
sent to him lands (his e-purse, or his linked bank account: RECEIVE BANK) and the bank
account linked. --receive bank|purse changes where it lands, as his RECEIVE would; it is
audited and he is told by SMS. bank needs a linked bank account (mpg account bank link).`,
		Example: "  mpg subscriber settings 0612345678\n  mpg subscriber settings 0612345678 --receive bank -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				prefs, err := eng.Preferences(msisdn)
				if receive != "" && err == nil {
					prefs, err = eng.SetReceive(cmd.Context(), a.actor(), msisdn, receive)
				}
				if err != nil {
					return err
				}
				if output == "json" {
					confirm := "sms"
					if prefs.Voice {
						confirm = "voice"
					}
					return writeJSON(cmd.OutOrStdout(), map[string]any{"language": prefs.Lang.String(), "offers": prefs.Offers,
						"receive": prefs.Receive, "bank_account": prefs.Bank, "confirm_by": confirm,
						"standing_orders": prefs.Orders, "saved_bills": prefs.Bills})
				}
				for _, line := range commands.SettingsLines(commands.EN, prefs) {
					fmt.Fprintln(cmd.OutOrStdout(), line)
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&receive, "receive", "", "where money sent to him lands: bank or purse")
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}
