package engine

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mpg/domain"
)

// What a merchant's e-mail says, composed from its record when its turn comes (the same
// words on every attempt), and the daily statements' queueing.

// compose writes a mail's letter.
func (e *Engine) compose(m Mail) (Letter, error) {
	acc, err := e.l.Account(m.Merchant)
	if err != nil {
		return Letter{}, err
	}
	s, _, err := e.settings(m.Merchant)
	if err != nil {
		return Letter{}, err
	}
	if s.Email == "" {
		return Letter{}, errors.New("the merchant stopped e-mail notices")
	}
	// The address as it is now: a merchant that changed it gets what waits at the new one.
	l := Letter{ID: m.ID, To: s.Email, Merchant: m.Merchant}
	who := merchantName(acc)
	if who != acc.Owner {
		who += " (" + acc.Owner + ")"
	}
	if m.Kind == MailStatement {
		return e.statementLetter(m, who, l)
	}
	return e.noticeLetter(m, who, l)
}

// noticeLetter tells one payment or one refund: what, how much, who paid (masked), the
// reference, the receipt, when.
func (e *Engine) noticeLetter(m Mail, who string, l Letter) (Letter, error) {
	what, head := "Payment received", "a payment was received"
	if m.Kind == MailRefund {
		what, head = "Refund made", "money was given back on a payment"
	}
	amount := domain.FormatAmount(m.Amount, m.Currency)
	l.Subject = what + ": " + amount
	if m.Ref != "" {
		l.Subject += ", Ref " + m.Ref
	}
	receipt := "-"
	if id, err := domain.ParseID(m.Transfer); err == nil {
		if tr, err := e.l.Transfer(id); err == nil {
			receipt = e.receipt(tr)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s,\n\n%s.\n\n", who, head)
	fmt.Fprintf(&b, "What:      %s\nAmount:    %s\nPayer:     %s\nReference: %s\nReceipt:   %s\nTime:      %s\nPayment:   %s\n\n",
		strings.ToLower(what), amount, cmp.Or(m.Payer, "-"), cmp.Or(m.Ref, "-"), receipt, e.mailTime(m.At), m.Payment)
	b.WriteString("The payment is in GET /v1/payments/" + m.Payment + " and in your reconciliation.\n-- \nmpg\n")
	l.Text = b.String()
	return l, nil
}

func (e *Engine) mailTime(ns int64) string {
	return time.Unix(0, ns).In(e.location()).Format("2006-01-02 15:04:05 MST")
}

func (e *Engine) location() *time.Location {
	if e.cfg.Location != nil {
		return e.cfg.Location
	}
	return time.UTC
}

// statementLetter sums the day's payments in the body and lists them in the attached CSV,
// the reconciliation's columns.
func (e *Engine) statementLetter(m Mail, who string, l Letter) (Letter, error) {
	ps, whole, err := e.dayPayments(m.Merchant, m.Day)
	if err != nil {
		return l, err
	}
	views := make([]PaymentView, len(ps))
	var received, refunded uint64
	states := map[string]int{}
	for i, p := range ps {
		views[i] = e.View(p)
		states[string(p.State)]++
		if p.State == domain.PaymentCompleted || p.State == domain.PaymentPartiallyRefunded || p.State == domain.PaymentRefunded {
			received += p.Amount
			refunded += p.Refunded
		}
	}
	var csv bytes.Buffer
	if err := WriteReconciliationCSV(&csv, views); err != nil {
		return l, err
	}
	acc, _ := e.l.Account(m.Merchant)
	l.AttachmentName, l.Attachment = "statement-"+acc.Owner+"-"+m.Day+".csv", csv.Bytes()
	cur := e.cfg.Currency
	l.Subject = fmt.Sprintf("Statement for %s: %d payments, %s received", m.Day, len(ps), domain.FormatAmount(received, cur))
	var b strings.Builder
	fmt.Fprintf(&b, "%s,\n\nyour statement for %s (%s).\n\n", who, m.Day, e.location())
	fmt.Fprintf(&b, "Payments:  %d%s\nReceived:  %s\nRefunded:  %s\nNet:       %s\n\n", len(ps), stateCounts(states),
		domain.FormatAmount(received, cur), domain.FormatAmount(refunded, cur), domain.FormatAmount(received-min(refunded, received), cur))
	fmt.Fprintf(&b, "The attached %s lists each payment made that day, with the columns of GET /v1/payments?format=csv.\n", l.AttachmentName)
	if !whole {
		fmt.Fprintf(&b, "It lists the first %d only: GET /v1/payments gives the rest.\n", len(ps))
	}
	b.WriteString("-- \nmpg\n")
	l.Text = b.String()
	return l, nil
}

func stateCounts(states map[string]int) string {
	if len(states) == 0 {
		return ""
	}
	var parts []string
	for s, n := range states {
		parts = append(parts, fmt.Sprintf("%d %s", n, s))
	}
	slices.Sort(parts)
	return " (" + strings.Join(parts, ", ") + ")"
}

// dayPayments are a merchant's payments made on day (Config.Location), at most MaxRows;
// whole is false when there were more.
func (e *Engine) dayPayments(merchant uint64, day string) (ps []domain.Payment, whole bool, err error) {
	start, err := time.ParseInLocation("2006-01-02", day, e.location())
	if err != nil {
		return nil, false, err
	}
	maxRows := cmp0(e.cfg.Mail.MaxRows, 5000)
	f := PaymentFilter{From: start.UnixNano(), To: start.AddDate(0, 0, 1).UnixNano() - 1, Limit: 1000}
	for pages := 0; pages < maxRows/10+20; pages++ { // a bound: pages of a scan that found little
		got, next, err := e.ListPayments(merchant, f)
		if err != nil {
			return nil, false, err
		}
		ps = append(ps, got...)
		if len(ps) > maxRows {
			return ps[:maxRows], false, nil
		}
		if next == "" {
			return ps, true, nil
		}
		f.After = next
	}
	return ps, false, nil
}

func cmp0(v, or int) int {
	if v <= 0 {
		return or
	}
	return v
}

// maxStatementMerchants bounds the merchants one QueueStatements visits.
const maxStatementMerchants = 10000

// QueueStatements queues, once the statement hour has come, the day before's statement of
// every merchant with an address that has not had it: the mail and the record of the day in
// one job, at the version of that record read, so that of two daemons (or a restart) one
// queues it. It returns how many it queued.
func (e *Engine) QueueStatements(ctx context.Context) (int, error) {
	if e.cfg.Mail.StatementHour < 0 {
		return 0, nil
	}
	now := e.cfg.Now().In(e.location())
	if now.Hour() < e.cfg.Mail.StatementHour {
		return 0, nil
	}
	y, mo, d := now.Date()
	day := time.Date(y, mo, d-1, 0, 0, 0, 0, e.location()).Format("2006-01-02")
	n := 0
	_, err := e.scan(keyMailTo, "", maxStatementMerchants, func(r domain.Profile) (bool, error) {
		queued, err := e.queueStatement(ctx, hexMerchant(strings.TrimPrefix(r.Owner, keyMailTo)), day)
		if queued {
			n++
		}
		return ctx.Err() == nil, err
	})
	return n, err
}

func hexMerchant(s string) uint64 {
	var m uint64
	fmt.Sscanf(s, "%x", &m)
	return m
}

// statementDay is the record of the last day whose statement was queued for a merchant.
type statementDay struct {
	Day string `json:"day"`
}

// queueStatement queues one merchant's statement of day unless it was queued already.
func (e *Engine) queueStatement(ctx context.Context, merchant uint64, day string) (bool, error) {
	var last statementDay
	ver, _, err := e.record(keyMailDay+hex16(merchant), &last)
	if err != nil || last.Day >= day {
		return false, err
	}
	s, _, err := e.settings(merchant)
	if err != nil || s.Email == "" {
		return false, err
	}
	m := Mail{ID: "ml_" + domain.NewID().String(), Merchant: merchant, Kind: MailStatement, To: s.Email, Day: day,
		Currency: e.cfg.Currency, Created: e.cfg.Now().UnixNano(), State: MailPending}
	profiles := append(m.queue(0), write(keyMailDay+hex16(merchant), statementDay{Day: day}, ver))
	_, err = e.l.Submit(ctx, domain.Job{Profiles: profiles})
	if errors.Is(err, domain.ErrConflict) {
		return false, nil // another daemon queued it (or the address changed): its turn, not ours
	}
	return err == nil, err
}
