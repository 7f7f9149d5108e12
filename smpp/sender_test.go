package smpp

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// memOutbox is an in-memory outbox with the ledger's contract: Next hands out due messages
// once, Later schedules one again (or parks an unknown one), a message settled meanwhile is
// not handed out again, Retry queues one at once.
type memOutbox struct {
	mu      sync.Mutex
	queue   []Outgoing
	byID    map[uint64]Outgoing
	sent    map[uint64][]string
	failed  map[uint64]string
	later   map[uint64]int  // temporary refusals recorded
	unknown map[uint64]bool // parked: no resends left
	wake    chan struct{}
}

func newMemOutbox(msgs ...Outgoing) *memOutbox {
	o := &memOutbox{byID: map[uint64]Outgoing{}, sent: map[uint64][]string{}, failed: map[uint64]string{},
		later: map[uint64]int{}, unknown: map[uint64]bool{}, wake: make(chan struct{}, 1)}
	for _, m := range msgs {
		o.byID[m.ID] = m
		o.queue = append(o.queue, m)
	}
	return o
}

func (o *memOutbox) Next(ctx context.Context, max int) ([]Outgoing, error) {
	for {
		o.mu.Lock()
		var out []Outgoing
		for len(o.queue) > 0 && len(out) < max {
			m := o.queue[0]
			o.queue = o.queue[1:]
			if _, done := o.sent[m.ID]; !done {
				out = append(out, o.byID[m.ID])
			}
		}
		o.mu.Unlock()
		if len(out) > 0 {
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
	delete(o.unknown, id)
	return nil
}

func (o *memOutbox) Failed(_ context.Context, id uint64, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, sent := o.sent[id]; !sent {
		o.failed[id] = reason
	}
	return nil
}

func (o *memOutbox) Later(_ context.Context, id uint64, unknown bool, reason string, at time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, sent := o.sent[id]; sent {
		return nil
	}
	m := o.byID[id]
	m.Attempts++
	if unknown {
		m.Unknowns++
	} else {
		o.later[id]++
	}
	o.byID[id] = m
	if at.IsZero() {
		o.unknown[id] = true
		return nil
	}
	time.AfterFunc(time.Until(at), func() { o.Retry(id) })
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
	return len(o.sent)+len(o.failed)+len(o.unknown) == n
}

func (o *memOutbox) parked() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.unknown)
}

func (o *memOutbox) state(id uint64) (sent []string, failed string, later int, unknown bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sent[id], o.failed[id], o.later[id], o.unknown[id]
}

// runSender runs the sender until the test ends.
func runSender(t *testing.T, c *Client, ob Outbox) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.RunSender(ctx, ob) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func fastRetries(cfg Config) Config {
	cfg.Retries = 1
	cfg.RetryBackoff, cfg.RetryBackoffMax = 10*time.Millisecond, 40*time.Millisecond
	return cfg
}

// Temporary statuses, listed or not, never fail a reply: it waits with backoff and leaves
// once the SMSC takes it, once. Only the permanent list fails at once.
func TestSenderStatusesTemporaryAndPermanent(t *testing.T) {
	for _, tc := range []struct {
		status    pdu.Status
		permanent bool
	}{
		{StatusThrottled, false}, {0x45, false}, {StatusUnknownErr, false}, {StatusInvBndSts, false},
		{StatusMsgQFul, false}, {StatusSysErr, false}, {0x400, false},
		{0x0B, true}, {0x0A, true}, {StatusInvMsgLen, true}, {0x50, true},
	} {
		t.Run(fmt.Sprintf("0x%02X", uint32(tc.status)), func(t *testing.T) {
			sim := newSim(t)
			c := start(t, fastRetries(testConfig(sim.Addr())), func(context.Context, MO) error { return nil }, nil)
			sim.RefuseSubmits(tc.status, 8) // more than 6 in a row, the old limit
			ob := newMemOutbox(Outgoing{ID: 1, From: "1234", To: "+33650", Text: "paid", Created: time.Now()})
			runSender(t, c, ob)
			waitFor(t, "settled", func() bool { return ob.done(1) })
			sent, failed, later, _ := ob.state(1)
			if tc.permanent {
				if failed == "" || len(sent) != 0 || later != 0 || !strings.Contains(failed, fmt.Sprintf("0x%02X", uint32(tc.status))) {
					t.Fatalf("permanent: sent %v failed %q later %d", sent, failed, later)
				}
				return
			}
			if len(sent) != 1 || failed != "" || later < 2 {
				t.Fatalf("temporary: sent %v failed %q later %d", sent, failed, later)
			}
			if got := sim.MT("+33650"); len(got) != 1 {
				t.Fatalf("the phone got %q", got)
			}
		})
	}
}

// A reply refused temporarily for longer than its validity fails with its reason.
func TestSenderValidityEnds(t *testing.T) {
	sim := newSim(t)
	cfg := fastRetries(testConfig(sim.Addr()))
	cfg.Validity = 300 * time.Millisecond
	c := start(t, cfg, func(context.Context, MO) error { return nil }, nil)
	sim.RefuseSubmits(0x45, 1_000_000)
	ob := newMemOutbox(Outgoing{ID: 1, From: "1234", To: "+33651", Text: "paid", Created: time.Now()})
	runSender(t, c, ob)
	waitFor(t, "failed", func() bool { return ob.done(1) })
	if _, failed, later, _ := ob.state(1); !strings.Contains(failed, "validity of 300ms ended") || !strings.Contains(failed, "0x45") || later < 2 {
		t.Fatalf("failed %q after %d refusals", failed, later)
	}
	if c.Metrics.ValidityEnded.Load() != 1 {
		t.Fatalf("validity metric %d", c.Metrics.ValidityEnded.Load())
	}
}

// An SMSC that answers after the response timeout: the late answer settles the reply as
// sent, and it is not sent again (the SMSC took it once).
func TestSenderLateAnswerSettles(t *testing.T) {
	sim := newSim(t)
	cfg := testConfig(sim.Addr())
	cfg.RespTimeout = 100 * time.Millisecond
	cfg.UnknownBackoff = time.Second
	c := start(t, cfg, func(context.Context, MO) error { return nil }, nil)
	sim.AnswerLate(400*time.Millisecond, 1)
	ob := newMemOutbox(Outgoing{ID: 1, From: "1234", To: "+33652", Text: "paid", Created: time.Now()})
	runSender(t, c, ob)
	waitFor(t, "settled by the late answer", func() bool { return ob.done(1) })
	time.Sleep(1500 * time.Millisecond) // past the resend time
	if sent, _, _, _ := ob.state(1); len(sent) != 1 || c.Metrics.LateAnswers.Load() != 1 {
		t.Fatalf("sent %v, late answers %d", sent, c.Metrics.LateAnswers.Load())
	}
	if got := sim.MT("+33652"); len(got) != 1 {
		t.Fatalf("the phone got %d copies: %q", len(got), got)
	}
}

// A submit never answered: unknown, resent with backoff RetryUnknown times, then parked; the
// copies are bounded.
func TestSenderUnknownBackoffAndCap(t *testing.T) {
	sim := newSim(t)
	cfg := testConfig(sim.Addr())
	cfg.RespTimeout = 50 * time.Millisecond
	cfg.UnknownBackoff, cfg.RetryBackoffMax, cfg.RetryUnknown = 100*time.Millisecond, time.Second, 2
	c := start(t, cfg, func(context.Context, MO) error { return nil }, nil)
	sim.DropSubmits(1000)
	ob := newMemOutbox(Outgoing{ID: 1, From: "1234", To: "+33653", Text: "paid", Created: time.Now()})
	began := time.Now()
	runSender(t, c, ob)
	waitFor(t, "parked as unknown", func() bool { return ob.done(1) })
	// Sends at 0, ≥80ms (100 ±20%) and ≥160ms (200 ±20%) after each timeout.
	if took := time.Since(began); took < 300*time.Millisecond {
		t.Fatalf("three sends in %s: no backoff", took)
	}
	if _, _, _, unknown := ob.state(1); !unknown || c.Metrics.SubmitUnknown.Load() != 3 {
		t.Fatalf("unknown %v, unanswered %d", unknown, c.Metrics.SubmitUnknown.Load())
	}
	time.Sleep(300 * time.Millisecond)
	if n := sim.Dropped.Load(); n != 3 {
		t.Fatalf("sent %d times, want 1 + RetryUnknown", n)
	}
}

func TestSenderDrainsOutboxThroughFaults(t *testing.T) {
	sim := newSim(t)
	cfg := testConfig(sim.Addr())
	cfg.RespTimeout = 200 * time.Millisecond
	cfg.UnknownBackoff = 50 * time.Millisecond // an unanswered submit is resent soon
	cfg = fastRetries(cfg)
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
	waitFor(t, "outbox drained", func() bool { return ob.done(len(msgs)) && ob.parked() == 0 })
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
