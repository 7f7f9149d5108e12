package ledger

import (
	"encoding/binary"
	"fmt"
	"math"
	"mpg/domain"
	"strings"
	"time"
	"unicode/utf8"
)

func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// undo remembers what one job changed in memory so that a refused job leaves no trace.
type undo struct {
	balances []undoBalance
	pendAdd  []domain.ID
	pendDel  []*pendingRec
	status   []undoStatus
	accounts int // len(l.accounts) before the job
	parts    int // change in the count of parts held
	touched  int
	seq      uint64
	hash     [32]byte
	ts       int64
	nextMsg  uint64
}

type undoBalance struct {
	a     *account
	bal   domain.Balances
	spend []domain.Spend
	last  uint64
}

type undoStatus struct {
	a     *account
	s     domain.Status
	tier  uint8
	limit uint64
}

// put is a write the job makes to the file if it commits.
type put struct {
	bucket []byte
	key    []byte
	val    []byte
	del    bool
}

// jobApply is the writer's scratch for one job.
type jobApply struct {
	w    *batchWriter
	u    undo
	puts []put
	now  int64
	ts   int64 // timestamp of the entry being journaled
	out  []laterItem
}

func (w *batchWriter) apply(job *domain.Job) (domain.Result, error) {
	l, st := w.l, w.l.st
	if len(job.Transfers) > domain.MaxJobTransfers || len(job.Open) > domain.MaxJobAccounts ||
		len(job.Messages) > domain.MaxJobMessages || len(job.Status) > domain.MaxJobStatus || len(job.Limits) > domain.MaxJobStatus ||
		len(job.Active) > domain.MaxJobStatus || len(job.Reads) > domain.MaxJobStatus || len(job.Untouched) > domain.MaxJobStatus {
		return domain.Result{}, refuse(domain.ErrJobTooLarge, -1, "at most %d transfers, %d accounts, %d messages, %d status changes",
			domain.MaxJobTransfers, domain.MaxJobAccounts, domain.MaxJobMessages, domain.MaxJobStatus)
	}
	ja := &w.ja
	ja.reset(w, l.opt.Now().UnixNano())
	if d := job.Dedupe; d != nil {
		if len(d.Key) == 0 || len(d.Key) > domain.MaxDedupeKeyLen || len(d.Result) > domain.MaxDedupeResultLen || d.TTL <= 0 {
			return domain.Result{}, refuse(domain.ErrInvalid, -1, "dedupe key 1..%d bytes, result at most %d bytes, positive TTL", domain.MaxDedupeKeyLen, domain.MaxDedupeResultLen)
		}
		if dup := w.findDedupe(d.Key, ja.now); dup != nil {
			return domain.Result{}, dup
		}
	}
	res, err := ja.run(job)
	if err != nil {
		ja.rollback()
		return domain.Result{}, err
	}
	for _, p := range ja.puts {
		b := w.tx.Bucket(p.bucket)
		var err error
		if p.del {
			err = b.Delete(p.key)
		} else {
			err = b.Put(p.key, p.val)
		}
		if err != nil {
			// A bbolt write error is not the job's fault; the batch fails as a whole.
			w.ioErr = err
			return domain.Result{}, err
		}
	}
	w.outIDs = append(w.outIDs, ja.out...)
	res.Seq = st.lastSeq
	return res, nil
}

// findDedupe looks a key up on disk: earlier jobs of this batch are already in the
// transaction, so a copy that arrives in the same batch is caught too. A record that may be
// retried is no duplicate: the job runs, and its own record replaces that one.
func (w *batchWriter) findDedupe(key string, now int64) *domain.DuplicateError {
	rk := w.tx.Bucket(bktDedupeIdx).Get([]byte(key))
	if rk == nil || len(rk) < 8 || int64(be64(rk)) <= now {
		return nil
	}
	v := w.tx.Bucket(bktDedupe).Get(rk)
	if v == nil {
		return nil
	}
	_, result, retry, _ := decodeDedupe(v)
	if retry {
		return nil
	}
	at := int64(0)
	if len(rk) >= 24 {
		at = int64(be64(rk[16:24]))
	}
	return &domain.DuplicateError{Key: key, Result: append([]byte(nil), result...), At: at}
}

func (ja *jobApply) run(job *domain.Job) (domain.Result, error) {
	st := ja.w.l.st
	var res domain.Result
	if job.NotAfter != 0 && ja.now > job.NotAfter {
		return res, refuse(domain.ErrPendingExpired, -1, "the job's deadline passed")
	}
	if err := ja.guards(job); err != nil {
		return res, err
	}
	for i, spec := range job.Open {
		a, err := ja.open(i, spec)
		if err != nil {
			return res, err
		}
		res.Accounts = append(res.Accounts, a.Account)
	}
	// Status changes come before the transfers, except a close, which comes after them: a
	// payout and the close of the purse it empties are one step.
	for i, sc := range job.Status {
		if sc.Status == domain.StatusClosed {
			continue
		}
		if err := ja.setStatus(i, sc); err != nil {
			return res, err
		}
	}
	for i, tc := range job.Tiers {
		if err := ja.setTier(i, tc); err != nil {
			return res, err
		}
	}
	for i, lc := range job.Limits {
		if err := ja.setLimit(i, lc); err != nil {
			return res, err
		}
	}
	for i := range job.Transfers {
		t := job.Transfers[i]
		if len(job.Transfers) > 1 && i < len(job.Transfers)-1 {
			t.Flags |= domain.Linked
		}
		stored, existed, err := ja.transfer(i, t)
		if err != nil {
			return res, err
		}
		res.Transfers = append(res.Transfers, stored)
		res.Existed = append(res.Existed, existed)
	}
	for i, sc := range job.Status {
		if sc.Status != domain.StatusClosed {
			continue
		}
		if err := ja.setStatus(i, sc); err != nil {
			return res, err
		}
	}
	msgs := job.Messages
	if job.Compose != nil {
		more, err := job.Compose(writerView{ja.w}, &res)
		if err != nil {
			return res, &domain.RefusedError{Reason: domain.ErrInvalid, Index: -1, Detail: err.Error()}
		}
		msgs = append(append([]domain.Message(nil), msgs...), more...)
	}
	if len(msgs) > domain.MaxJobMessages {
		return res, refuse(domain.ErrJobTooLarge, -1, "at most %d messages", domain.MaxJobMessages)
	}
	var stored []domain.Message
	for i, m := range msgs {
		if m.To == "" || len(m.To) > domain.MaxStringLen || len(m.From) > domain.MaxStringLen || len(m.Text) > domain.MaxMessageBytes || len(m.Sealed) > 128 {
			return res, refuse(domain.ErrInvalid, i, "message needs a recipient of at most %d bytes and text of at most %d bytes", domain.MaxStringLen, domain.MaxMessageBytes)
		}
		st.nextMsg++
		m.ID, m.Created, m.Status, m.Attempts, m.SMSCID, m.Reason = st.nextMsg, ja.now, domain.MsgQueued, 0, "", ""
		m.NextAt, m.Unknowns = 0, 0
		m.Urgent = m.Urgent || len(job.Transfers) > 0
		disk, err := ja.w.diskMessage(m)
		if err != nil {
			return res, err
		}
		e := enc{}
		e.message(&disk)
		ja.puts = append(ja.puts, put{bucket: bktOutbox, key: u64key(m.ID), val: e.b},
			put{bucket: bktOutQueue, key: u64key(m.ID), val: ja.w.l.self})
		res.Messages = append(res.Messages, m.ID)
		ja.out = append(ja.out, laterItem{id: m.ID, urgent: m.Urgent})
		stored = append(stored, m)
	}
	if err := ja.profiles(job.Profiles); err != nil {
		return res, err
	}
	if job.Part != nil {
		if err := ja.keepPart(job.Part); err != nil {
			return res, err
		}
	}
	if job.ReleaseParts != nil {
		ja.releaseParts(job.ReleaseParts)
	}
	if a := job.Audit; a != nil {
		if len(a.Actor) > domain.MaxStringLen || len(a.Action) > domain.MaxStringLen || len(a.Detail) > domain.MaxAuditLen || a.Action == "" {
			return res, refuse(domain.ErrInvalid, -1, "audit needs an action; actor and action at most %d bytes, detail %d", domain.MaxStringLen, domain.MaxAuditLen)
		}
		actor, err := ja.w.partyWords(a.Actor, " ")
		if err != nil {
			return res, err
		}
		detail, err := ja.w.partyWords(a.Detail, " ")
		if err != nil {
			return res, err
		}
		ja.journal(entAudit, func(e *enc) { e.str(actor); e.str(a.Action); e.str(detail) })
	}
	if len(job.Facts) > domain.MaxFacts {
		return res, refuse(domain.ErrJobTooLarge, -1, "at most %d facts", domain.MaxFacts)
	}
	for i := range job.Facts {
		f := &job.Facts[i]
		if f.Kind == 0 || len(f.Product) > domain.MaxStringLen || len(f.Channel) > domain.MaxStringLen ||
			len(f.Reason) > domain.MaxStringLen || len(f.Promo) > domain.MaxStringLen {
			return res, refuse(domain.ErrInvalid, -1, "a fact needs a kind and words of at most %d bytes", domain.MaxStringLen)
		}
		ja.journal(entFact, func(e *enc) { e.fact(f) })
	}
	if d := job.Dedupe; d != nil {
		exp := ja.now + int64(d.TTL)
		if d.TTL > time.Duration(math.MaxInt64-ja.now) {
			exp = math.MaxInt64
		}
		// expiry | journal position | time taken: unique, and in expiry order for the scan.
		k := binary.BigEndian.AppendUint64(u64key(uint64(exp)), st.lastSeq)
		k = binary.BigEndian.AppendUint64(k, uint64(ja.now))
		ja.w.dedupeN++
		k = binary.BigEndian.AppendUint32(k, ja.w.dedupeN)
		idx := ja.w.tx.Bucket(bktDedupeIdx)
		// A record found here is one whose window ended, not yet swept, or a refusal that may
		// be retried (findDedupe let the job through): it leaves the expiry list with its
		// index entry, so the list holds one record per key.
		if old := idx.Get([]byte(d.Key)); old != nil {
			ja.puts = append(ja.puts, put{bucket: bktDedupe, key: append([]byte(nil), old...), del: true})
		}
		ja.puts = append(ja.puts, put{bucket: bktDedupe, key: k, val: encodeDedupe(d)},
			put{bucket: bktDedupeIdx, key: []byte(d.Key), val: k})
	}
	return res, nil
}

// guards checks the payer's rule book of a job against the state of this moment: accounts
// that must be active, records that must still be at the version read.
func (ja *jobApply) guards(job *domain.Job) error {
	for i, id := range job.Active {
		a, err := ja.account(i, id, "payer")
		if err != nil {
			return err
		}
		switch a.wStatus {
		case domain.StatusClosed:
			return refuse(domain.ErrAccountClosed, i, "payer account %d", id)
		case domain.StatusBlocked:
			return refuse(domain.ErrAccountBlocked, i, "payer account %d", id)
		}
	}
	for i, at := range job.Untouched {
		a, err := ja.account(i, at.ID, "read")
		if err != nil {
			return err
		}
		if a.wLast != at.LastSeq {
			return refuse(domain.ErrConflict, i, "account %d moved since it was read", at.ID)
		}
	}
	b := ja.w.tx.Bucket(bktProfiles)
	for i, r := range job.Reads {
		if _, cur := decodeProfile(b.Get([]byte(ja.w.l.people.recordKey(ja.w.tx, r.Owner)))); cur != r.Version {
			return refuse(domain.ErrConflict, i, "a record read is at version %d, the job was computed from %d", cur, r.Version)
		}
	}
	return nil
}

// profiles writes engine records, each only if it is still the version its writer read.
func (ja *jobApply) profiles(ps []domain.Profile) error {
	b := ja.w.tx.Bucket(bktProfiles)
	for i, p := range ps {
		if p.Owner == "" || len(p.Owner) > domain.MaxStringLen || len(p.Data) > domain.MaxProfileLen {
			return refuse(domain.ErrInvalid, i, "profile owner 1..%d bytes, data at most %d", domain.MaxStringLen, domain.MaxProfileLen)
		}
		for _, q := range ps[:i] {
			if q.Owner == p.Owner {
				return refuse(domain.ErrInvalid, i, "a record written twice in one job")
			}
		}
		key, err := ja.w.partyWords(p.Owner, ":")
		if err != nil {
			return err
		}
		_, cur := decodeProfile(b.Get([]byte(key)))
		if cur != p.Version {
			return refuse(domain.ErrConflict, i, "a record is at version %d, the job was computed from %d", cur, p.Version)
		}
		if p.Delete {
			ja.puts = append(ja.puts, put{bucket: bktProfiles, key: []byte(key), del: true})
			continue
		}
		data, err := ja.w.diskRecord(key, p.Data)
		if err != nil {
			return err
		}
		ja.puts = append(ja.puts, put{bucket: bktProfiles, key: []byte(key), val: encodeProfile(data, cur+1)})
	}
	return nil
}

// A profile record is its version then the data. Records from before versions existed
// start with '{' (the engine's JSON) and count as version 0.
func encodeProfile(data []byte, version uint64) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(data)), version), data...)
}

func decodeProfile(v []byte) ([]byte, uint64) {
	switch {
	case v == nil:
		return nil, 0
	case len(v) > 0 && v[0] == '{':
		return v, 0
	case len(v) < 8:
		return nil, 0
	}
	return v[8:], be64(v)
}

// journal appends one entry to the chain and returns its sequence number.
func (ja *jobApply) journal(typ byte, fill func(e *enc)) uint64 {
	st := ja.w.l.st
	ts := ja.now
	if ts <= st.lastTS {
		ts = st.lastTS + 1
	}
	seq := st.lastSeq + 1
	ja.ts = ts
	v, h := sealEntry(ja.w.scratch[:0], st.lastHash, seq, typ, ts, fill)
	ja.w.scratch = v
	st.lastSeq, st.lastHash, st.lastTS = seq, h, ts
	ja.puts = append(ja.puts, put{bucket: bktJournal, key: ja.w.keep8(seq), val: ja.w.keep(v)})
	return seq
}

func (ja *jobApply) reset(w *batchWriter, now int64) {
	st := w.l.st
	u := &ja.u
	*u = undo{balances: u.balances[:0], pendAdd: u.pendAdd[:0], pendDel: u.pendDel[:0], status: u.status[:0],
		accounts: len(w.l.accounts), touched: len(w.touched),
		seq: st.lastSeq, hash: st.lastHash, ts: st.lastTS, nextMsg: st.nextMsg}
	clear(ja.puts)
	ja.w, ja.puts, ja.now, ja.ts, ja.out = w, ja.puts[:0], now, 0, ja.out[:0]
}

func (ja *jobApply) rollback() {
	l, st, w := ja.w.l, ja.w.l.st, ja.w
	u := &ja.u
	for i := len(u.balances) - 1; i >= 0; i-- {
		b := u.balances[i]
		b.a.wBal, b.a.wLast, b.a.wSpend = b.bal, b.last, b.spend
	}
	for i := len(u.status) - 1; i >= 0; i-- {
		u.status[i].a.wStatus, u.status[i].a.wTier, u.status[i].a.wLimit = u.status[i].s, u.status[i].tier, u.status[i].limit
	}
	for _, id := range u.pendAdd {
		delete(st.pending, id)
	}
	for _, p := range u.pendDel {
		st.pending[p.t.ID] = p
	}
	if len(l.accounts) > u.accounts {
		l.viewMu.Lock()
		for k, id := range st.system {
			if id >= uint64(u.accounts) {
				delete(st.system, k)
			}
		}
		clear(l.accounts[u.accounts:])
		l.accounts = l.accounts[:u.accounts]
		l.viewMu.Unlock()
	}
	// Accounts marked dirty stay so: one checkpoint write too many is harmless.
	for _, a := range w.touched[u.touched:] {
		a.inBatch = false
	}
	w.touched = w.touched[:u.touched]
	for _, t := range ja.puts {
		if string(t.bucket) == string(bktIDs) {
			var id domain.ID
			copy(id[:], t.key)
			delete(w.ids, id)
		}
	}
	st.lastSeq, st.lastHash, st.lastTS, st.nextMsg = u.seq, u.hash, u.ts, u.nextMsg
	st.parts -= u.parts
}

func (ja *jobApply) saveBalance(a *account) {
	ja.u.balances = append(ja.u.balances, undoBalance{a: a, bal: a.wBal, spend: a.wSpend, last: a.wLast})
	ja.w.touch(a)
}

func validText(s string, max int) bool { return len(s) <= max && utf8.ValidString(s) }

func (ja *jobApply) open(i int, spec domain.AccountSpec) (*account, error) {
	l := ja.w.l
	if _, err := domain.Exponent(spec.Currency); err != nil {
		return nil, refuse(domain.ErrInvalid, i, "%v", err)
	}
	if !spec.Kind.Valid() {
		return nil, refuse(domain.ErrInvalid, i, "unknown account kind %d", spec.Kind)
	}
	if !validText(spec.Owner, domain.MaxStringLen) || !validText(spec.Name, domain.MaxStringLen) || !validText(spec.Phone, domain.MaxStringLen) {
		return nil, refuse(domain.ErrInvalid, i, "owner, name and phone: UTF-8, at most %d bytes", domain.MaxStringLen)
	}
	if spec.Limit != 0 && spec.Kind != domain.KindCreditLine {
		return nil, refuse(domain.ErrInvalid, i, "only a credit line has a limit")
	}
	if strings.IndexByte(spec.Owner, 0) >= 0 || IsParty(spec.Owner) {
		return nil, refuse(domain.ErrInvalid, i, "owner must not contain a NUL byte nor begin with %s", partyPrefix)
	}
	// System accounts are found by kind; their owners, and only theirs, begin with '@', so no
	// subscriber or merchant can ever be taken for one.
	sys := domain.IsSystem(spec.Kind)
	if sys != strings.HasPrefix(spec.Owner, "@") {
		return nil, refuse(domain.ErrInvalid, i, "owners beginning with @ are for system accounts (float, fees, escrow, bank clearing), and theirs must")
	}
	if id, ok := ja.w.l.st.system[systemKey{spec.Kind, spec.Currency}]; sys && ok {
		return nil, refuse(domain.ErrAccountExists, i, "the %s account in %s is already account %d", spec.Kind, spec.Currency, id)
	}
	owner, err := ja.w.party(spec.Owner)
	if err != nil {
		return nil, err
	}
	if _, err := ja.w.party(spec.Phone); err != nil { // a merchant's phone is a person's too
		return nil, err
	}
	if spec.Owner != "" {
		// Earlier jobs of the batch are in the transaction; this job's own opens are not yet.
		ids := ownedIDs(ja.w.tx, owner)
		for _, a := range l.accounts[ja.u.accounts:] {
			if a.Owner == spec.Owner {
				ids = append(ids, a.ID)
			}
		}
		for _, id := range ids {
			o, err := ja.w.get(id)
			if err == nil && o.Kind == spec.Kind && o.Currency == spec.Currency {
				return nil, refuse(domain.ErrAccountExists, i, "%s already has %s account %d in %s", spec.Owner, spec.Kind, id, spec.Currency)
			}
		}
	}
	a := &account{Account: domain.Account{
		ID: uint64(len(l.accounts)), Currency: spec.Currency, Kind: spec.Kind, Owner: spec.Owner,
		Name: spec.Name, Phone: spec.Phone, Tier: spec.Tier, Flags: domain.DefaultFlags(spec.Kind), Limit: spec.Limit,
		Status: domain.StatusActive,
	}, wStatus: domain.StatusActive, wTier: spec.Tier, wLimit: spec.Limit}
	seq := ja.journal(entAccount, func(e *enc) {
		a.Created = ja.ts
		disk := l.people.diskAccount(ja.w.tx, a.Account)
		e.accountStatic(&disk)
	})
	a.wLast = seq
	l.viewMu.Lock()
	l.accounts = append(l.accounts, a)
	if sys {
		l.st.system[systemKey{a.Kind, a.Currency}] = a.ID
	}
	l.viewMu.Unlock()
	ja.w.touch(a)
	if a.Owner != "" {
		ja.puts = append(ja.puts, put{bucket: bktOwners, key: ownerIndexKey(owner, a.ID), val: []byte{}})
		ja.w.ownersChanged = append(ja.w.ownersChanged, owner)
	}
	// The record goes with the job, so an acknowledged account is in the file whatever the
	// checkpoint rounds do.
	ja.putAccountRecord(a)
	return a, nil
}

// putAccountRecord writes the account as it is now, correct as of the last journal entry.
func (ja *jobApply) putAccountRecord(a *account) {
	rec := ja.w.l.people.diskAccount(ja.w.tx, a.record())
	ja.puts = append(ja.puts, put{bucket: bktAccounts, key: u64key(a.ID), val: encodeAccountRecord(&rec, ja.w.l.st.lastSeq)})
}

func (ja *jobApply) account(i int, id uint64, role string) (*account, error) {
	a, err := ja.w.get(id)
	if err != nil {
		return nil, refuse(domain.ErrAccountNotFound, i, "%s account %d", role, id)
	}
	return a, nil
}

// get returns an account for the writer, reading its checkpoint record on first use.
func (w *batchWriter) get(id uint64) (*account, error) {
	l := w.l
	if id == 0 || id >= uint64(len(l.accounts)) {
		return nil, fmt.Errorf("%w: %d", domain.ErrAccountNotFound, id)
	}
	if a := l.accounts[id]; a != nil {
		return a, nil
	}
	a, _, err := w.l.readAccount(w.tx, id)
	if err != nil {
		return nil, err
	}
	l.install(a)
	return a, nil
}

func (ja *jobApply) setStatus(i int, sc domain.StatusChange) error {
	a, err := ja.account(i, sc.Account, "")
	if err != nil {
		return err
	}
	if sc.Status < domain.StatusActive || sc.Status > domain.StatusClosed {
		return refuse(domain.ErrInvalid, i, "unknown status %d", sc.Status)
	}
	if a.wStatus == domain.StatusClosed {
		return refuse(domain.ErrAccountClosed, i, "account %d", a.ID)
	}
	if sc.Status == domain.StatusClosed && a.wBal != (domain.Balances{}) && a.wBal.CreditsPosted-a.wBal.DebitsPosted != 0 {
		return refuse(domain.ErrInvalid, i, "account %d still holds money; move it out first", a.ID)
	}
	if sc.Status == domain.StatusClosed && (a.wBal.DebitsPending != 0 || a.wBal.CreditsPending != 0) {
		return refuse(domain.ErrInvalid, i, "account %d has pending transfers", a.ID)
	}
	old := a.wStatus
	ja.u.status = append(ja.u.status, undoStatus{a: a, s: old, tier: a.wTier, limit: a.wLimit})
	a.wStatus = sc.Status
	ja.journal(entStatus, func(e *enc) { e.u64(a.ID); e.u8(uint8(old)); e.u8(uint8(sc.Status)) })
	ja.w.touch(a)
	ja.putAccountRecord(a)
	return nil
}

func (ja *jobApply) setTier(i int, tc domain.TierChange) error {
	a, err := ja.account(i, tc.Account, "")
	if err != nil {
		return err
	}
	if a.Kind != domain.KindPurse {
		return refuse(domain.ErrInvalid, i, "account %d is a %s: only purses have a tier", a.ID, a.Kind)
	}
	if tiers := ja.w.l.opt.Tiers; tiers != nil {
		if _, ok := tiers[tc.Tier]; !ok {
			return refuse(domain.ErrInvalid, i, "tier %d is not configured", tc.Tier)
		}
	}
	if a.wStatus == domain.StatusClosed {
		return refuse(domain.ErrAccountClosed, i, "account %d", a.ID)
	}
	old := a.wTier
	ja.u.status = append(ja.u.status, undoStatus{a: a, s: a.wStatus, tier: old, limit: a.wLimit})
	a.wTier = tc.Tier
	ja.journal(entTier, func(e *enc) { e.u64(a.ID); e.u8(old); e.u8(tc.Tier) })
	ja.w.touch(a)
	ja.putAccountRecord(a)
	return nil
}

// setLimit sets a credit line's limit. It may not fall below what the line already owes
// and holds: a limit never makes a line exceed it.
func (ja *jobApply) setLimit(i int, lc domain.LimitChange) error {
	a, err := ja.account(i, lc.Account, "")
	if err != nil {
		return err
	}
	if a.Kind != domain.KindCreditLine {
		return refuse(domain.ErrInvalid, i, "account %d is a %s: only credit lines have a limit", a.ID, a.Kind)
	}
	if a.wStatus == domain.StatusClosed {
		return refuse(domain.ErrAccountClosed, i, "account %d", a.ID)
	}
	if used, ok := add3(a.wBal.DebitsPosted, a.wBal.DebitsPending, 0); !ok || used > a.wBal.CreditsPosted+lc.Limit {
		return &domain.RefusedError{Reason: domain.ErrLimitExceeded, Index: i, Detail: fmt.Sprintf("account %d owes and holds %s, more than a limit of %s", a.ID,
			domain.FormatAmountGrouped(used-min(used, a.wBal.CreditsPosted), a.Currency), domain.FormatAmountGrouped(lc.Limit, a.Currency)),
			Room: used - min(used, a.wBal.CreditsPosted)}
	}
	old := a.wLimit
	ja.u.status = append(ja.u.status, undoStatus{a: a, s: a.wStatus, tier: a.wTier, limit: old})
	a.wLimit = lc.Limit
	ja.journal(entLimit, func(e *enc) { e.u64(a.ID); e.u64(old); e.u64(lc.Limit) })
	ja.w.touch(a)
	ja.putAccountRecord(a)
	return nil
}

// sameBody says whether a retried transfer asks for what the stored one did.
func sameBody(t, s *domain.Transfer) bool {
	return (t.Debit == 0 || t.Debit == s.Debit) && (t.Credit == 0 || t.Credit == s.Credit) &&
		(t.Amount == s.Amount || (t.Amount == 0 && t.Flags&(domain.PostPending|domain.VoidPending) != 0)) &&
		t.PendingID == s.PendingID && t.Timeout == s.Timeout && t.Code == s.Code &&
		t.Flags&^(domain.Linked|domain.Counted) == s.Flags&^(domain.Linked|domain.Counted) && t.Ref == s.Ref && t.For == s.For
}

// lookup finds a committed or in-batch transfer by id.
func (w *batchWriter) lookup(id domain.ID) (domain.Transfer, bool, error) {
	if t, ok := w.ids[id]; ok {
		return t, true, nil
	}
	v := w.tx.Bucket(bktIDs).Get(id[:])
	if v == nil {
		return domain.Transfer{}, false, nil
	}
	t, err := w.l.readTransfer(w.tx, be64(v))
	return t, err == nil, err
}

func (l *Ledger) readTransfer(tx Tx, seq uint64) (domain.Transfer, error) {
	en, err := splitEntry(tx.Bucket(bktJournal).Get(u64key(seq)))
	if err != nil || en.typ != entTransfer {
		return domain.Transfer{}, errCorrupt
	}
	d := dec{b: en.body}
	r := d.transfer()
	r.Seq, r.Timestamp, r.For = seq, en.ts, l.people.number(tx, r.For)
	return r.Transfer, d.err
}

func (ja *jobApply) transfer(i int, t domain.Transfer) (domain.Transfer, bool, error) {
	w, st := ja.w, ja.w.l.st
	if t.ID.IsZero() {
		return t, false, refuse(domain.ErrZeroID, i, "")
	}
	if t.Flags&domain.Expired != 0 && t.Flags&domain.VoidPending == 0 {
		return t, false, refuse(domain.ErrInvalid, i, "only the ledger expires transfers")
	}
	t.Flags &^= domain.Counted // the ledger's to set
	if t.For != "" && (t.Flags&domain.Pending == 0 || !validText(t.For, domain.MaxStringLen) || strings.IndexByte(t.For, 0) >= 0) {
		return t, false, refuse(domain.ErrInvalid, i, "only a pending transfer holds money for someone (at most %d bytes)", domain.MaxStringLen)
	}
	kinds := 0
	for _, f := range []domain.TransferFlags{domain.Pending, domain.PostPending, domain.VoidPending} {
		if t.Flags&f != 0 {
			kinds++
		}
	}
	if kinds > 1 {
		return t, false, refuse(domain.ErrInvalid, i, "a transfer is single, pending, post or void, not several")
	}
	if t.Flags&domain.Pending == 0 {
		t.Timeout = 0
	}
	if t.Flags&domain.VoidPending != 0 && t.Amount != 0 {
		return t, false, refuse(domain.ErrInvalid, i, "a void releases the whole pending amount: leave the amount 0")
	}
	if len(t.Ref) > domain.MaxRefLen {
		return t, false, refuse(domain.ErrInvalid, i, "reference longer than %d bytes", domain.MaxRefLen)
	}
	stored, exists, err := w.lookup(t.ID)
	if err != nil {
		return t, false, refuse(domain.ErrInvalid, i, "reading transfer %s: %v", t.ID, err)
	}
	if exists {
		if !sameBody(&t, &stored) {
			return t, false, refuse(domain.ErrIDReused, i, "transfer %s", t.ID)
		}
		return stored, true, nil
	}
	var dr, cr *account
	if t.Flags&(domain.PostPending|domain.VoidPending) != 0 {
		p, ok := st.pending[t.PendingID]
		if !ok {
			if _, done, _ := w.lookup(t.PendingID); done {
				return t, false, refuse(domain.ErrPendingResolved, i, "pending %s", t.PendingID)
			}
			return t, false, refuse(domain.ErrPendingNotFound, i, "pending %s", t.PendingID)
		}
		if p.expires != 0 && ja.now >= p.expires && t.Flags&domain.Expired == 0 {
			return t, false, refuse(domain.ErrPendingExpired, i, "pending %s", t.PendingID)
		}
		if (t.Debit != 0 && t.Debit != p.t.Debit) || (t.Credit != 0 && t.Credit != p.t.Credit) {
			return t, false, refuse(domain.ErrInvalid, i, "accounts differ from pending %s", t.PendingID)
		}
		t.Debit, t.Credit, t.Currency, t.PendingAmount = p.t.Debit, p.t.Credit, p.t.Currency, p.t.Amount
		if t.Flags&domain.VoidPending != 0 {
			t.Amount = 0
		} else if t.Amount == 0 {
			t.Amount = p.t.Amount
		} else if t.Amount > p.t.Amount {
			return t, false, refuse(domain.ErrAmountExceedsPending, i, "%d > %d", t.Amount, p.t.Amount)
		}
		if dr, err = ja.account(i, t.Debit, "debit"); err != nil {
			return t, false, err
		}
		if cr, err = ja.account(i, t.Credit, "credit"); err != nil {
			return t, false, err
		}
		if t.Flags&domain.PostPending != 0 {
			// A reservation is posted only from a purse that may still pay, to one still open.
			// A frozen credit line takes no new authorisation, but the holds it granted before
			// are the merchant's: their captures go on.
			switch {
			case dr.wStatus == domain.StatusClosed:
				return t, false, refuse(domain.ErrAccountClosed, i, "debit account %d", dr.ID)
			case dr.wStatus == domain.StatusBlocked && dr.Kind != domain.KindCreditLine:
				return t, false, refuse(domain.ErrAccountBlocked, i, "debit account %d", dr.ID)
			case cr.wStatus == domain.StatusClosed:
				return t, false, refuse(domain.ErrAccountClosed, i, "credit account %d", cr.ID)
			}
			if err := checkPosted(i, dr, cr, t.Amount); err != nil {
				return t, false, err
			}
		}
		if released(&t, &p.t) > 0 {
			t.Flags |= domain.Counted // what was reserved and not taken leaves the 24-hour window
		}
		delete(st.pending, t.PendingID)
		ja.u.pendDel = append(ja.u.pendDel, p)
		ja.puts = append(ja.puts, put{bucket: bktPending, key: u64key(p.t.Seq), del: true})
		if p.t.For != "" {
			ja.puts = append(ja.puts, put{bucket: bktHolds, key: holdKey(w.l.people.diskKey(w.tx, p.t.For), p.t.Seq), del: true})
		}
	} else {
		if t.PendingID != (domain.ID{}) {
			return t, false, refuse(domain.ErrInvalid, i, "pending id only on post or void")
		}
		if dr, err = ja.account(i, t.Debit, "debit"); err != nil {
			return t, false, err
		}
		if cr, err = ja.account(i, t.Credit, "credit"); err != nil {
			return t, false, err
		}
		if err := checkNew(i, &t, dr, cr); err != nil {
			return t, false, err
		}
		counted, err := ja.checkRules(i, &t, dr, cr)
		if err != nil {
			return t, false, err
		}
		if err := checkBalances(i, &t, dr, cr); err != nil {
			return t, false, err
		}
		if counted {
			t.Flags |= domain.Counted
		}
		if t.For != "" {
			held, err := w.party(t.For)
			if err != nil {
				return t, false, err
			}
			if n := countHolds(w.tx, held); n >= w.l.opt.MaxHoldsPerOwner {
				return t, false, refuse(domain.ErrTooManyHolds, i, "%d payments already held for one payee", n)
			}
		}
		t.Currency = dr.Currency
	}
	ja.saveBalance(dr)
	ja.saveBalance(cr)
	rec := transferRec{Transfer: t, prevDebit: dr.wLast, prevCredit: cr.wLast}
	rec.For = w.l.people.diskKey(w.tx, t.For)
	seq := ja.journal(entTransfer, func(e *enc) { e.transfer(&rec) })
	t.Seq, t.Timestamp = seq, st.lastTS
	dr.wBal.Debit(&t)
	cr.wBal.Credit(&t)
	if t.Flags&domain.Counted != 0 {
		// At the entry's own time, as replay does it, so both build the same window.
		if t.Flags&(domain.VoidPending|domain.PostPending) == 0 {
			dr.wSpend = domain.AddSpend(dr.wSpend, t.Timestamp, t.Amount, maxSpends)
		} else if p := ja.u.pendDel[len(ja.u.pendDel)-1]; p.t.ID == t.PendingID {
			dr.wSpend = releaseSpend(dr.wSpend, p.t.Timestamp, released(&t, &p.t), t.Timestamp)
		}
	}
	dr.wLast, cr.wLast = seq, seq
	if t.Flags&domain.Pending != 0 {
		p := &pendingRec{t: t}
		if t.Timeout > 0 {
			p.expires = t.Timestamp + int64(t.Timeout)
		}
		st.pending[t.ID] = p
		ja.u.pendAdd = append(ja.u.pendAdd, t.ID)
		ja.puts = append(ja.puts, put{bucket: bktPending, key: w.keep8(seq), val: []byte{}})
		if t.For != "" {
			ja.puts = append(ja.puts, put{bucket: bktHolds, key: holdKey(rec.For, seq), val: []byte{}})
		}
	}
	w.ids[t.ID] = t
	ja.puts = append(ja.puts, put{bucket: bktIDs, key: w.keep(t.ID[:]), val: w.keep8(seq)})
	return t, false, nil
}

// released is how much of a counted reservation a void or a partial post gives back to the
// 24-hour window: all of it for a void, the part not taken for a post.
func released(t, pending *domain.Transfer) uint64 {
	switch {
	case pending.Flags&domain.Counted == 0:
		return 0
	case t.Flags&domain.VoidPending != 0:
		return pending.Amount
	case t.Flags&domain.PostPending != 0 && t.Amount < pending.Amount:
		return pending.Amount - t.Amount
	}
	return 0
}

// checkNew applies the validity and status rules a new single or pending transfer must
// pass; the tier rules and then the balance constraints follow.
func checkNew(i int, t *domain.Transfer, dr, cr *account) error {
	switch {
	case dr == cr:
		return refuse(domain.ErrSameAccount, i, "account %d", dr.ID)
	case t.Amount == 0:
		return refuse(domain.ErrZeroAmount, i, "")
	case dr.Currency != cr.Currency:
		return refuse(domain.ErrCurrencyMismatch, i, "%s account %d to %s account %d", dr.Currency, dr.ID, cr.Currency, cr.ID)
	case dr.wStatus == domain.StatusClosed:
		return refuse(domain.ErrAccountClosed, i, "debit account %d", dr.ID)
	case cr.wStatus == domain.StatusClosed:
		return refuse(domain.ErrAccountClosed, i, "credit account %d", cr.ID)
	case dr.wStatus == domain.StatusBlocked:
		return refuse(domain.ErrAccountBlocked, i, "debit account %d", dr.ID)
	case t.Timeout < 0:
		return refuse(domain.ErrInvalid, i, "negative timeout")
	}
	return nil
}

// checkBalances applies the accounts' balance constraints to a new transfer.
func checkBalances(i int, t *domain.Transfer, dr, cr *account) error {
	db, cb := dr.wBal, cr.wBal
	debits, ok1 := add3(db.DebitsPosted, db.DebitsPending, t.Amount)
	credits, ok2 := add3(cb.CreditsPosted, cb.CreditsPending, t.Amount)
	if !ok1 || !ok2 {
		return refuse(domain.ErrOverflow, i, "amount %d", t.Amount)
	}
	return checkLimits(i, dr, cr, debits, credits)
}

// checkPosted checks a post: it moves at most the pending amount from pending to posted,
// so only the posted sums can overflow.
func checkPosted(i int, dr, cr *account, amount uint64) error {
	if _, ok := add3(dr.wBal.DebitsPosted, amount, 0); !ok {
		return refuse(domain.ErrOverflow, i, "amount %d", amount)
	}
	if _, ok := add3(cr.wBal.CreditsPosted, amount, 0); !ok {
		return refuse(domain.ErrOverflow, i, "amount %d", amount)
	}
	return nil
}

func checkLimits(i int, dr, cr *account, debits, credits uint64) error {
	if dr.Flags&domain.DebitsMustNotExceedCredits != 0 {
		room, ok := add3(dr.wBal.CreditsPosted, dr.wLimit, 0)
		if ok && debits > room {
			if dr.wLimit > 0 {
				return refuse(domain.ErrLimitExceeded, i, "account %d", dr.ID)
			}
			return refuse(domain.ErrInsufficientFunds, i, "account %d", dr.ID)
		}
	}
	if cr.Flags&domain.CreditsMustNotExceedDebits != 0 {
		room, ok := add3(cr.wBal.DebitsPosted, cr.wLimit, 0)
		if ok && credits > room {
			return refuse(domain.ErrLimitExceeded, i, "account %d", cr.ID)
		}
	}
	return nil
}

func add3(a, b, c uint64) (uint64, bool) {
	s := a + b
	if s < a {
		return 0, false
	}
	t := s + c
	return t, t >= s
}

// writerView gives Compose the writer's working balances.
type writerView struct{ w *batchWriter }

func (v writerView) Account(id uint64) (domain.Account, bool) {
	a, err := v.w.get(id)
	if err != nil {
		return domain.Account{}, false
	}
	return a.record(), true
}

// holdKey is the holds index key: the owner held for, a zero byte, the pending's position.
func holdKey(owner string, seq uint64) []byte { return ownerIndexKey(owner, seq) }

// countHolds counts the open holds for an owner (earlier jobs of the batch included: their
// writes are in the transaction).
func countHolds(tx Tx, owner string) int {
	prefix := append([]byte(owner), 0)
	n := 0
	c := tx.Bucket(bktHolds).Cursor()
	for k, _ := c.Seek(prefix); k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, _ = c.Next() {
		n++
	}
	return n
}

// party is how the file names an owner: a number by its party, made now if it has none
// (its key and index entry go into the batch's transaction); anything else as it is.
func (w *batchWriter) party(owner string) (string, error) {
	if !isNumber(owner) {
		return owner, nil
	}
	if id, ok := w.l.people.party(w.tx, owner); ok {
		return id, nil
	}
	id, err := w.l.people.create(w.tx, owner)
	if err != nil && w.ioErr == nil {
		w.ioErr = err
	}
	return id, err
}

// partyWords is text for the file with every number among its parts (split by sep: " " in
// free text, ":" in a record's key) named by its party, made now for a number that has none.
func (w *batchWriter) partyWords(s, sep string) (string, error) {
	return mapParts(s, sep, "+", w.party)
}
