package ledger

import (
	"errors"

	bolt "go.etcd.io/bbolt"
)

// Store keeps a ledger's buckets: named, ordered maps of byte keys to byte values, changed
// in transactions. The ledger's rules, journal, records and outbox are written once, over
// this interface; a bbolt file is one Store (the embedded default), a PostgreSQL database
// shared by several daemons another (package pgledger).
type Store interface {
	// Begin starts a transaction. A writable one of a shared store (SharedStore) begins by
	// taking the store's writer lock, held to its end, so that the batches of the ledgers
	// sharing the store follow one another.
	Begin(writable bool) (Tx, error)
	Close() error
}

// SharedStore is a store several ledgers (in several daemons) write at once. A ledger on
// it trusts its memory only while it holds the writer lock: each batch first reads the
// journal entries the others appended since its last batch and applies them to its memory,
// and after a failed transaction it rebuilds its memory from the store instead of stopping.
type SharedStore interface {
	Store
	// Retryable tells the errors after which the same batch may simply run again:
	// serialization failures and deadlocks.
	Retryable(err error) bool
	// Name is the store as an operator names it (no password).
	Name() string
}

// Tx is a transaction of a Store. Values a read returns stay valid until the transaction
// ends and must not be changed; keys and values given to Put must not change until then.
// A writable transaction reads its own writes.
type Tx interface {
	// Bucket returns the named bucket, or nil if the store has no such bucket.
	Bucket(name []byte) Bucket
	Writable() bool
	// Err is the first read error of the transaction: reads that failed returned nil, so a
	// transaction with an error must not be trusted (Commit refuses it).
	Err() error
	Commit() error
	Rollback() error
}

// Bucket is one ordered map of a transaction.
type Bucket interface {
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	Cursor() Cursor
	ForEach(fn func(k, v []byte) error) error
}

// Cursor walks a bucket in key order. Each move returns the key and value it reached, or
// nil keys past either end.
type Cursor interface {
	First() (k, v []byte)
	Last() (k, v []byte)
	Seek(seek []byte) (k, v []byte)
	Next() (k, v []byte)
	Prev() (k, v []byte)
	// Delete removes the key the cursor is on.
	Delete() error
}

// boltStore is a bbolt file as a Store. Its adapters hold one pointer each, so making an
// interface of them allocates nothing on the writer's path.
type boltStore struct{ db *bolt.DB }

type boltTx struct{ tx *bolt.Tx }
type boltBucket struct{ b *bolt.Bucket }
type boltCursor struct{ c *bolt.Cursor }

func (s boltStore) Begin(writable bool) (Tx, error) {
	tx, err := s.db.Begin(writable)
	if err != nil {
		return nil, err
	}
	return boltTx{tx}, nil
}

func (s boltStore) Close() error { return s.db.Close() }

func (t boltTx) Bucket(name []byte) Bucket {
	if b := t.tx.Bucket(name); b != nil {
		return boltBucket{b}
	}
	return nil
}
func (t boltTx) Writable() bool  { return t.tx.Writable() }
func (t boltTx) Err() error      { return nil }
func (t boltTx) Commit() error   { return t.tx.Commit() }
func (t boltTx) Rollback() error { return t.tx.Rollback() }

func (b boltBucket) Get(k []byte) []byte                      { return b.b.Get(k) }
func (b boltBucket) Put(k, v []byte) error                    { return b.b.Put(k, v) }
func (b boltBucket) Delete(k []byte) error                    { return b.b.Delete(k) }
func (b boltBucket) Cursor() Cursor                           { return boltCursor{b.b.Cursor()} }
func (b boltBucket) ForEach(fn func(k, v []byte) error) error { return b.b.ForEach(fn) }

func (c boltCursor) First() ([]byte, []byte)        { return c.c.First() }
func (c boltCursor) Last() ([]byte, []byte)         { return c.c.Last() }
func (c boltCursor) Seek(k []byte) ([]byte, []byte) { return c.c.Seek(k) }
func (c boltCursor) Next() ([]byte, []byte)         { return c.c.Next() }
func (c boltCursor) Prev() ([]byte, []byte)         { return c.c.Prev() }
func (c boltCursor) Delete() error                  { return c.c.Delete() }

// boltOf is the bbolt transaction under tx, for what only a file does (new buckets,
// backups, compaction); nil on another store.
func boltOf(tx Tx) *bolt.Tx {
	if b, ok := tx.(boltTx); ok {
		return b.tx
	}
	return nil
}

// view runs fn in a read-only transaction of the ledger's store.
func (l *Ledger) view(fn func(tx Tx) error) error {
	tx, err := l.store.Begin(false)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Err()
}

// updateTx runs fn in a writable transaction and commits it if fn and every read succeeded.
func (l *Ledger) updateTx(fn func(tx Tx) error) error {
	tx, err := l.store.Begin(true)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Err(); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// createBuckets makes the named buckets of a file that lacks them; a database has them all.
func createBuckets(tx Tx, names [][]byte) error {
	b := boltOf(tx)
	if b == nil {
		return nil
	}
	for _, name := range names {
		if _, err := b.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// emptyBucket deletes every key of a bucket.
func emptyBucket(tx Tx, name []byte) error {
	if b := boltOf(tx); b != nil {
		if err := b.DeleteBucket(name); err != nil {
			return err
		}
		_, err := b.CreateBucket(name)
		return err
	}
	c := tx.Bucket(name).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// keyCount counts a bucket's keys: bbolt keeps the count, another store is walked.
func keyCount(b Bucket) int {
	if bb, ok := b.(boltBucket); ok {
		return bb.b.Stats().KeyN
	}
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// errNoBolt refuses what only a bbolt file can do.
var errNoBolt = errors.New("only a ledger file (bbolt) does this")
