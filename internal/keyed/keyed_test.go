package keyed

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// One step per key at a time (a second for a busy key is dropped), at most n at once, a
// key free again once its step ended, and a full pool left when ctx ends.
func TestPoolOneStepPerKeyAndNAtOnce(t *testing.T) {
	p := New(2)
	ctx := context.Background()
	release := make(chan struct{})
	var ran, atOnce, most atomic.Int32
	step := func() {
		ran.Add(1)
		n := atOnce.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		atOnce.Add(-1)
	}
	for _, k := range []string{"a", "a", "b"} {
		if err := p.Go(ctx, k, step); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := p.Go(short, "c", step); err == nil { // both slots taken until released
		t.Fatal("a third step ran with two slots")
	}
	close(release)
	p.Wait()
	if ran.Load() != 2 || most.Load() != 2 {
		t.Fatalf("ran %d, at most %d at once; want 2 and 2", ran.Load(), most.Load())
	}
	if err := p.Go(ctx, "a", func() { ran.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := p.Go(ctx, "c", func() { ran.Add(1) }); err != nil { // c was let go when ctx ended
		t.Fatal(err)
	}
	p.Wait()
	if ran.Load() != 4 {
		t.Fatalf("ran %d after the keys were free, want 4", ran.Load())
	}
}
