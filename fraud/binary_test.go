package fraud

import (
	"encoding/json"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// Any activity reads back from its binary form as it was written, smaller than its JSON;
// bytes that are no activity (cut short, too long, a list past its bound, another version)
// are refused, never taken for an activity or a panic.
func TestActivityBinaryRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := drawShape(rt, 300)
		var a Activity
		for _, ev := range s.events() {
			a.Observe(ev)
		}
		b, err := a.MarshalBinary()
		if err != nil {
			rt.Fatal(err)
		}
		var back Activity
		if err := back.UnmarshalBinary(b); err != nil {
			rt.Fatalf("%v on %x", err, b)
		}
		if !reflect.DeepEqual(normal(a), normal(back)) {
			rt.Fatalf("read back\n%+v\nwritten\n%+v", back, a)
		}
		if cut := rapid.IntRange(0, len(b)-1).Draw(rt, "cut"); back.UnmarshalBinary(b[:cut]) == nil {
			rt.Fatalf("a record cut at %d of %d was read", cut, len(b))
		}
		if back.UnmarshalBinary(append(b, 0)) == nil {
			rt.Fatal("a record with a byte too many was read")
		}
	})
}

// normal makes empty and nil lists equal.
func normal(a Activity) Activity {
	if len(a.Peers) == 0 {
		a.Peers = nil
	}
	if len(a.Failed) == 0 {
		a.Failed = nil
	}
	if len(a.Recent) == 0 {
		a.Recent = nil
	}
	return a
}

func TestActivityBinaryRefusesOtherBytes(t *testing.T) {
	var a Activity
	for _, b := range [][]byte{nil, {2}, {binaryVersion, 0x80}, []byte(`{"p":1}`)} {
		if a.UnmarshalBinary(b) == nil {
			t.Errorf("%x read as an activity", b)
		}
	}
	long := []byte{binaryVersion, 0, 0, 0, 0}
	for range 12*2 + 1 + 24*2 + 1 + 7*2 + 1 {
		long = append(long, 0)
	}
	long = append(long, MaxPeers+1) // more peers than an activity keeps
	if a.UnmarshalBinary(long) == nil {
		t.Error("a list past its bound was read")
	}
}

// BenchmarkActivityRead reads a full activity from its binary form and from its JSON.
func BenchmarkActivityRead(b *testing.B) {
	a := full(1)
	bin, _ := a.MarshalBinary()
	js, _ := json.Marshal(a)
	b.Run("binary", func(b *testing.B) {
		b.ReportMetric(float64(len(bin)), "bytes")
		for b.Loop() {
			var x Activity
			if err := x.UnmarshalBinary(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportMetric(float64(len(js)), "bytes")
		for b.Loop() {
			var x Activity
			if err := json.Unmarshal(js, &x); err != nil {
				b.Fatal(err)
			}
		}
	})
}
