package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"mpg/config"
	"mpg/smpp"
)

// pgProxy stands between the daemon and PostgreSQL on loopback, so that a test can take
// the database away (down: every connection cut, new ones refused) and bring it back (up),
// or partition it (freeze: every byte dropped both ways, the connections kept open).
type pgProxy struct {
	addr, upstream string
	frozen         atomic.Bool
	mu             sync.Mutex
	ln             net.Listener
	conns          []net.Conn
}

func newPGProxy(t *testing.T, upstream string) *pgProxy {
	t.Helper()
	p := &pgProxy{addr: "127.0.0.1:0", upstream: upstream}
	if err := p.up(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.down)
	return p
}

// up listens (again, on the same port) and forwards every connection.
func (p *pgProxy) up() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go p.pipe(u, c)
			go p.pipe(c, u)
		}
	}()
	return nil
}

// pipe copies src to dst, dropping what comes while the proxy is frozen.
func (p *pgProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// freeze drops every byte from now on, as a network partition does.
func (p *pgProxy) freeze() { p.frozen.Store(true) }

// down cuts every connection and refuses new ones.
func (p *pgProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestReadyzWhileTheDatabaseIsAway: a daemon on PostgreSQL says it is not ready while the
// database cannot be reached, and answers MO with a temporary error (the SMSC keeps them:
// nothing is acknowledged that is not durable); when the database is back it is ready again
// without a restart and the SMS redelivered then is applied once.
func TestReadyzWhileTheDatabaseIsAway(t *testing.T) {
	bk := newBooks(t, config.DriverPostgres)
	sim, cfg := testSetupOn(t, bk)
	pc, err := pgx.ParseConfig(bk.ledger.DSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newPGProxy(t, fmt.Sprintf("127.0.0.1:%d", pc.Port))
	bk.ledger.DSN = fmt.Sprintf("host=127.0.0.1 port=%s user=%s dbname=%s sslmode=disable connect_timeout=2",
		proxy.addr[strings.LastIndexByte(proxy.addr, ':')+1:], pc.User, pc.Database)
	cfg.Ledger = bk.ledger
	l := bk.open(t, cfg, nil)
	_, httpAddr, stop, err := startDaemon(context.Background(), cfg, l, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz with the database there: %d %s", code, body)
	}
	proxy.down()
	waitFor(t, "/readyz to say the database is away", func() bool {
		code, body := readyz()
		return code == http.StatusServiceUnavailable && strings.Contains(body, "ledger database unavailable")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if st, _ := sim.SendMO(ctx, "+33655555555", "1234", "REG 739164"); st != smpp.StatusTempAppErr {
		t.Fatalf("MO while the database is away: %v, want ESME_RX_T_APPN", st)
	}
	if err := proxy.up(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz once the database is back", func() bool { code, _ := readyz(); return code == http.StatusOK })
	// The SMSC delivers the refused MO again, twice (a lost acknowledgement): one purse.
	for range 2 {
		if st, err := sim.SendMO(ctx, "+33655555555", "1234", "REG 739164"); err != nil || st != smpp.StatusOK {
			t.Fatalf("MO once the database is back: %v %v", st, err)
		}
	}
	if _, err := sim.WaitMT(ctx, "+33655555555", 1); err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, bk.cli("ledger", "accounts", "--owner", "+33655555555")...); strings.Count(got, "+33655555555") != 1 {
		t.Fatalf("purses of the number:\n%s", got)
	}
	if got := mustRun(t, bk.cli("ledger", "verify")...); !strings.Contains(got, "ledger verify: ok") {
		t.Fatal(got)
	}
}
