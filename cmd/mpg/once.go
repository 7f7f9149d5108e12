package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"mpg/pgledger"
)

// Work that must run on one daemon at a time (the bank worker, the webhook sender, the
// engine's expiry sweep) runs under a lease when several daemons share a database: each
// daemon asks for it, one holds it and renews it, and when that one dies or loses the
// database the lease expires and another takes the work over. On a file there is one
// daemon, and the work simply runs.

// leaseTTL is how long a grant lasts; the holder renews it every leaseTTL/3, and stops the
// work when a whole TTL went by without a renewal it is sure of.
const leaseTTL = 10 * time.Second

// leases grants work to one daemon among those sharing a database.
type leases struct {
	db     *pgledger.DB
	holder string
	log    *zap.Logger
}

// once runs work while this daemon holds the lease name, until ctx ends; with no leases
// (a file) it runs work at once.
func (ls *leases) once(ctx context.Context, name string, work func(context.Context)) {
	if ls == nil {
		work(ctx)
		return
	}
	for ctx.Err() == nil {
		sent := time.Now()
		actx, cancel := context.WithTimeout(ctx, leaseTTL/3)
		lease, ok, err := ls.db.Acquire(actx, name, ls.holder, leaseTTL)
		cancel()
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				ls.log.Warn("lease not granted", zap.String("work", name), zap.Error(err))
			}
			sleepCtx(ctx, leaseTTL/3)
			continue
		}
		ls.log.Info("lease taken: this daemon runs the work", zap.String("work", name), zap.Int64("token", lease.Token))
		ls.hold(ctx, &lease, sent, work)
	}
}

// hold runs work while the lease is renewed, and releases it after.
func (ls *leases) hold(ctx context.Context, lease *pgledger.Lease, sent time.Time, work func(context.Context)) {
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); work(wctx) }()
	sure := sent.Add(leaseTTL) // the database's expiry is no earlier than this
	tick := time.NewTicker(leaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-done:
			stop()
			ls.release(lease)
			return
		case <-tick.C:
			// Each renewal is bounded: one that hangs (a network that drops without a reset)
			// must not keep the work running past the lease's end.
			sent := time.Now()
			rctx, cancel := context.WithTimeout(ctx, leaseTTL/3)
			ok, err := ls.db.Renew(rctx, lease)
			cancel()
			switch {
			case err == nil && ok:
				sure = sent.Add(leaseTTL)
			case err == nil || time.Now().After(sure.Add(-leaseTTL/3)):
				// Taken over, or too close to its end to go on unsure: stop before another starts.
				ls.log.Warn("lease lost: the work stops here", zap.String("work", lease.Name), zap.Error(err))
				stop()
				<-done
				return
			}
		}
	}
}

func (ls *leases) release(lease *pgledger.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ls.db.Release(ctx, *lease); err != nil {
		ls.log.Warn("lease not released: it expires on its own", zap.String("work", lease.Name), zap.Error(err))
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
