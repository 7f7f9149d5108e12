package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"mpg/domain"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// A ledger on a shared store (a PostgreSQL database several daemons write) keeps the same
// memory as one on a file, but trusts it only while it holds the store's writer lock:
//
//   - every batch begins with the lock (the store's Begin takes it), then reads the journal
//     entries other daemons appended since its last batch and applies them to its memory
//     with the replay a file's open uses (follow); every rule then runs on the state all
//     daemons committed, and the journal stays one dense chain;
//   - every batch writes the records of the accounts it changed, so that an account not in
//     memory is always read current from its record (a file checkpoints in rounds instead),
//     and readers are answered from their snapshot's records, as of one commit (read.go);
//   - a batch that fails (the database went away, a serialization failure) leaves no trace
//     in memory: every account is dropped, to be read again from its record, and the batch
//     runs again after a random pause when the store says it may, or its jobs are answered
//     ErrUnavailable; the ledger goes on (a file stops instead);
//   - between batches an idle ledger catches up on its own every RefreshEvery: the next
//     batch has less to follow, and a database that went away is noticed (Err, /readyz).

// ErrUnavailable is returned for jobs the shared store could not commit now (the database
// is unreachable or failing): nothing of them was applied, and the same job may be
// submitted again.
var ErrUnavailable = errors.New("ledger database unavailable")

// daemonSeq tells apart the ledgers one process opens on shared stores (tests, tools).
var daemonSeq atomic.Uint64

// maxBatchTries bounds how often a batch runs again after a retryable failure.
const maxBatchTries = 5

// InitShared writes an empty ledger into a shared store that has none.
func InitShared(s SharedStore) error {
	l := &Ledger{store: s, path: s.Name()}
	var exists bool
	err := l.view(func(tx Tx) error {
		exists = tx.Bucket(bktMeta).Get(keySchema) != nil
		return nil
	})
	if err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("%s already holds a ledger", s.Name())
	}
	return l.initFile()
}

// OpenShared opens the ledger a shared store holds (InitShared made it). Several ledgers,
// in several processes, may have the same store open.
func OpenShared(s SharedStore, opt *Options) (*Ledger, error) {
	o := opt.withDefaults("")
	if o.RefreshEvery <= 0 {
		o.RefreshEvery = 50 * time.Millisecond
	}
	if o.OrphanAfter <= 0 {
		o.OrphanAfter = 15 * time.Second
	}
	if o.Daemon == "" {
		host, _ := os.Hostname()
		o.Daemon = fmt.Sprintf("%s-%d-%d-%04x", host, os.Getpid(), daemonSeq.Add(1), rand.Uint32N(1<<16))
	}
	l := &Ledger{
		store: s, shared: s, path: s.Name(), opt: o, self: []byte(o.Daemon),
		jobs:     make(chan *jobReq, o.QueueLen),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		accounts: []*account{nil},
		out:      newOutQueue(),
	}
	err := l.checkKeysAtOpen(o.KeyChecks)
	if err == nil {
		err = l.openPeople()
	}
	if err == nil {
		err = l.load()
	}
	var w *batchWriter
	if err == nil {
		w, err = l.settle()
	}
	if err != nil {
		return nil, err
	}
	go l.writer(w)
	return l, nil
}

// settle runs the first batch before the ledger takes work: it writes the record of every
// account the open replayed, so that the store's records are current before anything reads
// them. A database written by daemons always is; books copied from a file may not be (a
// file writes its records in rounds, and its journal's end may be ahead of them).
func (l *Ledger) settle() (*batchWriter, error) {
	w := l.newBatchWriter()
	for _, a := range l.accounts {
		if a != nil && a.dirty {
			w.touch(a)
		}
	}
	w.commit(nil)
	if err := l.Err(); err != nil {
		return nil, err
	}
	return w, nil
}

// Daemon is this daemon's name among those sharing a store ("" on a file).
func (l *Ledger) Daemon() string { return string(l.self) }

// batchStart is the writer's memory as the last committed batch left it.
type batchStart struct {
	accounts int
	seq      uint64
	hash     [32]byte
	ts       int64
	nextMsg  uint64
}

func (w *batchWriter) markStart() {
	st := w.l.st
	w.start = batchStart{len(w.l.accounts), st.lastSeq, st.lastHash, st.lastTS, st.nextMsg}
}

// forget takes back from memory what a failed batch (or catch-up) did: every account in
// memory is dropped, to be read again from its record, and the journal position goes back
// to where the batch began. All of them, not only those the batch changed: one the
// catch-up loaded from a record newer than that position would otherwise be moved again
// by the next catch-up (a record read later is checked against its own position instead).
func (w *batchWriter) forget() {
	l, st := w.l, w.l.st
	for _, list := range [][]*account{w.touched, w.caught} {
		for _, a := range list {
			a.inBatch, a.caught = false, false
		}
	}
	l.viewMu.Lock()
	clear(l.accounts)
	l.accounts = l.accounts[:w.start.accounts]
	l.viewMu.Unlock()
	w.touched, w.caught, w.outIDs, w.found = w.touched[:0], w.caught[:0], w.outIDs[:0], w.found[:0]
	l.forgetOwners(w.ownersChanged)
	w.ownersChanged = w.ownersChanged[:0]
	st.lastSeq, st.lastHash, st.lastTS, st.nextMsg = w.start.seq, w.start.hash, w.start.ts, w.start.nextMsg
	w.rescan = true  // replies it committed, if its commit did land, are found again
	l.people.reset() // parties made by the batch are not in the store
	l.people.unerase(w.erased)
	w.erased = w.erased[:0]
	w.stale = true // open pending transfers and system accounts are read again
}

// retry runs a failed batch again on a shared store while the store says it may.
func (w *batchWriter) retry(reqs []*jobReq, err error) error {
	for try := 1; err != nil; try++ {
		w.forget()
		if !w.l.shared.Retryable(err) || try >= maxBatchTries {
			return err
		}
		time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) << try)))
		err = w.attempt(reqs)
	}
	return nil
}

// unavailable answers the jobs of a batch the shared store could not commit.
func (w *batchWriter) unavailable(reqs []*jobReq, cause error) {
	err := fmt.Errorf("%w: %v", ErrUnavailable, cause)
	w.l.degraded.Store(&err)
	for _, r := range reqs {
		r.res, r.err = domain.Result{}, err
		close(r.done)
	}
}

// catchUp applies to memory the journal entries committed after the writer's position.
func (w *batchWriter) catchUp(tx Tx) error {
	l, st := w.l, w.l.st
	if w.stale {
		clear(st.pending)
		if err := l.loadPending(tx); err != nil {
			return err
		}
		l.viewMu.Lock() // System reads the map
		clear(st.system)
		err := l.loadSystem(tx)
		l.viewMu.Unlock()
		if err != nil {
			return err
		}
		w.stale = false
	}
	asOf := map[uint64]uint64{}
	c := tx.Bucket(bktJournal).Cursor()
	for k, v := c.Seek(u64key(st.lastSeq + 1)); k != nil; k, v = c.Next() {
		seq := be64(k)
		if seq != st.lastSeq+1 {
			return fmt.Errorf("journal entry %d follows entry %d", seq, st.lastSeq)
		}
		en, err := splitEntry(v)
		if err != nil {
			return fmt.Errorf("journal entry %d: %w", seq, err)
		}
		if err := w.follow(tx, seq, en, asOf); err != nil {
			return fmt.Errorf("journal entry %d: %w", seq, err)
		}
		st.lastHash, st.lastSeq, st.lastTS = en.hash, seq, en.ts
	}
	if next := w.lastMessage(tx); next > st.nextMsg {
		st.nextMsg = next
	}
	if w.rescan {
		if err := w.findOwnReplies(tx); err != nil {
			return err
		}
	}
	return tx.Err()
}

// findOwnReplies looks, after a failed batch, for the replies still to send that this
// daemon owns: a commit whose answer was lost may have landed, and nobody else sends them.
// They are scheduled once the batch is committed, unless they are already.
func (w *batchWriter) findOwnReplies(tx Tx) error {
	q, box := tx.Bucket(bktOutQueue), tx.Bucket(bktOutbox)
	c := q.Cursor()
	n := 0
	for k, v := c.First(); k != nil && n < maxAdoptPerCommit; k, v = c.Next() {
		n++
		if !bytes.Equal(v, w.l.self) {
			continue
		}
		m, err := decodeMessage(box.Get(k))
		if err != nil {
			return fmt.Errorf("outbox message %d: %w", be64(k), err)
		}
		w.found = append(w.found, laterItem{id: m.ID, urgent: m.Urgent, at: m.NextAt})
	}
	return nil
}

// keyNextMessage holds the last outbox id a daemon gave on a shared store, so that the
// others' next ids follow it (a reply need not come with a journal entry).
var keyNextMessage = []byte("last message")

// lastMessage is the last outbox id given, as the meta bucket says, or (books moved from a
// file, before any daemon wrote it) as the outbox's last key.
func (w *batchWriter) lastMessage(tx Tx) uint64 {
	if v := tx.Bucket(bktMeta).Get(keyNextMessage); len(v) == 8 {
		return be64(v)
	}
	if k, _ := tx.Bucket(bktOutbox).Cursor().Last(); k != nil {
		return be64(k)
	}
	return 0
}

// follow applies one entry another daemon committed.
func (w *batchWriter) follow(tx Tx, seq uint64, en entry, asOf map[uint64]uint64) error {
	l, st := w.l, w.l.st
	d := dec{b: en.body}
	switch en.typ {
	case entAccount:
		a := d.accountStatic()
		if d.err != nil {
			return d.err
		}
		l.grow(a.ID)
		if a.Owner != "" {
			w.ownersChanged = append(w.ownersChanged, a.Owner)
		}
		if key := (systemKey{a.Kind, a.Currency}); domain.IsSystem(a.Kind) {
			l.viewMu.Lock()
			if st.system[key] == 0 {
				st.system[key] = a.ID
			}
			l.viewMu.Unlock()
		}
	case entAudit:
		return w.followErasure(tx, &d)
	}
	if err := l.replay(tx, seq, en, asOf, w.caughtUp); err != nil {
		return err
	}
	if en.typ == entTransfer {
		t := d.transfer()
		if d.err != nil {
			return d.err
		}
		switch {
		case t.Flags&domain.Pending != 0:
			t.Seq, t.Timestamp, t.For = seq, en.ts, l.people.number(tx, t.For)
			p := &pendingRec{t: t.Transfer}
			if t.Timeout > 0 {
				p.expires = en.ts + int64(t.Timeout)
			}
			st.pending[t.ID] = p
		case t.Flags&(domain.PostPending|domain.VoidPending) != 0:
			delete(st.pending, t.PendingID)
		}
	}
	return nil
}

// caughtUp notes an account catch-up changed, to publish with the batch.
func (w *batchWriter) caughtUp(a *account) {
	if !a.caught && !a.inBatch {
		a.caught = true
		w.caught = append(w.caught, a)
	}
}

// grow makes room in the account table up to id (an account another daemon opened).
func (l *Ledger) grow(id uint64) {
	if id < uint64(len(l.accounts)) {
		return
	}
	l.viewMu.Lock()
	for uint64(len(l.accounts)) <= id {
		l.accounts = append(l.accounts, nil)
	}
	l.viewMu.Unlock()
}

// followErasure forgets in memory a party another daemon erased: the audit entry of an
// erasure names the party first, and the store no longer has its key.
func (w *batchWriter) followErasure(tx Tx, d *dec) error {
	_, _, detail := d.str(), d.str(), d.str()
	if d.err != nil {
		return fmt.Errorf("bad audit entry")
	}
	party, _, _ := strings.Cut(detail, " ")
	if !IsParty(party) || tx.Bucket(bktPartyKeys).Get([]byte(party)) != nil {
		return nil
	}
	l := w.l
	l.people.evict(party)
	holds := tx.Bucket(bktHolds).Cursor()
	prefix := append([]byte(party), 0)
	for k, _ := holds.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = holds.Next() {
		seq := be64(k[len(prefix):])
		for _, p := range l.st.pending {
			if p.t.Seq == seq {
				p.t.For = party
			}
		}
	}
	for _, id := range ownedIDs(tx, party) {
		if id < uint64(len(l.accounts)) && l.accounts[id] != nil {
			a := l.accounts[id]
			l.viewMu.Lock()
			a.Owner, a.Name = party, ""
			l.viewMu.Unlock()
		}
	}
	return nil
}

// refresh catches an idle writer up with what other daemons committed, and says whether the
// store can be reached (Err).
func (w *batchWriter) refresh() {
	l := w.l
	tx, err := l.store.Begin(false)
	if err == nil {
		w.markStart()
		err = w.catchUp(tx)
		tx.Rollback()
		if err != nil {
			w.forget()
		}
	}
	if err != nil {
		err = fmt.Errorf("%w: %v", ErrUnavailable, err)
		l.degraded.Store(&err)
		return
	}
	l.degraded.Store(nil)
	w.publish()
}

// writeTouched writes the record of every account the batch changed, so that the store
// always holds each account as of the last batch that changed it.
func (w *batchWriter) writeTouched() error {
	b := w.tx.Bucket(bktAccounts)
	for _, a := range w.touched {
		a.dirty = false
		if err := w.putAccount(b, a); err != nil {
			return err
		}
	}
	if st := w.l.st; st.nextMsg != w.start.nextMsg {
		if err := w.tx.Bucket(bktMeta).Put(keyNextMessage, u64key(st.nextMsg)); err != nil {
			return err
		}
	}
	if w.final {
		// Stopping: a beat at time zero says so, and the replies left queued are taken over
		// by another daemon at its next sweep (a CLI that opened the database, a daemon
		// stopped for good).
		if err := w.tx.Bucket(bktMeta).Put(append([]byte(keyDaemonPrefix), w.l.self...), u64key(0)); err != nil {
			return err
		}
	} else if err := w.beat(); err != nil {
		return err
	}
	return w.l.setReplayFrom(w.tx, w.l.st.lastSeq+1)
}

// keyDaemonPrefix begins the meta keys of the daemons sharing a store: each holds the time
// of the daemon's last batch (by its clock).
const keyDaemonPrefix = "daemon "

// beat records that this daemon is alive, at most once a second.
func (w *batchWriter) beat() error {
	now := w.l.opt.Now().UnixNano()
	if now-w.lastBeat < int64(time.Second) {
		return nil
	}
	w.lastBeat = now
	return w.tx.Bucket(bktMeta).Put(append([]byte(keyDaemonPrefix), w.l.self...), u64key(uint64(now)))
}

// maxAdoptPerCommit bounds the outbox entries one commit looks at for orphans.
const maxAdoptPerCommit = 20000

// adoptOrphans takes over the replies still to send of daemons silent for OrphanAfter (or
// of none: books moved from a file): they
// are this daemon's to send from the commit on (at least once: a daemon that was only
// paused sends nothing more once it sees the entry is no longer its own). A dead daemon
// with nothing left is forgotten.
func (w *batchWriter) adoptOrphans(now int64) error {
	l := w.l
	meta := w.tx.Bucket(bktMeta)
	alive, dead := map[string]bool{string(l.self): true}, map[string]bool{}
	c := meta.Cursor()
	prefix := []byte(keyDaemonPrefix)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		name := string(k[len(prefix):])
		if len(v) == 8 && now-int64(be64(v)) <= int64(l.opt.OrphanAfter) {
			alive[name] = true
		} else if name != string(l.self) {
			dead[name] = true
		}
	}
	// Entries of a daemon that no longer beats at all (forgotten, or books moved from a
	// file) are looked for every OrphanAfter.
	if len(dead) == 0 && now-w.lastAdopt < int64(l.opt.OrphanAfter) {
		return nil
	}
	w.lastAdopt = now
	q, box := w.tx.Bucket(bktOutQueue), w.tx.Bucket(bktOutbox)
	var adopt [][]byte
	n := 0
	qc := q.Cursor()
	// A walk longer than one commit's share goes on where the last one stopped.
	k, v := qc.First()
	if w.adoptFrom != nil {
		k, v = qc.Seek(w.adoptFrom)
	}
	for ; k != nil && n < maxAdoptPerCommit; k, v = qc.Next() {
		n++
		if !alive[string(v)] {
			adopt = append(adopt, bytes.Clone(k))
		}
	}
	resumed := w.adoptFrom != nil
	w.adoptFrom = nil
	if k != nil {
		w.adoptFrom = bytes.Clone(k)
	}
	for _, k := range adopt {
		m, err := decodeMessage(box.Get(k))
		if err != nil {
			return fmt.Errorf("outbox message %d: %w", be64(k), err)
		}
		if err := q.Put(k, l.self); err != nil {
			return err
		}
		w.outIDs = append(w.outIDs, laterItem{id: m.ID, urgent: m.Urgent, at: m.NextAt})
	}
	if w.adoptFrom != nil || resumed {
		// More to look at (the next commit goes on), or a walk that did not begin at the
		// first entry: the dead are forgotten after a whole walk in one commit.
		w.expireDue = w.adoptFrom != nil
		w.lastAdopt = 0
		return nil
	}
	for name := range dead {
		if err := meta.Delete(append([]byte(keyDaemonPrefix), name...)); err != nil {
			return err
		}
	}
	return nil
}
