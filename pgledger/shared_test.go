package pgledger

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
	"mpg/internal/pgtest"
	"mpg/ledger"
)

// Tests of what a shared ledger must survive: ambiguous commits, failed batches, readers racing an open, orphans behind a backlog.

// hookStore wraps a Store to simulate what a network does: a COMMIT whose answer is lost
// (the transaction committed, the client hears an error), and a reader paused just after
// its first read (its snapshot taken).
type hookStore struct {
	*Store
	ambiguous atomic.Bool // the next commit commits, then reports a lost connection
	failErase atomic.Bool // the next commit that erases a person fails (rolled back)
	mu        sync.Mutex
	pause     chan struct{} // armed: the next read-only Get signals paused, then waits on pause
	paused    chan struct{}
}

type hookTx struct {
	*storeTx
	s      *hookStore
	erases bool // deleted a party's key
}

func (b *hookBucket) Delete(k []byte) error {
	if b.name == "party_keys" {
		b.tx.erases = true
	}
	return b.bucket.Delete(k)
}

type hookBucket struct {
	*bucket
	tx *hookTx
}

func (s *hookStore) Begin(writable bool) (ledger.Tx, error) {
	tx, err := s.Store.Begin(writable)
	if err != nil {
		return nil, err
	}
	return &hookTx{storeTx: tx.(*storeTx), s: s}, nil
}

func (t *hookTx) Commit() error {
	replies := false
	if q := t.storeTx.buckets["outq"]; q != nil && len(q.pending) > 0 {
		replies = true
	}
	if t.erases && t.s.failErase.CompareAndSwap(true, false) {
		t.storeTx.Rollback()
		return errors.New("pgledger: commit: connection reset by peer (simulated, before COMMIT reached the server)")
	}
	err := t.storeTx.Commit()
	if err == nil && replies && t.s.ambiguous.CompareAndSwap(true, false) {
		return errors.New("pgledger: commit: unexpected EOF (simulated: the answer to COMMIT was lost)")
	}
	return err
}

func (t *hookTx) Bucket(name []byte) ledger.Bucket {
	return &hookBucket{bucket: t.storeTx.Bucket(name).(*bucket), tx: t}
}

func (b *hookBucket) Get(k []byte) []byte {
	v := b.bucket.Get(k)
	if !b.tx.writable && b.name == "party_index" { // a reader resolving a number
		s := b.tx.s
		s.mu.Lock()
		pause, paused := s.pause, s.paused
		s.pause, s.paused = nil, nil
		s.mu.Unlock()
		if pause != nil {
			close(paused)
			<-pause
		}
	}
	return v
}

// newHookDB makes a database with an empty ledger and returns its DSN.
func newHookDB(t *testing.T) string {
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Create(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	return dsn
}

func openHooked(t *testing.T, dsn, daemon string) (*ledger.Ledger, *hookStore) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	hs := &hookStore{Store: NewStore(db)}
	l, err := ledger.OpenShared(hs, &ledger.Options{Daemon: daemon, Tiers: map[uint8]domain.TierLimits{1: {PerPayment: 1000, Daily: 3000, MaxBalance: 5000}}})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, hs
}

// TestRepliesOfAnAmbiguousCommitAreSent: a batch whose COMMIT succeeded in the database but
// whose answer was lost (the doc: "if it did commit, the next batch reads it back as another
// daemon's") leaves its replies queued in the outbox under this daemon's name; forget()
// dropped their ids from memory (outIDs), catch-up never pushes outbox ids, and
// adoptOrphans skips a live daemon's entries: the reply is never handed to the sender
// while the daemon lives (only loadOutbox at the next open finds it).
func TestRepliesOfAnAmbiguousCommitAreSent(t *testing.T) {
	dsn := newHookDB(t)
	l, hs := openHooked(t, dsn, "amb")
	ctx := context.Background()
	hs.ambiguous.Store(true)
	_, err := l.Submit(ctx, domain.Job{Messages: []domain.Message{{From: "1234", To: "+33611110001", Text: "receipt"}}})
	if !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("submit with the answer to COMMIT lost: %v, want ErrUnavailable", err)
	}
	if n, err := l.Unsent(); err != nil || n != 1 {
		t.Fatalf("%d unsent (%v): the batch did not commit, the premise fails", n, err)
	}
	wait, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	msgs, err := l.NextMessages(wait, 10)
	if len(msgs) != 1 {
		t.Fatalf("the committed reply (queued for this live daemon) is not handed to its sender: %v %+v", err, msgs)
	}
}

// TestOwnersCacheNeverKeepsAnOldList: Owner() resolves a number to its party (a read that takes the
// read-only transaction's snapshot, lazily) before it reads the owners cache's epoch. An
// account opened for the owner and published (forgetOwners, epoch++) between the two leaves
// the reader storing the old snapshot's ids under the new epoch: AccountsOf and Owner then
// miss the new account for good.
func TestOwnersCacheNeverKeepsAnOldList(t *testing.T) {
	dsn := newHookDB(t)
	a, hs := openHooked(t, dsn, "reader")
	b, _ := openHooked(t, dsn, "writer")
	ctx := context.Background()
	const owner = "+33611112222"
	if _, err := b.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindPurse, Owner: owner, Tier: 1}}}); err != nil {
		t.Fatal(err)
	}
	pause, paused := make(chan struct{}), make(chan struct{})
	control := os.Getenv("REVIEW_CONTROL") != "" // no pause: the same steps in order
	if control {
		close(pause)
		close(paused)
	} else {
		hs.mu.Lock()
		hs.pause, hs.paused = pause, paused
		hs.mu.Unlock()
	}
	got := make(chan domain.OwnerState, 1)
	go func() { st, _ := a.Owner(owner); got <- st }()
	select {
	case <-paused:
	case <-time.After(5 * time.Second):
		t.Fatal("the reader made no read")
	}
	res, err := b.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: "USD", Kind: domain.KindPurse, Owner: owner, Tier: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res
	deadline := time.Now().Add(5 * time.Second)
	for a.Stats().LastSeq.Load() < b.Stats().LastSeq.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the catch-up's publish forgets the owner
	if !control {
		close(pause)
	}
	<-got
	for _, try := range []int{0, 1} {
		if try == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		st, err := a.Owner(owner)
		if err != nil {
			t.Fatal(err)
		}
		accs := a.AccountsOf(owner)
		if len(st.Accounts) == 2 && len(accs) == 2 {
			return
		}
		if try == 1 {
			t.Fatalf("after both opens committed and were caught up, Owner sees %d accounts and AccountsOf %d (want 2)", len(st.Accounts), len(accs))
		}
	}
}

// TestFailedErasureLeavesThePerson: an erasure whose batch fails leaves the party marked
// erased in the daemon's memory (people.forget sets p.erased; forget() after the failed
// batch only calls people.reset, which keeps erased): the books still hold the person and
// his purse, another daemon finds them, but this daemon finds no account for the number
// and refuses to erase him again (ErrNoPerson) until it restarts.
func TestFailedErasureLeavesThePerson(t *testing.T) {
	dsn := newHookDB(t)
	l, hs := openHooked(t, dsn, "eraser")
	ctx := context.Background()
	const number = "+33611113333"
	if _, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindPurse, Owner: number, Tier: 1}}}); err != nil {
		t.Fatal(err)
	}
	hs.failErase.Store(true)
	if _, err := l.Erase(ctx, number, domain.Audit{Actor: "op", Action: "erase"}); !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("erase with its commit failing: %v, want ErrUnavailable", err)
	}
	other, _ := openHooked(t, dsn, "other")
	if n := len(other.AccountsOf(number)); n != 1 {
		t.Fatalf("another daemon finds %d accounts: the erasure was committed after all, the premise fails", n)
	}
	if n := len(l.AccountsOf(number)); n != 1 {
		t.Errorf("the daemon whose erasure failed finds %d accounts for %s; the books hold 1", n, number)
	}
	if _, err := l.Erase(ctx, number, domain.Audit{Actor: "op", Action: "erase"}); err != nil {
		t.Errorf("erasing again after the failure: %v", err)
	}
}

// TestOrphansBehindABacklogAreAdopted: adoptOrphans walks the out queue from its
// first key and stops after maxAdoptPerCommit (20000) entries, setting expireDue so that
// "the next commit goes on" — but the next commit starts from the first key again. With
// 20000 unsent replies of a live daemon ahead (an SMSC away for a while), a dead daemon's
// replies behind them are never adopted, never sent, and every commit re-reads 20000 rows
// under the writer lock.
func TestOrphansBehindABacklogAreAdopted(t *testing.T) {
	dsn := newHookDB(t)
	a, _ := openHooked(t, dsn, "A")
	ctx := context.Background()
	jobs := 20000/domain.MaxJobMessages + 1
	if os.Getenv("REVIEW_CONTROL") != "" {
		jobs = 10 // a small backlog: the orphan is adopted
	}
	var wg sync.WaitGroup
	errs := make(chan error, jobs)
	next := make(chan int, jobs)
	for i := range jobs {
		next <- i
	}
	close(next)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				msgs := make([]domain.Message, domain.MaxJobMessages)
				for j := range msgs {
					msgs[j] = domain.Message{From: "1234", To: "+33611110001", Text: "backlog"}
				}
				if _, err := a.Submit(ctx, domain.Job{Messages: msgs}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	d, _ := openHooked(t, dsn, "D")
	if _, err := d.Submit(ctx, domain.Job{Messages: []domain.Message{{From: "1234", To: "+33611110002", Text: "orphan"}}}); err != nil {
		t.Fatal(err)
	}
	d.Close() // stopped for good: its beat says so, its reply is to be taken over
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(8 * time.Second)
	for {
		var n int
		if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM kv WHERE bucket = 'outq' AND v = 'D'::bytea").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replies of the stopped daemon D still queued for it, never adopted", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
