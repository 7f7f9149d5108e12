package smpp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// Sim is an SMSC simulator for the demo, the tests and the benchmarks. It accepts binds with
// the configured credentials, delivers MO from simulated phones to bound receivers (round
// robin), records every MT per phone, answers submit_sm with message ids, sends delivery
// receipts when asked, and injects faults on demand.
type Sim struct {
	systemID, password string
	ln                 net.Listener

	mu      sync.Mutex
	conns   map[*simConn]bool
	rr      int
	mt      map[string][]string      // phone -> texts received (reassembled)
	mtWake  map[string]chan struct{} // phone -> closed when it receives a text
	re      *Reassembler
	nextID  atomic.Uint64
	closing atomic.Bool
	wg      sync.WaitGroup

	// Faults.
	refuseBinds   atomic.Uint32 // a status to answer binds with; 0: accept
	throttleN     atomic.Int32  // answer this many submit_sm with ESME_RTHROTTLED
	queueFullN    atomic.Int32  // answer this many submit_sm with ESME_RMSGQFUL
	dropSubmitN   atomic.Int32  // leave this many submit_sm unanswered
	delay         atomic.Int64  // nanoseconds before each submit_sm_resp
	refuseN       atomic.Int32  // answer this many submit_sm with refuseWith
	refuseWith    atomic.Uint32
	lateN         atomic.Int32 // take this many submit_sm but answer them lateBy later
	lateBy        atomic.Int64
	receiptFirstN atomic.Int32 // send this many receipts before the submit_sm_resp

	// Counters.
	Binds, Submits, MOSent atomic.Int64
	Dropped                atomic.Int64 // submit_sm left unanswered on purpose
	refusals               statusCounts
}

type simConn struct {
	c       net.Conn
	w       *pduWriter
	rd      *bufio.Reader
	seq     atomic.Uint32
	rx, tx  bool     // may receive MO / may submit
	pending sync.Map // seq -> chan pdu.Status
	gone    chan struct{}
}

// NewSim listens on addr (e.g. "127.0.0.1:0") and serves until Close.
func NewSim(addr, systemID, password string) (*Sim, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewSimOn(ln, systemID, password), nil
}

// NewSimOn serves on a listener the caller made (a TLS one, for instance).
func NewSimOn(ln net.Listener, systemID, password string) *Sim {
	s := &Sim{systemID: systemID, password: password, ln: ln, conns: map[*simConn]bool{},
		mt: map[string][]string{}, mtWake: map[string]chan struct{}{}, re: NewReassembler(time.Minute, 10000, nil)}
	s.wg.Add(1)
	go s.accept()
	return s
}

// Addr is where the simulator listens.
func (s *Sim) Addr() string { return s.ln.Addr().String() }

// Close stops listening, drops every connection and waits for its goroutines.
func (s *Sim) Close() error {
	s.closing.Store(true)
	err := s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
	return err
}

// RefuseBinds makes binds fail with status (0 to accept again).
func (s *Sim) RefuseBinds(status pdu.Status) { s.refuseBinds.Store(uint32(status)) }

// Throttle answers the next n submit_sm with ESME_RTHROTTLED.
func (s *Sim) Throttle(n int) { s.throttleN.Store(int32(n)) }

// QueueFull answers the next n submit_sm with ESME_RMSGQFUL.
func (s *Sim) QueueFull(n int) { s.queueFullN.Store(int32(n)) }

// DropSubmits leaves the next n submit_sm without a response.
func (s *Sim) DropSubmits(n int) { s.dropSubmitN.Store(int32(n)) }

// Delay holds every submit_sm_resp for d.
func (s *Sim) Delay(d time.Duration) { s.delay.Store(int64(d)) }

// RefuseSubmits answers the next n submit_sm with status.
func (s *Sim) RefuseSubmits(status pdu.Status, n int) {
	s.refuseWith.Store(uint32(status))
	s.refuseN.Store(int32(n))
}

// AnswerLate takes the next n submit_sm but answers each only after d (an SMSC slower than
// the ESME's response timeout).
func (s *Sim) AnswerLate(d time.Duration, n int) {
	s.lateBy.Store(int64(d))
	s.lateN.Store(int32(n))
}

// ReceiptFirst sends the delivery receipt of the next n submit_sm before their response.
func (s *Sim) ReceiptFirst(n int) { s.receiptFirstN.Store(int32(n)) }

// DropConnections closes every bound connection at once.
func (s *Sim) DropConnections() {
	s.mu.Lock()
	for c := range s.conns {
		c.c.Close()
	}
	s.mu.Unlock()
}

// SendGarbage writes bytes that are not a PDU to every connection.
func (s *Sim) SendGarbage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.write([]byte{0xff, 0xff, 0xff, 0xff, 'g', 'a', 'r', 'b', 'a', 'g', 'e', 0, 0, 0, 0, 0})
	}
}

// Bound is the number of connections bound able to receive MO.
func (s *Sim) Bound() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.rx {
			n++
		}
	}
	return n
}

func (s *Sim) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		sc := &simConn{c: c, gone: make(chan struct{}), w: &pduWriter{nc: c, timeout: 5 * time.Second}, rd: bufio.NewReaderSize(c, 64<<10)}
		s.wg.Add(1)
		go s.serve(sc)
	}
}

func (s *Sim) serve(c *simConn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.c.Close()
		close(c.gone) // MO waiting for a response on this connection get an error
	}()
	bound := false
	for {
		f, err := ReadFrame(c.rd)
		if err != nil {
			return
		}
		h := f.Header
		switch h.ID {
		case pdu.BindTransceiverID, pdu.BindReceiverID, pdu.BindTransmitterID:
			b, err := parseBind(f.Raw)
			status := pdu.Status(s.refuseBinds.Load())
			switch {
			case err != nil:
				status = StatusInvCmdLen
			case status != 0:
			case b.SystemID != s.systemID:
				status = StatusInvSysID
			case b.Password != s.currentPassword():
				status = StatusInvPaswd
			case bound:
				status = pdu.Status(0x05) // ESME_RALYBND
			}
			c.write(encodePDU(h.ID|0x80000000, status, h.Seq, respBody("mpgsim")))
			if status == StatusOK {
				bound = true
				c.rx = h.ID != pdu.BindTransmitterID
				c.tx = h.ID != pdu.BindReceiverID
				s.Binds.Add(1)
				s.mu.Lock()
				s.conns[c] = true
				s.mu.Unlock()
			}
		case pdu.SubmitSMID:
			if !bound || !c.tx {
				c.write(encodePDU(pdu.SubmitSMRespID, StatusInvBndSts, h.Seq, respBody("")))
				continue
			}
			s.wg.Add(1)
			go s.submit(c, h.Seq, f.Raw)
		case pdu.EnquireLinkID:
			c.write(encodePDU(pdu.EnquireLinkRespID, StatusOK, h.Seq, nil))
		case pdu.UnbindID:
			c.write(encodePDU(pdu.UnbindRespID, StatusOK, h.Seq, nil))
			return
		case pdu.DeliverSMRespID, pdu.DataSMRespID, pdu.GenericNACKID:
			if ch, ok := c.pending.LoadAndDelete(h.Seq); ok {
				ch.(chan pdu.Status) <- h.Status
			}
		case pdu.EnquireLinkRespID, pdu.UnbindRespID:
		default:
			c.write(encodePDU(pdu.GenericNACKID, StatusInvCmdID, h.Seq, nil))
		}
	}
}

func (c *simConn) write(b []byte) error { return c.w.write(b) }

func take(n *atomic.Int32) bool {
	for {
		v := n.Load()
		if v <= 0 {
			return false
		}
		if n.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

func (s *Sim) submit(c *simConn, seq uint32, raw []byte) {
	defer s.wg.Done()
	if d := time.Duration(s.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	if take(&s.dropSubmitN) {
		s.Dropped.Add(1)
		return
	}
	status := StatusOK
	switch {
	case take(&s.throttleN):
		status = StatusThrottled
	case take(&s.queueFullN):
		status = StatusMsgQFul
	case take(&s.refuseN):
		status = pdu.Status(s.refuseWith.Load())
	}
	m, err := parseSM(raw)
	if err != nil {
		status = StatusInvMsgLen
	}
	if status != StatusOK {
		c.write(encodePDU(pdu.SubmitSMRespID, status, seq, respBody("")))
		return
	}
	id := strconv.FormatUint(s.nextID.Add(1), 16)
	s.Submits.Add(1)
	s.recordMT(m)
	first := m.RegisteredDelivery&1 != 0 && take(&s.receiptFirstN)
	if first {
		s.receipt(c, m, id)
	}
	if take(&s.lateN) {
		time.Sleep(time.Duration(s.lateBy.Load()))
	}
	c.write(encodePDU(pdu.SubmitSMRespID, StatusOK, seq, respBody(id)))
	if m.RegisteredDelivery&1 != 0 && !first {
		s.receipt(c, m, id)
	}
}

func (s *Sim) recordMT(m *SM) {
	text := ""
	seg, payload, ok, err := m.Segment()
	if err != nil {
		return
	}
	if ok {
		whole, c, done, err := s.re.Add(m.Src+">"+m.Dst, seg, m.Coding, payload)
		if err != nil || !done {
			return
		}
		text, err = Decode(c, whole)
		if err != nil {
			return
		}
	} else if text, err = Decode(m.Coding, payload); err != nil {
		return
	}
	phone := m.Dst
	if m.DstTON == 1 && !strings.HasPrefix(phone, "+") {
		phone = "+" + phone // phones are named in E.164, as the tests and the phone interface do
	}
	s.mu.Lock()
	s.mt[phone] = append(s.mt[phone], text)
	if ch, ok := s.mtWake[phone]; ok {
		close(ch)
		delete(s.mtWake, phone)
	}
	s.mu.Unlock()
}

func (s *Sim) receipt(c *simConn, m *SM, id string) {
	now := time.Now().UTC().Format("0601021504")
	text := fmt.Sprintf("id:%s sub:001 dlvrd:001 submit date:%s done date:%s stat:DELIVRD err:000 text:", id, now, now)
	r := &SM{Src: m.Dst, Dst: m.Src, ESMClass: esmReceipt, Coding: CodingGSM7, Message: []byte(text),
		TLVs: map[uint16][]byte{tagReceiptedMsgID: append([]byte(id), 0), tagMessageState: {2}}}
	seq := c.seq.Add(1)
	c.write(encodePDU(pdu.DeliverSMID, StatusOK, seq, r.encode()))
}

func (s *Sim) currentPassword() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.password
}

// SetPassword changes the password binds must give (an operator fixing a credential).
func (s *Sim) SetPassword(pw string) {
	s.mu.Lock()
	s.password = pw
	s.mu.Unlock()
}

// MT returns the texts a phone has received so far.
func (s *Sim) MT(phone string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mt[phone]...)
}

// WaitMT waits until phone has received at least n texts.
func (s *Sim) WaitMT(ctx context.Context, phone string, n int) ([]string, error) {
	for {
		s.mu.Lock()
		got := append([]string(nil), s.mt[phone]...)
		wake, ok := s.mtWake[phone]
		if !ok {
			wake = make(chan struct{})
			s.mtWake[phone] = wake
		}
		s.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return got, fmt.Errorf("phone %s: %d of %d texts: %w", phone, len(got), n, ctx.Err())
		}
	}
}

// ErrNoReceiver is returned by SendMO when no ESME is bound to receive.
var ErrNoReceiver = errors.New("no ESME bound to receive")

// SendMO texts the short code as a phone: it sends deliver_sm (several with a UDH when the
// text is long) to the next bound receiver and returns the status of the last response. Like
// an SMSC, it delivers again after ESME_RX_T_APPN, a few times with backoff.
func (s *Sim) SendMO(ctx context.Context, from, to, text string) (pdu.Status, error) {
	backoff := 5 * time.Millisecond
	for try := 0; ; try++ {
		st, err := s.sendMOOnce(ctx, from, to, text)
		if err != nil || st != StatusTempAppErr || try == 6 {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// MORefusals counts the deliver_sm the ESME answered with an error, by status (each try of
// a redelivered MO counts).
func (s *Sim) MORefusals() map[pdu.Status]int64 { return s.refusals.snapshot() }

// AddressOf is how a real SMSC writes a sender: "+33612345678" as international digits
// without '+' and TON 1; a national form ("0612345678") with TON 2; anything that is not
// digits (an alphanumeric sender) with TON 5, NPI 0.
func AddressOf(phone string) (ton, npi uint8, addr string) {
	digits := strings.TrimPrefix(phone, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 5, 0, phone
	}
	if strings.HasPrefix(phone, "+") {
		return 1, 1, digits
	}
	if strings.HasPrefix(phone, "0") {
		return 2, 1, phone
	}
	return 0, 1, phone
}

func (s *Sim) sendMOOnce(ctx context.Context, from, to, text string) (pdu.Status, error) {
	return s.SendParts(ctx, from, to, text, byte(s.nextID.Add(1)))
}

// SendParts delivers only the given parts (1-based; none: all) of text split under the
// concatenation reference ref, once each, as a real SMSC does when it redelivers a single
// part of a long message. It returns the status of the last response.
func (s *Sim) SendParts(ctx context.Context, from, to, text string, ref byte, only ...int) (pdu.Status, error) {
	parts, err := Split(text, ref, MaxParts)
	if err != nil {
		return 0, err
	}
	if len(only) > 0 {
		var sel []Part
		for _, n := range only {
			if n >= 1 && n <= len(parts) {
				sel = append(sel, parts[n-1])
			}
		}
		parts = sel
	}
	s.mu.Lock()
	var rx []*simConn
	for c := range s.conns {
		if c.rx {
			rx = append(rx, c)
		}
	}
	var c *simConn
	if len(rx) > 0 {
		s.rr++
		c = rx[s.rr%len(rx)]
	}
	s.mu.Unlock()
	if c == nil {
		return 0, ErrNoReceiver
	}
	var status pdu.Status
	for _, p := range parts {
		ton, npi, src := AddressOf(from)
		m := &SM{SrcTON: ton, SrcNPI: npi, Src: src, Dst: to, Coding: p.Coding, Message: p.Message}
		if p.UDH {
			m.ESMClass = esmUDHI
		}
		seq := c.seq.Add(1)
		ch := make(chan pdu.Status, 1)
		c.pending.Store(seq, ch)
		if err := c.write(encodePDU(pdu.DeliverSMID, StatusOK, seq, m.encode())); err != nil {
			c.pending.Delete(seq)
			return 0, err
		}
		select {
		case status = <-ch:
		case <-c.gone:
			return 0, errors.New("connection to the ESME lost before its response")
		case <-ctx.Done():
			c.pending.Delete(seq)
			return 0, ctx.Err()
		}
		if status != StatusOK {
			s.refusals.add(status)
			return status, nil
		}
	}
	s.MOSent.Add(1)
	return status, nil
}
