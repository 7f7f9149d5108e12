package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"mpg/ledger"
)

var (
	e164         = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	merchantCode = regexp.MustCompile(`^[A-Z0-9]{2,20}$`)
)

// checkMSISDN accepts an international number (+ and 8 to 15 digits).
func checkMSISDN(s string) (string, error) {
	s = strings.ReplaceAll(s, " ", "")
	if !e164.MatchString(s) {
		return "", fmt.Errorf("phone number %q: want international form like +33612345678", s)
	}
	return s, nil
}

func (a *app) accountCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "account",
		Short: "Open, top up, block and unblock subscriber e-purses",
		Example: `  mpg account open +33612345678 --name Alice --tier 1
  mpg account topup +33612345678 25.00
  mpg account block +33612345678`,
	}
	c.AddCommand(a.accountOpenCmd(), a.accountTopupCmd(), a.accountStatusCmd("block", ledger.StatusBlocked),
		a.accountStatusCmd("unblock", ledger.StatusActive))
	return c
}

func (a *app) accountOpenCmd() *cobra.Command {
	var name, currency string
	var tier uint8
	c := &cobra.Command{
		Use:     "open <msisdn>",
		Short:   "Open an e-purse for a phone number",
		Example: "  mpg account open +33612345678 --name Alice --tier 2 --currency EUR",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			msisdn, err := checkMSISDN(args[0])
			if err != nil {
				return err
			}
			if tier < 1 || tier > 3 {
				return fmt.Errorf("--tier must be 1, 2 or 3")
			}
			return a.withLedger(func(l *ledger.Ledger) error {
				if currency == "" {
					currency = floatCurrency(l, a.cfg.Ledger.Currency)
				}
				res, err := l.Submit(cmd.Context(), ledger.Job{
					Open:  []ledger.AccountSpec{{Currency: currency, Kind: ledger.KindPurse, Owner: msisdn, Name: name, Tier: tier}},
					Audit: &ledger.Audit{Actor: actor(), Action: "account open", Detail: msisdn},
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "opened purse %d for %s (%s, tier %d)\n", res.Accounts[0].ID, msisdn, currency, tier)
				return nil
			})
		},
	}
	c.Flags().StringVar(&name, "name", "", "registered name, shown to payers")
	c.Flags().Uint8Var(&tier, "tier", 1, "KYC tier 1 (lowest), 2 or 3")
	c.Flags().StringVar(&currency, "currency", "", "purse currency (default: the float's)")
	return c
}

// floatCurrency is the currency of the ledger's float account, the natural default.
func floatCurrency(l *ledger.Ledger, fallback string) string {
	if fs := l.AccountsOf(ownerFloat); len(fs) > 0 {
		return fs[0].Currency
	}
	return fallback
}

func (a *app) accountTopupCmd() *cobra.Command {
	var ref string
	c := &cobra.Command{
		Use:     "topup <msisdn> <amount>",
		Short:   "Credit a purse from the float account (cash-in)",
		Example: "  mpg account topup +33612345678 25.00 --ref AGENT7-0042",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			msisdn, err := checkMSISDN(args[0])
			if err != nil {
				return err
			}
			return a.withLedger(func(l *ledger.Ledger) error {
				purse, err := findKind(l, msisdn, ledger.KindPurse)
				if err != nil {
					return err
				}
				amount, err := ledger.ParseAmount(args[1], purse.Currency)
				if err != nil {
					return err
				}
				var float *ledger.Account
				for _, f := range l.AccountsOf(ownerFloat) {
					if f.Currency == purse.Currency {
						float = &f
					}
				}
				if float == nil {
					return fmt.Errorf("no float account in %s (run `mpg ledger init --currency %s` on a new file)", purse.Currency, purse.Currency)
				}
				res, err := l.Submit(cmd.Context(), ledger.Job{
					Transfers: []ledger.Transfer{{ID: ledger.NewID(), Debit: float.ID, Credit: purse.ID, Amount: amount, Code: CodeTopup, Ref: ref}},
					Audit:     &ledger.Audit{Actor: actor(), Action: "account topup", Detail: msisdn + " " + ledger.FormatAmount(amount, purse.Currency)},
				})
				if err != nil {
					return err
				}
				after, _ := l.Account(purse.ID)
				fmt.Fprintf(cmd.OutOrStdout(), "topped up %s with %s: balance %s (transfer %s)\n", msisdn,
					ledger.FormatAmount(amount, purse.Currency), formatSigned(after.Available(), after.Currency), res.Transfers[0].ID)
				return nil
			})
		},
	}
	c.Flags().StringVar(&ref, "ref", "", "reference kept with the transfer (agent, receipt number)")
	return c
}

// Transfer codes the CLI writes; the engine defines the rest.
const CodeTopup uint16 = 1

func findKind(l *ledger.Ledger, owner string, kinds ...ledger.Kind) (ledger.Account, error) {
	for _, acc := range l.AccountsOf(owner) {
		for _, k := range kinds {
			if acc.Kind == k {
				return acc, nil
			}
		}
	}
	return ledger.Account{}, fmt.Errorf("no %s account for %s", kinds[0], owner)
}

func (a *app) accountStatusCmd(verb string, to ledger.Status) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " <msisdn>",
		Short:   map[string]string{"block": "Block a purse: no payments out until unblocked", "unblock": "Unblock a blocked purse"}[verb],
		Example: "  mpg account " + verb + " +33612345678",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			msisdn, err := checkMSISDN(args[0])
			if err != nil {
				return err
			}
			return a.withLedger(func(l *ledger.Ledger) error {
				purse, err := findKind(l, msisdn, ledger.KindPurse)
				if err != nil {
					return err
				}
				if purse.Status == to {
					fmt.Fprintf(cmd.OutOrStdout(), "%s is already %s\n", msisdn, to)
					return nil
				}
				_, err = l.Submit(cmd.Context(), ledger.Job{
					Status: []ledger.StatusChange{{Account: purse.ID, Status: to}},
					Audit:  &ledger.Audit{Actor: actor(), Action: "account " + verb, Detail: msisdn},
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is now %s\n", msisdn, to)
				return nil
			})
		},
	}
}

func (a *app) merchantCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "merchant",
		Short: "Add and list merchants and billers",
		Example: `  mpg merchant add SHOP42 --name "Corner Shop" --msisdn +33698765432
  mpg merchant add EDF --name "EDF" --biller
  mpg merchant list`,
	}
	c.AddCommand(a.merchantAddCmd(), a.merchantListCmd())
	return c
}

func (a *app) merchantAddCmd() *cobra.Command {
	var name, msisdn, currency string
	var biller bool
	c := &cobra.Command{
		Use:     "add <code>",
		Short:   "Add a merchant (or, with --biller, a biller) that subscribers can pay",
		Example: `  mpg merchant add SHOP42 --name "Corner Shop" --msisdn +33698765432`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code := strings.ToUpper(args[0])
			if !merchantCode.MatchString(code) {
				return fmt.Errorf("merchant code %q: want 2 to 20 letters and digits", args[0])
			}
			if name == "" {
				return fmt.Errorf("--name is required: subscribers see it in their receipts")
			}
			if msisdn != "" {
				var err error
				if msisdn, err = checkMSISDN(msisdn); err != nil {
					return err
				}
			}
			kind := ledger.KindMerchant
			if biller {
				kind = ledger.KindBiller
			}
			return a.withLedger(func(l *ledger.Ledger) error {
				if currency == "" {
					currency = floatCurrency(l, a.cfg.Ledger.Currency)
				}
				for _, other := range l.AccountsOf(code) {
					if other.Kind == ledger.KindMerchant || other.Kind == ledger.KindBiller {
						return fmt.Errorf("%s is already a %s (account %d)", code, other.Kind, other.ID)
					}
				}
				res, err := l.Submit(cmd.Context(), ledger.Job{
					Open:  []ledger.AccountSpec{{Currency: currency, Kind: kind, Owner: code, Name: name, Phone: msisdn}},
					Audit: &ledger.Audit{Actor: actor(), Action: "merchant add", Detail: code},
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added %s %s (%s), account %d\n", kind, code, name, res.Accounts[0].ID)
				return nil
			})
		},
	}
	c.Flags().StringVar(&name, "name", "", "name shown to subscribers (required)")
	c.Flags().StringVar(&msisdn, "msisdn", "", "number told by SMS of each payment")
	c.Flags().StringVar(&currency, "currency", "", "currency (default: the float's)")
	c.Flags().BoolVar(&biller, "biller", false, "a biller (paid with BILL) rather than a merchant (PAY)")
	return c
}

func (a *app) merchantListCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "list",
		Short:   "List merchants and billers",
		Example: "  mpg merchant list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withLedger(func(l *ledger.Ledger) error {
				accs := append(l.Accounts(ledger.Filter{Kind: ledger.KindMerchant}), l.Accounts(ledger.Filter{Kind: ledger.KindBiller})...)
				return printAccounts(cmd.OutOrStdout(), output, accs)
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}
