package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"mpg/config"
	"mpg/domain"
	"mpg/engine"
	"mpg/mail"
)

// The operator's side of merchants' e-mail notices: the address, and the mails themselves
// (sent, waiting for a retry, failed), which an operator may queue again.

func (a *app) merchantEmailCmd() *cobra.Command {
	var off bool
	c := &cobra.Command{
		Use:   "email <merchant> [address]",
		Short: "Send the merchant's payment and refund notices and daily statement to an address (besides SMS and webhooks)",
		Example: `  mpg merchant email SHOP42 owner@shop.example
  mpg merchant email SHOP42 --off`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 2) == off {
				return fmt.Errorf("give an address, or --off to stop the e-mails")
			}
			address := ""
			if !off {
				address = args[1]
			}
			return a.withAccount(args[0], payeeAccount, func(l store, m domain.Account) error {
				if err := a.engine(l).SetMerchantEmail(cmd.Context(), a.actor(), m.ID, address); err != nil {
					return err
				}
				if off {
					fmt.Fprintf(cmd.OutOrStdout(), "e-mail notices of %s stopped\n", m.Owner)
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "e-mail notices of %s go to %s\n", m.Owner, address)
				if !a.cfg.Mail.On() {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning: [mail] server is not set in the config: the notices wait queued until it is and `mpg serve` is restarted")
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&off, "off", false, "stop e-mails to this merchant")
	return c
}

func (a *app) merchantMailCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "mail",
		Short: "List merchants' e-mails (pending, sent, failed) and queue one again",
		Example: `  mpg merchant mail list --state failed
  mpg merchant mail replay ml_0187c3…`,
	}
	var state, after, merchant, output string
	var limit int
	list := &cobra.Command{
		Use:     "list",
		Short:   "List e-mails to merchants, oldest first",
		Example: "  mpg merchant mail list --merchant SHOP42 --state failed",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 10000 {
				return fmt.Errorf("--limit must be 1..10000")
			}
			return a.withLedger(func(l store) error {
				var id uint64
				if merchant != "" {
					m, err := payeeAccount(l, merchant)
					if err != nil {
						return err
					}
					id = m.ID
				}
				ms, err := a.engine(l).Mails(after, state, id, limit)
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), ms)
				}
				return mailTable(cmd, l, ms)
			})
		},
	}
	list.Flags().StringVar(&state, "state", "", "only this state: pending, sent, failed")
	list.Flags().StringVar(&merchant, "merchant", "", "only this merchant's")
	list.Flags().StringVar(&after, "after", "", "only e-mails after this id (the next page)")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")
	list.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	replay := &cobra.Command{
		Use:     "replay <id>",
		Example: "  mpg merchant mail replay ml_0187c3e2a1b4c5d6e7f8091a2b3c4d5e",
		Short:   "Queue an e-mail again now, to the merchant's address as it is now, whatever became of it",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				if err := a.engine(l).ReplayMail(cmd.Context(), a.actor(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s queued again\n", args[0])
				return nil
			})
		},
	}
	c.AddCommand(list, replay)
	return c
}

func mailTable(cmd *cobra.Command, l store, ms []engine.Mail) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tMERCHANT\tKIND\tSTATE\tTRIES\tNEXT\tLAST")
	for _, m := range ms {
		next, last := "-", "-"
		if m.State == engine.MailPending && m.NextAt > 0 {
			next = stamp(m.NextAt)
		}
		if m.LastErr != "" {
			last = m.LastErr
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, stamp(m.Created), ownerOf(l, m.Merchant), m.Kind, m.State, m.Attempts, next, cut(last, 60))
	}
	return tw.Flush()
}

// mailConfig is the [mail] section as the mail room takes it, the relay's password read
// from its file or the environment (never from the config file).
func mailConfig(c config.Mail) (mail.Config, error) {
	password, err := c.MailPassword()
	if err != nil {
		return mail.Config{}, err
	}
	return mail.Config{Host: c.Server, Port: c.Port, From: c.From, Username: c.Username, Password: password, TLSPolicy: c.TLSPolicy,
		Timeout: time.Duration(c.TimeoutS) * time.Second, Workers: c.Workers, Every: time.Duration(c.EveryMs) * time.Millisecond}, nil
}

// startMail runs the mail room, when [mail] server is set, under the lease "mail" (one
// daemon at a time sends, when several share a database).
func (d *daemon) startMail(ctx context.Context, work *sync.WaitGroup) error {
	if !d.cfg.Mail.On() {
		return nil
	}
	mc, err := mailConfig(d.cfg.Mail)
	if err != nil {
		return err
	}
	mc.Metrics = &d.mailMetrics
	work.Add(1)
	go func() {
		defer work.Done()
		d.leases.once(ctx, "mail", func(ctx context.Context) { mail.Run(ctx, mc, d.eng, d.log.Named("mail")) })
	}()
	d.log.Info("e-mail notices", zap.String("server", d.cfg.Mail.Server), zap.Int("port", d.cfg.Mail.Port), zap.String("tls", d.cfg.Mail.TLSPolicy))
	return nil
}

// registerMail adds the mail room's figures to the daemon's metrics.
func (d *daemon) registerMail(reg *prometheus.Registry) {
	m := &d.mailMetrics
	for name, c := range map[string]struct {
		help string
		v    *atomic.Int64
	}{
		"mpg_mail_sent_total":    {"Merchants' e-mails the SMTP relay accepted (250 after DATA).", &m.Sent},
		"mpg_mail_retried_total": {"Attempts the relay refused for now or did not answer: tried again later.", &m.Retried},
		"mpg_mail_failed_total":  {"E-mails the relay refused for good (5xx): failed at once, listed by mpg merchant mail list --state failed.", &m.Failed},
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: c.help}, func() float64 { return float64(c.v.Load()) }))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mpg_mail_queued",
		Help: "Merchants' e-mails waiting to be sent (counted up to 10000)."}, func() float64 {
		n, _ := d.eng.MailQueued()
		return float64(n)
	}))
}
