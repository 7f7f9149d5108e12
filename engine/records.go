package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mpg/domain"
)

// The payment state machine keeps its records in the books as versioned records (see
// domain.Profile) under keys that cannot be phone numbers. Every write names the version it
// was computed from, so two racing transitions of one record cannot both commit. Keys stay
// under domain.MaxStringLen bytes.
const (
	keyPayment  = "@p:"  // + payment id: the payment record
	keyOpen     = "@pa:" // + deadline %016x + ":" + payment id: payments that can still expire, in deadline order
	keyMerchant = "@pm:" // + merchant %016x + ":" + payment id: a merchant's payments in time order
	keyIdem     = "@pi:" // + merchant %016x + ":" + hash of the client's key: idempotency
	keySettings = "@m:"  // + merchant %016x: API key list, webhook endpoint
	keyAPIKey   = "@k:"  // + hash of an API key: whose key it is
	keyEvent    = "@w:"  // + event id: a webhook delivery
	keyQueued   = "@wq:" // + event id: index of deliveries still to make
)

// paymentOf finds the payment a transfer paid, from what the transfer itself says: its
// id is the payment's (a texted payment, an answered request or checkout), or it posts a
// pending transfer whose id is the payment's (a confirmed PAY) or that holds for the payment
// (a captured credit authorisation), or it is a bank's credit naming the payment's retrieval
// reference. found is false for a transfer that paid no payment (a fee, a claim, a payment
// from before payments had records).
func (e *Engine) paymentOf(tr domain.Transfer) (p domain.Payment, ver uint64, found bool, err error) {
	try := func(id string) bool {
		if id == "" {
			return false
		}
		p, ver, err = e.payment(id)
		if domain.CodeOf(err) == domain.CodeNotFound {
			err = nil
			return false
		}
		return true
	}
	switch {
	case try(tr.ID.String()):
	case tr.Flags&domain.PostPending != 0 && try(tr.PendingID.String()):
	case tr.Flags&domain.PostPending != 0:
		if held, terr := e.l.Transfer(tr.PendingID); terr == nil && strings.HasPrefix(held.For, "@ch:") {
			try(strings.TrimPrefix(held.For, "@ch:"))
		}
	case tr.Code == domain.CodeClaim && len(tr.Ref) == 16:
		// A claim names the hold by its first 16 hex digits (its time): of the payments made
		// then, the one the claim completed.
		recs, rerr := e.l.ProfilesFrom(keyPayment+tr.Ref, "", 8)
		for i := 0; rerr == nil && i < len(recs) && p.Transfer != tr.ID.String(); i++ {
			try(strings.TrimPrefix(recs[i].Owner, keyPayment))
		}
		if p.Transfer != tr.ID.String() {
			p = domain.Payment{}
		}
	case tr.Code == domain.CodeDebit && tr.Ref != "":
		var id string
		if _, ok, rerr := e.record(keyBankKey+tr.Ref, &id); rerr == nil && ok {
			try(id)
		}
	}
	if err == nil && p.ID == "" && (tr.Code == domain.CodePay || tr.Code == domain.CodeCompanyPay) {
		switch req, capped := e.requestScan(tr); {
		case req.ID != "":
			p, ver, err = e.payment(req.ID)
		case capped:
			err = ErrUnknownPayment // a payment may name it that the search did not reach
		}
	}
	if err != nil {
		return p, 0, false, err
	}
	return p, ver, p.ID != "", nil
}

// ErrUnknownPayment: a transfer may have paid a payment the search could not reach; it is
// not given back on its own, where the payment's refunds would not count.
var ErrUnknownPayment = errors.New("this transfer may belong to a payment too old to find from it: reverse the payment by its id (mpg payment list)")

// maxRequestScan bounds the payments requestScan reads.
const maxRequestScan = 20000

// requestScan reads the merchant's payments made in the hour before tr for the one naming
// it; capped is true when it stopped at its bound before the transfer's time.
func (e *Engine) requestScan(tr domain.Transfer) (found domain.Payment, capped bool) {
	prefix := merchantKey(tr.Credit, "")
	capped, err := e.scan(prefix, prefix+hex16(uint64(tr.Timestamp-int64(time.Hour))), maxRequestScan, func(r domain.Profile) (bool, error) {
		id := strings.TrimPrefix(r.Owner, prefix)
		if pid, err := domain.ParseID(id); err != nil || int64(binaryTime(pid)) > tr.Timestamp {
			return false, nil
		}
		var p domain.Payment
		if _, ok, err := e.record(keyPayment+id, &p); err == nil && ok && p.Transfer == tr.ID.String() {
			found = p
			return false, nil
		}
		return true, nil
	})
	return found, capped || err != nil
}

func merchantKey(m uint64, id string) string { return keyMerchant + hex16(m) + ":" + id }
func settingsKey(m uint64) string            { return keySettings + hex16(m) }

// heldMargin is how long after its claim window a held SEND's record expires: the ledger
// releases the hold by its own clock from the moment it committed, and the record follows
// it, never precedes it (a claim refused by the ledger is never a claim the record missed).
const heldMargin = time.Minute

// openDeadline is when a payment in state s expiring at expires is due to expire.
func openDeadline(s domain.PaymentState, expires int64) int64 {
	if s == domain.PaymentHeld || s == domain.PaymentInReview {
		return expires + int64(heldMargin)
	}
	return expires
}

// openKey is a payment's entry in the index of payments that can still expire.
func openKey(id string, deadline int64) string {
	return keyOpen + hex16(uint64(max(0, deadline))) + ":" + id
}

// parseOpenKey reads an open entry: its deadline and payment id; old is true for an entry
// written before the index was in deadline order (the payment id alone).
func parseOpenKey(key string) (deadline int64, id string, old bool) {
	rest := strings.TrimPrefix(key, keyOpen)
	d, id, found := strings.Cut(rest, ":")
	if !found {
		return 0, rest, true
	}
	v, err := strconv.ParseUint(d, 16, 64)
	if err != nil {
		return 0, id, true
	}
	return int64(v), id, false
}

// hex16 is m as 16 hex digits (a key's part that sorts by number).
func hex16(m uint64) string {
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = "0123456789abcdef"[m&15]
		m >>= 4
	}
	return string(b[:])
}

// record reads one record into v; found is false when there is none.
func (e *Engine) record(key string, v any) (ver uint64, found bool, err error) {
	b, ver, err := e.l.Profile(key)
	if err != nil || b == nil {
		return ver, false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return 0, false, fmt.Errorf("record %s: %w", key, err)
	}
	return ver, true, nil
}

// write is a record write at the version read.
func write(key string, v any, ver uint64) domain.Profile {
	b, _ := json.Marshal(v)
	return domain.Profile{Owner: key, Data: b, Version: ver}
}

// merchantSettings are what a merchant configured: API keys (hashes only) and the webhook
// endpoint. The webhook signing secret is never stored: it is derived from the server's
// key and the merchant's secret generation, so the file and its backups cannot sign.
type merchantSettings struct {
	Keys          []apiKeyInfo `json:"keys,omitempty"`
	WebhookURL    string       `json:"webhook_url,omitempty"`
	WebhookOff    bool         `json:"webhook_off,omitempty"` // the endpoint answered 410 Gone
	SecretVersion int          `json:"secret_version,omitempty"`
	Email         string       `json:"email,omitempty"` // where e-mail notices go ("": none)
}

func (e *Engine) settings(m uint64) (merchantSettings, uint64, error) {
	var s merchantSettings
	ver, _, err := e.record(settingsKey(m), &s)
	return s, ver, err
}

// hookTTL bounds how long a merchant's webhook endpoint is taken from memory: every payment
// step asks whether there is one, and this engine forgets it at once when it changes it; a
// change made by another process is seen within hookTTL.
const hookTTL = time.Second

type hookEntry struct {
	s  merchantSettings
	at time.Time
}

// maxHooks bounds the merchants whose settings are kept in memory.
const maxHooks = 4096

// hookSettings are a merchant's settings for its webhook events, from memory when fresh. A
// value read before this engine changed the settings is never kept (the generation moved).
func (e *Engine) hookSettings(m uint64) (merchantSettings, error) {
	if v, ok := e.hooks.Load(m); ok && time.Since(v.(hookEntry).at) < hookTTL {
		return v.(hookEntry).s, nil
	}
	gen := e.hookGen.Load()
	s, _, err := e.settings(m)
	if err == nil && e.hookGen.Load() == gen {
		if e.hookCount.Add(1) > maxHooks {
			e.hooks.Clear()
			e.hookCount.Store(0)
		}
		e.hooks.Store(m, hookEntry{s: s, at: time.Now()})
	}
	return s, err
}

// forgetHook drops a merchant's settings from memory once this engine changed them.
func (e *Engine) forgetHook(m uint64) {
	e.hookGen.Add(1)
	e.hooks.Delete(m)
}

// payment reads a payment record.
func (e *Engine) payment(id string) (domain.Payment, uint64, error) {
	var p domain.Payment
	ver, found, err := e.record(keyPayment+id, &p)
	if err == nil && !found {
		if p, found = e.leanPayment(id); !found {
			err = domain.PaymentErr(domain.CodeNotFound, "no payment "+id)
		}
	}
	return p, ver, err
}

// A texted PAY, BILL or SEND is completed in the job that asks for it, and its record is
// then all in its transfer (payer, payee, amount, reference, time) but for the fee: the job
// writes only the payee's index entry, holding the fee, and the webhook event. The record is
// read from them (version 0) until something happens to the payment: the first refund or
// reversal writes it whole, at version 0, so two racing steps cannot both. This keeps the
// payment path, which the ledger's single writer serialises, at one small record a payment.

// leanEntry is a lean payment's index entry.
type leanEntry struct {
	Fee      uint64                  `json:"fee,omitempty"`
	Points   *domain.PaymentPoints   `json:"points,omitempty"`
	Discount *domain.PaymentDiscount `json:"discount,omitempty"`
}

// leanPaymentJob adds to a texted payment's job its index entry and webhook event.
func (e *Engine) leanPaymentJob(p *domain.Payment, job domain.Job, payee *domain.Account) (domain.Job, error) {
	job.Profiles = append(job.Profiles, write(merchantKey(p.Merchant, p.ID), leanEntry{Fee: p.Fee, Points: p.Points, Discount: p.Discount}, 0))
	job = e.paymentFacts(p, "", job)
	if payee.Kind != domain.KindMerchant && payee.Kind != domain.KindBiller {
		return job, nil // a subscriber has no webhook endpoint
	}
	s, err := e.hookSettings(p.Merchant)
	if err != nil {
		return job, err
	}
	ev, err := e.event(p, s)
	job.Profiles = append(append(job.Profiles, ev...), e.paymentMail(p, "", s)...)
	return job, err
}

// leanPayment reads a texted payment's record from its transfer and index entry.
func (e *Engine) leanPayment(id string) (domain.Payment, bool) {
	tid, err := domain.ParseID(id)
	if err != nil {
		return domain.Payment{}, false
	}
	tr, err := e.l.Transfer(tid)
	if err != nil || tr.Flags&(domain.Pending|domain.PostPending|domain.VoidPending) != 0 ||
		(tr.Code != domain.CodePay && tr.Code != domain.CodeBill && tr.Code != domain.CodeSend) {
		return domain.Payment{}, false
	}
	var entry leanEntry
	if _, found, err := e.record(merchantKey(tr.Credit, id), &entry); err != nil || !found {
		return domain.Payment{}, false
	}
	payer, err1 := e.l.Account(tr.Debit)
	payee, err2 := e.l.Account(tr.Credit)
	if err1 != nil || err2 != nil {
		return domain.Payment{}, false
	}
	name := merchantName(payee)
	if payee.Kind == domain.KindPurse {
		name = domain.Mask(payee.Owner)
	}
	return domain.Payment{ID: id, Product: productOf(tr.Code), Merchant: payee.ID, MerchantName: name, Channel: domain.ChannelSMS,
		MSISDN: payer.Owner, Amount: tr.Amount, Fee: entry.Fee, Currency: tr.Currency, Reference: tr.Ref, State: domain.PaymentCompleted,
		Created: tr.Timestamp, Updated: tr.Timestamp, Expires: tr.Timestamp, Transfer: id, Debited: payer.ID, Points: entry.Points, Discount: entry.Discount}, true
}

// scan calls f with each record whose key begins with prefix, in key order, from the key
// from on (inclusive; "" for the first), until f says to stop, the range ends, or max
// records were read. It reports whether it stopped at max (more may follow).
func (e *Engine) scan(prefix, from string, max int, f func(r domain.Profile) (more bool, err error)) (bool, error) {
	if from < prefix {
		from = prefix
	}
	for read := 0; read < max; {
		n := min(domain.MaxProfileScan, max-read)
		recs, err := e.l.ProfilesFrom(prefix, from, n)
		if err != nil {
			return false, err
		}
		for _, r := range recs {
			read++
			if more, err := f(r); err != nil || !more {
				return false, err
			}
		}
		if len(recs) < n {
			return false, nil
		}
		from = recs[len(recs)-1].Owner + "\x00"
	}
	return true, nil
}
