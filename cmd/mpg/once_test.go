package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"mpg/internal/pgtest"
	"mpg/pgledger"
)

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
	bh := newPGProxy(t, fmt.Sprintf("127.0.0.1:%d", pc.Port))
	addr := bh.addr
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
	bh.freeze() // A's database is away, silently
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
