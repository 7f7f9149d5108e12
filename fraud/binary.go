package fraud

import (
	"encoding/binary"
	"errors"

	"mpg/internal/varint"
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
	r := reader{varint.Reader{B: b}}
	if r.Byte() != binaryVersion {
		return ErrBinary
	}
	*a = Activity{LastPaid: r.Int(), LastReset: r.Int(), Usual: r.Uint(), Payments: r.Uint()}
	a.Hour.Base = r.ring(a.Hour.Count[:], a.Hour.Night[:])
	a.Day.Base = r.ring(a.Day.Count[:], a.Day.Amount[:])
	a.Week.Base = r.ring(a.Week.Paid[:], a.Week.Refunded[:])
	a.Peers, a.Failed = r.peers(MaxPeers), r.peers(MaxFailed)
	n := r.Count(MaxRecent)
	for range n {
		a.Recent = append(a.Recent, Recent{r.Int(), r.Int()})
	}
	if !r.Done() {
		*a = Activity{}
		return ErrBinary
	}
	a.bound()
	a.clamp()
	return nil
}

// reader reads an activity's parts.
type reader struct{ varint.Reader }

func (r *reader) ring(cols ...[]uint64) int64 {
	base := r.Int()
	for _, col := range cols {
		for i := range col {
			col[i] = r.Uint()
		}
	}
	return base
}

func (r *reader) peers(limit int) []Peer {
	n := r.Count(limit)
	var out []Peer
	for range n {
		out = append(out, Peer{ID: r.Uint(), Minute: r.Int(), Web: r.Byte() == 1})
	}
	return out
}
