package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"mpg/domain"
	"mpg/fraud"
)

// A payer's one record reads back as it was written: his statistics and his activity; a
// record of the first layout (his statistics' JSON alone) reads as statistics with no
// activity; other bytes are refused.
func TestPayerRecordRoundTrip(t *testing.T) {
	var p payerRecord
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC).UnixNano()
	p.Member.Observe(domain.Fact{Kind: domain.FactPaid, Payer: 7, Payee: 3, Amount: 1250}, at, time.UTC)
	p.Risk.Seq = 42
	p.Risk.A.Observe(fraud.Event{Time: at, Kind: fraud.Paid, Amount: 1250, Counterparty: 3, Product: "pay", Channel: "sms", Local: 11})
	b := p.encode()
	if b[0] != domain.RawRecord {
		t.Fatalf("a payer's record begins with %#x, not the raw mark", b[0])
	}
	var back payerRecord
	if err := back.decode(b); err != nil || !reflect.DeepEqual(back.Member, p.Member) || back.Risk.Seq != 42 ||
		!bytes.Equal(back.Risk.encode(), p.Risk.encode()) { // the activities alike, byte for byte
		t.Fatalf("read back %+v (%v), wrote %+v", back, err, p)
	}
	var old payerRecord
	if err := old.decode([]byte(`{"f":20000,"l":20000}`)); err != nil || old.Member.First != 20000 || old.Risk.Seq != 0 {
		t.Fatalf("first layout: %+v, %v", old, err)
	}
	// Format 2: the member as JSON, then the activity.
	m, _ := json.Marshal(p.Member)
	two := append(binary.AppendUvarint([]byte{domain.RawRecord, payerJSON}, uint64(len(m))), m...)
	two, _ = p.Risk.appendTo(two)
	if err := old.decode(two); err != nil || !reflect.DeepEqual(old.Member, p.Member) || old.Risk.Seq != 42 {
		t.Fatalf("format 2: %+v, %v", old, err)
	}
	for _, bad := range [][]byte{{domain.RawRecord}, {domain.RawRecord, 9}, {domain.RawRecord, payerFormat, 200}, b[:len(b)-1]} {
		if back.decode(bad) == nil {
			t.Errorf("%x read as a payer's record", bad)
		}
	}
}

// fullPayer is a payer of a year: thirteen months of payments at ten merchants.
func fullPayer() payerRecord {
	var p payerRecord
	start := time.Date(2025, 11, 1, 10, 0, 0, 0, time.UTC)
	for d := 0; d < 400; d += 2 {
		at := start.AddDate(0, 0, d).UnixNano()
		p.Member.Observe(domain.Fact{Kind: domain.FactPaid, Payer: 7, Payee: uint64(100 + d%10), Amount: uint64(100 + d), Product: domain.ProductPay}, at, time.UTC)
		p.Risk.A.Observe(fraud.Event{Time: at, Kind: fraud.Paid, Amount: uint64(100 + d), Counterparty: uint64(100 + d%10), Product: "pay", Channel: "sms", Local: 10})
	}
	p.Risk.Seq = 1 << 20
	return p
}

// BenchmarkPayerRecord: what the follower spends on one payer's record a pass (read it,
// write it back).
func BenchmarkPayerRecord(b *testing.B) {
	p := fullPayer()
	b.ReportAllocs()
	var back payerRecord
	for b.Loop() {
		if err := back.decode(p.encode()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(p.encode())), "bytes/record")
}
