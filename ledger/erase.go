package ledger

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"mpg/domain"
)

// ErrNoPerson: the number names nobody the file knows (never seen, or erased already).
var ErrNoPerson = domain.ErrNoPerson

// Erase makes a person unreadable for good: his key, sealed number and index entry are
// destroyed and his profile deleted, so what the journal and every backup hold of him (a
// party id, a sealed name) can never be read again; his accounts, their transfers and
// balances, and every hash of the chain stay as they were. The erasure is appended to the
// erasure log (and synced) before it is committed, and the log is replayed at every open:
// a backup restored from before the erasure is erased again. It returns the party id, which
// is all the audit entry (written in the same commit) and the log name him by.
func (l *Ledger) Erase(ctx context.Context, number string, audit domain.Audit) (string, error) {
	var party string
	l.view(func(tx Tx) error {
		party, _ = l.people.party(tx, number)
		return nil
	})
	if party == "" {
		return "", ErrNoPerson
	}
	if len(audit.Detail)+len(party)+1 > domain.MaxAuditLen || len(audit.Actor) > domain.MaxStringLen || audit.Action == "" {
		return "", fmt.Errorf("erase: an audit action, actor at most %d bytes, detail at most %d", domain.MaxStringLen, domain.MaxAuditLen-len(party)-1)
	}
	if l.shared != nil && l.opt.ErasureLog == "" {
		// A database's backups are the operator's (README, PostgreSQL): no log beside a file.
	} else if err := appendErasure(l.opt.ErasureLog, party, l.opt.Now()); err != nil {
		return "", fmt.Errorf("erasure log: %w", err)
	}
	audit.Detail = strings.TrimSpace(party + " " + audit.Detail)
	r := &jobReq{job: &domain.Job{Audit: &audit}, erase: party, done: make(chan struct{})}
	if err := l.enqueue(ctx, r); err != nil {
		return "", err
	}
	select {
	case <-r.done:
		return party, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// appendErasure adds one line to the erasure log: time and party id, nothing personal.
func appendErasure(path, party string, now time.Time) error {
	if path == "" {
		return errors.New("no erasure log")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err = fmt.Fprintf(f, "%s %s\n", now.UTC().Format(time.RFC3339Nano), party); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// erase forgets a party in the batch's transaction and in memory: loaded accounts show the
// party id and no name from now on.
func (w *batchWriter) erase(party string) error {
	number := w.l.people.number(w.tx, party)
	if _, err := w.l.people.forget(w.tx, party); err != nil {
		return err
	}
	w.erased = append(w.erased, party) // taken back if the batch fails (shared.go)
	if err := w.tx.Bucket(bktProfiles).Delete([]byte(party)); err != nil {
		return err
	}
	if err := w.failQueuedTo(party); err != nil {
		return err
	}
	if err := w.tx.Bucket(bktMeta).Put(keyCompactPending, []byte{1}); err != nil {
		return err
	}
	l := w.l
	for _, p := range l.st.pending {
		if p.t.For != "" && p.t.For == number {
			p.t.For = party // its hold index entry is under the party: the void or post finds it
		}
	}
	for _, id := range ownedIDs(w.tx, party) {
		if id >= uint64(len(l.accounts)) || l.accounts[id] == nil {
			continue // not loaded: its record already names the party
		}
		a := l.accounts[id]
		l.viewMu.Lock()
		a.Owner, a.Name = party, ""
		l.viewMu.Unlock()
		l.markDirty(a) // its next record drops the sealed name
	}
	return nil
}

// erasuresLogged counts the erasure log's entries (0 without a log).
func (l *Ledger) erasuresLogged() int {
	b, err := os.ReadFile(l.opt.ErasureLog)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// failQueuedTo ends the SMS still to send to an erased party: failed, "recipient erased"
// (his number is gone, they cannot be delivered). The sender's queue drops them at its
// next look.
func (w *batchWriter) failQueuedTo(party string) error {
	q, box := w.tx.Bucket(bktOutQueue), w.tx.Bucket(bktOutbox)
	var ids [][]byte
	err := q.ForEach(func(k, _ []byte) error {
		m, err := decodeMessage(box.Get(k))
		if err == nil && m.To == party {
			ids = append(ids, bytes.Clone(k))
		}
		return err
	})
	for _, k := range ids {
		m, _ := decodeMessage(box.Get(k))
		m.Status, m.Reason = domain.MsgFailed, "recipient erased"
		e := enc{}
		e.message(&m)
		err = errors.Join(err, box.Put(k, e.b), q.Delete(k))
		w.l.out.drop(be64(k)) // a failed commit stops the ledger: the schedule does not matter then
	}
	return err
}

// replayErasures erases again whoever the erasure log names and the file still knows: the
// file is a backup restored from before those erasures.
func (l *Ledger) replayErasures(tx Tx) error {
	f, err := os.Open(l.opt.ErasureLog)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("erasure log: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) != 2 || !IsParty(fields[1]) {
			continue
		}
		found, err := l.people.forget(tx, fields[1])
		if err != nil {
			return err
		}
		if !found {
			continue // erased in this file already
		}
		if err := (&batchWriter{l: l, tx: tx}).failQueuedTo(fields[1]); err != nil {
			return err
		}
		if err := tx.Bucket(bktProfiles).Delete([]byte(fields[1])); err != nil {
			return err
		}
	}
	return s.Err()
}
