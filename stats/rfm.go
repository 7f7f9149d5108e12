package stats

import "time"

// Score is a member's RFM score: Recency, Frequency and Monetary value, each 1 (least) to 5.
type Score struct {
	R int `json:"r"`
	F int `json:"f"`
	M int `json:"m"`
}

// Bands are the thresholds of the scores. Recency is scored by days since the last payment:
// 5 within Recency[0] days, 4 within Recency[1], 3 within Recency[2], 2 within Recency[3],
// else 1. Frequency and Monetary count the twelve months ending with the as-of month:
// the score is 1 plus how many of the four thresholds the payments (or minor units paid,
// less refunds) reach.
type Bands struct {
	Recency   [4]int32 // days, increasing
	Frequency [4]int64 // payments, increasing
	Monetary  [4]int64 // minor units, increasing
}

// DefaultBands: paid within a week scores R5, a month R4, a quarter R3, half a year R2;
// 2, 6, 12 and 24 payments a year for F2..F5; 10.00, 50.00, 200.00 and 1000.00 a year (in
// a two-decimal currency) for M2..M5.
var DefaultBands = Bands{
	Recency:   [4]int32{7, 30, 90, 180},
	Frequency: [4]int64{2, 6, 12, 24},
	Monetary:  [4]int64{1000, 5000, 20000, 100000},
}

// Segments a member falls in.
const (
	SegmentNew       = "new"
	SegmentChampions = "champions"
	SegmentLoyal     = "loyal"
	SegmentAtRisk    = "at_risk"
	SegmentLost      = "lost"
	SegmentRegular   = "regular"
)

// NewDays is how long a payer is new after his first payment.
const NewDays = 30

// RFM scores a member as of a day with the default bands. asOf's own location gives its
// calendar day: pass it in the location the member's payments were observed in.
func RFM(m Member, asOf time.Time) Score { return DefaultBands.Score(m, asOf) }

// Score scores a member as of a day. A member who never paid scores 1, 1, 1.
func (b Bands) Score(m Member, asOf time.Time) Score {
	s := Score{R: 1, F: 1, M: 1}
	if m.First == 0 {
		return s
	}
	n, amount := m.Year(asOf)
	s.R = 5 - passed(int64(DayOf(asOf)-m.Last), b.Recency[:], true)
	s.F = 1 + passed(n, b.Frequency[:], false)
	s.M = 1 + passed(amount, b.Monetary[:], false)
	return s
}

// passed is how many thresholds v passes: exceeds when strict, reaches otherwise.
func passed[T int32 | int64](v int64, bands []T, strict bool) int {
	n := 0
	for _, t := range bands {
		if v > int64(t) || !strict && v == int64(t) {
			n++
		}
	}
	return n
}

// Year is the member's payments and amount (less refunds) in the twelve months ending
// with asOf's month.
func (m Member) Year(asOf time.Time) (n, amount int64) {
	now := MonthOf(asOf)
	for mo := now - 11; mo <= now; mo++ {
		t := m.Tally(mo)
		n += t.Count
		amount += t.Amount
	}
	return n, amount
}

// Segment names a member's segment, taking the first rule that holds:
//   - new: the first payment was less than NewDays days before asOf;
//   - champions: R, F and M all 4 or more;
//   - at_risk: R 2 or less and F 3 or more (a good payer who stopped);
//   - lost: R 1;
//   - loyal: F 4 or more;
//   - regular: everyone else.
func Segment(s Score, m Member, asOf time.Time) string {
	switch {
	case m.First != 0 && DayOf(asOf)-m.First < NewDays:
		return SegmentNew
	case s.R >= 4 && s.F >= 4 && s.M >= 4:
		return SegmentChampions
	case s.R <= 2 && s.F >= 3:
		return SegmentAtRisk
	case s.R == 1:
		return SegmentLost
	case s.F >= 4:
		return SegmentLoyal
	}
	return SegmentRegular
}
