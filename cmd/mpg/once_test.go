package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"mpg/internal/pgtest"
	"mpg/pgledger"
)

// blackhole forwards TCP to PostgreSQL until frozen; frozen, it drops every byte both ways
// and keeps the connections open: a network partition, not a reset.
type blackhole struct {
	ln     net.Listener
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newBlackhole(t *testing.T, upstream string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !b.frozen.Load() {
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
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			b.mu.Lock()
			b.conns = append(b.conns, c, u)
			b.mu.Unlock()
			go pipe(u, c)
			go pipe(c, u)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
	})
	return b
}

// TestLeaseHolderStopsAtExpiry: hold() renews with the daemon's context and no
// deadline of its own, so a Renew that hangs (the holder's packets to the database are lost;
// no RST) never returns: the "time.Now().After(sure-TTL/3)" check is never reached, and the
// work goes on while the lease expires on the database's clock and another daemon takes it
// over. Two daemons then run the bank worker (or the webhook sender) at once.
func TestLeaseHolderStopsAtExpiry(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := pgledger.MigrateDSN(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	bh := newBlackhole(t, fmt.Sprintf("127.0.0.1:%d", pc.Port))
	addr := bh.ln.Addr().String()
	viaProxy := fmt.Sprintf("host=127.0.0.1 port=%s user=%s dbname=%s sslmode=disable",
		addr[strings.LastIndexByte(addr, ':')+1:], pc.User, pc.Database)
	holderDB, err := pgledger.Open(ctx, viaProxy)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { go holderDB.Close() }() // its connections hang: do not wait for them
	otherDB, err := pgledger.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer otherDB.Close()

	var running atomic.Bool
	started := make(chan struct{}, 1)
	work := func(wctx context.Context) {
		running.Store(true)
		started <- struct{}{}
		<-wctx.Done()
		running.Store(false)
	}
	daemonCtx, stopDaemon := context.WithCancel(context.Background())
	defer stopDaemon()
	ls := &leases{db: holderDB, holder: "A", log: zap.NewNop()}
	go ls.once(daemonCtx, "bank", work)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("daemon A never took the lease")
	}
	bh.frozen.Store(true) // A's database is away, silently
	deadline := time.Now().Add(2*leaseTTL + 5*time.Second)
	for {
		l, ok, err := otherDB.Acquire(ctx, "bank", "B", leaseTTL)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			time.Sleep(200 * time.Millisecond)
			if running.Load() {
				t.Fatalf("daemon B took the lease (token %d) while daemon A still runs the work under token 1", l.Token)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon B never got the lease")
		}
		time.Sleep(250 * time.Millisecond)
	}
}
