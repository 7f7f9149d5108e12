package ledger

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"mpg/domain"
)

// The ledger keeps a check value of each server key it is used with (never the key: the
// caller derives the value, see config.CheckValue), in the meta bucket under "key check
// <name>". Opening the file with Options.KeyChecks records the values it lacks and refuses a
// key whose value differs, before anything runs with it; RotateKeys replaces values on
// purpose, with an audit entry in the same commit.

// KeyCheck is the check value of one server key, under the key's name ("PIN", "receipt").
type KeyCheck struct {
	Name  string
	Value []byte
}

// KeyMismatchError says the file was used with another key of that name.
type KeyMismatchError struct {
	Path     string
	Name     string
	Recorded []byte // the check value in the file
	Given    []byte // the check value of the key at hand
}

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("%s was used with another %s key (check value %x, this one %x)", e.Path, e.Name, e.Recorded, e.Given)
}

// Bounds of a key check.
const (
	maxKeyNameLen  = 32
	maxKeyCheckLen = 32
)

const keyCheckPrefix = "key check "

func keyCheckKey(name string) []byte { return []byte(keyCheckPrefix + name) }

func validKeyChecks(checks []KeyCheck) error {
	for _, c := range checks {
		if c.Name == "" || len(c.Name) > maxKeyNameLen || len(c.Value) == 0 || len(c.Value) > maxKeyCheckLen {
			return fmt.Errorf("key check %q: a name of 1..%d bytes and a value of 1..%d bytes", c.Name, maxKeyNameLen, maxKeyCheckLen)
		}
	}
	return nil
}

// compareKeys returns the first check whose recorded value differs, and those not recorded.
func (l *Ledger) compareKeys(tx Tx, checks []KeyCheck) (missing []KeyCheck, err error) {
	m := tx.Bucket(bktMeta)
	for _, c := range checks {
		rec := m.Get(keyCheckKey(c.Name))
		switch {
		case rec == nil:
			missing = append(missing, c)
		case !bytes.Equal(rec, c.Value):
			return nil, &KeyMismatchError{Path: l.path, Name: c.Name, Recorded: bytes.Clone(rec), Given: bytes.Clone(c.Value)}
		}
	}
	return missing, nil
}

// checkKeysAtOpen refuses a key the file was used with another of, and records the ones it
// has never seen, in one transaction before the writer starts: nothing runs with a wrong key.
func (l *Ledger) checkKeysAtOpen(checks []KeyCheck) error {
	if len(checks) == 0 {
		return nil
	}
	if err := validKeyChecks(checks); err != nil {
		return err
	}
	return l.updateTx(func(tx Tx) error {
		if tx.Bucket(bktMeta) == nil || tx.Bucket(bktMeta).Get(keySchema) == nil {
			return nil // not a ledger: load says so
		}
		missing, err := l.compareKeys(tx, checks)
		if err != nil {
			return err
		}
		for _, c := range missing {
			if err := tx.Bucket(bktMeta).Put(keyCheckKey(c.Name), bytes.Clone(c.Value)); err != nil {
				return err
			}
		}
		return nil
	})
}

// CheckKeys compares check values with those recorded (a key the file has no value for
// passes); it writes nothing. The daemon asks it of a CLI's keys on the admin socket.
func (l *Ledger) CheckKeys(checks []KeyCheck) error {
	if err := validKeyChecks(checks); err != nil {
		return err
	}
	return l.view(func(tx Tx) error {
		_, err := l.compareKeys(tx, checks)
		return err
	})
}

// KeyChecks returns the recorded check values by key name.
func (l *Ledger) KeyChecks() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := l.view(func(tx Tx) error {
		c := tx.Bucket(bktMeta).Cursor()
		for k, v := c.Seek([]byte(keyCheckPrefix)); k != nil && strings.HasPrefix(string(k), keyCheckPrefix); k, v = c.Next() {
			out[strings.TrimPrefix(string(k), keyCheckPrefix)] = bytes.Clone(v)
		}
		return nil
	})
	return out, err
}

// RotateKeys records new check values (a key changed on purpose) with an audit entry, both
// in one commit: the file never holds a new value without the entry that says who set it.
func (l *Ledger) RotateKeys(ctx context.Context, checks []KeyCheck, audit domain.Audit) error {
	if len(checks) == 0 {
		return fmt.Errorf("rotate keys: no check value given")
	}
	if err := validKeyChecks(checks); err != nil {
		return err
	}
	r := &jobReq{job: &domain.Job{Audit: &audit}, meta: make([]metaPut, len(checks)), done: make(chan struct{})}
	for i, c := range checks {
		r.meta[i] = metaPut{key: keyCheckKey(c.Name), val: bytes.Clone(c.Value)}
	}
	if err := l.enqueue(ctx, r); err != nil {
		return err
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// metaPut is one write to the meta bucket made with a job, in its commit.
type metaPut struct {
	key, val []byte
}

// putMeta writes a job's meta records in the batch's transaction.
func (w *batchWriter) putMeta(puts []metaPut) {
	b := w.tx.Bucket(bktMeta)
	for _, p := range puts {
		if err := b.Put(p.key, p.val); err != nil && w.ioErr == nil {
			w.ioErr = err
		}
	}
}
