package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// Disputes. A case is a versioned record like a payment's: every move is one ledger job
// that writes the case at the version read, its indexes, the payment record (whose
// `dispute` names the open case, so a refund racing the opening conflicts and loses), the
// merchant's webhook event and the audit entry. A decision's refund is giveBack, under the
// payment's one cap. Timed moves (the merchant's deadline, the close after a decision, a
// return request's answer) are filed in one deadline index the sweeper reads in order.
const (
	keyDispute      = "@dc:" // + case id: the case record
	keyDisputeOf    = "@dm:" // + merchant %016x + ":" + case id: a merchant's cases in time order
	keyDisputeDue   = "@dd:" // + deadline %016x + ":" + c|r + id: cases and return requests due to move
	keyReturn       = "@dr:" // + request id: a return request
	keyReturnPayee  = "@dq:" // + payee number + ":" + request id: requests waiting for the payee's answer
	dueCase, dueRet = 'c', 'r'
)

// DisputeConfig is how long each step of a dispute may take.
type DisputeConfig struct {
	SelfService time.Duration // REV within this long of the SEND (default 24h)
	AnswerFor   time.Duration // the payee's time to answer a REV (default 48h)
	OpenFor     time.Duration // DISPUTE within this long of the payment (default 120 days)
	MerchantFor time.Duration // the merchant's time to answer a case (default 7 days)
	CloseAfter  time.Duration // a decided case closes after this long (default 72h; negative: at once)
	// AutoRefundMax: an unanswered case at or below this (minor units) is refunded.
	AutoRefundMax uint64
}

func (c *DisputeConfig) defaults() {
	if c.SelfService <= 0 {
		c.SelfService = 24 * time.Hour
	}
	if c.AnswerFor <= 0 {
		c.AnswerFor = 48 * time.Hour
	}
	if c.OpenFor <= 0 {
		c.OpenFor = 120 * 24 * time.Hour
	}
	if c.MerchantFor <= 0 {
		c.MerchantFor = 7 * 24 * time.Hour
	}
	if c.CloseAfter == 0 {
		c.CloseAfter = 72 * time.Hour
	}
}

// disputeMoves counts transitions into each state, for the metrics (no merchant label).
var disputeStates = []domain.DisputeState{domain.DisputeOpened, domain.DisputeAwaitingMerchant, domain.DisputeUnderReview,
	domain.DisputeDecided, domain.DisputeClosed}

type disputeCounters [5]atomic.Int64

func (d *disputeCounters) add(s domain.DisputeState) {
	for i, x := range disputeStates {
		if x == s {
			d[i].Add(1)
		}
	}
}

// counted counts the states c entered since from, once they are durable.
func (e *Engine) counted(c *domain.Dispute, from int) {
	for _, h := range c.History[from:] {
		e.disputeMoves.add(h.State)
	}
}

// DisputeTransitions are the transitions this engine made, by the state entered.
func (e *Engine) DisputeTransitions() map[string]int64 {
	out := make(map[string]int64, len(disputeStates))
	for i, s := range disputeStates {
		out[string(s)] = e.disputeMoves[i].Load()
	}
	return out
}

func disputeKey(id string) string             { return keyDispute + id }
func disputeOfKey(m uint64, id string) string { return keyDisputeOf + hex16(m) + ":" + id }
func returnPayeeKey(msisdn, id string) string { return keyReturnPayee + msisdn + ":" + id }
func dueKey(deadline int64, kind byte, id string) string {
	return keyDisputeDue + hex16(uint64(max(0, deadline))) + ":" + string(kind) + id
}

// CaseRef is the short reference of a case in SMS: the last 6 hex digits of its id.
func CaseRef(id string) string {
	if len(id) < 6 {
		return strings.ToUpper(id)
	}
	return strings.ToUpper(id[len(id)-6:])
}

// dispute reads a case.
func (e *Engine) dispute(id string) (domain.Dispute, uint64, error) {
	var c domain.Dispute
	if _, err := domain.ParseID(id); err != nil {
		return c, 0, domain.PaymentErr(domain.CodeNotFound, "no dispute "+id)
	}
	ver, found, err := e.record(disputeKey(id), &c)
	if err == nil && !found {
		err = domain.PaymentErr(domain.CodeNotFound, "no dispute "+id)
	}
	return c, ver, err
}

// step moves a case to s, in its history.
func (e *Engine) step(c *domain.Dispute, actor string, s domain.DisputeState) {
	now := e.cfg.Now().UnixNano()
	c.State, c.Updated = s, now
	c.History = append(c.History, domain.CaseStep{At: now, Actor: actor, State: s})
}

// caseWrites are the records a move of c writes: the case at ver, its deadline entry moved
// from was (0: none) to c.Deadline, and one webhook event per state entered since from.
func (e *Engine) caseWrites(c *domain.Dispute, ver uint64, wasDeadline int64, from int) ([]domain.Profile, error) {
	out := []domain.Profile{write(disputeKey(c.ID), c, ver)}
	if ver == 0 {
		out = append(out, domain.Profile{Owner: disputeOfKey(c.Merchant, c.ID), Data: indexEntry})
		for _, who := range casePeople(c) {
			out = append(out, domain.Profile{Owner: casePersonKey(who, c.ID), Data: indexEntry})
		}
	}
	if wasDeadline != c.Deadline {
		if wasDeadline != 0 {
			out = append(out, domain.Profile{Owner: dueKey(wasDeadline, dueCase, c.ID), Version: 1, Delete: true})
		}
		if c.Deadline != 0 {
			out = append(out, domain.Profile{Owner: dueKey(c.Deadline, dueCase, c.ID), Data: indexEntry})
		}
	}
	s, err := e.hookSettings(c.Merchant)
	if err != nil {
		return nil, err
	}
	for _, h := range c.History[from:] {
		ev, err := e.disputeEvent(c, h.State, s)
		if err != nil {
			return nil, err
		}
		out = append(out, ev...)
	}
	return out, nil
}

// DisputeView is a case as merchants and operators see it.
type DisputeView struct {
	ID        string          `json:"id"`
	Ref       string          `json:"ref"`
	PaymentID string          `json:"payment_id"`
	Kind      string          `json:"kind"`
	Opener    string          `json:"opener"`
	Reason    string          `json:"reason"`
	Amount    string          `json:"amount"`
	Minor     uint64          `json:"amount_minor"`
	Currency  string          `json:"currency"`
	State     string          `json:"state"`
	Deadline  string          `json:"deadline,omitempty"`
	Evidence  string          `json:"evidence,omitempty"`
	Decision  *DecisionView   `json:"decision,omitempty"`
	History   []CaseStepView  `json:"history"`
	Created   string          `json:"created"`
	Updated   string          `json:"updated"`
	Payment   *PaymentView    `json:"payment,omitempty"`
	Evidences json.RawMessage `json:"bundle,omitempty"`
}

// DecisionView is a decision as shown.
type DecisionView struct {
	Outcome string `json:"outcome"` // refund, rejected
	Refund  string `json:"refund,omitempty"`
	At      string `json:"at"`
}

// CaseStepView is one transition as shown.
type CaseStepView struct {
	At    string `json:"at"`
	Actor string `json:"actor"`
	State string `json:"state"`
}

// ViewDispute shows a case. Actors that are numbers are masked: merchants see it.
func (e *Engine) ViewDispute(c domain.Dispute) DisputeView {
	v := DisputeView{ID: c.ID, Ref: CaseRef(c.ID), PaymentID: c.Payment, Kind: c.Kind, Opener: c.Opener, Reason: c.Reason,
		Amount: domain.FormatAmount(c.Amount, c.Currency), Minor: c.Amount, Currency: c.Currency, State: string(c.State),
		Evidence: c.Evidence, Created: domain.FormatTime(c.Created), Updated: domain.FormatTime(c.Updated), History: []CaseStepView{}}
	if c.Deadline != 0 {
		v.Deadline = domain.FormatTime(c.Deadline)
	}
	if d := c.Decision; d != nil {
		v.Decision = &DecisionView{Outcome: "refund", Refund: domain.FormatAmount(d.Refund, c.Currency), At: domain.FormatTime(d.At)}
		if d.Rejected {
			v.Decision = &DecisionView{Outcome: "rejected", At: domain.FormatTime(d.At)}
		}
	}
	for _, h := range c.History {
		actor := h.Actor
		if domain.IsMSISDN(actor) {
			actor = domain.Mask(actor)
		}
		v.History = append(v.History, CaseStepView{At: domain.FormatTime(h.At), Actor: actor, State: string(h.State)})
	}
	return v
}

// disputeEvent is the webhook delivery of a case entering state s.
func (e *Engine) disputeEvent(c *domain.Dispute, s domain.DisputeState, set merchantSettings) ([]domain.Profile, error) {
	if set.WebhookURL == "" {
		return nil, nil
	}
	id := domain.NewID().String()
	typ := "dispute." + string(s)
	v := e.ViewDispute(*c)
	body, err := json.Marshal(struct {
		Type      string      `json:"type"`
		Timestamp string      `json:"timestamp"`
		Data      DisputeView `json:"data"`
	}{typ, domain.FormatTime(c.Updated), v})
	if err != nil {
		return nil, err
	}
	d := Delivery{ID: "msg_" + id, Merchant: c.Merchant, Type: typ, Payment: c.Payment, Body: body, Created: c.Updated, State: DeliveryPending}
	return []domain.Profile{write(keyEvent+d.ID, d, 0), write(queueKey(d.Merchant, 0, d.ID), queued{}, 0)}, nil
}

// OpenDispute asks to open a case on a payment.
type OpenDispute struct {
	Merchant  uint64 // the merchant asking: its own payments only; 0: an operator or the payer
	PaymentID string
	Reason    string
	Opener    string // domain.OpenerSubscriber, OpenerMerchant, OpenerOperator
	Actor     string
}

// disputable checks that a case may open on p now; left is what it disputes.
func (e *Engine) disputable(p *domain.Payment) (uint64, error) {
	left := p.Left()
	switch {
	case p.ProductOf() == domain.ProductTopup || p.ProductOf() == domain.ProductRepay:
		return 0, domain.PaymentErr(domain.CodeInvalidState, "a "+p.ProductOf()+" is not disputed")
	case p.Dispute != "" || p.Return != "":
		return 0, domain.PaymentErr(domain.CodeDisputeOpen, "a case or a return request is open on the payment")
	case !p.State.Refundable():
		return 0, domain.PaymentErr(domain.CodeInvalidState, "the payment is "+string(p.State))
	case left == 0:
		return 0, domain.PaymentErr(domain.CodeRefundTooLarge, "nothing is left to give back")
	case e.cfg.Now().UnixNano()-p.Created > int64(e.cfg.Disputes.OpenFor):
		return 0, domain.PaymentErr(domain.CodeTooLate, "a payment may be disputed within "+strconv.Itoa(int(e.cfg.Disputes.OpenFor.Hours()/24))+" days")
	}
	return left, nil
}

// newCase makes a case on p of amount, opened and moved to its first waiting state: the
// merchant's answer, or (no merchant answers: a SEND) customer care's review.
func (e *Engine) newCase(p *domain.Payment, amount uint64, kind, opener, actor, reason string) domain.Dispute {
	now := e.cfg.Now()
	c := domain.Dispute{ID: domain.NewID().String(), Payment: p.ID, Merchant: p.Merchant, Kind: kind, Opener: opener, By: actor,
		MSISDN: p.MSISDN, Reason: domain.CleanText(reason, domain.MaxReasonLen), Amount: amount, Currency: p.Currency, Created: now.UnixNano()}
	e.step(&c, actor, domain.DisputeOpened)
	payee, err := e.l.Account(p.Merchant)
	if kind == domain.DisputeMistakenSend || err != nil || payee.Kind == domain.KindPurse {
		e.step(&c, "system", domain.DisputeUnderReview)
		return c
	}
	e.step(&c, "system", domain.DisputeAwaitingMerchant)
	c.Deadline = now.Add(e.cfg.Disputes.MerchantFor).UnixNano()
	return c
}

// openCaseJob adds to job the opening of c on p (read at ver): the case, its indexes and
// events, and the payment record naming it.
func (e *Engine) openCaseJob(p *domain.Payment, ver uint64, c *domain.Dispute, job domain.Job) (domain.Job, error) {
	ws, err := e.caseWrites(c, 0, 0, 0)
	if err != nil {
		return job, err
	}
	job.Profiles = append(job.Profiles, ws...)
	p.Dispute = c.ID
	if job.Audit == nil {
		job.Audit = &domain.Audit{Actor: c.By, Action: "dispute open", Detail: c.ID + " " + p.ID + " " + domain.FormatAmount(c.Amount, c.Currency)}
	}
	return e.paymentJob(p, ver, p.State, job, c.By, false)
}

// OpenDispute opens a case by the merchant API or an operator.
func (e *Engine) OpenDispute(ctx context.Context, req OpenDispute) (domain.Dispute, error) {
	reason := domain.CleanText(req.Reason, domain.MaxReasonLen)
	if reason == "" {
		return domain.Dispute{}, domain.PaymentErr(domain.CodeInvalidRequest, "a reason is required")
	}
	mu := e.lock("give back " + req.PaymentID)
	mu.Lock()
	defer mu.Unlock()
	for try := 0; ; try++ {
		p, ver, err := e.merchantPayment(req.Merchant, req.PaymentID)
		if err != nil {
			return domain.Dispute{}, err
		}
		left, err := e.disputable(&p)
		if err != nil {
			return domain.Dispute{}, err
		}
		c := e.newCase(&p, left, domain.DisputeGeneral, req.Opener, req.Actor, reason)
		job, err := e.openCaseJob(&p, ver, &c, domain.Job{})
		if err != nil {
			return c, err
		}
		job.Messages = append(job.Messages, e.caseOpenedSMS(&p, &c)...)
		_, err = e.l.Submit(ctx, job)
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		if err == nil {
			e.counted(&c, 0)
		}
		return c, err
	}
}

// caseOpenedSMS tells the payer a case is open on his payment.
func (e *Engine) caseOpenedSMS(p *domain.Payment, c *domain.Dispute) []domain.Message {
	if p.MSISDN == "" {
		return nil
	}
	a := commands.Args{Amount: e.money(c.Amount), Party: p.MerchantName, Ref: paymentRef(p), Case: CaseRef(c.ID), Time: e.when(c.Deadline)}
	if c.State == domain.DisputeUnderReview {
		return []domain.Message{e.sms(p.MSISDN, e.langOf(p.MSISDN), commands.RDisputeReview, a)}
	}
	return []domain.Message{e.sms(p.MSISDN, e.langOf(p.MSISDN), commands.RDisputeOpened, a)}
}

// paymentRef is a payment's short reference, as its SMS said it.
func paymentRef(p *domain.Payment) string {
	id, err := domain.ParseID(p.Transfer)
	if err != nil {
		id, _ = domain.ParseID(p.ID)
	}
	return shortRef(domain.Transfer{ID: id})
}

// when is a deadline as replies write it: day/month hour:minute in the configured zone.
func (e *Engine) when(t int64) string {
	if t == 0 {
		return "-"
	}
	return time.Unix(0, t).In(e.cfg.Location).Format("02/01 15:04")
}

// moveCase moves a case with f, again if it raced another move. f changes the case (and
// the payment, read at pver) and returns the job's money part; the rest is added here.
func (e *Engine) moveCase(ctx context.Context, merchant uint64, id string,
	f func(c *domain.Dispute, p *domain.Payment, pver uint64) (domain.Job, error)) (domain.Dispute, error) {
	for try := 0; ; try++ {
		c, ver, err := e.dispute(id)
		if err == nil && merchant != 0 && c.Merchant != merchant {
			err = domain.PaymentErr(domain.CodeNotFound, "no dispute "+id)
		}
		if err != nil {
			return c, err
		}
		mu := e.lock("give back " + c.Payment)
		mu.Lock()
		p, pver, err := e.payment(c.Payment)
		if err != nil {
			mu.Unlock()
			return c, err
		}
		was, wasDeadline, from := c.State, c.Deadline, len(c.History)
		job, err := f(&c, &p, pver)
		if err != nil || (c.State == was && len(c.History) == from) {
			mu.Unlock()
			return c, err
		}
		ws, err := e.caseWrites(&c, ver, wasDeadline, from)
		if err != nil {
			mu.Unlock()
			return c, err
		}
		job.Profiles = append(job.Profiles, ws...)
		if job.Audit == nil {
			job.Audit = &domain.Audit{Actor: c.History[len(c.History)-1].Actor, Action: "dispute " + string(c.State), Detail: c.ID}
		}
		_, err = e.l.Submit(ctx, job)
		mu.Unlock()
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		if err == nil {
			e.counted(&c, from)
		}
		return c, err
	}
}

// decide decides c for the payer (refund > 0) or against him (reject), and closes it at
// once when no time is given before closing. The refund is giveBack on the payment.
func (e *Engine) decide(c *domain.Dispute, p *domain.Payment, pver uint64, refund uint64, reject bool, actor string) (domain.Job, error) {
	if !c.State.Open() {
		return domain.Job{}, domain.PaymentErr(domain.CodeInvalidState, "the case is "+string(c.State))
	}
	now := e.cfg.Now()
	c.Decision = &domain.Decision{Rejected: reject, By: actor, At: now.UnixNano()}
	if p.Dispute == c.ID {
		p.Dispute = ""
	}
	var job domain.Job
	var err error
	a := commands.Args{Amount: e.money(refund), Party: p.MerchantName, Ref: paymentRef(p), Case: CaseRef(c.ID)}
	if reject {
		job, err = e.paymentJob(p, pver, p.State, job, actor, false)
		if p.MSISDN != "" {
			job.Messages = append(job.Messages, e.sms(p.MSISDN, e.langOf(p.MSISDN), commands.RDisputeRejected, a))
		}
	} else {
		var r domain.Refund
		r, job, err = e.giveBack(p, pver, RefundRequest{PaymentID: p.ID, Amount: refund, Actor: actor, Kind: domain.RefundDispute})
		c.Decision.Refund, c.Decision.RefundID = r.Amount, r.ID
		if err == nil && p.MSISDN != "" {
			job.Messages = append(job.Messages, e.sms(p.MSISDN, e.langOf(p.MSISDN), commands.RDisputeRefund, a))
		}
	}
	if err != nil {
		return job, err
	}
	job.Audit = &domain.Audit{Actor: actor, Action: "dispute decide", Detail: c.ID + " " + p.ID + " " + decisionWord(c.Decision, c.Currency)}
	e.step(c, actor, domain.DisputeDecided)
	c.Deadline = now.Add(e.cfg.Disputes.CloseAfter).UnixNano()
	if e.cfg.Disputes.CloseAfter < 0 {
		e.step(c, actor, domain.DisputeClosed)
		c.Deadline = 0
	}
	return job, nil
}

func decisionWord(d *domain.Decision, currency string) string {
	if d.Rejected {
		return "rejected"
	}
	return "refund " + domain.FormatAmount(d.Refund, currency)
}

// AcceptDispute is the merchant's acceptance: the disputed amount is refunded, decided.
func (e *Engine) AcceptDispute(ctx context.Context, merchant uint64, id, actor string) (domain.Dispute, error) {
	return e.moveCase(ctx, merchant, id, func(c *domain.Dispute, p *domain.Payment, pver uint64) (domain.Job, error) {
		if c.State != domain.DisputeAwaitingMerchant && c.State != domain.DisputeUnderReview {
			return domain.Job{}, domain.PaymentErr(domain.CodeInvalidState, "the case is "+string(c.State))
		}
		return e.decide(c, p, pver, c.Amount, false, actor)
	})
}

// DisputeEvidence is the merchant's answer with evidence: the case goes to customer care.
func (e *Engine) DisputeEvidence(ctx context.Context, merchant uint64, id, text, actor string) (domain.Dispute, error) {
	text = domain.CleanText(text, domain.MaxEvidenceLen)
	if text == "" {
		return domain.Dispute{}, domain.PaymentErr(domain.CodeInvalidRequest, "the evidence text is empty")
	}
	return e.moveCase(ctx, merchant, id, func(c *domain.Dispute, p *domain.Payment, pver uint64) (domain.Job, error) {
		switch c.State {
		case domain.DisputeAwaitingMerchant:
			c.Evidence = text
			return e.toReview(c, actor, p), nil
		case domain.DisputeUnderReview:
			c.Evidence = text // more evidence while customer care has it
			c.Updated = e.cfg.Now().UnixNano()
			c.History = append(c.History, domain.CaseStep{At: c.Updated, Actor: actor, State: c.State})
			return domain.Job{}, nil
		}
		return domain.Job{}, domain.PaymentErr(domain.CodeInvalidState, "the case is "+string(c.State))
	})
}

// DecideDispute is an operator's decision: refund (0: the disputed amount) or reject.
func (e *Engine) DecideDispute(ctx context.Context, actor, id string, refund uint64, reject bool) (domain.Dispute, error) {
	return e.moveCase(ctx, 0, id, func(c *domain.Dispute, p *domain.Payment, pver uint64) (domain.Job, error) {
		amount := refund
		if amount == 0 {
			amount = c.Amount
		}
		return e.decide(c, p, pver, amount, reject, actor)
	})
}

// CloseDispute closes a decided case at once (an operator), or an open one as rejected.
func (e *Engine) CloseDispute(ctx context.Context, actor, id string) (domain.Dispute, error) {
	return e.moveCase(ctx, 0, id, func(c *domain.Dispute, p *domain.Payment, pver uint64) (domain.Job, error) {
		var job domain.Job
		var err error
		switch {
		case c.State == domain.DisputeClosed:
			return job, nil
		case c.State.Open():
			if job, err = e.decide(c, p, pver, 0, true, actor); err != nil {
				return job, err
			}
		}
		if c.State != domain.DisputeClosed {
			e.step(c, actor, domain.DisputeClosed)
			c.Deadline = 0
		}
		return job, nil
	})
}

// dueCaseMove is the timed move of a case whose deadline passed.
func (e *Engine) dueCaseMove(ctx context.Context, id string, now int64) error {
	_, err := e.moveCase(ctx, 0, id, func(c *domain.Dispute, p *domain.Payment, pver uint64) (domain.Job, error) {
		if c.Deadline == 0 || c.Deadline > now {
			return domain.Job{}, nil
		}
		switch c.State {
		case domain.DisputeAwaitingMerchant:
			// Decided for the payer at or below the amount, if the money can move now (the
			// merchant's balance); else, and above it, customer care decides.
			if m, err := e.l.Account(c.Merchant); err == nil && c.Amount <= e.cfg.Disputes.AutoRefundMax && m.Available() >= int64(c.Amount) {
				job, err := e.decide(c, p, pver, c.Amount, false, "system")
				if err == nil {
					return job, nil
				}
				c.Decision = nil // the money cannot move (the merchant's balance): customer care decides
			}
			return e.toReview(c, "system", p), nil
		case domain.DisputeDecided:
			e.step(c, "system", domain.DisputeClosed)
			c.Deadline = 0
			return domain.Job{}, nil
		}
		c.Deadline = 0 // nothing is timed in this state: the entry goes
		c.Updated = e.cfg.Now().UnixNano()
		c.History = append(c.History, domain.CaseStep{At: c.Updated, Actor: "system", State: c.State})
		return domain.Job{}, nil
	})
	return err
}

// ExpireDisputes makes the timed moves of cases and return requests whose deadline passed;
// the daemon calls it with the payments' expiry. It reads only the entries due, at most 1000
// a call, and returns how many it moved.
func (e *Engine) ExpireDisputes(ctx context.Context) (int, error) {
	recs, err := e.l.ProfilesFrom(keyDisputeDue, "", 1000)
	if err != nil {
		return 0, err
	}
	now := e.cfg.Now().UnixNano()
	n := 0
	for _, r := range recs {
		rest := strings.TrimPrefix(r.Owner, keyDisputeDue)
		d, id, ok := strings.Cut(rest, ":")
		deadline, perr := strconv.ParseUint(d, 16, 64)
		if !ok || perr != nil || len(id) < 2 {
			continue
		}
		if int64(deadline) > now {
			break
		}
		switch id[0] {
		case dueCase:
			err = e.dueCaseMove(ctx, id[1:], now)
		case dueRet:
			err = e.expireReturn(ctx, id[1:], now)
		}
		if err != nil && ctx.Err() != nil {
			return n, err
		}
		if err == nil {
			n++
		}
	}
	return n, nil
}

// GetDispute returns a case (merchant 0: anyone's, for operators).
func (e *Engine) GetDispute(merchant uint64, id string) (domain.Dispute, error) {
	c, _, err := e.dispute(id)
	if err == nil && merchant != 0 && c.Merchant != merchant {
		return domain.Dispute{}, domain.PaymentErr(domain.CodeNotFound, "no dispute "+id)
	}
	return c, err
}

// maxDisputeList bounds one page of cases.
const maxDisputeList = 100

// ListDisputes lists a merchant's cases oldest first after the case id after ("" from the
// first), at most limit; next is the cursor of the next page ("" at the end). merchant 0
// lists every case (operators).
func (e *Engine) ListDisputes(merchant uint64, after string, limit int) ([]domain.Dispute, string, error) {
	if limit <= 0 || limit > maxDisputeList {
		limit = maxDisputeList
	}
	prefix, from := keyDispute, keyDispute
	if merchant != 0 {
		prefix = keyDisputeOf + hex16(merchant) + ":"
		from = prefix
	}
	if after != "" {
		from = prefix + after + "\x00"
	}
	var out []domain.Dispute
	more, err := e.scan(prefix, from, limit, func(r domain.Profile) (bool, error) {
		id := strings.TrimPrefix(r.Owner, prefix)
		c, _, err := e.dispute(id)
		if err != nil {
			return false, err
		}
		out = append(out, c)
		return true, nil
	})
	next := ""
	if more && len(out) > 0 {
		next = out[len(out)-1].ID
	}
	return out, next, err
}

// DisputeStats are a merchant's cases by outcome.
type DisputeStats struct {
	Opened      int `json:"opened"`
	Open        int `json:"open"`
	ForPayer    int `json:"decided_for_subscriber"`
	ForMerchant int `json:"decided_for_merchant"`
}

// maxStatScan bounds the cases one count reads.
const maxStatScan = 100000

// MerchantDisputeStats counts a merchant's cases from its index (one read of each case).
func (e *Engine) MerchantDisputeStats(merchant uint64) (DisputeStats, error) {
	var s DisputeStats
	prefix := keyDisputeOf + hex16(merchant) + ":"
	_, err := e.scan(prefix, prefix, maxStatScan, func(r domain.Profile) (bool, error) {
		c, _, err := e.dispute(strings.TrimPrefix(r.Owner, prefix))
		if err != nil {
			return true, nil
		}
		s.Opened++
		switch d := c.Decision; {
		case c.State.Open():
			s.Open++
		case d != nil && !d.Rejected && d.Refund > 0:
			s.ForPayer++
		case d != nil:
			s.ForMerchant++
		}
		return true, nil
	})
	return s, err
}

// toReview hands a case to customer care, with no deadline, and tells the payer.
func (e *Engine) toReview(c *domain.Dispute, actor string, p *domain.Payment) domain.Job {
	e.step(c, actor, domain.DisputeUnderReview)
	c.Deadline = 0
	if p.MSISDN == "" {
		return domain.Job{}
	}
	return domain.Job{Messages: []domain.Message{e.sms(p.MSISDN, e.langOf(p.MSISDN), commands.RDisputeReview,
		commands.Args{Ref: paymentRef(p), Case: CaseRef(c.ID)})}}
}
