package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/engine"
	"mpg/ledger"
)

var merchantCode = regexp.MustCompile(`^[A-Z0-9]{2,20}$`)

// msisdn reads a phone number as an operator types it (+33…, 0033…, 06…, 33…), with the
// region from --region or engine.region, into the one identity the engine uses.
func (a *app) msisdn(s string) (string, error) {
	m, err := domain.ParseMSISDN(s, a.region())
	if err != nil {
		bad := domain.NumberError(s, a.region())
		if bad.CountryCode != 0 { // foreign, written in full: --region would not change it
			return "", bad
		}
		return "", fmt.Errorf("%w; a national number of another country: set --region", bad)
	}
	return m, nil
}

func (a *app) region() string {
	if a.regionFlag != "" {
		return strings.ToUpper(a.regionFlag)
	}
	return a.cfg.Engine.Region
}

// engine is the engine operator commands run through: the daemon's own (same locks as the
// SMS it handles) when the command came over the admin socket, else one on this ledger.
func (a *app) engine(l store) *engine.Engine {
	if a.eng != nil {
		return a.eng
	}
	cfg := engineConfig(a.cfg)
	cfg.Currency = floatCurrency(l, cfg.Currency)
	cfg.Exponent, _ = domain.Exponent(cfg.Currency)
	return engine.NewAdmin(cfg, l)
}

func (a *app) accountCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "account",
		Short: "Subscriber e-purses: open, top up, tier, block, unlock, reset PIN, close",
		Long: `account manages subscribers' e-purses. Every command is audited with the operator's
identity, and the subscriber is told by SMS. Numbers may be typed as +33612345678,
0033612345678, 0612345678 or 33612345678 (national forms use --region, default engine.region).`,
		Example: `  mpg account open 0612345678 --name Alice --tier 1
  mpg account topup +33612345678 25.00
  mpg account tier +33612345678 2
  mpg account unlock +33612345678
  mpg account close +33612345678 --payout`,
	}
	c.PersistentFlags().StringVar(&a.regionFlag, "region", "", "country of national numbers (default engine.region)")
	c.AddCommand(a.accountOpenCmd(), a.accountTopupCmd(), a.accountStatusCmd("block", domain.StatusBlocked),
		a.accountStatusCmd("unblock", domain.StatusActive), a.accountTierCmd(), a.accountUnlockCmd(),
		a.accountResetPINCmd(), a.accountCloseCmd(), a.accountBankCmd(), a.accountConfirmCmd())
	return c
}

// accountBankCmd links, shows and unlinks the bank account DEBIT pays from.
func (a *app) accountBankCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "bank",
		Short: "Link, show or unlink the bank account a subscriber's DEBIT pays from",
		Example: `  mpg account bank link 0612345678 "FR76 3000 6000 0112 3456 7890 189"
  mpg account bank show 0612345678
  mpg account bank unlink 0612345678`,
	}
	link := &cobra.Command{
		Use:     "link <msisdn> <iban>",
		Short:   "Link an IBAN (its check digits and country format checked); the subscriber is told",
		Example: `  mpg account bank link 0612345678 FR7630006000011234567890189`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				code, err := eng.LinkBank(cmd.Context(), a.actor(), msisdn, args[1])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: DEBIT pays from %s\n", msisdn, domain.MaskIBAN(code))
				return nil
			})
		},
	}
	show := &cobra.Command{
		Use:     "show <msisdn>",
		Short:   "The linked bank account, masked",
		Example: "  mpg account bank show 0612345678",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				code, err := eng.LinkedBank(msisdn)
				if err != nil {
					return err
				}
				if code == "" {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: no bank account linked\n", msisdn)
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", msisdn, domain.MaskIBAN(code))
				return nil
			})
		},
	}
	unlink := &cobra.Command{
		Use:     "unlink <msisdn>",
		Short:   "Unlink the bank account: DEBIT stops at once",
		Example: "  mpg account bank unlink 0612345678",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				if _, err := eng.LinkBank(cmd.Context(), a.actor(), msisdn, ""); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: bank account unlinked\n", msisdn)
				return nil
			})
		},
	}
	c.AddCommand(link, show, unlink)
	return c
}

func (a *app) accountOpenCmd() *cobra.Command {
	var name string
	var tier uint8
	c := &cobra.Command{
		Use:   "open <msisdn>",
		Short: "Open an e-purse at the counter; the subscriber gets a one-time code by SMS to set a PIN",
		Long: `open opens an e-purse for a phone number and texts its owner a one-time code (valid
engine.activation_hours) with which they choose their own PIN: PIN <code> <new pin>.
Needs MPG_PIN_KEY when no daemon runs.`,
		Example: "  mpg account open 0612345678 --name Alice --tier 2",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, ok := engineConfig(a.cfg).Tiers[tier]; !ok {
				return fmt.Errorf("--tier %d is not configured (engine.tiers)", tier)
			}
			return a.onSubscriber(args[0], func(_ store, eng *engine.Engine, msisdn string) error {
				acc, err := eng.OpenPurse(cmd.Context(), a.actor(), msisdn, name, tier)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "opened purse %d for %s (%s, tier %d); the one-time code to set a PIN went by SMS\n", acc.ID, msisdn, acc.Currency, tier)
				return nil
			})
		},
	}
	c.Flags().StringVar(&name, "name", "", "registered name, shown to payers")
	c.Flags().Uint8Var(&tier, "tier", 1, "KYC tier (engine.tiers)")
	return c
}

// floatCurrency is the currency of the ledger's float account, the natural default.
func floatCurrency(l store, fallback string) string {
	if _, err := l.System(domain.KindFloat, fallback); err == nil {
		return fallback
	}
	if fs := l.Accounts(ledger.Filter{Kind: domain.KindFloat, Limit: 1}); len(fs) > 0 {
		return fs[0].Currency
	}
	return fallback
}

func (a *app) accountTopupCmd() *cobra.Command {
	var ref string
	c := &cobra.Command{
		Use:     "topup <msisdn> <amount>",
		Short:   "Credit a purse from the float account (cash-in); the tier's maximum balance applies",
		Example: "  mpg account topup +33612345678 25.00 --ref AGENT7-0042",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				purse, err := findKind(l, msisdn, domain.KindPurse)
				if err != nil {
					return err
				}
				amount, err := domain.ParseAmountIn(args[1], purse.Currency)
				if err != nil {
					return err
				}
				tr, err := eng.Topup(cmd.Context(), a.actor(), msisdn, amount, ref)
				if err != nil {
					return refusalError(err, purse.Currency)
				}
				after, _ := l.Account(purse.ID)
				fmt.Fprintf(cmd.OutOrStdout(), "topped up %s with %s: balance %s (transfer %s)\n", msisdn,
					domain.FormatAmount(amount, purse.Currency), formatSigned(after.Available(), after.Currency), tr.ID)
				return nil
			})
		},
	}
	c.Flags().StringVar(&ref, "ref", "", "reference kept with the transfer (agent, receipt number)")
	return c
}

// refusalError words a ledger refusal for an operator: which rule, and what would fit, in
// the currency's units (never minor units).
// refused is refusalError in the currency of the ledger at hand.
func (a *app) refused(l store, err error) error {
	return refusalError(err, floatCurrency(l, a.cfg.Ledger.Currency))
}

func refusalError(err error, currency string) error {
	var ref *domain.RefusedError
	if !errors.As(err, &ref) {
		return err
	}
	switch ref.Reason {
	case domain.ErrLimitBalance:
		return fmt.Errorf("refused: the purse's tier allows at most %s more (maximum balance); raise its tier with `mpg account tier`",
			domain.FormatAmountGrouped(ref.Room, currency))
	case domain.ErrLimitPerPayment:
		return fmt.Errorf("refused: %v (at most %s a payment)", ref.Reason, domain.FormatAmountGrouped(ref.Room, currency))
	case domain.ErrLimitDaily:
		return fmt.Errorf("refused: %v (at most %s more within 24 hours)", ref.Reason, domain.FormatAmountGrouped(ref.Room, currency))
	}
	return fmt.Errorf("refused: %w", err)
}

func findKind(l store, owner string, kinds ...domain.Kind) (domain.Account, error) {
	for _, acc := range l.AccountsOf(owner) {
		for _, k := range kinds {
			if acc.Kind == k {
				return acc, nil
			}
		}
	}
	return domain.Account{}, fmt.Errorf("no %s account for %s", kinds[0], owner)
}

func (a *app) accountStatusCmd(verb string, to domain.Status) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " <msisdn>",
		Short:   map[string]string{"block": "Block a purse: no payments out until unblocked", "unblock": "Unblock a blocked purse"}[verb],
		Example: "  mpg account " + verb + " +33612345678",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			msisdn, err := a.msisdn(args[0])
			if err != nil {
				return err
			}
			return a.withLedger(func(l store) error {
				if _, err := findKind(l, msisdn, domain.KindPurse); err != nil {
					return err
				}
				err := a.engine(l).SetPurseStatus(cmd.Context(), a.actor(), msisdn, to)
				if errors.Is(err, engine.ErrSameStatus) {
					fmt.Fprintf(cmd.OutOrStdout(), "%s is already %s\n", msisdn, to)
					return nil
				}
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
		Short: "Add and list merchants and billers; their API keys, webhook endpoint and e-mail notices",
		Example: `  mpg merchant add SHOP42 --name "Corner Shop" --msisdn +33698765432
  mpg merchant add EDF --name "EDF" --biller
  mpg merchant list
  mpg merchant key create SHOP42
  mpg merchant webhook SHOP42 --url https://shop.example/mpg-hook
  mpg merchant email SHOP42 owner@shop.example
  mpg merchant iban SHOP42 FR7630006000011234567890189 --bic AGRIFRPP`,
	}
	c.AddCommand(a.merchantAddCmd(), a.merchantListCmd(), a.merchantKeyCmd(), a.merchantWebhookCmd(), a.merchantEmailCmd(), a.merchantMailCmd(), a.merchantIBANCmd())
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
				if msisdn, err = a.msisdn(msisdn); err != nil {
					return err
				}
			}
			kind := domain.KindMerchant
			if biller {
				kind = domain.KindBiller
			}
			return a.withLedger(func(l store) error {
				if currency == "" {
					currency = floatCurrency(l, a.cfg.Ledger.Currency)
				}
				for _, other := range l.AccountsOf(code) {
					if other.Kind == domain.KindMerchant || other.Kind == domain.KindBiller {
						return fmt.Errorf("%s is already a %s (account %d)", code, other.Kind, other.ID)
					}
				}
				res, err := l.Submit(cmd.Context(), domain.Job{
					Open:  []domain.AccountSpec{{Currency: currency, Kind: kind, Owner: code, Name: name, Phone: msisdn}},
					Audit: &domain.Audit{Actor: a.actor(), Action: "merchant add", Detail: code},
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
			return a.withLedger(func(l store) error {
				accs := append(l.Accounts(ledger.Filter{Kind: domain.KindMerchant}), l.Accounts(ledger.Filter{Kind: domain.KindBiller})...)
				return printAccounts(cmd.OutOrStdout(), output, accs)
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}
