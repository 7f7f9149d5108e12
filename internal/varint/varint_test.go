package varint

import (
	"encoding/binary"
	"testing"
)

// Fields read in a row: the values written, then, past the end or past a bound, zeros and
// Bad for good.
func TestReaderReadsUntilTheFirstError(t *testing.T) {
	b := binary.AppendVarint(nil, -300)
	b = binary.AppendUvarint(b, 1<<40)
	b = append(b, 7)
	b = binary.AppendUvarint(b, 3)
	r := Reader{B: b}
	if r.Int() != -300 || r.Uint() != 1<<40 || r.Byte() != 7 || r.Count(3) != 3 || !r.Done() {
		t.Fatalf("read back wrong: %+v", r)
	}
	if r.Uint() != 0 || !r.Bad || r.Done() {
		t.Fatalf("read past the end: %+v", r)
	}
	r = Reader{B: binary.AppendUvarint(nil, 4)}
	if r.Count(3) != 0 || !r.Bad || r.Int() != 0 {
		t.Fatalf("a count over its bound: %+v", r)
	}
	r = Reader{B: []byte{1, 2}}
	r.Byte()
	if r.Done() {
		t.Fatal("Done with a byte left over")
	}
}
