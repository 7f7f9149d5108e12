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
	go cn.readLoop()
	c.cur = cn
	return cn, nil
}

func (cn *conn) readLoop() {
	r := bufio.NewReader(cn.c)
	for {
		m, err := read(r)
		if err != nil {
			cn.c.Close()
			close(cn.dead)
			return
		}
		k := key(m.MTI, m.Trace, m.RRN)
		cn.mu.Lock()
		ch, ok := cn.pending[k]
		delete(cn.pending, k)
		cn.mu.Unlock()
		if ok {
			ch <- m
		}
	}
}

func key(mti, trace, rrn string) string { return mti + "/" + trace + "/" + rrn }

// drop closes a connection and forgets it, so that the next request dials again.
func (c *Client) drop(cn *conn) {
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

func financial(mti string, d domain.BankDebit) *msg {
	return &msg{MTI: mti, Process: "000000", Amount: amountField(d.Amount), Sent: transmitted(time.Now()), Trace: d.Trace,
		RRN: d.Key, Merchant: d.Merchant, Currency: numericCurrency(d.Currency), AccountID: d.Account}
}

func answer(m *msg) domain.BankAnswer {
	a := domain.BankAnswer{Outcome: domain.BankDeclined, Code: m.Response, AuthCode: m.AuthCode}
	if m.Response == CodeApproved {
		a.Outcome = domain.BankApproved
	}
	return a
}

// Debit asks the bank to debit the account (0200).
func (c *Client) Debit(ctx context.Context, d domain.BankDebit) (domain.BankAnswer, error) {
	m, err := c.call(ctx, financial(mtiFinancial, d), mtiFinancialResp)
	if err != nil {
		return domain.BankAnswer{}, err
	}
	return answer(m), nil
}

// Status asks again with the same RRN, as a repeat (0201): the bank answers what it did
// with that request, and debits only if it never got it.
func (c *Client) Status(ctx context.Context, d domain.BankDebit) (domain.BankAnswer, error) {
	m, err := c.call(ctx, financial(mtiFinancialRepeat, d), mtiFinancialResp)
	if err != nil {
		return domain.BankAnswer{}, err
	}
	return answer(m), nil
}

// Reverse asks the bank to undo the debit with that RRN (0400; again, 0420 advices). The
// answer is approved when no money stays taken: reversed, or never debited ("25").
func (c *Client) Reverse(ctx context.Context, d domain.BankDebit, again bool) (domain.BankAnswer, error) {
	mti, resp := mtiReversal, mtiReversalResp
	if again {
		mti, resp = mtiReversalAdvice, mtiAdviceResp
	}
	m := financial(mti, d)
	m.Original = mtiFinancial + d.Trace + transmitted(time.Unix(0, d.At))
	a, err := c.call(ctx, m, resp)
	if err != nil {
		return domain.BankAnswer{}, err
	}
	out := answer(a)
	if a.Response == CodeNotFound {
		out.Outcome = domain.BankApproved
	}
	return out, nil
}

// Echo checks the link (0800, network management code 301).
func (c *Client) Echo(ctx context.Context) error {
	t := fmt.Sprintf("%06d", c.trace.Add(1)%1000000)
	m, err := c.call(ctx, &msg{MTI: mtiNetwork, Sent: transmitted(time.Now()), Trace: t, Network: "301"}, mtiNetworkResp)
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
