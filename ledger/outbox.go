package ledger

import (
	"context"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The outbox holds the replies written with the money. A sender takes queued messages with
// NextMessages, submits them, and reports each with MarkSent or MarkFailed; delivery
// receipts come back through MarkReceipt. A message taken but never marked is offered
// again after a restart: a reply may go out twice, never zero times.

type msgUpdate struct {
	id      uint64 // outbox id, or 0 to find the message by smscID
	smscID  string
	parts   []string // every part's SMSC id, each indexed for receipts
	status  MessageStatus
	reason  string
	attempt bool
}

// ErrMessageNotFound is returned for an unknown outbox id or SMSC message id.
var ErrMessageNotFound = fmt.Errorf("message not found")

// NextMessages waits until queued messages are there (or ctx ends) and returns up to max of
// them. Each is handed out once per process run.
func (l *Ledger) NextMessages(ctx context.Context, max int) ([]Message, error) {
	for {
		l.outMu.Lock()
		n := min(max, len(l.outQueue))
		ids := append([]uint64(nil), l.outQueue[:n]...)
		l.outQueue = l.outQueue[n:]
		l.outMu.Unlock()
		if n > 0 {
			out := make([]Message, 0, n)
			err := l.db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(bktOutbox)
				for _, id := range ids {
					m, err := decodeMessage(b.Get(u64key(id)))
					if err != nil {
						return fmt.Errorf("outbox message %d: %w", id, err)
					}
					out = append(out, m)
				}
				return nil
			})
			return out, err
		}
		select {
		case <-l.outWake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.done:
			return nil, ErrClosed
		}
	}
}

// Requeue offers a message taken with NextMessages again (the sender gave up for now).
func (l *Ledger) Requeue(id uint64) {
	l.outMu.Lock()
	l.outQueue = append(l.outQueue, id)
	l.outMu.Unlock()
	select {
	case l.outWake <- struct{}{}:
	default:
	}
}

// MarkSent records that the SMSC accepted message id; a long message has one SMSC id per part.
func (l *Ledger) MarkSent(ctx context.Context, id uint64, smscIDs ...string) error {
	if len(smscIDs) == 0 || len(smscIDs) > 16 {
		return fmt.Errorf("MarkSent: 1 to 16 SMSC ids, got %d", len(smscIDs))
	}
	for _, s := range smscIDs {
		if s == "" || len(s) > maxStringLen {
			return fmt.Errorf("MarkSent: SMSC id of 1..%d bytes", maxStringLen)
		}
	}
	return l.update(ctx, &msgUpdate{id: id, smscID: strings.Join(smscIDs, ","), parts: smscIDs, status: MsgSent, attempt: true})
}

// MarkFailed records that message id can never be sent, and why.
func (l *Ledger) MarkFailed(ctx context.Context, id uint64, reason string) error {
	return l.update(ctx, &msgUpdate{id: id, status: MsgFailed, reason: reason, attempt: true})
}

// MarkReceipt records a delivery receipt for the message the SMSC knows as smscID.
func (l *Ledger) MarkReceipt(ctx context.Context, smscID string, delivered bool, state string) error {
	s := MsgUndeliverable
	if delivered {
		s = MsgDelivered
	}
	return l.update(ctx, &msgUpdate{smscID: smscID, status: s, reason: state})
}

func (l *Ledger) update(ctx context.Context, u *msgUpdate) error {
	if len(u.reason) > maxAuditLen || (u.parts == nil && len(u.smscID) > maxStringLen) {
		return fmt.Errorf("SMSC id at most %d bytes, reason at most %d", maxStringLen, maxAuditLen)
	}
	r := &jobReq{upd: u, done: make(chan struct{})}
	if err := l.enqueue(ctx, r); err != nil {
		return err
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *batchWriter) applyUpdate(u *msgUpdate) error {
	out := w.tx.Bucket(bktOutbox)
	ids := w.tx.Bucket(bktSMSCIDs)
	id := u.id
	if id == 0 {
		v := ids.Get([]byte(u.smscID))
		if v == nil {
			return fmt.Errorf("%w: SMSC id %q", ErrMessageNotFound, u.smscID)
		}
		id = be64(v)
	}
	v := out.Get(u64key(id))
	if v == nil {
		return fmt.Errorf("%w: %d", ErrMessageNotFound, id)
	}
	m, err := decodeMessage(v)
	if err != nil {
		return err
	}
	m.Status = u.status
	if u.attempt {
		m.Attempts++
	}
	if u.smscID != "" {
		m.SMSCID = u.smscID
	}
	if u.reason != "" {
		m.Reason = u.reason
	}
	e := enc{}
	e.message(&m)
	if err := out.Put(u64key(id), e.b); err != nil {
		return err
	}
	if err := w.tx.Bucket(bktOutQueue).Delete(u64key(id)); err != nil {
		return err
	}
	for _, part := range u.parts {
		if err := ids.Put([]byte(part), u64key(id)); err != nil {
			return err
		}
	}
	return nil
}

// Unsent counts the outbox messages not yet accepted by the SMSC nor failed: queued, or
// handed to a sender and not yet marked.
func (l *Ledger) Unsent() (int, error) {
	n := 0
	err := l.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bktOutQueue).Stats().KeyN
		return nil
	})
	return n, err
}

// Message reads one outbox message.
func (l *Ledger) Message(id uint64) (Message, error) {
	var m Message
	err := l.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktOutbox).Get(u64key(id))
		if v == nil {
			return fmt.Errorf("%w: %d", ErrMessageNotFound, id)
		}
		var err error
		m, err = decodeMessage(v)
		return err
	})
	return m, err
}

// Messages lists outbox messages newest first, at most limit, with ids below before (0: all).
func (l *Ledger) Messages(limit int, before uint64) ([]Message, error) {
	var out []Message
	err := l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktOutbox).Cursor()
		var k, v []byte
		if before == 0 {
			k, v = c.Last()
		} else {
			c.Seek(u64key(before))
			k, v = c.Prev()
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			m, err := decodeMessage(v)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}
