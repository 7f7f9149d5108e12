package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"mpg/domain"
	"time"
)

// The journal is one bbolt bucket keyed by a big-endian sequence number. Each value is
//
//	hash[32] | type[1] | timestamp[8] | payload
//
// where hash = SHA-256(previous hash | seq | type | timestamp | payload). Changing, removing
// or reordering any entry breaks every hash after it, which Verify reports.
const (
	entAccount  byte = 1 // an account was opened
	entTransfer byte = 2 // money moved (single, pending, post, void, expiry void)
	entStatus   byte = 3 // an account was blocked, unblocked or closed
	entAudit    byte = 4 // an admin or system action
	entTier     byte = 5 // a purse moved to another KYC tier
	entLimit    byte = 6 // a credit line's limit changed
	entFact     byte = 7 // what a payment step did (domain.Fact), for statistics
)

const entHeader = 32 + 1 + 8

var errCorrupt = errors.New("corrupt record")

type enc struct{ b []byte }

func (e *enc) u8(v uint8)     { e.b = append(e.b, v) }
func (e *enc) u16(v uint16)   { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *enc) u64(v uint64)   { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *enc) id(v domain.ID) { e.b = append(e.b, v[:]...) }
func (e *enc) str(s string)   { e.u16(uint16(len(s))); e.b = append(e.b, s...) }

type dec struct {
	b   []byte
	err error
}

func (d *dec) take(n int) []byte {
	if d.err != nil || len(d.b) < n {
		d.err = errCorrupt
		return make([]byte, n)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) u8() uint8         { return d.take(1)[0] }
func (d *dec) u16() uint16       { return binary.BigEndian.Uint16(d.take(2)) }
func (d *dec) u64() uint64       { return binary.BigEndian.Uint64(d.take(8)) }
func (d *dec) id() (v domain.ID) { copy(v[:], d.take(16)); return v }
func (d *dec) str() string       { n := d.u16(); return string(d.take(int(n))) }

func u64key(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// chainHash links an entry to the one before it.
func chainHash(prev [32]byte, seq uint64, body []byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	h.Write(s[:])
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// sealEntry builds a journal value: it reserves the hash, writes type and time, lets fill
// append the payload, then computes the hash over everything after it.
func sealEntry(buf []byte, prev [32]byte, seq uint64, typ byte, ts int64, fill func(e *enc)) ([]byte, [32]byte) {
	e := enc{b: append(buf[:0], make([]byte, 32)...)}
	e.u8(typ)
	e.u64(uint64(ts))
	fill(&e)
	h := chainHash(prev, seq, e.b[32:])
	copy(e.b[:32], h[:])
	return e.b, h
}

// entry is a decoded journal value.
type entry struct {
	hash [32]byte
	typ  byte
	ts   int64
	body []byte // payload, aliasing the value
}

func splitEntry(v []byte) (entry, error) {
	if len(v) < entHeader {
		return entry{}, errCorrupt
	}
	var en entry
	copy(en.hash[:], v[:32])
	en.typ = v[32]
	en.ts = int64(binary.BigEndian.Uint64(v[33:41]))
	en.body = v[41:]
	return en, nil
}

// transferRec is a transfer as the journal holds it: the transfer plus the backwards links
// of the debit and credit accounts' histories.
type transferRec struct {
	domain.Transfer
	prevDebit, prevCredit uint64
}

func (e *enc) transfer(t *transferRec) {
	e.id(t.ID)
	e.u64(t.Debit)
	e.u64(t.Credit)
	e.u64(t.Amount)
	e.u64(t.PendingAmount)
	e.id(t.PendingID)
	e.u64(uint64(t.Timeout))
	e.u16(t.Code)
	e.u16(uint16(t.Flags))
	e.u64(t.prevDebit)
	e.u64(t.prevCredit)
	e.str(t.Currency)
	e.str(t.Ref)
	if t.For != "" {
		e.str(t.For) // absent in entries written before holds were indexed
	}
}

func (d *dec) transfer() transferRec {
	var t transferRec
	t.ID = d.id()
	t.Debit = d.u64()
	t.Credit = d.u64()
	t.Amount = d.u64()
	t.PendingAmount = d.u64()
	t.PendingID = d.id()
	t.Timeout = time.Duration(d.u64())
	t.Code = d.u16()
	t.Flags = domain.TransferFlags(d.u16())
	t.prevDebit = d.u64()
	t.prevCredit = d.u64()
	t.Currency = d.currency()
	t.Ref = d.str()
	if len(d.b) > 0 {
		t.For = d.str()
	}
	return t
}

// accountStatic is the part of an account that the journal's open entry carries.
func (e *enc) accountStatic(a *domain.Account) {
	e.u64(a.ID)
	e.str(a.Currency)
	e.u8(uint8(a.Kind))
	e.str(a.Owner)
	e.str(a.Name)
	e.str(a.Phone)
	e.u8(a.Tier)
	e.u8(uint8(a.Flags))
	e.u64(a.Limit)
	e.u64(uint64(a.Created))
}

func (d *dec) accountStatic() domain.Account {
	var a domain.Account
	a.ID = d.u64()
	a.Currency = d.currency()
	a.Kind = domain.Kind(d.u8())
	a.Owner = d.str()
	a.Name = d.str()
	a.Phone = d.str()
	a.Tier = d.u8()
	a.Flags = domain.AccountFlags(d.u8())
	a.Limit = d.u64()
	a.Created = int64(d.u64())
	return a
}

// accountRecord is the checkpoint of one account: static part, status, balances, and the
// journal position they are correct as of. Replay applies only entries after asOf.
func encodeAccountRecord(a *domain.Account, asOf uint64) []byte {
	e := enc{b: make([]byte, 0, 128)}
	e.accountStatic(a)
	e.u8(uint8(a.Status))
	e.u64(a.DebitsPending)
	e.u64(a.DebitsPosted)
	e.u64(a.CreditsPending)
	e.u64(a.CreditsPosted)
	e.u64(a.LastSeq)
	e.u64(asOf)
	e.u16(uint16(len(a.Spends)))
	for _, sp := range a.Spends {
		e.u64(uint64(sp.At))
		e.u64(sp.Amount)
	}
	return e.b
}

func decodeAccountRecord(v []byte) (domain.Account, uint64, error) {
	d := dec{b: v}
	a := d.accountStatic()
	a.Status = domain.Status(d.u8())
	a.DebitsPending = d.u64()
	a.DebitsPosted = d.u64()
	a.CreditsPending = d.u64()
	a.CreditsPosted = d.u64()
	a.LastSeq = d.u64()
	asOf := d.u64()
	if len(d.b) > 0 { // records written before the 24-hour window was kept have none
		n := int(d.u16())
		if n > 0 {
			a.Spends = make([]domain.Spend, n)
			for i := range a.Spends {
				a.Spends[i] = domain.Spend{At: int64(d.u64()), Amount: d.u64()}
			}
		}
	}
	return a, asOf, d.err
}

func (e *enc) message(m *domain.Message) {
	e.u64(m.ID)
	e.str(m.From)
	e.str(m.To)
	e.str(m.Text)
	e.u64(uint64(m.Created))
	e.u8(uint8(m.Status))
	e.u16(m.Attempts)
	e.str(m.SMSCID)
	e.str(m.Reason)
	// Absent in messages written before secrets were sealed, and before retries were kept.
	e.str(m.Sealed)
	var flags uint8
	if m.Urgent {
		flags |= 1
	}
	e.u8(flags)
	e.u64(uint64(m.NextAt))
	e.u8(m.Unknowns)
}

func (d *dec) message() domain.Message {
	var m domain.Message
	m.ID = d.u64()
	m.From = d.str()
	m.To = d.str()
	m.Text = d.str()
	m.Created = int64(d.u64())
	m.Status = domain.MessageStatus(d.u8())
	m.Attempts = d.u16()
	m.SMSCID = d.str()
	m.Reason = d.str()
	if len(d.b) > 0 {
		m.Sealed = d.str()
	}
	if len(d.b) > 0 {
		m.Urgent = d.u8()&1 != 0
		m.NextAt = int64(d.u64())
		m.Unknowns = d.u8()
	}
	return m
}

func decodeMessage(v []byte) (domain.Message, error) {
	d := dec{b: v}
	m := d.message()
	return m, d.err
}

// currencyNames holds one copy of each known code, shared by every account.
var currencyNames = func() map[string]string {
	m := map[string]string{}
	for _, k := range domain.Currencies() {
		m[k] = k
	}
	return m
}()

func (d *dec) currency() string {
	n := d.u16()
	b := d.take(int(n))
	if s, ok := currencyNames[string(b)]; ok {
		return s
	}
	return string(b)
}

// A dedupe record's value is str(key) | result. The top bit of the key's length marks a
// record that may be retried (domain.Dedupe.Retry): keys are at most MaxDedupeKeyLen
// bytes, so records written before it never set the bit and stay final.
const dedupeRetryBit = 0x8000

func encodeDedupe(d *domain.Dedupe) []byte {
	e := enc{b: make([]byte, 0, 2+len(d.Key)+len(d.Result))}
	n := uint16(len(d.Key))
	if d.Retry {
		n |= dedupeRetryBit
	}
	e.u16(n)
	e.b = append(e.b, d.Key...)
	e.b = append(e.b, d.Result...)
	return e.b
}

// decodeDedupe splits a dedupe record's value; the slices alias v.
func decodeDedupe(v []byte) (key, result []byte, retry bool, err error) {
	d := dec{b: v}
	n := d.u16()
	key = d.take(int(n &^ dedupeRetryBit))
	return key, d.b, n&dedupeRetryBit != 0, d.err
}

// fact encodes a domain.Fact; its strings are bounded by the writer.
func (e *enc) fact(f *domain.Fact) {
	e.u8(uint8(f.Kind))
	e.str(f.Product)
	e.str(f.Channel)
	e.u64(f.Payer)
	e.u64(f.Payee)
	e.u64(f.Amount)
	e.u64(f.Fee)
	e.str(f.Reason)
	e.u64(f.Earned)
	e.u64(f.Spent)
	e.str(f.Promo)
	e.u64(f.Discount)
	e.u8(f.Local)
}

func (d *dec) fact() domain.Fact {
	return domain.Fact{Kind: domain.FactKind(d.u8()), Product: d.str(), Channel: d.str(), Payer: d.u64(), Payee: d.u64(),
		Amount: d.u64(), Fee: d.u64(), Reason: d.str(), Earned: d.u64(), Spent: d.u64(), Promo: d.str(), Discount: d.u64(), Local: d.u8()}
}
