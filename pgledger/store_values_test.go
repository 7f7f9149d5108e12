package pgledger

import (
	"testing"

	"mpg/ledger"
)

// TestEmptyValues: keys with empty values (the owners, pending and holds buckets) are
// present to Get, Prefetch and cursors alike, in writable and read-only transactions, before
// and after a flush, and a cursor Delete is seen by Get afterwards (the known cache).
func TestEmptyValues(t *testing.T) {
	s := newStore(t, 3)
	tx := begin(t, s, true)
	b := tx.Bucket([]byte("pending"))
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		put(t, b, k, "")
	}
	commit(t, tx)

	tx = begin(t, s, true)
	b = tx.Bucket([]byte("pending"))
	tx.(ledger.Prefetcher).Prefetch([]ledger.KeyRef{{Bucket: []byte("pending"), Key: []byte("a")}, {Bucket: []byte("pending"), Key: []byte("zz")}})
	wantGet(t, b, "a", "", true)
	wantGet(t, b, "zz", "", false)
	wantGet(t, b, "b", "", true) // read by Get, now known
	c := b.Cursor()
	k, _ := c.Seek([]byte("b"))
	if string(k) != "b" {
		t.Fatalf("seek b: %q", k)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
	wantGet(t, b, "b", "", false)
	if k, _ := c.Next(); string(k) != "c" {
		t.Fatalf("next after delete: %q", k)
	}
	put(t, b, "zz", "x")
	// a cursor read flushes the writes: the known cache must stay right
	d := tx.Bucket([]byte("pending")).Cursor()
	n := 0
	for k, _ := d.First(); k != nil; k, _ = d.Next() {
		n++
	}
	if n != 5 { // a c d e zz
		t.Fatalf("%d keys after the delete and put, want 5", n)
	}
	wantGet(t, b, "b", "", false)
	wantGet(t, b, "zz", "x", true)
	tx.(ledger.Prefetcher).Prefetch([]ledger.KeyRef{{Bucket: []byte("pending"), Key: []byte("b")}, {Bucket: []byte("pending"), Key: []byte("zz")}, {Bucket: []byte("pending"), Key: []byte("c")}})
	wantGet(t, b, "b", "", false)
	wantGet(t, b, "zz", "x", true)
	wantGet(t, b, "c", "", true)
	commit(t, tx)

	r := begin(t, s, false)
	rb := r.Bucket([]byte("pending"))
	r.(ledger.Prefetcher).Prefetch([]ledger.KeyRef{{Bucket: []byte("pending"), Key: []byte("a")}, {Bucket: []byte("pending"), Key: []byte("b")}})
	wantGet(t, rb, "a", "", true)
	wantGet(t, rb, "b", "", false)
	wantGet(t, rb, "c", "", true)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}
