package bank

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"mpg/domain"
)

// Config is how mpg reaches the bank.
type Config struct {
	Addr    string        // host:port of the bank's ISO 8583 endpoint
	TLS     *tls.Config   // nil: plain TCP (a private link)
	Timeout time.Duration // an answer not in by then is an unknown outcome (default 5 s)
	// Acquirer is mpg's acquiring institution identification code as the bank assigned it
	// (field 32, up to 11 digits; "": not sent, and zeros in a reversal's field 90).
	Acquirer string
	// Log is told what an operator must know of the link: a message from the bank that mpg
	// could not read (its shape, never its content), the link closing, an answer that
	// matched no request. nil: not told.
	Log func(format string, args ...any)
}

// Client is mpg's connection to the bank. Requests share one TCP connection and are
// matched to their answers by message type, trace number and RRN; an answer that matches
// nothing waiting (a late one, a duplicate) is dropped. It never retries by itself: what
// to do after an unknown outcome is the caller's decision, made with the same key.
type Client struct {
	cfg   Config
	mu    sync.Mutex
	cur   *conn
	trace atomic.Uint32 // for echoes; debits carry their own trace numbers

	up           atomic.Bool  // the bank answered the last echo (or, since, a request)
	EchoesFailed atomic.Int64 // echoes without an answer: each closed the link
}

// NewClient makes a client; it dials on first use.
func NewClient(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &Client{cfg: cfg}
}

type conn struct {
	c       net.Conn
	w       *writer
	mu      sync.Mutex
	pending map[string]chan *msg
	dead    chan struct{}
	closing atomic.Bool // mpg closed it: the end of its read loop is no news
}

func (c *Client) conn(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		select {
		case <-c.cur.dead:
			c.cur = nil
		default:
			return c.cur, nil
		}
	}
	d := net.Dialer{Timeout: c.cfg.Timeout}
	var nc net.Conn
	var err error
	if c.cfg.TLS != nil {
		nc, err = (&tls.Dialer{NetDialer: &d, Config: c.cfg.TLS}).DialContext(ctx, "tcp", c.cfg.Addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", c.cfg.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", domain.ErrBankUnreachable, err)
	}
	cn := &conn{c: nc, w: &writer{w: nc}, pending: map[string]chan *msg{}, dead: make(chan struct{})}
	go c.readLoop(cn)
	c.cur = cn
	return cn, nil
}

func (c *Client) logf(format string, args ...any) {
	if c.cfg.Log != nil {
		c.cfg.Log(format, args...)
	}
}

// readLoop reads what the bank sends on one link. A message it cannot read is logged by
// its shape and skipped: the length before each message keeps the stream in step, so the
// link stays up, and the request it may have answered ends as unknown (asked again). Only
// a length that cannot start a message, or the link's end, closes it, and says so.
func (c *Client) readLoop(cn *conn) {
	defer close(cn.dead)
	defer cn.c.Close()
	r := bufio.NewReader(cn.c)
	for {
		b, err := readFrame(r)
		if err != nil {
			if !cn.closing.Load() {
				c.logf("bank link closed: %v", err)
			}
			return
		}
		m, err := decode(b)
		if err != nil {
			c.logf("bank sent a message mpg cannot read (%v): %s; skipped, the link stays up", err, shape(b))
			continue
		}
		c.up.Store(true)
		c.take(cn, m)
	}
}

// take handles one message from the bank: its own network management request is answered
// on the same link; an answer goes to the request waiting for it.
func (c *Client) take(cn *conn, m *msg) {
	if m.MTI == mtiNetwork || m.MTI == mtiNetworkAdvice {
		c.answerNetwork(cn, m)
		return
	}
	k := key(m.MTI, m.Trace, m.RRN)
	cn.mu.Lock()
	ch, ok := cn.pending[k]
	delete(cn.pending, k)
	cn.mu.Unlock()
	if !ok {
		c.logf("bank answer %s trace %s RRN %s matches no request waiting (late or repeated): dropped", m.MTI, m.Trace, m.RRN)
		return
	}
	ch <- m
}

// answerNetwork answers the bank's sign-on, echo, key change or other network management
// message (0800, or its advice 0820) with 0810 (0830), approved: mpg keeps no keys to
// change (no PIN, no MAC travels on this link) and is up when it can answer.
func (c *Client) answerNetwork(cn *conn, m *msg) {
	resp := &msg{MTI: mtiNetworkResp, Sent: m.Sent, Trace: m.Trace, Acquirer: m.Acquirer, Network: m.Network, Response: CodeApproved}
	if m.MTI == mtiNetworkAdvice {
		resp.MTI = mtiNetworkAdvResp
	}
	cn.c.SetWriteDeadline(time.Now().Add(c.cfg.Timeout))
	if err := cn.w.send(resp); err != nil {
		c.logf("bank link closed: answering its %s %s: %v", m.MTI, m.Network, err)
		c.drop(cn)
	}
}

func key(mti, trace, rrn string) string { return mti + "/" + trace + "/" + rrn }

// drop closes a connection and forgets it, so that the next request dials again.
func (c *Client) drop(cn *conn) {
	cn.closing.Store(true)
	cn.c.Close()
	c.mu.Lock()
	if c.cur == cn {
		c.cur = nil
	}
	c.mu.Unlock()
}

// Close drops the connection; requests waiting end as unknown.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		c.cur.closing.Store(true)
		c.cur.c.Close()
		c.cur = nil
	}
	return nil
}

// call sends m and waits for its answer of type respMTI. Any failure after the request may
// have left is domain.ErrBankUnknown.
func (c *Client) call(ctx context.Context, m *msg, respMTI string) (*msg, error) {
	cn, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	k := key(respMTI, m.Trace, m.RRN)
	ch := make(chan *msg, 1)
	cn.mu.Lock()
	cn.pending[k] = ch
	cn.mu.Unlock()
	defer func() {
		cn.mu.Lock()
		delete(cn.pending, k)
		cn.mu.Unlock()
	}()
	cn.c.SetWriteDeadline(time.Now().Add(c.cfg.Timeout))
	if err := cn.w.send(m); err != nil {
		c.logf("bank link closed: sending %s %s: %v", m.MTI, m.RRN, err)
		c.drop(cn) // a half-written message spoils the stream
		return nil, fmt.Errorf("%w: sending %s: %v", domain.ErrBankUnknown, m.MTI, err)
	}
	t := time.NewTimer(c.cfg.Timeout)
	defer t.Stop()
	select {
	case a := <-ch:
		c.up.Store(true)
		return a, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: no answer to %s %s within %s", domain.ErrBankUnknown, m.MTI, m.RRN, c.cfg.Timeout)
	case <-cn.dead:
		return nil, fmt.Errorf("%w: the connection closed before the answer to %s %s", domain.ErrBankUnknown, m.MTI, m.RRN)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", domain.ErrBankUnknown, ctx.Err())
	}
}

// Stamp is what the first transmission of d (reversal: of its reversal) carries to
// identify it: message type, trace, transmission time (now) and acquirer. The engine records
// it before sending, so that every later attempt is a repeat of that same message and a
// reversal names it.
func (c *Client) Stamp(d domain.BankDebit, reversal bool, now time.Time) domain.BankSent {
	mti := mtiFinancial
	if reversal {
		mti = mtiReversal
	}
	return domain.BankSent{MTI: mti, Trace: d.Trace, Time: transmitted(now), Acquirer: c.cfg.Acquirer}
}

// identity is a request's recorded first transmission, or one stamped now.
func (c *Client) identity(s domain.BankSent, d domain.BankDebit, reversal bool) domain.BankSent {
	if s.IsZero() {
		return c.Stamp(d, reversal, time.Now())
	}
	return s
}

// request is the message of d: mti, with the identity of its first transmission.
func request(mti string, d domain.BankDebit, id domain.BankSent) *msg {
	proc := procDebit
	if d.Credit {
		proc = procCredit
	}
	return &msg{MTI: mti, Process: proc, Amount: amountField(d.Amount), Sent: id.Time, Trace: id.Trace, Acquirer: id.Acquirer,
		RRN: d.Key, Merchant: merchantField(d.Merchant), Currency: numericCurrency(d.Currency), AccountID: d.Account}
}

// outcome is what an answer says, sorted by Classify: a code that is neither a sure
// approval nor a sure decline is domain.ErrBankUnknown, like no answer at all.
func outcome(mti string, resp *msg, k Kind) (domain.BankAnswer, error) {
	a := domain.BankAnswer{Code: resp.Response, AuthCode: resp.AuthCode}
	switch Classify(resp.Response, k) {
	case Approved:
		a.Outcome = domain.BankApproved
	case Declined:
		a.Outcome = domain.BankDeclined
	default:
		meaning := Meaning(resp.Response)
		if meaning == "" {
			meaning = "a code ISO 8583:1987 does not list"
		}
		return a, fmt.Errorf("%w: the bank answered %q to %s %s (%s)", domain.ErrBankUnknown, resp.Response, mti, resp.RRN, meaning)
	}
	return a, nil
}

// tooLong is the answer for an account the interface cannot carry (field 102 takes 28
// characters): nothing is ever sent for it, so nothing is taken — a sure decline, code 30.
func tooLong(d domain.BankDebit) bool { return len(d.Account) > domain.MaxBankAccount }

// financial sends d as mti (0200 or 0201) and sorts the answer.
func (c *Client) financial(ctx context.Context, mti string, d domain.BankDebit, k Kind) (domain.BankAnswer, error) {
	if tooLong(d) {
		return domain.BankAnswer{Outcome: domain.BankDeclined, Code: "30"}, nil
	}
	resp, err := c.call(ctx, request(mti, d, c.identity(d.Sent, d, false)), mtiFinancialResp)
	if err != nil {
		return domain.BankAnswer{}, err
	}
	return outcome(mti, resp, k)
}

// Debit asks the bank to debit the account (0200, processing code 000000).
func (c *Client) Debit(ctx context.Context, d domain.BankDebit) (domain.BankAnswer, error) {
	d.Credit = false
	return c.financial(ctx, mtiFinancial, d, First)
}

// Credit asks the bank to credit the account with a refund (0200, processing code 200000).
func (c *Client) Credit(ctx context.Context, d domain.BankDebit) (domain.BankAnswer, error) {
	d.Credit = true
	return c.financial(ctx, mtiFinancial, d, First)
}

// Status repeats the request (0201: the same message as first sent, same RRN, trace and
// transmission time): the bank answers what it did with it, and acts only if it never got
// it. Every attempt after the first is one, whatever made mpg doubt.
func (c *Client) Status(ctx context.Context, d domain.BankDebit) (domain.BankAnswer, error) {
	return c.financial(ctx, mtiFinancialRepeat, d, Repeat)
}

// Reverse asks the bank to undo the request with that RRN (0400; again: its repeat, 0401).
// Field 90 names the request as it was first sent. The answer is approved when no money
// stays moved: reversed, or never done ("25").
func (c *Client) Reverse(ctx context.Context, d domain.BankDebit, again bool) (domain.BankAnswer, error) {
	if tooLong(d) {
		return domain.BankAnswer{Outcome: domain.BankApproved, Code: CodeNotFound}, nil
	}
	mti := mtiReversal
	if again {
		mti = mtiReversalRepeat
	}
	m := request(mti, d, c.identity(d.Reversal, d, true))
	m.Original = originalData(c.identity(d.Sent, d, false))
	resp, err := c.call(ctx, m, mtiReversalResp)
	if err != nil {
		return domain.BankAnswer{}, err
	}
	return outcome(mti, resp, Reversal)
}

// Echo checks the link (0800, network management code 301).
func (c *Client) Echo(ctx context.Context) error {
	t := fmt.Sprintf("%06d", c.trace.Add(1)%1000000)
	m, err := c.call(ctx, &msg{MTI: mtiNetwork, Sent: transmitted(time.Now()), Trace: t, Acquirer: c.cfg.Acquirer, Network: netEcho}, mtiNetworkResp)
	if err != nil {
		return err
	}
	if m.Response != CodeApproved {
		return errors.New("bank echo answered " + m.Response)
	}
	return nil
}

// KeepAlive echoes the bank every so often while ctx lasts (0800, dialling if there is no
// link). A link that does not answer an echo in time is closed, so that the next debit dials
// a fresh one rather than going into a dead connection, where its outcome would be unknown
// and cost a repeat or a reversal. warn is told of each failure.
func (c *Client) KeepAlive(ctx context.Context, every time.Duration, warn func(string, ...any)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cn, err := c.conn(ctx)
		if err == nil {
			err = c.Echo(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.EchoesFailed.Add(1)
			c.up.Store(false)
			if cn != nil {
				c.drop(cn) // this link only: a request may have dialled a new one since
			}
			warn("bank echo failed, link closed: %v", err)
		}
	}
}

// Up reports whether the bank answered the last echo (or a request since).
func (c *Client) Up() bool { return c.up.Load() }
