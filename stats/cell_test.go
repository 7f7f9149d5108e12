package stats

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"mpg/domain"
	"pgregory.net/rapid"
)

// at is 5 December 2026 at hh:mm UTC, in unix nanoseconds.
func at(hh, mm int) int64 {
	return time.Date(2026, 12, 5, hh, mm, 0, 0, time.UTC).UnixNano()
}

func TestKeyOf(t *testing.T) {
	hour := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC).Unix()
	for _, tc := range []struct {
		product  string
		merchant uint64
	}{
		{domain.ProductPay, 42}, {domain.ProductBill, 42}, {domain.ProductDebit, 42},
		{domain.ProductCredit, 42}, {domain.ProductSend, 0}, {domain.ProductTopup, 0},
		{domain.ProductRepay, 0}, {"", 0},
	} {
		f := domain.Fact{Kind: domain.FactPaid, Product: tc.product, Channel: domain.ChannelSMS, Payer: 7, Payee: 42}
		got := KeyOf(f, at(14, 59)+int64(time.Second-1))
		want := Key{Hour: hour, Product: tc.product, Channel: domain.ChannelSMS, Merchant: tc.merchant}
		if got != want {
			t.Errorf("%s: KeyOf = %+v, want %+v", tc.product, got, want)
		}
	}
	if h := HourOf(-1); h != -3600 {
		t.Errorf("HourOf(-1) = %d, want -3600", h)
	}
	if h := HourOf(at(15, 0)); h != hour+3600 {
		t.Errorf("HourOf(15:00) = %d, want %d", h, hour+3600)
	}
}

func TestFold(t *testing.T) {
	paid := domain.Fact{Kind: domain.FactPaid, Amount: 1250, Fee: 10, Earned: 12, Spent: 5, Promo: "XMAS", Discount: 100}
	for _, tc := range []struct {
		name string
		f    domain.Fact
		want Cell
	}{
		{"paid", paid, Cell{Paid: 1, Amount: 1250, Fees: 10, Earned: 12, Spent: 5, PromoUses: 1, Discount: 100}},
		{"paid without promotion", domain.Fact{Kind: domain.FactPaid, Amount: 500}, Cell{Paid: 1, Amount: 500}},
		{"refused", domain.Fact{Kind: domain.FactRefused, Amount: 900, Reason: domain.ReasonFunds},
			Cell{Refused: map[string]int64{domain.ReasonFunds: 1}}},
		{"refused, unknown reason", domain.Fact{Kind: domain.FactRefused, Reason: "martian"},
			Cell{Refused: map[string]int64{domain.ReasonOther: 1}}},
		{"refund", domain.Fact{Kind: domain.FactRefund, Amount: 300, Fee: 3, Earned: 3, Spent: 1},
			Cell{Refunds: 1, Refunded: 300, Earned: -3, Spent: -1}},
		{"held", domain.Fact{Kind: domain.FactHeld, Amount: 70000}, Cell{Held: 1}},
		{"wrong PIN", domain.Fact{Kind: domain.FactWrongPIN}, Cell{WrongPINs: 1}},
		{"PIN reset", domain.Fact{Kind: domain.FactPINReset}, Cell{}},
		{"unknown kind", domain.Fact{Kind: 99, Amount: 5}, Cell{}},
		{"SMS sent", domain.Fact{Kind: domain.FactReply, Reason: domain.ReplySent}, Cell{SMSSent: 1}},
		{"SMS delivered", domain.Fact{Kind: domain.FactReply, Reason: domain.ReplyDelivered}, Cell{SMSDelivered: 1}},
		{"SMS undeliverable", domain.Fact{Kind: domain.FactReply, Reason: domain.ReplyUndeliverable}, Cell{SMSUndeliverable: 1}},
		{"SMS failed", domain.Fact{Kind: domain.FactReply, Reason: domain.ReplyFailed}, Cell{SMSFailed: 1}},
		{"SMS in a state not counted", domain.Fact{Kind: domain.FactReply, Reason: "queued"}, Cell{}},
	} {
		var c Cell
		Fold(&c, tc.f)
		if !reflect.DeepEqual(c, tc.want) {
			t.Errorf("%s: Fold = %+v, want %+v", tc.name, c, tc.want)
		}
	}
}

func TestSuccessRate(t *testing.T) {
	c := Cell{Paid: 3, Refused: map[string]int64{domain.ReasonFunds: 1}}
	if pct, ok := c.SuccessRate(); !ok || pct != 75 {
		t.Errorf("SuccessRate = %v %v, want 75 true", pct, ok)
	}
	if _, ok := (Cell{}).SuccessRate(); ok {
		t.Error("SuccessRate of nothing is ok")
	}
}

// TestCellJSONBound: a cell with every number at its largest and every reason set stays
// under the record's bound, and comes back the same.
func TestCellJSONBound(t *testing.T) {
	c := Cell{Paid: math.MinInt64, Amount: math.MaxUint64, Fees: math.MaxUint64, Refunds: math.MinInt64,
		Refunded: math.MaxUint64, Held: math.MinInt64, WrongPINs: math.MinInt64, Earned: math.MinInt64,
		Spent: math.MinInt64, PromoUses: math.MinInt64, Discount: math.MaxUint64, Refused: map[string]int64{}}
	for _, r := range Reasons {
		c.Refused[r] = math.MinInt64
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) >= MaxCellBytes/4 {
		t.Errorf("largest cell is %d bytes: %s", len(b), b)
	}
	var back Cell
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if b, _ := json.Marshal(Cell{}); string(b) != "{}" {
		t.Errorf("empty cell = %s, want {}", b)
	}
}

// genEntry draws a journal entry: mostly facts of every kind, some other entries.
func genEntry(t *rapid.T, seq int, start int64) domain.JournalEntry {
	e := domain.JournalEntry{Seq: uint64(seq), Time: start + rapid.Int64Range(0, 72*int64(time.Hour)).Draw(t, "t")}
	if rapid.IntRange(0, 9).Draw(t, "other") == 0 {
		e.Opened = &domain.Account{}
		return e
	}
	f := domain.Fact{
		Kind:    domain.FactKind(rapid.IntRange(1, 7).Draw(t, "kind")),
		Product: rapid.SampledFrom([]string{"pay", "bill", "send", "debit", "credit", "repay", "topup"}).Draw(t, "product"),
		Channel: rapid.SampledFrom([]string{"sms", "web", "bank", "credit", "operator"}).Draw(t, "channel"),
		Payer:   rapid.Uint64Range(1, 5).Draw(t, "payer"),
		Payee:   rapid.Uint64Range(1, 5).Draw(t, "payee"),
		Amount:  rapid.Uint64Range(0, 1e9).Draw(t, "amount"),
		Fee:     rapid.Uint64Range(0, 1e4).Draw(t, "fee"),
		Reason:  rapid.SampledFrom(append(append([]string{"", "unknown"}, Reasons...), replyStates...)).Draw(t, "reason"),
		Earned:  rapid.Uint64Range(0, 1e4).Draw(t, "earned"),
		Spent:   rapid.Uint64Range(0, 1e4).Draw(t, "spent"),
	}
	if rapid.Bool().Draw(t, "promo") {
		f.Promo, f.Discount = "P", rapid.Uint64Range(0, 1e4).Draw(t, "discount")
	}
	e.Fact = &f
	return e
}

// TestBatchesAgreeWithRecount: however the journal is cut into passes, and in whatever
// order a pass's deltas are merged, the stored cells are the ones a recount gives, and
// every cell's record stays under its bound.
func TestBatchesAgreeWithRecount(t *testing.T) {
	start := time.Date(2026, 12, 31, 20, 0, 0, 0, time.UTC).UnixNano()
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, 200).Draw(rt, "n")
		entries := make([]domain.JournalEntry, n)
		for i := range entries {
			entries[i] = genEntry(rt, i, start)
		}
		stored := make(map[Key]Cell)
		for i := 0; i < n; {
			j := i + rapid.IntRange(1, n-i).Draw(rt, "pass")
			b := NewBatch()
			for _, e := range entries[i:j] {
				if e.Fact != nil {
					b.Add(*e.Fact, e.Time)
				}
			}
			for _, k := range b.Keys() {
				c := stored[k]
				Merge(&c, b.Cells[k])
				stored[k] = c
			}
			i = j
		}
		want := Recount(entries)
		for k, c := range want {
			if c.Zero() {
				rt.Fatalf("recount has an empty cell at %+v", k)
			}
		}
		if !reflect.DeepEqual(normal(stored), normal(want)) {
			rt.Fatalf("stored %+v\nrecount %+v", stored, want)
		}
		for k, c := range stored {
			if b, _ := json.Marshal(c); len(b) >= MaxCellBytes {
				rt.Fatalf("cell %+v is %d bytes", k, len(b))
			}
		}
	})
}

// normal drops empty refusal maps, which a merge may leave.
func normal(cells map[Key]Cell) map[Key]Cell {
	out := make(map[Key]Cell)
	for k, c := range cells {
		if len(c.Refused) == 0 {
			c.Refused = nil
		}
		out[k] = c
	}
	return out
}

// BenchmarkBatchAdd is the follower's cost per fact.
func BenchmarkBatchAdd(b *testing.B) {
	facts := []domain.Fact{
		{Kind: domain.FactPaid, Product: "pay", Channel: "sms", Payee: 42, Amount: 1250, Fee: 10, Earned: 12},
		{Kind: domain.FactRefused, Product: "pay", Channel: "sms", Payee: 42, Reason: domain.ReasonFunds},
		{Kind: domain.FactPaid, Product: "send", Channel: "sms", Payee: 7, Amount: 500},
	}
	t0 := at(10, 0)
	batch := NewBatch()
	for i := 0; b.Loop(); i++ {
		batch.Add(facts[i%len(facts)], t0+int64(i%7200)*int64(time.Second))
	}
}
