package fraud

import (
	"math"
	"time"
)

// unit says how Explain writes a rule's value.
type unit uint8

const (
	unitCount  unit = iota // 14
	unitAmount             // 1200.00 (minor units written as major)
	unitRatio              // 8.2x
	unitDays               // 45d
	unitShare              // 45%
)

// param is one of a rule's parameters; max 0 is no upper bound.
type param struct {
	name     string
	def, max float64
}

const maxParams = 3

// ruleDef is one rule: how its value is computed, and its default tuning.
type ruleDef struct {
	id       string
	unit     unit
	refunds  bool // it looks at refunds too (the others look at payments only)
	params   []param
	bands    []Band
	products []string
	kind     kind
}

// kind names a rule's value function, called through a switch rather than a function
// value so that nothing a decision looks at leaves the stack.
type kind uint8

const (
	kPayerCountHour kind = iota
	kPayerAmountDay
	kPayerCountDay
	kPayeeFanIn
	kPayerFanOut
	kNewPayeeLarge
	kDormantThenPay
	kSendAfterReset
	kWrongCodesAcross
	kJustUnderLimit
	kCheckoutBurst
	kMerchantRefundRatio
	kNightBurst
)

// value computes the rule's value; p holds its parameters in the order of params.
func (d *ruleDef) value(v *view, p *[maxParams]float64) float64 {
	switch d.kind {
	case kPayerCountHour:
		return payerCountHour(v, p)
	case kPayerAmountDay:
		return payerAmountDay(v, p)
	case kPayerCountDay:
		return payerCountDay(v, p)
	case kPayeeFanIn:
		return payeeFanIn(v, p)
	case kPayerFanOut:
		return payerFanOut(v, p)
	case kNewPayeeLarge:
		return newPayeeLarge(v, p)
	case kDormantThenPay:
		return dormantThenPay(v, p)
	case kSendAfterReset:
		return sendAfterReset(v, p)
	case kWrongCodesAcross:
		return wrongCodesAcross(v, p)
	case kJustUnderLimit:
		return justUnderLimit(v, p)
	case kCheckoutBurst:
		return checkoutBurst(v, p)
	case kMerchantRefundRatio:
		return merchantRefundRatio(v, p)
	case kNightBurst:
		return nightBurst(v, p)
	}
	return 0
}

// view is what a rule sees of one decision.
type view struct {
	in                    *Input
	payer, payee, service *Activity
	nowMin                int64
}

var empty Activity

func newView(in *Input) view {
	v := view{in: in, payer: in.Payer, payee: in.Payee, service: in.Service, nowMin: minuteOf(in.Now)}
	if v.payer == nil {
		v.payer = &empty
	}
	if v.payee == nil {
		v.payee = &empty
	}
	if v.service == nil {
		v.service = &empty
	}
	return v
}

const (
	hourMin = 60
	tenMin  = 10
)

// rules are every rule this package knows, in the order Default lists them.
var rules = []ruleDef{
	{id: "payer_count_hour", kind: kPayerCountHour,
		bands: []Band{{6, 25}, {12, 60}, {25, 100}}},
	{id: "payer_amount_day", unit: unitAmount, kind: kPayerAmountDay,
		bands: []Band{{100_000, 25}, {300_000, 60}, {1_000_000, 100}}},
	{id: "payer_count_day", kind: kPayerCountDay,
		bands: []Band{{20, 25}, {40, 60}, {80, 100}}},
	{id: "payee_fan_in", kind: kPayeeFanIn, products: []string{"send"},
		bands: []Band{{5, 25}, {10, 60}, {20, 100}}},
	{id: "payer_fan_out", kind: kPayerFanOut,
		bands: []Band{{6, 25}, {12, 60}, {24, 100}}},
	{id: "new_payee_large", unit: unitRatio, kind: kNewPayeeLarge,
		params: []param{{"floor", 10_000, 0}, {"min_history", 3, 0}, {"min_amount", 2_000, 0}},
		bands:  []Band{{5, 25}, {10, 40}, {20, 60}}},
	{id: "dormant_then_pay", unit: unitDays, kind: kDormantThenPay,
		params: []param{{"min_amount", 20_000, 0}},
		bands:  []Band{{30, 25}, {90, 60}}},
	{id: "send_after_reset", unit: unitAmount, kind: kSendAfterReset, products: []string{"send"},
		params: []param{{"hours", 24, 24 * 365}},
		bands:  []Band{{5_000, 25}, {20_000, 60}, {50_000, 100}}},
	{id: "wrong_codes_across", kind: kWrongCodesAcross,
		params: []param{{"service_weight", 0.5, 0}},
		bands:  []Band{{5, 25}, {10, 60}, {16, 100}}},
	{id: "just_under_limit", kind: kJustUnderLimit,
		params: []param{{"within", 0.1, 1}},
		bands:  []Band{{2, 25}, {3, 60}, {5, 100}}},
	{id: "checkout_burst", kind: kCheckoutBurst,
		bands: []Band{{5, 25}, {10, 60}, {20, 100}}},
	{id: "merchant_refund_ratio", unit: unitShare, refunds: true, kind: kMerchantRefundRatio,
		params: []param{{"min_paid", 50_000, 0}},
		bands:  []Band{{0.3, 25}, {0.6, 60}, {1, 100}}},
	{id: "night_burst", kind: kNightBurst,
		bands: []Band{{3, 25}, {6, 60}, {10, 100}}},
}

func ruleByID(id string) *ruleDef {
	for i := range rules {
		if rules[i].id == id {
			return &rules[i]
		}
	}
	return nil
}

// payerCountHour: payments by the payer in the last hour, this one included.
func payerCountHour(v *view, _ *[maxParams]float64) float64 {
	return float64(v.payer.Hour.count(v.in.Now) + 1)
}

// payerAmountDay: what the payer paid in the last 24 hours, this payment included.
func payerAmountDay(v *view, _ *[maxParams]float64) float64 {
	return float64(v.payer.Day.amount(v.in.Now)) + float64(v.in.Amount)
}

// payerCountDay: payments by the payer in the last 24 hours, this one included.
func payerCountDay(v *view, _ *[maxParams]float64) float64 {
	return float64(v.payer.Day.count(v.in.Now) + 1)
}

// payeeFanIn: distinct payers who paid the payee in the last hour, this payer included.
func payeeFanIn(v *view, _ *[maxParams]float64) float64 {
	n, found := distinct(v.payee.Peers, v.nowMin, hourMin, false, v.in.PayerID)
	return plusCurrent(n, found, v.in.PayerID != 0)
}

// payerFanOut: distinct payees the payer paid in the last hour, this payee included.
func payerFanOut(v *view, _ *[maxParams]float64) float64 {
	n, found := distinct(v.payer.Peers, v.nowMin, hourMin, false, v.in.PayeeID)
	return plusCurrent(n, found, v.in.PayeeID != 0)
}

// checkoutBurst: distinct payers who paid the payee through the web checkout in the last ten
// minutes, this payer included when he pays through it.
func checkoutBurst(v *view, _ *[maxParams]float64) float64 {
	n, found := distinct(v.payee.Peers, v.nowMin, tenMin, true, v.in.PayerID)
	return plusCurrent(n, found, v.in.Channel == "web" && v.in.PayerID != 0)
}

// plusCurrent adds the current counterparty, when it counts, to a distinct count it is not
// in yet.
func plusCurrent(n int, found, counts bool) float64 {
	if counts && !found {
		n++
	}
	return float64(n)
}

// newPayeeLarge: when the payee is not among the payer's known payees, the amount over the
// payer's usual amount (over the floor while he has fewer than min_history payments).
// Amounts under min_amount are not scored.
func newPayeeLarge(v *view, p *[maxParams]float64) float64 {
	floor, minHistory, minAmount := p[0], p[1], p[2]
	if v.in.PayeeID == 0 || float64(v.in.Amount) < minAmount || known(v.payer.Peers, v.in.PayeeID) {
		return 0
	}
	usual := float64(v.payer.Usual)
	if float64(v.payer.Payments) < minHistory {
		usual = floor
	}
	return float64(v.in.Amount) / max(usual, 1)
}

// dormantThenPay: whole days since the payer's previous payment, when this amount is at
// least min_amount and he paid before.
func dormantThenPay(v *view, p *[maxParams]float64) float64 {
	if v.payer.LastPaid == 0 || float64(v.in.Amount) < p[0] || v.in.Now <= v.payer.LastPaid {
		return 0
	}
	return math.Floor(since(v.in.Now, v.payer.LastPaid) / float64(24*time.Hour))
}

// sendAfterReset: the amount, when it is sent within hours after the payer's PIN reset or
// tier change.
func sendAfterReset(v *view, p *[maxParams]float64) float64 {
	last := v.payer.LastReset
	if last == 0 || v.in.Now < last || since(v.in.Now, last) > p[0]*float64(time.Hour) {
		return 0
	}
	return float64(v.in.Amount)
}

// wrongCodesAcross: distinct numbers that typed a wrong code in the last ten minutes on
// this payee, or across the service (weighted by service_weight), whichever is more.
func wrongCodesAcross(v *view, p *[maxParams]float64) float64 {
	payee, _ := distinct(v.payee.Failed, v.nowMin, tenMin, false, 0)
	service, _ := distinct(v.service.Failed, v.nowMin, tenMin, false, 0)
	return max(float64(payee), float64(service)*p[0])
}

// justUnderLimit: when the amount is within the fraction `within` below the payer's
// per-payment limit, how many such payments he made in the last 24 hours, this one included.
func justUnderLimit(v *view, p *[maxParams]float64) float64 {
	limit := v.in.PerPaymentLimit
	if !nearLimit(v.in.Amount, limit, p[0]) {
		return 0
	}
	n := 1
	for _, r := range v.payer.Recent {
		if r[0] > v.nowMin-24*hourMin && r[0] <= v.nowMin && nearLimit(uint64(r[1]), limit, p[0]) {
			n++
		}
	}
	return float64(n)
}

func nearLimit(amount, limit uint64, within float64) bool {
	return limit > 0 && amount <= limit && float64(amount) >= float64(limit)-float64(limit)*within
}

// maxRefundRatio is the value of a merchant who refunds without having been paid.
const maxRefundRatio = 10

// merchantRefundRatio: what the payee merchant refunded over what he was paid in the last
// seven days, this operation included, once the two reach min_paid together.
func merchantRefundRatio(v *view, p *[maxParams]float64) float64 {
	paid, refunded := float64(v.payee.Week.paid(v.in.Now)), float64(v.payee.Week.refunded(v.in.Now))
	if v.in.Refund {
		refunded += float64(v.in.Amount)
	} else {
		paid += float64(v.in.Amount)
	}
	if paid+refunded < p[0] || refunded == 0 {
		return 0
	}
	if paid == 0 {
		return maxRefundRatio
	}
	return min(refunded/paid, maxRefundRatio)
}

// nightBurst: payments the payer made in his local night (00:00 to 05:00) in the last hour,
// this one included when it is at night.
func nightBurst(v *view, _ *[maxParams]float64) float64 {
	n := v.payer.Hour.night(v.in.Now)
	if v.in.Local < nightEnd {
		n++
	}
	return float64(n)
}

// since is now-then in nanoseconds, as a float so that no time overflows it.
func since(now, then int64) float64 { return float64(now) - float64(then) }
