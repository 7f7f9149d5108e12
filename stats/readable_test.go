package stats

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The readable form names every number in full, with the previous period and the change.
func TestReadableNamesEveryNumber(t *testing.T) {
	money := func(m uint64) string {
		return strconv.FormatUint(m/100, 10) + "." + strconv.FormatUint(m%100/10, 10) + strconv.FormatUint(m%10, 10)
	}
	from := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	q := Query{From: from, To: from.Add(24 * time.Hour), By: ByTotal}
	cells := []KeyedCell{
		{Key{Hour: from.Unix(), Product: "pay", Channel: "sms", Merchant: 7}, Cell{Paid: 3, Amount: 1250, Refused: map[string]int64{"funds": 1}}},
		{Key{Hour: from.Add(-time.Hour).Unix(), Product: "pay", Channel: "sms", Merchant: 7}, Cell{Paid: 2, Amount: 1000}},
	}
	b, err := json.Marshal(Readable(NewReport(cells, q), money))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"payments":3`, `"amount":"12.50"`, `"refused":{"funds":1}`, `"success_pct":75`,
		`"prev":{"payments":2,"amount":"10.00"`, `"change_pct":{"amount":25,"payments":50}`, `"wrong_pins":0`, `"points_earned":0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}
