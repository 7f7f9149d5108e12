package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"mpg/domain"
)

// account holds both what readers see (the embedded Account, guarded by Ledger.viewMu and
// updated only after a commit) and the writer's working copy (w*, writer only).
type account struct {
	domain.Account
	wBal    domain.Balances
	wStatus domain.Status
	wTier   uint8
	wLimit  uint64         // a credit line's limit
	wSpend  []domain.Spend // never changed in place: a change makes a new slice, so readers may share it
	wLast   uint64
	dirty   bool // changed since its last checkpoint record (writer only)
	inBatch bool // changed in the batch being committed (writer only)
	caught  bool // changed by another daemon's entries, read in this batch (writer only)
}

// pendingRec is an open pending transfer.
type pendingRec struct {
	t       domain.Transfer
	expires int64 // unix nanos; 0 never
}

// systemKey names a system account: one per kind and currency.
type systemKey struct {
	kind     domain.Kind
	currency string
}

// state is what the writer owns.
type state struct {
	pending  map[domain.ID]*pendingRec
	system   map[systemKey]uint64 // the float, fees, escrow and clearing account of each currency
	parts    int                  // parts of long messages held
	lastSeq  uint64
	lastHash [32]byte
	lastTS   int64
	nextMsg  uint64
}

// load finds the journal's end, replays the entries after the last complete checkpoint
// round, and loads only the accounts that replay touches. Every other account is read from
// its checkpoint record when it is first used, so opening costs nothing per account.
func (l *Ledger) load() error {
	st := &state{pending: map[domain.ID]*pendingRec{}, system: map[systemKey]uint64{}}
	l.st = st
	return l.view(func(tx Tx) error {
		if err := l.schemaCheck(tx); err != nil {
			return err
		}
		var n uint64
		if k, _ := tx.Bucket(bktAccounts).Cursor().Last(); k != nil {
			n = binary.BigEndian.Uint64(k)
		}
		l.accounts = make([]*account, n+1, n+1+n/8)
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
		asOf := map[uint64]uint64{} // checkpoint position of each account replay loaded
		for k, v := c.Seek(u64key(from)); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			en, err := splitEntry(v)
			if err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
			if err := l.replay(tx, seq, en, asOf, l.markDirty); err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
			st.lastHash, st.lastSeq, st.lastTS = en.hash, seq, en.ts
		}
		if err := l.loadPending(tx); err != nil {
			return err
		}
		if err := l.loadSystem(tx); err != nil {
			return err
		}
		st.parts = keyCount(tx.Bucket(bktParts))
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
		if a != nil {
			a.publish()
		}
	}
	l.visible = uint64(len(l.accounts) - 1)
	l.stats.LastSeq.Store(l.st.lastSeq)
}

// readAccount decodes an account's checkpoint record.
func (l *Ledger) readAccount(tx Tx, id uint64) (*account, uint64, error) {
	v := tx.Bucket(bktAccounts).Get(u64key(id))
	if v == nil {
		return nil, 0, fmt.Errorf("account record %d missing", id)
	}
	a, asOf, err := decodeAccountRecord(v)
	if err != nil || a.ID != id {
		return nil, 0, fmt.Errorf("account record %d unreadable", id)
	}
	l.people.memAccount(tx, &a)
	return &account{Account: a, wBal: a.Balances, wStatus: a.Status, wTier: a.Tier, wLimit: a.Limit, wSpend: a.Spends, wLast: a.LastSeq}, asOf, nil
}

// publish copies the writer's working state into what readers see (under viewMu).
func (a *account) publish() {
	a.Balances, a.Status, a.Tier, a.Limit, a.Spends, a.LastSeq = a.wBal, a.wStatus, a.wTier, a.wLimit, a.wSpend, a.wLast
}

// record is the account as its checkpoint record holds it: the working state.
func (a *account) record() domain.Account {
	rec := a.Account
	rec.Balances, rec.Status, rec.Tier, rec.Limit, rec.Spends, rec.LastSeq = a.wBal, a.wStatus, a.wTier, a.wLimit, a.wSpend, a.wLast
	return rec
}

// install puts a loaded account in the table, where readers find it.
func (l *Ledger) install(a *account) {
	l.viewMu.Lock()
	l.accounts[a.ID] = a
	l.viewMu.Unlock()
}

// replay applies one journal entry to accounts whose checkpoint record is older than it,
// and marks each account it changed.
func (l *Ledger) replay(tx Tx, seq uint64, en entry, asOf map[uint64]uint64, mark func(*account)) error {
	get := func(id uint64) (*account, uint64, error) {
		if id == 0 || id >= uint64(len(l.accounts)) {
			return nil, 0, fmt.Errorf("unknown account %d", id)
		}
		if a := l.accounts[id]; a != nil {
			return a, asOf[id], nil
		}
		a, at, err := l.readAccount(tx, id)
		if err != nil {
			return nil, 0, err
		}
		l.install(a)
		asOf[id] = at
		return a, at, nil
	}
	d := dec{b: en.body}
	switch en.typ {
	case entAccount:
		a := d.accountStatic()
		if d.err != nil {
			return d.err
		}
		// The record is written with the open entry, so it exists and is at least as new.
		if a.ID == 0 || a.ID >= uint64(len(l.accounts)) {
			return fmt.Errorf("account %d opened but has no record", a.ID)
		}
	case entTransfer:
		t := d.transfer()
		if d.err != nil {
			return d.err
		}
		dr, drAt, err := get(t.Debit)
		if err != nil {
			return err
		}
		cr, crAt, err := get(t.Credit)
		if err != nil {
			return err
		}
		if seq > drAt {
			dr.wBal.Debit(&t.Transfer)
			if t.Flags&domain.Counted != 0 {
				if t.Flags&(domain.VoidPending|domain.PostPending) != 0 {
					p, err := l.pendingOf(tx, t.PendingID)
					if err != nil {
						return err
					}
					dr.wSpend = releaseSpend(dr.wSpend, p.Timestamp, released(&t.Transfer, &p), en.ts)
				} else {
					dr.wSpend = domain.AddSpend(dr.wSpend, en.ts, t.Amount, maxSpends)
				}
			}
			dr.wLast = seq
			mark(dr)
		}
		if seq > crAt {
			cr.wBal.Credit(&t.Transfer)
			cr.wLast = seq
			mark(cr)
		}
	case entStatus:
		id := d.u64()
		_ = d.u8()
		s := domain.Status(d.u8())
		if d.err != nil {
			return fmt.Errorf("bad status entry")
		}
		a, at, err := get(id)
		if err != nil {
			return err
		}
		if seq > at {
			a.wStatus = s
			mark(a)
		}
	case entLimit:
		id := d.u64()
		_ = d.u64()
		limit := d.u64()
		if d.err != nil {
			return fmt.Errorf("bad limit entry")
		}
		a, at, err := get(id)
		if err != nil {
			return err
		}
		if seq > at {
			a.wLimit = limit
			mark(a)
		}
	case entTier:
		id := d.u64()
		_ = d.u8()
		tier := d.u8()
		if d.err != nil {
			return fmt.Errorf("bad tier entry")
		}
		a, at, err := get(id)
		if err != nil {
			return err
		}
		if seq > at {
			a.wTier = tier
			mark(a)
		}
	case entAudit, entFact:
	default:
		return fmt.Errorf("unknown entry type %d", en.typ)
	}
	return nil
}

// pendingOf reads the pending transfer a post or void resolved, from the journal.
func (l *Ledger) pendingOf(tx Tx, id domain.ID) (domain.Transfer, error) {
	v := tx.Bucket(bktIDs).Get(id[:])
	if v == nil {
		return domain.Transfer{}, fmt.Errorf("pending transfer %s not in the id index", id)
	}
	return l.readTransfer(tx, be64(v))
}

// ownerIndexKey is the owners bucket key: owner, a zero byte, account id.
func ownerIndexKey(owner string, id uint64) []byte {
	k := make([]byte, 0, len(owner)+9)
	k = append(append(k, owner...), 0)
	return binary.BigEndian.AppendUint64(k, id)
}

// ownedIDs lists an owner's account ids in id order from the owners bucket.
func ownedIDs(tx Tx, owner string) []uint64 {
	prefix := append([]byte(owner), 0)
	var ids []uint64
	c := tx.Bucket(bktOwners).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Next() {
		ids = append(ids, binary.BigEndian.Uint64(k[len(prefix):]))
	}
	return ids
}

func (l *Ledger) markDirty(a *account) { a.dirty = true }

func (l *Ledger) loadPending(tx Tx) error {
	j := tx.Bucket(bktJournal)
	return tx.Bucket(bktPending).ForEach(func(k, _ []byte) error {
		v := j.Get(k)
		en, err := splitEntry(v)
		if err != nil || en.typ != entTransfer {
			return fmt.Errorf("pending record %d: no transfer entry", binary.BigEndian.Uint64(k))
		}
		d := dec{b: en.body}
		t := d.transfer()
		t.Seq, t.Timestamp, t.For = binary.BigEndian.Uint64(k), en.ts, l.people.number(tx, t.For)
		p := &pendingRec{t: t.Transfer}
		if t.Timeout > 0 {
			p.expires = en.ts + int64(t.Timeout)
		}
		l.st.pending[t.ID] = p
		return d.err
	})
}

// loadSystem finds the system accounts by their kind. Their owners all begin with '@'
// (the ledger refuses that prefix for any other kind), so a prefix scan of the owner index
// finds every one of them.
func (l *Ledger) loadSystem(tx Tx) error {
	c := tx.Bucket(bktOwners).Cursor()
	for k, _ := c.Seek([]byte("@")); k != nil && k[0] == '@'; k, _ = c.Next() {
		if len(k) < 9 {
			continue
		}
		id := binary.BigEndian.Uint64(k[len(k)-8:])
		a, _, err := l.readAccount(tx, id)
		if err != nil {
			return err
		}
		key := systemKey{a.Kind, a.Currency}
		if _, dup := l.st.system[key]; domain.IsSystem(a.Kind) && !dup {
			l.st.system[key] = id
		}
	}
	return nil
}

func (l *Ledger) loadOutbox(tx Tx) error {
	if k, _ := tx.Bucket(bktOutbox).Cursor().Last(); k != nil {
		l.st.nextMsg = binary.BigEndian.Uint64(k)
	}
	out := tx.Bucket(bktOutbox)
	now := l.opt.Now().UnixNano()
	return tx.Bucket(bktOutQueue).ForEach(func(k, sender []byte) error {
		if !bytes.Equal(sender, l.self) {
			return nil // another daemon's to send (a shared store): taken over if it dies
		}
		m, err := decodeMessage(out.Get(k))
		if err != nil {
			return fmt.Errorf("outbox message %d: %w", binary.BigEndian.Uint64(k), err)
		}
		l.out.push(m.ID, m.Urgent, m.NextAt, now)
		return nil
	})
}
