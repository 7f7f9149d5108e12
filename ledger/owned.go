package ledger

import (
	"slices"
	"sync"
)

// The accounts an owner has change only when one is opened for him, and every daemon sees
// that (its own opens, and the journal's account entries of the others'), so readers keep
// what they found: an SMS reads its sender's and its merchant's accounts without a round
// trip to a database. An open forgets the owner's entry once it is committed; a reader
// that read before the open keeps nothing (the epoch moved meanwhile).

// maxOwnedCache bounds the owners kept.
const maxOwnedCache = 100000

type ownedCache struct {
	mu    sync.Mutex
	ids   map[string][]uint64 // by the owner's key in the books (a party id, a merchant code)
	epoch uint64              // moves at every forget
}

// ownedEpoch is the cache's epoch, taken by a reader before its transaction reads anything:
// what that transaction finds is kept only if no open was committed since.
func (l *Ledger) ownedEpoch() uint64 {
	l.owned.mu.Lock()
	defer l.owned.mu.Unlock()
	return l.owned.epoch
}

// ownedIDsOf is ownedIDs, kept for the next reader if the epoch taken before tx began
// still holds.
func (l *Ledger) ownedIDsOf(tx Tx, owner string, epoch uint64) []uint64 {
	c := &l.owned
	c.mu.Lock()
	if ids, ok := c.ids[owner]; ok {
		c.mu.Unlock()
		return slices.Clone(ids)
	}
	c.mu.Unlock()
	ids := ownedIDs(tx, owner)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch == epoch {
		if c.ids == nil || len(c.ids) >= maxOwnedCache {
			c.ids = map[string][]uint64{}
		}
		c.ids[owner] = slices.Clone(ids)
	}
	return ids
}

// forgetOwners drops what readers kept of owners whose accounts changed.
func (l *Ledger) forgetOwners(owners []string) {
	if len(owners) == 0 {
		return
	}
	c := &l.owned
	c.mu.Lock()
	c.epoch++
	for _, o := range owners {
		delete(c.ids, o)
	}
	c.mu.Unlock()
}
