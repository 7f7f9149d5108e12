package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"mpg/commands"
	"mpg/domain"
)

// Flood control: each number may text at most Config.MOPerMinute, with bursts of
// Config.MOBurst. Beyond that its MO is refused with a temporary error (the SMSC keeps it and
// delivers it again later, so nothing is lost) and the number gets one short notice per
// minute, not one reply per MO: one number cannot take the engine or the outbox.

// FloodError is the temporary refusal of an MO from a number over its rate. First is true
// for the first refusal of a minute (the one that sent the notice), for the log.
type FloodError struct{ First bool }

func (e *FloodError) Error() string { return "too many messages from this number" }
func (e *FloodError) Unwrap() error { return ErrBusy }

// maxFloodEntries bounds the numbers tracked; idle ones are forgotten first.
const maxFloodEntries = 1 << 17

type floodEntry struct {
	lim      *rate.Limiter
	seen     time.Time // last MO
	notified time.Time // last notice
}

type floodGate struct {
	mu sync.Mutex
	m  map[string]*floodEntry
}

// admit takes one MO of a number: nil, or a FloodError.
func (e *Engine) admit(msisdn string) *FloodError {
	if e.cfg.MOPerMinute <= 0 {
		return nil
	}
	now := e.cfg.Now()
	g := &e.flood
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]*floodEntry{}
	}
	f := g.m[msisdn]
	if f == nil {
		if len(g.m) >= maxFloodEntries {
			for k, x := range g.m { // a full bucket is the same as a forgotten one
				if now.Sub(x.seen) > time.Minute*time.Duration(max(1, e.cfg.MOBurst/max(1, e.cfg.MOPerMinute))+1) {
					delete(g.m, k)
				}
			}
			if len(g.m) >= maxFloodEntries {
				clear(g.m)
			}
		}
		f = &floodEntry{lim: rate.NewLimiter(rate.Limit(float64(e.cfg.MOPerMinute)/60), max(1, e.cfg.MOBurst))}
		g.m[msisdn] = f
	}
	f.seen = now
	if f.lim.AllowN(now, 1) {
		return nil
	}
	if now.Sub(f.notified) < time.Minute {
		return &FloodError{}
	}
	f.notified = now
	return &FloodError{First: true}
}

// floodNotice tells the number, once a minute, that its messages wait.
func (e *Engine) floodNotice(ctx context.Context, msisdn string) error {
	_, err := e.l.Submit(ctx, domain.Job{Messages: []domain.Message{e.sms(msisdn, e.langOf(msisdn), commands.RFlood, commands.Args{})}})
	if err != nil {
		return fmt.Errorf("flood notice: %w", err)
	}
	return nil
}
