package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"mpg/domain"
)

// A person's cases (those of his payments and those he opened) are found through an index
// keyed by his number, written with the case: an export or an erasure reads his cases, not
// every case. A file whose cases predate the index is indexed once by IndexCases (the
// daemon's sweep runs it); until then casesOf reads every case, as before.
const (
	keyDisputePerson = "@dp:"      // + number + ":" + case id
	keyCasesIndexed  = "@dp-built" // every case is in the person index
)

// maxCaseScan bounds the case records read to find one person's (an export, an erasure).
const maxCaseScan = 1000000

// casePeople are the numbers a case is filed under: its payer and, if another person, its
// opener.
func casePeople(c *domain.Dispute) []string {
	var out []string
	for _, n := range []string{c.MSISDN, c.By} {
		if domain.IsMSISDN(n) && (len(out) == 0 || out[0] != n) {
			out = append(out, n)
		}
	}
	return out
}

func casePersonKey(number, id string) string { return keyDisputePerson + number + ":" + id }

// fileCase files case id under a person who still has a profile, guarded by its version:
// a person erased meanwhile (his profile gone) is never brought back by his index entry.
// It reports 1 when it wrote the entry.
func (e *Engine) fileCase(ctx context.Context, who, id string) (int, error) {
	for range maxTurns {
		_, v, err := e.l.Profile(who)
		if err != nil || v == 0 {
			return 0, err // nobody now: nothing to file under
		}
		_, err = e.l.Submit(ctx, domain.Job{Reads: []domain.Profile{{Owner: who, Version: v}},
			Profiles: []domain.Profile{{Owner: casePersonKey(who, id), Data: indexEntry}}})
		if err == nil {
			return 1, nil
		}
		if !errors.Is(err, domain.ErrConflict) {
			return 0, err
		}
		if _, fv, _ := e.l.Profile(casePersonKey(who, id)); fv != 0 {
			return 0, nil // filed already, by the case itself
		}
	}
	return 0, nil // his profile keeps moving: the next sweep files it
}

// casesOf calls f with every case whose payer or opener is the number.
func (e *Engine) casesOf(number string, f func(c domain.Dispute, ver uint64) error) error {
	if _, v, err := e.l.Profile(keyCasesIndexed); err != nil || v == 0 {
		return e.casesByScan(number, f)
	}
	prefix := keyDisputePerson + number + ":"
	_, err := e.scan(prefix, "", maxCaseScan, func(r domain.Profile) (bool, error) {
		c, ver, err := e.dispute(strings.TrimPrefix(r.Owner, prefix))
		if err != nil {
			return false, err
		}
		return true, f(c, ver)
	})
	return err
}

// casesByScan is casesOf over every case.
func (e *Engine) casesByScan(number string, f func(c domain.Dispute, ver uint64) error) error {
	_, err := e.scan(keyDispute, "", maxCaseScan, func(r domain.Profile) (bool, error) {
		var c domain.Dispute
		if err := json.Unmarshal(r.Data, &c); err != nil {
			return false, err
		}
		if c.MSISDN == number || c.By == number {
			return true, f(c, r.Version)
		}
		return true, nil
	})
	return err
}

// IndexCases files every case under its people once, then marks the index complete. It
// reports how many entries it wrote; 0 once the index is complete.
func (e *Engine) IndexCases(ctx context.Context) (int, error) {
	if _, v, err := e.l.Profile(keyCasesIndexed); err != nil || v != 0 {
		return 0, err
	}
	n := 0
	more, err := e.scan(keyDispute, "", maxCaseScan, func(r domain.Profile) (bool, error) {
		var c domain.Dispute
		if err := json.Unmarshal(r.Data, &c); err != nil {
			return false, err
		}
		for _, who := range casePeople(&c) {
			filed, err := e.fileCase(ctx, who, c.ID)
			if err != nil {
				return false, err
			}
			n += filed
		}
		return true, nil
	})
	if err != nil {
		return n, err
	}
	if more {
		return n, fmt.Errorf("more than %d dispute cases: the person index is left incomplete, and cases are found by a scan", maxCaseScan)
	}
	_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: keyCasesIndexed, Data: indexEntry}}})
	if errors.Is(err, domain.ErrConflict) {
		err = nil
	}
	return n, err
}
