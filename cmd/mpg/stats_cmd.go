package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/engine"
	"mpg/stats"
)

// Statistics for operators: the roll-ups of a period beside the previous equal period, the
// payers, the follower's lag; and a rebuild from the journal.

// statsCatchUpPasses bounds the passes a CLI without a daemon runs before it answers.
const statsCatchUpPasses = 10000

type statsFlags struct {
	from, to, by, merchant, product, channel, output string
}

func (a *app) statsCmd() *cobra.Command {
	var f statsFlags
	c := &cobra.Command{
		Use:   "stats",
		Short: "Payments' figures of a period beside the previous one: payments, amounts, refusals, payers",
		Long: `stats shows what the statistics follower counted from the journal: for each day (or hour,
product, channel, merchant, or one total) the payments, the amount, the fees, the refunds and
the refusals by reason, each with its change against the previous period of the same length,
then the payers (new ones, active on the last day and in its month) and how many journal
entries the follower had still to read. --from and --to are days in engine.time_zone, both
included (default: the last 7 days, today included). Without a daemon, the follower first
catches up with the journal.`,
		Example: `  mpg stats
  mpg stats --from 2026-12-01 --to 2026-12-05 --by merchant
  mpg stats --by hour --from 2026-12-05 --to 2026-12-05 --merchant SHOP42
  mpg stats --by channel --product pay -o csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error { return a.showStats(cmd, l, f) })
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.from, "from", "", "first day, YYYY-MM-DD (default 6 days before --to)")
	fl.StringVar(&f.to, "to", "", "last day, YYYY-MM-DD (default today)")
	fl.StringVar(&f.by, "by", stats.ByDay, "rows by day, hour, product, channel, merchant or total")
	fl.StringVar(&f.merchant, "merchant", "", "one merchant's figures (its code)")
	fl.StringVar(&f.product, "product", "", "one product: pay, bill, send, topup, debit, credit, repay")
	fl.StringVar(&f.channel, "channel", "", "one channel: sms, ussd, web, api...")
	fl.StringVarP(&f.output, "output", "o", "table", "output: table, json or csv")
	c.AddCommand(a.statsRebuildCmd())
	return c
}

func (a *app) statsRebuildCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rebuild",
		Short: "Delete every statistic and count them again from the journal",
		Long: `rebuild deletes the roll-ups, the payers' records and counts, and sets the follower back to
the journal's first entry: the figures are then counted again from every fact. Without a
daemon, rebuild counts them again itself; with one, its follower does (see the lag in mpg stats).`,
		Example: `  mpg stats rebuild`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error { return a.rebuildStats(cmd, l) })
		},
	}
}

func (a *app) rebuildStats(cmd *cobra.Command, l store) error {
	out, eng := cmd.OutOrStdout(), a.engine(l)
	err := eng.RebuildStatistics(cmd.Context(), a.actor(), func(done int) {
		fmt.Fprintf(out, "deleted %d records\n", done)
	})
	if err != nil {
		return err
	}
	if a.eng != nil {
		fmt.Fprintln(out, "statistics rebuilt: the daemon's follower counts them again from the journal")
		return nil
	}
	if err := eng.CatchUpStatistics(cmd.Context(), statsCatchUpPasses); err != nil {
		return err
	}
	fmt.Fprintf(out, "statistics rebuilt: %d journal entries counted again\n", headOf(l))
	return nil
}

func headOf(l store) uint64 {
	seq, _, _ := l.Head()
	return seq
}

func (a *app) showStats(cmd *cobra.Command, l store, f statsFlags) error {
	eng := a.engine(l)
	q, err := f.query(l, eng)
	if err != nil {
		return err
	}
	if a.eng == nil {
		if err := eng.CatchUpStatistics(cmd.Context(), statsCatchUpPasses); err != nil {
			return err
		}
	}
	ans, err := eng.Statistics(q)
	if err != nil {
		return err
	}
	names := merchantNames(l)
	for i := range ans.Rows {
		ans.Rows[i].Label = names.label(q.By, ans.Rows[i].Label)
	}
	cur := floatCurrency(l, a.cfg.Ledger.Currency)
	return writeStats(cmd.OutOrStdout(), f.output, ans, cur)
}

// query reads the flags into a query, days in the engine's zone.
func (f statsFlags) query(l store, eng *engine.Engine) (stats.Query, error) {
	q := stats.Query{By: f.by, Product: f.product, Channel: f.channel}
	var err error
	if q.From, q.To, err = eng.StatsDays(f.from, f.to); err != nil {
		return q, err
	}
	if f.merchant != "" {
		m, err := l.Find(strings.ToUpper(f.merchant))
		if err != nil || m.Kind != domain.KindMerchant && m.Kind != domain.KindBiller {
			return q, fmt.Errorf("no merchant %s", f.merchant)
		}
		q.Merchant = m.ID
	}
	if err := q.Check(); err != nil {
		return q, fmt.Errorf("%v (--from, --to, --by)", err)
	}
	return q, nil
}

// accountNames names the merchants of the rows by their codes.
type accountNames func(id uint64) string

// merchantNames names an account id by its code and name; 0 is "people" (money between
// people is counted without naming them).
func merchantNames(l store) accountNames {
	return func(id uint64) string {
		if id == 0 {
			return "people"
		}
		a, err := l.Account(id)
		if err != nil {
			return strconv.FormatUint(id, 10)
		}
		if a.Name != "" && a.Name != a.Owner {
			return a.Owner + " " + a.Name
		}
		return a.Owner
	}
}

// label is a row's label for people: merchants by code, "none" for facts that name no
// product or channel (a wrong PIN is counted before the command is known).
func (n accountNames) label(by, label string) string {
	if by != stats.ByMerchant {
		return cmp.Or(label, "none")
	}
	id, err := strconv.ParseUint(label, 10, 64)
	if err != nil {
		return label
	}
	return n(id)
}

// writeStats writes an answer as a table with the payers and the lag under it, as the
// readable JSON, or as CSV.
func writeStats(w io.Writer, output string, ans engine.StatsAnswer, cur string) error {
	money := func(m uint64) string { return domain.FormatMinor(m, exponentOf(cur)) }
	switch output {
	case "json":
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(struct {
			stats.ReadableReport
			Currency string        `json:"currency"`
			Payers   engine.Payers `json:"payers"`
			Lag      int64         `json:"lag_entries"`
		}{stats.Readable(ans.Report, money), cur, ans.Payers, ans.Lag})
	case "csv":
		return stats.WriteCSV(w, ans.Rows)
	case "table":
	default:
		return fmt.Errorf("-o %q: table, json or csv", output)
	}
	q := ans.Query
	fmt.Fprintf(w, "%s to %s (%s), against %s to %s; amounts in %s\n", q.From.Format(time.DateOnly),
		q.To.AddDate(0, 0, -1).Format(time.DateOnly), q.From.Location(), stats.Previous(q).From.Format(time.DateOnly),
		q.From.AddDate(0, 0, -1).Format(time.DateOnly), cur)
	if err := stats.WriteTable(w, ans.Rows, q, money); err != nil {
		return err
	}
	p := ans.Payers
	if q.Merchant == 0 {
		fmt.Fprintf(w, "payers: %d new (%d in the previous period), %d on %s, %d in its month\n",
			p.New, p.PrevNew, p.DAU, q.To.AddDate(0, 0, -1).Format(time.DateOnly), p.MAU)
	}
	_, err := fmt.Fprintf(w, "statistics follower: %d journal entries behind\n", ans.Lag)
	return err
}

func exponentOf(cur string) uint8 {
	e, _ := domain.Exponent(cur)
	return e
}
