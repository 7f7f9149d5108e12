package stats

import (
	"encoding/binary"
	"errors"

	"mpg/internal/varint"
)

// A member's binary form, as the statistics follower keeps it in a payer's record (it reads
// and writes one per payer a pass; JSON cost it most of its time): First and Last, a mask of
// the month slots that hold a month, each such slot's month, count and amount, then the
// current and previous months' spend (month, merchants with amounts, others). Integers are
// varints (zig-zag where they may be negative).

var errMember = errors.New("stats: not a member's binary form")

// AppendBinary appends m's binary form to b.
func (m *Member) AppendBinary(b []byte) ([]byte, error) {
	b = binary.AppendVarint(b, int64(m.First))
	b = binary.AppendVarint(b, int64(m.Last))
	var mask uint64
	for i, t := range m.Months {
		if t != (Tally{}) {
			mask |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, mask)
	for i, t := range m.Months {
		if mask&(1<<i) != 0 {
			b = binary.AppendVarint(b, int64(t.Month))
			b = binary.AppendVarint(b, t.Count)
			b = binary.AppendVarint(b, t.Amount)
		}
	}
	return m.Prev.appendTo(m.Cur.appendTo(b)), nil
}

func (s *Spend) appendTo(b []byte) []byte {
	b = binary.AppendVarint(b, int64(s.Month))
	b = binary.AppendUvarint(b, uint64(len(s.Top)))
	for _, e := range s.Top {
		b = binary.AppendUvarint(b, e.Merchant)
		b = binary.AppendVarint(b, e.Amount)
	}
	return binary.AppendVarint(b, s.Others)
}

// UnmarshalBinary reads what AppendBinary wrote, all of it and nothing more.
func (m *Member) UnmarshalBinary(b []byte) error {
	r := memberReader{varint.Reader{B: b}}
	*m = Member{First: r.i32(), Last: r.i32()}
	mask := r.Uint()
	if mask >= 1<<MonthsKept {
		return errMember
	}
	for i := range m.Months {
		if mask&(1<<i) != 0 {
			m.Months[i] = Tally{Month: r.i32(), Count: r.Int(), Amount: r.Int()}
		}
	}
	m.Cur, m.Prev = r.spend(), r.spend()
	if !r.Done() {
		return errMember
	}
	return nil
}

// memberReader reads a member's parts.
type memberReader struct{ varint.Reader }

func (r *memberReader) i32() int32 {
	v := r.Int()
	if v != int64(int32(v)) {
		r.Bad = true
	}
	return int32(v)
}

func (r *memberReader) spend() Spend {
	s := Spend{Month: r.i32()}
	n := r.Count(TopMerchants)
	for range n {
		if r.Bad {
			break
		}
		s.Top = append(s.Top, Spent{Merchant: r.Uint(), Amount: r.Int()})
	}
	s.Others = r.Int()
	return s
}
