package smpp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"golang.org/x/time/rate"
)

// Config is the ESME side of the SMPP link.
type Config struct {
	Addr string
	TLS  *tls.Config // nil: plain TCP; set ServerName when used
	Bind Bind
	// SourceTON and SourceNPI go on every submit_sm (the short code's type and plan).
	SourceTON, SourceNPI uint8
	// Transceiver binds one connection both ways; otherwise a receiver + transmitter pair.
	Transceiver bool
	Binds       int           // links per daemon, sharing one outbound rate (default 1)
	Window      int           // unanswered requests per connection (default 10)
	EnquireLink time.Duration // keepalive interval; a link silent for 2 intervals is dead (default 30s)
	RespTimeout time.Duration // for any request we send (default 10s)
	MaxInflight int           // MO handlers running per connection (default 1024)
	BackoffMin  time.Duration // reconnect backoff, doubled up to BackoffMax, with jitter (1s, 60s)
	BackoffMax  time.Duration
	MaxAuthFail int // consecutive bad-credential binds before waiting AuthRetry between tries (default 3)
	// AuthRetry is the wait between binds once the SMSC has refused the credentials
	// MaxAuthFail times in a row (default 10 min): the daemon keeps trying, slowly, instead of
	// exiting (a supervisor restarting it would hammer the SMSC with bad binds).
	AuthRetry time.Duration
	Rate      float64 // submit_sm per second over all binds (default 100)
	Retries   int     // quick retries of a temporary submit refusal before the outbox takes over (default 2)
	// RetryUnknown is how often the sender resends a message whose submit got no response,
	// with backoff (default 3): a reply may then rarely arrive twice, never zero times. After
	// that it stays "unknown" in the outbox for the operator (0: never resent).
	RetryUnknown int
	// RetryBackoff is the first wait before the outbox tries a temporarily refused message
	// again, doubled per attempt up to RetryBackoffMax (5s, 10 min); UnknownBackoff the first
	// wait before resending an unanswered one (default 3×RespTimeout), doubled the same way.
	RetryBackoff, RetryBackoffMax, UnknownBackoff time.Duration
	// Validity is how long a reply may keep being refused temporarily before it fails with
	// its last reason (default 24h).
	Validity time.Duration
	// LateAnswers is how long after RespTimeout a submit_sm_resp is still matched to its
	// message, which it then settles as sent (default 10 min).
	LateAnswers time.Duration
	StopTimeout time.Duration // how long a graceful stop waits for MO handlers (default 10s)
	// Parts, if set, keeps the parts of long MO durably (the ledger's, wired by cmd): a part is
	// acknowledged only once kept, and released once its whole message was taken. Without it
	// parts are held in memory (tests, the simulator's own reassembly).
	Parts PartStore
	Logf  func(format string, args ...any)
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Binds, 1)
	def(&c.Window, 10)
	def(&c.MaxInflight, 1024)
	def(&c.MaxAuthFail, 3)
	def(&c.Retries, 2)
	if c.RetryUnknown < 0 {
		c.RetryUnknown = 0
	} else if c.RetryUnknown == 0 {
		c.RetryUnknown = 3
	}
	defD(&c.EnquireLink, 30*time.Second)
	defD(&c.RespTimeout, 10*time.Second)
	defD(&c.RetryBackoff, 5*time.Second)
	defD(&c.RetryBackoffMax, 10*time.Minute)
	defD(&c.UnknownBackoff, 3*c.RespTimeout)
	defD(&c.Validity, 24*time.Hour)
	defD(&c.LateAnswers, 10*time.Minute)
	defD(&c.BackoffMin, time.Second)
	defD(&c.BackoffMax, time.Minute)
	defD(&c.StopTimeout, 10*time.Second)
	defD(&c.AuthRetry, 10*time.Minute)
	if c.Rate <= 0 {
		c.Rate = 100
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// MO is one inbound message, reassembled and decoded.
type MO struct {
	From, To string
	// FromTON and FromNPI are the type of number and numbering plan of From as the SMSC sent
	// them (international digits usually come with TON 1 and no '+'): the handler derives
	// the subscriber's identity from the three.
	FromTON, FromNPI uint8
	Text             string
	Received         time.Time
}

// Handler takes an MO. It returns nil only when the message is durably taken (the SMSC then
// gets ESME_ROK); an error wrapping ErrPermanent means it can never be taken; any other
// error is temporary (ESME_RX_T_APPN: the SMSC delivers it again later).
type Handler func(ctx context.Context, mo MO) error

// ReceiptHandler takes a delivery receipt; errors are temporary.
type ReceiptHandler func(ctx context.Context, r Receipt) error

// ErrPermanent marks a handler error for a message that can never be taken.
var ErrPermanent = errors.New("permanent")

var (
	// ErrBadCredentials: the SMSC refused our system_id or password MaxAuthFail times in a row.
	ErrBadCredentials = errors.New("SMSC refuses our credentials")
	// ErrUnknownOutcome: a submit_sm got no response; it may or may not have been taken.
	ErrUnknownOutcome = errors.New("submit outcome unknown")
	errConnClosed     = errors.New("connection closed")
	// errNotSent: the request never left (the link went first): nothing to be unsure about.
	errNotSent = errors.New("not sent")
)

// SubmitError is a submit_sm the SMSC refused; Permanent says whether for good.
type SubmitError struct{ Status pdu.Status }

func (e *SubmitError) Error() string {
	return fmt.Sprintf("submit_sm refused: %v (0x%02X)", e.Status, uint32(e.Status))
}

// Permanent reports whether the status says this message, as written, can never be taken.
func (e *SubmitError) Permanent() bool { return PermanentSubmit[e.Status] }

// PermanentSubmit are the submit_sm_resp statuses after which a message is failed at once:
// the message itself is wrong for the SMSC (length, addresses, flags, parameters). Every
// other status, including ESME_RSUBMITFAIL, ESME_RUNKNOWNERR, ESME_RINVBNDSTS, ESME_RSYSERR,
// ESME_RMSGQFUL, ESME_RTHROTTLED, ESME_RX_T_APPN and vendor codes, is temporary: the reply
// waits and is tried again with backoff until its validity ends.
var PermanentSubmit = map[pdu.Status]bool{
	0x01: true, // ESME_RINVMSGLEN
	0x02: true, // ESME_RINVCMDLEN
	0x03: true, // ESME_RINVCMDID
	0x06: true, // ESME_RINVPRTFLG
	0x07: true, // ESME_RINVREGDLVFLG
	0x0A: true, // ESME_RINVSRCADR
	0x0B: true, // ESME_RINVDSTADR
	0x15: true, // ESME_RINVSERTYP
	0x43: true, // ESME_RINVESMCLASS
	0x48: true, // ESME_RINVSRCTON
	0x49: true, // ESME_RINVSRCNPI
	0x50: true, // ESME_RINVDSTTON
	0x51: true, // ESME_RINVDSTNPI
	0x53: true, // ESME_RINVSYSTYP
	0x54: true, // ESME_RINVREPFLAG
	0x61: true, // ESME_RINVSCHED
	0x62: true, // ESME_RINVEXPIRY
	0x63: true, // ESME_RINVDFTMSGID
	0x65: true, // ESME_RX_P_APPN
	0x66: true, // ESME_RX_R_APPN
	0xC0: true, // ESME_RINVOPTPARSTREAM
	0xC1: true, // ESME_ROPTPARNOTALLWD
	0xC2: true, // ESME_RINVPARLEN
	0xC3: true, // ESME_RMISSINGOPTPARAM
	0xC4: true, // ESME_RINVOPTPARAMVAL
}

// Metrics are the session's counters and gauges, for Prometheus.
type Metrics struct {
	Binds, Reconnects, AuthFailures atomic.Int64
	// MOUndecodable counts MO whose text had to be guessed (a coding or octets that do not match).
	MOUndecodable                atomic.Int64
	MOIn, MORejected, MTOut      atomic.Int64
	Receipts, Throttles, Retries atomic.Int64
	// Outbox outcomes: replies refused for good, handed back after temporary refusals,
	// whose submit got no answer, settled by an answer that came late, and failed because
	// their validity ended.
	SubmitFailed, SubmitLater, SubmitUnknown, LateAnswers, ValidityEnded atomic.Int64
	WindowInUse                                                          atomic.Int64
	errors                                                               statusCounts
}

// statusCounts counts PDUs by status, safe for concurrent use.
type statusCounts struct {
	mu sync.Mutex
	n  map[pdu.Status]int64
}

func (c *statusCounts) add(s pdu.Status) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[pdu.Status]int64{}
	}
	c.n[s]++
	c.mu.Unlock()
}

// snapshot returns a copy of the counts.
func (c *statusCounts) snapshot() map[pdu.Status]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[pdu.Status]int64, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (m *Metrics) countError(s pdu.Status) { m.errors.add(s) }

// ErrorsByStatus returns how many responses carried each non-OK status.
func (m *Metrics) ErrorsByStatus() map[pdu.Status]int64 { return m.errors.snapshot() }

// PartStore keeps parts of long MO until their message is taken.
type PartStore interface {
	// Keep stores one part durably (a part already kept is kept once) and returns every part
	// kept for the message so far, in order.
	Keep(ctx context.Context, sender, msg string, seq uint8, coding Coding, payload []byte) ([]StoredPart, error)
	// Release drops a message's parts once the handler has taken it.
	Release(ctx context.Context, sender, msg string) error
}

// StoredPart is one kept part.
type StoredPart struct {
	Seq     uint8
	Coding  Coding
	Payload []byte
}

const partStripes = 64

// Client is mpg's ESME: it keeps its binds up, hands MO to the handler and submits MT.
type Client struct {
	cfg       Config
	handle    Handler
	onReceipt ReceiptHandler
	limiter   *rate.Limiter
	rateMu    sync.Mutex
	rejected  atomic.Int64 // MO refused for too many handlers, since the last log line
	rejectLog atomic.Int64 // unix nanos of that line
	slowedAt  time.Time    // the last time a throttle lowered the rate
	re        *Reassembler
	Metrics   Metrics

	mu       sync.Mutex
	tx       []*conn // bound connections that may submit
	txWake   chan struct{}
	rxBound  int
	draining atomic.Bool
	authErr  atomic.Pointer[error]
	lmu      sync.Mutex
	links    map[*conn]bool
	ref      atomic.Uint32
	// partLocks serialise the parts of one long message (keep, read, take).
	partLocks [partStripes]sync.Mutex
}

// NewClient makes a client; Run connects it.
func NewClient(cfg Config, h Handler, r ReceiptHandler) *Client {
	cfg = cfg.withDefaults()
	if r == nil {
		r = func(context.Context, Receipt) error { return nil }
	}
	return &Client{cfg: cfg, handle: h, onReceipt: r, limiter: rate.NewLimiter(rate.Limit(cfg.Rate), max(1, int(cfg.Rate/10))),
		re: NewReassembler(2*time.Minute, 10000, nil), txWake: make(chan struct{})}
}

// Quiesce takes no new MO (they get ESME_RX_T_APPN: the SMSC keeps them) and waits, until
// ctx ends, for the handlers in flight; the links stay bound, so replies can still leave.
// The daemon calls it before a graceful stop to drain the outbox while it can still send.
func (c *Client) Quiesce(ctx context.Context) {
	c.draining.Store(true)
	c.lmu.Lock()
	conns := make([]*conn, 0, len(c.links))
	for cn := range c.links {
		conns = append(conns, cn)
	}
	c.lmu.Unlock()
	done := make(chan struct{})
	go func() {
		for _, cn := range conns {
			cn.drained()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Ready reports whether the client can both receive and send.
func (c *Client) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authErr.Load() == nil && c.rxBound > 0 && len(c.tx) > 0
}

// Run keeps every link bound until ctx ends, then stops gracefully: no new MO are taken,
// handlers in flight get StopTimeout to finish, and every link unbinds. Refused credentials
// do not end it: it keeps trying every AuthRetry (Ready is false meanwhile).
func (c *Client) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	kinds := []pdu.ID{pdu.BindTransceiverID}
	if !c.cfg.Transceiver {
		kinds = []pdu.ID{pdu.BindReceiverID, pdu.BindTransmitterID}
	}
	for range c.cfg.Binds {
		for _, k := range kinds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.link(ctx, k)
			}()
		}
	}
	wg.Wait()
	return nil
}

// link binds one connection of one kind and rebinds it with backoff until ctx ends. After
// MaxAuthFail refusals of the credentials in a row it waits AuthRetry between binds, Ready
// is false and submits fail with ErrBadCredentials, until a bind succeeds again.
func (c *Client) link(ctx context.Context, kind pdu.ID) {
	backoff, authFails := c.cfg.BackoffMin, 0
	for ctx.Err() == nil {
		cn, err := c.dial(ctx, kind)
		if err == nil {
			if authFails > 0 || c.authErr.Load() != nil {
				c.cfg.Logf("smpp: %s bound to %s again after %d refused binds", kind, c.cfg.Addr, authFails)
			} else if c.Metrics.Binds.Load() > 0 {
				c.cfg.Logf("smpp: %s bound to %s", kind, c.cfg.Addr)
			}
			authFails, backoff = 0, c.cfg.BackoffMin
			c.authErr.Store(nil)
			c.Metrics.Binds.Add(1)
			c.attach(cn)
			cn.serve(ctx)
			c.detach(cn)
			if ctx.Err() != nil {
				return
			}
			c.Metrics.Reconnects.Add(1)
			c.cfg.Logf("smpp: %s link to %s lost: %v; reconnecting", kind, c.cfg.Addr, cn.err())
		} else {
			wait := time.Duration(0)
			var se *statusError
			if errors.As(err, &se) && (se.status == StatusInvPaswd || se.status == StatusInvSysID) {
				authFails++
				c.Metrics.AuthFailures.Add(1)
				if authFails >= c.cfg.MaxAuthFail {
					e := fmt.Errorf("%w: %v after %d binds; next try in %s", ErrBadCredentials, se.status, authFails, c.cfg.AuthRetry)
					c.authErr.Store(&e)
					c.cfg.Logf("smpp: ERROR %v (check smpp.system_id and MPG_SMPP_PASSWORD)", e)
					c.mu.Lock()
					close(c.txWake) // wake submitters so they see the error
					c.txWake = make(chan struct{})
					c.mu.Unlock()
					wait = c.cfg.AuthRetry
				}
			}
			if wait == 0 {
				c.cfg.Logf("smpp: %s bind to %s failed: %v; retry in about %s", kind, c.cfg.Addr, err, backoff)
				// Jitter in [backoff/2, backoff] so that many daemons do not come back in step.
				wait = backoff/2 + rand.N(backoff/2+1)
				backoff = min(2*backoff, c.cfg.BackoffMax)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			continue
		}
		// Jitter in [backoff/2, backoff] so that many daemons do not come back in step.
		d := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		backoff = min(2*backoff, c.cfg.BackoffMax)
	}
}

type statusError struct{ status pdu.Status }

func (e *statusError) Error() string { return fmt.Sprintf("bind refused: %v", e.status) }

func (c *Client) dial(ctx context.Context, kind pdu.ID) (*conn, error) {
	d := net.Dialer{Timeout: c.cfg.RespTimeout}
	var nc net.Conn
	var err error
	if c.cfg.TLS != nil {
		td := tls.Dialer{NetDialer: &d, Config: c.cfg.TLS}
		nc, err = td.DialContext(ctx, "tcp", c.cfg.Addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", c.cfg.Addr)
	}
	if err != nil {
		return nil, err
	}
	cn := newConn(c, nc, kind)
	go cn.readLoop()
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RespTimeout)
	defer cancel()
	f, err := cn.request(rctx, kind, c.cfg.Bind.encode(), nil)
	if err == nil && f.Header.Status != StatusOK {
		err = &statusError{f.Header.Status}
	}
	if err != nil {
		cn.close(err)
		<-cn.done
		return nil, err
	}
	return cn, nil
}

func (c *Client) attach(cn *conn) {
	c.lmu.Lock()
	if c.links == nil {
		c.links = map[*conn]bool{}
	}
	c.links[cn] = true
	c.lmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn.rx {
		c.rxBound++
	}
	if cn.tx {
		c.tx = append(c.tx, cn)
		close(c.txWake)
		c.txWake = make(chan struct{})
	}
}

func (c *Client) detach(cn *conn) {
	c.lmu.Lock()
	delete(c.links, cn)
	c.lmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn.rx {
		c.rxBound--
	}
	for i, x := range c.tx {
		if x == cn {
			c.tx = append(c.tx[:i], c.tx[i+1:]...)
			break
		}
	}
}

// pickTx waits for a bound transmitter and returns the one with the most free window.
func (c *Client) pickTx(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		var best *conn
		for _, x := range c.tx {
			if best == nil || len(x.window) < len(best.window) {
				best = x
			}
		}
		wake := c.txWake
		c.mu.Unlock()
		if p := c.authErr.Load(); p != nil {
			return nil, *p
		}
		if best != nil {
			return best, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Submit sends text from one address to another, split into parts when long, under the
// window and the shared rate. It returns the SMSC message id of every part. A temporary
// refusal is retried Retries times with a short backoff (ESME_RTHROTTLED also lowers the
// rate) and then returned as a *SubmitError that is not Permanent, for the caller to try
// later; a part whose response never came returns ErrUnknownOutcome at once.
func (c *Client) Submit(ctx context.Context, from, to, text string, receipt bool) ([]string, error) {
	return c.submit(ctx, from, to, text, receipt, nil)
}

// submit is Submit; late, if set, is told the SMSC id of a one-part message whose response
// came after RespTimeout (up to LateAnswers later).
func (c *Client) submit(ctx context.Context, from, to, text string, receipt bool, late func(smscID string)) ([]string, error) {
	parts, err := Split(text, byte(c.ref.Add(1)), 3)
	if err != nil {
		return nil, err
	}
	if len(parts) > 1 {
		late = nil // a late part alone does not settle the message: it is resent whole
	}
	var ids []string
	for _, p := range parts {
		// An E.164 destination goes as SMSCs expect it: international digits, TON 1, NPI 1.
		m := &SM{SrcTON: c.cfg.SourceTON, SrcNPI: c.cfg.SourceNPI, Src: from, DstTON: 1, DstNPI: 1, Dst: strings.TrimPrefix(to, "+"), Coding: p.Coding, Message: p.Message}
		if p.UDH {
			m.ESMClass = esmUDHI
		}
		if receipt {
			m.RegisteredDelivery = 1
		}
		id, err := c.submitPart(ctx, m.encode(), late)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (c *Client) submitPart(ctx context.Context, body []byte, late func(string)) (string, error) {
	var onLate func(Frame)
	if late != nil {
		onLate = func(f Frame) {
			if f.Header.Status == StatusOK {
				c.Metrics.LateAnswers.Add(1)
				late(parseResp(f.Raw))
			}
		}
	}
	backoff := 100 * time.Millisecond
	temp := 0
	for {
		if err := c.limiter.Wait(ctx); err != nil {
			return "", err
		}
		cn, err := c.pickTx(ctx)
		if err != nil {
			return "", err
		}
		f, err := cn.request(ctx, pdu.SubmitSMID, body, onLate)
		switch {
		case err == nil && f.Header.Status == StatusOK:
			c.Metrics.MTOut.Add(1)
			cn.mtOut.Add(1)
			c.recoverRate()
			return parseResp(f.Raw), nil
		case err != nil && ctx.Err() != nil:
			return "", ctx.Err()
		case errors.Is(err, errNotSent):
			// The link went before the PDU left: another link (or this one, rebound) takes it.
		case err != nil:
			// Sent and unanswered, or lost with its connection: the SMSC may have it.
			return "", fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
		default:
			st := f.Header.Status
			c.Metrics.countError(st)
			se := &SubmitError{st}
			if st == StatusThrottled {
				c.Metrics.Throttles.Add(1)
				c.slowDown()
			}
			if se.Permanent() {
				return "", se
			}
			if temp >= c.cfg.Retries {
				return "", se
			}
			temp++
		}
		c.Metrics.Retries.Add(1)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// logEvery reports whether a rate-limited log line may be written now (at most once per
// every), recording the time in last.
func (c *Client) logEvery(last *atomic.Int64, every time.Duration) bool {
	now, prev := time.Now().UnixNano(), last.Load()
	return now-prev >= int64(every) && last.CompareAndSwap(prev, now)
}

// slowDown lowers the submit rate by 30% after ESME_RTHROTTLED, at most once per 200 ms: a
// window of submits throttled at once is one signal, not ten.
func (c *Client) slowDown() {
	c.rateMu.Lock()
	defer c.rateMu.Unlock()
	if time.Since(c.slowedAt) < 200*time.Millisecond {
		return
	}
	c.slowedAt = time.Now()
	c.limiter.SetLimit(max(1, c.limiter.Limit()*0.7))
}

// recoverRate raises a lowered rate after each accepted submit (5% plus one per second), so
// the rate comes back once the SMSC stops throttling.
func (c *Client) recoverRate() {
	if c.limiter.Limit() >= rate.Limit(c.cfg.Rate) {
		return
	}
	c.rateMu.Lock()
	c.limiter.SetLimit(min(rate.Limit(c.cfg.Rate), c.limiter.Limit()*1.05+1))
	c.rateMu.Unlock()
}

// conn is one bound SMPP connection.
type conn struct {
	c        *Client
	nc       net.Conn
	kind     pdu.ID
	rx, tx   bool
	w        *pduWriter
	rd       *bufio.Reader // many PDUs per read under load
	seq      atomic.Uint32
	window   chan struct{}
	inflight chan struct{}
	handlers sync.WaitGroup
	// admit makes "not draining, so one more handler" one step: a drain that sets draining
	// and then waits for the handlers cannot miss one being added meanwhile.
	admit sync.Mutex

	since       time.Time
	moIn, mtOut atomic.Int64
	pmu         sync.Mutex
	pending     map[uint32]*waiter // by sequence number; the response id must match too
	late        int                // of which timed out, waiting for a late answer
	done        chan struct{}
	errMu       sync.Mutex
	cause       error
}

type waiter struct {
	want pdu.ID
	ch   chan Frame
	// late, once the request timed out, takes a response that still comes, until until.
	late  func(Frame)
	until time.Time
}

// maxLatePerConn bounds the timed-out requests a connection still waits answers for.
const maxLatePerConn = 1024

func newConn(c *Client, nc net.Conn, kind pdu.ID) *conn {
	return &conn{c: c, nc: nc, kind: kind, w: &pduWriter{nc: nc, timeout: c.cfg.RespTimeout}, rd: bufio.NewReaderSize(nc, 64<<10), rx: kind != pdu.BindTransmitterID, tx: kind != pdu.BindReceiverID,
		window: make(chan struct{}, c.cfg.Window), inflight: make(chan struct{}, c.cfg.MaxInflight),
		pending: map[uint32]*waiter{}, done: make(chan struct{}), since: time.Now()}
}

// Link is the state of one bound connection, for metrics and health pages.
type Link struct {
	Kind        string // bind_transceiver, bind_receiver or bind_transmitter
	BoundSince  time.Time
	WindowInUse int
	MOIn, MTOut int64
}

// Links describes every bound connection.
func (c *Client) Links() []Link {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	out := make([]Link, 0, len(c.links))
	for cn := range c.links {
		out = append(out, Link{Kind: cn.kind.String(), BoundSince: cn.since, WindowInUse: len(cn.window),
			MOIn: cn.moIn.Load(), MTOut: cn.mtOut.Load()})
	}
	return out
}

func (cn *conn) err() error {
	cn.errMu.Lock()
	defer cn.errMu.Unlock()
	return cn.cause
}

func (cn *conn) close(cause error) {
	cn.errMu.Lock()
	if cn.cause == nil {
		cn.cause = cause
	}
	cn.errMu.Unlock()
	cn.nc.Close()
}

func (cn *conn) write(b []byte) error {
	err := cn.w.write(b)
	if err != nil {
		cn.close(err)
	}
	return err
}

// request sends a PDU under the window and waits for its response: same sequence number
// and the matching response id (or generic_nack). An error wrapping errNotSent means the PDU
// never left. If late is set and the response does not come in time, a response that still
// comes within LateAnswers goes to late.
func (cn *conn) request(ctx context.Context, id pdu.ID, body []byte, late func(Frame)) (Frame, error) {
	select {
	case cn.window <- struct{}{}:
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	case <-cn.done:
		return Frame{}, fmt.Errorf("%w: %w", errNotSent, errConnClosed)
	}
	cn.c.Metrics.WindowInUse.Add(1)
	defer func() {
		<-cn.window
		cn.c.Metrics.WindowInUse.Add(-1)
	}()
	seq := cn.seq.Add(1)
	w := &waiter{want: id | 0x80000000, ch: make(chan Frame, 1)}
	cn.pmu.Lock()
	cn.pending[seq] = w
	cn.pmu.Unlock()
	keep := false
	defer func() {
		if !keep {
			cn.pmu.Lock()
			if cn.pending[seq] == w {
				delete(cn.pending, seq)
			}
			cn.pmu.Unlock()
		}
	}()
	if err := cn.write(encodePDU(id, StatusOK, seq, body)); err != nil {
		return Frame{}, fmt.Errorf("%w: %w", errNotSent, err)
	}
	t := time.NewTimer(cn.c.cfg.RespTimeout)
	defer t.Stop()
	select {
	case f := <-w.ch:
		return f, nil
	case <-t.C:
		cn.pmu.Lock()
		defer cn.pmu.Unlock()
		if cn.pending[seq] != w { // the answer came as the timer fired
			return <-w.ch, nil
		}
		if late != nil && cn.late < maxLatePerConn {
			w.late, w.until, keep = late, time.Now().Add(cn.c.cfg.LateAnswers), true
			cn.late++
		}
		return Frame{}, fmt.Errorf("no response to %s %d within %s", id, seq, cn.c.cfg.RespTimeout)
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	case <-cn.done:
		return Frame{}, errConnClosed
	}
}

// sweepLate stops waiting for late answers past their time.
func (cn *conn) sweepLate(now time.Time) {
	cn.pmu.Lock()
	for seq, w := range cn.pending {
		if w.late != nil && now.After(w.until) {
			delete(cn.pending, seq)
			cn.late--
		}
	}
	cn.pmu.Unlock()
}

func (cn *conn) readLoop() {
	defer close(cn.done)
	for {
		cn.nc.SetReadDeadline(time.Now().Add(2 * cn.c.cfg.EnquireLink))
		f, err := ReadFrame(cn.rd)
		if err != nil {
			cn.close(err)
			return
		}
		h := f.Header
		if h.ID&0x80000000 != 0 {
			cn.pmu.Lock()
			w := cn.pending[h.Seq]
			if w != nil && (w.want == h.ID || h.ID == pdu.GenericNACKID) {
				delete(cn.pending, h.Seq)
				if w.late != nil {
					cn.late--
					go w.late(f)
				} else {
					w.ch <- f
				}
			}
			cn.pmu.Unlock()
			if h.Status != StatusOK && h.ID != pdu.BindTransceiverRespID && h.ID != pdu.BindReceiverRespID && h.ID != pdu.BindTransmitterRespID {
				if h.ID != pdu.SubmitSMRespID { // submit errors are counted where they are handled
					cn.c.Metrics.countError(h.Status)
				}
			}
			continue
		}
		switch h.ID {
		case pdu.DeliverSMID, pdu.DataSMID:
			cn.inbound(f)
		case pdu.EnquireLinkID:
			cn.write(encodePDU(pdu.EnquireLinkRespID, StatusOK, h.Seq, nil))
		case pdu.UnbindID:
			cn.write(encodePDU(pdu.UnbindRespID, StatusOK, h.Seq, nil))
			cn.close(errors.New("SMSC unbound"))
			return
		case pdu.AlertNotificationID, pdu.OutbindID:
			cn.c.cfg.Logf("smpp: %s from the SMSC ignored", h.ID)
		default:
			cn.write(encodePDU(pdu.GenericNACKID, StatusInvCmdID, h.Seq, nil))
		}
	}
}

// serve runs the keepalive until the connection closes or ctx ends, then stops gracefully.
func (cn *conn) serve(ctx context.Context) {
	t := time.NewTicker(cn.c.cfg.EnquireLink)
	defer t.Stop()
	for {
		select {
		case <-cn.done:
			cn.handlers.Wait()
			return
		case <-ctx.Done():
			cn.stop()
			return
		case now := <-t.C:
			cn.sweepLate(now)
			go func() {
				rctx, cancel := context.WithTimeout(context.Background(), cn.c.cfg.RespTimeout)
				defer cancel()
				if _, err := cn.request(rctx, pdu.EnquireLinkID, nil, nil); err != nil {
					cn.close(fmt.Errorf("enquire_link: %w", err))
				}
			}()
		}
	}
}

// stop takes no new MO, waits for handlers up to StopTimeout, unbinds and closes.
func (cn *conn) stop() {
	cn.c.draining.Store(true)
	waited := make(chan struct{})
	go func() { cn.drained(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(cn.c.cfg.StopTimeout):
		cn.c.cfg.Logf("smpp: stop: MO handlers still running after %s", cn.c.cfg.StopTimeout)
	}
	rctx, cancel := context.WithTimeout(context.Background(), min(cn.c.cfg.RespTimeout, 2*time.Second))
	cn.request(rctx, pdu.UnbindID, nil, nil)
	cancel()
	cn.close(errors.New("stopped"))
	<-cn.done
	cn.handlers.Wait()
}

// drained waits for the handlers in flight once draining is set: taking admit first means
// no handler is being added while the wait starts.
func (cn *conn) drained() {
	cn.admit.Lock()
	cn.admit.Unlock() // a barrier: every admission in progress is done
	cn.handlers.Wait()
}

// inbound hands deliver_sm and data_sm to a handler goroutine; the response is written when
// the handler returns, so the read loop never waits and ESME_ROK means "durably taken".
func (cn *conn) inbound(f Frame) {
	respID := f.Header.ID | 0x80000000
	cn.admit.Lock()
	if cn.c.draining.Load() {
		cn.admit.Unlock()
		cn.write(encodePDU(respID, StatusTempAppErr, f.Header.Seq, respBody("")))
		return
	}
	select {
	case cn.inflight <- struct{}{}:
		cn.handlers.Add(1)
		cn.admit.Unlock()
	default:
		cn.admit.Unlock()
		cn.c.Metrics.MORejected.Add(1)
		if n := cn.c.rejected.Add(1); cn.c.logEvery(&cn.c.rejectLog, time.Second) {
			cn.c.rejected.Add(-n)
			cn.c.cfg.Logf("smpp: %d MO answered ESME_RX_T_APPN (the SMSC redelivers them): %d handlers already running on this link (MaxInflight)", n, cap(cn.inflight))
		}
		cn.write(encodePDU(respID, StatusTempAppErr, f.Header.Seq, respBody("")))
		return
	}
	go func() {
		defer cn.handlers.Done()
		st := cn.c.take(cn, f)
		<-cn.inflight // free before answering: the SMSC may send the next one at once
		cn.write(encodePDU(respID, st, f.Header.Seq, respBody("")))
	}()
}

// take decodes one inbound PDU and runs the right handler; it returns the response status.
func (c *Client) take(cn *conn, f Frame) pdu.Status {
	var m *SM
	var err error
	if f.Header.ID == pdu.DataSMID {
		m, err = parseDataSM(f.Raw)
	} else {
		m, err = parseSM(f.Raw)
	}
	if err != nil {
		return StatusInvMsgLen
	}
	ctx := context.Background()
	if m.ESMClass&0x3C == esmReceipt {
		r, err := c.receiptOf(m)
		if err != nil {
			return StatusPermAppErr
		}
		c.Metrics.Receipts.Add(1)
		if c.onReceipt(ctx, r) != nil {
			return StatusTempAppErr
		}
		return StatusOK
	}
	seg, payload, concat, err := m.Segment()
	if err != nil { // a UDH that does not parse: read the octets as one plain message
		payload, concat = m.Message, false
		c.Metrics.MOUndecodable.Add(1)
	}
	coding := m.Coding
	var release func()
	if concat && c.cfg.Parts != nil {
		msg := fmt.Sprintf("%s/%d/%d", m.Dst, seg.Ref, seg.Total)
		mu := &c.partLocks[partStripe(m.Src+msg)]
		mu.Lock() // the parts of one message are taken one at a time
		defer mu.Unlock()
		whole, cd, done, st := c.keepPart(ctx, m.Src, msg, seg, coding, payload)
		if !done {
			return st
		}
		payload, coding = whole, cd
		release = func() {
			if err := c.cfg.Parts.Release(ctx, m.Src, msg); err != nil {
				c.cfg.Logf("smpp: parts of a long MO from %s kept after it was taken (they expire): %v", m.Src, err)
			}
		}
	} else if concat {
		whole, cd, done, err := c.re.Add(m.Src, seg, coding, payload)
		if err != nil && seg.Total > MaxSegments {
			return StatusPermAppErr
		}
		if err != nil {
			return StatusTempAppErr // full: the SMSC delivers the part again later
		}
		if !done {
			return StatusOK // held until the other parts come
		}
		payload, coding = whole, cd
	}
	// Whatever the coding, the subscriber gets an answer (help, for what cannot be read): a
	// permanent error would leave them with none, and the SMSC would drop the message.
	text, exact := DecodeLenient(coding, payload)
	if !exact {
		c.Metrics.MOUndecodable.Add(1)
	}
	c.Metrics.MOIn.Add(1)
	cn.moIn.Add(1)
	if err := c.handle(ctx, MO{From: m.Src, FromTON: m.SrcTON, FromNPI: m.SrcNPI, To: m.Dst, Text: text, Received: time.Now()}); err != nil {
		if errors.Is(err, ErrPermanent) {
			return StatusPermAppErr
		}
		return StatusTempAppErr // the parts stay kept: the last one redelivered completes it again
	}
	if release != nil {
		release()
	}
	return StatusOK
}

// keepPart keeps one part durably and reports whether its message is now whole. It answers
// ESME_ROK only once the part is kept, and a temporary error when it cannot be (the store is
// full or busy): never a permanent one, which would lose the message.
func (c *Client) keepPart(ctx context.Context, from, msg string, seg Segment, coding Coding, payload []byte) (whole []byte, cd Coding, done bool, st pdu.Status) {
	if seg.Total > MaxSegments {
		c.cfg.Logf("smpp: long MO from %s of %d parts refused (at most %d)", from, seg.Total, MaxSegments)
		return nil, 0, false, StatusPermAppErr
	}
	parts, err := c.cfg.Parts.Keep(ctx, from, msg, seg.Seq, coding, payload)
	if err != nil {
		c.Metrics.MORejected.Add(1)
		c.cfg.Logf("smpp: part %d/%d of a long MO from %s not kept, the SMSC will redeliver: %v", seg.Seq, seg.Total, from, err)
		return nil, 0, false, StatusTempAppErr
	}
	if len(parts) < int(seg.Total) {
		return nil, 0, false, StatusOK
	}
	cd = parts[0].Coding
	for i, p := range parts {
		if p.Seq != uint8(i+1) || p.Coding != cd {
			return nil, 0, false, StatusOK // parts of another shape under the same reference: wait
		}
		whole = append(whole, p.Payload...)
	}
	return whole, cd, true, StatusOK
}

func partStripe(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32() % partStripes
}

func (c *Client) receiptOf(m *SM) (Receipt, error) {
	if id, ok := m.TLVs[tagReceiptedMsgID]; ok {
		if st, ok := m.TLVs[tagMessageState]; ok && len(st) == 1 {
			return ReceiptFromTLV(parseResp(id), st[0])
		}
	}
	text, err := Decode(m.Coding, m.Message)
	if err != nil {
		return Receipt{}, err
	}
	return ParseReceiptText(text)
}
