package engine

import (
	"context"
	"errors"

	"mpg/commands"
	"mpg/domain"
	"mpg/fraud"
)

// Operators review what the fraud rules held or flagged: `mpg fraud review|release|decline`
// and the console. Releasing a hold pays it (the reserved transfers posted, the payment
// completed with its points and notices); declining it gives the money back (voided, the
// payment refused). Releasing a flagged payment closes the case; declining it reverses the
// payment, as an operator's reversal does. Each is one job with the payment's step and
// the audit entry naming the operator.

// holdForReview turns a payment's step into a hold for a review: its transfers reserved
// until the review's time runs out, the payment in review, the payer told to wait.
func (t *turn) holdForReview(p *domain.Payment, ver uint64, was domain.PaymentState, step domain.Job) domain.Job {
	wait := t.e.reviewFor()
	t.decision.Pending, t.decision.Payment = nil, p.ID
	for i := range step.Transfers {
		step.Transfers[i].Flags |= domain.Pending
		step.Transfers[i].Timeout = wait
		t.decision.Pending = append(t.decision.Pending, step.Transfers[i].ID.String())
	}
	p.State, p.Expires = domain.PaymentInReview, t.e.cfg.Now().UnixNano()+int64(wait)
	step.Compose = nil
	t.reply(commands.RRiskHeld, commands.Args{Amount: t.money(p.Amount), Party: p.MerchantName})
	job, err := t.e.paymentJob(p, ver, was, step, t.in.From, false)
	if err != nil {
		return t.busy()
	}
	return t.withProfile(job)
}

// FraudCases lists the decisions waiting for an operator, oldest first (at most limit). A
// hold whose payment ended meanwhile (its review time ran out) leaves the list.
func (e *Engine) FraudCases(ctx context.Context, limit int) ([]FraudDecision, error) {
	var out []FraudDecision
	_, err := e.scan(keyRiskQueue, "", max(limit, 1)*2, func(r domain.Profile) (bool, error) {
		d, ver, err := e.fraudDecision(string(r.Data))
		if err != nil {
			return false, err
		}
		if d.State == "open" && d.Action == fraud.Hold.String() && !e.stillHeld(d) {
			return true, e.closeExpired(ctx, d, ver)
		}
		out = append(out, d)
		return len(out) < limit, nil
	})
	return out, err
}

// FraudDecisionOf reads one stored decision.
func (e *Engine) FraudDecisionOf(id string) (FraudDecision, error) {
	d, _, err := e.fraudDecision(id)
	return d, err
}

func (e *Engine) fraudDecision(id string) (FraudDecision, uint64, error) {
	var d FraudDecision
	ver, found, err := e.record(keyDecision+id, &d)
	if err == nil && !found {
		err = domain.PaymentErr(domain.CodeNotFound, "no decision "+id)
	}
	return d, ver, err
}

func (e *Engine) stillHeld(d FraudDecision) bool {
	p, _, err := e.payment(d.Payment)
	return err != nil || p.State == domain.PaymentInReview
}

// closeExpired ends a hold whose payment is over: the ledger gave the money back.
func (e *Engine) closeExpired(ctx context.Context, d FraudDecision, ver uint64) error {
	job := e.closeDecision(&d, ver, "expired", "system")
	if _, err := e.l.Submit(ctx, job); err != nil && !errors.Is(err, domain.ErrConflict) {
		return err
	}
	return nil
}

// closeDecision is the writes that end an open decision: its new state, out of the queue.
func (e *Engine) closeDecision(d *FraudDecision, ver uint64, state, actor string) domain.Job {
	d.State, d.By, d.Decided = state, actor, e.cfg.Now().UnixNano()
	return domain.Job{Profiles: []domain.Profile{write(keyDecision+d.ID, d, ver),
		{Owner: d.queueKey(), Version: 1, Delete: true}}}
}

// DecideFraud releases (release true) or declines a decision waiting for an operator.
func (e *Engine) DecideFraud(ctx context.Context, actor, id string, release bool) (FraudDecision, error) {
	for try := 0; ; try++ {
		d, ver, err := e.fraudDecision(id)
		if err != nil {
			return d, err
		}
		if d.State != "open" {
			return d, domain.PaymentErr(domain.CodeInvalidState, "the decision is "+d.State)
		}
		job, err := e.decideJob(&d, ver, actor, release)
		if err != nil {
			return d, err
		}
		if _, err = e.l.Submit(ctx, job); (errors.Is(err, domain.ErrConflict) || sweepRefused(&job, err)) && try < maxTurns {
			continue
		}
		if err == nil {
			e.wakeBank() // a reversed DEBIT's credit, or a released SEND's onward credit, is queued
		}
		return d, err
	}
}

// decideJob is the job of an operator's answer to decision d.
func (e *Engine) decideJob(d *FraudDecision, ver uint64, actor string, release bool) (domain.Job, error) {
	state := "declined"
	if release {
		state = "released"
	}
	if d.Action == fraud.Review.String() {
		job := e.closeDecision(d, ver, state, actor)
		job.Audit = &domain.Audit{Actor: actor, Action: "fraud " + state, Detail: d.ID + " " + d.Payment}
		if release || d.Payment == "" {
			return job, nil
		}
		return e.reverseFlagged(d, actor, job)
	}
	p, pver, err := e.payment(d.Payment)
	if err != nil {
		return domain.Job{}, err
	}
	if p.State != domain.PaymentInReview {
		return domain.Job{}, domain.PaymentErr(domain.CodeInvalidState, "the payment is "+string(p.State))
	}
	job := e.closeDecision(d, ver, state, actor)
	step := e.heldStep(d, &p, release)
	out, err := e.paymentJob(&p, pver, domain.PaymentInReview, step, actor, false)
	out.Profiles = append(out.Profiles, job.Profiles...)
	return out, err
}

// heldStep posts (release) or voids a hold's reserved transfers, and tells the payer.
func (e *Engine) heldStep(d *FraudDecision, p *domain.Payment, release bool) domain.Job {
	var step domain.Job
	for _, s := range d.Pending {
		id := mustID(s)
		if release {
			step.Transfers = append(step.Transfers, domain.Transfer{ID: derive(id, 'p'), PendingID: id, Flags: domain.PostPending})
		} else {
			step.Transfers = append(step.Transfers, domain.Transfer{ID: derive(id, 'v'), PendingID: id, Flags: domain.VoidPending})
		}
	}
	l := e.langOf(p.MSISDN)
	if release {
		p.State, p.Reason = domain.PaymentCompleted, ""
		if len(step.Transfers) > 0 {
			p.Transfer = step.Transfers[0].ID.String()
		}
		step = e.withOnward(step, p)
		step.Messages = []domain.Message{e.sms(p.MSISDN, l, commands.RRiskReleased, commands.Args{Amount: e.money(p.Amount),
			Party: p.MerchantName, Ref: shortRef(step.Transfers[0])})}
	} else {
		p.State, p.Reason = domain.PaymentRefused, string(domain.CodeRiskDeclined)
		step.Messages = []domain.Message{e.sms(p.MSISDN, l, commands.RRiskVoided, commands.Args{Amount: e.money(p.Amount), Party: p.MerchantName})}
	}
	return step
}

// withOnward adds to a released SEND's step its onward credit to the payee's bank, when he
// chose RECEIVE BANK, as the SEND itself would have.
func (e *Engine) withOnward(step domain.Job, p *domain.Payment) domain.Job {
	if p.Product != domain.ProductSend {
		return step
	}
	payee, err := e.l.Account(p.Merchant)
	id, perr := domain.ParseID(p.ID)
	if err != nil || perr != nil {
		return step
	}
	if o, ok := e.onward(&payee, p.Amount, id, p.MSISDN); ok {
		step.Transfers = append(step.Transfers, o.tr)
		step.Profiles = append(step.Profiles, o.records...)
		step.Reads = append(step.Reads, o.read)
	}
	return step
}

// reverseFlagged is the job of a flagged payment an operator declined after it went
// through: the operator's reversal of it, with the decision closed in the same job, so the
// two never part (a release landing first refuses it).
func (e *Engine) reverseFlagged(d *FraudDecision, actor string, closing domain.Job) (domain.Job, error) {
	p, ver, err := e.merchantPayment(0, d.Payment)
	if err != nil {
		return domain.Job{}, err
	}
	_, job, err := e.giveBack(&p, ver, RefundRequest{PaymentID: d.Payment, Actor: actor, Kind: domain.Reversal})
	if domain.CodeOf(err) == domain.CodeAlreadyReversed || domain.CodeOf(err) == domain.CodeRefundTooLarge {
		return closing, nil // given back already: the case just closes
	}
	if err != nil {
		return domain.Job{}, err
	}
	job.Profiles = append(job.Profiles, closing.Profiles...)
	return job, nil
}

// ExplainFraud is a decision in words, and what the rule set in use now would decide on
// the same values.
func (e *Engine) ExplainFraud(id string) (stored, now string, err error) {
	d, _, err := e.fraudDecision(id)
	if err != nil {
		return "", "", err
	}
	act, _ := fraud.ParseAction(d.Action)
	stored = fraud.Explain(fraud.Decision{Action: act, Score: d.Score, Config: d.Config, Hits: d.Hits, Values: d.Values})
	if e.risk == nil {
		return stored, "the fraud rules are off", nil
	}
	again := e.risk.Rescore(d.Values)
	return stored, fraud.Explain(again), nil
}
