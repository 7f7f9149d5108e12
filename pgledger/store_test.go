package pgledger

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"pgregory.net/rapid"

	"mpg/domain"
	"mpg/ledger"
)

// newStore is a store on a migrated database of the test's own, whose cursors read chunk
// rows at once.
func newStore(t testing.TB, chunk int) *Store {
	t.Helper()
	s := NewStore(newDB(t))
	s.chunk = chunk
	return s
}

func begin(t testing.TB, s *Store, writable bool) ledger.Tx {
	t.Helper()
	tx, err := s.Begin(writable)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	return tx
}

func commit(t testing.TB, tx ledger.Tx) {
	t.Helper()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func put(t testing.TB, b ledger.Bucket, k, v string) {
	t.Helper()
	if err := b.Put([]byte(k), []byte(v)); err != nil {
		t.Fatal(err)
	}
}

func del(t testing.TB, b ledger.Bucket, k string) {
	t.Helper()
	if err := b.Delete([]byte(k)); err != nil {
		t.Fatal(err)
	}
}

// get is the key's value as a string, and whether there is one.
func get(b ledger.Bucket, k string) (string, bool) {
	v := b.Get([]byte(k))
	return string(v), v != nil
}

func wantGet(t testing.TB, b ledger.Bucket, k, want string, ok bool) {
	t.Helper()
	if v, found := get(b, k); v != want || found != ok {
		t.Fatalf("Get(%q) = %q, %v; want %q, %v", k, v, found, want, ok)
	}
}

func TestStoreReadsItsWrites(t *testing.T) {
	s := newStore(t, chunkRows)
	tx := begin(t, s, true)
	if !tx.Writable() {
		t.Fatal("a writable transaction says it is not")
	}
	b := tx.Bucket([]byte("meta"))
	put(t, b, "a", "1")
	wantGet(t, b, "a", "1", true)
	put(t, b, "a", "2")
	wantGet(t, b, "a", "2", true)
	del(t, b, "a")
	wantGet(t, b, "a", "", false)
	put(t, b, "b", "x")
	put(t, b, "empty", "")
	wantGet(t, b, "empty", "", true) // an empty value is there, not nil
	wantGet(t, tx.Bucket([]byte("other")), "b", "", false)

	// A caller may reuse its memory after Put.
	k, v := []byte("reused"), []byte("first")
	if err := b.Put(k, v); err != nil {
		t.Fatal(err)
	}
	copy(k, "zzzzzz")
	copy(v, "later")
	wantGet(t, b, "reused", "first", true)

	// A Get of a key not written reads the database without sending the writes.
	wantGet(t, b, "missing", "", false)
	if n := len(b.(*bucket).pending); n != 4 {
		t.Fatalf("after a Get, %d writes buffered, want 4 still", n)
	}
	if err := b.Put(nil, []byte("v")); err == nil {
		t.Fatal("Put of an empty key accepted")
	}
	if err := b.Put(make([]byte, MaxKeySize+1), nil); err == nil {
		t.Fatal("Put of a key past MaxKeySize accepted")
	}

	// Not committed: another transaction reads nothing, and is not kept waiting.
	ro := begin(t, s, false)
	wantGet(t, ro.Bucket([]byte("meta")), "b", "", false)
	if err := ro.Bucket([]byte("meta")).Put([]byte("b"), nil); err == nil {
		t.Fatal("a read-only transaction took a Put")
	}
	if err := ro.Commit(); err == nil {
		t.Fatal("Commit of a read-only transaction accepted")
	}
	if err := ro.Rollback(); err != nil {
		t.Fatal(err)
	}
	commit(t, tx)
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback after Commit: %v", err)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("a second Commit accepted")
	}

	tx2 := begin(t, s, true)
	b2 := tx2.Bucket([]byte("meta"))
	wantGet(t, b2, "a", "", false)
	wantGet(t, b2, "b", "x", true)
	wantGet(t, b2, "empty", "", true)
	wantGet(t, b2, "reused", "first", true)
	put(t, b2, "b", "rolled back")
	put(t, b2, "c", "rolled back")
	del(t, b2, "empty")
	if err := tx2.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Rollback(); err != nil {
		t.Fatalf("second Rollback: %v", err)
	}
	if err := b2.Put([]byte("d"), nil); err == nil {
		t.Fatal("Put after Rollback accepted")
	}

	tx3 := begin(t, s, false)
	b3 := tx3.Bucket([]byte("meta"))
	wantGet(t, b3, "b", "x", true)
	wantGet(t, b3, "c", "", false)
	wantGet(t, b3, "empty", "", true)
	if tx3.Writable() || tx3.Err() != nil {
		t.Fatalf("read-only transaction: writable %v, err %v", tx3.Writable(), tx3.Err())
	}
}

// A read-only transaction reads one snapshot, whatever commits meanwhile.
func TestStoreReadOnlySnapshot(t *testing.T) {
	s := newStore(t, chunkRows)
	w := begin(t, s, true)
	put(t, w.Bucket([]byte("b")), "k", "old")
	commit(t, w)

	ro := begin(t, s, false)
	wantGet(t, ro.Bucket([]byte("b")), "k", "old", true)
	w = begin(t, s, true)
	put(t, w.Bucket([]byte("b")), "k", "new")
	put(t, w.Bucket([]byte("b")), "k2", "new")
	commit(t, w)
	wantGet(t, ro.Bucket([]byte("b")), "k", "old", true)
	if k, _ := ro.Bucket([]byte("b")).Cursor().Last(); string(k) != "k" {
		t.Fatalf("the snapshot's last key: %q", k)
	}
}

// keys is the cursor's walk from First, or from Last backwards.
func keys(c ledger.Cursor, backwards bool) []string {
	var got []string
	move, start := c.Next, c.First
	if backwards {
		move, start = c.Prev, c.Last
	}
	for k, _ := start(); k != nil && len(got) < 10000; k, _ = move() {
		got = append(got, string(k))
	}
	return got
}

func wantKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: %q\nwant %q", what, got, want)
	}
}

func wantAt(t *testing.T, what string, k, v []byte, wantK, wantV string) {
	t.Helper()
	if string(k) != wantK || string(v) != wantV || (wantK == "") != (k == nil) {
		t.Fatalf("%s: %q=%q, want %q=%q", what, k, v, wantK, wantV)
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func key(i int) string { return fmt.Sprintf("k%03d", i) }

// Cursors over committed rows and the transaction's buffered writes, across chunks.
func TestStoreCursor(t *testing.T) {
	const chunk = 4
	s := newStore(t, chunk)
	tx := begin(t, s, true)
	b := tx.Bucket([]byte("b"))
	for i := 0; i < 60; i += 2 { // k000, k002... k058: committed
		put(t, b, key(i), "c"+key(i))
	}
	put(t, tx.Bucket([]byte("a")), "k001", "another bucket")
	put(t, tx.Bucket([]byte("c")), "k001", "another bucket")
	commit(t, tx)

	tx = begin(t, s, true)
	b = tx.Bucket([]byte("b"))
	model := map[string]string{}
	for i := 0; i < 60; i += 2 {
		model[key(i)] = "c" + key(i)
	}
	for i := 1; i < 20; i += 2 { // buffered puts among the committed rows
		put(t, b, key(i), "p"+key(i))
		model[key(i)] = "p" + key(i)
	}
	for _, i := range []int{10, 20, 58} {
		del(t, b, key(i))
		delete(model, key(i))
	}
	put(t, b, key(4), "new value")
	model[key(4)] = "new value"
	put(t, b, key(99), "past the committed rows")
	model[key(99)] = "past the committed rows"
	sorted := func() []string {
		ks := make([]string, 0, len(model))
		for k := range model {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	want := sorted()

	c := b.Cursor()
	k, v := c.First()
	wantAt(t, "First", k, v, key(0), "c"+key(0))
	k, v = c.Last()
	wantAt(t, "Last", k, v, key(99), "past the committed rows")
	k, v = c.Seek([]byte(key(4)))
	wantAt(t, "Seek an existing key", k, v, key(4), "new value")
	k, v = c.Seek([]byte(key(10))) // deleted: the next
	wantAt(t, "Seek a deleted key", k, v, key(11), "p"+key(11))
	k, v = c.Seek([]byte("k0305")) // between k030 and k032
	wantAt(t, "Seek between keys", k, v, key(32), "c"+key(32))
	k, v = c.Prev()
	wantAt(t, "Prev after Seek", k, v, key(30), "c"+key(30))
	k, v = c.Seek([]byte("l"))
	wantAt(t, "Seek past the end", k, v, "", "")
	k, v = c.Next()
	wantAt(t, "Next past the end", k, v, "", "")
	k, v = c.Prev()
	wantAt(t, "Prev from past the end", k, v, key(99), "past the committed rows")
	// Back to the key before a chunk, from the chunk's first key.
	c.Seek([]byte(key(40))) // a chunk of k040 to k046
	c.Next()
	c.Next()
	c.Next()
	k, v = c.Next()
	wantAt(t, "Next into a new chunk", k, v, key(48), "c"+key(48))
	k, v = c.Seek([]byte(key(46)))
	wantAt(t, "Seek the key before the chunk", k, v, key(46), "c"+key(46))
	k, v = c.Seek(nil)
	wantAt(t, "Seek(nil)", k, v, key(0), "c"+key(0))
	k, v = c.Prev()
	wantAt(t, "Prev before the first", k, v, "", "")
	k, v = c.Next()
	wantAt(t, "Next from before the start", k, v, key(0), "c"+key(0))

	wantKeys(t, "forwards", keys(b.Cursor(), false), want)
	wantKeys(t, "backwards", keys(b.Cursor(), true), reversed(want))
	wantKeys(t, "another bucket", keys(tx.Bucket([]byte("a")).Cursor(), false), []string{"k001"})
	wantKeys(t, "an empty bucket", keys(tx.Bucket([]byte("none")).Cursor(), false), nil)

	var each []string
	if err := b.ForEach(func(k, v []byte) error {
		if model[string(k)] != string(v) {
			t.Fatalf("ForEach: %q=%q, want %q", k, v, model[string(k)])
		}
		each = append(each, string(k))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "ForEach", each, want)
	stop := errors.New("stop")
	n := 0
	if err := b.ForEach(func(k, v []byte) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("ForEach stopped by fn: %v after %d calls", err, n)
	}

	// Writes while a cursor walks: it sees them, in its chunk and past it.
	c = b.Cursor()
	c.Seek([]byte(key(12)))
	put(t, b, key(13), "while walking")
	del(t, b, key(14))
	model[key(13)] = "while walking"
	delete(model, key(14))
	k, v = c.Next()
	wantAt(t, "Next after a Put behind it", k, v, key(13), "while walking")
	k, v = c.Next()
	wantAt(t, "Next over a Delete", k, v, key(15), "p"+key(15))

	// Delete every other key while walking forwards.
	i := 0
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if i%2 == 0 {
			if err := c.Delete(); err != nil {
				t.Fatal(err)
			}
			delete(model, string(k))
		}
		i++
	}
	want = sorted()
	wantKeys(t, "after deleting every other key", keys(b.Cursor(), false), want)
	wantKeys(t, "backwards after deleting", keys(b.Cursor(), true), reversed(want))
	if err := b.Cursor().Delete(); err == nil {
		t.Fatal("Delete of a cursor on no key accepted")
	}
	commit(t, tx)

	ro := begin(t, s, false)
	wantKeys(t, "committed", keys(ro.Bucket([]byte("b")).Cursor(), false), want)
	wantKeys(t, "committed, bucket c", keys(ro.Bucket([]byte("c")).Cursor(), false), []string{"k001"})
}

// Deleting from the start while walking, as the ledger's sweeps do (First after Delete),
// empties a bucket of more rows than a chunk.
func TestStoreCursorSweep(t *testing.T) {
	s := newStore(t, 8)
	tx := begin(t, s, true)
	b := tx.Bucket([]byte("dedupe"))
	for i := 0; i < 50; i++ {
		put(t, b, key(i), "x")
	}
	commit(t, tx)
	tx = begin(t, s, true)
	b = tx.Bucket([]byte("dedupe"))
	c := b.Cursor()
	n := 0
	for k, _ := c.First(); k != nil && string(k) < key(40) && n < 100; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 40 {
		t.Fatalf("swept %d keys, want 40", n)
	}
	commit(t, tx)
	ro := begin(t, s, false)
	wantKeys(t, "after the sweep", keys(ro.Bucket([]byte("dedupe")).Cursor(), false),
		[]string{key(40), key(41), key(42), key(43), key(44), key(45), key(46), key(47), key(48), key(49)})
}

// modelCursor is where a cursor of the model stands.
type modelCursor struct {
	key   string // "" when on no key
	after bool   // on no key: past the end, else before the start
}

// storeModel is what the store holds, as a map: committed, and as the open transaction
// sees it.
type storeModel struct {
	committed, cur map[string]string
}

func (m *storeModel) sorted() []string {
	ks := make([]string, 0, len(m.cur))
	for k := range m.cur {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// move applies a cursor move to the model and returns the key it reaches ("" for none).
func (m *storeModel) move(c *modelCursor, op string, seek string) string {
	ks := m.sorted()
	at := func(i int, after bool) string {
		if i < 0 || i >= len(ks) {
			*c = modelCursor{after: after}
			return ""
		}
		c.key = ks[i]
		return c.key
	}
	first := sort.SearchStrings // index of the first key >= s
	switch {
	case op == "First" || op == "Next" && c.key == "" && !c.after:
		return at(0, true)
	case op == "Last" || op == "Prev" && c.key == "" && c.after:
		return at(len(ks)-1, false)
	case op == "Seek":
		return at(first(ks, seek), true)
	case op == "Next" && c.key == "":
		return ""
	case op == "Next":
		i := first(ks, c.key)
		if i < len(ks) && ks[i] == c.key {
			i++
		}
		return at(i, true)
	case op == "Prev" && c.key == "":
		return ""
	default: // Prev
		return at(first(ks, c.key)-1, false)
	}
}

// The store against a map: random puts, deletes, gets, cursor moves and deletes, commits and
// rollbacks, with chunks of one to four rows so that moves cross them often.
func TestStoreModel(t *testing.T) {
	s := newStore(t, 4)
	var runs atomic.Int64
	keyGen := rapid.Custom(func(t *rapid.T) string {
		return string(rapid.SliceOfN(rapid.SampledFrom([]byte{0, 1, 'a', 'b', 0xff}), 1, 3).Draw(t, "key"))
	})
	rapid.Check(t, func(rt *rapid.T) {
		bucketName := []byte(fmt.Sprintf("model%d", runs.Add(1)))
		s.chunk = rapid.IntRange(1, 4).Draw(rt, "chunk")
		m := &storeModel{committed: map[string]string{}, cur: map[string]string{}}
		tx, err := s.Begin(true)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { tx.Rollback() }()
		bk := tx.Bucket(bucketName)
		var cursors [2]ledger.Cursor
		var mcs [2]modelCursor
		var was [2]string // the key each cursor was on before its last move
		fresh := func() {
			bk = tx.Bucket(bucketName)
			for i := range cursors {
				cursors[i], mcs[i] = bk.Cursor(), modelCursor{}
			}
		}
		fresh()
		end := func(doCommit bool) {
			if doCommit {
				if err := tx.Commit(); err != nil {
					rt.Fatal(err)
				}
				m.committed = maps.Clone(m.cur)
			} else {
				tx.Rollback()
				m.cur = maps.Clone(m.committed)
			}
			if tx, err = s.Begin(true); err != nil {
				rt.Fatal(err)
			}
			fresh()
		}
		putOne := func(rt *rapid.T) {
			k := keyGen.Draw(rt, "k")
			v := string(rapid.SliceOfN(rapid.Byte(), 0, 3).Draw(rt, "v"))
			if err := bk.Put([]byte(k), []byte(v)); err != nil {
				rt.Fatal(err)
			}
			m.cur[k] = v
		}
		// move moves cursor i once and checks where it went.
		move := func(rt *rapid.T, i int) {
			op := rapid.SampledFrom([]string{"First", "Last", "Seek", "Next", "Next", "Prev", "Prev", "Delete"}).Draw(rt, "op")
			c, mc := cursors[i], &mcs[i]
			if op == "Delete" {
				err := c.Delete()
				if (err == nil) != (mc.key != "") {
					rt.Fatalf("Delete on %q: %v", mc.key, err)
				}
				delete(m.cur, mc.key)
				return
			}
			var seek string
			var k, v []byte
			switch op {
			case "First":
				k, v = c.First()
			case "Last":
				k, v = c.Last()
			case "Seek":
				seek = keyGen.Draw(rt, "seek")
				// Often a key the cursors were on: where chunks begin and end.
				switch rapid.IntRange(0, 2).Draw(rt, "seek where") {
				case 1:
					seek = cmp.Or(mcs[1-i].key, seek)
				case 2:
					seek = cmp.Or(was[i], seek)
				}
				k, v = c.Seek([]byte(seek))
			case "Next":
				k, v = c.Next()
			case "Prev":
				k, v = c.Prev()
			}
			was[i] = cmp.Or(mc.key, was[i])
			want := m.move(mc, op, seek)
			if string(k) != want || (k == nil) != (want == "") || (k != nil && string(v) != m.cur[want]) {
				rt.Fatalf("%s(%q) = %q=%q, want %q=%q", op, seek, k, v, want, m.cur[want])
			}
		}
		rt.Repeat(map[string]func(*rapid.T){
			"put":          putOne,
			"put, another": putOne, // twice as many puts as deletes: buckets of several chunks
			"delete": func(rt *rapid.T) {
				k := keyGen.Draw(rt, "k")
				if err := bk.Delete([]byte(k)); err != nil {
					rt.Fatal(err)
				}
				delete(m.cur, k)
			},
			"get": func(rt *rapid.T) {
				k := keyGen.Draw(rt, "k")
				v, ok := get(bk, k)
				if want, wantOK := m.cur[k]; v != want || ok != wantOK {
					rt.Fatalf("Get(%q) = %q, %v; want %q, %v", k, v, ok, want, wantOK)
				}
			},
			"cursor": func(rt *rapid.T) {
				i := rapid.IntRange(0, 1).Draw(rt, "cursor")
				for range rapid.IntRange(1, 8).Draw(rt, "moves") { // a walk
					move(rt, i)
				}
			},
			"commit":   func(rt *rapid.T) { end(true) },
			"rollback": func(rt *rapid.T) { end(false) },
			"": func(rt *rapid.T) {
				if err := tx.Err(); err != nil {
					rt.Fatal(err)
				}
			},
		})
		var got []string
		bk.ForEach(func(k, v []byte) error {
			got = append(got, string(k))
			return nil
		})
		if want := m.sorted(); !slices.Equal(got, want) {
			rt.Fatalf("ForEach: %q, want %q", got, want)
		}
	})
}

// Writable transactions of several writers follow one another: none loses another's
// increment of a counter, though each reads it, waits, and writes it back. Read-only
// transactions never wait for the writer lock.
func TestStoreWriterLock(t *testing.T) {
	s := newStore(t, chunkRows)
	const writers, rounds = 4, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	stopReaders := make(chan struct{})
	var reads atomic.Int64
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				if err := increment(s); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	readerDone := make(chan error, 1)
	go func() { // reads while the writers hold the lock, each quickly
		for i := 0; i < 1000; i++ {
			select {
			case <-stopReaders:
				readerDone <- nil
				return
			default:
			}
			began := time.Now()
			tx, err := s.Begin(false)
			if err != nil {
				readerDone <- err
				return
			}
			tx.Bucket([]byte("n")).Get([]byte("counter"))
			tx.Rollback()
			if d := time.Since(began); d > time.Second {
				readerDone <- fmt.Errorf("a read-only transaction took %v", d)
				return
			}
			reads.Add(1)
		}
		readerDone <- nil
	}()
	wg.Wait()
	close(stopReaders)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	tx := begin(t, s, false)
	if got := tx.Bucket([]byte("n")).Get([]byte("counter")); len(got) != 1 || int(got[0]) != writers*rounds {
		t.Fatalf("counter %v, want %d", got, writers*rounds)
	}
	t.Logf("%d read-only transactions meanwhile", reads.Load())

	// A writer waits for the lock's holder; a reader does not.
	holder := begin(t, s, true)
	put(t, holder.Bucket([]byte("n")), "held", "1")
	began := make(chan ledger.Tx, 1)
	go func() {
		tx, err := s.Begin(true)
		if err != nil {
			t.Error(err)
		}
		began <- tx
	}()
	ro := begin(t, s, false)
	wantGet(t, ro.Bucket([]byte("n")), "held", "", false)
	select {
	case tx := <-began:
		tx.Rollback()
		t.Fatal("a second writer began while the first held the lock")
	case <-time.After(200 * time.Millisecond):
	}
	commit(t, holder)
	select {
	case tx := <-began:
		if tx != nil {
			wantGet(t, tx.Bucket([]byte("n")), "held", "1", true)
			tx.Rollback()
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second writer still waits after the first committed")
	}
}

// increment adds one to the counter, as a ledger's batch reads and writes its state.
func increment(s *Store) error {
	tx, err := s.Begin(true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	b := tx.Bucket([]byte("n"))
	var n byte
	if v := b.Get([]byte("counter")); len(v) == 1 {
		n = v[0]
	}
	time.Sleep(time.Millisecond)
	if err := b.Put([]byte("counter"), []byte{n + 1}); err != nil {
		return err
	}
	if err := tx.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

// A transaction whose connection the server ends records the failure: its reads return
// nil, its writes and its Commit are refused, and the store goes on with new transactions.
func TestStoreErrTerminatedBackend(t *testing.T) {
	s := newStore(t, chunkRows)
	ctx := ctxT(t)
	tx := begin(t, s, true)
	b := tx.Bucket([]byte("b"))
	put(t, b, "k", "v")
	pid := tx.(*storeTx).conn.Conn().PgConn().PID()
	if _, err := s.db.pool.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	if v := b.Get([]byte("other")); v != nil || tx.Err() == nil {
		t.Fatalf("Get on an ended connection: %q, Err %v", v, tx.Err())
	}
	first := tx.Err()
	t.Log(first)
	wantGet(t, b, "k", "v", true) // the transaction's own writes are still read from memory
	if k, _ := b.Cursor().First(); k != nil {
		t.Fatalf("a cursor of a failed transaction read %q", k)
	}
	if err := b.Put([]byte("k2"), nil); !errors.Is(err, first) {
		t.Fatalf("Put after the failure: %v, want %v", err, first)
	}
	if err := tx.Commit(); !errors.Is(err, first) {
		t.Fatalf("Commit after the failure: %v, want %v", err, first)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	tx2 := begin(t, s, true)
	wantGet(t, tx2.Bucket([]byte("b")), "k", "", false)
	if tx2.Err() != nil {
		t.Fatal(tx2.Err())
	}
}

// A statement the database refuses (a bucket name text cannot hold) fails the transaction,
// and its Commit sends nothing.
func TestStoreErrBadStatement(t *testing.T) {
	s := newStore(t, chunkRows)
	tx := begin(t, s, true)
	put(t, tx.Bucket([]byte("b")), "k", "v")
	if v := tx.Bucket([]byte("bad\x00name")).Get([]byte("k")); v != nil || tx.Err() == nil {
		t.Fatalf("Get from a bucket text cannot name: %q, Err %v", v, tx.Err())
	}
	t.Log(tx.Err())
	if err := tx.Commit(); err == nil {
		t.Fatal("Commit of a failed transaction accepted")
	}
	ro := begin(t, s, false)
	wantGet(t, ro.Bucket([]byte("b")), "k", "", false)

	// A write the database refuses at Commit fails it, and nothing of it is kept.
	tx = begin(t, s, true)
	put(t, tx.Bucket([]byte("b")), "k", "v")
	put(t, tx.Bucket([]byte("bad\x00name")), "k", "v")
	if err := tx.Commit(); err == nil || tx.Err() == nil {
		t.Fatalf("Commit of a refused write: %v, Err %v", err, tx.Err())
	}
	ro = begin(t, s, false)
	wantGet(t, ro.Bucket([]byte("b")), "k", "", false)
}

func TestStoreRetryableAndName(t *testing.T) {
	s := &Store{}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "40001"}, true},
		{fmt.Errorf("pgledger: commit: %w", &pgconn.PgError{Code: "40P01"}), true},
		{&pgconn.PgError{Code: "23505"}, false},
		{errors.New("40001"), false},
		{nil, false},
	} {
		if got := s.Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v", c.err, got)
		}
	}

	pool, err := pgxpool.New(context.Background(), "host=db.example port=5433 user=mpg password=hunter2 dbname=ledger")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	name := NewStore(&DB{pool: pool}).Name()
	if name != "PostgreSQL database ledger on db.example:5433" || strings.Contains(name, "hunter2") {
		t.Fatalf("Name: %q", name)
	}
	if name := newStore(t, chunkRows).Name(); !strings.Contains(name, "socket") {
		t.Fatalf("Name on a socket: %q", name)
	}
}

// BenchmarkStoreBatch is a ledger batch's round trips: a transaction that puts 1000 keys
// and gets 1000 missing ones, then commits; and each half alone (the puts cost one round
// trip at Commit, each Get one of its own).
func BenchmarkStoreBatch(b *testing.B) {
	s := newStore(b, chunkRows)
	for _, c := range []struct {
		name       string
		puts, gets int
	}{{"put1000+get1000", 1000, 1000}, {"put1000", 1000, 0}, {"get1000", 0, 1000}} {
		b.Run(c.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				batch(b, s, n, c.puts, c.gets)
				n++
			}
		})
	}
}

// batch runs the n-th transaction of a benchmark.
func batch(b *testing.B, s *Store, n, puts, gets int) {
	val := bytes.Repeat([]byte("v"), 100)
	tx, err := s.Begin(true)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	bk := tx.Bucket([]byte(fmt.Sprintf("bench%d-%d", puts, gets)))
	for i := 0; i < puts; i++ {
		if err := bk.Put(fmt.Appendf(nil, "%08d-%04d", n, i), val); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < gets; i++ {
		if bk.Get(fmt.Appendf(nil, "missing-%08d-%04d", n, i)) != nil {
			b.Fatal("a missing key found")
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// TestStorePrefetch: keys read ahead in one query read as the database and the
// transaction's own writes have them, before and after later writes and a cursor's flush.
func TestStorePrefetch(t *testing.T) {
	s := newStore(t, 2)
	tx := begin(t, s, true)
	b := tx.Bucket([]byte("ids"))
	put(t, b, "a", "1")
	put(t, b, "b", "2")
	commit(t, tx)

	tx = begin(t, s, true)
	b = tx.Bucket([]byte("ids"))
	put(t, b, "c", "mine") // written before the read-ahead: the write wins
	tx.(ledger.Prefetcher).Prefetch([]ledger.KeyRef{
		{Bucket: []byte("ids"), Key: []byte("a")}, {Bucket: []byte("ids"), Key: []byte("c")},
		{Bucket: []byte("ids"), Key: []byte("z")}, {Bucket: []byte("other"), Key: []byte("b")},
	})
	if n := len(b.(*bucket).known); n != 2 {
		t.Fatalf("%d keys of ids read ahead, want a and z", n)
	}
	wantGet(t, b, "a", "1", true)
	wantGet(t, b, "c", "mine", true)
	wantGet(t, b, "z", "", false)
	wantGet(t, tx.Bucket([]byte("other")), "b", "", false)
	put(t, b, "z", "new")
	del(t, b, "a")
	if k, _ := b.Cursor().First(); string(k) != "b" { // flushes the writes
		t.Fatalf("first key after the writes: %q", k)
	}
	wantGet(t, b, "a", "", false)
	wantGet(t, b, "z", "new", true)
	commit(t, tx)
	ro := begin(t, s, false)
	wantGet(t, ro.Bucket([]byte("ids")), "z", "new", true)
	wantGet(t, ro.Bucket([]byte("ids")), "a", "", false)
}

// TestPaymentBatchesReadAhead: payment jobs (a transfer, a dedupe record, a reply) and the
// replies' sent marks make no single-key read under the writer lock but the last outbox id
// (one a batch): the keys they name are read ahead, in one query a batch.
func TestPaymentBatchesReadAhead(t *testing.T) {
	db := newDB(t)
	s := NewStore(db)
	if err := ledger.InitShared(s); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.OpenShared(s, &ledger.Options{Daemon: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	res, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{
		{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	float, shop := res.Accounts[0].ID, res.Accounts[1].ID
	before := s.RoundTrips()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.Submit(ctx, domain.Job{
				Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: float, Credit: shop, Amount: 1}},
				Dedupe:    &domain.Dedupe{Key: fmt.Sprintf("mo-%d", i), TTL: time.Hour, Result: []byte("ok")},
				Messages:  []domain.Message{{From: "1234", To: "SHOP42", Text: "paid"}},
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for sent := 0; sent < 64; {
		msgs, err := l.NextMessages(wctx, 64)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if err := l.MarkSent(ctx, m.ID, fmt.Sprintf("s%d", m.ID)); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	for what, n := range s.RoundTrips() {
		if d := n - before[what]; d > 0 && strings.HasPrefix(what, "write get ") && what != "write get meta" {
			t.Errorf("%d single reads under the writer lock (%s): not read ahead", d, what)
		}
	}
}
