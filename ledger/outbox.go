package ledger

import (
	"bytes"
	"context"
	"fmt"
	"mpg/domain"
	"strings"
	"time"
)

// The outbox holds the replies written with the money. A sender takes due messages with
// NextMessages, submits them, and reports each with MarkSent, MarkFailed or MarkRetry;
// delivery receipts come back through MarkReceipt. A message taken but never marked is
// offered again after a restart: a reply may go out twice, never zero times.
//
// States: queued (due now or at NextAt) → sent → delivered | undeliverable; queued → failed
// (a permanent refusal, or the validity ended); queued → unknown (a submit got no answer:
// resent at NextAt, or left for the operator when no resends are left) → sent once a late
// answer or a receipt settles it.

type msgUpdate struct {
	id      uint64 // outbox id, or 0 to find the message by smscID
	smscID  string
	parts   []string // every part's SMSC id, each indexed for receipts
	status  domain.MessageStatus
	reason  string
	attempt bool
	retry   *Retry
	receipt bool
	result  domain.Message // the message as written (zero when the update changed nothing)
}

// Outbox is the outbox as its sender uses it (the methods below): the daemon's SMPP
// sender and the conformance suite (ledgertest) ask it of every ledger, so that another
// ledger than this one can send. OutboxDue and OutboxWaiting count for /metrics.
type Outbox interface {
	NextMessages(ctx context.Context, max int) ([]domain.Message, error)
	MarkSent(ctx context.Context, id uint64, smscIDs ...string) error
	MarkFailed(ctx context.Context, id uint64, reason string) error
	MarkRetry(ctx context.Context, id uint64, r Retry) error
	MarkReceipt(ctx context.Context, smscID string, delivered bool, state string) error
	Requeue(id uint64)
	OutboxDue() int
	OutboxWaiting() int
}

// Retry is what MarkRetry records about a message that could not be sent now.
type Retry struct {
	// Unknown: the submit got no answer, so the SMSC may have the message.
	Unknown bool
	Reason  string
	// At is when to try again; zero with Unknown leaves the message unknown, not scheduled,
	// for the operator (`mpg outbox resend`) or a late answer to settle.
	At time.Time
}

// NextMessages waits until due messages are there (or ctx ends) and returns up to max of
// them, urgent ones first. Each is handed out once until it is marked (or requeued).
func (l *Ledger) NextMessages(ctx context.Context, max int) ([]domain.Message, error) {
	for {
		ids, next := l.out.take(max, l.opt.Now().UnixNano())
		if len(ids) > 0 {
			out := make([]domain.Message, 0, len(ids))
			err := l.view(func(tx Tx) error {
				b, q := tx.Bucket(bktOutbox), tx.Bucket(bktOutQueue)
				if p, ok := tx.(Prefetcher); ok {
					keys := make([]KeyRef, 0, 2*len(ids))
					for _, id := range ids {
						keys = append(keys, KeyRef{bktOutQueue, u64key(id)}, KeyRef{bktOutbox, u64key(id)})
					}
					p.Prefetch(keys)
				}
				for _, id := range ids {
					if s := q.Get(u64key(id)); s == nil || !bytes.Equal(s, l.self) {
						l.out.release(id) // settled meanwhile (a late answer, an operator), or taken over
						continue
					}
					m, err := decodeMessage(b.Get(u64key(id)))
					if err != nil {
						return fmt.Errorf("outbox message %d: %w", id, err)
					}
					l.people.memMessage(tx, &m)
					out = append(out, m)
				}
				return nil
			})
			if len(out) == 0 && err == nil {
				continue
			}
			return out, err
		}
		var timer <-chan time.Time
		if next > 0 {
			t := time.NewTimer(time.Duration(next - l.opt.Now().UnixNano()))
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-l.out.wake:
		case <-timer:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.done:
			return nil, ErrClosed
		}
	}
}

// Requeue offers a message taken with NextMessages again at once, recording nothing (the
// sender stops before it could try).
func (l *Ledger) Requeue(id uint64) {
	m, err := l.Message(id)
	l.out.push(id, err == nil && m.Urgent, 0, 0)
}

// MarkSent records that the SMSC accepted message id; a long message has one SMSC id per part.
func (l *Ledger) MarkSent(ctx context.Context, id uint64, smscIDs ...string) error {
	if len(smscIDs) == 0 || len(smscIDs) > 16 {
		return fmt.Errorf("MarkSent: 1 to 16 SMSC ids, got %d", len(smscIDs))
	}
	for _, s := range smscIDs {
		if s == "" || len(s) > domain.MaxStringLen || strings.Contains(s, ",") {
			return fmt.Errorf("MarkSent: SMSC id of 1..%d bytes without a comma", domain.MaxStringLen)
		}
	}
	_, err := l.update(ctx, &msgUpdate{id: id, smscID: strings.Join(smscIDs, ","), parts: smscIDs, status: domain.MsgSent, attempt: true})
	l.out.release(id)
	return err
}

// MarkFailed records that message id can never be sent, and why.
func (l *Ledger) MarkFailed(ctx context.Context, id uint64, reason string) error {
	_, err := l.update(ctx, &msgUpdate{id: id, status: domain.MsgFailed, reason: reason, attempt: true})
	l.out.release(id)
	return err
}

// MarkRetry records a try that did not get the message through: it stays queued (a temporary
// refusal) or becomes unknown (no answer), with the attempt counted, and is offered again at
// r.At. A message settled meanwhile (sent, delivered, failed) is left as it is.
func (l *Ledger) MarkRetry(ctx context.Context, id uint64, r Retry) error {
	if !r.Unknown && r.At.IsZero() {
		return fmt.Errorf("MarkRetry: a queued message needs a time to try again")
	}
	st := domain.MsgQueued
	if r.Unknown {
		st = domain.MsgUnknown
	}
	m, err := l.update(ctx, &msgUpdate{id: id, status: st, reason: r.Reason, attempt: true, retry: &r})
	if err == nil && m.ID != 0 && m.NextAt != 0 {
		l.out.push(id, m.Urgent, m.NextAt, l.opt.Now().UnixNano())
		return nil
	}
	l.out.release(id)
	return err
}

// MarkReceipt records a delivery receipt for the message the SMSC knows as smscID. A receipt
// that comes before its submit was recorded is kept and applied when it is (for a day).
func (l *Ledger) MarkReceipt(ctx context.Context, smscID string, delivered bool, state string) error {
	s := domain.MsgUndeliverable
	if delivered {
		s = domain.MsgDelivered
	}
	_, err := l.update(ctx, &msgUpdate{smscID: smscID, status: s, reason: state, receipt: true})
	return err
}

func (l *Ledger) update(ctx context.Context, u *msgUpdate) (domain.Message, error) {
	if len(u.reason) > domain.MaxAuditLen {
		u.reason = u.reason[:domain.MaxAuditLen]
	}
	if u.smscID == "" && u.id == 0 || u.parts == nil && len(u.smscID) > domain.MaxStringLen {
		return domain.Message{}, fmt.Errorf("an outbox id, or an SMSC id of at most %d bytes", domain.MaxStringLen)
	}
	r := &jobReq{upd: u, done: make(chan struct{})}
	if err := l.enqueue(ctx, r); err != nil {
		return domain.Message{}, err
	}
	select {
	case <-r.done:
		return u.result, r.err
	case <-ctx.Done():
		return domain.Message{}, ctx.Err()
	}
}

// earlyReceiptTTL is how long a receipt for an SMSC id not (yet) recorded is kept.
const earlyReceiptTTL = 24 * time.Hour

func (w *batchWriter) applyUpdate(u *msgUpdate) error {
	out := w.tx.Bucket(bktOutbox)
	ids := w.tx.Bucket(bktSMSCIDs)
	id := u.id
	if id == 0 {
		v := ids.Get([]byte(u.smscID))
		if v == nil {
			if !u.receipt {
				return fmt.Errorf("%w: SMSC id %q", domain.ErrMessageNotFound, u.smscID)
			}
			// The receipt beat the record of its submit (or is for a message pruned or never
			// ours): keep it, MarkSent applies it.
			e := enc{}
			e.u64(uint64(w.l.opt.Now().UnixNano()))
			e.u8(uint8(u.status))
			e.str(u.reason)
			w.l.stats.EarlyReceipts.Add(1)
			return w.tx.Bucket(bktEarly).Put([]byte(u.smscID), e.b)
		}
		id = be64(v)
	}
	v := out.Get(u64key(id))
	if v == nil {
		return fmt.Errorf("%w: %d", domain.ErrMessageNotFound, id)
	}
	m, err := decodeMessage(v)
	if err != nil {
		return err
	}
	was := m.Status
	q := w.tx.Bucket(bktOutQueue)
	switch {
	case u.retry != nil:
		if m.Status != domain.MsgQueued && m.Status != domain.MsgUnknown {
			return nil // settled meanwhile: a late answer, a receipt
		}
		if u.retry.Unknown && m.Unknowns < 255 {
			m.Unknowns++
		}
		m.NextAt = 0
		if !u.retry.At.IsZero() {
			m.NextAt = max(1, u.retry.At.UnixNano())
		}
	case u.status == domain.MsgFailed && (m.Status == domain.MsgSent || m.Status == domain.MsgDelivered || m.Status == domain.MsgUndeliverable):
		return nil // a late answer said the SMSC has it
	case u.status == domain.MsgSent && (m.Status == domain.MsgDelivered || m.Status == domain.MsgUndeliverable):
		return nil // a receipt came first
	}
	m.Status = u.status
	if u.attempt && m.Attempts < 65535 {
		m.Attempts++
	}
	if u.smscID != "" && u.parts != nil {
		m.SMSCID = u.smscID
	}
	if u.reason != "" {
		m.Reason = u.reason
	}
	for _, part := range u.parts {
		if err := ids.Put([]byte(part), u64key(id)); err != nil {
			return err
		}
		early := w.tx.Bucket(bktEarly)
		if r := early.Get([]byte(part)); r != nil {
			d := dec{b: r}
			d.u64()
			st, state := domain.MessageStatus(d.u8()), d.str()
			if d.err == nil && (m.Status == domain.MsgSent || m.Status == domain.MsgDelivered) {
				m.Status, m.Reason = st, state
			}
			if err := early.Delete([]byte(part)); err != nil {
				return err
			}
		}
	}
	e := enc{}
	e.message(&m)
	if err := out.Put(u64key(id), e.b); err != nil {
		return err
	}
	// Still to send: queued, or unknown with a resend scheduled.
	if m.Status == domain.MsgQueued || m.Status == domain.MsgUnknown && m.NextAt != 0 {
		err = q.Put(u64key(id), w.l.self) // whoever marks it sends it next
	} else {
		err = q.Delete(u64key(id))
	}
	if err != nil {
		return err
	}
	u.result = m
	return w.journalFacts(domain.ReplyFacts(was, m.Status))
}

// journalFacts writes facts in the journal's hash chain outside a job (an SMS's new state,
// recorded with the outbox's own update). A failed write fails the batch, which takes the
// journal's position back.
func (w *batchWriter) journalFacts(facts []domain.Fact) error {
	if len(facts) == 0 {
		return nil
	}
	ja := &w.ja
	ja.reset(w, w.l.opt.Now().UnixNano())
	for i := range facts {
		ja.journal(entFact, func(e *enc) { e.fact(&facts[i]) })
	}
	b := w.tx.Bucket(bktJournal)
	for _, p := range ja.puts {
		if err := b.Put(p.key, p.val); err != nil {
			w.ioErr = err
			return err
		}
	}
	return nil
}

// Unsent counts the outbox messages still to send: queued (now or later), unknown with a
// resend scheduled, or handed to a sender and not yet marked.
func (l *Ledger) Unsent() (int, error) {
	n := 0
	err := l.view(func(tx Tx) error {
		n = keyCount(tx.Bucket(bktOutQueue))
		return nil
	})
	return n, err
}

// OutboxDue counts the messages a sender could take now or holds, leaving out those waiting
// for a retry time: what a graceful stop waits for.
func (l *Ledger) OutboxDue() int { return l.out.due(l.opt.Now().UnixNano()) }

// OutboxWaiting counts the messages waiting for a retry time.
func (l *Ledger) OutboxWaiting() int { return l.out.waiting() }

// Message reads one outbox message.
func (l *Ledger) Message(id uint64) (domain.Message, error) {
	var m domain.Message
	err := l.view(func(tx Tx) error {
		v := tx.Bucket(bktOutbox).Get(u64key(id))
		if v == nil {
			return fmt.Errorf("%w: %d", domain.ErrMessageNotFound, id)
		}
		var err error
		m, err = decodeMessage(v)
		l.people.memMessage(tx, &m)
		return err
	})
	return m, err
}

// Messages lists outbox messages newest first, at most limit, with ids below before (0: all),
// only those in state (0: any).
func (l *Ledger) Messages(limit int, before uint64, state domain.MessageStatus) ([]domain.Message, error) {
	var out []domain.Message
	err := l.view(func(tx Tx) error {
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
			if state == 0 || m.Status == state {
				l.people.memMessage(tx, &m)
				out = append(out, m)
			}
		}
		return nil
	})
	return out, err
}

// MessageCounts counts the outbox messages by state (one read of the whole outbox: the
// retention bounds it).
func (l *Ledger) MessageCounts() (map[domain.MessageStatus]int, error) {
	n := map[domain.MessageStatus]int{}
	err := l.view(func(tx Tx) error {
		return tx.Bucket(bktOutbox).ForEach(func(_, v []byte) error {
			m, err := decodeMessage(v)
			n[m.Status]++
			return err
		})
	})
	return n, err
}

// maxPrunePerCommit bounds the outbox messages and early receipts one commit deletes.
const maxPrunePerCommit = 20000

// pruneOutbox deletes messages settled longer ago than the retention, oldest first, with
// their SMSC ids, and early receipts older than a day; at most once a minute.
func (w *batchWriter) pruneOutbox(now int64) error {
	if now-w.lastPrune < int64(time.Minute) {
		return nil
	}
	w.lastPrune = now
	cutoff := now - int64(w.l.opt.OutboxRetention)
	q, ids, box := w.tx.Bucket(bktOutQueue), w.tx.Bucket(bktSMSCIDs), w.tx.Bucket(bktOutbox)
	var drop [][]byte // deleted after the walk: a bbolt cursor skips keys when deleting as it goes
	c := box.Cursor()
	n := 0
	for k, v := c.First(); k != nil && n < maxPrunePerCommit; k, v = c.Next() {
		n++
		m, err := decodeMessage(v)
		if err != nil {
			return fmt.Errorf("outbox message %d: %w", be64(k), err)
		}
		if m.Created > cutoff {
			break
		}
		if q.Get(k) != nil {
			continue // still to send: never pruned
		}
		for _, part := range strings.Split(m.SMSCID, ",") {
			if part != "" {
				if cur := ids.Get([]byte(part)); cur != nil && be64(cur) == m.ID {
					if err := ids.Delete([]byte(part)); err != nil {
						return err
					}
				}
			}
		}
		drop = append(drop, append([]byte(nil), k...))
	}
	for _, k := range drop {
		if err := box.Delete(k); err != nil {
			return err
		}
		w.l.stats.OutboxPruned.Add(1)
	}
	if n == maxPrunePerCommit {
		w.lastPrune, w.expireDue = 0, true // more are due: the next commit goes on
	}
	early := w.tx.Bucket(bktEarly)
	drop, n = drop[:0], 0
	ec := early.Cursor()
	for k, v := ec.First(); k != nil && n < maxPrunePerCommit; k, v = ec.Next() {
		n++
		if int64(be64(v)) < now-int64(earlyReceiptTTL) {
			drop = append(drop, append([]byte(nil), k...))
		}
	}
	for _, k := range drop {
		if err := early.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Resend queues a copy of message id as a new message (same text, sealed secret and
// urgency; its own validity), audited with the operator: for a reply that failed, is
// unknown, or that the subscriber says never came. A message still queued is refused: it
// goes out on its own.
func (l *Ledger) Resend(ctx context.Context, id uint64, actor string) (uint64, error) {
	m, err := l.Message(id)
	if err != nil {
		return 0, err
	}
	if m.Status == domain.MsgQueued {
		return 0, fmt.Errorf("message %d is still queued (attempt %d): it goes out on its own", id, m.Attempts)
	}
	cp := domain.Message{From: m.From, To: m.To, Text: m.Text, Sealed: m.Sealed, Urgent: m.Urgent}
	res, err := l.Submit(ctx, domain.Job{Messages: []domain.Message{cp},
		Audit: &domain.Audit{Actor: actor, Action: "outbox resend", Detail: fmt.Sprintf("message %d (%s) resent", id, m.Status)}})
	if err != nil {
		return 0, err
	}
	return res.Messages[0], nil
}
