// Package varint reads the compact binary records mpg keeps on the hot path (a payer's
// fraud activity, a member's statistics): varints read until the first error, then only
// zeros, the error remembered, so a decoder reads its fields in a row and checks once.
package varint

import "encoding/binary"

// Reader reads B from its start.
type Reader struct {
	B   []byte
	Bad bool // a read failed: B was short, or a value out of its bounds
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.B) == 0 {
		r.fail()
		return 0
	}
	v := r.B[0]
	r.B = r.B[1:]
	return v
}

// Uint reads an unsigned varint.
func (r *Reader) Uint() uint64 {
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Int reads a zig-zag varint.
func (r *Reader) Int() int64 {
	v, n := binary.Varint(r.B)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Count reads a list's length, refusing one beyond limit.
func (r *Reader) Count(limit int) int {
	n := r.Uint()
	if n > uint64(limit) {
		r.fail()
		return 0
	}
	return int(n)
}

// Done reports whether every read succeeded and nothing is left over.
func (r *Reader) Done() bool { return !r.Bad && len(r.B) == 0 }

func (r *Reader) fail() { r.Bad, r.B = true, nil }
