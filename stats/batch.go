package stats

import (
	"cmp"
	"slices"

	"mpg/domain"
)

// Batch gathers the facts of one pass of the follower as a delta per key, so that the pass
// writes one record per touched key whatever the number of facts.
type Batch struct {
	Cells map[Key]Cell
}

// NewBatch is an empty batch.
func NewBatch() *Batch { return &Batch{Cells: make(map[Key]Cell)} }

// Add folds a fact made at t (unix nanoseconds) into the batch. A fact no cell counts
// touches no key.
func (b *Batch) Add(f domain.Fact, t int64) {
	if !Counts(f) {
		return
	}
	if b.Cells == nil {
		b.Cells = make(map[Key]Cell)
	}
	k := KeyOf(f, t)
	c := b.Cells[k]
	Fold(&c, f)
	b.Cells[k] = c
}

// Keys are the touched keys, in order (hour, product, channel, merchant), so that records
// are written in a deterministic order.
func (b *Batch) Keys() []Key {
	keys := make([]Key, 0, len(b.Cells))
	for k := range b.Cells {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, CompareKeys)
	return keys
}

// CompareKeys orders keys by hour, product, channel, merchant.
func CompareKeys(a, b Key) int {
	return cmp.Or(cmp.Compare(a.Hour, b.Hour), cmp.Compare(a.Product, b.Product),
		cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Merchant, b.Merchant))
}

// Merge adds a batch's delta for one key to the cell stored for it.
func Merge(stored *Cell, delta Cell) { stored.Add(delta) }

// Recount folds a whole journal from scratch: the cells a follower that never stopped
// would have written. Entries other than facts are skipped.
func Recount(entries []domain.JournalEntry) map[Key]Cell {
	b := NewBatch()
	for _, e := range entries {
		if e.Fact != nil {
			b.Add(*e.Fact, e.Time)
		}
	}
	return b.Cells
}
