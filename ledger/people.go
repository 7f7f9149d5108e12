package ledger

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"mpg/domain"
)

// People are kept apart from the books. The file never holds a subscriber's number or name
// where it cannot be erased: wherever the books name a person (an account's owner, the
// number money is held for, the key of his profile) they name a random party id, and the
// person's number and name are sealed under a key of his own. The keys are wrapped under
// the server's identity key; a keyed index (an HMAC of the number under that key) finds a
// party from a number. Erasing a person destroys his key and his index entry: what the
// journal and every backup hold about him becomes unreadable for good, while every
// transfer, balance and hash of the chain stays as it was and still verifies.
//
//	party_keys:  party id -> nonce | AES-GCM(wrap key, person key)
//	parties:     party id -> nonce | AES-GCM(person key, number)
//	party_index: HMAC-SHA256(index key, number)[:16] -> party id
var (
	bktPartyKeys  = []byte("party_keys")
	bktParties    = []byte("parties")
	bktPartyIndex = []byte("party_index")
)

// partyPrefix begins every party id: neither a number ('+'), a merchant code nor a system
// owner ('@') can be taken for one.
const partyPrefix = "~"

// keyIdentityInFile holds the identity key of a file opened without one (tools, tests): the
// people are still erasable, but only a key kept outside the file protects a stolen copy.
var keyIdentityInFile = []byte("identity key (in file)")

// isNumber tells the owners that are people: E.164 numbers.
func isNumber(owner string) bool { return numberToken(owner) }

// IsParty tells whether an owner is a party id: a person the books name without his number
// (an erased one, once his key is gone).
func IsParty(owner string) bool { return strings.HasPrefix(owner, partyPrefix) }

// person is one party as the ledger knows it in memory.
type person struct {
	number string
	aead   cipher.AEAD // under the person's key
}

// people maps numbers and party ids both ways, reading the file when asked: the party index
// finds a number's party, the party's wrapped key and sealed number give the person. What
// was read is kept in a bounded cache, so opening a file costs nothing per person and
// memory does not grow with the number of subscribers. Every lookup names the transaction
// it reads in (the writer's own, with the parties it made and not yet committed, or a
// reader's), never opening one of its own inside another. The writer adds and removes.
type people struct {
	index, wrap, parts []byte // derived from the identity key
	partAEAD, wrapAEAD cipher.AEAD
	mu                 sync.RWMutex
	byNumber           map[string]string // cache: number -> party id
	byParty            map[string]*person
	// erased are the parties forgotten since the file was opened: a reader still on an older
	// snapshot must not bring one back into the cache.
	erased map[string]bool
	max    int // cache size
}

// DefaultPeopleCache is how many people the ledger keeps at hand (a few hundred bytes each).
const DefaultPeopleCache = 100000

// keyCompactPending marks a file whose freed pages may still hold what was taken out of it
// (a move to party ids, an erasure): the next open compacts it.
var keyCompactPending = []byte("compact pending")

func newPeople(identityKey []byte) *people {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, identityKey)
		m.Write([]byte("mpg people " + label))
		return m.Sum(nil)
	}
	p := &people{index: derive("index"), wrap: derive("wrap"), parts: derive("parts"), byNumber: map[string]string{}, byParty: map[string]*person{},
		erased: map[string]bool{}, max: DefaultPeopleCache}
	p.partAEAD, p.wrapAEAD = gcm(derive("parts seal")), gcm(p.wrap)
	return p
}

func gcm(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return a
}

func seal(a cipher.AEAD, plain, ad []byte) []byte {
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // the system's random source does not fail on Linux
	}
	return a.Seal(nonce, nonce, plain, ad)
}

func unseal(a cipher.AEAD, v, ad []byte) ([]byte, error) {
	if len(v) < a.NonceSize() {
		return nil, errCorrupt
	}
	return a.Open(nil, v[:a.NonceSize()], v[a.NonceSize():], ad)
}

// indexKey is a number's key in the party index.
func (p *people) indexKey(number string) []byte {
	m := hmac.New(sha256.New, p.index)
	m.Write([]byte(number))
	return m.Sum(nil)[:16]
}

// party returns a number's party id, if it has one, as tx sees it.
func (p *people) party(tx Tx, number string) (string, bool) {
	p.mu.RLock()
	id, ok := p.byNumber[number]
	p.mu.RUnlock()
	if ok {
		return id, true
	}
	v := tx.Bucket(bktPartyIndex).Get(p.indexKey(number))
	if v == nil {
		return "", false
	}
	id = string(v)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.erased[id] {
		return "", false
	}
	p.room()
	p.byNumber[number] = id
	return id, true
}

// person returns a party as tx sees it: nil once erased.
func (p *people) person(tx Tx, party string) *person {
	p.mu.RLock()
	who, known := p.byParty[party], p.erased[party]
	p.mu.RUnlock()
	if who != nil || known {
		return who
	}
	who, err := p.read(tx, party)
	if err != nil || who == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.erased[party] {
		return nil
	}
	p.room()
	p.byParty[party], p.byNumber[who.number] = who, party
	return who
}

// read unwraps a party's key and opens its number (nil: no such party in tx).
func (p *people) read(tx Tx, party string) (*person, error) {
	wrapped := tx.Bucket(bktPartyKeys).Get([]byte(party))
	if wrapped == nil {
		return nil, nil
	}
	key, err := unseal(p.wrapAEAD, wrapped, []byte(party))
	if err != nil {
		return nil, fmt.Errorf("party %s: %w", party, ErrIdentityKey)
	}
	who := &person{aead: gcm(key)}
	number, err := unseal(who.aead, tx.Bucket(bktParties).Get([]byte(party)), []byte(party))
	if err != nil {
		return nil, fmt.Errorf("party %s: its record is unreadable", party)
	}
	who.number = string(number)
	return who, nil
}

// reset empties the cache (after a failed batch on a shared store: the parties it made
// were never stored).
func (p *people) reset() {
	p.mu.Lock()
	p.byNumber, p.byParty = map[string]string{}, map[string]*person{}
	p.mu.Unlock()
}

// unerase takes back the erasures of a batch that failed: the parties are in the books.
func (p *people) unerase(parties []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, party := range parties {
		delete(p.erased, party)
	}
}

// evict forgets a party another daemon erased.
func (p *people) evict(party string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.byParty, party)
	for n, id := range p.byNumber {
		if id == party {
			delete(p.byNumber, n)
		}
	}
	p.erased[party] = true
}

// room makes room in the cache for one more (p.mu held): a tenth of it goes, at random.
func (p *people) room() {
	if len(p.byParty) < p.max && len(p.byNumber) < p.max {
		return
	}
	n := p.max/10 + 1
	for k := range p.byParty {
		if n--; n < 0 {
			break
		}
		delete(p.byParty, k)
	}
	n = p.max/10 + 1
	for k := range p.byNumber {
		if n--; n < 0 {
			break
		}
		delete(p.byNumber, k)
	}
}

// diskKey is how the file names an owner: a number by its party (as it is when it has
// none: nothing is stored under it), anything else as it is.
func (p *people) diskKey(tx Tx, owner string) string {
	if !isNumber(owner) {
		return owner
	}
	if id, ok := p.party(tx, owner); ok {
		return id
	}
	return owner
}

// number is the owner a party id stands for: the number, or the party id itself once the
// person is erased.
func (p *people) number(tx Tx, owner string) string {
	if !IsParty(owner) {
		return owner
	}
	if who := p.person(tx, owner); who != nil {
		return who.number
	}
	return owner
}

// numbers makes number fit mapParts and mapTokens, reading in tx.
func (p *people) numbers(tx Tx) func(string) (string, error) {
	return func(s string) (string, error) { return p.number(tx, s), nil }
}

// sealField seals a personal field (a name) for the journal under the party's key.
func (p *people) sealField(tx Tx, party, field string) string {
	if field == "" {
		return ""
	}
	who := p.person(tx, party)
	if who == nil {
		return ""
	}
	return base64.RawStdEncoding.EncodeToString(seal(who.aead, []byte(field), []byte(party)))
}

// openField opens a sealed field: "" once the person is erased.
func (p *people) openField(tx Tx, party, sealed string) string {
	if sealed == "" {
		return ""
	}
	who := p.person(tx, party)
	if who == nil {
		return ""
	}
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil {
		return ""
	}
	plain, err := unseal(who.aead, b, []byte(party))
	if err != nil {
		return ""
	}
	return string(plain)
}

// create makes a party for a number in tx: its key, its sealed number, its index entry.
func (p *people) create(tx Tx, number string) (string, error) {
	var raw [8]byte
	key := make([]byte, 32)
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	id := partyPrefix + hex.EncodeToString(raw[:])
	who := &person{number: number, aead: gcm(key)}
	puts := []struct {
		bucket, key, val []byte
	}{
		{bktPartyKeys, []byte(id), seal(gcm(p.wrap), key, []byte(id))},
		{bktParties, []byte(id), seal(who.aead, []byte(number), []byte(id))},
		{bktPartyIndex, p.indexKey(number), []byte(id)},
	}
	for _, w := range puts {
		if err := tx.Bucket(w.bucket).Put(w.key, w.val); err != nil {
			return "", err
		}
	}
	p.mu.Lock()
	p.room()
	p.byNumber[number], p.byParty[id] = id, who
	p.mu.Unlock()
	return id, nil
}

// check opens one party of the file, if it has any: a file sealed under another identity
// key is refused at its open, not at the first person read.
func (p *people) check(tx Tx) error {
	k, _ := tx.Bucket(bktPartyKeys).Cursor().First()
	if k == nil {
		return nil
	}
	_, err := p.read(tx, string(k))
	return err
}

// ErrIdentityKey: the file's people were sealed under another identity key.
var ErrIdentityKey = errors.New("the people in this file were sealed under another identity key")

// ErrIdentityKeyMissing: the file's people are sealed under a key it was not given.
var ErrIdentityKeyMissing = errors.New("the people in this file are sealed under an identity key not given")

// forget destroys a party's key, sealed number and index entry in tx, and forgets it in
// memory. It reports whether there was anything to destroy.
func (p *people) forget(tx Tx, party string) (bool, error) {
	who, err := p.read(tx, party)
	if err != nil || who == nil {
		return false, err
	}
	p.mu.Lock()
	delete(p.byParty, party)
	delete(p.byNumber, who.number)
	p.erased[party] = true
	p.mu.Unlock()
	if who != nil {
		if err := tx.Bucket(bktPartyIndex).Delete(p.indexKey(who.number)); err != nil {
			return false, err
		}
	}
	for _, b := range [][]byte{bktPartyKeys, bktParties} {
		if err := tx.Bucket(b).Delete([]byte(party)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// keyIdentityCheck holds a check value of the identity key kept outside the file: once a
// file has been opened with one, it never opens without it (nor with another).
var keyIdentityCheck = []byte("identity key check")

func identityCheck(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("mpg identity key check v1"))
	return m.Sum(nil)[:8]
}

// identityKey is the key the people are sealed under: the caller's, or one kept in the file.
func identityKey(tx Tx, given []byte) ([]byte, error) {
	m := tx.Bucket(bktMeta)
	check := m.Get(keyIdentityCheck)
	if len(given) > 0 {
		switch {
		case len(given) < 16:
			return nil, fmt.Errorf("identity key: at least 16 bytes")
		case check != nil && !hmac.Equal(check, identityCheck(given)):
			return nil, ErrIdentityKey
		case check == nil && tx.Writable():
			if err := m.Put(keyIdentityCheck, identityCheck(given)); err != nil {
				return nil, err
			}
		}
		return given, nil
	}
	if check != nil {
		return nil, fmt.Errorf("%w: it is kept outside the file (engine.identity_key_file, MPG_IDENTITY_KEY)", ErrIdentityKeyMissing)
	}
	if k := m.Get(keyIdentityInFile); k != nil {
		return append([]byte(nil), k...), nil
	}
	if !tx.Writable() {
		return nil, fmt.Errorf("identity key: none given and none in the file")
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, m.Put(keyIdentityInFile, k)
}

// memAccount turns an account as the file holds it into what the ledger's users see: a
// person's number for his party id, his name opened. An erased person's accounts keep the
// party id and no name.
func (p *people) memAccount(tx Tx, a *domain.Account) {
	if IsParty(a.Phone) {
		a.Phone = p.number(tx, a.Phone)
	}
	if !IsParty(a.Owner) {
		return
	}
	party := a.Owner
	a.Owner, a.Name = p.number(tx, party), p.openField(tx, party, a.Name)
}

// diskAccount is an account as the file holds it: a person's party id for his number, his
// name sealed. The writer calls it after the party exists (see batchWriter.party).
func (p *people) diskAccount(tx Tx, a domain.Account) domain.Account {
	a.Phone = p.diskKey(tx, a.Phone)
	if !isNumber(a.Owner) {
		return a
	}
	party := p.diskKey(tx, a.Owner)
	a.Owner, a.Name = party, p.sealField(tx, party, a.Name)
	return a
}

// numberToken tells a word of free text that is a person's number (an audit entry's actor
// or detail): E.164, '+' and 6 to 15 digits.
func numberToken(w string) bool {
	if len(w) < 7 || len(w) > 16 || w[0] != '+' {
		return false
	}
	for _, c := range w[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// numbersIn turns the party ids of a text back into numbers, for those not erased.
func (p *people) numbersIn(tx Tx, s string) string {
	out, _ := mapParts(s, " ", partyPrefix, p.numbers(tx))
	return out
}

// mapParts maps each part of s (split by sep) through f; s without mark is returned as is.
func mapParts(s, sep, mark string, f func(string) (string, error)) (string, error) {
	if !strings.Contains(s, mark) {
		return s, nil
	}
	parts := strings.Split(s, sep)
	for i, part := range parts {
		var err error
		if parts[i], err = f(part); err != nil {
			return "", err
		}
	}
	return strings.Join(parts, sep), nil
}

// recordKey is how the file names a record's key: a number, or every number segment of a
// key made of parts joined by ':' ("@cl:+33612345678"), by its party, when it has one.
func (p *people) recordKey(tx Tx, key string) string {
	out, _ := mapParts(key, ":", "+", func(s string) (string, error) { return p.diskKey(tx, s), nil })
	return out
}

// numbersInKey is recordKey undone, for people not erased.
func (p *people) numbersInKey(tx Tx, key string) string {
	out, _ := mapParts(key, ":", partyPrefix, p.numbers(tx))
	return out
}

// reindex rebuilds the party index under the present identity key (after the key moved out
// of the file: entries made under the old one would still find an erased person's party).
func (p *people) reindex(tx Tx) error {
	if err := emptyBucket(tx, bktPartyIndex); err != nil {
		return err
	}
	b := tx.Bucket(bktPartyIndex)
	err := tx.Bucket(bktPartyKeys).ForEach(func(k, _ []byte) error {
		who, err := p.read(tx, string(k))
		if err != nil || who == nil {
			return err
		}
		return b.Put(p.indexKey(who.number), bytes.Clone(k))
	})
	if err != nil {
		return err
	}
	return tx.Bucket(bktMeta).Put(keyCompactPending, []byte{1}) // the old entries' pages
}
