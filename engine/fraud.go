package engine

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"mpg/commands"
	"mpg/domain"
	"mpg/fraud"
)

// The fraud rules in the payment path. Each payment a subscriber commits himself to (a
// texted PAY, BILL, SEND, DEBIT or CREDIT, YES to a merchant's request, a checkout code) is
// scored by the fraud package from the payer's, the payee's and the service's recent
// activity, which the statistics follower keeps in the books from the journal's facts. A
// payer's own payments the follower has not folded yet are read from his purse's history,
// and the step's job names his purse as untouched since: two payments of his racing on two
// channels are scored one after the other, never both from the same history.
//
//	allow   the payment goes on
//	review  the payment goes on; the decision waits for an operator, who may reverse it
//	hold    the money is reserved (pending transfers), not paid, until an operator releases
//	        it or declines it, or the review time runs out (the ledger gives it back)
//	decline the payment is refused with words that never say why
//
// A hold needs money that can be reserved in the books: a purse paying a merchant, a biller
// or another purse. Where it cannot (a DEBIT, a CREDIT, a SEND to a number without a purse,
// a company's account, points), and for a payment the payer has still to confirm (YES), a
// hold declines. A DEBIT's or a CREDIT's unfolded payments are read from the journal's facts
// past the follower (unfoldedFacts), since they are in no purse's history. Every decision a rule scored is stored
// with every rule's value and the rule set's version, so it can be explained and scored
// again under another rule set.
const (
	keyRiskPaid  = "@fa:r:"      // + account (hex): what it was paid (and gave back); what a purse pays is in its payer's record (payer_record.go)
	keyRiskAll   = "@fa:service" // the whole service's (wrong codes across numbers)
	keyDecision  = "@fd:"        // + id: a decision with its inputs
	keyRiskQueue = "@fq:"        // + time (hex) : id: decisions waiting for an operator

	defaultReviewFor = 72 * time.Hour
	riskCacheFor     = 250 * time.Millisecond // a payee's or the service's activity kept at hand
	maxRiskCache     = 4096
)

// FraudConfig is how the fraud rules run.
type FraudConfig struct {
	Rules     fraud.Config  // Enabled false (the zero value): no rule runs
	ReviewFor time.Duration // how long a held payment waits for an operator (default 72h)
	// Shadow scores every payment and keeps the decisions a rule scored, acting on none:
	// how an operator tunes a rule set on real traffic before enforcing it.
	Shadow bool
}

// riskRecord is an account's activity as the follower folded it, up to journal position
// Seq (every entry before it). It is kept in binary (domain.RawRecord, Seq as a varint,
// then the activity's binary form): it is read on every payment the rules score.
type riskRecord struct {
	Seq uint64
	A   fraud.Activity
}

func (r *riskRecord) encode() []byte {
	b, _ := r.appendTo([]byte{domain.RawRecord})
	return b
}

func (r *riskRecord) decode(b []byte) error {
	if len(b) == 0 || b[0] != domain.RawRecord {
		return fraud.ErrBinary
	}
	return r.decodeFrom(b[1:])
}

// readRisk reads an activity record (none: empty, at version 0).
func (e *Engine) readRisk(key string) (riskRecord, uint64, error) {
	var r riskRecord
	b, ver, err := e.l.Profile(key)
	if err != nil || b == nil {
		return r, ver, err
	}
	if err := r.decode(b); err != nil {
		return riskRecord{}, 0, fmt.Errorf("record %s: %w", key, err)
	}
	return r, ver, nil
}

// FraudDecision is a stored decision.
type FraudDecision struct {
	ID      string      `json:"id"`
	Payment string      `json:"payment,omitempty"`
	Action  string      `json:"action"`
	Score   int         `json:"score"`
	Config  int         `json:"config"` // the rule set's version
	Hits    []fraud.Hit `json:"hits,omitempty"`
	Values  []fraud.Hit `json:"values"` // every rule's value: what a replay scores again
	Amount  uint64      `json:"amount"`
	Product string      `json:"product"`
	Channel string      `json:"channel"`
	Payer   uint64      `json:"payer"` // the payer's purse
	Payee   uint64      `json:"payee"`
	Local   uint8       `json:"local"`
	At      int64       `json:"at"`
	// State: open (waiting for an operator), released, declined, expired, done (a
	// decline, decided when it was made), or shadow (the rules ran in shadow: not acted on).
	State   string   `json:"state"`
	By      string   `json:"by,omitempty"`
	Decided int64    `json:"decided,omitempty"`
	Pending []string `json:"pending,omitempty"` // a hold's reserved transfers
}

// queueKey is an open decision's entry in the operators' queue: in time order.
func (d *FraudDecision) queueKey() string { return keyRiskQueue + hex16(uint64(d.At)) + ":" + d.ID }

// riskCache keeps payees' and the service's activities at hand for riskCacheFor.
type riskCache struct {
	mu sync.Mutex
	m  map[string]riskCached
}

type riskCached struct {
	r  riskRecord
	at time.Time
}

func (e *Engine) reviewFor() time.Duration {
	if e.cfg.Fraud.ReviewFor > 0 {
		return e.cfg.Fraud.ReviewFor
	}
	return defaultReviewFor
}

// activity reads an account's activity; cached says it may come from memory.
func (e *Engine) activity(key string, cached bool) (riskRecord, error) {
	if cached {
		e.riskCache.mu.Lock()
		c, ok := e.riskCache.m[key]
		e.riskCache.mu.Unlock()
		if ok && time.Since(c.at) < riskCacheFor {
			return c.r, nil
		}
	}
	r, _, err := e.readRisk(key)
	if err == nil && cached {
		e.riskCache.mu.Lock()
		if e.riskCache.m == nil || len(e.riskCache.m) >= maxRiskCache {
			e.riskCache.m = map[string]riskCached{}
		}
		e.riskCache.m[key] = riskCached{r: r, at: time.Now()}
		e.riskCache.mu.Unlock()
	}
	return r, err
}

// An account that pays and is paid (a purse) has an activity for each side: what it pays in
// its payer's record, what it is paid here.
func paidKey(account uint64) string { return keyRiskPaid + hex16(account) }

// payerActivity is the turn's subscriber's activity, with his own payments the follower
// has not folded yet: from his purse's history, and, for a payment whose money does not
// come from his purse (a DEBIT, a CREDIT, a company's account), from the facts the journal
// holds past the follower's position as well, when it is close behind.
func (t *turn) payerActivity(fromPurse bool) (fraud.Activity, error) {
	r, err := t.e.readPayerRisk(t.purse.ID)
	folded := max(r.Seq, t.e.followed())
	if err == nil && !fromPurse {
		t.e.unfoldedFacts(&r.A, t.purse.ID, folded)
	}
	if err != nil || t.purse.LastSeq < folded {
		return r.A, err // the follower has folded everything of his purse
	}
	recent, err := t.e.unfolded(t.purse.ID, folded)
	for i := len(recent) - 1; i >= 0; i-- {
		tr := recent[i]
		if tr.Debit == t.purse.ID && paysSomeone(tr) {
			r.A.Observe(fraud.Event{Time: tr.Timestamp, Kind: fraud.Paid, Amount: tr.Amount, Counterparty: tr.Credit,
				Product: productOf(tr.Code), Local: 255})
		}
	}
	return r.A, err
}

// maxUnfoldedFacts bounds the journal entries a payment not from the purse reads past the
// follower's position; further behind, the follower's figures are all it has.
const maxUnfoldedFacts = 512

// unfoldedFacts folds into a the payer's payments the journal holds past position from
// that were not from his purse (those are in its history).
func (e *Engine) unfoldedFacts(a *fraud.Activity, purse, from uint64) {
	if head := e.headSeq(); head < from || head-from > maxUnfoldedFacts {
		return
	}
	entries, _, err := e.l.Journal(from, maxUnfoldedFacts)
	if err != nil {
		return
	}
	for _, en := range entries {
		f := en.Fact
		if f != nil && f.Kind == domain.FactPaid && f.Payer == purse && (f.Channel == domain.ChannelBank || f.Channel == domain.ChannelCredit) {
			a.Observe(fraud.Event{Time: en.Time, Kind: fraud.Paid, Amount: f.Amount, Counterparty: f.Payee, Product: f.Product, Channel: f.Channel, Local: f.Local})
		}
	}
}

// unfoldedPage is how many of an account's transfers one history read takes.
const unfoldedPage = 4

// unfolded reads an account's transfers from journal position from on, newest first, in
// small pages (the follower is usually one or two payments behind), at most 64.
func (e *Engine) unfolded(account, from uint64) ([]domain.Transfer, error) {
	var out []domain.Transfer
	for before := uint64(0); len(out) < 64; {
		page, err := e.l.History(account, unfoldedPage, before)
		if err != nil {
			return out, err
		}
		for _, tr := range page {
			if tr.Seq < from {
				return out, nil
			}
			out = append(out, tr)
		}
		if len(page) < unfoldedPage {
			return out, nil
		}
		before = page[len(page)-1].Seq
	}
	return out, nil
}

// paysSomeone says whether a transfer from a purse is a payment (not a fee, a post or a
// void of one already counted).
func paysSomeone(tr domain.Transfer) bool {
	switch tr.Code {
	case domain.CodePay, domain.CodeBill, domain.CodeSend, domain.CodeHold:
		return tr.Flags&(domain.PostPending|domain.VoidPending) == 0
	}
	return false
}

// risk scores a payment the turn's subscriber is about to make. ok false: no rule runs
// (off, or no purse to score).
func (t *turn) risk(product, channel string, payee, amount uint64) (d fraud.Decision, ok bool, err error) {
	if t.e.risk == nil {
		return d, false, nil
	}
	var payer fraud.Activity // an employee with no purse of his own: no history as a payer
	var payerID uint64
	var limit uint64
	if t.purse != nil {
		var err error
		if payer, err = t.payerActivity(channel == domain.ChannelSMS || channel == domain.ChannelWeb); err != nil {
			return d, false, err
		}
		payerID, limit = t.purse.ID, t.e.cfg.Tiers[t.purse.Tier].PerTx
	}
	to, err1 := t.e.activity(paidKey(payee), true)
	all, err2 := t.e.activity(keyRiskAll, true)
	if err1 != nil || err2 != nil {
		return d, false, cmp.Or(err1, err2)
	}
	local := t.e.localHour(t.in.From)
	d = t.e.risk.Decide(fraud.Input{Now: t.e.cfg.Now().UnixNano(), Amount: amount, Product: product, Channel: channel,
		Payer: &payer, Payee: &to.A, Service: &all.A, PayeeID: payee, PayerID: payerID, PerPaymentLimit: limit, Local: local})
	if !t.e.cfg.Fraud.Shadow && t.purse != nil {
		t.scored = &domain.AccountAt{ID: t.purse.ID, LastSeq: t.purse.LastSeq}
	}
	if d.Action != fraud.Allow {
		t.decision = &FraudDecision{ID: domain.NewID().String(), Action: d.Action.String(), Score: d.Score, Config: d.Config,
			Hits: d.Hits, Values: d.Values, Amount: amount, Product: product, Channel: channel, Payer: payerID, Payee: payee,
			Local: local, At: t.e.cfg.Now().UnixNano(), State: "done"}
	}
	return d, true, nil
}

// riskGate scores a payment and says what to do: nil to go on (hold: reserve it for a
// review instead of paying, when canHold), or the refusal. A hold where the money cannot
// be reserved declines.
func (t *turn) riskGate(product, channel string, payee, amount uint64, canHold bool) (r *refusal, hold bool) {
	d, ok, err := t.risk(product, channel, payee, amount)
	switch {
	case err != nil:
		// An activity the rules cannot read (damaged, or written by a newer mpg): the
		// payment is not held up by it; it goes on unscored, counted
		// (mpg_fraud_unscored_total), as a payment made while the rules are off.
		t.e.unscored.Add(1)
		return nil, false
	case !ok || d.Action == fraud.Allow:
		return nil, false
	case t.e.cfg.Fraud.Shadow:
		t.decision.State = "shadow" // kept, not acted on
		return nil, false
	case d.Action == fraud.Review:
		t.decision.State = "open"
		return nil, false
	case d.Action == fraud.Hold && canHold:
		t.decision.State = "open"
		return nil, true
	}
	t.decision.Action = fraud.Decline.String() // a hold where nothing can be reserved
	return &refusal{domain.CodeRiskDeclined, commands.RRiskDeclined, commands.Args{}}, false
}

// withDecision adds to a job the decision the turn made (if one is to be kept), its place
// in the operators' queue while open, and the guard that the payer's purse was not
// touched since it was scored.
func (t *turn) withDecision(job domain.Job) domain.Job {
	if t.scored != nil {
		job.Untouched = append(job.Untouched, *t.scored)
	}
	d := t.decision
	if d == nil {
		return job
	}
	if d.Payment == "" {
		d.Payment = paymentIn(job)
	}
	if d.State == "open" {
		job.Profiles = append(job.Profiles, domain.Profile{Owner: d.queueKey(), Data: []byte(d.ID)})
	}
	b, _ := json.Marshal(d)
	job.Profiles = append(job.Profiles, domain.Profile{Owner: keyDecision + d.ID, Data: b})
	return job
}

// countDecision counts a kept decision once its job is durable.
func (e *Engine) countDecision(d *FraudDecision) {
	if d == nil {
		return
	}
	if a, err := fraud.ParseAction(d.Action); err == nil {
		e.decided[a].Add(1)
	}
}

// FraudUnscored is how many payments went on unscored because an activity could not be read.
func (e *Engine) FraudUnscored() int64 { return e.unscored.Load() }

// FraudDecided is how many decisions of an action this engine kept (a rule scored), in
// shadow or enforced.
func (e *Engine) FraudDecided(a fraud.Action) int64 { return e.decided[a].Load() }

// followedFor is how long the follower's position is taken from memory.
const followedFor = 100 * time.Millisecond

// followed is a journal position the statistics follower has folded everything before:
// its position as this engine last saw it (it only grows, so an old one is safe).
func (e *Engine) followed() uint64 {
	if at := e.followedAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < followedFor {
		return e.followedPos.Load()
	}
	var pos statsPos
	if _, _, err := e.record(keyStatsPos, &pos); err == nil {
		if pos.Rebuild {
			pos.Next = 0 // the activities are being folded again from the start
		}
		e.followedPos.Store(pos.Next) // as the books hold it: lower after a rebuild
		e.followedAt.Store(time.Now().UnixNano())
	}
	return e.followedPos.Load()
}

// sawFollowed notes the position a pass of this engine's follower reached.
func (e *Engine) sawFollowed(next uint64) {
	for cur := e.followedPos.Load(); next > cur && !e.followedPos.CompareAndSwap(cur, next); cur = e.followedPos.Load() {
	}
	e.followedAt.Store(time.Now().UnixNano())
}

// paymentIn is the id of the payment a job records (its record, or a texted payment's
// index entry), "" if none.
func paymentIn(job domain.Job) string {
	for _, p := range job.Profiles {
		switch {
		case strings.HasPrefix(p.Owner, keyPayment):
			return strings.TrimPrefix(p.Owner, keyPayment)
		case strings.HasPrefix(p.Owner, keyMerchant):
			return p.Owner[strings.LastIndexByte(p.Owner, ':')+1:]
		}
	}
	return ""
}
