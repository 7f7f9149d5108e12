package fraud

import (
	"time"
)

// The patterns below build the history each rule is there to catch, then the operation
// that completes it. They take their numbers from a draw, so the table test runs them at
// the mildest end of their range and the property test anywhere in it.

// draw picks a whole number in [lo, hi].
type draw func(lo, hi int, label string) int

// mildest always picks the low end: the weakest form of each pattern.
func mildest(lo, _ int, _ string) int { return lo }

// t0 is a Tuesday noon, UTC.
var t0 = time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC).UnixNano()

const (
	alice   = 1001 // the payer under watch
	shop    = 2001 // alice's usual merchant
	newShop = 2999 // a merchant alice never paid
	purse   = 3001 // a purse receiving sends
)

func at(d time.Duration) int64 { return t0 + int64(d) }

func paid(a *Activity, t int64, amount, counterparty uint64, channel string, local uint8) {
	a.Observe(Event{Time: t, Kind: Paid, Amount: amount, Counterparty: counterparty,
		Product: "pay", Channel: channel, Local: local})
}

// pay is alice paying amount to payee now, through SMS at 14:00 local time.
func pay(payer, payee *Activity, payeeID, amount uint64) Input {
	return Input{Now: t0, Amount: amount, Product: "pay", Channel: "sms", Payer: payer, Payee: payee,
		PayerID: alice, PayeeID: payeeID, Local: 14}
}

// history gives alice n payments of amount to shop, one a day before the last day.
func history(n int, amount uint64) *Activity {
	a := &Activity{}
	for i := n; i > 0; i-- {
		paid(a, at(-time.Duration(i)*24*time.Hour-3*time.Hour), amount, shop, "sms", 10)
	}
	return a
}

type pattern struct {
	rule  string
	build func(d draw) Input
}

var patterns = []pattern{
	{"payer_count_hour", func(d draw) Input {
		a := history(5, 500)
		n := d(5, 20, "payments")
		for i := range n {
			paid(a, at(-50*time.Minute+time.Duration(i)*time.Minute), 500, shop, "sms", 14)
		}
		return pay(a, nil, shop, 500)
	}},
	{"payer_amount_day", func(d draw) Input {
		amount := uint64(d(60_000, 200_000, "amount"))
		a := history(5, amount)
		k := d(4, 6, "payments")
		for i := range k {
			paid(a, at(-20*time.Hour+time.Duration(i)*3*time.Hour), amount, shop, "sms", 12)
		}
		return pay(a, nil, shop, amount)
	}},
	{"payer_count_day", func(d draw) Input {
		a := history(5, 500)
		n := d(19, 40, "payments")
		for i := range n {
			paid(a, at(-20*time.Hour+time.Duration(i)*30*time.Minute), 500, shop, "sms", 12)
		}
		return pay(a, nil, shop, 500)
	}},
	{"payee_fan_in", func(d draw) Input {
		mule := &Activity{}
		n := d(4, 20, "payers")
		for i := range n {
			paid(mule, at(-50*time.Minute+time.Duration(i)*2*time.Minute), 2_000, uint64(5000+i), "sms", 12)
		}
		in := pay(history(5, 2_000), mule, purse, 2_000)
		in.Product = "send"
		return in
	}},
	{"payer_fan_out", func(d draw) Input {
		a := history(5, 500)
		n := d(5, 20, "payees")
		for i := range n {
			paid(a, at(-50*time.Minute+time.Duration(i)*2*time.Minute), 500, uint64(6000+i), "sms", 12)
		}
		return pay(a, nil, newShop, 500)
	}},
	{"new_payee_large", func(d draw) Input {
		usual := uint64(d(500, 2_000, "usual"))
		a := history(d(3, 10, "history"), usual)
		return pay(a, nil, newShop, usual*uint64(d(5, 30, "times")))
	}},
	{"dormant_then_pay", func(d draw) Input {
		a := &Activity{}
		paid(a, at(-time.Duration(d(30, 400, "days"))*24*time.Hour), 3_000, shop, "sms", 12)
		return pay(a, nil, shop, uint64(d(20_000, 60_000, "amount")))
	}},
	{"send_after_reset", func(d draw) Input {
		a := history(5, 2_000)
		a.Observe(Event{Time: at(-time.Duration(d(0, 23*60, "minutes")) * time.Minute), Kind: PINReset})
		in := pay(a, nil, purse, uint64(d(5_000, 60_000, "amount")))
		in.Product = "send"
		return in
	}},
	{"wrong_codes_across", func(d draw) Input {
		merchant, service := &Activity{}, &Activity{}
		n := d(5, 16, "numbers")
		for i := range n {
			ev := Event{Time: at(-9*time.Minute + time.Duration(i)*20*time.Second), Kind: WrongPIN, Counterparty: uint64(7000 + i)}
			merchant.Observe(ev)
			service.Observe(ev)
		}
		in := pay(history(5, 500), merchant, shop, 500)
		in.Service = service
		return in
	}},
	{"wrong_codes_across", func(d draw) Input { // credential stuffing seen only service-wide
		service := &Activity{}
		for i := range d(10, 40, "numbers") {
			service.Observe(Event{Time: at(-9*time.Minute + time.Duration(i)*10*time.Second), Kind: WrongPIN, Counterparty: uint64(7000 + i)})
		}
		in := pay(history(5, 500), nil, shop, 500)
		in.Service = service
		return in
	}},
	{"just_under_limit", func(d draw) Input {
		const limit = 50_000
		a := history(5, 2_000)
		for i := range d(1, 5, "payments") {
			paid(a, at(-20*time.Hour+time.Duration(i)*3*time.Hour), uint64(d(45_000, limit, "amount")), shop, "sms", 12)
		}
		in := pay(a, nil, shop, uint64(d(45_000, limit, "amount")))
		in.PerPaymentLimit = limit
		return in
	}},
	{"checkout_burst", func(d draw) Input {
		merchant := &Activity{}
		for i := range d(4, 31, "payers") {
			paid(merchant, at(-9*time.Minute+time.Duration(i)*15*time.Second), 1_500, uint64(8000+i), "web", 12)
		}
		in := pay(history(5, 1_500), merchant, shop, 1_500)
		in.Channel = "web"
		return in
	}},
	{"merchant_refund_ratio", func(d draw) Input {
		merchant := &Activity{}
		sales := uint64(d(50_000, 200_000, "sales"))
		paid(merchant, at(-3*24*time.Hour), sales, 9001, "sms", 12)
		refund := sales * uint64(d(31, 150, "percent")) / 100
		merchant.Observe(Event{Time: at(-2 * 24 * time.Hour), Kind: Refund, Amount: refund, Counterparty: 9001})
		return pay(history(5, 100), merchant, shop, 100)
	}},
	{"merchant_refund_ratio", func(d draw) Input { // the merchant refunding
		merchant := &Activity{}
		sales := uint64(d(50_000, 200_000, "sales"))
		paid(merchant, at(-3*24*time.Hour), sales, 9001, "sms", 12)
		in := pay(nil, merchant, shop, sales*uint64(d(31, 150, "percent"))/100)
		in.Refund = true
		return in
	}},
	{"night_burst", func(d draw) Input {
		a := history(5, 1_000)
		for i := range d(2, 9, "payments") {
			paid(a, at(-50*time.Minute+time.Duration(i)*5*time.Minute), 1_000, shop, "sms", 2)
		}
		in := pay(a, nil, shop, 1_000)
		in.Local = 3
		return in
	}},
}
