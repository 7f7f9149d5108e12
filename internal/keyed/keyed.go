// Package keyed runs the workers' steps (a payment's bank request, a subscriber's call):
// at most one at a time per key, at most n at once.
package keyed

import (
	"context"
	"sync"
)

// Pool runs steps by key. Wait for them with Wait before dropping it.
type Pool struct {
	mu      sync.Mutex
	running map[string]bool
	slots   chan struct{}
	wg      sync.WaitGroup
}

// New is a pool of at most n steps at once (at least one).
func New(n int) *Pool {
	return &Pool{running: map[string]bool{}, slots: make(chan struct{}, max(1, n))}
}

// Go runs step for key in its own goroutine, unless one for key is under way (then it
// does nothing). It waits for a free slot; if ctx ends first it returns ctx's error.
func (p *Pool) Go(ctx context.Context, key string, step func()) error {
	p.mu.Lock()
	busy := p.running[key]
	p.running[key] = true
	p.mu.Unlock()
	if busy {
		return nil
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		p.done(key)
		return ctx.Err()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() { <-p.slots }()
		defer p.done(key)
		step()
	}()
	return nil
}

// Wait waits for the steps under way.
func (p *Pool) Wait() { p.wg.Wait() }

func (p *Pool) done(key string) {
	p.mu.Lock()
	delete(p.running, key)
	p.mu.Unlock()
}
