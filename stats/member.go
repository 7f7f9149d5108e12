package stats

import (
	"cmp"
	"slices"
	"time"

	"mpg/domain"
)

// Bounds of a member's record.
const (
	MaxMemberBytes = 2048 // a member's JSON record
	MonthsKept     = 13   // months of counts: this one and the twelve before
	TopMerchants   = 8    // merchants a month's spend names; the rest are "others"
)

// Member is what mpg remembers of one payer (one purse) for subscriber counts, scores and
// the spend summary. Days and months are the payer's local calendar days and months.
type Member struct {
	First int32 `json:"f,omitempty"` // day of the first payment, days since 1970-01-01 (0: none yet)
	Last  int32 `json:"l,omitempty"` // day of the last payment
	// Months is a ring of monthly tallies: month m is kept at m % MonthsKept, and a slot
	// holding another month is stale (counts as nothing).
	Months [MonthsKept]Tally `json:"m"`
	// Cur is the spend by merchant of the latest month with a payment, Prev of the month before it.
	Cur  Spend `json:"c"`
	Prev Spend `json:"p"`
}

// Tally is one month's payments: how many and how much, less what was given back.
type Tally struct {
	Month  int32 `json:"k,omitempty"` // months since January 1970 (year*12 + month-1 - 1970*12)
	Count  int64 `json:"n,omitempty"`
	Amount int64 `json:"a,omitempty"`
}

// Spend is one month's spend by merchant: the TopMerchants largest, then the others
// (people paid, and merchants that did not make the top). It is approximate: a merchant
// that leaves the top takes its amount to Others and starts again from zero if it comes back.
type Spend struct {
	Month  int32   `json:"k,omitempty"`
	Top    []Spent `json:"t,omitempty"`
	Others int64   `json:"o,omitempty"`
}

// Spent is what was spent at one merchant (an account id).
type Spent struct {
	Merchant uint64 `json:"m"`
	Amount   int64  `json:"a"`
}

// Observe adds a fact about this member's payments made at t (unix nanoseconds), with loc
// the member's time zone. Payments count; refunds take their amount off the month they are
// made in (not the month of the payment). Other facts change nothing.
//
// The booleans say what the payment was a first of, so that a follower counts each payer
// once: newDay his first payment of the day (daily active payers), newMonth his first of
// the month (monthly active payers), first his first payment ever (new payers). Facts are
// expected in journal order; one older than the last payment is counted but is no first.
func (m *Member) Observe(f domain.Fact, t int64, loc *time.Location) (newDay, newMonth, first bool) {
	local := time.Unix(0, t).In(loc)
	day, month := DayOf(local), MonthOf(local)
	switch f.Kind {
	case domain.FactPaid:
		newDay, newMonth, first = m.firsts(day)
		m.tally(month, 1, int64(f.Amount))
		m.spend(month, MerchantOf(f), int64(f.Amount))
	case domain.FactRefund:
		m.tally(month, 0, -int64(f.Amount))
		m.spend(month, MerchantOf(f), -int64(f.Amount))
	}
	return newDay, newMonth, first
}

// firsts records a payment on day and says what it was the first of.
func (m *Member) firsts(day int32) (newDay, newMonth, first bool) {
	if m.First == 0 {
		m.First, m.Last = day, day
		return true, true, true
	}
	if day <= m.Last {
		return false, false, false
	}
	newMonth = monthOfDay(day) != monthOfDay(m.Last)
	m.Last = day
	return true, newMonth, false
}

func (m *Member) tally(month int32, n, amount int64) {
	s := &m.Months[month%MonthsKept]
	if s.Month != month {
		*s = Tally{Month: month}
	}
	s.Count += n
	s.Amount += amount
}

// spend adds amount at merchant to month's spend, moving Cur to Prev when a month begins.
// A refund for a month already gone from Cur and Prev changes nothing here.
func (m *Member) spend(month int32, merchant uint64, amount int64) {
	switch {
	case month == m.Cur.Month:
	case month == m.Prev.Month && m.Prev.Month != 0:
		m.Prev.add(merchant, amount)
		return
	case month < m.Cur.Month:
		return
	case month == m.Cur.Month+1:
		m.Prev, m.Cur = m.Cur, Spend{Month: month}
	default:
		m.Prev, m.Cur = Spend{}, Spend{Month: month}
	}
	m.Cur.add(merchant, amount)
}

func (s *Spend) add(merchant uint64, amount int64) {
	if merchant == 0 {
		s.Others += amount
		return
	}
	if i := slices.IndexFunc(s.Top, func(e Spent) bool { return e.Merchant == merchant }); i >= 0 {
		s.Top[i].Amount += amount
	} else if amount < 0 {
		s.Others += amount // given back at a merchant no longer named
	} else if len(s.Top) < TopMerchants {
		s.Top = append(s.Top, Spent{merchant, amount})
	} else if low := s.lowest(); amount > s.Top[low].Amount {
		s.Others += s.Top[low].Amount
		s.Top[low] = Spent{merchant, amount}
	} else {
		s.Others += amount
	}
	s.sort()
}

func (s *Spend) lowest() int {
	return len(s.Top) - 1 // Top is kept sorted, largest first
}

func (s *Spend) sort() {
	slices.SortStableFunc(s.Top, func(a, b Spent) int {
		return cmp.Or(cmp.Compare(b.Amount, a.Amount), cmp.Compare(a.Merchant, b.Merchant))
	})
}

// Tally is month's tally (zero when the ring no longer or never held it).
func (m Member) Tally(month int32) Tally {
	s := m.Months[((month%MonthsKept)+MonthsKept)%MonthsKept]
	if s.Month != month {
		return Tally{Month: month}
	}
	return s
}

// DayOf is t's calendar day in its own location, as days since 1970-01-01.
func DayOf(t time.Time) int32 {
	y, mo, d := t.Date()
	return int32(time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// MonthOf is t's calendar month in its own location, as months since January 1970.
func MonthOf(t time.Time) int32 {
	return int32((t.Year()-1970)*12 + int(t.Month()) - 1)
}

func monthOfDay(day int32) int32 {
	return MonthOf(time.Unix(int64(day)*86400, 0).UTC())
}

// MonthName writes a month as "2026-12".
func MonthName(month int32) string {
	return time.Date(1970+int(month)/12, time.Month(month%12+1), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}
