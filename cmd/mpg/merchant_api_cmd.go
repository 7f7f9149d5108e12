package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/engine"
)

// The operator's side of the merchant API: keys, the webhook endpoint, deliveries and
// payments. Like every admin command they go through the daemon's socket when it runs.

// withAccount runs f on the ledger (the daemon's when it runs) with the account find
// finds by code.
func (a *app) withAccount(code string, find func(store, string) (domain.Account, error), f func(store, domain.Account) error) error {
	return a.withLedger(func(l store) error {
		acc, err := find(l, code)
		if err != nil {
			return err
		}
		return f(l, acc)
	})
}

// merchantAccount finds a merchant by its code.
func merchantAccount(l store, code string) (domain.Account, error) {
	for _, a := range l.AccountsOf(strings.ToUpper(code)) {
		if a.Kind == domain.KindMerchant {
			return a, nil
		}
	}
	return domain.Account{}, fmt.Errorf("no merchant %s (mpg merchant list)", strings.ToUpper(code))
}

// payeeAccount finds whose payments are meant: a merchant or a biller by its code.
func payeeAccount(l store, code string) (domain.Account, error) {
	for _, a := range l.AccountsOf(strings.ToUpper(code)) {
		if a.Kind == domain.KindMerchant || a.Kind == domain.KindBiller {
			return a, nil
		}
	}
	return domain.Account{}, fmt.Errorf("no merchant or biller %s (mpg merchant list)", strings.ToUpper(code))
}

// keyAccount finds the merchant or company whose API keys are meant.
func keyAccount(l store, code string) (domain.Account, error) {
	if co, err := companyAccount(l, code); err == nil {
		return co, nil
	}
	return merchantAccount(l, code)
}

// warnAPIOff tells the operator who made an API key that it is of no use yet when the
// merchant API is off in the config.
func (a *app) warnAPIOff(cmd *cobra.Command) {
	if a.cfg.Merchant.Addr == "" {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning: the merchant API is off ([merchant] addr is not set in the config): "+
			"the key works once it is set and `mpg serve` is restarted")
	}
}

func (a *app) merchantKeyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "key",
		Short: "Make, list and revoke a merchant's API keys",
		Example: `  mpg merchant key create SHOP42
  mpg merchant key list SHOP42
  mpg merchant key revoke SHOP42 3f9a0c21`,
	}
	create := &cobra.Command{
		Use:     "create <merchant>",
		Example: "  mpg merchant key create SHOP42",
		Short:   "Make an API key; it is shown once and kept only as a hash",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccount(args[0], keyAccount, func(l store, m domain.Account) error {
				key, info, err := a.engine(l).CreateAPIKey(cmd.Context(), a.actor(), m.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\nkey id %s for %s: give it to the merchant now, it is not shown again\n", key, info.ID, m.Owner)
				a.warnAPIOff(cmd)
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:     "list <merchant>",
		Short:   "List a merchant's keys (ids, never the keys)",
		Example: "  mpg merchant key list SHOP42",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccount(args[0], keyAccount, func(l store, m domain.Account) error {
				keys, err := a.engine(l).APIKeys(m.ID)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCREATED\tREVOKED")
				for _, k := range keys {
					revoked := "-"
					if k.Revoked != 0 {
						revoked = stamp(k.Revoked)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", k.ID, stamp(k.Created), revoked)
				}
				return tw.Flush()
			})
		},
	}
	revoke := &cobra.Command{
		Use:     "revoke <merchant> <key id>",
		Example: "  mpg merchant key revoke SHOP42 3f9a0c21",
		Short:   "Revoke a key: it stops at once",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccount(args[0], keyAccount, func(l store, m domain.Account) error {
				if err := a.engine(l).RevokeAPIKey(cmd.Context(), a.actor(), m.ID, args[1]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "key %s of %s revoked\n", args[1], m.Owner)
				return nil
			})
		},
	}
	c.AddCommand(create, list, revoke)
	return c
}

func (a *app) merchantWebhookCmd() *cobra.Command {
	var endpoint string
	var rotate, off bool
	c := &cobra.Command{
		Use:   "webhook <merchant>",
		Short: "Set the merchant's webhook endpoint (turning it on again) and print its signing secret",
		Example: `  mpg merchant webhook SHOP42 --url https://shop.example/mpg-hook
  mpg merchant webhook SHOP42 --url https://shop.example/mpg-hook --rotate
  mpg merchant webhook SHOP42 --off`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (endpoint == "") == !off {
				return fmt.Errorf("give --url, or --off to stop webhooks")
			}
			return a.withAccount(args[0], merchantAccount, func(l store, m domain.Account) error {
				secret, err := a.engine(l).SetWebhook(cmd.Context(), a.actor(), m.ID, endpoint, rotate)
				if err != nil {
					return err
				}
				if off {
					fmt.Fprintf(cmd.OutOrStdout(), "webhooks of %s stopped\n", m.Owner)
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "webhooks of %s go to %s\nsigning secret: %s\n", m.Owner, endpoint, secret)
				return nil
			})
		},
	}
	c.Flags().StringVar(&endpoint, "url", "", "the endpoint (http or https)")
	c.Flags().BoolVar(&rotate, "rotate", false, "change the signing secret")
	c.Flags().BoolVar(&off, "off", false, "stop webhooks for this merchant")
	return c
}

func (a *app) webhookCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "webhook",
		Short: "List, show and replay webhook deliveries to merchants",
		Example: `  mpg webhook list --state failed
  mpg webhook show msg_0187c3…
  mpg webhook replay msg_0187c3…`,
	}
	var state, after, output string
	var limit int
	list := &cobra.Command{
		Use:     "list",
		Short:   "List deliveries, oldest first",
		Example: "  mpg webhook list --state failed -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 10000 {
				return fmt.Errorf("--limit must be 1..10000")
			}
			return a.withLedger(func(l store) error {
				ds, err := a.engine(l).Deliveries(after, state, limit)
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), ds)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCREATED\tMERCHANT\tTYPE\tSTATE\tTRIES\tNEXT\tLAST")
				for _, d := range ds {
					next := "-"
					if d.State == engine.DeliveryPending && d.NextAt > 0 {
						next = stamp(d.NextAt)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, stamp(d.Created), ownerOf(l, d.Merchant), d.Type, d.State, d.Attempts, next, cut(lastAttempt(d), 50))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&state, "state", "", "only this state: pending, delivered, failed, disabled")
	list.Flags().StringVar(&after, "after", "", "only deliveries after this id (the next page)")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")
	list.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	show := &cobra.Command{
		Use:     "show <id>",
		Short:   "Show one delivery with its body",
		Example: "  mpg webhook show msg_0187c3e2a1b4c5d6e7f8091a2b3c4d5e",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				d, _, err := a.engine(l).Delivery(args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "id:        %s\nmerchant:  %s\ntype:      %s\npayment:   %s\ncreated:   %s\nstate:     %s\nattempts:  %d\nlast:      %s\nbody:      %s\n",
					d.ID, ownerOf(l, d.Merchant), d.Type, d.Payment, stamp(d.Created), d.State, d.Attempts, lastAttempt(d), d.Body)
				return nil
			})
		},
	}
	replay := &cobra.Command{
		Use:     "replay <id>",
		Example: "  mpg webhook replay msg_0187c3e2a1b4c5d6e7f8091a2b3c4d5e",
		Short:   "Queue a delivery again now (same id and body), whatever became of it",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				if err := a.engine(l).ReplayWebhook(cmd.Context(), a.actor(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s queued again\n", args[0])
				return nil
			})
		},
	}
	c.AddCommand(list, show, replay)
	return c
}

// ownerOf names an account by its owner (a merchant's code), or by its id if it has none.
func ownerOf(l store, id uint64) string {
	if a, err := l.Account(id); err == nil && a.Owner != "" {
		return a.Owner
	}
	return fmt.Sprint(id)
}

func lastAttempt(d engine.Delivery) string {
	switch {
	case d.LastError != "":
		return d.LastError
	case d.LastStatus != 0:
		return fmt.Sprintf("HTTP %d", d.LastStatus)
	}
	return "-"
}

func (a *app) paymentCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "payment",
		Short: "List and show the payments merchants and billers received, whatever their channel",
		Example: `  mpg payment list SHOP42 --from 2026-12-01T00:00:00Z
  mpg payment show 0187c3…`,
	}
	var from, to, reference, output string
	var limit int
	list := &cobra.Command{
		Use:     "list <merchant>",
		Short:   "A merchant's or biller's payments (texted, requested, checkouts, DEBIT, CREDIT), oldest first",
		Example: "  mpg payment list SHOP42 --from 2026-12-01T00:00:00Z --reference order-1234",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var f engine.PaymentFilter
			for _, x := range []struct {
				s   string
				dst *int64
			}{{from, &f.From}, {to, &f.To}} {
				if x.s != "" {
					t, err := time.Parse(time.RFC3339, x.s)
					if err != nil {
						return fmt.Errorf("--from/--to: an RFC 3339 time like 2026-12-01T00:00:00Z")
					}
					*x.dst = t.UnixNano()
				}
			}
			f.Reference, f.Limit = reference, limit
			return a.withAccount(args[0], payeeAccount, func(l store, m domain.Account) error {
				eng := a.engine(l)
				ps, next, err := eng.ListPayments(m.ID, f)
				if err != nil {
					return err
				}
				views := make([]engine.PaymentView, len(ps))
				for i, p := range ps {
					views[i] = eng.View(p)
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), views)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCREATED\tCHANNEL\tSTATE\tAMOUNT\tREFUNDED\tREFERENCE")
				for _, v := range views {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\t%s\n", v.ID, v.Created, v.Channel, v.State, v.Amount, v.Currency, v.Refunded, v.Reference)
				}
				if next != "" {
					fmt.Fprintf(tw, "more: --after %s\n", next)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&from, "from", "", "created at or after (RFC 3339)")
	list.Flags().StringVar(&to, "to", "", "created at or before (RFC 3339)")
	list.Flags().StringVar(&reference, "reference", "", "only this merchant reference")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many (1..1000)")
	list.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	show := &cobra.Command{
		Use:     "show <id>",
		Short:   "One payment, as its merchant sees it",
		Example: "  mpg payment show 0187c3e2a1b4c5d6e7f8091a2b3c4d5e",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				eng := a.engine(l)
				p, err := eng.GetPayment(0, args[0])
				if err != nil {
					return err
				}
				return writeJSON(cmd.OutOrStdout(), eng.View(p))
			})
		},
	}
	c.AddCommand(list, show)
	return c
}
