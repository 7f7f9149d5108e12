package fraud

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Each rule fires on its pattern wherever in the pattern's range the numbers fall.
func TestPatternsFireProperty(t *testing.T) {
	e := defaultEngine(t)
	rapid.Check(t, func(rt *rapid.T) {
		p := rapid.SampledFrom(patterns).Draw(rt, "pattern")
		d := e.Decide(p.build(func(lo, hi int, label string) int {
			return rapid.IntRange(lo, hi).Draw(rt, label)
		}))
		if _, ok := hitOf(d, p.rule); !ok || d.Action < Review {
			rt.Fatalf("%s did not fire: %s", p.rule, Explain(d))
		}
	})
}

// town is a simulated service: subscribers paying a handful of usual merchants and
// friends their usual amounts in the daytime, merchants now and then refunding part of a
// sale, fingers now and then slipping on a PIN.
type town struct {
	e        *Engine
	service  Activity
	acts     map[uint64]*Activity // payers' and payees' activities, by account id
	payers   []subscriber
	refunds  int
	payments int
	reviews  int
}

type subscriber struct {
	id         uint64
	usual      uint64 // minor units
	favourites []int
	friends    []uint64
	perDay     int
	tz         int // hours from UTC
}

func (w *town) activity(id uint64) *Activity {
	if w.acts[id] == nil {
		w.acts[id] = &Activity{}
	}
	return w.acts[id]
}

// A month of normal traffic never holds or declines anything.
func TestNormalTrafficNeverHolds(t *testing.T) {
	e := defaultEngine(t)
	var payments, refunds, reviews int
	rapid.Check(t, func(rt *rapid.T) {
		w := &town{e: e, acts: map[uint64]*Activity{}}
		defer func() { payments, refunds, reviews = payments+w.payments, refunds+w.refunds, reviews+w.reviews }()
		merchants := rapid.IntRange(3, 10).Draw(rt, "merchants")
		for i := range rapid.IntRange(1, 8).Draw(rt, "payers") {
			w.payers = append(w.payers, drawSubscriber(rt, uint64(1000+i), merchants))
		}
		for day := range rapid.IntRange(7, 28).Draw(rt, "days") {
			w.day(rt, day)
		}
	})
	t.Logf("%d payments, %d refunds, %d reviews", payments, refunds, reviews)
}

func drawSubscriber(rt *rapid.T, id uint64, merchants int) subscriber {
	shop := rapid.IntRange(2000, 2000+merchants-1)
	return subscriber{
		id:         id,
		usual:      uint64(rapid.IntRange(100, 15_000).Draw(rt, "usual")),
		favourites: rapid.SliceOfNDistinct(shop, 1, min(5, merchants), rapid.ID[int]).Draw(rt, "favourites"),
		friends:    []uint64{3000 + id, 4000 + id},
		perDay:     rapid.IntRange(1, 4).Draw(rt, "perDay"),
		tz:         rapid.IntRange(-3, 3).Draw(rt, "tz"),
	}
}

// step is one thing a subscriber does in the simulated day.
type step struct {
	at     int64
	s      *subscriber
	payee  uint64
	amount uint64
	send   bool
	web    bool
	slip   bool // a wrong PIN first
	refund bool // the merchant then refunds part of it
}

func (w *town) day(rt *rapid.T, day int) {
	var steps []step
	for i := range w.payers {
		s := &w.payers[i]
		for range rapid.IntRange(1, s.perDay).Draw(rt, "payments") {
			steps = append(steps, drawStep(rt, s, day))
		}
	}
	slices.SortFunc(steps, func(a, b step) int { return cmp.Compare(a.at, b.at) })
	for _, st := range steps {
		w.play(rt, st)
	}
}

func drawStep(rt *rapid.T, s *subscriber, day int) step {
	localMinute := rapid.IntRange(8*60, 21*60+59).Draw(rt, "local minute")
	midnight := t0 - int64(12*time.Hour)
	at := midnight + int64(time.Duration(day)*24*time.Hour+time.Duration(localMinute-s.tz*60)*time.Minute)
	st := step{at: at, s: s, web: rapid.IntRange(0, 3).Draw(rt, "web") == 2}
	st.amount = s.usual * uint64(rapid.IntRange(50, 150).Draw(rt, "percent")) / 100
	if rapid.IntRange(0, 9).Draw(rt, "send") == 5 {
		st.send, st.web = true, false
		st.payee = rapid.SampledFrom(s.friends).Draw(rt, "friend")
	} else {
		st.payee = uint64(rapid.SampledFrom(s.favourites).Draw(rt, "merchant"))
	}
	// (rapid favours small numbers, so a rare event is a number from the middle)
	st.slip = rapid.IntRange(0, 9).Draw(rt, "slip") == 5
	st.refund = !st.send && rapid.IntRange(0, 49).Draw(rt, "refund") == 25
	return st
}

func (w *town) play(rt *rapid.T, st step) {
	payer, payee := w.activity(st.s.id), w.activity(st.payee)
	local := uint8((st.at/int64(time.Hour) + int64(st.s.tz) + 24) % 24)
	if st.slip {
		ev := Event{Time: st.at - int64(time.Minute), Kind: WrongPIN, Counterparty: st.s.id}
		w.service.Observe(ev)
		payee.Observe(ev)
	}
	in := Input{Now: st.at, Amount: st.amount, Product: "pay", Channel: "sms", Payer: payer, Payee: payee,
		Service: &w.service, PayerID: st.s.id, PayeeID: st.payee, PerPaymentLimit: 100_000, Local: local}
	if st.send {
		in.Product = "send"
	}
	if st.web {
		in.Channel = "web"
	}
	w.decide(rt, in)
	w.payments++
	ev := Event{Time: st.at, Kind: Paid, Amount: st.amount, Product: in.Product, Channel: in.Channel, Local: local}
	ev.Counterparty = st.payee
	payer.Observe(ev)
	ev.Counterparty = st.s.id
	payee.Observe(ev)
	if st.refund {
		w.refund(rt, st, payer, payee)
	}
}

// refund is the merchant giving back up to half of a sale, an hour after it.
func (w *town) refund(rt *rapid.T, st step, customer, merchant *Activity) {
	amount := st.amount * uint64(rapid.IntRange(10, 50).Draw(rt, "refund percent")) / 100
	at := st.at + int64(time.Hour)
	w.decide(rt, Input{Now: at, Amount: amount, Product: "pay", Channel: "operator", Payer: customer,
		Payee: merchant, Service: &w.service, PayerID: st.s.id, PayeeID: st.payee, Local: 255, Refund: true})
	w.refunds++
	ev := Event{Time: at, Kind: Refund, Amount: amount, Counterparty: st.s.id}
	merchant.Observe(ev)
}

func (w *town) decide(rt *rapid.T, in Input) {
	d := w.e.Decide(in)
	if d.Action == Review {
		w.reviews++
	}
	if d.Action > Review {
		rt.Fatalf("normal traffic (payment %d, refund %d) was %s: %s\ninput %+v",
			w.payments, w.refunds, d.Action, Explain(d), in)
	}
}
