package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"mpg/domain"
)

// openPeople loads the file's people before anything reads an account: it moves a file
// written before party ids to them, moves people sealed under a key kept in the file to the
// identity key given, and erases again whoever the erasure log names (a restored backup).
func (l *Ledger) openPeople() error {
	l.people = newPeople(nil)
	return l.updateTx(func(tx Tx) error {
		m := tx.Bucket(bktMeta)
		if m == nil || m.Get(keySchema) == nil {
			return nil // not a ledger: load says so
		}
		key, err := identityKey(tx, l.opt.IdentityKey)
		if err != nil {
			return err
		}
		rewrapped := len(l.opt.IdentityKey) > 0 && m.Get(keyIdentityInFile) != nil
		if rewrapped {
			if err := rewrap(tx, m.Get(keyIdentityInFile), key); err != nil {
				return err
			}
		}
		l.people = newPeople(key)
		if l.opt.PeopleCache > 0 {
			l.people.max = l.opt.PeopleCache
		}
		if err := l.people.check(tx); err != nil {
			return fmt.Errorf("%s: %w (see README 'Keys')", l.path, err)
		}
		if rewrapped {
			if err := l.people.reindex(tx); err != nil {
				return err
			}
		}
		if err := l.migrate(tx, binary.BigEndian.Uint64(m.Get(keySchema))); err != nil {
			return err
		}
		return l.replayErasures(tx)
	})
}

// migrate brings a file of an earlier schema to this one, step by step, in the open's
// transaction; the pages it frees are compacted at the next open.
func (l *Ledger) migrate(tx Tx, schema uint64) error {
	if schema >= SchemaVersion {
		return nil // a later schema is refused by the check that follows
	}
	if schema == 1 {
		// The log names erased people by party ids, which such a file never had: the
		// erasures could not be replayed on it, and it would bring them back.
		if n := l.erasuresLogged(); n > 0 {
			return fmt.Errorf("%s predates party ids (schema 1), and the erasure log %s records %d erasure(s) since, which cannot be replayed on it: restore a backup taken since the move to party ids, or move the log aside to open this one and erase those people again by number (mpg subscriber erase --now)", l.path, l.opt.ErasureLog, n)
		}
		if err := l.movePeople(tx); err != nil {
			return fmt.Errorf("%s: moving people to party ids: %w", l.path, err)
		}
	}
	if schema == 2 {
		// Merchants' phones were kept as numbers in their accounts and journal entries.
		w := &batchWriter{l: l, tx: tx}
		if err := errors.Join(l.moveAccountRecords(w), l.rechain(w), w.ioErr); err != nil {
			return fmt.Errorf("%s: moving merchants' phones to party ids: %w", l.path, err)
		}
	}
	if err := l.sealRest(tx); err != nil {
		return fmt.Errorf("%s: sealing records and messages: %w", l.path, err)
	}
	m := tx.Bucket(bktMeta)
	if err := m.Put(keySchema, u64key(SchemaVersion)); err != nil {
		return err
	}
	return m.Put(keyCompactPending, []byte{1})
}

// rewrap seals every person's key under the identity key given instead of the file's own,
// and drops the file's own: from then on a copy of the file alone reveals nobody.
func rewrap(tx Tx, inFile, given []byte) error {
	from, to := gcm(newPeople(inFile).wrap), gcm(newPeople(given).wrap)
	b := tx.Bucket(bktPartyKeys)
	type kv struct{ k, v []byte }
	var all []kv
	err := b.ForEach(func(k, v []byte) error {
		key, err := unseal(from, v, k)
		if err != nil {
			return fmt.Errorf("party %s: %w", k, ErrIdentityKey)
		}
		all = append(all, kv{bytes.Clone(k), seal(to, key, k)})
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range all {
		if err := b.Put(e.k, e.v); err != nil {
			return err
		}
	}
	return tx.Bucket(bktMeta).Delete(keyIdentityInFile)
}

// movePeople turns a file of schema 1, where people are named by their numbers, into
// schema 2 in one transaction: every person gets a party; account records, the owner,
// hold and profile indexes and the journal name the party; names are sealed. Rewriting the
// journal changes every hash after the first entry that named a number, so the chain is
// computed again from there, and an audit entry at its end records the head it replaced.
// Transfers, balances and journal positions (and so receipts) do not change.
func (l *Ledger) movePeople(tx Tx) (err error) {
	w := &batchWriter{l: l, tx: tx}
	defer func() {
		if err == nil {
			err = w.ioErr
		}
	}()
	if err := l.moveAccountRecords(w); err != nil {
		return err
	}
	for _, b := range [][]byte{bktOwners, bktHolds} {
		if err := moveIndex(w, b); err != nil {
			return err
		}
	}
	if err := moveProfiles(w); err != nil {
		return err
	}
	return l.rechain(w)
}

func (l *Ledger) moveAccountRecords(w *batchWriter) error {
	b := w.tx.Bucket(bktAccounts)
	var moved [][2][]byte
	err := b.ForEach(func(k, v []byte) error {
		a, asOf, err := decodeAccountRecord(v)
		if err != nil || !isNumber(a.Owner) && !isNumber(a.Phone) {
			return err
		}
		if _, err := w.party(a.Owner); err != nil {
			return err
		}
		if _, err := w.party(a.Phone); err != nil {
			return err
		}
		disk := l.people.diskAccount(w.tx, a)
		moved = append(moved, [2][]byte{bytes.Clone(k), encodeAccountRecord(&disk, asOf)})
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range moved {
		if err := b.Put(m[0], m[1]); err != nil {
			return err
		}
	}
	return nil
}

// moveIndex renames the number part of an index's keys (owner | 0 | 8 bytes) to the party.
func moveIndex(w *batchWriter, name []byte) error {
	b := w.tx.Bucket(name)
	var old [][]byte
	b.ForEach(func(k, _ []byte) error {
		if len(k) > 9 && isNumber(string(k[:len(k)-9])) {
			old = append(old, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range old {
		party, err := w.party(string(k[:len(k)-9]))
		if err != nil {
			return err
		}
		if err := b.Delete(k); err != nil {
			return err
		}
		if err := b.Put(ownerIndexKey(party, be64(k[len(k)-8:])), []byte{}); err != nil {
			return err
		}
	}
	return nil
}

func moveProfiles(w *batchWriter) error {
	b := w.tx.Bucket(bktProfiles)
	var old [][2][]byte
	b.ForEach(func(k, v []byte) error {
		if bytes.IndexByte(k, '+') >= 0 {
			old = append(old, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		}
		return nil
	})
	for _, kv := range old {
		key, err := w.partyWords(string(kv[0]), ":")
		if err != nil || key == string(kv[0]) {
			continue
		}
		if err := b.Delete(kv[0]); err != nil {
			return err
		}
		if err := b.Put([]byte(key), kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// rechain rewrites the journal entries that name a number and every hash after the first of
// them, then appends the audit entry that records the replaced head.
func (l *Ledger) rechain(w *batchWriter) error {
	j := w.tx.Bucket(bktJournal)
	var prev, oldHead [32]byte
	var seq uint64
	var ts int64
	changed := false
	type kv struct{ k, v []byte }
	var out []kv
	c := j.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		en, err := splitEntry(v)
		if err != nil {
			return err
		}
		seq, ts, oldHead = be64(k), en.ts, en.hash
		body, moved, err := l.movedBody(w, en)
		if err != nil {
			return fmt.Errorf("journal entry %d: %w", seq, err)
		}
		changed = changed || moved
		if !changed {
			prev = en.hash
			continue
		}
		nv, h := sealEntry(nil, prev, seq, en.typ, en.ts, func(e *enc) { e.b = append(e.b, body...) })
		out, prev = append(out, kv{bytes.Clone(k), nv}), h
	}
	for _, e := range out {
		if err := j.Put(e.k, e.v); err != nil {
			return err
		}
	}
	if !changed {
		return nil
	}
	detail := fmt.Sprintf("people named by party ids (owners, holds' payees, merchants' phones); journal chained again from its first entry naming a number; the previous head was entry %d, hash %s",
		seq, hex.EncodeToString(oldHead[:]))
	seq++
	v, _ := sealEntry(nil, prev, seq, entAudit, max(ts+1, l.opt.Now().UnixNano()), func(e *enc) {
		e.str("mpg")
		e.str("ledger migrate")
		e.str(detail)
	})
	return j.Put(u64key(seq), v)
}

// movedBody is an entry's payload with its person named by party: an account's owner and
// name, a hold's payee (one who never registered gets a party here). moved says whether it
// changed.
func (l *Ledger) movedBody(w *batchWriter, en entry) ([]byte, bool, error) {
	d := dec{b: en.body}
	e := enc{}
	switch en.typ {
	case entAccount:
		a := d.accountStatic()
		if d.err != nil || !isNumber(a.Owner) && !isNumber(a.Phone) {
			return en.body, false, d.err
		}
		if _, err := w.party(a.Owner); err != nil {
			return nil, false, err
		}
		if _, err := w.party(a.Phone); err != nil {
			return nil, false, err
		}
		disk := l.people.diskAccount(w.tx, a)
		e.accountStatic(&disk)
	case entTransfer:
		t := d.transfer()
		if d.err != nil || !isNumber(t.For) {
			return en.body, false, d.err
		}
		party, err := w.party(t.For)
		if err != nil {
			return nil, false, err
		}
		t.For = party
		e.transfer(&t)
	case entAudit:
		a := domain.Audit{Actor: d.str(), Action: d.str(), Detail: d.str()}
		actor, err := w.partyWords(a.Actor, " ")
		if err != nil || d.err != nil {
			return nil, false, errors.Join(err, d.err)
		}
		detail, err := w.partyWords(a.Detail, " ")
		if err != nil || (actor == a.Actor && detail == a.Detail) {
			return en.body, false, err
		}
		e.str(actor)
		e.str(a.Action)
		e.str(detail)
	default:
		return en.body, false, nil
	}
	return e.b, true, nil
}
