// Package promo is merchants' promotions: what a promotion gives, when, to whom and how
// often, and the audience rules that say who it is for. It is pure: the engine reads the
// promotion, the member's use of it and the budget's balance, asks this package what applies,
// and writes the use (at the version read) and the budget's transfer in the payment's own
// job, so racing payments can neither overspend a budget (the ledger keeps it at or above
// zero) nor pass a member's limit (the use record's version).
package promo

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Member is what an audience rule sees of a member.
type Member struct {
	Level    string   `expr:"level"`                   // his loyalty level ("" below the first)
	Points   int64    `expr:"points"`                  // his loyalty points
	Days     int64    `expr:"days_since_last_payment"` // -1: never paid
	Payments int64    `expr:"payments"`                // payments in the last 13 weeks
	Paid     []string `expr:"merchants_paid"`          // merchants he paid lately, by code
	Language string   `expr:"language"`                // EN, FR or ZH
	// Segment is his RFM segment as the statistics follower last saw his payments: new,
	// champions, loyal, at_risk, lost or regular ("": he never paid); Recency, Frequency and
	// Monetary his RFM scores, 1 to 5 (0: he never paid).
	Segment   string `expr:"segment"`
	Recency   int64  `expr:"rfm_r"`
	Frequency int64  `expr:"rfm_f"`
	Monetary  int64  `expr:"rfm_m"`
}

// maxRuleNodes bounds an audience rule: small enough to read, quick to run on every payment.
const maxRuleNodes = 200

// MaxRuleLen bounds an audience rule's text.
const MaxRuleLen = 500

// Audience is a compiled audience rule.
type Audience struct {
	Source  string
	program *vm.Program
}

// Compile checks an audience rule against Member and compiles it: a rule that does not
// parse, names what a member does not have, or is not true or false is refused when it is
// saved, never when a payment runs. The language has no loops but its bounded builtins over
// a member's short lists, and no calls out: every rule ends. "" is everybody.
func Compile(src string) (*Audience, error) {
	if src == "" {
		return &Audience{}, nil
	}
	if len(src) > MaxRuleLen {
		return nil, fmt.Errorf("an audience rule is at most %d characters", MaxRuleLen)
	}
	p, err := expr.Compile(src, expr.Env(Member{}), expr.AsBool(), expr.MaxNodes(maxRuleNodes))
	if err != nil {
		return nil, fmt.Errorf("audience rule: %v", err)
	}
	return &Audience{Source: src, program: p}, nil
}

// Match says whether a member is in the audience (a rule that fails on him: he is not).
func (a *Audience) Match(m Member) bool {
	if a == nil || a.program == nil {
		return true
	}
	out, err := expr.Run(a.program, m)
	ok, _ := out.(bool)
	return err == nil && ok
}

// Promotion is one merchant's promotion, as its record keeps it.
type Promotion struct {
	Code       string `json:"code"`     // what a buyer adds to PAY or JOINs; unique
	Merchant   string `json:"merchant"` // the merchant's code
	MerchantID uint64 `json:"merchant_id"`
	Name       string `json:"name"`
	Percent    uint64 `json:"percent,omitempty"` // a discount of this percent
	Fixed      uint64 `json:"fixed,omitempty"`   // or of this much (minor units)
	MinAmount  uint64 `json:"min_amount,omitempty"`
	Start      int64  `json:"start"`               // unix nanos
	End        int64  `json:"end,omitempty"`       // unix nanos; 0: until ended
	Days       []int  `json:"days,omitempty"`      // weekdays it runs (0 Sunday); empty: every day
	FromHour   int    `json:"from_hour,omitempty"` // hours it runs, [from, to) local; 0, 0: all day
	ToHour     int    `json:"to_hour,omitempty"`
	PerDay     int    `json:"per_day,omitempty"`    // uses per member per day; 0: no limit
	PerMember  int    `json:"per_member,omitempty"` // uses per member in all; 0: no limit
	// WithCode: only for buyers who add the code to PAY or joined it; else for every member
	// of the audience.
	WithCode bool   `json:"with_code,omitempty"`
	Audience string `json:"audience,omitempty"` // a rule over Member; "": everybody
	Budget   uint64 `json:"budget"`             // what the budget account was given
	Account  uint64 `json:"account"`            // the budget account
	Ended    int64  `json:"ended,omitempty"`    // unix nanos it was ended early
	Created  int64  `json:"created"`
}

var codeRE = regexp.MustCompile(`^[A-Z][A-Z0-9]{2,11}$`)

// Limits on a promotion.
const (
	MaxNameLen = 40
	MaxUses    = 1000
)

// Errors of Validate.
var errNoDiscount = errors.New("a promotion gives a percent (1-100) or a fixed amount, one of them")

// Validate says what is wrong with a promotion about to be saved.
func (p *Promotion) Validate() error {
	switch {
	case !codeRE.MatchString(p.Code):
		return fmt.Errorf("code %q: 3 to 12 capital letters and digits, a letter first", p.Code)
	case p.Name == "" || len(p.Name) > MaxNameLen:
		return fmt.Errorf("a name of 1 to %d bytes", MaxNameLen)
	case (p.Percent == 0) == (p.Fixed == 0) || p.Percent > 100:
		return errNoDiscount
	case p.End != 0 && p.End <= p.Start:
		return errors.New("the end must come after the start")
	case p.FromHour < 0 || p.ToHour > 24 || p.FromHour > p.ToHour || (p.FromHour == p.ToHour && p.FromHour != 0):
		return errors.New("hours: from 0-23 before to 1-24, or both 0 for all day")
	case p.PerDay < 0 || p.PerMember < 0 || p.PerDay > MaxUses || p.PerMember > MaxUses:
		return fmt.Errorf("limits per member: 0 (none) to %d", MaxUses)
	case p.Budget == 0:
		return errors.New("a budget above zero: the discounts are paid from it")
	case p.Fixed > p.Budget:
		return errors.New("a fixed discount larger than the budget could never be given")
	}
	for _, d := range p.Days {
		if d < 0 || d > 6 {
			return errors.New("days: 0 (Sunday) to 6 (Saturday)")
		}
	}
	_, err := Compile(p.Audience)
	return err
}

// Discount is what the promotion takes off amount: never all of it.
func (p *Promotion) Discount(amount uint64) uint64 {
	d := p.Fixed
	if p.Percent > 0 {
		d = amount/100*p.Percent + amount%100*p.Percent/100
	}
	if d >= amount {
		return 0 // a promotion lowers a price, it never pays for all of it
	}
	return d
}

// Runs says whether the promotion runs at at (its dates, days and hours, in loc) for an
// amount.
func (p *Promotion) Runs(at time.Time, loc *time.Location, amount uint64) bool {
	now := at.UnixNano()
	if now < p.Start || (p.End != 0 && now >= p.End) || (p.Ended != 0 && now >= p.Ended) || amount < p.MinAmount {
		return false
	}
	local := at.In(loc)
	if len(p.Days) > 0 && !slices.Contains(p.Days, int(local.Weekday())) {
		return false
	}
	if p.ToHour != 0 && (local.Hour() < p.FromHour || local.Hour() >= p.ToHour) {
		return false
	}
	return true
}

// Use is one member's use of one promotion.
type Use struct {
	Joined bool  `json:"joined,omitempty"`
	Left   bool  `json:"left,omitempty"` // he left it: nothing applies to him any more
	Count  int   `json:"count,omitempty"`
	Day    int64 `json:"day,omitempty"` // the day of DayCount, days since 1970 (local)
	OnDay  int   `json:"on_day,omitempty"`
}

// Day is the day at falls on, in loc, as days since 1970.
func Day(at time.Time, loc *time.Location) int64 {
	t := at.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// Allows says whether a member with use u may use the promotion once more on day.
func (p *Promotion) Allows(u Use, day int64) bool {
	if u.Left {
		return false
	}
	if p.PerMember > 0 && u.Count >= p.PerMember {
		return false
	}
	return p.PerDay == 0 || u.Day != day || u.OnDay < p.PerDay
}

// Take counts one use on day.
func (u *Use) Take(day int64) {
	u.Count++
	if u.Day != day {
		u.Day, u.OnDay = day, 0
	}
	u.OnDay++
}

// Counts says whether members' uses must be counted: a limit per member, or a code (which
// members join). An automatic promotion without limits needs no record per member.
func (p *Promotion) Counts() bool { return p.PerDay > 0 || p.PerMember > 0 || p.WithCode }
