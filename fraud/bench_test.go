package fraud

import (
	"testing"
	"time"
)

// full is an activity with every list full and every window busy.
func full(seed uint64) *Activity {
	a := &Activity{}
	for i := range 3000 {
		t := at(-time.Duration(i) * 3 * time.Minute)
		id := seed + uint64(i%40)
		paid(a, t, uint64(1_000+i), id, []string{"sms", "web"}[i%2], uint8(i%24))
		a.Observe(Event{Time: t, Kind: WrongPIN, Counterparty: id})
		if i%10 == 0 {
			a.Observe(Event{Time: t, Kind: Refund, Amount: 300})
		}
	}
	a.Observe(Event{Time: at(-time.Hour), Kind: PINReset})
	return a
}

// BenchmarkDecide is one decision with the default rules over full activities:
// go test -run '^$' -bench Decide -benchmem ./fraud/
func BenchmarkDecide(b *testing.B) {
	e := defaultEngine(b)
	in := Input{Now: t0, Amount: 45_000, Product: "send", Channel: "web", Payer: full(100), Payee: full(200),
		Service: full(300), PayerID: alice, PayeeID: purse, PerPaymentLimit: 50_000, Local: 3}
	if d := e.Decide(in); len(d.Hits) < 5 {
		b.Fatalf("the benchmark's input should make rules fire: %s", Explain(d))
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(in)
	}
}

// BenchmarkObserve is one payment folded into a full activity.
func BenchmarkObserve(b *testing.B) {
	a := full(100)
	ev := Event{Time: t0, Kind: Paid, Amount: 1_000, Counterparty: 105, Channel: "sms", Local: 12}
	b.ReportAllocs()
	for b.Loop() {
		ev.Time += int64(time.Second)
		a.Observe(ev)
	}
}
