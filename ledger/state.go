package ledger

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"runtime/debug"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// account holds both what readers see (the embedded Account, guarded by Ledger.viewMu and
// updated only after a commit) and the writer's working copy (w*, writer only).
type account struct {
	Account
	wBal    Balances
	wStatus Status
	wLast   uint64
	dirty   bool // changed since its last checkpoint record (writer only)
	// prevOwned is the previous account with the same owner key (0: none): the owner index
	// keeps only the newest id per key, which costs no allocation per account.
	prevOwned uint64
	inBatch   bool // changed in the batch being committed (writer only)
}

// pendingRec is an open pending transfer.
type pendingRec struct {
	t       Transfer
	expires int64 // unix nanos; 0 never
}

type dedupeRec struct {
	expires int64
	dbKey   []byte
	result  []byte
}

// state is what the writer owns.
type state struct {
	pending  map[ID]*pendingRec
	dedupe   map[string]*dedupeRec
	lastSeq  uint64
	lastHash [32]byte
	lastTS   int64
	nextMsg  uint64
}

// load reads the checkpoint and replays the journal after it.
func (l *Ledger) load() error {
	st := &state{pending: map[ID]*pendingRec{}, dedupe: map[string]*dedupeRec{}}
	l.st = st
	// Loading builds a large heap from nothing; collecting while it grows only rescans what
	// is being built. One collection after is enough.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	return l.db.View(func(tx *bolt.Tx) error {
		if err := l.schemaCheck(tx); err != nil {
			return err
		}
		// Size everything once from the highest account id; accounts come in slabs.
		var n uint64
		if k, _ := tx.Bucket(bktAccounts).Cursor().Last(); k != nil {
			n = binary.BigEndian.Uint64(k)
		}
		asOf := make([]uint64, 1, n+1)
		l.accounts = slices.Grow(l.accounts, int(n))
		l.owners = make(map[uint64]uint64, n)
		slab := make([]account, n)
		err := tx.Bucket(bktAccounts).ForEach(func(k, v []byte) error {
			a, at, err := decodeAccountRecord(v)
			if err != nil || a.ID != uint64(len(l.accounts)) || a.ID > n {
				return fmt.Errorf("account record %d: unreadable or out of order", binary.BigEndian.Uint64(k))
			}
			acc := &slab[a.ID-1]
			*acc = account{Account: a, wBal: a.Balances, wStatus: a.Status, wLast: a.LastSeq}
			l.addAccount(acc)
			asOf = append(asOf, at)
			return nil
		})
		if err != nil {
			return err
		}
		from := binary.BigEndian.Uint64(tx.Bucket(bktMeta).Get(keyReplayFrom))
		c := tx.Bucket(bktJournal).Cursor()
		// The chain continues from the entry before the replay point.
		if k, v := c.Seek(u64key(from - 1)); k != nil && from > 1 {
			en, err := splitEntry(v)
			if err != nil {
				return err
			}
			st.lastHash, st.lastSeq, st.lastTS = en.hash, binary.BigEndian.Uint64(k), en.ts
		}
		for k, v := c.Seek(u64key(from)); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			en, err := splitEntry(v)
			if err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
			if err := l.replay(seq, en, &asOf); err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
			st.lastHash, st.lastSeq, st.lastTS = en.hash, seq, en.ts
		}
		if err := l.loadPending(tx); err != nil {
			return err
		}
		if err := l.loadDedupe(tx); err != nil {
			return err
		}
		if err := l.loadOutbox(tx); err != nil {
			return err
		}
		l.publishAll()
		return nil
	})
}

// publishAll makes the loaded state the committed view.
func (l *Ledger) publishAll() {
	l.viewMu.Lock()
	defer l.viewMu.Unlock()
	for _, a := range l.accounts[1:] {
		a.Balances, a.Status, a.LastSeq = a.wBal, a.wStatus, a.wLast
	}
	l.visible = uint64(len(l.accounts) - 1)
	l.stats.LastSeq.Store(l.st.lastSeq)
}

// replay applies one journal entry to accounts whose checkpoint is older than it.
func (l *Ledger) replay(seq uint64, en entry, asOf *[]uint64) error {
	d := dec{b: en.body}
	switch en.typ {
	case entAccount:
		a := d.accountStatic()
		if d.err != nil {
			return d.err
		}
		if a.ID < uint64(len(l.accounts)) {
			return nil // already in the checkpoint
		}
		if a.ID != uint64(len(l.accounts)) {
			return fmt.Errorf("account %d opened out of order", a.ID)
		}
		a.Status = StatusActive
		a.LastSeq = seq
		acc := &account{Account: a, wStatus: StatusActive, wLast: seq}
		l.addAccount(acc)
		*asOf = append(*asOf, seq)
		l.markDirty(acc)
	case entTransfer:
		t := d.transfer()
		if d.err != nil {
			return d.err
		}
		for _, id := range []uint64{t.Debit, t.Credit} {
			if id == 0 || id >= uint64(len(l.accounts)) {
				return fmt.Errorf("transfer %s names unknown account %d", t.ID, id)
			}
		}
		dr, cr := l.accounts[t.Debit], l.accounts[t.Credit]
		if seq > (*asOf)[t.Debit] {
			applyDebit(&dr.wBal, &t.Transfer)
			dr.wLast = seq
			l.markDirty(dr)
		}
		if seq > (*asOf)[t.Credit] {
			applyCredit(&cr.wBal, &t.Transfer)
			cr.wLast = seq
			l.markDirty(cr)
		}
	case entStatus:
		id := d.u64()
		_ = d.u8()
		s := Status(d.u8())
		if d.err != nil || id == 0 || id >= uint64(len(l.accounts)) {
			return fmt.Errorf("bad status entry")
		}
		if seq > (*asOf)[id] {
			l.accounts[id].wStatus = s
			l.markDirty(l.accounts[id])
		}
	case entAudit:
	default:
		return fmt.Errorf("unknown entry type %d", en.typ)
	}
	return nil
}

// The balance effect of a transfer, shared by the writer, replay and Verify so that all
// three agree by construction. Overflow was checked when the transfer was accepted.
func applyDebit(b *Balances, t *Transfer) {
	switch {
	case t.Flags&Pending != 0:
		b.DebitsPending += t.Amount
	case t.Flags&(PostPending|VoidPending) != 0:
		b.DebitsPending -= t.PendingAmount
		b.DebitsPosted += t.Amount
	default:
		b.DebitsPosted += t.Amount
	}
}

func applyCredit(b *Balances, t *Transfer) {
	switch {
	case t.Flags&Pending != 0:
		b.CreditsPending += t.Amount
	case t.Flags&(PostPending|VoidPending) != 0:
		b.CreditsPending -= t.PendingAmount
		b.CreditsPosted += t.Amount
	default:
		b.CreditsPosted += t.Amount
	}
}

func (l *Ledger) addAccount(a *account) {
	l.viewMu.Lock()
	l.accounts = append(l.accounts, a)
	if a.Owner != "" {
		k := ownerKey(a.Owner)
		a.prevOwned = l.owners[k]
		l.owners[k] = a.ID
	}
	l.viewMu.Unlock()
}

var ownerSeed = maphash.MakeSeed()

// ownerKey is the owner index's key: a hash, so the index holds no strings. Owners whose
// hashes collide share one chain, and owned filters by the owner itself.
func ownerKey(owner string) uint64 { return maphash.String(ownerSeed, owner) }

// owned lists an owner's account ids, oldest first. Callers hold viewMu or are the writer.
func (l *Ledger) owned(owner string) []uint64 {
	var ids []uint64
	for id := l.owners[ownerKey(owner)]; id != 0; id = l.accounts[id].prevOwned {
		if l.accounts[id].Owner == owner {
			ids = append(ids, id)
		}
	}
	slices.Reverse(ids)
	return ids
}

func (l *Ledger) markDirty(a *account) { a.dirty = true }

func (l *Ledger) loadPending(tx *bolt.Tx) error {
	j := tx.Bucket(bktJournal)
	return tx.Bucket(bktPending).ForEach(func(k, _ []byte) error {
		v := j.Get(k)
		en, err := splitEntry(v)
		if err != nil || en.typ != entTransfer {
			return fmt.Errorf("pending record %d: no transfer entry", binary.BigEndian.Uint64(k))
		}
		d := dec{b: en.body}
		t := d.transfer()
		t.Seq, t.Timestamp = binary.BigEndian.Uint64(k), en.ts
		p := &pendingRec{t: t.Transfer}
		if t.Timeout > 0 {
			p.expires = en.ts + int64(t.Timeout)
		}
		l.st.pending[t.ID] = p
		return d.err
	})
}

func (l *Ledger) loadDedupe(tx *bolt.Tx) error {
	return tx.Bucket(bktDedupe).ForEach(func(k, v []byte) error {
		d := dec{b: v}
		key := d.str()
		res := d.take(len(d.b))
		if d.err != nil {
			return fmt.Errorf("dedupe record: %w", d.err)
		}
		l.st.dedupe[key] = &dedupeRec{
			expires: int64(binary.BigEndian.Uint64(k[:8])),
			dbKey:   append([]byte(nil), k...),
			result:  append([]byte(nil), res...),
		}
		return nil
	})
}

func (l *Ledger) loadOutbox(tx *bolt.Tx) error {
	if k, _ := tx.Bucket(bktOutbox).Cursor().Last(); k != nil {
		l.st.nextMsg = binary.BigEndian.Uint64(k)
	}
	return tx.Bucket(bktOutQueue).ForEach(func(k, _ []byte) error {
		l.outQueue = append(l.outQueue, binary.BigEndian.Uint64(k))
		return nil
	})
}
