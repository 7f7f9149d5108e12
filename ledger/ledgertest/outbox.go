package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
	"mpg/ledger"
)

// clock is a test clock the ledger reads; tests move it.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

func queue(t testing.TB, l Ledger, job domain.Job) uint64 {
	t.Helper()
	res, err := l.Submit(context.Background(), job)
	if err != nil || len(res.Messages) != 1 {
		t.Fatal(err, res)
	}
	return res.Messages[0]
}

func next(t testing.TB, l Ledger, wait time.Duration) []domain.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	msgs, _ := l.NextMessages(ctx, 100)
	return msgs
}

// DedupeAndOutbox: a copy of an inbound message gets the first reply back, and a reply
// goes from queued to sent to delivered.
func DedupeAndOutbox(t *testing.T, open Opener) {
	l, _ := open(t, Config{})
	ctx := context.Background()
	job := domain.Job{
		Messages: []domain.Message{{From: "1234", To: "+33612345678", Text: "hello"}},
		Dedupe:   &domain.Dedupe{Key: "+33612345678|abc", TTL: time.Minute, Result: []byte("first reply")},
	}
	res, err := l.Submit(ctx, job)
	if err != nil || len(res.Messages) != 1 {
		t.Fatal(err, res)
	}
	_, err = l.Submit(ctx, job)
	var dup *domain.DuplicateError
	if !errors.As(err, &dup) || string(dup.Result) != "first reply" {
		t.Fatalf("duplicate: %v", err)
	}
	msgs, err := l.NextMessages(ctx, 10)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "hello" || msgs[0].Status != domain.MsgQueued {
		t.Fatalf("next: %v %+v", err, msgs)
	}
	if err := l.MarkSent(ctx, msgs[0].ID, "abc123"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkReceipt(ctx, "abc123", true, "DELIVRD"); err != nil {
		t.Fatal(err)
	}
	m, err := l.Message(msgs[0].ID)
	if err != nil || m.Status != domain.MsgDelivered || m.SMSCID != "abc123" || m.Attempts != 1 {
		t.Fatalf("message: %v %+v", err, m)
	}
	if err := l.MarkSent(ctx, 999, "x"); !errors.Is(err, domain.ErrMessageNotFound) {
		t.Fatalf("unknown message: %v", err)
	}
}

// DedupeOnDisk: of copies in one batch one is taken; a copy is a duplicate across a restart
// until its window ends, and new again after it.
func DedupeOnDisk(t *testing.T, open Opener) {
	c := newClock()
	cfg := Config{Now: c.now, ExpiryEvery: 5 * time.Millisecond}
	l, store := open(t, cfg)
	ctx := context.Background()
	job := domain.Job{Dedupe: &domain.Dedupe{Key: "k", TTL: 6 * time.Hour, Result: []byte("first")}}
	if _, err := l.Submit(ctx, job); err != nil {
		t.Fatal(err)
	}
	// Copies in one batch: the second sees the first's record in the transaction.
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := l.Submit(ctx, domain.Job{Dedupe: &domain.Dedupe{Key: "same-batch", TTL: time.Hour}})
			errs <- err
		}()
	}
	ok := 0
	for range 8 {
		if <-errs == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 8 concurrent copies taken, want 1", ok)
	}
	l.Close()
	// Five hours later, after a restart, the copy is still a duplicate, with the first result.
	c.add(5 * time.Hour)
	l = store.Reopen(t, cfg)
	defer func() { l.Close() }()
	var dup *domain.DuplicateError
	if _, err := l.Submit(ctx, job); !errors.As(err, &dup) || string(dup.Result) != "first" || dup.At == 0 {
		t.Fatalf("copy after 5 h and a restart: %v %+v", err, dup)
	}
	// Past its window the key is new again, and the swept record leaves no index entry.
	c.add(2 * time.Hour)
	time.Sleep(50 * time.Millisecond)
	if _, err := l.Submit(ctx, job); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	mustVerify(t, l)
}

// MessagesPageNewestFirst: the outbox lists pages newest first, before a given id.
func MessagesPageNewestFirst(t *testing.T, open Opener) {
	l, _ := open(t, Config{})
	var ids []uint64
	for i := range 5 {
		res, err := l.Submit(context.Background(), domain.Job{Messages: []domain.Message{{To: "+33612345678", Text: string(rune('a' + i))}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Messages[0])
	}
	page, err := l.Messages(2, 0, 0)
	if err != nil || len(page) != 2 || page[0].ID != ids[4] || page[1].ID != ids[3] {
		t.Fatalf("first page: %v %+v", err, page)
	}
	page, err = l.Messages(10, page[1].ID, 0)
	if err != nil || len(page) != 3 || page[0].ID != ids[2] || page[2].ID != ids[0] {
		t.Fatalf("next page: %v %+v", err, page)
	}
	if page, _ := l.Messages(10, ids[4]+100, 0); len(page) != 5 {
		t.Fatalf("before beyond the newest: %d", len(page))
	}
}

// Replies written with money leave first when the outbox is behind.
func OutboxUrgentFirst(t *testing.T, open Opener) {
	l, _ := open(t, Config{})
	acc := mustOpen(t, l, domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"}, domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "a"})
	help := queue(t, l, domain.Job{Messages: []domain.Message{{From: "1", To: "+1", Text: "help"}}})
	paid := queue(t, l, domain.Job{Transfers: []domain.Transfer{transfer(acc[0].ID, acc[1].ID, 100)}, Messages: []domain.Message{{From: "1", To: "+2", Text: "paid"}}})
	flagged := queue(t, l, domain.Job{Messages: []domain.Message{{From: "1", To: "+3", Text: "code", Urgent: true}}})
	msgs := next(t, l, time.Second)
	if len(msgs) != 3 || msgs[0].ID != paid || msgs[1].ID != flagged || msgs[2].ID != help {
		t.Fatalf("order %+v, want %d %d %d", msgs, paid, flagged, help)
	}
	if !msgs[0].Urgent || msgs[2].Urgent {
		t.Fatalf("urgency %+v", msgs)
	}
}

// A temporary refusal keeps the message queued until its retry time, counted, across a
// restart; a message settled meanwhile is not handed out again.
func OutboxRetryTimes(t *testing.T, open Opener) {
	c := newClock()
	l, store := open(t, Config{Now: c.now})
	ctx := context.Background()
	id := queue(t, l, domain.Job{Messages: []domain.Message{{From: "1", To: "+1", Text: "hi"}}})
	if m := next(t, l, time.Second); len(m) != 1 {
		t.Fatalf("first take %+v", m)
	}
	if m := next(t, l, 50*time.Millisecond); len(m) != 0 {
		t.Fatalf("a taken message was handed out twice: %+v", m)
	}
	if l.OutboxDue() != 1 {
		t.Fatalf("due while taken: %d", l.OutboxDue())
	}
	if err := l.MarkRetry(ctx, id, ledger.Retry{Reason: "ESME_RTHROTTLED", At: c.now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if l.OutboxDue() != 0 || l.OutboxWaiting() != 1 {
		t.Fatalf("due %d waiting %d", l.OutboxDue(), l.OutboxWaiting())
	}
	if m := next(t, l, 50*time.Millisecond); len(m) != 0 {
		t.Fatalf("handed out before its time: %+v", m)
	}
	m, _ := l.Message(id)
	if m.Status != domain.MsgQueued || m.Attempts != 1 || m.Reason != "ESME_RTHROTTLED" || m.NextAt != c.now().Add(time.Minute).UnixNano() {
		t.Fatalf("after retry %+v", m)
	}
	// The schedule survives a restart.
	l.Close()
	l = store.Reopen(t, Config{Now: c.now})
	defer l.Close()
	if n, _ := l.Unsent(); n != 1 || l.OutboxWaiting() != 1 {
		t.Fatalf("after reopen: unsent %d waiting %d", n, l.OutboxWaiting())
	}
	c.add(time.Minute)
	got := next(t, l, time.Second)
	if len(got) != 1 || got[0].ID != id {
		t.Fatalf("at its time %+v", got)
	}
	if err := l.MarkSent(ctx, id, "s1"); err != nil {
		t.Fatal(err)
	}
	// A late retry of a message that was sent changes nothing.
	if err := l.MarkRetry(ctx, id, ledger.Retry{Reason: "late", At: c.now()}); err != nil {
		t.Fatal(err)
	}
	if m, _ := l.Message(id); m.Status != domain.MsgSent || m.Attempts != 2 {
		t.Fatalf("sent then retried: %+v", m)
	}
	if n, _ := l.Unsent(); n != 0 || l.OutboxDue() != 0 {
		t.Fatalf("unsent %d due %d", n, l.OutboxDue())
	}
}

// An unanswered submit is a state: unknown with its count, resent at its time, or parked for
// the operator; a late answer settles it, and a failure never overwrites a sent message.
func OutboxUnknown(t *testing.T, open Opener) {
	l, _ := open(t, Config{})
	ctx := context.Background()
	id := queue(t, l, domain.Job{Messages: []domain.Message{{From: "1", To: "+1", Text: "hi"}}})
	next(t, l, time.Second)
	if err := l.MarkRetry(ctx, id, ledger.Retry{Unknown: true, Reason: "no response", At: time.Now().Add(20 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if m, _ := l.Message(id); m.Status != domain.MsgUnknown || m.Unknowns != 1 {
		t.Fatalf("%+v", m)
	}
	got := next(t, l, 2*time.Second)
	if len(got) != 1 || got[0].Status != domain.MsgUnknown {
		t.Fatalf("resend %+v", got)
	}
	// No resends left: unknown, no longer to send.
	if err := l.MarkRetry(ctx, id, ledger.Retry{Unknown: true, Reason: "no response"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Unsent(); n != 0 {
		t.Fatalf("a parked unknown message is still to send: %d", n)
	}
	if m, _ := l.Messages(10, 0, domain.MsgUnknown); len(m) != 1 || m[0].Unknowns != 2 {
		t.Fatalf("unknown list %+v", m)
	}
	// The SMSC's late answer settles it.
	if err := l.MarkSent(ctx, id, "late-1"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkFailed(ctx, id, "too late"); err != nil {
		t.Fatal(err)
	}
	if m, _ := l.Message(id); m.Status != domain.MsgSent || m.SMSCID != "late-1" {
		t.Fatalf("after the late answer %+v", m)
	}
	counts, err := l.MessageCounts()
	if err != nil || counts[domain.MsgSent] != 1 || len(counts) != 1 {
		t.Fatalf("counts %v %v", counts, err)
	}
}

// A receipt that overtakes the record of its submit is kept and applied.
func OutboxEarlyReceipt(t *testing.T, open Opener) {
	l, _ := open(t, Config{})
	ctx := context.Background()
	id := queue(t, l, domain.Job{Messages: []domain.Message{{From: "1", To: "+1", Text: "hi"}}})
	next(t, l, time.Second)
	if err := l.MarkReceipt(ctx, "e-1", true, "DELIVRD"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkSent(ctx, id, "e-1"); err != nil {
		t.Fatal(err)
	}
	if m, _ := l.Message(id); m.Status != domain.MsgDelivered || m.Reason != "DELIVRD" {
		t.Fatalf("%+v", m)
	}
	// A long message: the receipt of its second part came first.
	id2 := queue(t, l, domain.Job{Messages: []domain.Message{{From: "1", To: "+1", Text: "again"}}})
	if err := l.MarkReceipt(ctx, "e-3", false, "UNDELIV"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkSent(ctx, id2, "e-2", "e-3"); err != nil {
		t.Fatal(err)
	}
	if m, _ := l.Message(id2); m.Status != domain.MsgUndeliverable {
		t.Fatalf("%+v", m)
	}
}

// Settled messages and their SMSC ids go after the retention; messages still to send stay.
func OutboxPrune(t *testing.T, open Opener) {
	c := newClock()
	l, _ := open(t, Config{Now: c.now, OutboxRetention: 48 * time.Hour, ExpiryEvery: time.Millisecond})
	ctx := context.Background()
	sent := queue(t, l, domain.Job{Messages: []domain.Message{{From: "1", To: "+1", Text: "old"}}})
	waiting := queue(t, l, domain.Job{Messages: []domain.Message{{From: "1", To: "+1", Text: "still queued"}}})
	next(t, l, time.Second)
	if err := l.MarkSent(ctx, sent, "p-1"); err != nil {
		t.Fatal(err)
	}
	l.Requeue(waiting)
	c.add(47 * time.Hour)
	fresh := queue(t, l, domain.Job{Messages: []domain.Message{{From: "1", To: "+1", Text: "new"}}})
	c.add(2 * time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().OutboxPruned.Load() == 0 && time.Now().Before(deadline) {
		queue(t, l, domain.Job{Messages: []domain.Message{{From: "1", To: "+1", Text: "tick"}}})
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := l.Message(sent); err == nil {
		t.Fatal("the settled message outlived the retention")
	}
	if err := l.MarkReceipt(ctx, "p-1", true, "DELIVRD"); err != nil {
		t.Fatal(err) // its SMSC id is gone: the receipt is kept as an early one, harmlessly
	}
	for _, id := range []uint64{waiting, fresh} {
		if _, err := l.Message(id); err != nil {
			t.Fatalf("message %d pruned: %v", id, err)
		}
	}
}

// PartsOfLongMessagesAreDurableCappedAndSwept: the parts of a long inbound message survive
// a restart, are capped per sender, and expire when the message never completes.
func PartsOfLongMessagesAreDurableCappedAndSwept(t *testing.T, open Opener) {
	c := newClock()
	cfg := Config{Now: c.now, ExpiryEvery: 5 * time.Millisecond}
	l, store := open(t, cfg)
	ctx := context.Background()
	part := func(sender, msg string, seq uint8) domain.PartWrite {
		return domain.PartWrite{Sender: sender, Msg: msg, Seq: seq, Coding: 8, Data: []byte{0, byte(seq)}, TTL: time.Hour}
	}
	for _, seq := range []uint8{2, 1, 2} { // the repeat of part 2 is kept once
		if err := l.KeepPart(ctx, part("+33611110001", "7/3", seq)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	l = store.Reopen(t, cfg) // a restart between parts loses nothing
	defer func() { l.Close() }()
	ps, err := l.Parts("+33611110001", "7/3")
	if err != nil || len(ps) != 2 || ps[0].Seq != 1 || ps[1].Seq != 2 || ps[1].Data[1] != 2 || ps[0].Coding != 8 {
		t.Fatalf("parts after reopen: %+v %v", ps, err)
	}
	if err := l.ReleaseParts(ctx, "+33611110001", "7/3"); err != nil {
		t.Fatal(err)
	}
	if ps, _ := l.Parts("+33611110001", "7/3"); len(ps) != 0 {
		t.Fatalf("released parts still there: %+v", ps)
	}
	// One sender cannot hold more than ledger.MaxPartsOfSender; others are not held up.
	for i := range ledger.MaxPartsOfSender {
		if err := l.KeepPart(ctx, part("+33611110002", fmt.Sprint(i, "/16"), 1)); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := l.KeepPart(ctx, part("+33611110002", "x/16", 1)); !errors.Is(err, domain.ErrLimitExceeded) {
		t.Fatalf("part beyond the sender's cap: %v", err)
	}
	if err := l.KeepPart(ctx, part("+33611110003", "1/2", 1)); err != nil {
		t.Fatal(err)
	}
	// Incomplete messages expire and are counted.
	c.add(2 * time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().PartsExpired.Load() < ledger.MaxPartsOfSender+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d parts expired", l.Stats().PartsExpired.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := l.KeepPart(ctx, part("+33611110002", "y/16", 1)); err != nil {
		t.Fatalf("after the sweep: %v", err)
	}
}
