package ledger

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"mpg/domain"
	"os"
	"path/filepath"
)

// Report is what Verify found.
type Report struct {
	Entries    uint64            `json:"entries"`
	Accounts   uint64            `json:"accounts"`
	Transfers  uint64            `json:"transfers"`
	Pending    uint64            `json:"pending"`
	Currencies map[string]uint64 `json:"posted_volume_by_currency"`
	// Head is the hash of the last journal entry: two books with the same head hold the
	// same journal, and so (each verified) the same transfers and balances.
	Head string `json:"head,omitempty"`
	// Problem is the first broken thing, precisely; empty when the file is clean.
	Problem string `json:"problem,omitempty"`
}

// OK reports whether nothing was found broken.
func (r *Report) OK() bool { return r.Problem == "" }

// Verify rebuilds the books from the journal alone in one read transaction (writes go on)
// and checks them: the hash chain, every transfer against the accounts it names, every
// balance against the checkpointed and the live ones, debits equal credits per currency,
// every constraint flag, and the open pending transfers. progress, if set, is called
// with entries done and the total now and then.
func (l *Ledger) Verify(ctx context.Context, progress func(done, total uint64)) (*Report, error) {
	rep := &Report{Currencies: map[string]uint64{}}
	err := l.view(func(tx Tx) error {
		return verifyTx(ctx, tx, l, rep, progress)
	})
	return rep, err
}

func verifyTx(ctx context.Context, tx Tx, l *Ledger, rep *Report, progress func(done, total uint64)) error {
	type acct struct {
		a   domain.Account
		bal domain.Balances
	}
	accts := []*acct{nil}
	pending := map[domain.ID]domain.Transfer{}
	var prev [32]byte
	var lastTS int64
	bad := func(format string, args ...any) error {
		rep.Problem = fmt.Sprintf(format, args...)
		return nil
	}
	// Checkpoint records are checked when the scan reaches the position they are correct as of.
	due := map[uint64][]domain.Account{}
	ab := tx.Bucket(bktAccounts)
	if err := ab.ForEach(func(k, v []byte) error {
		a, asOf, err := decodeAccountRecord(v)
		if err != nil || a.ID != be64(k) {
			return bad("account record %d: unreadable", be64(k))
		}
		due[asOf] = append(due[asOf], a)
		return nil
	}); err != nil || rep.Problem != "" {
		return err
	}
	checkDue := func(seq uint64) error {
		for _, a := range due[seq] {
			if a.ID >= uint64(len(accts)) {
				return bad("account record %d: as of entry %d, but the account was not opened by then", a.ID, seq)
			}
			x := accts[a.ID]
			if a.Currency != x.a.Currency || a.Kind != x.a.Kind || a.Owner != x.a.Owner || a.Flags != x.a.Flags || a.Limit != x.a.Limit {
				return bad("account record %d: differs from the account opened in the journal", a.ID)
			}
			if a.Balances != x.bal || a.Status != x.a.Status {
				return bad("account %d: checkpoint as of entry %d says %+v %s, transfers give %+v %s", a.ID, seq, a.Balances, a.Status, x.bal, x.a.Status)
			}
		}
		delete(due, seq)
		return nil
	}
	j := tx.Bucket(bktJournal)
	var total uint64 // the journal is dense: its last key is its length
	if k, _ := j.Cursor().Last(); k != nil {
		total = be64(k)
	}
	ids := tx.Bucket(bktIDs)
	c := j.Cursor()
	var want uint64 = 1
	for k, v := c.First(); k != nil; k, v = c.Next() {
		seq := binary.BigEndian.Uint64(k)
		if seq != want {
			return bad("journal: entry %d missing (next entry is %d)", want, seq)
		}
		want++
		rep.Entries++
		if progress != nil && seq%65536 == 0 {
			progress(seq, total)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		en, err := splitEntry(v)
		if err != nil {
			return bad("journal entry %d: cannot be read", seq)
		}
		if h := chainHash(prev, seq, v[32:]); h != en.hash {
			return bad("journal entry %d: hash chain broken (entry altered, or an entry before it)", seq)
		}
		prev = en.hash
		if en.ts <= lastTS {
			return bad("journal entry %d: time %d not after the previous entry's %d", seq, en.ts, lastTS)
		}
		lastTS = en.ts
		d := dec{b: en.body}
		switch en.typ {
		case entAccount:
			a := d.accountStatic()
			if d.err != nil || a.ID != uint64(len(accts)) {
				return bad("journal entry %d: account entry unreadable or out of order", seq)
			}
			if a.Flags != domain.DefaultFlags(a.Kind) {
				return bad("journal entry %d: account %d has flags %d, its kind %s requires %d", seq, a.ID, a.Flags, a.Kind, domain.DefaultFlags(a.Kind))
			}
			a.Status = domain.StatusActive
			accts = append(accts, &acct{a: a})
			rep.Accounts++
		case entStatus:
			id, _, s := d.u64(), d.u8(), domain.Status(d.u8())
			if d.err != nil || id == 0 || id >= uint64(len(accts)) {
				return bad("journal entry %d: status change for unknown account", seq)
			}
			accts[id].a.Status = s
		case entLimit:
			id, _, limit := d.u64(), d.u64(), d.u64()
			if d.err != nil || id == 0 || id >= uint64(len(accts)) || accts[id].a.Kind != domain.KindCreditLine {
				return bad("journal entry %d: limit change for an account that is no credit line", seq)
			}
			accts[id].a.Limit = limit
		case entTier:
			id, _, tier := d.u64(), d.u8(), d.u8()
			if d.err != nil || id == 0 || id >= uint64(len(accts)) || accts[id].a.Kind != domain.KindPurse {
				return bad("journal entry %d: tier change for an account that is no purse", seq)
			}
			accts[id].a.Tier = tier
		case entAudit:
			d.str()
			d.str()
			d.str()
			if d.err != nil {
				return bad("journal entry %d: audit entry unreadable", seq)
			}
		case entFact:
			if d.fact(); d.err != nil {
				return bad("journal entry %d: fact unreadable", seq)
			}
		case entTransfer:
			r := d.transfer()
			t := r.Transfer
			if d.err != nil {
				return bad("journal entry %d: transfer unreadable", seq)
			}
			rep.Transfers++
			// The index maps each id to one entry, so an id written twice fails here.
			if v := ids.Get(t.ID[:]); v == nil || be64(v) != seq {
				return bad("journal entry %d: transfer %s missing from the id index", seq, t.ID)
			}
			if t.Debit == 0 || t.Credit == 0 || t.Debit >= uint64(len(accts)) || t.Credit >= uint64(len(accts)) || t.Debit == t.Credit {
				return bad("journal entry %d: transfer %s names accounts %d and %d", seq, t.ID, t.Debit, t.Credit)
			}
			dr, cr := accts[t.Debit], accts[t.Credit]
			if dr.a.Currency != cr.a.Currency || t.Currency != dr.a.Currency {
				return bad("journal entry %d: transfer %s mixes currencies", seq, t.ID)
			}
			if t.Flags&(domain.PostPending|domain.VoidPending) != 0 {
				p, ok := pending[t.PendingID]
				if !ok {
					return bad("journal entry %d: transfer %s resolves pending %s, which is not open", seq, t.ID, t.PendingID)
				}
				if p.Debit != t.Debit || p.Credit != t.Credit || p.Amount != t.PendingAmount || t.Amount > p.Amount {
					return bad("journal entry %d: transfer %s does not match pending %s", seq, t.ID, t.PendingID)
				}
				delete(pending, t.PendingID)
			} else if t.Amount == 0 {
				return bad("journal entry %d: transfer %s has no amount", seq, t.ID)
			}
			if t.Flags&domain.Pending != 0 {
				t.Seq = seq
				pending[t.ID] = t
			}
			dr.bal.Debit(&t)
			cr.bal.Credit(&t)
			if err := checkFlags(&dr.a, dr.bal); err != "" {
				return bad("journal entry %d: transfer %s leaves account %d %s", seq, t.ID, t.Debit, err)
			}
			if err := checkFlags(&cr.a, cr.bal); err != "" {
				return bad("journal entry %d: transfer %s leaves account %d %s", seq, t.ID, t.Credit, err)
			}
			if t.Flags&domain.Pending == 0 {
				rep.Currencies[t.Currency] += t.Amount // posted: single transfers and posts
			}
		default:
			return bad("journal entry %d: unknown type %d", seq, en.typ)
		}
		if err := checkDue(seq); err != nil || rep.Problem != "" {
			return err
		}
	}
	for asOf := range due {
		return bad("account record as of entry %d, beyond the journal's end %d", asOf, rep.Entries)
	}
	if progress != nil {
		progress(rep.Entries, rep.Entries)
	}
	rep.Pending = uint64(len(pending))
	// Per currency, the sum of all debits equals the sum of all credits.
	type sums struct{ dp, dP, cp, cP uint64 }
	per := map[string]*sums{}
	for _, x := range accts[1:] {
		s := per[x.a.Currency]
		if s == nil {
			s = &sums{}
			per[x.a.Currency] = s
		}
		s.dp += x.bal.DebitsPending
		s.dP += x.bal.DebitsPosted
		s.cp += x.bal.CreditsPending
		s.cP += x.bal.CreditsPosted
	}
	for cur, s := range per {
		if s.dP != s.cP || s.dp != s.cp {
			return bad("currency %s: debits %d posted / %d pending but credits %d posted / %d pending", cur, s.dP, s.dp, s.cP, s.cp)
		}
	}
	if rep.Entries > 0 {
		rep.Head = fmt.Sprintf("%x", prev)
	}
	// Open pending transfers match the pending records.
	pb := tx.Bucket(bktPending)
	if n := uint64(keyCount(pb)); n != rep.Pending {
		return bad("pending: %d open pending transfers in the journal, %d pending records", rep.Pending, n)
	}
	for id, t := range pending {
		if pb.Get(u64key(t.Seq)) == nil {
			return bad("pending transfer %s (entry %d) has no pending record", id, t.Seq)
		}
	}
	// The live view, when it is at the same journal position as this snapshot.
	if l != nil {
		l.viewMu.RLock()
		defer l.viewMu.RUnlock()
		if l.stats.LastSeq.Load() == rep.Entries {
			for id := uint64(1); id <= l.visible && id < uint64(len(accts)); id++ {
				if l.accounts[id] == nil {
					continue // never loaded: its record was checked above
				}
				live := &l.accounts[id].Account
				if live.Balances != accts[id].bal || live.Status != accts[id].a.Status {
					return bad("account %d: ledger holds %+v %s, transfers give %+v %s", id, live.Balances, live.Status, accts[id].bal, accts[id].a.Status)
				}
			}
		}
	}
	return nil
}

// checkFlags says how an account breaks its balance constraints, or "".
func checkFlags(a *domain.Account, b domain.Balances) string {
	if a.Flags&domain.DebitsMustNotExceedCredits != 0 {
		if d, ok := add3(b.DebitsPosted, b.DebitsPending, 0); !ok || d > b.CreditsPosted+a.Limit {
			return fmt.Sprintf("with debits %d above credits %d plus limit %d", d, b.CreditsPosted, a.Limit)
		}
	}
	if a.Flags&domain.CreditsMustNotExceedDebits != 0 {
		if c, ok := add3(b.CreditsPosted, b.CreditsPending, 0); !ok || c > b.DebitsPosted+a.Limit {
			return fmt.Sprintf("with credits %d above debits %d plus limit %d", c, b.DebitsPosted, a.Limit)
		}
	}
	return ""
}

// Backup writes a consistent copy of the file to w while writes go on.
func (l *Ledger) Backup(w io.Writer) (int64, error) {
	var n int64
	err := l.view(func(tx Tx) error {
		b := boltOf(tx)
		if b == nil {
			return errNoBolt
		}
		var err error
		n, err = b.WriteTo(w)
		return err
	})
	return n, err
}

// BackupFile writes a consistent copy to path (which must not exist), synced to disk.
func (l *Ledger) BackupFile(path string) (int64, error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := l.Backup(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if _, serr := os.Stat(path); serr == nil {
			err = fmt.Errorf("%s already exists", path)
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return n, nil
}
