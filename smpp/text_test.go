package smpp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEncodePicksGSMOrUCS2NeverSubstitutes(t *testing.T) {
	cases := []struct {
		text   string
		coding Coding
		n      int // encoded octets
	}{
		{"PAY SHOP42 12.50", CodingGSM7, 16},
		{"Solde: 12,50€ {ok}", CodingGSM7, 21}, // € { } take an escape each
		{"Payé à Zoé", CodingGSM7, 10},         // é and à are in GSM 03.38
		{"Reçu", CodingUCS2, 8},                // ç (lower case) is not: only Ç is
		{"余额 12.50", CodingUCS2, 16},
		{"ok 😀", CodingUCS2, 10}, // outside the BMP: a surrogate pair
	}
	for _, c := range cases {
		coding, b, err := Encode(c.text)
		if err != nil || coding != c.coding || len(b) != c.n {
			t.Errorf("%q: %s %d octets %v, want %s %d", c.text, coding, len(b), err, c.coding, c.n)
			continue
		}
		back, err := Decode(coding, b)
		if err != nil || back != c.text {
			t.Errorf("%q: round trip gave %q %v", c.text, back, err)
		}
	}
	if _, err := EncodeGSM7("Reçu"); !errors.Is(err, ErrNotGSM) || !strings.Contains(err.Error(), "ç") {
		t.Errorf("EncodeGSM7 must name the character: %v", err)
	}
}

func TestDecodeRejectsWhatItCannotRead(t *testing.T) {
	for _, c := range []struct {
		coding Coding
		b      []byte
	}{
		{CodingGSM7, []byte{0x80}},
		{CodingGSM7, []byte{'a', esc}},
		{CodingGSM7, []byte{esc, 0x01}},
		{CodingUCS2, []byte{0x00}},
		{CodingUCS2, []byte{0xD8, 0x3D, 0x00, 0x41}}, // high surrogate without its low half
		{0x01, []byte{0xE9}},
		{0x04, []byte{1, 2}},
	} {
		if s, err := Decode(c.coding, c.b); err == nil {
			t.Errorf("%s % x: decoded to %q, want an error", c.coding, c.b, s)
		}
	}
	if s, err := Decode(CodingLatin1, []byte("Pay\xe9")); err != nil || s != "Payé" {
		t.Errorf("Latin-1: %q %v", s, err)
	}
}

func TestSplitByCharactersWithUDH(t *testing.T) {
	// 160 septets fit one SMS; 161 need two parts of at most 153.
	if parts, _ := Split(strings.Repeat("a", 160), 7, 3); len(parts) != 1 || parts[0].UDH {
		t.Fatalf("160 GSM septets: %d parts", len(parts))
	}
	parts, err := Split(strings.Repeat("a", 161), 7, 3)
	if err != nil || len(parts) != 2 || !parts[0].UDH || len(parts[0].Message) != 6+153 {
		t.Fatalf("161 septets: %v %d", err, len(parts))
	}
	if !bytes.Equal(parts[1].Message[:6], []byte{5, 0, 3, 7, 2, 2}) {
		t.Fatalf("UDH: % x", parts[1].Message[:6])
	}
	// An escape pair at the cut moves whole into the next part.
	text := strings.Repeat("a", 152) + "€" + strings.Repeat("b", 10)
	parts, _ = Split(text, 1, 3)
	if got := parts[0].Message[6:]; len(got) != 152 || got[len(got)-1] == esc {
		t.Fatalf("escape split: first part %d septets, ends % x", len(got), got[len(got)-2:])
	}
	// UCS-2: 70 characters fit one SMS, then 67 per part; a surrogate pair is never cut.
	if parts, _ := Split(strings.Repeat("元", 70), 1, 3); len(parts) != 1 {
		t.Fatalf("70 UCS-2: %d parts", len(parts))
	}
	text = strings.Repeat("元", 66) + "😀" + strings.Repeat("元", 10)
	parts, err = Split(text, 1, 3)
	if err != nil || len(parts) != 2 || len(parts[0].Message)-6 != 132 {
		t.Fatalf("surrogate at the cut: %v %d parts, first %d octets", err, len(parts), len(parts[0].Message)-6)
	}
	joined := append(append([]byte{}, parts[0].Message[6:]...), parts[1].Message[6:]...)
	if s, err := DecodeUCS2(joined); err != nil || s != text {
		t.Fatalf("rejoined: %q %v", s, err)
	}
	if _, err := Split(strings.Repeat("x", 153*3+1), 1, 3); !errors.Is(err, ErrTooLong) {
		t.Fatalf("over the cap: %v", err)
	}
}

func TestReassembleUDHOnceAndWithTimeout(t *testing.T) {
	now := time.Unix(0, 0)
	r := NewReassembler(time.Minute, 2, func() time.Time { return now })
	parts, err := Split(strings.Repeat("PAY SHOP42 ", 20), 9, 3)
	if err != nil || len(parts) != 2 {
		t.Fatal(err, len(parts))
	}
	var got []string
	add := func(from string, msg []byte) {
		seg, payload, ok, err := ParseUDH(msg)
		if err != nil || !ok {
			t.Fatalf("ParseUDH: %v %v", ok, err)
		}
		whole, c, done, err := r.Add(from, seg, CodingGSM7, payload)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			s, err := Decode(c, whole)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
	}
	add("+331", parts[1].Message) // out of order
	add("+331", parts[1].Message) // repeated
	add("+331", parts[0].Message)
	add("+331", parts[0].Message) // a late repeat starts a new message that never completes
	if len(got) != 1 || got[0] != strings.Repeat("PAY SHOP42 ", 20) {
		t.Fatalf("delivered %d: %q", len(got), got)
	}
	now = now.Add(2 * time.Minute)
	if r.Pending() != 0 || r.Expired != 1 {
		t.Fatalf("after timeout: %d pending, %d expired", r.Pending(), r.Expired)
	}
	// 16-bit reference form.
	seg, payload, ok, err := ParseUDH([]byte{6, 0x08, 4, 0x12, 0x34, 2, 1, 'h', 'i'})
	if err != nil || !ok || seg.Ref != 0x1234 || seg.Total != 2 || seg.Seq != 1 || string(payload) != "hi" {
		t.Fatalf("16-bit UDH: %+v %q %v %v", seg, payload, ok, err)
	}
	for _, bad := range [][]byte{{9, 0, 3}, {5, 0, 3, 1, 2, 3}, {5, 0, 9, 1, 2, 1}} {
		if _, _, _, err := ParseUDH(bad); err == nil {
			t.Errorf("ParseUDH(% x): want an error", bad)
		}
	}
	// A bound on incomplete messages.
	r2 := NewReassembler(time.Minute, 1, nil)
	r2.Add("a", Segment{Ref: 1, Total: 2, Seq: 1}, CodingGSM7, []byte("x"))
	if _, _, _, err := r2.Add("b", Segment{Ref: 1, Total: 2, Seq: 1}, CodingGSM7, []byte("x")); err == nil {
		t.Fatal("maxOpen not enforced")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(byte(0), []byte("PAY SHOP42 12.50 1234"))
	f.Add(byte(8), []byte{0x4f, 0x59, 0x98, 0x9d})
	f.Add(byte(3), []byte("Pay\xe9"))
	f.Add(byte(0), []byte{esc, 0x65})
	f.Fuzz(func(t *testing.T, dc byte, b []byte) {
		// The lenient reading of a subscriber's message never fails and is always UTF-8.
		if l, _ := DecodeLenient(Coding(dc), b); !utf8.ValidString(l) {
			t.Fatalf("lenient decode to invalid UTF-8: %q", l)
		}
		s, err := Decode(Coding(dc), b)
		if err != nil {
			return
		}
		if l, exact := DecodeLenient(Coding(dc), b); !exact || l != s {
			t.Fatalf("lenient decode of decodable text: %q, want %q", l, s)
		}
		if !utf8.ValidString(s) {
			t.Fatalf("decoded to invalid UTF-8: %q", s)
		}
		// Whatever decodes must encode and decode back to the same text.
		c, enc, err := Encode(s)
		if err != nil {
			t.Fatalf("Encode(%q): %v", s, err)
		}
		if back, err := Decode(c, enc); err != nil || back != s {
			t.Fatalf("round trip %q -> %q %v", s, back, err)
		}
	})
}

func FuzzSplit(f *testing.F) {
	f.Add("PAY SHOP42 12.50 1234", byte(1))
	f.Add(strings.Repeat("€", 100), byte(2))
	f.Add(strings.Repeat("😀元", 50), byte(3))
	f.Fuzz(func(t *testing.T, text string, ref byte) {
		if !utf8.ValidString(text) {
			return
		}
		parts, err := Split(text, ref, MaxParts)
		if err != nil {
			return
		}
		var joined []byte
		for _, p := range parts {
			payload := p.Message
			if p.UDH {
				var err error
				if _, payload, _, err = ParseUDH(p.Message); err != nil {
					t.Fatal(err)
				}
			}
			if len(p.Message) > 140+20 {
				t.Fatalf("part of %d octets", len(p.Message))
			}
			joined = append(joined, payload...)
		}
		if back, err := Decode(parts[0].Coding, joined); err != nil || back != text {
			t.Fatalf("split/join %q -> %q %v", text, back, err)
		}
	})
}

func BenchmarkSplit(b *testing.B) {
	texts := []string{
		"Paid 12.50 EUR to Corner Shop. Fee 0.10 EUR. Balance 37.40 EUR. Ref 7QX2 Receipt K4P9-2M",
		strings.Repeat("Vous avez reçu 12,50€ de +336****678. ", 4),
		"您已向 Corner Shop 付款 12.50 EUR。余额 37.40 EUR。",
	}
	for i := 0; i < b.N; i++ {
		if _, err := Split(texts[i%len(texts)], byte(i), 3); err != nil {
			b.Fatal(err)
		}
	}
}
