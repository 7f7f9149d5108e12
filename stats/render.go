package stats

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// metric is one number of a cell, as the table and the CSV write it.
type metric struct {
	name  string
	value func(Cell) int64
	money bool
}

// metrics are the CSV's numbers, in column order; the table shows the first five.
var metrics = []metric{
	{"payments", func(c Cell) int64 { return c.Paid }, false},
	{"amount", func(c Cell) int64 { return int64(c.Amount) }, true},
	{"fees", func(c Cell) int64 { return int64(c.Fees) }, true},
	{"refunds", func(c Cell) int64 { return c.Refunds }, false},
	{"refused", Cell.RefusedCount, false},
	{"refunded", func(c Cell) int64 { return int64(c.Refunded) }, true},
	{"held", func(c Cell) int64 { return c.Held }, false},
	{"wrong_pins", func(c Cell) int64 { return c.WrongPINs }, false},
	{"points_earned", func(c Cell) int64 { return c.Earned }, false},
	{"points_spent", func(c Cell) int64 { return c.Spent }, false},
	{"promo_uses", func(c Cell) int64 { return c.PromoUses }, false},
	{"discount", func(c Cell) int64 { return int64(c.Discount) }, true},
	{"sms_sent", func(c Cell) int64 { return c.SMSSent }, false},
	{"sms_delivered", func(c Cell) int64 { return c.SMSDelivered }, false},
	{"sms_undeliverable", func(c Cell) int64 { return c.SMSUndeliverable }, false},
	{"sms_failed", func(c Cell) int64 { return c.SMSFailed }, false},
}

// tableMetrics are the metrics the table shows.
const tableMetrics = 5

// WriteTable writes rows for people: label, payments, amount, fees, refunds, refused (with
// its main reasons) and success rate, each with its change against the previous period
// when there was one, then the total. money writes minor units in the currency.
func WriteTable(w io.Writer, rows []Row, q Query, money func(uint64) string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{q.By}
	for _, m := range metrics[:tableMetrics] {
		head = append(head, m.name)
	}
	fmt.Fprintln(tw, strings.Join(append(head, "success"), "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(tableLine(r, money), "\t")+"\t")
	}
	total := Total(rows)
	fmt.Fprintln(tw, strings.Join(tableLine(total, money), "\t")+"\t")
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeSMSLine(w, total)
}

// writeSMSLine says how the SMS mpg sent in the period fared, when it sent any.
func writeSMSLine(w io.Writer, r Row) error {
	c, p := r.Cell, r.Prev
	if c.SMSSent == 0 && c.SMSFailed == 0 && p.SMSSent == 0 && p.SMSFailed == 0 {
		return nil
	}
	_, err := fmt.Fprintf(w, "SMS sent: %d taken by the SMSC%s, %d delivered, %d undeliverable, %d failed%s\n",
		c.SMSSent, versus(Change(c.SMSSent, p.SMSSent)), c.SMSDelivered, c.SMSUndeliverable, c.SMSFailed,
		versus(Change(c.SMSFailed, p.SMSFailed)))
	return err
}

func tableLine(r Row, money func(uint64) string) []string {
	line := []string{r.Label}
	for _, m := range metrics[:tableMetrics] {
		now, prev := m.value(r.Cell), m.value(r.Prev)
		s := strconv.FormatInt(now, 10)
		if m.money {
			s = money(uint64(now))
		}
		if m.name == "refused" {
			s += reasons(r.Cell)
		}
		line = append(line, s+versus(Change(now, prev)))
	}
	return append(line, successText(r))
}

// versus is " (+x% vs previous)", or nothing when there is no previous to compare with.
func versus(pct float64, ok bool) string {
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (%+.1f%% vs previous)", pct)
}

func successText(r Row) string {
	now, ok := r.Cell.SuccessRate()
	if !ok {
		return "-"
	}
	s := fmt.Sprintf("%.1f%%", now)
	if prev, ok := r.Prev.SuccessRate(); ok {
		s += fmt.Sprintf(" (%+.1f pts vs previous)", now-prev)
	}
	return s
}

// maxReasons is how many reasons the table names beside a refusal count.
const maxReasons = 2

// reasons is " (funds 3, pin 2, ...)": the main reasons for refusals, most frequent first.
func reasons(c Cell) string {
	type rc struct {
		r string
		n int64
	}
	var list []rc
	for r, n := range c.Refused {
		if n != 0 {
			list = append(list, rc{r, n})
		}
	}
	if len(list) == 0 {
		return ""
	}
	slices.SortFunc(list, func(a, b rc) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.r, b.r)) })
	parts := make([]string, 0, maxReasons+1)
	for i, e := range list {
		if i == maxReasons {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", e.r, e.n))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// CSVHeader is the CSV's first line: the label, then for each number its value, its value
// in the previous period and its change in percent (empty when the previous was 0), then
// refusals by reason ("refused_funds"...), then the success rates in percent. Money is in
// minor units, points in points.
func CSVHeader() []string {
	h := []string{"label"}
	for _, m := range metrics {
		h = append(h, m.name, m.name+"_prev", m.name+"_change_pct")
	}
	for _, r := range Reasons {
		h = append(h, "refused_"+r)
	}
	return append(h, "success_pct", "success_prev_pct")
}

// WriteCSV writes the header and one line per row.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader()); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write(csvLine(r)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvLine(r Row) []string {
	line := []string{r.Label}
	for _, m := range metrics {
		now, prev := m.value(r.Cell), m.value(r.Prev)
		pct, ok := Change(now, prev)
		line = append(line, strconv.FormatInt(now, 10), strconv.FormatInt(prev, 10), pctText(pct, ok))
	}
	for _, reason := range Reasons {
		line = append(line, strconv.FormatInt(r.Cell.Refused[reason], 10))
	}
	now, okNow := r.Cell.SuccessRate()
	prev, okPrev := r.Prev.SuccessRate()
	return append(line, pctText(now, okNow), pctText(prev, okPrev))
}

func pctText(pct float64, ok bool) string {
	if !ok {
		return ""
	}
	return strconv.FormatFloat(pct, 'f', 2, 64)
}
