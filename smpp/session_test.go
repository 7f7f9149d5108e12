package smpp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"go.uber.org/goleak"
	"golang.org/x/time/rate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testConfig(addr string) Config {
	return Config{Addr: addr, Bind: Bind{SystemID: "mpg", Password: "secret"}, Transceiver: true,
		Window: 8, EnquireLink: time.Second, RespTimeout: time.Second, BackoffMin: 20 * time.Millisecond,
		BackoffMax: 100 * time.Millisecond, Rate: 5000, StopTimeout: time.Second}
}

// start runs a client until the test ends and waits until it is ready.
func start(t *testing.T, cfg Config, h Handler, r ReceiptHandler) *Client {
	t.Helper()
	c := NewClient(cfg, h, r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, "client ready", c.Ready)
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func newSim(t *testing.T) *Sim {
	t.Helper()
	s, err := NewSim("127.0.0.1:0", "mpg", "secret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// echo answers every MO with one MT carrying the same text.
func echo(c **Client) Handler {
	return func(ctx context.Context, mo MO) error {
		_, err := (*c).Submit(ctx, mo.To, mo.From, "echo: "+mo.Text, false)
		return err
	}
}

func TestEveryMOGetsExactlyOneAnswer(t *testing.T) {
	for _, trx := range []bool{true, false} {
		t.Run(fmt.Sprintf("transceiver=%v", trx), func(t *testing.T) {
			sim := newSim(t)
			cfg := testConfig(sim.Addr())
			cfg.Transceiver, cfg.Binds = trx, 2
			var c *Client
			c = start(t, cfg, echo(&c), nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			const phones = 50
			var wg sync.WaitGroup
			for i := range phones {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := sim.SendMO(ctx, fmt.Sprintf("+3361000%04d", i), "1234", fmt.Sprintf("BAL %d", i))
					if err != nil || st != StatusOK {
						t.Errorf("MO %d: %v %v", i, st, err)
					}
				}()
			}
			wg.Wait()
			for i := range phones {
				got, err := sim.WaitMT(ctx, fmt.Sprintf("+3361000%04d", i), 1)
				if err != nil || len(got) != 1 || got[0] != fmt.Sprintf("echo: BAL %d", i) {
					t.Fatalf("phone %d: %q %v", i, got, err)
				}
			}
			var moIn, mtOut int64
			for _, l := range c.Links() {
				moIn += l.MOIn
				mtOut += l.MTOut
			}
			wantLinks := 2
			if !trx {
				wantLinks = 4
			}
			if len(c.Links()) != wantLinks || moIn != phones || mtOut != phones {
				t.Fatalf("links %d (want %d), per-link MO %d MT %d", len(c.Links()), wantLinks, moIn, mtOut)
			}
			time.Sleep(50 * time.Millisecond) // nothing more may arrive
			for i := range phones {
				if got := sim.MT(fmt.Sprintf("+3361000%04d", i)); len(got) != 1 {
					t.Fatalf("phone %d got %d answers", i, len(got))
				}
			}
		})
	}
}

func TestHandlerErrorsBecomeResponseStatuses(t *testing.T) {
	sim := newSim(t)
	start(t, testConfig(sim.Addr()), func(ctx context.Context, mo MO) error {
		switch mo.Text {
		case "later":
			return errors.New("ledger busy")
		case "never":
			return fmt.Errorf("%w: unreadable", ErrPermanent)
		}
		return nil
	}, nil)
	ctx := context.Background()
	for text, want := range map[string]pdu.Status{"ok": StatusOK, "later": StatusTempAppErr, "never": StatusPermAppErr} {
		if st, err := sim.SendMO(ctx, "+33611", "1234", text); err != nil || st != want {
			t.Errorf("%q: status %v %v, want %v", text, st, err, want)
		}
	}
}

func TestLongMessagesBothWays(t *testing.T) {
	sim := newSim(t)
	var c *Client
	c = start(t, testConfig(sim.Addr()), echo(&c), nil)
	long := strings.Repeat("PAY SHOP42 12.50 € ", 12) // > 160 septets: parts with UDH
	if st, err := sim.SendMO(context.Background(), "+33612", "1234", long); err != nil || st != StatusOK {
		t.Fatal(st, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := sim.WaitMT(ctx, "+33612", 1)
	if err != nil || got[0] != "echo: "+long {
		t.Fatalf("%q %v", got, err)
	}
}

func TestThrottleQueueFullAndUnknownOutcome(t *testing.T) {
	sim := newSim(t)
	cfg := testConfig(sim.Addr())
	cfg.RespTimeout = 200 * time.Millisecond
	c := start(t, cfg, func(context.Context, MO) error { return nil }, nil)
	ctx := context.Background()
	sim.Throttle(1)
	sim.QueueFull(1)
	if _, err := c.Submit(ctx, "1234", "+33613", "after throttling", false); err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Throttles.Load() != 1 || c.Metrics.ErrorsByStatus()[StatusMsgQFul] != 1 {
		t.Fatalf("throttles %d, errors %v", c.Metrics.Throttles.Load(), c.Metrics.ErrorsByStatus())
	}
	// Refused more often than the quick retries: handed back as temporary, not permanent.
	sim.Throttle(3)
	var se *SubmitError
	if _, err := c.Submit(ctx, "1234", "+33614", "later", false); !errors.As(err, &se) || se.Permanent() {
		t.Fatalf("want a temporary SubmitError, got %v", err)
	}
	// A lost response: the outcome is unknown and said so at once, not sent again blindly
	// (the outbox resends with backoff).
	sim.DropSubmits(1)
	if _, err := c.Submit(ctx, "1234", "+33615", "lost", false); !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("want ErrUnknownOutcome, got %v", err)
	}
	if n := sim.Dropped.Load(); n != 1 {
		t.Fatalf("the unanswered message was sent %d times", n)
	}
	// A throttle storm lowers the rate; accepted submits bring it back.
	if c.limiter.Limit() >= rate.Limit(cfg.Rate) {
		t.Fatalf("rate %v not lowered by throttling", c.limiter.Limit())
	}
	for i := range 60 {
		if _, err := c.Submit(ctx, "1234", "+33617", fmt.Sprint(i), false); err != nil {
			t.Fatal(err)
		}
	}
	if c.limiter.Limit() != rate.Limit(c.cfg.Rate) {
		t.Fatalf("rate %v after 60 accepted submits, configured %v", c.limiter.Limit(), c.cfg.Rate)
	}
	// A permanent refusal is not retried.
	if _, err := c.Submit(ctx, "1234", "+33616", strings.Repeat("x", 153*3+1), false); err == nil || errors.As(err, &se) {
		t.Fatalf("over the part cap: %v", err)
	}
}

func TestReconnectAfterDropAndGarbage(t *testing.T) {
	sim := newSim(t)
	var c *Client
	c = start(t, testConfig(sim.Addr()), echo(&c), nil)
	for i, fault := range []func(){sim.DropConnections, sim.SendGarbage} {
		fault()
		waitFor(t, "reconnect", func() bool { return c.Metrics.Reconnects.Load() >= int64(i+1) && c.Ready() && sim.Bound() == 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		phone := fmt.Sprintf("+3362%d", i)
		if st, err := sim.SendMO(ctx, phone, "1234", "BAL"); err != nil || st != StatusOK {
			t.Fatal(st, err)
		}
		if _, err := sim.WaitMT(ctx, phone, 1); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
}

func TestBadCredentialsRetrySlowlyUntilFixed(t *testing.T) {
	sim := newSim(t)
	cfg := testConfig(sim.Addr())
	sim.SetPassword("other")
	cfg.MaxAuthFail, cfg.AuthRetry = 3, 200*time.Millisecond
	c := NewClient(cfg, func(context.Context, MO) error { return nil }, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for deadline := time.Now().Add(5 * time.Second); c.Metrics.AuthFailures.Load() < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d auth failures", c.Metrics.AuthFailures.Load())
		}
	}
	if c.Ready() {
		t.Fatal("ready with refused credentials")
	}
	if _, err := c.Submit(ctx, "1234", "+33617", "x", false); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("Submit while refused: %v", err)
	}
	// Slowly: no burst of binds while the credentials are wrong.
	n := c.Metrics.AuthFailures.Load()
	time.Sleep(100 * time.Millisecond)
	if got := c.Metrics.AuthFailures.Load(); got > n+1 {
		t.Fatalf("%d binds in 100 ms after giving up for %s", got-n, cfg.AuthRetry)
	}
	// The operator fixes the SMSC side: the link comes back by itself.
	sim.SetPassword(cfg.Bind.Password)
	for deadline := time.Now().Add(5 * time.Second); !c.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("never bound after the credentials were fixed")
		}
	}
	if _, err := c.Submit(ctx, "1234", "+33617", "x", false); err != nil {
		t.Fatalf("Submit after the fix: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestDeliveryReceipts(t *testing.T) {
	sim := newSim(t)
	got := make(chan Receipt, 1)
	c := start(t, testConfig(sim.Addr()), func(context.Context, MO) error { return nil },
		func(_ context.Context, r Receipt) error { got <- r; return nil })
	ids, err := c.Submit(context.Background(), "1234", "+33618", "with receipt", true)
	if err != nil || len(ids) != 1 {
		t.Fatal(ids, err)
	}
	select {
	case r := <-got:
		if !SameMessageID(ids[0], r.ID) || !r.Delivered {
			t.Fatalf("receipt %+v for %s", r, ids[0])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no receipt")
	}
}

// rawSMSC accepts one bind and then lets the test speak PDUs by hand.
func rawSMSC(t *testing.T) (addr string, conns <-chan net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan net.Conn, 4)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				close(ch)
				return
			}
			f, err := ReadFrame(nc)
			if err != nil {
				nc.Close()
				continue
			}
			nc.Write(encodePDU(f.Header.ID|0x80000000, StatusOK, f.Header.Seq, respBody("raw")))
			ch <- nc
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for nc := range ch {
			nc.Close()
		}
	})
	return ln.Addr().String(), ch
}

func TestUnknownPDUsAndDeadLinks(t *testing.T) {
	addr, conns := rawSMSC(t)
	cfg := testConfig(addr)
	cfg.EnquireLink = 100 * time.Millisecond
	var mos atomic.Int32
	c := start(t, cfg, func(context.Context, MO) error { mos.Add(1); return nil }, nil)
	nc := <-conns
	// Unknown id: generic_nack with the same sequence; alert_notification: ignored; the
	// session stays up and still answers enquire_link.
	nc.Write(encodePDU(0x00000999, StatusOK, 77, nil))
	nc.Write(encodePDU(pdu.AlertNotificationID, StatusOK, 78, []byte{0, 0, 0, 0, 0, 0, 0}))
	nc.Write(encodePDU(pdu.EnquireLinkID, StatusOK, 79, nil))
	var seen []string
	nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	for len(seen) < 2 {
		f, err := ReadFrame(nc)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case f.Header.ID == pdu.GenericNACKID && f.Header.Seq == 77:
			seen = append(seen, "nack")
		case f.Header.ID == pdu.EnquireLinkRespID && f.Header.Seq == 79:
			seen = append(seen, "enquire_link_resp")
		case f.Header.ID == pdu.EnquireLinkID:
			nc.Write(encodePDU(pdu.EnquireLinkRespID, StatusOK, f.Header.Seq, nil))
		}
	}
	// Now the SMSC goes silent: the client notices within two keepalive intervals.
	before := c.Metrics.Reconnects.Load()
	waitFor(t, "dead link noticed", func() bool { return c.Metrics.Reconnects.Load() > before })
	<-conns // it bound again
}

// TestOddInboundIsReadNotRefused: what an SMSC sends that does not match its labels (Latin-1
// octets under the default coding, an unknown GSM escape, an unsupported coding, a sender
// longer than SMPP allows, a data_sm with 65-octet addresses, a UDH that does not parse) is
// answered ESME_ROK and handed to the handler, never refused for ever with no reply.
func TestOddInboundIsReadNotRefused(t *testing.T) {
	addr, conns := rawSMSC(t)
	got := make(chan MO, 16)
	c := start(t, testConfig(addr), func(_ context.Context, mo MO) error { got <- mo; return nil }, nil)
	nc := <-conns
	long := strings.Repeat("9", 30)
	cases := []struct {
		name     string
		id       pdu.ID
		body     []byte
		from     string
		wantText string
	}{
		{"latin-1 octets under GSM-7", pdu.DeliverSMID, (&SM{SrcTON: 1, Src: "33611110001", Dst: "1234", Coding: CodingGSM7, Message: []byte("PAY caf\xe9 1")}).encode(), "33611110001", "PAY café 1"},
		{"unknown escape", pdu.DeliverSMID, (&SM{SrcTON: 1, Src: "33611110002", Dst: "1234", Coding: CodingGSM7, Message: []byte{'B', 'A', 'L', 0x1b, 0x7f}}).encode(), "33611110002", "BAL\uFFFD"},
		{"unsupported coding", pdu.DeliverSMID, (&SM{SrcTON: 1, Src: "33611110003", Dst: "1234", Coding: 0x04, Message: []byte{1, 2, 3}}).encode(), "33611110003", ""},
		{"sender too long", pdu.DeliverSMID, (&SM{SrcTON: 1, Src: long, Dst: "1234", Coding: CodingGSM7, Message: []byte("HELP")}).encode(), long, "HELP"},
		{"bad UDH", pdu.DeliverSMID, (&SM{SrcTON: 1, Src: "33611110004", Dst: "1234", ESMClass: esmUDHI, Coding: CodingGSM7, Message: []byte{9, 'H', 'I'}}).encode(), "33611110004", ""},
		{"data_sm, 65-octet addresses", pdu.DataSMID, dataSMBody(strings.Repeat("1", 65), strings.Repeat("2", 65), "BAL 1234"), strings.Repeat("1", 65), "BAL 1234"},
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, tc := range cases {
		seq := uint32(100 + i)
		nc.Write(encodePDU(tc.id, StatusOK, seq, tc.body))
		for {
			f, err := ReadFrame(nc)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if f.Header.ID == pdu.EnquireLinkID {
				nc.Write(encodePDU(pdu.EnquireLinkRespID, StatusOK, f.Header.Seq, nil))
				continue
			}
			if f.Header.Seq != seq || f.Header.Status != StatusOK {
				t.Fatalf("%s: answered %v seq %d", tc.name, f.Header.Status, f.Header.Seq)
			}
			break
		}
		mo := <-got
		if mo.From != tc.from || (tc.wantText != "" && mo.Text != tc.wantText) {
			t.Fatalf("%s: handler got %+v", tc.name, mo)
		}
	}
	if c.Metrics.MOUndecodable.Load() < 4 {
		t.Fatalf("%d undecodable counted", c.Metrics.MOUndecodable.Load())
	}
}

// dataSMBody is a data_sm with the text in message_payload.
func dataSMBody(src, dst, text string) []byte {
	b := cstr(nil, "")
	b = append(b, 1, 1)
	b = cstr(b, src)
	b = append(b, 0, 1)
	b = cstr(b, dst)
	b = append(b, 0, 0, byte(CodingGSM7))
	return appendTLV(b, tagMessagePayload, []byte(text))
}
