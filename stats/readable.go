package stats

// Figures are a cell's numbers under long names, as the JSON of `mpg stats -o json` and
// of the merchant API gives them. Money is a decimal string in the currency ("4.50").
type Figures struct {
	Payments     int64            `json:"payments"`
	Amount       string           `json:"amount"`
	Fees         string           `json:"fees"`
	Refunds      int64            `json:"refunds"`
	Refunded     string           `json:"refunded"`
	Refused      map[string]int64 `json:"refused"` // by reason; {} when none
	Held         int64            `json:"held"`
	WrongPINs    int64            `json:"wrong_pins"`
	PointsEarned int64            `json:"points_earned"`
	PointsSpent  int64            `json:"points_spent"`
	PromoUses    int64            `json:"promo_uses"`
	Discount     string           `json:"discount"`
	SuccessPct   *float64         `json:"success_pct"` // null when nothing was tried
	// The SMS mpg sent: taken by the SMSC, then delivered or undeliverable by its receipts,
	// or failed for good.
	SMSSent          int64 `json:"sms_sent"`
	SMSDelivered     int64 `json:"sms_delivered"`
	SMSUndeliverable int64 `json:"sms_undeliverable"`
	SMSFailed        int64 `json:"sms_failed"`
}

// ReadableRow is one row: its figures, the previous period's, and the change of each
// number in percent (a number is left out of change_pct when its previous value was 0).
type ReadableRow struct {
	Label string `json:"label"`
	Figures
	Prev      Figures            `json:"prev"`
	ChangePct map[string]float64 `json:"change_pct"`
}

// ReadableReport is a Report under long names.
type ReadableReport struct {
	Query  Query         `json:"query"`
	Rows   []ReadableRow `json:"rows"`
	Totals ReadableRow   `json:"totals"`
}

// Readable gives a report its long names; money writes minor units in the currency.
func Readable(r Report, money func(uint64) string) ReadableReport {
	out := ReadableReport{Query: r.Query, Rows: make([]ReadableRow, 0, len(r.Rows)), Totals: ReadableOf(r.Totals, money)}
	for _, row := range r.Rows {
		out.Rows = append(out.Rows, ReadableOf(row, money))
	}
	return out
}

// ReadableOf is one row under long names.
func ReadableOf(r Row, money func(uint64) string) ReadableRow {
	out := ReadableRow{Label: r.Label, Figures: FiguresOf(r.Cell, money), Prev: FiguresOf(r.Prev, money),
		ChangePct: make(map[string]float64)}
	for _, m := range metrics {
		if pct, ok := Change(m.value(r.Cell), m.value(r.Prev)); ok {
			out.ChangePct[m.name] = pct
		}
	}
	return out
}

// FiguresOf is a cell under long names.
func FiguresOf(c Cell, money func(uint64) string) Figures {
	f := Figures{Payments: c.Paid, Amount: money(c.Amount), Fees: money(c.Fees), Refunds: c.Refunds,
		Refunded: money(c.Refunded), Refused: make(map[string]int64, len(c.Refused)), Held: c.Held,
		WrongPINs: c.WrongPINs, PointsEarned: c.Earned, PointsSpent: c.Spent, PromoUses: c.PromoUses,
		Discount: money(c.Discount), SMSSent: c.SMSSent, SMSDelivered: c.SMSDelivered,
		SMSUndeliverable: c.SMSUndeliverable, SMSFailed: c.SMSFailed}
	for r, n := range c.Refused {
		if n != 0 {
			f.Refused[r] = n
		}
	}
	if pct, ok := c.SuccessRate(); ok {
		f.SuccessPct = &pct
	}
	return f
}
