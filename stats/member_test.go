package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"mpg/domain"
	"pgregory.net/rapid"
)

var paris = mustLoad("Europe/Paris")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}

// day is a time in Paris.
func day(y int, mo time.Month, d, hh int) time.Time {
	return time.Date(y, mo, d, hh, 0, 0, 0, paris)
}

func pay(merchant uint64, amount uint64) domain.Fact {
	return domain.Fact{Kind: domain.FactPaid, Product: domain.ProductPay, Payer: 7, Payee: merchant, Amount: amount}
}

// TestObserveFirsts: each payer counts once a day, once a month and once ever, across the
// turn of a month and of a year in his own time zone.
func TestObserveFirsts(t *testing.T) {
	type firsts struct{ day, month, first bool }
	steps := []struct {
		at   time.Time
		f    domain.Fact
		want firsts
	}{
		{day(2026, 11, 30, 9), pay(1, 100), firsts{true, true, true}},
		{day(2026, 11, 30, 23), pay(1, 100), firsts{}},
		// 23:30 UTC on 30 November is already 1 December in Paris.
		{time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC), pay(1, 100), firsts{true, true, false}},
		{day(2026, 12, 1, 12), pay(2, 100), firsts{}},
		{day(2026, 12, 1, 13), domain.Fact{Kind: domain.FactRefund, Product: "pay", Payee: 2, Amount: 50}, firsts{}},
		{day(2026, 12, 2, 8), domain.Fact{Kind: domain.FactRefused, Amount: 100}, firsts{}},
		{day(2026, 12, 2, 9), pay(2, 100), firsts{true, false, false}},
		{day(2026, 12, 31, 23), pay(2, 100), firsts{true, false, false}},
		{day(2027, 1, 1, 0), pay(3, 100), firsts{true, true, false}},
		{day(2026, 12, 31, 22), pay(3, 100), firsts{}}, // late in the journal: counted, no first
	}
	var m Member
	for i, s := range steps {
		d, mo, f := m.Observe(s.f, s.at.UnixNano(), paris)
		if got := (firsts{d, mo, f}); got != s.want {
			t.Errorf("step %d at %s: firsts %+v, want %+v", i, s.at, got, s.want)
		}
	}
	if want := DayOf(day(2026, 11, 30, 0)); m.First != want {
		t.Errorf("First = %d, want %d", m.First, want)
	}
	if want := DayOf(day(2027, 1, 1, 0)); m.Last != want {
		t.Errorf("Last = %d, want %d", m.Last, want)
	}
	for _, tc := range []struct {
		month         time.Time
		count, amount int64
	}{
		{day(2026, 11, 1, 12), 2, 200},
		{day(2026, 12, 1, 12), 5, 450},
		{day(2027, 1, 1, 12), 1, 100},
	} {
		got := m.Tally(MonthOf(tc.month))
		if got.Count != tc.count || got.Amount != tc.amount {
			t.Errorf("%s: %+v, want %d payments of %d", MonthName(MonthOf(tc.month)), got, tc.count, tc.amount)
		}
	}
}

// TestMonthsRing: a month thirteen months back is overwritten, not added to.
func TestMonthsRing(t *testing.T) {
	var m Member
	m.Observe(pay(1, 100), day(2025, 12, 15, 12).UnixNano(), paris)
	m.Observe(pay(1, 300), day(2027, 1, 15, 12).UnixNano(), paris)
	if got := m.Tally(MonthOf(day(2025, 12, 1, 12))); got.Count != 0 {
		t.Errorf("December 2025 still counts %+v", got)
	}
	if got := m.Tally(MonthOf(day(2027, 1, 1, 12))); got.Count != 1 || got.Amount != 300 {
		t.Errorf("January 2027 = %+v", got)
	}
}

// TestSpendTop: the merchants of a month are bounded, the largest kept, the rest in others.
func TestSpendTop(t *testing.T) {
	var m Member
	at := day(2026, 12, 5, 12).UnixNano()
	for i := uint64(1); i <= TopMerchants+2; i++ {
		m.Observe(pay(i, 100*i), at, paris)
	}
	m.Observe(pay(1, 10000), at, paris) // back after being pushed out: a new entry
	if len(m.Cur.Top) != TopMerchants {
		t.Fatalf("%d merchants kept", len(m.Cur.Top))
	}
	if m.Cur.Top[0] != (Spent{1, 10000}) {
		t.Errorf("largest = %+v", m.Cur.Top[0])
	}
	total := m.Cur.Others
	for _, e := range m.Cur.Top {
		total += e.Amount
	}
	if want := int64(100*55 + 10000); total != want {
		t.Errorf("spend adds up to %d, want %d", total, want)
	}
	send := domain.Fact{Kind: domain.FactPaid, Product: domain.ProductSend, Payee: 99, Amount: 7}
	others := m.Cur.Others
	m.Observe(send, at, paris)
	if m.Cur.Others != others+7 {
		t.Errorf("a send is not in others: %d, want %d", m.Cur.Others, others+7)
	}
}

// TestMemberJSONBound: a member with every month and merchant at their largest stays
// under his record's bound.
func TestMemberJSONBound(t *testing.T) {
	var m Member
	m.First, m.Last = math.MaxInt32, math.MaxInt32
	for i := range m.Months {
		m.Months[i] = Tally{Month: math.MinInt32, Count: math.MinInt64, Amount: math.MinInt64}
	}
	for _, s := range []*Spend{&m.Cur, &m.Prev} {
		s.Month, s.Others = math.MinInt32, math.MinInt64
		for range TopMerchants {
			s.Top = append(s.Top, Spent{math.MaxUint64, math.MinInt64})
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxMemberBytes {
		t.Errorf("largest member is %d bytes, over %d", len(b), MaxMemberBytes)
	}
	var back Member
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, m) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

// history is a member who paid amount at merchant 1 on each of the given days.
func history(amount uint64, days ...time.Time) Member {
	var m Member
	for _, d := range days {
		m.Observe(pay(1, amount), d.UnixNano(), paris)
	}
	return m
}

// monthly is perMonth payments on the 10th of each of n months ending with last's.
func monthly(last time.Time, n, perMonth int) []time.Time {
	var days []time.Time
	for i := n - 1; i >= 0; i-- {
		for j := range perMonth {
			days = append(days, time.Date(last.Year(), last.Month()-time.Month(i), 10, 9+j, 0, 0, 0, paris))
		}
	}
	return days
}

func TestRFMAndSegment(t *testing.T) {
	asOf := day(2027, 1, 5, 12) // early January: the year crosses into 2026
	for _, tc := range []struct {
		name string
		m    Member
		want Score
		seg  string
	}{
		{"never paid", Member{}, Score{1, 1, 1}, SegmentLost},
		{"first payment last week", history(5000, day(2026, 12, 30, 9)), Score{5, 1, 3}, SegmentNew},
		{"twice a month for a year, big", history(5000, monthly(day(2027, 1, 2, 0), 12, 2)...),
			Score{5, 5, 5}, SegmentChampions},
		{"monthly, stopped in July", history(500, monthly(day(2026, 7, 10, 0), 12, 1)...),
			Score{2, 3, 2}, SegmentAtRisk},
		{"once, long ago", history(500, day(2025, 3, 1, 9)), Score{1, 1, 1}, SegmentLost},
		{"often but small", history(100, monthly(day(2026, 12, 10, 0), 12, 2)...),
			Score{4, 4, 2}, SegmentLoyal},
		{"twice, in autumn", history(2000, day(2026, 9, 1, 9), day(2026, 10, 1, 9)), Score{2, 2, 2}, SegmentRegular},
	} {
		s := RFM(tc.m, asOf)
		if s != tc.want {
			t.Errorf("%s: RFM = %+v, want %+v", tc.name, s, tc.want)
		}
		if seg := Segment(s, tc.m, asOf); seg != tc.seg {
			t.Errorf("%s: segment %q, want %q", tc.name, seg, tc.seg)
		}
	}
}

// TestYearWindow: the twelve months end with the as-of month; the thirteenth back is out.
func TestYearWindow(t *testing.T) {
	m := history(1000, day(2026, 1, 31, 12), day(2026, 2, 1, 12), day(2027, 1, 1, 12))
	n, amount := m.Year(day(2027, 1, 20, 12))
	if n != 2 || amount != 2000 {
		t.Errorf("Year = %d, %d; want 2, 2000 (February 2026 to January 2027)", n, amount)
	}
}

func TestSummary(t *testing.T) {
	var m Member
	obs := func(f domain.Fact, at time.Time) { m.Observe(f, at.UnixNano(), paris) }
	obs(pay(1, 4000), day(2026, 11, 20, 12))
	for i, amount := range []uint64{3000, 2000, 1000, 500, 250} {
		obs(pay(uint64(i+1), amount), day(2026, 12, 3, 12))
	}
	obs(domain.Fact{Kind: domain.FactRefund, Product: "pay", Payee: 2, Amount: 2000}, day(2026, 12, 4, 12))
	got := Summary(m, day(2026, 12, 5, 12))
	want := SpendSummary{
		Month: "2026-12", PrevMonth: "2026-11", Count: 5, PrevCount: 1, Amount: 4750, PrevAmt: 4000,
		ChangePct: 18.75, ChangeOK: true, Top: []Spent{{1, 3000}, {3, 1000}, {4, 500}}, Others: 250,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Summary =\n%+v, want\n%+v", got, want)
	}
	// In January, December is last month and nothing is spent yet.
	jan := Summary(m, day(2027, 1, 2, 12))
	if jan.Month != "2027-01" || jan.Amount != 0 || jan.PrevAmt != 4750 || len(jan.Top) != 0 || jan.ChangePct != -100 {
		t.Errorf("January summary %+v", jan)
	}
	if feb := Summary(m, day(2027, 2, 2, 12)); feb.PrevAmt != 0 || feb.ChangeOK {
		t.Errorf("February summary %+v", feb)
	}
}

// TestFirstsExactlyOnce: over random payments in journal order, each payer's newDay,
// newMonth and first are true exactly once per local day, month and ever.
func TestFirstsExactlyOnce(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		start := time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC).UnixNano()
		members := map[uint64]*Member{}
		type dayKey struct {
			payer uint64
			day   int32
		}
		type monthKey struct {
			payer uint64
			month int32
		}
		days, months, firsts := map[dayKey]int{}, map[monthKey]int{}, map[uint64]int{}
		seenDays, seenMonths := map[dayKey]bool{}, map[monthKey]bool{}
		at := start
		for i := range rapid.IntRange(1, 300).Draw(rt, "n") {
			at += rapid.Int64Range(0, 30*int64(time.Hour)).Draw(rt, fmt.Sprint("gap", i))
			payer := rapid.Uint64Range(1, 4).Draw(rt, "payer")
			kind := rapid.SampledFrom([]domain.FactKind{domain.FactPaid, domain.FactPaid, domain.FactRefund, domain.FactRefused}).Draw(rt, "kind")
			if members[payer] == nil {
				members[payer] = &Member{}
			}
			d, mo, f := members[payer].Observe(domain.Fact{Kind: kind, Product: "pay", Payer: payer, Payee: 42, Amount: 100}, at, paris)
			local := time.Unix(0, at).In(paris)
			dk, mk := dayKey{payer, DayOf(local)}, monthKey{payer, MonthOf(local)}
			if kind == domain.FactPaid {
				seenDays[dk], seenMonths[mk] = true, true
			}
			days[dk] += b2i(d)
			months[mk] += b2i(mo)
			firsts[payer] += b2i(f)
		}
		for k := range seenDays {
			if days[k] != 1 {
				rt.Fatalf("payer %d day %d counted %d times", k.payer, k.day, days[k])
			}
		}
		for k := range seenMonths {
			if months[k] != 1 {
				rt.Fatalf("payer %d month %d counted %d times", k.payer, k.month, months[k])
			}
		}
		for p, m := range members {
			if want := b2i(m.First != 0); firsts[p] != want {
				rt.Fatalf("payer %d first %d times", p, firsts[p])
			}
		}
		for k, n := range days {
			if n > 0 && !seenDays[k] {
				rt.Fatalf("payer %d: a first on day %d without a payment", k.payer, k.day)
			}
		}
		for k, n := range months {
			if n > 0 && !seenMonths[k] {
				rt.Fatalf("payer %d: a first in month %d without a payment", k.payer, k.month)
			}
		}
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A member's binary form reads back as the member, whatever payments and refunds made it;
// cut short or with bytes after it, it is refused.
func TestMemberBinaryRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var m Member
		start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
		for i := range rapid.IntRange(0, 60).Draw(t, "n") {
			f := domain.Fact{Kind: domain.FactPaid, Product: domain.ProductPay,
				Payee: rapid.Uint64Range(0, 12).Draw(t, "payee"), Amount: rapid.Uint64Range(0, 1e9).Draw(t, "amount")}
			if rapid.IntRange(0, 4).Draw(t, "refund") == 0 {
				f.Kind = domain.FactRefund
			}
			m.Observe(f, start.AddDate(0, 0, i*rapid.IntRange(0, 40).Draw(t, "days")).UnixNano(), time.UTC)
		}
		b, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var back Member
		if err := back.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("read back %+v (%v), wrote %+v", back, err, m)
		}
		if back.UnmarshalBinary(b[:len(b)-1]) == nil || back.UnmarshalBinary(append(b, 0)) == nil {
			t.Fatalf("%x cut short or lengthened read as a member", b)
		}
	})
}
