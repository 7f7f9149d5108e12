package pgledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mpg/ledger"
)

// Store keeps the ledger's buckets in the database's kv table, as a ledger.SharedStore:
// several daemons run their ledgers on one database. Its transactions behave as a bbolt
// file's do, with the differences a network between them brings:
//
//   - A writable transaction (READ COMMITTED) first locks writer_lock's row, held to its end,
//     so the writable transactions of all daemons run one after another; a read-only one
//     (REPEATABLE READ READ ONLY) takes no lock and reads one snapshot throughout.
//   - Every bucket exists: Bucket never answers nil.
//   - Writes stay in the transaction's memory, where its own reads find them, and go to the
//     database in one round trip at Commit, or before a cursor reads a range of keys. A Get
//     never sends them.
//   - Reads cannot return errors: a read that fails returns nil and records the error
//     (Err), which Commit then returns after rolling back.
//   - Cursors read keys in chunks and see the transaction's writes. Unlike bbolt's, a
//     cursor that deleted its key moves to the key after it (bbolt skips one), and one that
//     went past either end comes back from that end.
//   - Keys are at most MaxKeySize bytes (PostgreSQL indexes no longer ones).
type Store struct {
	db      *DB
	chunk   int           // rows a cursor reads at once
	timeout time.Duration // each round trip's

	countMu sync.Mutex
	counts  map[string]uint64 // round trips by kind (RoundTrips)
}

var _ ledger.SharedStore = (*Store)(nil)

// MaxKeySize is the longest key Put takes: a B-tree index entry of PostgreSQL holds at most
// about 2.7 kB, bucket name included.
const MaxKeySize = 2048

// Timeouts and sizes of a Store.
const (
	// roundTripTimeout bounds every round trip of a transaction, the wait for the writer
	// lock included, so a lost database fails the transaction instead of hanging it.
	roundTripTimeout = 30 * time.Second
	// chunkRows is how many rows a cursor reads at once, at most; firstRows its first read.
	chunkRows = 256
	firstRows = 8
)

// The errors of misuse, as bbolt has them.
var (
	errTxClosed      = errors.New("pgledger: transaction closed")
	errTxNotWritable = errors.New("pgledger: transaction not writable")
	errKeyRequired   = errors.New("pgledger: key required")
	errKeyTooLarge   = fmt.Errorf("pgledger: key longer than %d bytes", MaxKeySize)
	errNotOnKey      = errors.New("pgledger: the cursor is on no key")
)

// NewStore is the store of db's buckets. Closing it closes db.
func NewStore(db *DB) *Store {
	return &Store{db: db, chunk: chunkRows, timeout: roundTripTimeout}
}

// The statements of a transaction.
const (
	beginWriteSQL = "BEGIN ISOLATION LEVEL READ COMMITTED"
	lockSQL       = "SELECT id FROM writer_lock WHERE id = 1 FOR UPDATE"
	beginReadSQL  = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
	getSQL        = "SELECT v FROM kv WHERE bucket = $1 AND k = $2"
	putSQL        = `INSERT INTO kv (bucket, k, v) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])
ON CONFLICT (bucket, k) DO UPDATE SET v = excluded.v`
	deleteSQL = "DELETE FROM kv WHERE (bucket, k) IN (SELECT * FROM unnest($1::text[], $2::bytea[]))"
	// manySQL reads many keys of any buckets at once (Prefetch).
	manySQL   = "SELECT bucket, k, v FROM kv WHERE (bucket, k) IN (SELECT * FROM unnest($1::text[], $2::bytea[]))"
	fromSQL   = "SELECT k, v FROM kv WHERE bucket = $1 AND k >= $2 ORDER BY k LIMIT $3"
	afterSQL  = "SELECT k, v FROM kv WHERE bucket = $1 AND k > $2 ORDER BY k LIMIT $3"
	beforeSQL = "SELECT k, v FROM kv WHERE bucket = $1 AND k < $2 ORDER BY k DESC LIMIT $3"
	lastSQL   = "SELECT k, v FROM kv WHERE bucket = $1 ORDER BY k DESC LIMIT $2"
)

// Begin takes a connection of the pool and begins a transaction on it: a writable one at
// once, in one round trip that waits for the writer lock; a read-only one with its first
// read (in the same round trip), so that a reader costs one round trip less, and one that
// reads nothing costs none.
func (s *Store) Begin(writable bool) (ledger.Tx, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	conn, err := s.db.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgledger: begin: %w", err)
	}
	t := &storeTx{s: s, conn: conn, writable: writable, buckets: map[string]*bucket{}}
	if !writable {
		t.begin = beginReadSQL
		return t, nil
	}
	b := &pgx.Batch{}
	b.Queue(beginWriteSQL)
	b.Queue(lockSQL)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		conn.Release() // a connection left in a transaction is closed, not pooled
		return nil, fmt.Errorf("pgledger: begin: %w", err)
	}
	return t, nil
}

// Close closes the database's connections.
func (s *Store) Close() error {
	s.db.Close()
	return nil
}

// Retryable tells serialization failures (40001) and deadlocks (40P01), after which the
// same transaction may run again.
func (s *Store) Retryable(err error) bool {
	return isCode(err, "40001", "40P01")
}

// Name is the database as an operator names it: its name and server, never a password.
func (s *Store) Name() string { return describe(s.db.pool.Config().ConnConfig) }

// storeTx is a transaction of a Store, on a connection of its own until it ends.
type storeTx struct {
	s        *Store
	conn     *pgxpool.Conn // nil once ended
	writable bool
	buckets  map[string]*bucket
	log      []write // every write, in order: cursors bring their chunks up to date from it
	begin    string  // the BEGIN still to send before the first read ("" once sent)
	err      error   // the first failure
}

// write is a Put (v non-nil) or a Delete (v nil) of the transaction.
type write struct {
	b    *bucket
	k, v []byte
}

func (t *storeTx) Writable() bool { return t.writable }

// Err is the transaction's first failure: a read or a write to the database that failed.
func (t *storeTx) Err() error { return t.err }

// fail records err as the transaction's failure unless it has one already.
func (t *storeTx) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// ctx bounds one round trip.
func (t *storeTx) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), t.s.timeout)
}

// Bucket returns the named bucket: every bucket exists, empty until written.
func (t *storeTx) Bucket(name []byte) ledger.Bucket {
	b := t.buckets[string(name)]
	if b == nil {
		b = &bucket{t: t, name: string(name), pending: map[string]write{}, known: map[string][]byte{}}
		t.buckets[b.name] = b
	}
	return b
}

// Commit sends the buffered writes and COMMIT together, in one round trip. It refuses a
// transaction with a failure (Err), rolling it back, and a read-only one (use Rollback).
func (t *storeTx) Commit() error {
	switch {
	case t.conn == nil:
		return errTxClosed
	case !t.writable:
		return errTxNotWritable
	case t.err != nil:
		t.Rollback()
		return t.err
	}
	ctx, cancel := t.ctx()
	defer cancel()
	b := &pgx.Batch{}
	n := t.queueFlush(b)
	b.Queue("COMMIT")
	err := t.sendFlush(ctx, b, n, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err == nil && tag.String() == "ROLLBACK" { // the server had aborted the transaction
			err = errors.New("the database rolled the transaction back")
		}
		return err
	})
	if err != nil {
		t.fail(fmt.Errorf("pgledger: commit: %w", err))
		t.Rollback()
		return t.err
	}
	t.release()
	return nil
}

// Rollback ends the transaction and discards its writes. It does nothing once the
// transaction has ended (after Commit, too).
func (t *storeTx) Rollback() error {
	if t.conn == nil {
		return nil
	}
	var err error
	if !t.conn.Conn().IsClosed() && t.conn.Conn().PgConn().TxStatus() != 'I' {
		ctx, cancel := t.ctx()
		_, err = t.conn.Exec(ctx, "ROLLBACK")
		cancel()
	}
	t.release()
	if err != nil {
		return fmt.Errorf("pgledger: rollback: %w", err)
	}
	return nil
}

// release gives the connection back to the pool, which closes it if it is still in a
// transaction (a ROLLBACK that failed).
func (t *storeTx) release() {
	t.conn.Release()
	t.conn = nil
	t.log = nil
}

// queueFlush queues the statements that write the buffered writes to the database, at most
// one for the puts and one for the deletes, empties the buffers, and answers how many
// statements it queued.
func (t *storeTx) queueFlush(b *pgx.Batch) int {
	var pb, delB []string
	var pk, pv, dk [][]byte
	for _, bk := range t.buckets {
		for _, w := range bk.pending {
			if w.v != nil {
				pb, pk, pv = append(pb, bk.name), append(pk, w.k), append(pv, w.v)
			} else {
				delB, dk = append(delB, bk.name), append(dk, w.k)
			}
		}
		clear(bk.pending)
	}
	n := 0
	if len(pk) > 0 {
		b.Queue(putSQL, pb, pk, pv)
		n++
	}
	if len(dk) > 0 {
		b.Queue(deleteSQL, delB, dk)
		n++
	}
	return n
}

// sendFlush sends b, whose first n statements queueFlush queued, and reads their results,
// then the rest's with rest. A failure is the transaction's.
func (t *storeTx) sendFlush(ctx context.Context, b *pgx.Batch, n int, rest func(pgx.BatchResults) error) error {
	if t.begin != "" { // a read-only transaction's first read: BEGIN goes first
		b.QueuedQueries = append([]*pgx.QueuedQuery{{SQL: t.begin}}, b.QueuedQueries...)
		t.begin = ""
		n++
	}
	br := t.conn.SendBatch(ctx, b)
	var err error
	for i := 0; i < n && err == nil; i++ {
		_, err = br.Exec()
	}
	if err == nil {
		err = rest(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// usable tells whether the transaction may still read, recording a read of an ended one.
func (t *storeTx) usable() bool {
	if t.conn == nil {
		t.fail(errTxClosed)
	}
	return t.err == nil
}

// bucket is one bucket of a transaction, with the writes buffered for it.
type bucket struct {
	t       *storeTx
	name    string
	pending map[string]write // by key: the last Put or Delete not yet sent
	// known are values read ahead (Prefetch) or by Get, kept up to date by the writes; a
	// nil value is a key known to be absent. Cursors read the database itself.
	known map[string][]byte
}

// Get returns the key's value, or nil when there is none: the transaction's own write if it
// has one, else the database's, read without sending the buffered writes.
func (b *bucket) Get(key []byte) []byte {
	if w, ok := b.pending[string(key)]; ok {
		return w.v
	}
	if v, ok := b.known[string(key)]; ok {
		return v
	}
	if !b.t.usable() {
		return nil
	}
	b.t.s.count(b.t.kind() + "get " + b.name)
	ctx, cancel := b.t.ctx()
	defer cancel()
	var v []byte
	q := &pgx.Batch{}
	q.Queue(getSQL, b.name, key)
	err := b.t.sendFlush(ctx, q, 0, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&v) })
	if errors.Is(err, pgx.ErrNoRows) {
		b.known[string(key)] = nil
		return nil
	}
	if err != nil {
		b.t.fail(fmt.Errorf("pgledger: get from bucket %q: %w", b.name, err))
		return nil
	}
	b.known[string(key)] = v
	return v
}

// Put sets the key's value, in the transaction's memory until it is sent. It copies both.
func (b *bucket) Put(key, value []byte) error {
	return b.write(key, append(make([]byte, 0, len(value)), value...))
}

// Delete removes the key, in the transaction's memory until it is sent.
func (b *bucket) Delete(key []byte) error {
	return b.write(key, nil)
}

// write buffers a Put (v non-nil) or a Delete (v nil).
func (b *bucket) write(key, v []byte) error {
	t := b.t
	switch {
	case t.conn == nil:
		return errTxClosed
	case !t.writable:
		return errTxNotWritable
	case t.err != nil:
		return t.err
	case len(key) == 0:
		return errKeyRequired
	case len(key) > MaxKeySize:
		return errKeyTooLarge
	}
	w := write{b: b, k: bytes.Clone(key), v: v}
	b.pending[string(key)] = w
	if _, ok := b.known[string(key)]; ok {
		b.known[string(key)] = v
	}
	t.log = append(t.log, w)
	return nil
}

// Cursor returns a cursor on the bucket, on no key until moved.
func (b *bucket) Cursor() ledger.Cursor { return &cursor{b: b} }

// ForEach calls fn for each key and value in key order, and stops at fn's first error,
// which it returns; it returns the transaction's failure if a read failed.
func (b *bucket) ForEach(fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return b.t.err
}

// row is a key and its value.
type row struct{ k, v []byte }

// cursor walks a bucket. It keeps a chunk of rows read from the database, which are exactly
// the transaction's keys between lo and hi (kept so by applying the transaction's later
// writes to it), and moves within it without a round trip.
type cursor struct {
	b      *bucket
	ok     bool   // rows, lo and hi hold a chunk
	rows   []row  // ascending
	lo, hi []byte // the chunk's first and last possible keys; nil: no bound
	synced int    // how many of the transaction's writes the chunk has
	key    []byte // the key the cursor is on; nil when on none
	after  bool   // on no key: past the end (true) or before the start
	// limit is the rows the last read asked for: a cursor's first read asks for few (most
	// walks are a lookup by prefix: an owner's accounts, a payee's holds), each next one
	// four times more, up to the store's chunk.
	limit int
}

// First moves to the first key.
func (c *cursor) First() ([]byte, []byte) {
	c.sync()
	if c.ok && c.lo == nil && len(c.rows) > 0 {
		return c.at(0)
	}
	if c.ok && c.lo == nil && c.hi != nil { // everything up to hi deleted: read on from it
		k, v := c.fetch(afterSQL, c.hi, false)
		if c.ok {
			c.lo = nil
		}
		return k, v
	}
	return c.fetch(fromSQL, nil, false)
}

// Last moves to the last key.
func (c *cursor) Last() ([]byte, []byte) {
	c.sync()
	if c.ok && c.hi == nil && len(c.rows) > 0 {
		return c.at(len(c.rows) - 1)
	}
	return c.fetch(lastSQL, nil, true)
}

// Seek moves to the first key at or after seek.
func (c *cursor) Seek(seek []byte) ([]byte, []byte) {
	c.sync()
	if c.ok && c.covers(seek) {
		i, _ := c.find(seek)
		if i < len(c.rows) {
			return c.at(i)
		}
		if c.hi == nil {
			return c.off(true)
		}
	}
	return c.fetch(fromSQL, seek, false)
}

// Next moves to the key after the cursor's (the first from before the start).
func (c *cursor) Next() ([]byte, []byte) {
	switch {
	case c.key == nil && c.after:
		return nil, nil
	case c.key == nil:
		return c.First()
	}
	c.sync()
	if c.ok && c.covers(c.key) {
		i, found := c.find(c.key)
		if found {
			i++
		}
		if i < len(c.rows) {
			return c.at(i)
		}
		if c.hi == nil {
			return c.off(true)
		}
	}
	return c.fetch(afterSQL, c.key, false)
}

// Prev moves to the key before the cursor's (the last from past the end).
func (c *cursor) Prev() ([]byte, []byte) {
	switch {
	case c.key == nil && c.after:
		return c.Last()
	case c.key == nil:
		return nil, nil
	}
	c.sync()
	if c.ok && c.covers(c.key) {
		if i, _ := c.find(c.key); i > 0 {
			return c.at(i - 1)
		}
		if c.lo == nil {
			return c.off(false)
		}
	}
	return c.fetch(beforeSQL, c.key, true)
}

// Delete deletes the key the cursor is on; the cursor stays there, and Next and Prev move
// to the keys around it.
func (c *cursor) Delete() error {
	if c.key == nil {
		return errNotOnKey
	}
	return c.b.Delete(c.key)
}

// at moves to the chunk's i-th row.
func (c *cursor) at(i int) ([]byte, []byte) {
	c.key = c.rows[i].k
	return c.rows[i].k, c.rows[i].v
}

// off moves past the end (after) or before the start.
func (c *cursor) off(after bool) ([]byte, []byte) {
	c.key, c.after = nil, after
	return nil, nil
}

// covers tells whether k is in the chunk's range.
func (c *cursor) covers(k []byte) bool {
	return (c.lo == nil || bytes.Compare(c.lo, k) <= 0) && (c.hi == nil || bytes.Compare(k, c.hi) <= 0)
}

// find is the index of the chunk's first key at or after k, and whether it is k.
func (c *cursor) find(k []byte) (int, bool) {
	return slices.BinarySearchFunc(c.rows, k, func(r row, k []byte) int { return bytes.Compare(r.k, k) })
}

// sync applies to the chunk the transaction's writes since it was read.
func (c *cursor) sync() {
	t := c.b.t
	if !c.ok || c.synced == len(t.log) {
		return
	}
	for _, w := range t.log[c.synced:] {
		if w.b != c.b || !c.covers(w.k) {
			continue
		}
		i, found := c.find(w.k)
		switch {
		case w.v == nil && found:
			c.rows = slices.Delete(c.rows, i, i+1)
		case w.v != nil && found:
			c.rows[i].v = w.v
		case w.v != nil:
			c.rows = slices.Insert(c.rows, i, row{w.k, w.v})
		}
	}
	c.synced = len(t.log)
}

// fetch sends the buffered writes and reads a chunk with query (one of fromSQL, afterSQL,
// beforeSQL and lastSQL) from bound (nil: the bucket's first key for fromSQL) in one round
// trip, then moves to the chunk's first row, or its last if down.
func (c *cursor) fetch(query string, bound []byte, down bool) ([]byte, []byte) {
	t := c.b.t
	c.ok = false
	if !t.usable() {
		return c.off(!down)
	}
	c.limit = min(t.s.chunk, max(firstRows, 4*c.limit))
	t.s.count(t.kind() + "range " + c.b.name)
	rows, err := c.read(query, bound, c.limit)
	if err != nil {
		t.fail(fmt.Errorf("pgledger: read bucket %q: %w", c.b.name, err))
		return c.off(!down)
	}
	full := len(rows) == c.limit
	if down {
		slices.Reverse(rows)
	}
	c.rows, c.synced, c.ok = rows, len(t.log), true
	c.setRange(query, bound, full)
	switch {
	case len(rows) == 0:
		return c.off(!down)
	case down:
		return c.at(len(rows) - 1)
	}
	return c.at(0)
}

// setRange sets the keys the chunk just read stands for: from its bound to its last row,
// or on to the bucket's end when the chunk was not full. A chunk read down, before a key,
// stands for no more than its rows (nothing, when it has none), since hi is inclusive.
func (c *cursor) setRange(query string, bound []byte, full bool) {
	var first, last []byte
	if n := len(c.rows); n > 0 {
		first, last = c.rows[0].k, c.rows[n-1].k
	}
	switch query {
	case fromSQL, afterSQL:
		c.lo, c.hi = bound, last
		if query == afterSQL {
			c.lo = append(bytes.Clone(bound), 0) // the first key after bound
		}
		if !full {
			c.hi = nil
		}
	case lastSQL:
		c.lo, c.hi = first, nil
		if !full {
			c.lo = nil
		}
	case beforeSQL:
		c.lo, c.hi = first, last
		if !full {
			c.lo = nil
		}
		c.ok = len(c.rows) > 0
	}
}

// read sends the buffered writes and the chunk's query in one batch and returns its rows.
func (c *cursor) read(query string, bound []byte, limit int) ([]row, error) {
	t := c.b.t
	ctx, cancel := t.ctx()
	defer cancel()
	b := &pgx.Batch{}
	n := t.queueFlush(b)
	if query == lastSQL {
		b.Queue(query, c.b.name, limit)
	} else {
		if bound == nil {
			bound = []byte{}
		}
		b.Queue(query, c.b.name, bound, limit)
	}
	var rows []row
	err := t.sendFlush(ctx, b, n, func(br pgx.BatchResults) error {
		rs, err := br.Query()
		if err != nil {
			return err
		}
		rows, err = pgx.CollectRows(rs, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.k, &x.v)
			return x, err
		})
		return err
	})
	return rows, err
}

// Prefetch reads the keys the transaction has neither written nor read yet, all in one
// round trip, so that their Gets need none (ledger.Prefetcher).
func (t *storeTx) Prefetch(keys []ledger.KeyRef) {
	var names []string
	var ks [][]byte
	for _, r := range keys {
		b := t.Bucket(r.Bucket).(*bucket)
		if _, ok := b.pending[string(r.Key)]; ok {
			continue
		}
		if _, ok := b.known[string(r.Key)]; ok {
			continue
		}
		b.known[string(r.Key)] = nil // absent unless the query finds it
		names, ks = append(names, b.name), append(ks, r.Key)
	}
	if len(ks) == 0 || !t.usable() {
		return
	}
	ctx, cancel := t.ctx()
	defer cancel()
	q := &pgx.Batch{}
	q.Queue(manySQL, names, ks)
	err := t.sendFlush(ctx, q, 0, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var name string
		var k, v []byte
		_, err = pgx.ForEachRow(rows, []any{&name, &k, &v}, func() error {
			t.Bucket([]byte(name)).(*bucket).known[string(k)] = bytes.Clone(v)
			return nil
		})
		return err
	})
	if err != nil {
		t.fail(fmt.Errorf("pgledger: read ahead: %w", err))
	}
}

// kind prefixes what a round trip counts under: "write " in a writable transaction (under
// the writer lock), "" in a read-only one.
func (t *storeTx) kind() string {
	if t.writable {
		return "write "
	}
	return ""
}

// count notes one round trip of a kind (a Get or a range read of a bucket).
func (s *Store) count(what string) {
	s.countMu.Lock()
	if s.counts == nil {
		s.counts = map[string]uint64{}
	}
	s.counts[what]++
	s.countMu.Unlock()
}

// RoundTrips counts the single reads ("get <bucket>") and range reads ("range <bucket>")
// the store sent since it was made, those of writable transactions (which hold the writer
// lock) as "write get …" and "write range …": what a batch did not read ahead.
func (s *Store) RoundTrips() map[string]uint64 {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return maps.Clone(s.counts)
}
