// Package ledger is mpg's double-entry e-purse: accounts, transfers, a hash-chained journal,
// the outbox of replies and the dedupe records of inbound messages, kept in a Store of
// ordered buckets: one bbolt file (Create, Open), or a database several daemons share
// (OpenShared, on pgledger's store; shared.go says how they take turns).
//
// One writer goroutine owns the state in memory and commits jobs in groups: one
// transaction and one fsync for up to Options.MaxBatchJobs jobs. On a file, balances live in
// memory and are checkpointed into the file in chunks; opening loads the checkpoint and
// replays the journal after it. Reads never wait for the writer's disk work.
package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"mpg/domain"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout of the file this mpg writes.
//
//	1: people named by their numbers
//	2: people named by party ids, their numbers and names sealed (people.go)
//	3: records' values and outbox messages too (atrest.go)
const SchemaVersion = 3

var (
	bktMeta      = []byte("meta")
	bktJournal   = []byte("journal")        // seq -> entry
	bktIDs       = []byte("ids")            // transfer id -> seq
	bktAccounts  = []byte("accounts")       // account id -> checkpoint record
	bktPending   = []byte("pending")        // seq of the pending transfer -> empty (open pending transfers)
	bktDedupe    = []byte("dedupe")         // expiry nanos | seq | n -> key | result (time order, for expiry)
	bktDedupeIdx = []byte("dedupe_keys")    // key -> its record's key in bktDedupe
	bktOutbox    = []byte("outbox")         // message id -> message
	bktOutQueue  = []byte("outq")           // message id -> the daemon sending it (still to send; empty on a file)
	bktSMSCIDs   = []byte("smscids")        // SMSC message id -> message id
	bktOwners    = []byte("owners")         // owner | 0 | account id -> empty
	bktProfiles  = []byte("profiles")       // owner -> version | engine profile
	bktHolds     = []byte("holds")          // owner held for | 0 | seq of the pending transfer -> empty
	bktParts     = []byte("parts")          // sender's keyed hash | 0 | message | 0 | part seq -> expiry | coding | sealed payload
	bktEarly     = []byte("early_receipts") // SMSC message id -> time | status | state: receipts that came before the submit was recorded

	allBuckets = [][]byte{bktMeta, bktJournal, bktIDs, bktAccounts, bktPending, bktDedupe, bktOutbox, bktOutQueue, bktSMSCIDs, bktOwners, bktProfiles}
	// Buckets added since schema 1 was first written; opening a file creates them.
	laterBuckets = [][]byte{bktDedupeIdx, bktHolds, bktParts, bktEarly, bktPartyKeys, bktParties, bktPartyIndex}

	keySchema     = []byte("schema")
	keyReplayFrom = []byte("replay_from")
)

// Options tune a Ledger. Zero values take the defaults.
type Options struct {
	MaxBatchJobs    int           // jobs per commit (default 1024)
	MaxBatchWait    time.Duration // how long the first job of a batch waits for company (default 500µs)
	QueueLen        int           // jobs waiting for the writer before Submit blocks (default 16384)
	CheckpointEvery time.Duration // start a balance checkpoint round this often (default 5s)
	CheckpointChunk int           // account records written per commit during a round (default 1024)
	ExpiryEvery     time.Duration // scan for expired pending transfers and dedupe keys (default 1s)
	LockTimeout     time.Duration // wait for another process's lock this long (default 1s)
	// Tiers are the KYC tiers' limits, applied to every purse in the writer. Nil: no tier
	// rules (tools and tests of the books alone); a purse whose tier is missing cannot pay.
	Tiers map[uint8]domain.TierLimits
	// MaxHoldsPerOwner bounds the open holds (pending transfers with For) for one payee (default 8).
	MaxHoldsPerOwner int
	// Now is the clock (tests move it); default time.Now.
	Now func() time.Time
	// NoSync skips fsync. Only for tests of logic that do not care about durability.
	NoSync bool
	// ExpiryHook, if set, composes the notices sent when a pending transfer times out.
	ExpiryHook domain.ExpiryHook
	// OutboxRetention is how long sent, delivered and failed messages (with their SMSC ids)
	// stay in the outbox before they are pruned (default 30 days).
	OutboxRetention time.Duration
	// CommitFault, if set, is called before each commit; an error fails the commit as a disk
	// write error would (fault injection for tests of the fail-stop path).
	CommitFault func() error
	// KeyChecks are the check values of the server keys the caller will use with the file:
	// those the file has not seen are recorded, and a different one refuses the open with
	// a *KeyMismatchError before anything runs.
	KeyChecks []KeyCheck
	// IdentityKey wraps the keys people's numbers and names are sealed under (people.go).
	// Nil: a key kept in the file (tools and tests; a stolen copy of the file is then readable).
	IdentityKey []byte
	// ErasureLog is the file every erasure is appended to before it is committed, and
	// replayed from at every open, so that a backup restored from before an erasure is
	// erased again (default: the ledger's path + ".erasures").
	ErasureLog string
	// PeopleCache bounds the people kept at hand (0: DefaultPeopleCache); the others are
	// read from the file when asked.
	PeopleCache int
	// Daemon names this daemon among those sharing a store (default: host, process id and
	// a random suffix). Two live daemons must never share a name.
	Daemon string
	// OrphanAfter is how long a daemon on a shared store may be silent before the others
	// send the replies it left queued (default 15s).
	OrphanAfter time.Duration
	// RefreshEvery is how often an idle ledger on a shared store reads what other daemons
	// committed, and so finds out whether the store is there (default 50ms).
	RefreshEvery time.Duration
}

func (o *Options) withDefaults(path string) Options {
	v := Options{}
	if o != nil {
		v = *o
	}
	if v.MaxBatchJobs <= 0 {
		v.MaxBatchJobs = 4096
	}
	if v.MaxBatchWait <= 0 {
		v.MaxBatchWait = 500 * time.Microsecond
	}
	if v.QueueLen <= 0 {
		v.QueueLen = 16384
	}
	if v.CheckpointEvery <= 0 {
		v.CheckpointEvery = 5 * time.Second
	}
	if v.CheckpointChunk <= 0 {
		v.CheckpointChunk = 1024
	}
	if v.ExpiryEvery <= 0 {
		v.ExpiryEvery = time.Second
	}
	if v.LockTimeout <= 0 {
		v.LockTimeout = time.Second
	}
	if v.OutboxRetention <= 0 {
		v.OutboxRetention = 30 * 24 * time.Hour
	}
	if v.MaxHoldsPerOwner <= 0 {
		v.MaxHoldsPerOwner = 8
	}
	if v.Now == nil {
		v.Now = time.Now
	}
	if v.ErasureLog == "" && path != "" {
		v.ErasureLog = path + ".erasures"
	}
	return v
}

// Ledger is an open ledger file.
type Ledger struct {
	db     *bolt.DB // the file, when the store is one (nil on a shared store)
	store  Store
	shared SharedStore // the store, when other daemons write it too (shared.go)
	self   []byte      // this daemon's name on a shared store, as its outbox entries carry it (empty on a file)
	path   string
	opt    Options

	jobs    chan *jobReq
	closing chan struct{}
	done    chan struct{}
	closeMu sync.Mutex
	closed  bool
	failed  atomic.Pointer[error]
	// degraded is why the last batch on a shared store failed; nil after one succeeds.
	degraded atomic.Pointer[error]

	// Writer-owned state; only the writer goroutine touches it after Open returns.
	st *state

	// The people the books name by party id (people.go).
	people *people

	// The committed view readers see, published after each commit.
	viewMu   sync.RWMutex
	visible  uint64            // accounts with id <= visible are committed
	owners   map[uint64]uint64 // ownerKey -> newest account; older ones chain through prevOwned
	accounts []*account        // index = id; [0] unused

	// The account ids of owners readers asked for (owned.go).
	owned ownedCache

	// Outbox messages committed and still to hand to a sender.
	out *outQueue

	stats Stats
}

// Stats are counters for metrics and benchmarks.
type Stats struct {
	Commits   atomic.Uint64 // bbolt transactions with an fsync
	Jobs      atomic.Uint64 // jobs answered OK
	Refused   atomic.Uint64 // jobs refused
	Transfers atomic.Uint64 // transfers committed
	Expired   atomic.Uint64 // pending transfers voided by expiry
	// PartsExpired counts parts of long messages dropped because their message never completed.
	PartsExpired atomic.Uint64
	// OutboxPruned counts outbox messages deleted after the retention.
	OutboxPruned atomic.Uint64
	// EarlyReceipts counts delivery receipts kept because they came before their submit was recorded.
	EarlyReceipts atomic.Uint64
	LastSeq       atomic.Uint64 // journal position committed
}

// Create makes a new, empty ledger file. It fails if the file exists.
func Create(path string, opt *Options) (*Ledger, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%s already exists", path)
	}
	return open(path, opt, true)
}

// Open opens an existing ledger file.
func Open(path string, opt *Options) (*Ledger, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, errors.Unwrap(err))
	}
	return open(path, opt, false)
}

func open(path string, opt *Options, create bool) (*Ledger, error) {
	o := opt.withDefaults(path)
	db, err := openBolt(path, o)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, inUseError(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	l := &Ledger{
		db: db, store: boltStore{db}, path: path, opt: o,
		jobs:     make(chan *jobReq, o.QueueLen),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		accounts: []*account{nil},
		out:      newOutQueue(),
	}
	if create {
		err = l.initFile()
	} else {
		err = l.upgradeFile()
	}
	if err == nil {
		err = l.checkKeysAtOpen(o.KeyChecks)
	}
	if err == nil {
		err = l.openPeople()
	}
	if err == nil && l.compactPending() {
		err = l.compact()
	}
	if err == nil {
		err = l.load()
	}
	if err != nil {
		db.Close()
		if create {
			os.Remove(path)
		}
		return nil, err
	}
	writePIDFile(path)
	go l.writer(l.newBatchWriter())
	return l, nil
}

func openBolt(path string, o Options) (*bolt.DB, error) {
	return bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         o.LockTimeout,
		NoSync:          o.NoSync,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 1 << 30,
	})
}

func (l *Ledger) compactPending() bool {
	pending := false
	l.view(func(tx Tx) error {
		if m := tx.Bucket(bktMeta); m != nil {
			pending = m.Get(keyCompactPending) != nil
		}
		return nil
	})
	return pending
}

// compact rewrites the file with its live records only, so that no freed page keeps what
// was replaced (the numbers a move to party ids took out of the journal).
func (l *Ledger) compact() error {
	tmp := l.path + ".compact"
	os.Remove(tmp)
	dst, err := openBolt(tmp, l.opt)
	if err != nil {
		return err
	}
	if err := bolt.Compact(dst, l.db, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", l.path, err)
	}
	err = dst.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktMeta).Delete(keyCompactPending) })
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", l.path, err)
	}
	l.db.Close()
	if err := os.Rename(tmp, l.path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(l.path)); err == nil {
		d.Sync()
		d.Close()
	}
	l.db, err = openBolt(l.path, l.opt)
	l.store = boltStore{l.db}
	return err
}

// inUseError names the process holding the file, from the pid file it left beside it.
func inUseError(path string) error {
	b, err := os.ReadFile(path + ".pid")
	pid := strings.TrimSpace(string(b))
	if err != nil || pid == "" {
		return fmt.Errorf("%w (%s)", ErrInUse, path)
	}
	if _, err := strconv.Atoi(pid); err != nil {
		return fmt.Errorf("%w (%s)", ErrInUse, path)
	}
	return fmt.Errorf("%w (pid %s): %s", ErrInUse, pid, path)
}

func writePIDFile(path string) {
	_ = os.WriteFile(path+".pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// upgradeFile adds the buckets later versions of mpg keep to a file written before them.
func (l *Ledger) upgradeFile() error {
	missing := false
	l.view(func(tx Tx) error {
		for _, name := range laterBuckets {
			missing = missing || tx.Bucket(name) == nil
		}
		return nil
	})
	if !missing {
		return nil
	}
	return l.updateTx(func(tx Tx) error {
		if tx.Bucket(bktMeta) == nil || tx.Bucket(bktMeta).Get(keySchema) == nil {
			return nil // not a ledger: load says so
		}
		if err := createBuckets(tx, laterBuckets); err != nil {
			return err
		}
		// Index the dedupe records an older file kept only in time order.
		idx := tx.Bucket(bktDedupeIdx)
		return tx.Bucket(bktDedupe).ForEach(func(k, v []byte) error {
			key, _, _, err := decodeDedupe(v)
			if err != nil {
				return nil
			}
			return idx.Put(append([]byte(nil), key...), append([]byte(nil), k...))
		})
	})
}

func (l *Ledger) initFile() error {
	return l.updateTx(func(tx Tx) error {
		if err := createBuckets(tx, append(allBuckets, laterBuckets...)); err != nil {
			return err
		}
		m := tx.Bucket(bktMeta)
		if err := m.Put(keySchema, u64key(SchemaVersion)); err != nil {
			return err
		}
		return m.Put(keyReplayFrom, u64key(1))
	})
}

// Err is nil while the ledger takes work, and the reason once it stopped itself after a
// write error (it takes no more until reopened).
func (l *Ledger) Err() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	if p := l.degraded.Load(); p != nil {
		return *p
	}
	return nil
}

// Path is the file the ledger lives in.
func (l *Ledger) Path() string { return l.path }

// Stats returns the ledger's counters.
func (l *Ledger) Stats() *Stats { return &l.stats }

// Close stops the writer after the jobs already queued, and closes the file.
func (l *Ledger) Close() error {
	l.closeMu.Lock()
	if l.closed {
		l.closeMu.Unlock()
		return nil
	}
	l.closed = true
	close(l.closing)
	l.closeMu.Unlock()
	<-l.done
	if l.db != nil {
		os.Remove(l.path + ".pid")
	}
	return l.store.Close()
}

func (l *Ledger) schemaCheck(tx Tx) error {
	m := tx.Bucket(bktMeta)
	if m == nil || m.Get(keySchema) == nil {
		return fmt.Errorf("%s: %w", l.path, ErrNotLedger)
	}
	if v := binary.BigEndian.Uint64(m.Get(keySchema)); v != SchemaVersion {
		return fmt.Errorf("%s: %w %d (this mpg reads version %d)", l.path, ErrSchema, v, SchemaVersion)
	}
	for _, name := range append(allBuckets, laterBuckets...) {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("%s: %w: bucket %q missing", l.path, ErrSchema, name)
		}
	}
	return nil
}
