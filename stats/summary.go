package stats

import (
	"slices"
	"time"
)

// SummaryMerchants is how many merchants a spend summary names before "others".
const SummaryMerchants = 3

// SpendSummary is what a member's spend SMS says: this month against last month, and
// where the money went this month. Amounts are minor units, less refunds.
type SpendSummary struct {
	Month     string  `json:"month"` // "2026-12"
	PrevMonth string  `json:"prev_month"`
	Count     int64   `json:"count"`
	PrevCount int64   `json:"prev_count"`
	Amount    int64   `json:"amount"`
	PrevAmt   int64   `json:"prev_amount"`
	ChangePct float64 `json:"change_pct"` // of Amount against PrevAmt
	ChangeOK  bool    `json:"change_ok"`  // false when nothing was spent last month
	Top       []Spent `json:"top,omitempty"`
	Others    int64   `json:"others"`
}

// Summary is a member's spend summary as of a day (asOf in the member's location).
func Summary(m Member, asOf time.Time) SpendSummary {
	now := MonthOf(asOf)
	cur, prev := m.Tally(now), m.Tally(now-1)
	s := SpendSummary{
		Month: MonthName(now), PrevMonth: MonthName(now - 1),
		Count: cur.Count, PrevCount: prev.Count, Amount: cur.Amount, PrevAmt: prev.Amount,
	}
	s.ChangePct, s.ChangeOK = Change(cur.Amount, prev.Amount)
	spend := m.spendOf(now)
	top := slices.Clone(spend.Top)
	s.Others = spend.Others
	if len(top) > SummaryMerchants {
		for _, e := range top[SummaryMerchants:] {
			s.Others += e.Amount
		}
		top = top[:SummaryMerchants]
	}
	s.Top = top
	return s
}

// spendOf is month's spend by merchant, empty when not kept.
func (m Member) spendOf(month int32) Spend {
	switch month {
	case m.Cur.Month:
		return m.Cur
	case m.Prev.Month:
		return m.Prev
	}
	return Spend{Month: month}
}
