package fraud

import (
	"cmp"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// shape is how a stream of random events is drawn: rapid picks the shape (and shrinks
// it), a seeded generator the thousands of events.
type shape struct {
	n       int
	seed    uint64
	times   int // 0 in order, 1 shuffled over a fortnight, 2 anywhere an int64 reaches
	ids     int // 0 a few small ids, 1 any uint64, 2 all unknown (0), 3 fewer than MaxFailed
	amounts int // 0 everyday amounts, 1 any uint64
}

func drawShape(rt *rapid.T, most int) shape {
	return shape{
		n:       rapid.IntRange(0, most).Draw(rt, "events"),
		seed:    rapid.Uint64().Draw(rt, "seed"),
		times:   rapid.IntRange(0, 2).Draw(rt, "times"),
		ids:     rapid.IntRange(0, 2).Draw(rt, "ids"),
		amounts: rapid.IntRange(0, 1).Draw(rt, "amounts"),
	}
}

var channels = []string{"sms", "web", "bank", "credit", "operator", ""}

func (s shape) events() []Event {
	r := rand.New(rand.NewPCG(s.seed, 7))
	out := make([]Event, s.n)
	now := t0
	for i := range out {
		ev := Event{Kind: EventKind(r.IntN(9)), Channel: channels[r.IntN(len(channels))], Local: uint8(r.IntN(256))}
		switch s.times {
		case 0:
			now += r.Int64N(int64(10 * time.Minute))
			ev.Time = now
		case 1:
			ev.Time = t0 + r.Int64N(int64(14*24*time.Hour))
		default:
			ev.Time = int64(r.Uint64())
		}
		switch s.ids {
		case 0:
			ev.Counterparty = r.Uint64N(60)
		case 1:
			ev.Counterparty = r.Uint64()
		case 3:
			ev.Counterparty = r.Uint64N(MaxFailed + 1)
		}
		ev.Amount = r.Uint64N(50_000)
		if s.amounts == 1 {
			ev.Amount = r.Uint64()
		}
		out[i] = ev
	}
	return out
}

// checkBounds fails when a keeps more than its bounds allow or its JSON does not read back.
func checkBounds(t interface{ Fatalf(string, ...any) }, a *Activity) {
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if len(b) > MaxActivityJSON {
		t.Fatalf("JSON is %d bytes, over %d", len(b), MaxActivityJSON)
	}
	if len(a.Peers) > MaxPeers || len(a.Failed) > MaxFailed || len(a.Recent) > MaxRecent {
		t.Fatalf("lists too long: %d peers, %d failed, %d recent", len(a.Peers), len(a.Failed), len(a.Recent))
	}
	for _, list := range [][]Peer{a.Peers, a.Failed} {
		ids := map[uint64]bool{}
		for _, p := range list {
			if p.ID == 0 || ids[p.ID] {
				t.Fatalf("peer id %d kept twice or unknown", p.ID)
			}
			ids[p.ID] = true
		}
	}
	var back Activity
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if again, _ := json.Marshal(&back); string(again) != string(b) {
		t.Fatalf("JSON does not read back:\n%s\n%s", b, again)
	}
}

// Whatever it observes, up to 5000 events, an activity's JSON stays under 3500 bytes, its
// lists within their bounds, and it reads back as it was written.
func TestActivityJSONBoundedProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var a Activity
		for i, ev := range drawShape(rt, 5000).events() {
			a.Observe(ev)
			if i%500 == 0 {
				checkBounds(rt, &a)
			}
		}
		checkBounds(rt, &a)
	})
}

// The same, with every event drawn (and shrunk) by rapid, extreme values included.
func TestObserveAnyEventProperty(t *testing.T) {
	ev := rapid.Custom(func(rt *rapid.T) Event {
		return Event{
			Time:         rapid.Int64().Draw(rt, "time"),
			Kind:         EventKind(rapid.IntRange(0, 9).Draw(rt, "kind")),
			Amount:       rapid.Uint64().Draw(rt, "amount"),
			Counterparty: rapid.Uint64().Draw(rt, "counterparty"),
			Channel:      rapid.SampledFrom(channels).Draw(rt, "channel"),
			Local:        rapid.Uint8().Draw(rt, "local"),
		}
	})
	rapid.Check(t, func(rt *rapid.T) {
		var a Activity
		for _, e := range rapid.SliceOfN(ev, 0, 200).Draw(rt, "events") {
			a.Observe(e)
		}
		checkBounds(rt, &a)
		defaultEngine(rt).Decide(Input{Now: rapid.Int64().Draw(rt, "now"), Amount: rapid.Uint64().Draw(rt, "amount"),
			Payer: &a, Payee: &a, Service: &a, PayerID: 1, PayeeID: 2, PerPaymentLimit: rapid.Uint64().Draw(rt, "limit")})
	})
}

// The fullest activity there can be (every list full, every number its widest) fits.
func TestActivityWorstCaseJSON(t *testing.T) {
	a := Activity{LastPaid: math.MinInt64, LastReset: math.MinInt64, Usual: maxAmount, Payments: maxCount}
	a.Hour.Base, a.Day.Base, a.Week.Base = math.MinInt64/int64(hourBucket), math.MinInt64/int64(dayBucket), math.MinInt64/int64(weekBucket)
	for _, col := range [][]uint64{a.Hour.Count[:], a.Hour.Night[:], a.Day.Count[:]} {
		fill(col, maxCount)
	}
	for _, col := range [][]uint64{a.Day.Amount[:], a.Week.Paid[:], a.Week.Refunded[:]} {
		fill(col, maxAmount)
	}
	widest := Peer{ID: math.MaxUint64, Minute: minuteOf(math.MinInt64), Web: true}
	a.Peers = slices.Repeat([]Peer{widest}, MaxPeers)
	a.Failed = slices.Repeat([]Peer{widest}, MaxFailed)
	a.Recent = slices.Repeat([]Recent{{minuteOf(math.MinInt64), maxAmount}}, MaxRecent)
	b, err := json.Marshal(&a)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the fullest activity is %d bytes", len(b))
	if len(b) > MaxActivityJSON {
		t.Fatalf("%d bytes, over %d", len(b), MaxActivityJSON)
	}
}

func fill(col []uint64, v uint64) {
	for i := range col {
		col[i] = v
	}
}

// Events inside the windows, observed in any order, leave the windows as observing them
// in time order does; a foreign record that is too long is trimmed when read.
func TestObserveOrderDoesNotMatterToWindows(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := drawShape(rt, 400)
		s.times, s.ids = 1, 3 // shuffled over a fortnight; fewer ids than the lists' bounds
		evs := s.events()
		var shuffled, sorted Activity
		for _, ev := range evs {
			shuffled.Observe(ev)
		}
		slices.SortStableFunc(evs, func(a, b Event) int { return cmp.Compare(a.Time, b.Time) })
		for _, ev := range evs {
			sorted.Observe(ev)
		}
		if shuffled.Hour != sorted.Hour || shuffled.Day != sorted.Day || shuffled.Week != sorted.Week {
			rt.Fatalf("windows differ:\n%+v\n%+v", shuffled, sorted)
		}
		if shuffled.LastPaid != sorted.LastPaid || shuffled.LastReset != sorted.LastReset {
			rt.Fatalf("last times differ")
		}
		if !samePeers(shuffled.Failed, sorted.Failed) || !samePeers(shuffled.Peers, sorted.Peers) {
			rt.Fatalf("lists differ:\n%v\n%v", shuffled, sorted)
		}
	})
}

func samePeers(a, b []Peer) bool {
	key := func(p Peer) [2]int64 { return [2]int64{int64(p.ID), p.Minute} }
	ka, kb := make([][2]int64, len(a)), make([][2]int64, len(b))
	for i := range a {
		ka[i] = key(a[i])
	}
	for i := range b {
		kb[i] = key(b[i])
	}
	slices.SortFunc(ka, func(x, y [2]int64) int { return cmp.Compare(x[0], y[0]) })
	slices.SortFunc(kb, func(x, y [2]int64) int { return cmp.Compare(x[0], y[0]) })
	return slices.Equal(ka, kb)
}

// An event far in the past is left out; one far in the future empties the windows it
// moves past and the activity goes on from there.
func TestObserveFarTimes(t *testing.T) {
	var a Activity
	paid(&a, t0, 1_000, shop, "sms", 12)
	paid(&a, math.MinInt64, 1_000, shop, "sms", 12)
	if a.Day.amount(t0) != 1_000 || a.Hour.count(t0) != 1 {
		t.Fatalf("a far-past event changed today's windows: %+v", a.Day)
	}
	paid(&a, math.MaxInt64, 1_000, shop, "sms", 12)
	if a.Day.amount(t0) != 0 || a.Day.amount(math.MaxInt64) != 1_000 {
		t.Fatalf("a far-future event: %+v", a.Day)
	}
	checkBounds(t, &a)
}

// A record written by something else, too long and with numbers too large, is brought
// within bounds when read.
func TestForeignRecordTrimmed(t *testing.T) {
	var big Activity
	for i := range 100 {
		big.Peers = append(big.Peers, Peer{ID: uint64(i + 1), Minute: minuteOf(t0)})
		big.Recent = append(big.Recent, Recent{minuteOf(t0), -5})
	}
	fill(big.Day.Amount[:], math.MaxUint64)
	fill(big.Hour.Count[:], math.MaxUint64)
	big.Payments = math.MaxUint64
	b, _ := json.Marshal(&big)
	var a Activity
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	if len(a.Peers) != MaxPeers || len(a.Recent) != MaxRecent || a.Recent[0][1] != 0 {
		t.Fatalf("read %d peers, %d recent (%v)", len(a.Peers), len(a.Recent), a.Recent[0])
	}
	if a.Day.Amount[0] != maxAmount || a.Hour.Count[0] != maxCount || a.Payments != maxCount {
		t.Fatalf("numbers not brought within limits: %+v", a)
	}
	checkBounds(t, &a)
}

// Counting distinct counterparties saturates at MaxPeers: the least recently seen gives way.
func TestPeersSaturate(t *testing.T) {
	var a Activity
	for i := range MaxPeers + 10 {
		paid(&a, at(time.Duration(i)*time.Minute), 100, uint64(100+i), "web", 12)
	}
	if len(a.Peers) != MaxPeers || known(a.Peers, 100) || !known(a.Peers, uint64(100+MaxPeers+9)) {
		t.Fatalf("peers: %v", a.Peers)
	}
	n, _ := distinct(a.Peers, minuteOf(at(time.Hour)), hourMin, false, 0)
	if n != MaxPeers {
		t.Fatalf("distinct = %d, want %d", n, MaxPeers)
	}
}

// Every shape of stream at its longest, 5000 events, checked every 50 events.
func TestActivityJSONBoundedLongest(t *testing.T) {
	for times := range 3 {
		for ids := range 4 {
			for amounts := range 2 {
				var a Activity
				s := shape{n: 5000, seed: uint64(times*8 + ids*2 + amounts), times: times, ids: ids, amounts: amounts}
				for i, ev := range s.events() {
					a.Observe(ev)
					if i%50 == 49 {
						checkBounds(t, &a)
					}
				}
			}
		}
	}
}
