package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// copyChunk is how many keys one transaction of CopyFile writes.
const copyChunk = 5000

// CopyFile copies the books of a ledger file into an empty shared store, as they are: the
// same journal and chain, account records, people (sealed under the same identity key),
// records, outbox and dedupe records. The file must be at this mpg's schema (opening it once
// with this mpg brings it there) and not in use: it is opened read-only and locked. The
// meta bucket is copied last, so a copy cut short is no ledger to open; the store must be
// empty of every bucket (a half copy is cleared by hand, or another database is used).
// progress, if set, is told the keys copied so far.
func CopyFile(ctx context.Context, path string, to SharedStore, progress func(bucket string, keys int)) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("copy %s: %w", path, errors.Unwrap(err))
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w (is a daemon using it? stop it first)", path, err)
	}
	defer db.Close()
	src := &Ledger{store: boltStore{db}, path: path}
	err = src.view(func(tx Tx) error { return src.schemaCheck(tx) })
	if err != nil {
		return 0, fmt.Errorf("%w (open it once with this mpg, e.g. `mpg ledger verify`, to bring it to schema %d)", err, SchemaVersion)
	}
	dst := &Ledger{store: to, path: to.Name()}
	if err := dst.view(emptyStore); err != nil {
		return 0, err
	}
	names := append(append([][]byte{}, allBuckets[1:]...), laterBuckets...)
	total := 0
	for _, name := range append(names, bktMeta) {
		n, err := copyBucket(ctx, db, to, name, func(n int) {
			if progress != nil {
				progress(string(name), total+n)
			}
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("copy bucket %s: %w", name, err)
		}
	}
	return total, nil
}

// emptyStore refuses a store that holds anything in any bucket.
func emptyStore(tx Tx) error {
	for _, name := range append(append([][]byte{}, allBuckets...), laterBuckets...) {
		if k, _ := tx.Bucket(name).Cursor().First(); k != nil {
			return fmt.Errorf("the database is not empty (bucket %s has keys): copy into a new one", name)
		}
	}
	return nil
}

// copyBucket copies one bucket in transactions of copyChunk keys.
func copyBucket(ctx context.Context, db *bolt.DB, to Store, name []byte, progress func(int)) (int, error) {
	n := 0
	var from []byte
	for {
		var batch [][2][]byte
		err := db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(name)
			if b == nil {
				return nil
			}
			c := b.Cursor()
			k, v := c.First()
			if from != nil {
				if k, v = c.Seek(from); k != nil && string(k) == string(from) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(batch) < copyChunk; k, v = c.Next() {
				batch = append(batch, [2][]byte{append([]byte(nil), k...), append([]byte(nil), v...)})
			}
			return nil
		})
		if err != nil || len(batch) == 0 {
			return n, err
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if err := putAll(to, name, batch); err != nil {
			return n, err
		}
		n += len(batch)
		from = batch[len(batch)-1][0]
		progress(n)
	}
}

func putAll(to Store, name []byte, kvs [][2][]byte) error {
	tx, err := to.Begin(true)
	if err != nil {
		return err
	}
	b := tx.Bucket(name)
	for _, kv := range kvs {
		if err := b.Put(kv[0], kv[1]); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Err(); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
