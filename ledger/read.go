package ledger

import (
	"encoding/hex"
	"fmt"
	"mpg/domain"
	"strconv"
	"strings"
)

// Reads see committed state only and never wait for the writer's disk work: balances come
// from the view published after each commit, history and transfers from bbolt read
// transactions.

// Account returns a committed account.
func (l *Ledger) Account(id uint64) (domain.Account, error) {
	var out domain.Account
	err := l.view(func(tx Tx) error {
		l.viewMu.RLock()
		defer l.viewMu.RUnlock()
		var err error
		out, err = l.accountLocked(tx, id)
		return err
	})
	return out, err
}

// accountLocked reads a committed account: the published copy when the writer has loaded
// it, else its checkpoint record, which is current for an account untouched since open.
// The caller holds viewMu for reading, so the writer cannot load it meanwhile.
func (l *Ledger) accountLocked(tx Tx, id uint64) (domain.Account, error) {
	if l.shared != nil {
		return l.recordOf(tx, id)
	}
	if id == 0 || id > l.visible {
		return domain.Account{}, fmt.Errorf("%w: %d", domain.ErrAccountNotFound, id)
	}
	if a := l.accounts[id]; a != nil {
		return a.Account, nil
	}
	a, _, err := l.readAccount(tx, id)
	if err != nil {
		return domain.Account{}, err
	}
	return a.Account, nil
}

// AccountsOf returns the committed accounts of an owner (MSISDN or merchant code).
func (l *Ledger) AccountsOf(owner string) []domain.Account {
	var out []domain.Account
	epoch := l.ownedEpoch()
	l.view(func(tx Tx) error {
		l.viewMu.RLock()
		defer l.viewMu.RUnlock()
		ids := l.ownedIDsOf(tx, l.people.diskKey(tx, owner), epoch)
		readAhead(tx, ids)
		for _, id := range ids {
			if a, err := l.accountLocked(tx, id); err == nil {
				out = append(out, a)
			}
		}
		return nil
	})
	return out
}

// Filter selects accounts; zero fields match everything.
type Filter struct {
	Kind     domain.Kind
	Owner    string
	Currency string
	Limit    int // 0: no limit
}

// Accounts lists committed accounts matching f in id order, all as of one commit.
func (l *Ledger) Accounts(f Filter) []domain.Account {
	match := func(a *domain.Account) bool {
		return (f.Kind == 0 || a.Kind == f.Kind) && (f.Currency == "" || a.Currency == f.Currency) &&
			(f.Owner == "" || a.Owner == f.Owner)
	}
	if f.Owner != "" {
		var out []domain.Account
		for _, a := range l.AccountsOf(f.Owner) {
			if match(&a) {
				out = append(out, a)
			}
		}
		return out
	}
	var out []domain.Account
	l.view(func(tx Tx) error {
		if l.shared != nil {
			out = l.sharedAccounts(tx, f, match)
			return nil
		}
		l.viewMu.RLock()
		defer l.viewMu.RUnlock()
		for id := uint64(1); id <= l.visible; id++ {
			a, err := l.accountLocked(tx, id)
			if err == nil && match(&a) {
				out = append(out, a)
				if f.Limit > 0 && len(out) >= f.Limit {
					break
				}
			}
		}
		return nil
	})
	return out
}

// Find resolves what an admin types: an account id, or an owner (MSISDN, merchant code).
// An owner with several accounts resolves to its first purse or merchant account.
func (l *Ledger) Find(ref string) (domain.Account, error) {
	if id, err := strconv.ParseUint(ref, 10, 64); err == nil && len(ref) < 9 {
		return l.Account(id)
	}
	accs := l.AccountsOf(ref)
	if len(accs) == 0 {
		return domain.Account{}, fmt.Errorf("%w: no account for %q", domain.ErrAccountNotFound, ref)
	}
	for _, a := range accs {
		if a.Kind == domain.KindPurse || a.Kind == domain.KindMerchant || a.Kind == domain.KindBiller || a.Kind == domain.KindCompany {
			return a, nil
		}
	}
	return accs[0], nil
}

// Transfer returns a committed transfer by id.
func (l *Ledger) Transfer(id domain.ID) (domain.Transfer, error) {
	var t domain.Transfer
	err := l.view(func(tx Tx) error {
		v := tx.Bucket(bktIDs).Get(id[:])
		if v == nil {
			return fmt.Errorf("%w: %s", domain.ErrTransferNotFound, id)
		}
		var err error
		t, err = l.readTransfer(tx, be64(v))
		return err
	})
	return t, err
}

// History returns an account's transfers newest first: at most limit, older than journal
// position before (0: from the newest). It follows the chain of links each transfer keeps
// to the account's previous entry, so it costs one lookup per transfer returned.
func (l *Ledger) History(account uint64, limit int, before uint64) ([]domain.Transfer, error) {
	a, err := l.Account(account)
	if err != nil {
		return nil, err
	}
	var out []domain.Transfer
	err = l.view(func(tx Tx) error {
		j := tx.Bucket(bktJournal)
		for seq := a.LastSeq; seq != 0 && len(out) < limit; {
			en, err := splitEntry(j.Get(u64key(seq)))
			if err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
			if en.typ != entTransfer {
				return nil // the account's open entry: the start of its history
			}
			d := dec{b: en.body}
			r := d.transfer()
			if d.err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, d.err)
			}
			r.Seq, r.Timestamp, r.For = seq, en.ts, l.people.number(tx, r.For)
			if before == 0 || seq < before {
				out = append(out, r.Transfer)
			}
			if r.Debit == account {
				seq = r.prevDebit
			} else {
				seq = r.prevCredit
			}
		}
		return nil
	})
	return out, err
}

// Profile returns an owner's committed engine profile (nil if none) and its version, which a
// job writing the profile back must name (Profile.Version).
func (l *Ledger) Profile(owner string) ([]byte, uint64, error) {
	var out []byte
	var version uint64
	err := l.view(func(tx Tx) error {
		key := l.people.recordKey(tx, owner)
		data, v := decodeProfile(tx.Bucket(bktProfiles).Get([]byte(key)))
		if data = l.people.memRecord(tx, key, data); data != nil {
			out = append([]byte{}, data...)
		}
		version = v
		return nil
	})
	return out, version, err
}

// ProfilesFrom returns up to limit records whose key begins with prefix, in key order,
// starting at the key from (inclusive; "" for the first).
func (l *Ledger) ProfilesFrom(prefix, from string, limit int) ([]domain.Profile, error) {
	if limit <= 0 || limit > domain.MaxProfileScan {
		limit = domain.MaxProfileScan
	}
	if from < prefix {
		from = prefix
	}
	// A page's next start is the last key returned and a NUL: translate the key, keep the NULs.
	base := strings.TrimRight(from, "\x00")
	var out []domain.Profile
	err := l.view(func(tx Tx) error {
		prefix, from := l.people.recordKey(tx, prefix), l.people.recordKey(tx, base)+from[len(base):]
		c := tx.Bucket(bktProfiles).Cursor()
		for k, v := c.Seek([]byte(from)); k != nil && strings.HasPrefix(string(k), prefix) && len(out) < limit; k, v = c.Next() {
			data, ver := decodeProfile(v)
			if data = l.people.memRecord(tx, string(k), data); data == nil {
				continue // sealed for a person erased since
			}
			out = append(out, domain.Profile{Owner: l.people.numbersInKey(tx, string(k)), Data: append([]byte{}, data...), Version: ver})
		}
		return nil
	})
	return out, err
}

// HoldsFor returns the open pending transfers that hold money for an owner (Transfer.For),
// oldest first.
func (l *Ledger) HoldsFor(owner string) ([]domain.Transfer, error) {
	var out []domain.Transfer
	err := l.view(func(tx Tx) error {
		prefix := append([]byte(l.people.diskKey(tx, owner)), 0)
		c := tx.Bucket(bktHolds).Cursor()
		for k, _ := c.Seek(prefix); k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, _ = c.Next() {
			t, err := l.readTransfer(tx, be64(k[len(prefix):]))
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	return out, err
}

// System returns the system account of a kind (float, fees, escrow, bank clearing) in a
// currency. System accounts are found by kind, never by an owner string.
func (l *Ledger) System(kind domain.Kind, currency string) (domain.Account, error) {
	l.viewMu.RLock()
	id, ok := l.st.system[systemKey{kind, currency}]
	l.viewMu.RUnlock()
	if !ok {
		return domain.Account{}, fmt.Errorf("%w: no %s account in %s (run `mpg ledger init`)", domain.ErrAccountNotFound, kind, currency)
	}
	return l.Account(id)
}

// TransferAt returns the committed transfer at a journal position.
func (l *Ledger) TransferAt(seq uint64) (domain.Transfer, error) {
	var t domain.Transfer
	err := l.view(func(tx Tx) error {
		if seq == 0 || seq > l.stats.LastSeq.Load() {
			return fmt.Errorf("%w: entry %d", domain.ErrTransferNotFound, seq)
		}
		var err error
		if t, err = l.readTransfer(tx, seq); err != nil {
			return fmt.Errorf("%w: entry %d", domain.ErrTransferNotFound, seq)
		}
		return nil
	})
	return t, err
}

// AuditEntry is an audit record of the journal with its position and time.
type AuditEntry struct {
	Seq  uint64 `json:"seq"`
	Time int64  `json:"time_unix_nano"`
	domain.Audit
}

// MaxAuditScan bounds the journal entries one AuditLog call reads.
const MaxAuditScan = 1 << 20

// AuditLog returns the newest audit entries (at most limit), newest first, from journal
// positions before `before` (0: the end), reading at most MaxAuditScan entries.
func (l *Ledger) AuditLog(limit int, before uint64) ([]AuditEntry, error) {
	var out []AuditEntry
	err := l.view(func(tx Tx) error {
		c := tx.Bucket(bktJournal).Cursor()
		var k, v []byte
		if before == 0 {
			k, v = c.Last()
		} else if sk, _ := c.Seek(u64key(before)); sk == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for n := 0; k != nil && len(out) < limit && n < MaxAuditScan; k, v = c.Prev() {
			n++
			en, err := splitEntry(v)
			if err != nil {
				return fmt.Errorf("journal entry %d: %w", be64(k), err)
			}
			if en.typ != entAudit {
				continue
			}
			d := dec{b: en.body}
			a := domain.Audit{Actor: l.people.numbersIn(tx, d.str()), Action: d.str(), Detail: l.people.numbersIn(tx, d.str())}
			if d.err != nil {
				return fmt.Errorf("journal entry %d: %w", be64(k), d.err)
			}
			out = append(out, AuditEntry{Seq: be64(k), Time: en.ts, Audit: a})
		}
		return nil
	})
	return out, err
}

// Owner reads an owner's state as of one commit.
func (l *Ledger) Owner(owner string) (domain.OwnerState, error) {
	var st domain.OwnerState
	epoch := l.ownedEpoch()
	err := l.view(func(tx Tx) error {
		owner := l.people.diskKey(tx, owner)
		l.viewMu.RLock()
		ids := l.ownedIDsOf(tx, owner, epoch)
		readAhead(tx, ids, KeyRef{bktProfiles, []byte(owner)})
		for _, id := range ids {
			if a, err := l.accountLocked(tx, id); err == nil {
				st.Accounts = append(st.Accounts, a)
			}
		}
		l.viewMu.RUnlock()
		data, v := decodeProfile(tx.Bucket(bktProfiles).Get([]byte(owner)))
		if data = l.people.memRecord(tx, owner, data); data != nil {
			st.Profile = append([]byte{}, data...)
		}
		st.ProfileVersion = v
		st.Holds = countHolds(tx, owner)
		return nil
	})
	return st, err
}

// EntryHash returns, in hex, the chained hash stored with the journal entry at a position:
// SHA-256 of the entry before it, the position and the entry. `mpg ledger verify`
// recomputes every one from the first entry, so a hash read here and matched there proves
// the entry is the one the books have held since it was written.
func (l *Ledger) EntryHash(seq uint64) (string, error) {
	var out string
	err := l.view(func(tx Tx) error {
		v := tx.Bucket(bktJournal).Get(u64key(seq))
		if v == nil {
			return fmt.Errorf("no journal entry %d", seq)
		}
		en, err := splitEntry(v)
		if err != nil {
			return fmt.Errorf("journal entry %d: %w", seq, err)
		}
		out = hex.EncodeToString(en.hash[:])
		return nil
	})
	return out, err
}

// Head returns the newest committed journal entry's position and chained hash in hex
// (0 and "" for an empty journal).
func (l *Ledger) Head() (uint64, string, error) {
	var seq uint64
	var out string
	err := l.view(func(tx Tx) error {
		k, v := tx.Bucket(bktJournal).Cursor().Last()
		if k == nil {
			return nil
		}
		en, err := splitEntry(v)
		if err != nil {
			return fmt.Errorf("journal entry %d: %w", be64(k), err)
		}
		seq, out = be64(k), hex.EncodeToString(en.hash[:])
		return nil
	})
	return seq, out, err
}

// recordOf reads an account as tx's snapshot holds it. On a shared store every commit
// writes the records of the accounts it changed, so the snapshot's records are the books
// as of one commit: the writer's memory may be behind them (until its next catch-up) and is
// not what readers are answered from.
func (l *Ledger) recordOf(tx Tx, id uint64) (domain.Account, error) {
	v := tx.Bucket(bktAccounts).Get(u64key(id))
	if v == nil {
		return domain.Account{}, fmt.Errorf("%w: %d", domain.ErrAccountNotFound, id)
	}
	a, _, err := decodeAccountRecord(v)
	if err != nil || a.ID != id {
		return domain.Account{}, fmt.Errorf("account record %d unreadable", id)
	}
	l.people.memAccount(tx, &a)
	return a, nil
}

// readAhead asks a shared store's transaction for the records of the given accounts, and
// any other keys, at once.
func readAhead(tx Tx, ids []uint64, more ...KeyRef) {
	p, ok := tx.(Prefetcher)
	if !ok || len(ids)+len(more) < 2 {
		return
	}
	keys := make([]KeyRef, 0, len(ids)+len(more))
	for _, id := range ids {
		keys = append(keys, KeyRef{bktAccounts, u64key(id)})
	}
	p.Prefetch(append(keys, more...))
}

// sharedAccounts lists the accounts of tx's snapshot matching f, walking their records.
func (l *Ledger) sharedAccounts(tx Tx, f Filter, match func(*domain.Account) bool) []domain.Account {
	var out []domain.Account
	c := tx.Bucket(bktAccounts).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		a, _, err := decodeAccountRecord(v)
		if err != nil {
			continue
		}
		l.people.memAccount(tx, &a)
		if match(&a) {
			out = append(out, a)
			if f.Limit > 0 && len(out) >= f.Limit {
				break
			}
		}
	}
	return out
}

// MaxJournalRead bounds the entries one Journal call returns.
const MaxJournalRead = 4096

// Journal reads the committed journal from position from (inclusive) for a follower: at
// most limit entries (MaxJournalRead at most) of the kinds it follows (transfers, facts,
// accounts opened, tier changes), in order, in one read. next is where the following call
// starts: past every entry read, of any kind. A transfer's For is left out (it may name a
// person), and so are the owner and name of a person's account opened; a transfer's currency
// is not filled.
func (l *Ledger) Journal(from uint64, limit int) (entries []domain.JournalEntry, next uint64, err error) {
	limit = min(limit, MaxJournalRead)
	from = max(from, 1)
	next = from
	head := l.stats.LastSeq.Load()
	err = l.view(func(tx Tx) error {
		c := tx.Bucket(bktJournal).Cursor()
		for k, v := c.Seek(u64key(from)); k != nil && len(entries) < limit; k, v = c.Next() {
			seq := be64(k)
			if seq > head {
				break // committed by another daemon, not yet followed here
			}
			en, err := splitEntry(v)
			if err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
			next = seq + 1
			if e, ok, err := journalEntry(seq, en); err != nil {
				return err
			} else if ok {
				entries = append(entries, e)
			}
		}
		return nil
	})
	return entries, next, err
}

// journalEntry decodes one entry a follower reads (ok false: a kind it skips).
func journalEntry(seq uint64, en entry) (domain.JournalEntry, bool, error) {
	e := domain.JournalEntry{Seq: seq, Time: en.ts}
	d := dec{b: en.body}
	switch en.typ {
	case entTransfer:
		r := d.transfer()
		t := r.Transfer
		t.Seq, t.Timestamp, t.For = seq, en.ts, ""
		e.Transfer = &t
	case entFact:
		f := d.fact()
		e.Fact = &f
	case entAccount:
		a := d.accountStatic()
		if a.Phone = ""; a.Kind == domain.KindPurse || a.Kind == domain.KindCreditLine {
			a.Owner, a.Name = "", "" // a person: his account id is enough
		}
		e.Opened = &a
	case entTier:
		id, _, tier := d.u64(), d.u8(), d.u8()
		e.Tier = &domain.TierChange{Account: id, Tier: tier}
	default:
		return e, false, nil
	}
	if d.err != nil {
		return e, false, fmt.Errorf("journal entry %d: %w", seq, d.err)
	}
	return e, true, nil
}
