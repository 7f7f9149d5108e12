// Package loyalty is mpg's points programme: what a payment earns, the lots a member holds
// and when they expire, which level a member is at, and what points are worth at a merchant.
// It is pure: no ledger, no clock of its own. The engine reads a member's wallet record, asks
// this package what a payment, a refund or the clock does to it, and writes the record and
// the ledger's points transfers in one job, so that a point is never given twice, lost, or
// kept after a refund: the record's version guards the lots, the ledger guards the balance.
package loyalty

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"time"
)

// Products that earn points: a member paying a merchant or a biller, from his purse, his
// bank or his credit line. Sending to a person, a cash-in and a repayment never earn.
var earning = []string{"pay", "bill", "debit", "credit"}

// Earns says whether a product earns points at all.
func Earns(product string) bool { return slices.Contains(earning, product) }

// Bounds on what configuration may say, so that no product of them overflows.
const (
	MaxPerUnit    = 1000 // points per whole unit of money
	MaxBonusTimes = 10   // a bonus day's multiplier
	MaxPercent    = 1000 // a level's earning rate, in percent
	MaxRate       = 1e6  // minor units of money one point is worth
	MaxLots       = 64   // lots a wallet holds (one per month of awards: 25 live at 24 months)
	weeksKept     = 13   // the level's window: this week and the 12 before (at most 91 days)
	maxNotices    = 4    // notices before a lot expires
	maxPaid       = 8    // merchants a wallet remembers as lately paid
	maxMonths     = 48   // a lot's life: a wallet holds at most maxMonths+1 live lots, under MaxLots
)

// Rule is how many points a payment earns: PerUnit points per whole unit of money (1.00
// EUR), times BonusTimes on BonusDays, times the member's level's rate.
type Rule struct {
	Merchant   string         // a merchant's or biller's code; "" for every one
	Products   []string       // of pay, bill, debit, credit; empty: all four
	PerUnit    uint64         // points per whole unit of money
	BonusDays  []time.Weekday // days the bonus applies, in the programme's time zone
	BonusTimes uint64         // the bonus multiplier (0 or 1: none)
}

// Level is a membership level, reached by paying at least MinCount times and MinVolume
// (minor units) over the level window; Percent is its earning rate (100: ×1).
type Level struct {
	Name      string
	MinCount  int
	MinVolume uint64
	Percent   uint64
}

// Base is the level of a member who has reached none.
var Base = Level{Percent: 100}

// Programme is the whole configuration of points.
type Programme struct {
	Rules        []Rule
	Levels       []Level // each above the one before
	ExpiryMonths int     // a lot expires at the end of the ExpiryMonths-th month after its own
	// Notices are how long before a lot expires its member is told (longest first).
	Notices  []time.Duration
	Exponent uint8          // the money's decimals
	Location *time.Location // where weekdays, weeks and months are counted
	// Rates are what one point is worth at a merchant, in minor units of money, by merchant
	// code; a merchant absent takes no points.
	Rates map[string]uint64
	// MerchantMax bounds a merchant's own rule: points per whole unit of money, its bonus
	// included (0: merchants set none). Points are the service's, spent at every merchant
	// that takes them, so a merchant cannot print them at will.
	MerchantMax uint64
}

// Validate says what is wrong with a programme, naming the rule or level.
func (p *Programme) Validate() error {
	for i, r := range p.Rules {
		if r.PerUnit > MaxPerUnit || r.BonusTimes > MaxBonusTimes {
			return fmt.Errorf("rule %d: per_unit at most %d, bonus_times at most %d", i+1, MaxPerUnit, MaxBonusTimes)
		}
		for _, pr := range r.Products {
			if !slices.Contains(earning, pr) {
				return fmt.Errorf("rule %d: product %q earns no points (pay, bill, debit, credit)", i+1, pr)
			}
		}
	}
	for i, l := range p.Levels {
		if l.Name == "" || l.Percent == 0 || l.Percent > MaxPercent {
			return fmt.Errorf("level %d: a name and a rate of 1..%d percent", i+1, MaxPercent)
		}
		if i > 0 && (l.MinCount < p.Levels[i-1].MinCount || l.MinVolume < p.Levels[i-1].MinVolume) {
			return fmt.Errorf("level %q: its minima must not be below those of %q", l.Name, p.Levels[i-1].Name)
		}
	}
	if p.ExpiryMonths < 1 || p.ExpiryMonths > maxMonths {
		return fmt.Errorf("expiry: 1..%d months", maxMonths)
	}
	if len(p.Notices) > maxNotices {
		return fmt.Errorf("at most %d notices before expiry", maxNotices)
	}
	for i, d := range p.Notices {
		if d <= 0 || (i > 0 && d >= p.Notices[i-1]) {
			return errors.New("notices before expiry: positive, longest first")
		}
	}
	for m, r := range p.Rates {
		if r == 0 || r > MaxRate {
			return fmt.Errorf("merchant %s: a point is worth 1..%d minor units", m, int(MaxRate))
		}
	}
	return nil
}

func (p *Programme) loc() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// Earn is what a payment of amount (minor units) to merchant, of product, made at at by a
// member at level, earns: the most specific rule (the merchant's own before the general
// one), its bonus on its days, the level's rate. Rounded down: a point is never given for
// money not paid.
func (p *Programme) Earn(merchant, product string, amount uint64, at time.Time, level Level) uint64 {
	r, ok := p.rule(merchant, product)
	if !ok || r.PerUnit == 0 || amount == 0 {
		return 0
	}
	times := uint64(1)
	if r.BonusTimes > 1 && slices.Contains(r.BonusDays, at.In(p.loc()).Weekday()) {
		times = r.BonusTimes
	}
	percent := level.Percent
	if percent == 0 {
		percent = 100
	}
	unit := uint64(100) // percent
	for range p.Exponent {
		unit *= 10
	}
	hi, lo := bits.Mul64(amount, r.PerUnit*times*percent) // at most 1000×10×1000 per unit
	if hi >= unit {
		return 0 // beyond any amount the ledger holds
	}
	q, _ := bits.Div64(hi, lo, unit)
	return q
}

// RuleFor is the rule a payment of product to merchant earns by (ok false: none).
func (p *Programme) RuleFor(merchant, product string) (Rule, bool) { return p.rule(merchant, product) }

func (p *Programme) rule(merchant, product string) (Rule, bool) {
	if !slices.Contains(earning, product) {
		return Rule{}, false
	}
	var general *Rule
	for i, r := range p.Rules {
		if len(r.Products) > 0 && !slices.Contains(r.Products, product) {
			continue
		}
		if r.Merchant == merchant && merchant != "" {
			return r, true
		}
		if r.Merchant == "" && general == nil {
			general = &p.Rules[i]
		}
	}
	if general == nil {
		return Rule{}, false
	}
	return *general, true
}

// Redeem splits a payment of amount at merchant paid with up to balance points: points
// used, what they are worth, and the money left to pay. Only whole points are used, never
// worth more than the amount; the rest is money.
func (p *Programme) Redeem(merchant string, amount, balance uint64) (points, worth, money uint64, ok bool) {
	rate, ok := p.Rates[merchant]
	if !ok || rate == 0 {
		return 0, 0, amount, false
	}
	points = min(balance, amount/rate)
	worth = points * rate
	return points, worth, amount - worth, true
}

// LotOf is the month awards at at are filed under, and when that lot expires: at the start
// of the month ExpiryMonths+1 after it (the end of the ExpiryMonths-th month).
func (p *Programme) LotOf(at time.Time) (month int32, expires int64) {
	t := at.In(p.loc())
	month = int32(t.Year()*12 + int(t.Month()) - 1)
	end := time.Date(t.Year(), t.Month()+time.Month(p.ExpiryMonths)+1, 1, 0, 0, 0, 0, p.loc())
	return month, end.UnixNano()
}

// LevelOf is the level a wallet's activity reaches at now.
func (p *Programme) LevelOf(w *Wallet, now time.Time) Level {
	count, volume := w.activity(p.week(now))
	level := Base
	for _, l := range p.Levels {
		if count >= l.MinCount && volume >= l.MinVolume {
			level = l
		}
	}
	return level
}

// week is the first day of at's week (Monday), in days since 1970, in the programme's zone.
func (p *Programme) week(at time.Time) int64 {
	t := at.In(p.loc())
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
	return day - int64((t.Weekday()+6)%7)
}

// Record counts a payment of amount at at to merchant in the wallet's activity.
func (p *Programme) Record(w *Wallet, at time.Time, amount uint64, merchant string) {
	w.Last = at.UnixNano()
	if merchant != "" {
		w.Paid = slices.DeleteFunc(w.Paid, func(m string) bool { return m == merchant })
		w.Paid = append(w.Paid, merchant)
		if len(w.Paid) > maxPaid {
			w.Paid = w.Paid[len(w.Paid)-maxPaid:]
		}
	}
	wk := p.week(at)
	w.Weeks = slices.DeleteFunc(w.Weeks, func(x Week) bool { return x.Start <= wk-7*weeksKept })
	if n := len(w.Weeks); n > 0 && w.Weeks[n-1].Start == wk {
		w.Weeks[n-1].Count++
		w.Weeks[n-1].Volume += amount
		return
	}
	w.Weeks = append(w.Weeks, Week{Start: wk, Count: 1, Volume: amount})
}

// Activity is a wallet's payments at now: how many in the level window, and days since the
// last one (-1: none).
func (p *Programme) Activity(w *Wallet, now time.Time) (payments int, days int64) {
	payments, _ = w.activity(p.week(now))
	if w.Last == 0 {
		return payments, -1
	}
	return payments, int64(now.Sub(time.Unix(0, w.Last)) / (24 * time.Hour))
}

// Due is the notice of expiry a wallet is owed at now, if any: the lot, how many points of
// it expire, and the notice's number (1 for the first). A notice whose time passed while a
// later one is also due is skipped: the member is told once, with the nearer date.
func (p *Programme) Due(w *Wallet, now time.Time) (lot int, left uint64, notice int, ok bool) {
	at := now.UnixNano()
	for i, l := range w.Lots {
		if l.Left == 0 || l.Expires <= at {
			continue
		}
		n := int(l.Told)
		for n < len(p.Notices) && at >= l.Expires-int64(p.Notices[n]) {
			n++
		}
		if n > int(l.Told) {
			return i, l.Left, n, true
		}
	}
	return 0, 0, 0, false
}

// NextDue is when the wallet next needs the clock: its first notice or expiry (0: never).
func (p *Programme) NextDue(w *Wallet) int64 {
	var due int64
	for _, l := range w.Lots {
		if l.Left == 0 {
			continue
		}
		at := l.Expires
		if int(l.Told) < len(p.Notices) {
			at = l.Expires - int64(p.Notices[l.Told])
		}
		if due == 0 || at < due {
			due = at
		}
	}
	return due
}
