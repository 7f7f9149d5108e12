package ledger

import (
	"container/heap"
	"slices"
	"sync"
)

// outQueue is the in-memory schedule of the outbox bucket "outq": which committed messages a
// sender may take now (urgent ones first), which wait for a retry time, and which a sender
// holds. It is rebuilt from the file on open; the file stays the truth.
type outQueue struct {
	mu     sync.Mutex
	urgent []uint64
	normal []uint64
	later  laterHeap
	taken  map[uint64]bool
	wake   chan struct{}
}

type laterItem struct {
	at     int64
	id     uint64
	urgent bool
}

type laterHeap []laterItem

func (h laterHeap) Len() int           { return len(h) }
func (h laterHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h laterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *laterHeap) Push(x any)        { *h = append(*h, x.(laterItem)) }
func (h *laterHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newOutQueue() *outQueue {
	return &outQueue{taken: make(map[uint64]bool), wake: make(chan struct{}, 1)}
}

// push schedules a message for at (unix nanos; at or before now: at once).
func (q *outQueue) push(id uint64, urgent bool, at, now int64) {
	q.mu.Lock()
	delete(q.taken, id)
	switch {
	case at > now:
		heap.Push(&q.later, laterItem{at: at, id: id, urgent: urgent})
	case urgent:
		q.urgent = append(q.urgent, id)
	default:
		q.normal = append(q.normal, id)
	}
	q.mu.Unlock()
	q.signal()
}

func (q *outQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// release forgets that a sender holds id (it was marked).
func (q *outQueue) release(id uint64) {
	q.mu.Lock()
	delete(q.taken, id)
	q.mu.Unlock()
}

// take hands out up to max due messages, urgent first. When none is due it returns the time
// the next one will be (0: none waits).
func (q *outQueue) take(max int, now int64) (ids []uint64, next int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.later.Len() > 0 && q.later[0].at <= now {
		it := heap.Pop(&q.later).(laterItem)
		if it.urgent {
			q.urgent = append(q.urgent, it.id)
		} else {
			q.normal = append(q.normal, it.id)
		}
	}
	for _, list := range []*[]uint64{&q.urgent, &q.normal} {
		n := min(max-len(ids), len(*list))
		ids = append(ids, (*list)[:n]...)
		*list = (*list)[n:]
	}
	for _, id := range ids {
		q.taken[id] = true
	}
	if len(ids) == 0 && q.later.Len() > 0 {
		next = q.later[0].at
	}
	return ids, next
}

// due counts the messages a sender could take now or holds: what a graceful stop waits for.
// Messages waiting for a retry time are not counted.
func (q *outQueue) due(now int64) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.urgent) + len(q.normal) + len(q.taken)
	for _, it := range q.later {
		if it.at <= now {
			n++
		}
	}
	return n
}

// waiting counts the messages scheduled for a later retry.
func (q *outQueue) waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.later.Len()
}

// drop forgets a message the file no longer has queued (its recipient was erased). A sender
// that holds it already still marks it: it left before the erasure.
func (q *outQueue) drop(id uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.urgent = slices.DeleteFunc(q.urgent, func(x uint64) bool { return x == id })
	q.normal = slices.DeleteFunc(q.normal, func(x uint64) bool { return x == id })
	for i, it := range q.later {
		if it.id == id {
			heap.Remove(&q.later, i)
			break
		}
	}
}

// pushMissing schedules the messages not already there (found again in the books after a
// failed commit whose outcome was not known).
func (q *outQueue) pushMissing(items []laterItem, now int64) {
	q.mu.Lock()
	have := make(map[uint64]bool, len(q.taken)+len(q.urgent)+len(q.normal)+len(q.later))
	for id := range q.taken {
		have[id] = true
	}
	for _, id := range append(slices.Clone(q.urgent), q.normal...) {
		have[id] = true
	}
	for _, it := range q.later {
		have[it.id] = true
	}
	q.mu.Unlock()
	for _, it := range items {
		if !have[it.id] {
			q.push(it.id, it.urgent, it.at, now)
		}
	}
}
