package ledger

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"mpg/domain"
	"time"
)

// jobReq is one request to the writer: a job, or an outbox status update.
type jobReq struct {
	job  *domain.Job
	upd  *msgUpdate
	meta []metaPut // written with the job, if it is applied (RotateKeys)
	// erase is a party erased before the job (its audit entry) is applied (Erase).
	erase string
	res   domain.Result
	err   error
	done  chan struct{}
}

// Submit queues a job and waits until it is durable (nil error) or refused. A refused job
// changed nothing. If ctx ends while the job waits in the queue, Submit returns ctx.Err()
// and the job may still be applied later: callers that must know use transfer ids (an
// idempotent retry tells) or a dedupe key.
func (l *Ledger) Submit(ctx context.Context, job domain.Job) (domain.Result, error) {
	r := &jobReq{job: &job, done: make(chan struct{})}
	if err := l.enqueue(ctx, r); err != nil {
		return domain.Result{}, err
	}
	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
		return domain.Result{}, ctx.Err()
	}
}

func (l *Ledger) enqueue(ctx context.Context, r *jobReq) error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	l.closeMu.Lock()
	closed := l.closed
	l.closeMu.Unlock()
	if closed {
		return ErrClosed
	}
	select {
	case l.jobs <- r:
		return nil
	case <-l.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newBatchWriter is the writer's machinery, before its first commit.
func (l *Ledger) newBatchWriter() *batchWriter {
	w := &batchWriter{l: l, lastRound: time.Now()}
	w.expireDue = true
	return w
}

// writer is the one goroutine that changes the ledger.
func (l *Ledger) writer(w *batchWriter) {
	defer close(l.done)
	expiry := time.NewTicker(l.opt.ExpiryEvery)
	defer expiry.Stop()
	var refresh <-chan time.Time // an idle ledger on a shared store reads the others' commits
	if l.shared != nil {
		t := time.NewTicker(l.opt.RefreshEvery)
		defer t.Stop()
		refresh = t.C
	}
	w.commit(nil) // the expiry scan at start (on a shared store, OpenShared made it)
	reqs := make([]*jobReq, 0, l.opt.MaxBatchJobs)
	for {
		reqs = reqs[:0]
		select {
		case r := <-l.jobs:
			reqs = append(reqs, r)
		case <-expiry.C:
			w.expireDue = true
		case <-refresh:
			w.refresh()
			continue
		case <-l.closing:
			// Finish what is queued, then write a full checkpoint so the next open replays nothing.
			for {
				select {
				case r := <-l.jobs:
					reqs = append(reqs, r)
					if len(reqs) < l.opt.MaxBatchJobs {
						continue
					}
					w.commit(reqs)
					reqs = reqs[:0]
					continue
				default:
				}
				break
			}
			w.final = true
			w.commit(reqs)
			return
		}
		reqs = l.gather(reqs)
		w.commit(reqs)
	}
}

// gather adds queued jobs to the batch: all that are waiting, then more for up to
// MaxBatchWait, never more than MaxBatchJobs.
func (l *Ledger) gather(reqs []*jobReq) []*jobReq {
	var deadline <-chan time.Time
	for len(reqs) < l.opt.MaxBatchJobs {
		select {
		case r := <-l.jobs:
			reqs = append(reqs, r)
			continue
		default:
		}
		if len(reqs) == 0 {
			return reqs
		}
		if deadline == nil {
			t := time.NewTimer(l.opt.MaxBatchWait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case r := <-l.jobs:
			reqs = append(reqs, r)
		case <-deadline:
			return reqs
		}
	}
	return reqs
}

// batchWriter holds the writer's per-commit machinery.
type batchWriter struct {
	l             *Ledger
	tx            Tx
	touched       []*account
	ids           map[domain.ID]domain.Transfer // transfers of this batch, for idempotency inside it
	outIDs        []laterItem                   // messages committed in this batch, for the sender once published
	expireDue     bool
	final         bool
	dedupeN       uint32 // makes dedupe record keys unique among jobs with the same position and time
	lastPartSweep int64
	lastPrune     int64
	ioErr         error // a bbolt write failed while applying: the batch cannot commit
	ja            jobApply
	scratch       []byte
	// arena holds the keys and values of the batch's puts: bbolt keeps them until the
	// commit, after which the memory is reused for the next batch.
	arena     [][]byte
	arenaUsed int

	// On a shared store (shared.go): memory as the batch found it, the accounts other
	// daemons' entries changed, and whether the maps must be read again after a failure.
	start  batchStart
	caught []*account
	stale  bool
	// lastBeat is when this daemon last recorded that it is alive (unix nanos).
	// ownersChanged are the owners (their keys in the books) the batch opened accounts for:
	// what readers kept of them is forgotten once the batch is committed (owned.go).
	ownersChanged []string
	lastBeat      int64
	lastAdopt     int64 // when the outbox was last looked at for orphans
	// erased are the parties the batch erased, until it is committed.
	erased []string
	// rescan: a batch failed, and the next looks for this daemon's replies in the books
	// (found), which the sender may not have (shared.go).
	rescan bool
	// adoptFrom is where the walk for orphaned replies goes on (nil: from the first).
	adoptFrom []byte
	found     []laterItem
	// prefetchKeys is the batch's keys to read ahead (prefetch.go), reused.
	prefetchKeys []KeyRef

	roundNext  uint64 // next account id the checkpoint round looks at; 0: no round running
	roundStart uint64 // journal position the round started at
	lastRound  time.Time
}

func (w *batchWriter) commit(reqs []*jobReq) {
	l := w.l
	if p := l.failed.Load(); p != nil {
		for _, r := range reqs {
			r.err = *p
			close(r.done)
		}
		return
	}
	if len(reqs) == 0 && !w.expireDue && !w.final {
		return
	}
	err := w.attempt(reqs)
	if err != nil && l.shared != nil {
		if err = w.retry(reqs, err); err != nil {
			w.unavailable(reqs, err)
			return
		}
	}
	if err != nil {
		w.fail(reqs, err)
		return
	}
	l.degraded.Store(nil)
	l.stats.Commits.Add(1)
	w.publish()
	for _, r := range reqs {
		if r.err != nil {
			l.stats.Refused.Add(1)
		} else if r.job != nil {
			l.stats.Jobs.Add(1)
			l.stats.Transfers.Add(uint64(len(r.res.Transfers)))
		}
		close(r.done)
	}
}

// attempt applies a batch in one transaction and commits it. On a shared store it first
// catches up with what other daemons committed.
func (w *batchWriter) attempt(reqs []*jobReq) (err error) {
	l := w.l
	tx, err := l.store.Begin(true)
	if err != nil {
		return err
	}
	w.tx = tx
	defer w.endTx()
	// Keys that only grow fill their pages; bbolt's default half-fills on every split.
	for _, name := range [][]byte{bktJournal, bktOutbox, bktOutQueue, bktDedupe, bktPending, bktAccounts, bktIDs, bktHolds} {
		if b, ok := tx.Bucket(name).(boltBucket); ok {
			b.b.FillPercent = 1.0
		}
	}
	if w.ids == nil {
		w.ids = make(map[domain.ID]domain.Transfer, 1024)
	}
	w.markStart()
	w.prefetch(reqs)
	if l.shared != nil {
		if err := w.catchUp(tx); err != nil {
			tx.Rollback()
			return err
		}
	}
	// Expiry first: a post that arrives after its pending transfer timed out must not win.
	if w.expireDue {
		w.expireDue = false
		defer func() {
			if err != nil {
				w.expireDue = true // a batch run again expires first again
			}
		}()
		err = w.expire()
	}
	for _, r := range reqs {
		r.res, r.err = domain.Result{}, nil
		if r.upd != nil {
			r.err = w.applyUpdate(r.upd)
			continue
		}
		if r.erase != "" {
			if r.err = w.erase(r.erase); r.err != nil {
				w.ioErr = r.err
				continue
			}
		}
		r.res, r.err = w.apply(r.job)
		if r.err == nil && len(r.meta) > 0 {
			w.putMeta(r.meta)
		}
	}
	err = cmp.Or(err, w.ioErr, tx.Err())
	if err == nil && l.shared != nil {
		err = w.writeTouched()
	} else if err == nil {
		err = w.checkpoint()
	}
	if err == nil && l.opt.CommitFault != nil {
		err = l.opt.CommitFault()
	}
	if err == nil {
		return tx.Commit()
	}
	tx.Rollback()
	return err
}

// endTx forgets the batch's transaction and what lived only as long as it.
func (w *batchWriter) endTx() {
	w.tx, w.ioErr = nil, nil
	clear(w.ids)
	w.resetArena()
}

// fail stops the ledger: memory may now be ahead of the file, so nothing more is accepted
// until the file is reopened (which rebuilds memory from the file).
func (w *batchWriter) fail(reqs []*jobReq, cause error) {
	err := fmt.Errorf("%w: %v", ErrFailed, cause)
	w.l.failed.Store(&err)
	for _, r := range reqs {
		r.err = err
		close(r.done)
	}
}

// publish makes the batch visible to readers and to the outbox sender.
func (w *batchWriter) publish() {
	l := w.l
	l.viewMu.Lock()
	for _, a := range w.touched {
		a.publish()
		a.inBatch = false
	}
	for _, a := range w.caught {
		a.publish()
		a.caught = false
	}
	w.caught = w.caught[:0]
	l.visible = uint64(len(l.accounts) - 1)
	l.stats.LastSeq.Store(l.st.lastSeq) // under viewMu: readers pair it with the balances
	l.viewMu.Unlock()
	w.touched = w.touched[:0]
	w.erased = w.erased[:0]
	if w.rescan {
		l.out.pushMissing(w.found, l.opt.Now().UnixNano())
		w.rescan, w.found = false, w.found[:0]
	}
	l.forgetOwners(w.ownersChanged)
	w.ownersChanged = w.ownersChanged[:0]
	if len(w.outIDs) > 0 {
		now := l.opt.Now().UnixNano()
		for _, it := range w.outIDs {
			l.out.push(it.id, it.urgent, it.at, now)
		}
		w.outIDs = w.outIDs[:0]
	}
}

func (w *batchWriter) touch(a *account) {
	if !a.inBatch {
		a.inBatch = true
		w.touched = append(w.touched, a)
	}
	w.l.markDirty(a)
}

// checkpoint writes balance records in chunks, in account id order so that a chunk rewrites
// few bbolt pages. A round starts at journal position R and walks every account once,
// writing those changed since their last record; when it reaches the end, every change up
// to R is in a record and replay can start after R.
func (w *batchWriter) checkpoint() error {
	l, st := w.l, w.l.st
	if w.roundNext == 0 {
		if !w.final && time.Since(w.lastRound) < l.opt.CheckpointEvery {
			return nil
		}
		w.roundNext, w.roundStart, w.lastRound = 1, st.lastSeq, time.Now()
	}
	b := w.tx.Bucket(bktAccounts)
	chunk := l.opt.CheckpointChunk
	written, scanned := 0, 0
	for id := w.roundNext; id < uint64(len(l.accounts)); id++ {
		if !w.final && (written >= chunk || scanned >= 16*chunk) {
			w.roundNext = id
			return nil
		}
		scanned++
		if a := l.accounts[id]; a != nil && a.dirty {
			a.dirty = false
			if err := w.putAccount(b, a); err != nil {
				return err
			}
			written++
		}
	}
	w.roundNext = 0
	return l.setReplayFrom(w.tx, w.roundStart+1)
}

func (w *batchWriter) putAccount(b Bucket, a *account) error {
	rec := w.l.people.diskAccount(w.tx, a.record())
	return b.Put(u64key(a.ID), encodeAccountRecord(&rec, w.l.st.lastSeq))
}

func (l *Ledger) setReplayFrom(tx Tx, seq uint64) error {
	return tx.Bucket(bktMeta).Put(keyReplayFrom, u64key(seq))
}

// expire voids pending transfers past their timeout and forgets dedupe keys past their window.
func (w *batchWriter) expire() error {
	l, st := w.l, w.l.st
	now := l.opt.Now().UnixNano()
	for _, p := range st.pending {
		if p.expires == 0 || p.expires > now {
			continue
		}
		void := domain.Transfer{ID: domain.ExpiryID(p.t.ID), PendingID: p.t.ID, Flags: domain.VoidPending | domain.Expired}
		job := &domain.Job{Transfers: []domain.Transfer{void}}
		if hook := l.opt.ExpiryHook; hook != nil {
			pending := p.t
			job.Compose = func(v domain.View, _ *domain.Result) ([]domain.Message, error) { return hook(pending, v), nil }
		}
		if _, err := w.apply(job); err != nil {
			// The void of an open pending transfer cannot be refused; if it is, the state is
			// not what the ledger believes, and stopping is safer than going on.
			return fmt.Errorf("expire %s: %w", p.t.ID, err)
		}
		l.stats.Expired.Add(1)
	}
	if l.shared != nil {
		if err := w.adoptOrphans(now); err != nil {
			return err
		}
	}
	if err := w.sweepParts(now); err != nil {
		return err
	}
	if err := w.pruneOutbox(now); err != nil {
		return err
	}
	return w.expireDedupe(now)
}

// maxDedupeExpiryPerCommit bounds the dedupe records one commit deletes, so that a window
// ending for many messages at once never makes one commit long.
const maxDedupeExpiryPerCommit = 20000

// expireDedupe deletes dedupe records whose window ended, oldest first, with their index.
func (w *batchWriter) expireDedupe(now int64) error {
	idx := w.tx.Bucket(bktDedupeIdx)
	c := w.tx.Bucket(bktDedupe).Cursor()
	n := 0
	for k, v := c.First(); k != nil && int64(be64(k)) <= now && n < maxDedupeExpiryPerCommit; k, v = c.First() {
		if key, _, _, err := decodeDedupe(v); err == nil {
			if cur := idx.Get(key); cur != nil && string(cur) == string(k) {
				if err := idx.Delete(key); err != nil {
					return err
				}
			}
		}
		if err := c.Delete(); err != nil {
			return err
		}
		n++
	}
	if n == maxDedupeExpiryPerCommit {
		w.expireDue = true // more are due: the next commit goes on
	}
	return nil
}

const arenaChunk = 1 << 20

// keep copies b into the batch arena.
func (w *batchWriter) keep(b []byte) []byte {
	if len(b) > arenaChunk/4 {
		return append([]byte(nil), b...)
	}
	if len(w.arena) == 0 || len(w.arena[w.arenaUsed])+len(b) > arenaChunk {
		if len(w.arena) > 0 && w.arenaUsed+1 < len(w.arena) {
			w.arenaUsed++
		} else {
			w.arena = append(w.arena, make([]byte, 0, arenaChunk))
			w.arenaUsed = len(w.arena) - 1
		}
	}
	cur := w.arena[w.arenaUsed]
	n := len(cur)
	cur = append(cur, b...)
	w.arena[w.arenaUsed] = cur
	return cur[n:len(cur):len(cur)]
}

func (w *batchWriter) keep8(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return w.keep(b[:])
}

func (w *batchWriter) resetArena() {
	for i := range w.arena {
		w.arena[i] = w.arena[i][:0]
	}
	w.arenaUsed = 0
}
