package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"mpg/domain"
	"time"
)

// The parts of a long inbound SMS are kept in the file, group-committed like any job, before
// the SMSC is told it has them: a restart between two parts loses nothing. They are released
// once the whole message has been taken, and swept when it never completes. A part's sender
// is kept as a keyed hash and its text sealed (under keys derived from the identity key):
// what a subscriber types, a number or a name, is never in the file in clear.

// Limits on the parts held, so that one sender cannot fill the file.
const (
	MaxPartBytes     = 256    // one part's payload
	MaxPartsOfSender = 32     // parts held for one sender (two long messages of 16 parts)
	MaxPartsHeld     = 100000 // parts held in all
)

// Part is one kept part.
type Part struct {
	Seq    uint8
	Coding uint8
	Data   []byte
}

func (l *Ledger) partPrefix(sender, msg string) []byte {
	k := append(l.people.partSender(sender), 0)
	return append(append(k, msg...), 0)
}

// KeepPart stores a part durably; a part already kept is kept once. It is refused with
// ErrLimitExceeded (a temporary condition: parts expire) when the sender or the file holds
// too many.
func (l *Ledger) KeepPart(ctx context.Context, p domain.PartWrite) error {
	_, err := l.Submit(ctx, domain.Job{Part: &p})
	return err
}

// ReleaseParts drops the parts of a message that was taken.
func (l *Ledger) ReleaseParts(ctx context.Context, sender, msg string) error {
	_, err := l.Submit(ctx, domain.Job{ReleaseParts: &domain.PartWrite{Sender: sender, Msg: msg}})
	return err
}

// Parts returns the parts kept for a message, in order.
func (l *Ledger) Parts(sender, msg string) ([]Part, error) {
	var out []Part
	prefix := l.partPrefix(sender, msg)
	err := l.view(func(tx Tx) error {
		c := tx.Bucket(bktParts).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+1; k, v = c.Next() {
			data, err := l.people.openPart(k, v)
			if err != nil {
				return fmt.Errorf("part %d of a message: %w", k[len(k)-1], err)
			}
			out = append(out, Part{Seq: k[len(k)-1], Coding: v[8], Data: data})
		}
		return nil
	})
	return out, err
}

// keepPart applies a PartWrite in the writer.
func (ja *jobApply) keepPart(p *domain.PartWrite) error {
	st, b := ja.w.l.st, ja.w.tx.Bucket(bktParts)
	if p.Sender == "" || len(p.Sender) > 256 || len(p.Msg) > 64 || len(p.Data) > MaxPartBytes || p.Seq == 0 || p.TTL <= 0 {
		return refuse(domain.ErrInvalid, -1, "part: sender, message of at most 64 bytes, sequence from 1, payload at most %d bytes, positive TTL", MaxPartBytes)
	}
	k := append(ja.w.l.partPrefix(p.Sender, p.Msg), p.Seq)
	if b.Get(k) != nil {
		return nil // a repeat of a part kept: the first copy counts
	}
	if st.parts >= MaxPartsHeld {
		return refuse(domain.ErrLimitExceeded, -1, "%d parts of long messages held", st.parts)
	}
	n := 0
	sp := append(ja.w.l.people.partSender(p.Sender), 0)
	c := b.Cursor()
	for ck, _ := c.Seek(sp); ck != nil && bytes.HasPrefix(ck, sp); ck, _ = c.Next() {
		if n++; n >= MaxPartsOfSender {
			return refuse(domain.ErrLimitExceeded, -1, "%d parts held for %s", n, domain.Mask(p.Sender))
		}
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(ja.now+int64(p.TTL)))
	v = append(append(v, p.Coding), ja.w.l.people.sealPart(k, p.Data)...)
	ja.puts = append(ja.puts, put{bucket: bktParts, key: k, val: v})
	st.parts++
	ja.u.parts++
	return nil
}

func (ja *jobApply) releaseParts(p *domain.PartWrite) {
	prefix := ja.w.l.partPrefix(p.Sender, p.Msg)
	c := ja.w.tx.Bucket(bktParts).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+1; k, _ = c.Next() {
		ja.puts = append(ja.puts, put{bucket: bktParts, key: append([]byte(nil), k...), del: true})
		ja.w.l.st.parts--
		ja.u.parts--
	}
}

// sweepParts drops parts whose message did not complete in time, at most once a minute.
func (w *batchWriter) sweepParts(now int64) error {
	st := w.l.st
	if st.parts == 0 || now-w.lastPartSweep < int64(time.Minute) {
		return nil
	}
	w.lastPartSweep = now
	b := w.tx.Bucket(bktParts)
	var dead [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(v) >= 8 && int64(binary.BigEndian.Uint64(v)) <= now {
			dead = append(dead, append([]byte(nil), k...))
		}
	}
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return err
		}
		st.parts--
		w.l.stats.PartsExpired.Add(1)
	}
	return nil
}
