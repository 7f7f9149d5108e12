package stats

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"mpg/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// traffic is a few days of payments: on each day from 27 November to 4 December 2026,
// merchant 42 is paid day*100 at 10:00 by SMS and merchant 43 is paid 1000 at 15:00 on the
// web; on even days a payment to 42 is refused for funds, and on the 3rd a send is made.
func traffic() []KeyedCell {
	b := NewBatch()
	for d := 27; d <= 34; d++ {
		at := func(hh int) int64 { return time.Date(2026, 11, d, hh, 30, 0, 0, time.UTC).UnixNano() }
		b.Add(domain.Fact{Kind: domain.FactPaid, Product: "pay", Channel: "sms", Payee: 42, Amount: uint64(d * 100), Fee: 10}, at(10))
		b.Add(domain.Fact{Kind: domain.FactPaid, Product: "pay", Channel: "web", Payee: 43, Amount: 1000}, at(15))
		for _, f := range append(domain.ReplyFacts(domain.MsgQueued, domain.MsgDelivered), domain.ReplyFacts(domain.MsgQueued, domain.MsgSent)...) {
			b.Add(f, at(10))
		}
		if d%2 == 0 {
			b.Add(domain.ReplyFacts(domain.MsgQueued, domain.MsgFailed)[0], at(11))
			b.Add(domain.Fact{Kind: domain.FactRefused, Product: "pay", Channel: "sms", Payee: 42, Reason: domain.ReasonFunds}, at(11))
		}
		if d == 33 {
			b.Add(domain.Fact{Kind: domain.FactPaid, Product: "send", Channel: "sms", Payee: 7, Amount: 500}, at(9))
			b.Add(domain.Fact{Kind: domain.FactRefund, Product: "pay", Channel: "sms", Payee: 42, Amount: 300}, at(12))
		}
	}
	return Keyed(b.Cells)
}

func utc(d, hh int) time.Time { return time.Date(2026, 12, d, hh, 0, 0, 0, time.UTC) }

func TestPrevious(t *testing.T) {
	q := Query{From: utc(1, 0), To: utc(3, 0), By: ByDay}
	p := Previous(q)
	if !p.From.Equal(time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)) || !p.To.Equal(q.From) || p.By != q.By {
		t.Errorf("Previous = %+v", p)
	}
}

func TestChange(t *testing.T) {
	for _, tc := range []struct {
		now, prev int64
		pct       float64
		ok        bool
	}{{120, 100, 20, true}, {50, 100, -50, true}, {0, 100, -100, true}, {5, 0, 0, false}, {0, 0, 0, false}} {
		if pct, ok := Change(tc.now, tc.prev); pct != tc.pct || ok != tc.ok {
			t.Errorf("Change(%d, %d) = %v %v, want %v %v", tc.now, tc.prev, pct, ok, tc.pct, tc.ok)
		}
	}
}

// TestAggregateByDay: two days against the two before (30 November and 1 December).
func TestAggregateByDay(t *testing.T) {
	q := Query{From: utc(2, 0), To: utc(4, 0), Merchant: 42, By: ByDay}
	rows := Aggregate(traffic(), q)
	want := []Row{
		{Label: "2026-12-02", Cell: Cell{Paid: 1, Amount: 3200, Fees: 10, Refused: map[string]int64{"funds": 1}},
			Prev: Cell{Paid: 1, Amount: 3000, Fees: 10, Refused: map[string]int64{"funds": 1}}},
		{Label: "2026-12-03", Cell: Cell{Paid: 1, Amount: 3300, Fees: 10, Refunds: 1, Refunded: 300},
			Prev: Cell{Paid: 1, Amount: 3100, Fees: 10}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows\n%+v\nwant\n%+v", rows, want)
	}
	if pct, ok := Change(int64(rows[0].Cell.Amount), int64(rows[0].Prev.Amount)); !ok || fmt.Sprintf("%.2f", pct) != "6.67" {
		t.Errorf("change of 2 December = %v %v", pct, ok)
	}
}

// TestAggregateDaysInZone: days are the From location's days.
func TestAggregateDaysInZone(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	q := Query{From: time.Date(2026, 12, 2, 0, 0, 0, 0, tokyo), To: time.Date(2026, 12, 3, 0, 0, 0, 0, tokyo), By: ByDay, Channel: "web"}
	rows := Aggregate(traffic(), q)
	// 15:30 UTC on 1 December is 00:30 on the 2nd in Tokyo.
	if len(rows) != 1 || rows[0].Label != "2026-12-02" || rows[0].Cell.Amount != 1000 || rows[0].Prev.Amount != 1000 {
		t.Errorf("rows %+v", rows)
	}
}

func TestAggregateByMerchant(t *testing.T) {
	q := Query{From: utc(1, 0), To: utc(5, 0), By: ByMerchant}
	rows := Aggregate(traffic(), q)
	var labels []string
	for _, r := range rows {
		labels = append(labels, r.Label)
	}
	// 42: 3100+3200+3300+3400; 43: 4000; send (merchant 0): 500.
	if want := []string{"42", "43", "0"}; !reflect.DeepEqual(labels, want) {
		t.Fatalf("labels %v, want %v", labels, want)
	}
	if rows[0].Cell.Amount != 13000 || rows[0].Prev.Amount != 2700+2800+2900+3000 || rows[0].Cell.RefusedCount() != 2 {
		t.Errorf("merchant 42: %+v", rows[0])
	}
	if rows[2].Prev.Paid != 0 || rows[2].Cell.Paid != 1 {
		t.Errorf("sends: %+v", rows[2])
	}
	tot := NewReport(traffic(), q).Totals
	if tot.Cell.Amount != 13000+4000+500 || tot.Label != ByTotal {
		t.Errorf("totals %+v", tot)
	}
}

func TestAggregateFilters(t *testing.T) {
	for _, tc := range []struct {
		q     Query
		paid  int64
		label string
	}{
		{Query{From: utc(3, 0), To: utc(4, 0), By: ByTotal}, 3, "total"},
		{Query{From: utc(3, 0), To: utc(4, 0), By: ByProduct, Product: "send"}, 1, "send"},
		{Query{From: utc(3, 0), To: utc(4, 0), By: ByChannel, Channel: "web"}, 1, "web"},
		{Query{From: utc(3, 10), To: utc(3, 11), By: ByHour}, 1, "2026-12-03 10:00"},
	} {
		rows := Aggregate(traffic(), tc.q)
		if len(rows) != 1 || rows[0].Label != tc.label || rows[0].Cell.Paid != tc.paid {
			t.Errorf("%+v: rows %+v", tc.q, rows)
		}
	}
}

func TestQueryCheck(t *testing.T) {
	if err := (Query{From: utc(2, 0), To: utc(2, 0), By: ByDay}).Check(); err != ErrPeriod {
		t.Errorf("empty period: %v", err)
	}
	if err := (Query{From: utc(2, 0), To: utc(3, 0), By: "week"}).Check(); err != ErrBy {
		t.Errorf("by week: %v", err)
	}
	if err := (Query{From: utc(2, 0), To: utc(3, 0), By: ByHour}).Check(); err != nil {
		t.Errorf("by hour: %v", err)
	}
}

func euros(minor uint64) string { return fmt.Sprintf("%d.%02d EUR", minor/100, minor%100) }

func byDay() ([]Row, Query) {
	q := Query{From: utc(1, 0), To: utc(5, 0), By: ByDay}
	return Aggregate(traffic(), q), q
}

func TestWriteTableGolden(t *testing.T) {
	rows, q := byDay()
	var buf bytes.Buffer
	if err := WriteTable(&buf, rows, q, euros); err != nil {
		t.Fatal(err)
	}
	golden(t, "table_by_day.golden", buf.Bytes())
}

func TestWriteCSV(t *testing.T) {
	rows, _ := byDay()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	golden(t, "by_day.csv", buf.Bytes())
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(recs[0], CSVHeader()) || len(recs) != len(rows)+1 {
		t.Fatalf("header %v, %d lines", recs[0], len(recs))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	last := recs[len(recs)-1] // 4 December
	for name, want := range map[string]string{
		"label": "2026-12-04", "amount": "4400", "amount_prev": "4000", "amount_change_pct": "10.00",
		"refused_funds": "1", "success_pct": "66.67", "success_prev_pct": "66.67", "held_change_pct": "",
	} {
		if got := last[col[name]]; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, rec := range recs[1:] {
		if _, err := strconv.ParseInt(rec[col["fees"]], 10, 64); err != nil {
			t.Errorf("fees not a plain number: %v", err)
		}
	}
}

func TestReportJSON(t *testing.T) {
	rows, q := byDay()
	b, err := json.Marshal(Report{Query: q, Rows: rows, Totals: Total(rows)})
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Rows) != 4 || back.Totals.Cell.Amount != Total(rows).Cell.Amount || back.Query.By != ByDay {
		t.Errorf("round trip %+v", back)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./stats -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n%s\nwant:\n%s", name, got, want)
	}
}
