package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/engine"
)

// Customer care's commands on one subscriber: each goes through the engine (the same rules
// and locks as the subscriber's own SMS), is audited with the operator's identity, and tells
// the subscriber by SMS.

// onSubscriber runs an operator command on one subscriber: the number read as people type
// it, the ledger (the daemon's when it runs) and its engine.
func (a *app) onSubscriber(number string, f func(l store, eng *engine.Engine, msisdn string) error) error {
	msisdn, err := a.msisdn(number)
	if err != nil {
		return err
	}
	return a.withLedger(func(l store) error { return f(l, a.engine(l), msisdn) })
}

func (a *app) accountTierCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tier <msisdn> <tier>",
		Short: "Move a purse to another KYC tier (after checking the subscriber's ID)",
		Long: `tier moves a purse to a tier of engine.tiers: its limits apply from the next payment,
the subscriber is told them by SMS, and money held for them that now fits is claimed.`,
		Example: "  mpg account tier +33612345678 2",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			tier, err := strconv.ParseUint(args[1], 10, 8)
			if err != nil {
				return fmt.Errorf("tier %q: want a number of engine.tiers", args[1])
			}
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				if err := eng.SetTier(cmd.Context(), a.actor(), msisdn, uint8(tier)); err != nil {
					return a.refused(l, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is now tier %d\n", msisdn, tier)
				return nil
			})
		},
	}
}

func (a *app) accountUnlockCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "unlock <msisdn>",
		Short:   "End a PIN lockout (also one that lasts until an operator unlocks)",
		Example: "  mpg account unlock +33612345678",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(_ store, eng *engine.Engine, msisdn string) error {
				if err := eng.Unlock(cmd.Context(), a.actor(), msisdn); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is unlocked\n", msisdn)
				return nil
			})
		},
	}
}

func (a *app) accountResetPINCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reset-pin <msisdn>",
		Short: "Replace a forgotten PIN: the old one stops working, a one-time code goes by SMS",
		Long: `reset-pin makes the subscriber's PIN unusable at once and texts them a one-time code
(valid engine.activation_hours) to set a new one with PIN <code> <new pin>. It ends a lockout.
Needs MPG_PIN_KEY when no daemon runs.`,
		Example: "  mpg account reset-pin +33612345678",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(_ store, eng *engine.Engine, msisdn string) error {
				if err := eng.ResetPIN(cmd.Context(), a.actor(), msisdn); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: PIN reset, one-time code sent by SMS\n", msisdn)
				return nil
			})
		},
	}
}

func (a *app) accountCloseCmd() *cobra.Command {
	var payout bool
	c := &cobra.Command{
		Use:   "close <msisdn>",
		Short: "Close a purse for good; with --payout its balance is paid out (to the float, as cash)",
		Long: `close closes a purse: no money moves in or out afterwards. A purse that still holds money
is refused unless --payout, which pays the balance out (a transfer to the float: the cash
handed over at the counter) in the same step. A purse with a reservation or a payment
waiting for YES is refused until it ends.`,
		Example: "  mpg account close +33612345678 --payout",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				paid, err := eng.ClosePurse(cmd.Context(), a.actor(), msisdn, payout)
				if err != nil {
					return a.refused(l, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is closed; paid out %s\n", msisdn, domain.FormatAmount(paid, floatCurrency(l, a.cfg.Ledger.Currency)))
				return nil
			})
		},
	}
	c.Flags().BoolVar(&payout, "payout", false, "pay the balance out before closing")
	return c
}

// ledgerFindCmd finds a transfer by what a subscriber reads out over the phone.
func (a *app) ledgerFindCmd() *cobra.Command {
	var owner, output string
	c := &cobra.Command{
		Use:   "find <receipt|ref|transfer-id>",
		Short: "Find a transfer by the receipt code, the short Ref of a reply, a merchant reference or its id",
		Long: `find looks a transfer up by what a subscriber reads out: a receipt code (checked with the
receipt key), the 6-character Ref of a reply or a merchant reference (searched in the
history of --owner, a number or a merchant code, newest first), or a 32-hex-digit id.`,
		Example: "  mpg ledger find 3A-K4P92M7X\n  mpg ledger find 7QX2K9 --owner 0612345678",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				o, err := a.ownerArg(owner)
				if err != nil {
					return err
				}
				found, err := a.engine(l).Find(args[0], o)
				if err != nil {
					return err
				}
				if len(found) == 0 {
					return fmt.Errorf("no transfer matches %q", args[0])
				}
				return printFound(cmd, l, output, found)
			})
		},
	}
	c.Flags().StringVar(&owner, "owner", "", "number or merchant code whose history to search")
	c.Flags().StringVar(&a.regionFlag, "region", "", "country of national numbers (default engine.region)")
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}

func printFound(cmd *cobra.Command, l store, output string, found []engine.Found) error {
	if output == "json" {
		return writeJSON(cmd.OutOrStdout(), found)
	}
	var ts []domain.Transfer
	for _, f := range found {
		ts = append(ts, f.Transfer)
	}
	if err := printTransfers(cmd.OutOrStdout(), output, 0, ts); err != nil {
		return err
	}
	for _, f := range found {
		dr, _ := l.Account(f.Transfer.Debit)
		cr, _ := l.Account(f.Transfer.Credit)
		fmt.Fprintf(cmd.OutOrStdout(), "%s: from %s (%s) to %s (%s) at %s, matched by %s, receipt %s\n", f.Transfer.ID,
			dr.Owner, dr.Kind, cr.Owner, cr.Kind, time.Unix(0, f.Transfer.Timestamp).UTC().Format(time.RFC3339), f.How, orDash(f.Receipt))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ownerArg reads --owner: a phone number in any form people type, else a merchant code.
func (a *app) ownerArg(s string) (string, error) {
	if s == "" || strings.HasPrefix(s, "@") {
		return s, nil
	}
	if m, err := a.msisdn(s); err == nil {
		return m, nil
	}
	return strings.ToUpper(s), nil
}

func (a *app) ledgerReverseCmd() *cobra.Command {
	var owner string
	c := &cobra.Command{
		Use:   "reverse <receipt|ref|transfer-id|payment-id>",
		Short: "Reverse a payment by a compensating transfer (never an edit); both sides are told",
		Long: `reverse finds a payment by its id, or by a transfer as find does, and gives back what the
merchant's refunds left of it, from the payee to what paid, in new transfers (the fee stays;
a DEBIT's money goes back by a credit to the bank account). It shows on the payment's record
and in its webhook. Reversing twice is refused as already done. The payer's maximum balance
applies.`,
		Example: "  mpg ledger reverse 3A-K4P92M7X\n  mpg ledger reverse 7QX2K9 --owner +33612345678\n  mpg ledger reverse 18ee2ce79e38d4a82d5bef56285fef6b",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				o, err := a.ownerArg(owner)
				if err != nil {
					return err
				}
				eng := a.engine(l)
				if p, err := eng.GetPayment(0, args[0]); err == nil { // a payment's id
					rev, err := eng.ReversePayment(cmd.Context(), a.actor(), p.ID)
					if err != nil {
						return a.refused(l, err)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "reversed payment %s with transfer %s (%s back to account %d)\n", p.ID, rev.ID,
						domain.FormatAmount(rev.Amount, rev.Currency), rev.Credit)
					return nil
				}
				found, err := eng.Find(args[0], o)
				if err != nil {
					return err
				}
				if len(found) != 1 {
					return fmt.Errorf("%s match %q: name one by its id (mpg ledger find)", plural(len(found), "transfer", "transfers"), args[0])
				}
				rev, err := eng.Reverse(cmd.Context(), a.actor(), found[0].Transfer)
				if err != nil {
					return a.refused(l, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "reversed %s with transfer %s (%s back to account %d)\n", found[0].Transfer.ID, rev.ID,
					domain.FormatAmount(rev.Amount, rev.Currency), rev.Credit)
				return nil
			})
		},
	}
	c.Flags().StringVar(&owner, "owner", "", "number or merchant code whose history to search")
	c.Flags().StringVar(&a.regionFlag, "region", "", "country of national numbers (default engine.region)")
	return c
}

func (a *app) ledgerCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "check <receipt>",
		Short:   "Say whether a receipt code is genuine, and what it proves",
		Example: "  mpg ledger check 3A-K4P92M7X",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				tr, ok, err := a.engine(l).CheckReceipt(args[0])
				if err != nil {
					return err
				}
				if !ok {
					return &exitError{code: 2, msg: "receipt " + args[0] + " is NOT genuine"}
				}
				dr, _ := l.Account(tr.Debit)
				cr, _ := l.Account(tr.Credit)
				fmt.Fprintf(cmd.OutOrStdout(), "receipt %s is genuine: %s from %s to %s at %s (transfer %s)\n", args[0],
					domain.FormatAmount(tr.Amount, tr.Currency), dr.Owner, cr.Owner, time.Unix(0, tr.Timestamp).UTC().Format(time.RFC3339), tr.ID)
				return nil
			})
		},
	}
}

func (a *app) ledgerAuditCmd() *cobra.Command {
	var output string
	var limit int
	var before uint64
	c := &cobra.Command{
		Use:     "audit",
		Short:   "List the audit trail, newest first: who did what (operators by uid, subscribers by number)",
		Example: "  mpg ledger audit --limit 50\n  mpg ledger audit --before 1200 -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 10000 {
				return fmt.Errorf("--limit must be 1..10000")
			}
			return a.withLedger(func(l store) error {
				entries, err := l.AuditLog(limit, before)
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), entries)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tDETAIL")
				for _, e := range entries {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Seq, time.Unix(0, e.Time).UTC().Format(time.RFC3339), e.Actor, e.Action, e.Detail)
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().IntVar(&limit, "limit", 20, "at most this many entries")
	c.Flags().Uint64Var(&before, "before", 0, "only entries older than this journal position")
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}
