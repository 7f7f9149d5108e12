package fraud

import (
	"encoding/binary"
	"errors"
)

// An activity is read on every payment a rule scores and written by the follower for
// every payer and payee it folds: it is kept in a compact binary form (varints, mostly one
// byte each), several times quicker to read than its JSON.

// binaryVersion is the first byte of an activity's binary form.
const binaryVersion = 1

// ErrBinary is returned for bytes that are no activity.
var ErrBinary = errors.New("fraud: not an activity record")

// AppendBinary appends the activity's binary form to b.
func (a *Activity) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, binaryVersion)
	b = binary.AppendVarint(b, a.LastPaid)
	b = binary.AppendVarint(b, a.LastReset)
	b = binary.AppendUvarint(b, a.Usual)
	b = binary.AppendUvarint(b, a.Payments)
	b = appendRing(b, a.Hour.Base, a.Hour.Count[:], a.Hour.Night[:])
	b = appendRing(b, a.Day.Base, a.Day.Count[:], a.Day.Amount[:])
	b = appendRing(b, a.Week.Base, a.Week.Paid[:], a.Week.Refunded[:])
	b = appendPeers(b, a.Peers)
	b = appendPeers(b, a.Failed)
	b = binary.AppendUvarint(b, uint64(len(a.Recent)))
	for _, r := range a.Recent {
		b = binary.AppendVarint(b, r[0])
		b = binary.AppendVarint(b, r[1])
	}
	return b, nil
}

// MarshalBinary is the activity's binary form.
func (a *Activity) MarshalBinary() ([]byte, error) { return a.AppendBinary(make([]byte, 0, 256)) }

func appendRing(b []byte, base int64, cols ...[]uint64) []byte {
	b = binary.AppendVarint(b, base)
	for _, col := range cols {
		for _, v := range col {
			b = binary.AppendUvarint(b, v)
		}
	}
	return b
}

func appendPeers(b []byte, peers []Peer) []byte {
	b = binary.AppendUvarint(b, uint64(len(peers)))
	for _, p := range peers {
		b = binary.AppendUvarint(b, p.ID)
		b = binary.AppendVarint(b, p.Minute)
		if p.Web {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

// UnmarshalBinary reads an activity's binary form, trimmed to its bounds as its JSON is.
func (a *Activity) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	if r.byte() != binaryVersion {
		return ErrBinary
	}
	*a = Activity{LastPaid: r.varint(), LastReset: r.varint(), Usual: r.uvarint(), Payments: r.uvarint()}
	a.Hour.Base = r.ring(a.Hour.Count[:], a.Hour.Night[:])
	a.Day.Base = r.ring(a.Day.Count[:], a.Day.Amount[:])
	a.Week.Base = r.ring(a.Week.Paid[:], a.Week.Refunded[:])
	a.Peers, a.Failed = r.peers(MaxPeers), r.peers(MaxFailed)
	n := r.count(MaxRecent)
	for range n {
		a.Recent = append(a.Recent, Recent{r.varint(), r.varint()})
	}
	if r.err != nil || len(r.b) != 0 {
		*a = Activity{}
		return ErrBinary
	}
	a.bound()
	a.clamp()
	return nil
}

// reader reads varints until the first error, then only zeros.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.err = ErrBinary
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = ErrBinary, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = ErrBinary, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) ring(cols ...[]uint64) int64 {
	base := r.varint()
	for _, col := range cols {
		for i := range col {
			col[i] = r.uvarint()
		}
	}
	return base
}

// count reads a list's length, refusing one beyond its bound.
func (r *reader) count(limit int) int {
	n := r.uvarint()
	if n > uint64(limit) {
		r.err, r.b = ErrBinary, nil
		return 0
	}
	return int(n)
}

func (r *reader) peers(limit int) []Peer {
	n := r.count(limit)
	var out []Peer
	for range n {
		out = append(out, Peer{ID: r.uvarint(), Minute: r.varint(), Web: r.byte() == 1})
	}
	return out
}
