package ledger

import (
	"context"
	"mpg/domain"
	"sync/atomic"
	"testing"
	"time"
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

func queue(t *testing.T, l *Ledger, job domain.Job) uint64 {
	t.Helper()
	res, err := l.Submit(context.Background(), job)
	if err != nil || len(res.Messages) != 1 {
		t.Fatal(err, res)
	}
	return res.Messages[0]
}

func next(t *testing.T, l *Ledger, wait time.Duration) []domain.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	msgs, _ := l.NextMessages(ctx, 100)
	return msgs
}

// Replies written with money leave first when the outbox is behind.
func TestOutboxUrgentFirst(t *testing.T) {
	l, _ := testLedger(t, nil)
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
func TestOutboxRetryTimes(t *testing.T) {
	c := newClock()
	l, path := testLedger(t, &Options{Now: c.now})
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
	if err := l.MarkRetry(ctx, id, Retry{Reason: "ESME_RTHROTTLED", At: c.now().Add(time.Minute)}); err != nil {
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
	l, err := Open(path, &Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
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
	if err := l.MarkRetry(ctx, id, Retry{Reason: "late", At: c.now()}); err != nil {
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
func TestOutboxUnknown(t *testing.T) {
	l, _ := testLedger(t, nil)
	ctx := context.Background()
	id := queue(t, l, domain.Job{Messages: []domain.Message{{From: "1", To: "+1", Text: "hi"}}})
	next(t, l, time.Second)
	if err := l.MarkRetry(ctx, id, Retry{Unknown: true, Reason: "no response", At: time.Now().Add(20 * time.Millisecond)}); err != nil {
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
	if err := l.MarkRetry(ctx, id, Retry{Unknown: true, Reason: "no response"}); err != nil {
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
func TestOutboxEarlyReceipt(t *testing.T) {
	l, _ := testLedger(t, nil)
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
func TestOutboxPrune(t *testing.T) {
	c := newClock()
	l, _ := testLedger(t, &Options{Now: c.now, OutboxRetention: 48 * time.Hour, ExpiryEvery: time.Millisecond})
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
