package engine

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"mpg/commands"
	"mpg/domain"
)

// A merchant's side of the payment state machine: create (a request to pay by SMS, or a web
// checkout), cancel, refund, list, and expiry. The subscriber's side (YES <code> by SMS, the
// code typed on the checkout page) is in merchant_confirm.go. Each step is one ledger job
// holding the payment record at the version it was read, so racing steps cannot both win.

// CreatePayment is a merchant's request.
type CreatePayment struct {
	Merchant  uint64 // the merchant's account
	MSISDN    string // a request to pay this number by SMS; "" makes a web checkout
	Amount    uint64 // minor units
	Reference string
	// Description is shown to the payer; ReturnURL (checkouts) is where the page sends the
	// buyer back.
	Description, ReturnURL string
	Actor                  string // who asks, for the audit trail
	// Bank makes a request to pay an mDebit: from the subscriber's linked bank account,
	// confirmed by YES <code> like any DEBIT.
	Bank bool
	// Credit makes it a request for an mCredit authorisation: confirmed by YES <code>, it
	// becomes a hold on the subscriber's credit line that the merchant captures or voids.
	Credit bool
	Idempotency
}

// Idempotency is the client's key for a create: the same key and body get the first answer.
type Idempotency struct {
	Key      string // "" for none
	BodyHash string // of the request as sent
}

// idemRecord is what a client's idempotency key answered the first time.
type idemRecord struct {
	Hash    string         `json:"h"`
	Payment domain.Payment `json:"p"`
	Refund  int            `json:"r"` // the refund it made, -1 for a create
}

// MaxIdempotencyKeyLen bounds a client's key.
const MaxIdempotencyKeyLen = 255

func idemKey(m uint64, key string) string {
	return fmt.Sprintf("%s%016x:%x", keyIdem, m, hashKey(key)[:16])
}

// replay returns what the key answered first, if it was used.
func (e *Engine) replay(m uint64, id Idempotency) (*idemRecord, error) {
	if id.Key == "" {
		return nil, nil
	}
	if len(id.Key) > MaxIdempotencyKeyLen {
		return nil, domain.PaymentErr(domain.CodeInvalidRequest, "idempotency key longer than 255 bytes")
	}
	var r idemRecord
	_, found, err := e.record(idemKey(m, id.Key), &r)
	if err != nil || !found {
		return nil, err
	}
	if r.Hash != id.BodyHash {
		return nil, domain.PaymentErr(domain.CodeIdempotencyMismatch, "this idempotency key was used with another request")
	}
	return &r, nil
}

func validText(s string, n int) bool {
	if len(s) > n || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func (e *Engine) checkCreate(req *CreatePayment) (domain.Account, error) {
	var none domain.Account
	switch {
	case req.Amount == 0:
		return none, domain.PaymentErr(domain.CodeInvalidRequest, "amount must be positive")
	case req.Reference == "" || !validText(req.Reference, domain.MaxRefLen):
		return none, domain.PaymentErr(domain.CodeInvalidRequest, fmt.Sprintf("reference: 1 to %d printable bytes", domain.MaxRefLen))
	case !validText(req.Description, domain.MaxDescriptionLen):
		return none, domain.PaymentErr(domain.CodeInvalidRequest, fmt.Sprintf("description: at most %d printable bytes", domain.MaxDescriptionLen))
	case len(req.ReturnURL) > domain.MaxReturnURLLen:
		return none, domain.PaymentErr(domain.CodeInvalidRequest, "return_url too long")
	}
	if req.ReturnURL != "" {
		u, err := url.Parse(req.ReturnURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return none, domain.PaymentErr(domain.CodeInvalidRequest, "return_url must be an absolute http(s) URL")
		}
	}
	m, err := e.l.Account(req.Merchant)
	if err != nil || m.Kind != domain.KindMerchant {
		return none, domain.PaymentErr(domain.CodeNotFound, "no such merchant")
	}
	if m.Status != domain.StatusActive {
		return none, domain.PaymentErr(domain.CodeAccountBlocked, "the merchant account is "+m.Status.String())
	}
	return m, nil
}

func merchantName(m domain.Account) string {
	if m.Name != "" {
		return m.Name
	}
	return m.Owner
}

// CreatePayment makes a request to pay (the subscriber is texted a code and answers YES
// <code>) or a web checkout (the buyer gives his number on the hosted page). It returns
// the payment and whether it is the replay of an earlier create with the same key.
func (e *Engine) CreatePayment(ctx context.Context, req CreatePayment) (domain.Payment, bool, error) {
	m, err := e.checkCreate(&req)
	if err != nil {
		return domain.Payment{}, false, err
	}
	for try := 0; ; try++ {
		if r, err := e.replay(req.Merchant, req.Idempotency); err != nil || r != nil {
			if r != nil {
				return r.Payment, true, nil
			}
			return domain.Payment{}, false, err
		}
		now := e.cfg.Now().UnixNano()
		p := domain.Payment{ID: domain.NewID().String(), Merchant: m.ID, MerchantName: merchantName(m), Amount: req.Amount,
			Currency: e.cfg.Currency, Reference: req.Reference, Description: req.Description, ReturnURL: req.ReturnURL,
			Created: now, Updated: now}
		var err error
		if req.MSISDN == "" {
			err = e.createCheckout(ctx, &p, req)
		} else {
			err = e.createRequest(ctx, &p, req)
		}
		if errors.Is(err, errConflict) && try < maxTurns {
			continue
		}
		return p, false, err
	}
}

func (e *Engine) createCheckout(ctx context.Context, p *domain.Payment, req CreatePayment) error {
	if e.cfg.CheckoutMax > 0 && p.Amount > e.cfg.CheckoutMax {
		return domain.PaymentErr(domain.CodeLimitExceeded, "a web checkout charges at most "+domain.FormatAmount(e.cfg.CheckoutMax, e.cfg.Currency))
	}
	p.Channel, p.State, p.Product = domain.ChannelWeb, domain.PaymentCreated, domain.ProductPay
	p.Expires = p.Created + int64(e.cfg.CheckoutFor)
	job, err := e.paymentJob(p, 0, "", domain.Job{}, req.Actor, false)
	if err != nil {
		return err
	}
	return e.submitCreate(ctx, job, p, req.Idempotency)
}

func (e *Engine) createRequest(ctx context.Context, p *domain.Payment, req CreatePayment) error {
	msisdn, err := domain.ParseMSISDN(req.MSISDN, e.cfg.Region)
	if err != nil {
		return domain.PaymentErr(domain.CodeInvalidRequest, "msisdn: "+err.Error())
	}
	p.Channel, p.State, p.MSISDN, p.Product, p.Requested = domain.ChannelSMS, domain.PaymentAwaiting, msisdn, domain.ProductPay, true
	p.Expires = p.Created + int64(e.cfg.RequestFor)
	mu := e.lock(msisdn)
	mu.Lock()
	defer mu.Unlock()
	t := &turn{e: e, in: Inbound{From: msisdn}}
	if err := t.load(); err != nil {
		return fmt.Errorf("%w: %v", ErrBusy, err)
	}
	if t.purse == nil || t.purse.Status == domain.StatusClosed {
		return domain.PaymentErr(domain.CodeSubscriberNotFound, "no e-purse for this number")
	}
	if lim, ok := e.cfg.Tiers[t.purse.Tier]; ok && lim.PerTx > 0 && p.Amount > lim.PerTx {
		return domain.PaymentErr(domain.CodeLimitExceeded, "above the subscriber's per-payment limit")
	}
	t.lang = t.prof.Lang
	var extra []domain.Profile
	if req.Credit {
		if _, err := e.creditLine(msisdn); err != nil {
			return domain.PaymentErr(domain.CodeSubscriberNotFound, "this subscriber has no credit line")
		}
		p.Channel, p.Product = domain.ChannelCredit, domain.ProductCredit
	}
	if req.Bank {
		switch {
		case e.bank == nil:
			return domain.PaymentErr(domain.CodeUnavailable, "DEBIT is not available: no bank connector")
		case t.prof.BankIBAN == "":
			return domain.PaymentErr(domain.CodeSubscriberNotFound, "this subscriber has no linked bank account")
		}
		rrn, trace := bankKeys(p.ID)
		account, err := e.l.SealFor(msisdn, t.prof.BankIBAN)
		if err != nil {
			return err
		}
		p.Channel, p.Product, p.Bank = domain.ChannelBank, domain.ProductDebit, &domain.BankState{Account: account, Key: rrn, Trace: trace}
		extra = append(extra, write(keyBankKey+rrn, p.ID, 0))
	}
	if err := t.countCode(e.cfg.Now()); err != nil {
		return err
	}
	if err := t.addRequest(p.ID); err != nil {
		return err
	}
	code, err := oneTimeCode()
	if err != nil {
		return err
	}
	p.CodeMAC, p.CodesSent = e.codeMACFor(p, code), 1
	ask := e.sms(msisdn, t.lang, commands.RPayRequest, commands.Args{Party: p.MerchantName,
		Amount: e.money(p.Amount + e.fee(domain.CodePay, p.Amount)), Account: p.Reference, Code: secretMark, N: int(e.cfg.RequestFor.Minutes())})
	if req.Bank {
		ask = e.sms(msisdn, t.lang, commands.RDebitAsk, commands.Args{Amount: e.money(p.Amount), Party: p.MerchantName,
			Account: domain.MaskIBAN(t.prof.BankIBAN), Code: secretMark, N: int(e.cfg.RequestFor.Minutes())})
	}
	msg, err := e.sealedMessage(ask, code)
	if err != nil {
		return err
	}
	msg.Urgent = true
	what, amount := "PAY", p.Amount+e.fee(domain.CodePay, p.Amount)
	if req.Bank {
		what, amount = "DEBIT", p.Amount
	}
	if m, q, ok := t.callInstead(voiceCall{Payment: p.ID, What: what, Amount: amount, Party: p.MerchantName, Expires: p.Expires}); ok {
		msg, extra = m, append(extra, q...) // the code is never sent: he keys his PIN in our call
	}
	job, err := e.paymentJob(p, 0, "", t.withProfile(domain.Job{Messages: []domain.Message{msg}, Profiles: extra}), req.Actor, false)
	if err != nil {
		return err
	}
	return e.submitCreate(ctx, job, p, req.Idempotency)
}

// submitCreate commits a new payment with its idempotency record.
func (e *Engine) submitCreate(ctx context.Context, job domain.Job, p *domain.Payment, id Idempotency) error {
	if id.Key != "" {
		job.Profiles = append(job.Profiles, write(idemKey(p.Merchant, id.Key), idemRecord{Hash: id.BodyHash, Payment: *p, Refund: -1}, 0))
	}
	_, err := e.l.Submit(ctx, job)
	if errors.Is(err, domain.ErrConflict) {
		return errConflict // a racing create with the same key, or the subscriber's profile changed
	}
	return err
}

// countCode counts a code texted to the subscriber now, a merchant's request to pay or a
// checkout's, against codes_per_hour: so that no merchant can text a number an unlimited
// stream of codes, even by cancelling its requests. The count is in the subscriber's profile,
// written at the version read with the request, so racing requests cannot pass it.
func (t *turn) countCode(now time.Time) error {
	hour := now.Truncate(time.Hour).UnixNano()
	if t.prof.CodeHour != hour {
		t.prof.CodeHour, t.prof.CodesInHour = hour, 0
	}
	if t.e.cfg.CodesPerHour > 0 && t.prof.CodesInHour >= t.e.cfg.CodesPerHour {
		return domain.PaymentErr(domain.CodeTooManyCodes, "too many codes sent to this number this hour")
	}
	t.prof.CodesInHour++
	t.profDirty = true
	return nil
}

// maxOpenRequests bounds the requests waiting for one subscriber's answer, so that no
// merchant can flood a number with codes.
const maxOpenRequests = 5

// addRequest remembers an open payment for the subscriber's YES, dropping ones that closed.
func (t *turn) addRequest(id string) error {
	var keep []string
	now := t.e.cfg.Now().UnixNano()
	for _, r := range t.prof.Requests {
		if p, _, err := t.e.payment(r); err == nil && p.State.Open() && p.Expires > now && p.MSISDN == t.in.From && r != id {
			keep = append(keep, r)
		}
	}
	if len(keep) >= maxOpenRequests {
		return domain.PaymentErr(domain.CodeLimitExceeded, "too many payments already wait for this subscriber's answer")
	}
	t.prof.Requests, t.profDirty = append(keep, id), true
	return nil
}

// dropRequest forgets an open payment of the subscriber's.
func (t *turn) dropRequest(id string) {
	for i, r := range t.prof.Requests {
		if r == id {
			t.prof.Requests = append(t.prof.Requests[:i:i], t.prof.Requests[i+1:]...)
			t.profDirty = true
			return
		}
	}
}

func (e *Engine) codeMACFor(p *domain.Payment, code string) string {
	return e.pinMAC(p.MSISDN, "pay:"+p.ID+":"+code)
}

// paymentCode reports whether code is the one texted to p's number for p.
func (e *Engine) paymentCode(p *domain.Payment, code string) bool {
	return e.macEqual(p.CodeMAC, p.MSISDN, "pay:"+p.ID+":"+code)
}

// paymentJob adds to job what every step of a payment writes: the record at the version it
// was read (was: the state it was read in, "" for a new payment), its indexes, the webhook
// event for the merchant, and the audit entry. forceEvent sends an event even when the state
// stays (a second partial refund).
func (e *Engine) paymentJob(p *domain.Payment, ver uint64, was domain.PaymentState, job domain.Job, actor string, forceEvent bool) (domain.Job, error) {
	p.Updated = e.cfg.Now().UnixNano()
	if p.State == domain.PaymentCompleted && was != domain.PaymentCompleted && p.Points == nil && e.loyal() {
		var err error
		if job, err = e.earnOnCompletion(job, p); err != nil {
			return job, err
		}
	}
	if was == "" && p.State.Open() {
		p.Deadline = openDeadline(p.State, p.Expires)
		job.Profiles = append(job.Profiles, domain.Profile{Owner: openKey(p.ID, p.Deadline), Data: indexEntry})
	} else if was.Open() && !p.State.Open() {
		job.Profiles = append(job.Profiles, e.closeOpen(p))
	} else if was != "" && p.State.Open() && p.Deadline != 0 && openDeadline(p.State, p.Expires) != p.Deadline {
		// Still open with another deadline (held for a review): refiled under it.
		job.Profiles = append(job.Profiles, e.closeOpen(p))
		p.Deadline = openDeadline(p.State, p.Expires)
		job.Profiles = append(job.Profiles, domain.Profile{Owner: openKey(p.ID, p.Deadline), Data: indexEntry})
	}
	if was == "" {
		job.Profiles = append(job.Profiles, domain.Profile{Owner: merchantKey(p.Merchant, p.ID), Data: indexEntry})
	}
	job = e.paymentFacts(p, was, job)
	job.Profiles = append(job.Profiles, write(keyPayment+p.ID, p, ver))
	if p.State != was || forceEvent {
		s, err := e.hookSettings(p.Merchant)
		if err != nil {
			return job, err
		}
		ev, err := e.event(p, s)
		if err != nil {
			return job, err
		}
		job.Profiles = append(append(job.Profiles, ev...), e.paymentMail(p, was, s)...)
	}
	if job.Audit == nil {
		if actor == "" {
			actor = "system"
		}
		job.Audit = &domain.Audit{Actor: actor, Action: "payment " + string(p.State),
			Detail: p.ID + " " + domain.FormatAmount(p.Amount, p.Currency) + " " + p.Reference}
	}
	return job, nil
}

// closeOpen removes a payment's open entry, filed under its deadline when it was made
// (before the index was in deadline order, under its id alone). Written once, it is at
// version 1.
func (e *Engine) closeOpen(p *domain.Payment) domain.Profile {
	key := keyOpen + p.ID
	if p.Deadline != 0 {
		key = openKey(p.ID, p.Deadline)
	}
	p.Deadline = 0
	return domain.Profile{Owner: key, Version: 1, Delete: true}
}

// indexEntry is the value of an index record: its key says it all.
var indexEntry = []byte("{}")

// GetPayment returns a merchant's payment (merchant 0: anyone's, for operators).
func (e *Engine) GetPayment(merchant uint64, id string) (domain.Payment, error) {
	p, _, err := e.merchantPayment(merchant, id)
	return p, err
}

// merchantPayment reads a merchant's payment and the version read, in one read.
func (e *Engine) merchantPayment(merchant uint64, id string) (domain.Payment, uint64, error) {
	if _, err := domain.ParseID(id); err != nil {
		return domain.Payment{}, 0, domain.PaymentErr(domain.CodeNotFound, "no payment "+id)
	}
	p, ver, err := e.payment(id)
	if err == nil && merchant != 0 && p.Merchant != merchant {
		return domain.Payment{}, 0, domain.PaymentErr(domain.CodeNotFound, "no payment "+id)
	}
	return p, ver, err
}

// transition moves one of a merchant's payments with f, again if it raced another step.
func (e *Engine) transition(ctx context.Context, merchant uint64, id string, f func(p *domain.Payment) (domain.Job, bool, error)) (domain.Payment, error) {
	for try := 0; ; try++ {
		p, ver, err := e.merchantPayment(merchant, id)
		if err != nil {
			return p, err
		}
		was := p.State
		job, force, err := f(&p)
		if err != nil || (p.State == was && !force) {
			return p, err
		}
		if job, err = e.paymentJob(&p, ver, was, job, "", force); err != nil {
			return p, err
		}
		_, err = e.l.Submit(ctx, job)
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return p, err
	}
}

// CancelPayment cancels a payment that is not paid yet. Cancelling twice is once.
func (e *Engine) CancelPayment(ctx context.Context, actor string, merchant uint64, id string) (domain.Payment, error) {
	return e.transition(ctx, merchant, id, func(p *domain.Payment) (domain.Job, bool, error) {
		switch {
		case p.State == domain.PaymentCancelled:
			return domain.Job{}, false, nil
		case p.State == domain.PaymentInReview:
			// Its money is reserved for an operator's review: only his release or decline,
			// or the end of the review's time, ends it.
			return domain.Job{}, false, domain.PaymentErr(domain.CodeInvalidState, "the payment is held for a review")
		case !p.State.Open():
			return domain.Job{}, false, domain.PaymentErr(domain.CodeInvalidState, "the payment is "+string(p.State))
		}
		p.State, p.Reason = domain.PaymentCancelled, ""
		return domain.Job{Audit: &domain.Audit{Actor: actor, Action: "payment cancelled", Detail: p.ID}}, false, nil
	})
}

// PaymentFilter selects a merchant's payments for reconciliation.
type PaymentFilter struct {
	From, To  int64  // unix nanos, creation time; 0: open
	Reference string // "" for any
	After     string // the last payment id of the previous page
	Limit     int    // at most 1000 (default 100)
}

// maxListScan bounds the records one page reads when a reference filter skips most.
const maxListScan = 20000

// ListPayments returns a merchant's payments oldest first, and the cursor of the next page
// ("" when there is none).
func (e *Engine) ListPayments(merchant uint64, f PaymentFilter) ([]domain.Payment, string, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	prefix := merchantKey(merchant, "")
	from := prefix
	if f.From > 0 {
		from = prefix + fmt.Sprintf("%016x", f.From)
	}
	if f.After != "" {
		from = max(from, prefix+f.After+"\x00")
	}
	var out []domain.Payment
	next, last := "", ""
	capped, err := e.scan(prefix, from, maxListScan, func(r domain.Profile) (bool, error) {
		id := strings.TrimPrefix(r.Owner, prefix)
		last = id
		if pid, err := domain.ParseID(id); err == nil && f.To > 0 && int64(binaryTime(pid)) > f.To {
			return false, nil
		}
		p, _, err := e.payment(id)
		if err != nil {
			return false, err
		}
		if f.Reference != "" && p.Reference != f.Reference {
			return true, nil
		}
		if len(out) == f.Limit { // one more beyond the page: there is a next page
			next = out[len(out)-1].ID
			return false, nil
		}
		out = append(out, p)
		return true, nil
	})
	if err != nil {
		return nil, "", err
	}
	if capped {
		next = last // the scan's bound, matches or not: the caller goes on from here
	}
	return out, next, nil
}

// binaryTime is the creation time written in a time-ordered id.
func binaryTime(id domain.ID) uint64 {
	var t uint64
	for _, b := range id[:8] {
		t = t<<8 | uint64(b)
	}
	return t
}

// ExpirePayments moves payments whose time ran out to expired; the daemon calls it every
// second. The open index is in deadline order: it reads only the entries due, at most 1000 a
// call. It returns how many it expired.
func (e *Engine) ExpirePayments(ctx context.Context) (int, error) {
	recs, err := e.l.ProfilesFrom(keyOpen, "", 1000)
	if err != nil {
		return 0, err
	}
	now := e.cfg.Now().UnixNano()
	n := 0
	for _, r := range recs {
		deadline, id, old := parseOpenKey(r.Owner)
		if !old && deadline > now {
			break // the rest are due later
		}
		p, _, err := e.payment(id)
		if err != nil || !p.State.Open() || openDeadline(p.State, p.Expires) > now {
			continue
		}
		_, err = e.transition(ctx, 0, id, func(p *domain.Payment) (domain.Job, bool, error) {
			if !p.State.Open() || openDeadline(p.State, p.Expires) > now {
				return domain.Job{}, false, nil
			}
			p.State = domain.PaymentExpired
			return domain.Job{}, false, nil
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// SetCheckoutURL sets the public base URL of the checkout pages once the listener is known
// (a daemon started on port 0). Call it before serving.
func (e *Engine) SetCheckoutURL(u string) { e.cfg.CheckoutURL = u }

// RunExpiry expires payments whose time ran out, every so often, until ctx ends.
func (e *Engine) RunExpiry(ctx context.Context, every time.Duration, logf func(string, ...any)) {
	t := time.NewTicker(every)
	defer t.Stop()
	var statements, erasures, campaigns time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if time.Since(statements) > time.Minute { // credit statements: once a minute is plenty
				statements = time.Now()
				if _, err := e.Statements(ctx); err != nil && ctx.Err() == nil {
					logf("credit statements: %v", err)
				}
			}
			if _, err := e.ExpirePayments(ctx); err != nil && ctx.Err() == nil {
				logf("expiring payments: %v", err)
			}
			if _, err := e.ExpireHolds(ctx); err != nil && ctx.Err() == nil {
				logf("expiring credit authorisations: %v", err)
			}
			if _, err := e.ExpirePoints(ctx); err != nil && ctx.Err() == nil {
				logf("points due: %v", err)
			}
			if _, err := e.ExpireDisputes(ctx); err != nil && ctx.Err() == nil {
				logf("dispute deadlines: %v", err)
			}
			if _, err := e.IndexCases(ctx); err != nil && ctx.Err() == nil {
				logf("indexing dispute cases by person: %v", err)
			}
			if time.Since(campaigns) >= time.Second { // PerSecond SMS a call: once a second
				campaigns = time.Now()
				if _, err := e.RunCampaigns(ctx); err != nil && ctx.Err() == nil {
					logf("campaigns: %v", err)
				}
			}
			if time.Since(erasures) > time.Minute {
				erasures = time.Now()
				if _, err := e.EraseDue(ctx); err != nil && ctx.Err() == nil {
					logf("erasures due: %v", err)
				}
				if _, err := e.EndDuePromotions(ctx); err != nil && ctx.Err() == nil {
					logf("promotions past their end: %v", err)
				}
			}
		}
	}
}
