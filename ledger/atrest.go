package ledger

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"mpg/domain"
)

// What the engine keeps besides the books follows the same rule as the books: the file
// never holds a person's number in clear, nor what is his where it cannot be erased.
//
//   - In every record's value (a payment, a case), each number is named by its party, made
//     on the spot for a number that has none; reads give the number back.
//   - A record whose key names a person (his profile, his consents, his pending links) is
//     sealed whole under his key: his bank account, his language, his settings.
//   - An outbox message names its recipient by his party and its text is sealed under his
//     key: a reply saying "Welcome Alice" or a masked IBAN is his.
//
// Erasing the person destroys the key: the values then name a party nobody can trace, and
// his sealed records and messages read as nothing.

// sealedRecord begins a record value sealed under its person's key (JSON never does).
const sealedRecord = 0x01

// A number or a party id inside a value is a token: its mark ('+' or '~'), then a run of
// digits and lowercase letters, between edges. The bytes around a token are the same
// before and after it is mapped, so the same rule finds a number on the way to the file and
// its party id on the way back: the round trip is exact. On the left anything but a digit or
// a mark may stand (a quote, a space, '=' in a URL, the 'n' of a JSON "\n"); on the right
// nothing that could continue it: no letter or digit, no mark, no '_' (which joins a sealed
// field to its party, see SealFor).
func leftEdge(c byte) bool { return !(c >= '0' && c <= '9' || c == '+' || c == '~') }

func rightEdge(c byte) bool {
	return !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c == '~' || c == '_')
}

// mapTokens maps each token of b that begins with mark and that isToken accepts, through f.
func mapTokens(b []byte, mark byte, isToken func(string) bool, f func(string) (string, error)) ([]byte, error) {
	i := bytes.IndexByte(b, mark)
	if i < 0 {
		return b, nil
	}
	out := make([]byte, 0, len(b)+32)
	for prev := byte(' '); i >= 0; i = bytes.IndexByte(b, mark) {
		if i > 0 {
			prev = b[i-1]
		}
		j := i + 1
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] >= 'a' && b[j] <= 'z') {
			j++
		}
		tok := string(b[i:j])
		if leftEdge(prev) && (j == len(b) || rightEdge(b[j])) && isToken(tok) {
			mapped, err := f(tok)
			if err != nil {
				return nil, err
			}
			out = append(append(out, b[:i]...), mapped...)
		} else {
			out = append(out, b[:j]...)
		}
		prev, b = b[j-1], b[j:]
	}
	return append(out, b...), nil
}

// partyToken tells a party id: the prefix and 16 lowercase hex digits.
func partyToken(s string) bool {
	if len(s) != 17 || !IsParty(s) {
		return false
	}
	for _, c := range s[1:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// keyParty is the first party a record's key (as the file holds it) names: the person the
// record belongs to.
func keyParty(diskKey string) string {
	for _, part := range strings.Split(diskKey, ":") {
		if partyToken(part) {
			return part
		}
	}
	return ""
}

// diskRecord is a record's value as the file keeps it under diskKey.
func (w *batchWriter) diskRecord(diskKey string, data []byte) ([]byte, error) {
	if len(data) == 0 || data[0] != domain.RawRecord { // a binary record names nobody
		var err error
		if data, err = mapTokens(data, '+', numberToken, w.recordNumber); err != nil {
			return nil, err
		}
	}
	party := keyParty(diskKey)
	if party == "" {
		return data, nil
	}
	who := w.l.people.person(w.tx, party)
	if who == nil {
		return data, nil // a party erased meanwhile: nothing is his any more
	}
	return append([]byte{sealedRecord}, seal(who.aead, data, []byte(diskKey))...), nil
}

// recordNumber names a number in a record's value by its party: one a person has, or a
// valid number, made a party now. A text that only looks like one (a merchant's "+1000000")
// is kept as it is: it makes no party, so free text cannot grow the people without bound.
func (w *batchWriter) recordNumber(tok string) (string, error) {
	if id, ok := w.l.people.party(w.tx, tok); ok {
		return id, nil
	}
	if n, err := domain.ParseMSISDN(tok, ""); err != nil || n != tok {
		return tok, nil
	}
	return w.party(tok)
}

// memRecord is a record's value as the ledger's users see it: opened, its parties named by
// their numbers. A record sealed for a person since erased reads as nothing (nil).
func (p *people) memRecord(tx Tx, diskKey string, data []byte) []byte {
	if len(data) > 0 && data[0] == sealedRecord {
		who := p.person(tx, keyParty(diskKey))
		if who == nil {
			return nil
		}
		plain, err := unseal(who.aead, data[1:], []byte(diskKey))
		if err != nil {
			return nil
		}
		data = plain
	}
	if len(data) > 0 && data[0] == domain.RawRecord {
		return data
	}
	out, _ := mapTokens(data, partyPrefix[0], partyToken, p.numbers(tx))
	return out
}

// diskMessage is an outbox message as the file keeps it: its recipient by his party, its
// text sealed under his key.
func (w *batchWriter) diskMessage(m domain.Message) (domain.Message, error) {
	if !isNumber(m.To) {
		return m, nil
	}
	party, err := w.party(m.To)
	if err != nil {
		return m, err
	}
	who := w.l.people.person(w.tx, party)
	if who == nil {
		return m, nil
	}
	m.To, m.Text = party, string(seal(who.aead, []byte(m.Text), []byte("sms "+party)))
	return m, nil
}

// memMessage is diskMessage undone: an erased recipient's message keeps his party id and
// has no text.
func (p *people) memMessage(tx Tx, m *domain.Message) {
	if !IsParty(m.To) {
		return
	}
	party := m.To
	who := p.person(tx, party)
	if who == nil {
		m.Text = ""
		return
	}
	m.To = who.number
	text, err := unseal(who.aead, []byte(m.Text), []byte("sms "+party))
	if err != nil {
		m.Text = ""
		return
	}
	m.Text = string(text)
}

// sealedFieldSep joins a sealed field's party and its sealed text: a byte that continues a
// token, so a value's scan never takes the party inside for one to name by its number.
const sealedFieldSep = '_'

// SealFor seals a personal field (a bank account) for a record that is not the person's
// alone (a payment): his party, then the field sealed under his key. Erasing him makes it
// unreadable for good. The number must be a person the ledger knows.
func (l *Ledger) SealFor(number, field string) (sealed string, err error) {
	err = l.view(func(tx Tx) error {
		party, ok := l.people.party(tx, number)
		if !ok {
			return fmt.Errorf("%w: no person for that number", ErrNoPerson)
		}
		if field == "" {
			return nil
		}
		if s := l.people.sealField(tx, party, field); s != "" {
			sealed = party + string(sealedFieldSep) + s
			return nil
		}
		return fmt.Errorf("%w: erased meanwhile", ErrNoPerson)
	})
	return sealed, err
}

// Unseal opens a field SealFor sealed: "" once its person is erased. Any other text (a field
// written before fields were sealed) is returned as it is.
func (l *Ledger) Unseal(s string) string {
	if len(s) < 18 || s[17] != sealedFieldSep || !partyToken(s[:17]) {
		return s
	}
	var out string
	l.view(func(tx Tx) error {
		out = l.people.openField(tx, s[:17], s[18:])
		return nil
	})
	return out
}

// sealRest brings a file of schema 2 to schema 3 in the open's transaction: every record's
// value and every outbox message is written again as diskRecord and diskMessage keep them
// (their numbers named by parties, a person's own sealed under his key).
func (l *Ledger) sealRest(tx Tx) (err error) {
	w := &batchWriter{l: l, tx: tx}
	defer func() {
		if err == nil {
			err = w.ioErr
		}
	}()
	type kv struct{ k, v []byte }
	var recs []kv
	b := tx.Bucket(bktProfiles)
	err = b.ForEach(func(k, v []byte) error {
		data, ver := decodeProfile(v)
		if len(data) > 0 && data[0] == sealedRecord {
			return nil
		}
		disk, err := w.diskRecord(string(k), data)
		if err == nil && !bytes.Equal(disk, data) {
			recs = append(recs, kv{bytes.Clone(k), encodeProfile(disk, ver)})
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := b.Put(r.k, r.v); err != nil {
			return err
		}
	}
	if err := l.sealParts(tx); err != nil {
		return err
	}
	return l.sealMessages(w)
}

// sealParts moves the parts of long SMS kept under their sender's number in clear to his
// keyed hash, their text sealed.
func (l *Ledger) sealParts(tx Tx) error {
	b := tx.Bucket(bktParts)
	type part struct{ k, v []byte }
	var old []part
	if err := b.ForEach(func(k, v []byte) error {
		old = append(old, part{bytes.Clone(k), bytes.Clone(v)})
		return nil
	}); err != nil {
		return err
	}
	for _, p := range old {
		f := bytes.SplitN(p.k, []byte{0}, 3)
		if err := b.Delete(p.k); err != nil || len(f) != 3 || len(p.v) < 9 {
			continue // unreadable: dropped, as an incomplete message is when its time runs out
		}
		k := append(l.partPrefix(string(f[0]), string(f[1])), f[2]...)
		if err := b.Put(k, append(bytes.Clone(p.v[:9]), l.people.sealPart(k, p.v[9:])...)); err != nil {
			return err
		}
	}
	return nil
}

// sealMessages writes again every outbox message still naming its recipient by number.
func (l *Ledger) sealMessages(w *batchWriter) error {
	out := w.tx.Bucket(bktOutbox)
	var ids [][]byte
	if err := out.ForEach(func(k, v []byte) error {
		m, err := decodeMessage(v)
		if err == nil && isNumber(m.To) {
			ids = append(ids, bytes.Clone(k))
		}
		return err
	}); err != nil {
		return err
	}
	for _, k := range ids {
		m, _ := decodeMessage(out.Get(k))
		disk, err := m, error(nil)
		if _, known := l.people.party(w.tx, m.To); !known && m.Status.Final() {
			// Sent to a number that is nobody now (erased, or never registered): kept as a
			// count, not as a person brought back under a new party.
			disk.To, disk.Text = "-", ""
		} else if disk, err = w.diskMessage(m); err != nil {
			return err
		}
		e := enc{}
		e.message(&disk)
		if err := out.Put(k, e.b); err != nil {
			return err
		}
	}
	return nil
}

// partSender is how the parts of a long SMS name their sender: a keyed hash.
func (p *people) partSender(sender string) []byte {
	m := hmac.New(sha256.New, p.parts)
	m.Write([]byte(sender))
	return []byte(hex.EncodeToString(m.Sum(nil)[:16]))
}

// sealPart seals a part's text, bound to its key.
func (p *people) sealPart(key, data []byte) []byte { return seal(p.partAEAD, data, key) }

// openPart opens the text of a part record (expiry | coding | sealed text).
func (p *people) openPart(key, v []byte) ([]byte, error) {
	if len(v) < 9 {
		return nil, errCorrupt
	}
	return unseal(p.partAEAD, v[9:], key)
}
