package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"mpg/domain"
)

// The operator's view of the replies: what is queued, waiting for a retry, unknown or
// failed, and why; a resend for the one a subscriber says never came.

func (a *app) outboxCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "outbox",
		Short: "List, show, count and resend the replies in the outbox",
		Example: `  mpg outbox count
  mpg outbox list --state unknown
  mpg outbox show 1042
  mpg outbox resend 1042`,
	}
	c.AddCommand(a.outboxListCmd(), a.outboxShowCmd(), a.outboxCountCmd(), a.outboxResendCmd())
	return c
}

func (a *app) outboxListCmd() *cobra.Command {
	var state, output string
	var limit int
	var before uint64
	c := &cobra.Command{
		Use:     "list",
		Short:   "List replies newest first, optionally in one state",
		Example: "  mpg outbox list --state failed --limit 50\n  mpg outbox list --before 1200 -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 10000 {
				return fmt.Errorf("--limit must be 1..10000")
			}
			var st domain.MessageStatus
			if state != "" {
				var err error
				if st, err = domain.ParseMessageStatus(state); err != nil {
					return err
				}
			}
			return a.withLedger(func(l store) error {
				msgs, err := l.Messages(limit, before, st)
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), msgs)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCREATED\tTO\tSTATE\tTRIES\tNEXT\tREASON")
				for _, m := range msgs {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, stamp(m.Created), m.To, m.Status, m.Attempts, nextTry(m), cut(m.Reason, 60))
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().StringVar(&state, "state", "", "only this state: queued, sent, delivered, undeliverable, failed, unknown")
	c.Flags().IntVar(&limit, "limit", 20, "at most this many messages")
	c.Flags().Uint64Var(&before, "before", 0, "only messages with a smaller id (the next page)")
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}

func (a *app) outboxShowCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "show <id>",
		Short:   "Show one reply: text, state, attempts, SMSC ids and the last reason",
		Example: "  mpg outbox show 1042",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("message id: %q is not a number", args[0])
			}
			return a.withLedger(func(l store) error {
				m, err := l.Message(id)
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), m)
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "id:        %d\nto:        %s\nfrom:      %s\ncreated:   %s\nstate:     %s\nurgent:    %v\nattempts:  %d (unanswered %d)\nnext try:  %s\nsmsc ids:  %s\nreason:    %s\ntext:      %s\n",
					m.ID, m.To, m.From, stamp(m.Created), m.Status, m.Urgent, m.Attempts, m.Unknowns, nextTry(m), m.SMSCID, m.Reason, m.Text)
				return nil
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "output: text or json")
	return c
}

func (a *app) outboxCountCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "count",
		Short:   "Count the replies kept in the outbox by state",
		Example: "  mpg outbox count -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withLedger(func(l store) error {
				counts, err := l.MessageCounts()
				if err != nil {
					return err
				}
				byName := map[string]int{}
				for s := domain.MsgQueued; s <= domain.MsgUnknown; s++ {
					byName[s.String()] = counts[s]
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), byName)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STATE\tMESSAGES")
				for s := domain.MsgQueued; s <= domain.MsgUnknown; s++ {
					fmt.Fprintf(tw, "%s\t%d\n", s, counts[s])
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}

func (a *app) outboxResendCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "resend <id>",
		Short: "Queue a copy of a reply that failed, is unknown or never came (audited)",
		Long: `resend queues a copy of the message as a new one, with its own validity, and records who
asked in the audit trail. A message still queued is refused: it goes out on its own.`,
		Example: "  mpg outbox resend 1042",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("message id: %q is not a number", args[0])
			}
			return a.withLedger(func(l store) error {
				nid, err := l.Resend(cmd.Context(), id, a.actor())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "message %d queued again as %d\n", id, nid)
				return nil
			})
		},
	}
}

func stamp(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339) }

func nextTry(m domain.Message) string {
	switch {
	case m.Status == domain.MsgUnknown && m.NextAt == 0:
		return "none left"
	case m.Status.Final():
		return "-"
	case m.NextAt == 0:
		return "now"
	}
	return stamp(m.NextAt)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
