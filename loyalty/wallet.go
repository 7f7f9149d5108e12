package loyalty

import (
	"errors"
	"math/bits"
	"slices"

	"mpg/domain"
)

// ErrNotEnough: the wallet's unexpired lots hold fewer points than asked.
var ErrNotEnough = errors.New("not enough points")

// ErrTooManyLots: a wallet holds MaxLots lots already (awards of MaxLots months unspent).
var ErrTooManyLots = errors.New("too many lots")

// Wallet is a member's points as lots, with his recent activity for his level. Its Balance
// is always his points account's balance in the ledger: both are written in one job.
type Wallet struct {
	Lots      []Lot    `json:"lots,omitempty"`      // by expiry, then month
	Weeks     []Week   `json:"weeks,omitempty"`     // the level window's activity, oldest first
	Shortfall uint64   `json:"shortfall,omitempty"` // points refunds could not take back
	Expired   uint64   `json:"expired,omitempty"`   // points gone to the expired account, in all
	Last      int64    `json:"last,omitempty"`      // unix nanos of the last payment
	Paid      []string `json:"paid,omitempty"`      // the merchants lately paid, the latest last
	// Filed is when the wallet is due in the index of notices and expiries (0: not filed).
	Filed int64 `json:"filed,omitempty"`
}

// Lot is the points awarded in one month, expiring together.
type Lot struct {
	Month   int32  `json:"m"` // year×12 + month-1 of the awards
	Points  uint64 `json:"p"` // awarded into it
	Left    uint64 `json:"l"` // not spent, taken back or expired
	Expires int64  `json:"e"` // unix nanos
	Told    uint8  `json:"t,omitempty"`
}

// Week is one week's payments: its Monday (days since 1970), how many, how much.
type Week struct {
	Start  int64  `json:"w"`
	Count  int    `json:"n"`
	Volume uint64 `json:"v"`
}

// Draw is what a spend took from one lot, kept on the payment so that a refund gives back
// exactly those points, with the lot's own expiry.
type Draw = domain.PointsDraw

// Balance is the points the wallet holds, expired or not yet swept.
func (w *Wallet) Balance() uint64 {
	var n uint64
	for _, l := range w.Lots {
		n += l.Left
	}
	return n
}

// Spendable is the points of lots not expired at now (unix nanos).
func (w *Wallet) Spendable(now int64) uint64 {
	var n uint64
	for _, l := range w.Lots {
		if l.Expires > now {
			n += l.Left
		}
	}
	return n
}

// NextExpiry is the first lot after now still holding points: how many, and when.
func (w *Wallet) NextExpiry(now int64) (points uint64, at int64, ok bool) {
	for _, l := range w.Lots {
		if l.Left > 0 && l.Expires > now {
			return l.Left, l.Expires, true
		}
	}
	return 0, 0, false
}

// Award files n points in the lot of month, which expires at expires.
func (w *Wallet) Award(month int32, expires int64, n uint64) error {
	if n == 0 {
		return nil
	}
	for i := range w.Lots {
		if w.Lots[i].Month == month {
			w.Lots[i].Points += n
			w.Lots[i].Left += n
			return nil
		}
	}
	if len(w.Lots) >= MaxLots {
		return ErrTooManyLots
	}
	w.Lots = append(w.Lots, Lot{Month: month, Points: n, Left: n, Expires: expires})
	w.sort()
	return nil
}

func (w *Wallet) sort() {
	slices.SortStableFunc(w.Lots, func(a, b Lot) int {
		if a.Expires != b.Expires {
			if a.Expires < b.Expires {
				return -1
			}
			return 1
		}
		return int(a.Month - b.Month)
	})
}

// Spend takes n points from the lots not expired at now, those expiring first first.
func (w *Wallet) Spend(n uint64, now int64) ([]Draw, error) {
	if w.Spendable(now) < n {
		return nil, ErrNotEnough
	}
	var draws []Draw
	for i := range w.Lots {
		l := &w.Lots[i]
		if n == 0 {
			break
		}
		if l.Expires <= now || l.Left == 0 {
			continue
		}
		take := min(n, l.Left)
		l.Left -= take
		n -= take
		draws = append(draws, Draw{Month: l.Month, Points: take, Expires: l.Expires})
	}
	w.drop()
	return draws, nil
}

// Restore gives back points a refunded payment had spent, each to its own lot with its own
// expiry (one already expired gets them back and the next sweep moves them). It returns
// how many it gave back.
func (w *Wallet) Restore(draws []Draw) (uint64, error) {
	var n uint64
	for _, d := range draws {
		found := false
		for i := range w.Lots {
			if w.Lots[i].Month == d.Month {
				w.Lots[i].Left += d.Points
				found = true
			}
		}
		if !found {
			if len(w.Lots) >= MaxLots {
				return n, ErrTooManyLots
			}
			w.Lots = append(w.Lots, Lot{Month: d.Month, Points: d.Points, Left: d.Points, Expires: d.Expires})
			w.sort()
		}
		n += d.Points
	}
	return n, nil
}

// TakeBack takes back n points a refunded payment had earned: from the lot they were filed
// in first, then from the lots expiring last. What the wallet no longer holds is added to
// Shortfall (a balance never goes below zero). It returns what it took.
func (w *Wallet) TakeBack(month int32, n uint64) uint64 {
	var taken uint64
	for i := range w.Lots {
		if l := &w.Lots[i]; l.Month == month {
			t := min(n-taken, l.Left)
			l.Left -= t
			taken += t
		}
	}
	for i := len(w.Lots) - 1; i >= 0 && taken < n; i-- {
		t := min(n-taken, w.Lots[i].Left)
		w.Lots[i].Left -= t
		taken += t
	}
	w.Shortfall += n - taken
	w.drop()
	return taken
}

// Expire empties the lots expired at now and returns the points they held: the engine
// moves them from the member's account to the expired account in the same job.
func (w *Wallet) Expire(now int64) uint64 {
	var moved uint64
	for i := range w.Lots {
		if w.Lots[i].Expires <= now {
			moved += w.Lots[i].Left
			w.Lots[i].Left = 0
		}
	}
	w.Expired += moved
	w.drop()
	return moved
}

// Told marks the notice number n sent for lot i.
func (w *Wallet) Told(i, n int) { w.Lots[i].Told = uint8(n) }

// drop forgets the lots that hold nothing.
func (w *Wallet) drop() {
	w.Lots = slices.DeleteFunc(w.Lots, func(l Lot) bool { return l.Left == 0 })
}

// activity is the count and volume of the weeks from week-12 weeks to week.
func (w *Wallet) activity(week int64) (count int, volume uint64) {
	for _, x := range w.Weeks {
		if x.Start > week-7*weeksKept && x.Start <= week {
			count += x.Count
			volume += x.Volume
		}
	}
	return count, volume
}

// Part is n points of draws after their first skip points: what a refund of part of a
// payment gives back, the earlier refunds having given back the first skip.
func Part(draws []Draw, skip, n uint64) []Draw {
	var out []Draw
	for _, d := range draws {
		if skip >= d.Points {
			skip -= d.Points
			continue
		}
		take := min(d.Points-skip, n)
		skip = 0
		if take > 0 {
			out = append(out, Draw{Month: d.Month, Points: take, Expires: d.Expires})
			n -= take
		}
	}
	return out
}

// Share is the part of whole that part of total is, rounded down, all of it when part is
// total: what a refund of part of a payment does to its points.
func Share(whole, part, total uint64) uint64 {
	if total == 0 || part >= total {
		return whole
	}
	hi, lo := bits.Mul64(whole, part)
	q, _ := bits.Div64(hi, lo, total) // part < total: no overflow
	return q
}
