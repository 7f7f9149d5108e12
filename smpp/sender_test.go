package smpp

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// memOutbox is an in-memory outbox with the ledger's contract: Next hands out queued
// messages once, Retry queues one again.
type memOutbox struct {
	mu     sync.Mutex
	queue  []Outgoing
	byID   map[uint64]Outgoing
	sent   map[uint64][]string
	failed map[uint64]string
	wake   chan struct{}
}

func newMemOutbox(msgs ...Outgoing) *memOutbox {
	o := &memOutbox{byID: map[uint64]Outgoing{}, sent: map[uint64][]string{}, failed: map[uint64]string{}, wake: make(chan struct{}, 1)}
	for _, m := range msgs {
		o.byID[m.ID] = m
		o.queue = append(o.queue, m)
	}
	return o
}

func (o *memOutbox) Next(ctx context.Context, max int) ([]Outgoing, error) {
	for {
		o.mu.Lock()
		n := min(max, len(o.queue))
		out := append([]Outgoing(nil), o.queue[:n]...)
		o.queue = o.queue[n:]
		o.mu.Unlock()
		if n > 0 {
			return out, nil
		}
		select {
		case <-o.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (o *memOutbox) Sent(_ context.Context, id uint64, ids []string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent[id] = ids
	return nil
}

func (o *memOutbox) Failed(_ context.Context, id uint64, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed[id] = reason
	return nil
}

func (o *memOutbox) Retry(id uint64) {
	o.mu.Lock()
	o.queue = append(o.queue, o.byID[id])
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *memOutbox) done(n int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sent)+len(o.failed) == n
}

func TestSenderDrainsOutboxThroughFaults(t *testing.T) {
	sim := newSim(t)
	cfg := testConfig(sim.Addr())
	cfg.RespTimeout = 200 * time.Millisecond
	cfg.RetryUnknown = -1 // no blind resend: an unanswered submit goes back to the outbox
	c := start(t, cfg, func(context.Context, MO) error { return nil }, nil)
	var msgs []Outgoing
	for i := range 40 {
		msgs = append(msgs, Outgoing{ID: uint64(i + 1), From: "1234", To: fmt.Sprintf("+3363%03d", i), Text: fmt.Sprintf("reply %d", i)})
	}
	msgs = append(msgs, Outgoing{ID: 99, From: "1234", To: "+33639", Text: strings.Repeat("x", 153*3+1)}) // over the cap
	ob := newMemOutbox(msgs...)
	sim.Throttle(5)
	sim.DropSubmits(2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.RunSender(ctx, ob) }()
	waitFor(t, "outbox drained", func() bool { return ob.done(len(msgs)) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, ok := ob.failed[99]; !ok || len(ob.failed) != 1 {
		t.Fatalf("failed: %v", ob.failed)
	}
	for i := range 40 {
		phone := fmt.Sprintf("+3363%03d", i)
		if got := sim.MT(phone); len(got) < 1 || got[0] != fmt.Sprintf("reply %d", i) || len(ob.sent[uint64(i+1)]) != 1 {
			t.Fatalf("%s got %q, sent ids %v", phone, got, ob.sent[uint64(i+1)])
		}
	}
}

func TestSARSegmentsAndGracefulStop(t *testing.T) {
	m := &SM{Message: []byte("part"), TLVs: map[uint16][]byte{tagSARRef: {0x01, 0x02}, tagSARTotal: {2}, tagSARSeq: {2}}}
	seg, payload, ok, err := m.Segment()
	if err != nil || !ok || seg != (Segment{Ref: 0x0102, Total: 2, Seq: 2}) || string(payload) != "part" {
		t.Fatalf("SAR: %+v %q %v %v", seg, payload, ok, err)
	}
	m.TLVs[tagSARSeq] = []byte{3}
	if _, _, _, err := m.Segment(); err == nil {
		t.Fatal("segment 3 of 2 accepted")
	}

	// A stop waits for the handler in flight; its MO is answered OK, not dropped.
	sim := newSim(t)
	release := make(chan struct{})
	entered := make(chan struct{})
	c := NewClient(testConfig(sim.Addr()), func(context.Context, MO) error {
		close(entered)
		<-release
		return nil
	}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor(t, "ready", c.Ready)
	status := make(chan error, 1)
	go func() {
		st, err := sim.SendMO(context.Background(), "+33640", "1234", "slow")
		if err == nil && st != StatusOK {
			err = fmt.Errorf("status %v", st)
		}
		status <- err
	}()
	<-entered
	cancel()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := <-status; err != nil {
		t.Fatalf("in-flight MO during stop: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
