package engine

import (
	"context"
	"errors"
	"strings"

	"mpg/commands"
	"mpg/domain"
)

// A SEND sent by mistake: REV <receipt or ref> <pin> by its payer, within the self-service
// window, places at once a hold on what the payee still has of it (a pending transfer from
// his purse to escrow, computed from his purse as read: the job names its journal position,
// so a payee spending at that instant makes it a conflict and it is computed again), and
// asks him OK <code> or NO <code>. OK gives it back through giveBack (kind "return"); NO, or
// no answer by the deadline, releases the hold and opens a case for customer care. The
// ledger's own timeout of the hold is a backstop a little after the deadline, never before.

// returnCode is the MAC a return request keeps of its code, bound to the payee and the request.
func (e *Engine) returnCode(payee, id, code string) string {
	return e.pinMAC(payee, "rev:"+id+":"+code)
}

// holdID is the id of a return request's hold; voidID of its release.
func returnHoldID(id string) domain.ID { return derive(mustID(id), 'r') }
func returnVoidID(id string) domain.ID { return derive(returnHoldID(id), 'v') }

// paymentByCode finds the sender's own payment a receipt code or a short reference names: a
// receipt is checked with the key; a short reference is looked for in his purse's recent
// history. When it names none it says so to the sender.
func (t *turn) paymentByCode(code string) (p domain.Payment, ver uint64, ok bool) {
	defer func() {
		if !ok {
			t.reply(commands.RPaymentNotFound, commands.Args{Arg: code})
		}
	}()
	var tr domain.Transfer
	found := false
	if strings.Contains(code, "-") {
		tr, found = t.e.verifyReceipt(code)
	} else if len(code) == 6 {
		hist, _ := t.e.l.History(t.purse.ID, maxRefScan, 0)
		for _, h := range hist {
			if shortRef(h) == code && h.Debit == t.purse.ID && h.Code != domain.CodeFee && h.Flags&domain.Pending == 0 {
				tr, found = h, true
				break
			}
		}
	}
	if !found {
		return domain.Payment{}, 0, false
	}
	p, ver, ok, err := t.e.paymentOf(tr)
	if err != nil || !ok || p.MSISDN != t.in.From {
		return domain.Payment{}, 0, false
	}
	return p, ver, true
}

// maxRefScan bounds the history read to find a short reference.
const maxRefScan = 200

// askReturn is REV: the hold, the request and both SMS in one job.
func (t *turn) askReturn() domain.Job {
	e := t.e
	p, ver, ok := t.paymentByCode(t.cmd.Code)
	if !ok {
		return t.withProfile(domain.Job{})
	}
	ref := paymentRef(&p)
	payee, err := e.l.Account(p.Merchant)
	now := e.cfg.Now()
	left := p.Left()
	switch {
	case err != nil:
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	case p.ProductOf() != domain.ProductSend || p.Debited != t.purse.ID || p.Payer != 0 || payee.Kind != domain.KindPurse:
		t.reply(commands.RRevNotSend, commands.Args{})
		return t.withProfile(domain.Job{})
	case p.Dispute != "" || p.Return != "":
		t.reply(commands.RDisputeBusy, commands.Args{Ref: ref})
		return t.withProfile(domain.Job{})
	case !p.State.Refundable() || left == 0:
		t.reply(commands.RNothingLeft, commands.Args{Ref: ref})
		return t.withProfile(domain.Job{})
	case now.UnixNano()-p.Created > int64(e.cfg.Disputes.SelfService):
		t.reply(commands.RRevTooLate, commands.Args{Ref: ref, N: int(e.cfg.Disputes.SelfService.Hours())})
		return t.withProfile(domain.Job{})
	case p.Returns >= domain.MaxReturns:
		t.reply(commands.RRevTooMany, commands.Args{Ref: ref, N: p.Returns})
		return t.withProfile(domain.Job{})
	}
	escrow, err := e.l.System(domain.KindEscrow, e.cfg.Currency)
	secret, err2 := oneTimeCode()
	if err != nil || err2 != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	// What the payee has, as read: never more than that is held, never below zero.
	held := min(left, uint64(max(0, payee.Available())))
	r := domain.ReturnRequest{ID: domain.NewID().String(), Payment: p.ID, Payer: t.in.From, Payee: payee.Owner, Left: left, Held: held,
		State: domain.ReturnOpen, Created: now.UnixNano(), Deadline: now.Add(e.cfg.Disputes.AnswerFor).UnixNano()}
	r.CodeMAC = e.returnCode(r.Payee, r.ID, secret)
	job := domain.Job{Untouched: []domain.AccountAt{{ID: payee.ID, LastSeq: payee.LastSeq}}}
	if held > 0 {
		r.Hold = returnHoldID(r.ID).String()
		job.Transfers = []domain.Transfer{{ID: returnHoldID(r.ID), Debit: payee.ID, Credit: escrow.ID, Amount: held, Code: domain.CodeReturnHold,
			Flags: domain.Pending | domain.Exempt, Timeout: e.cfg.Disputes.AnswerFor + heldMargin, Ref: "rev " + ref}}
	}
	job.Profiles = append(job.Profiles, write(keyReturn+r.ID, r, 0),
		domain.Profile{Owner: returnPayeeKey(r.Payee, r.ID), Data: indexEntry},
		domain.Profile{Owner: dueKey(r.Deadline, dueRet, r.ID), Data: indexEntry})
	p.Return = r.ID
	p.Returns++
	t.audit = &domain.Audit{Actor: t.in.From, Action: "return asked", Detail: r.ID + " " + p.ID + " " + domain.FormatAmount(held, p.Currency)}
	job.Audit = t.audit
	if job, err = e.paymentJob(&p, ver, p.State, job, t.in.From, false); err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	when := e.when(r.Deadline)
	t.reply(commands.RRevAsked, commands.Args{Party: domain.Mask(r.Payee), Amount: t.money(left), Limit: t.money(held), Ref: ref, Time: when})
	ask := e.sms(r.Payee, e.langOf(r.Payee), commands.RRevAsk, commands.Args{Party: domain.Mask(t.in.From), Amount: t.money(left),
		Limit: t.money(held), Ref: ref, Time: when, Code: secretMark})
	if ask, err = e.sealedMessage(ask, secret); err != nil {
		t.replies = nil
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	ask.Urgent = true
	job.Messages = append(job.Messages, ask)
	return t.withProfile(job)
}

// openReturn finds the open return request for this payee that code answers.
func (e *Engine) openReturn(payee, code string) (domain.ReturnRequest, uint64, bool) {
	recs, err := e.l.ProfilesFrom(keyReturnPayee+payee+":", "", domain.MaxReturns*16)
	if err != nil {
		return domain.ReturnRequest{}, 0, false
	}
	for _, rec := range recs {
		id := strings.TrimPrefix(rec.Owner, keyReturnPayee+payee+":")
		var r domain.ReturnRequest
		ver, found, err := e.record(keyReturn+id, &r)
		if err != nil || !found || r.State != domain.ReturnOpen {
			continue
		}
		if e.macEqual(r.CodeMAC, payee, "rev:"+r.ID+":"+code) {
			return r, ver, true
		}
	}
	return domain.ReturnRequest{}, 0, false
}

// answerReturn is the payee's OK or NO <code> to a return request; false when the code
// answers none (then it is a YES or NO to something else).
func (t *turn) answerReturn(yes bool) (domain.Job, bool) {
	r, ver, ok := t.e.openReturn(t.in.From, t.cmd.Code)
	if !ok {
		return domain.Job{}, false
	}
	e := t.e
	p, pver, err := e.payment(r.Payment)
	if err != nil || p.Return != r.ID {
		t.reply(commands.RConfirmExpired, commands.Args{})
		return domain.Job{}, true
	}
	if e.cfg.Now().UnixNano() >= r.Deadline {
		t.reply(commands.RConfirmExpired, commands.Args{}) // the sweeper opens the case
		return domain.Job{}, true
	}
	ref := paymentRef(&p)
	t.audit = &domain.Audit{Actor: t.in.From, Action: "return answered", Detail: r.ID}
	if !yes {
		job, c, err := e.endReturn(&r, ver, &p, pver, domain.ReturnDeclined, t.in.From)
		if err != nil {
			t.reply(commands.RBusy, commands.Args{})
			return domain.Job{}, true
		}
		job.Audit = t.audit
		a := commands.Args{Amount: e.money(r.Left), Ref: ref, Case: CaseRef(c.ID)}
		a.Party = domain.Mask(r.Payer)
		t.reply(commands.RRevDeclinedPayee, a)
		a.Party = domain.Mask(r.Payee)
		job.Messages = append(job.Messages, e.sms(r.Payer, e.langOf(r.Payer), commands.RRevDeclined, a))
		t.onCase = &c
		return t.withProfile(job), true
	}
	// OK: the hold released and given back in one job, with what the payee has now if the
	// hold was short, up to what is left; computed from his purse as read.
	avail := uint64(max(0, t.purse.Available()))
	give := min(r.Left, p.Amount-min(p.Amount, p.Refunded), r.Held+avail)
	var job domain.Job
	var refund domain.Refund
	p.Return = ""
	if give > 0 {
		refund, job, err = e.giveBack(&p, pver, RefundRequest{PaymentID: p.ID, Amount: give, Actor: t.in.From, Kind: domain.RefundReturn})
	} else {
		job, err = e.paymentJob(&p, pver, p.State, job, t.in.From, false)
		t.reply(commands.RNothingLeft, commands.Args{Ref: ref})
	}
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return domain.Job{}, true
	}
	job.Audit = t.audit
	job.Untouched = append(job.Untouched, domain.AccountAt{ID: t.purse.ID, LastSeq: t.purse.LastSeq})
	job.NotAfter = r.Deadline
	r.State, r.Refund = domain.ReturnReturned, refund.ID
	job.Profiles = append(job.Profiles, e.returnClosed(&r, ver)...)
	if r.Hold != "" {
		// The release first, so the give-back sees the money free; the notices read the
		// give-back's result, which comes after it.
		job.Transfers = append([]domain.Transfer{{ID: returnVoidID(r.ID), PendingID: returnHoldID(r.ID), Flags: domain.VoidPending}}, job.Transfers...)
		if compose := job.Compose; compose != nil {
			job.Compose = func(v domain.View, res *domain.Result) ([]domain.Message, error) {
				shifted := *res
				shifted.Transfers, shifted.Existed = res.Transfers[1:], res.Existed[1:]
				return compose(v, &shifted)
			}
		}
	}
	return t.withProfile(job), true
}

// returnClosed are the writes that end an open return request: the record at ver, its
// entries out of the payee's list and the deadline index.
func (e *Engine) returnClosed(r *domain.ReturnRequest, ver uint64) []domain.Profile {
	return []domain.Profile{write(keyReturn+r.ID, r, ver),
		{Owner: returnPayeeKey(r.Payee, r.ID), Version: 1, Delete: true},
		{Owner: dueKey(r.Deadline, dueRet, r.ID), Version: 1, Delete: true}}
}

// endReturn is NO or the deadline: the hold released and a case opened, in one job.
func (e *Engine) endReturn(r *domain.ReturnRequest, ver uint64, p *domain.Payment, pver uint64, state, actor string) (domain.Job, domain.Dispute, error) {
	job := domain.Job{}
	if r.Hold != "" {
		job.Transfers = []domain.Transfer{{ID: returnVoidID(r.ID), PendingID: returnHoldID(r.ID), Flags: domain.VoidPending}}
	}
	left := p.Left()
	p.Return = ""
	c := e.newCase(p, min(r.Left, left), domain.DisputeMistakenSend, domain.OpenerSystem, actor,
		"SEND asked back by the payer, "+map[string]string{domain.ReturnDeclined: "refused by the payee", domain.ReturnExpired: "not answered by the payee"}[state])
	c.Return = r.ID
	r.State, r.Case = state, c.ID
	job.Profiles = append(job.Profiles, e.returnClosed(r, ver)...)
	job.Audit = &domain.Audit{Actor: actor, Action: "return " + state, Detail: r.ID + " case " + c.ID}
	job, err := e.openCaseJob(p, pver, &c, job)
	return job, c, err
}

// expireReturn ends a return request nobody answered by its deadline.
func (e *Engine) expireReturn(ctx context.Context, id string, now int64) error {
	for try := 0; ; try++ {
		var r domain.ReturnRequest
		ver, found, err := e.record(keyReturn+id, &r)
		if err != nil || !found {
			return err
		}
		if r.State != domain.ReturnOpen || r.Deadline > now {
			return nil
		}
		mu := e.lock("give back " + r.Payment)
		mu.Lock()
		p, pver, err := e.payment(r.Payment)
		if err != nil {
			mu.Unlock()
			return err
		}
		job, c, err := e.endReturn(&r, ver, &p, pver, domain.ReturnExpired, "system")
		if err != nil {
			mu.Unlock()
			return err
		}
		a := commands.Args{Amount: e.money(r.Left), Ref: paymentRef(&p), Case: CaseRef(c.ID), Party: domain.Mask(r.Payee)}
		job.Messages = append(job.Messages, e.sms(r.Payer, e.langOf(r.Payer), commands.RRevExpired, a))
		a.Party = domain.Mask(r.Payer)
		job.Messages = append(job.Messages, e.sms(r.Payee, e.langOf(r.Payee), commands.RRevExpiredPayee, a))
		_, err = e.l.Submit(ctx, job)
		var ref *domain.RefusedError
		if errors.As(err, &ref) && (ref.Reason == domain.ErrPendingResolved || ref.Reason == domain.ErrPendingNotFound || ref.Reason == domain.ErrPendingExpired) {
			// The ledger's backstop released the hold already (the daemon was down past it).
			job.Transfers = nil
			_, err = e.l.Submit(ctx, job)
		}
		mu.Unlock()
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		if err == nil {
			e.counted(&c, 0)
		}
		return err
	}
}

// openCaseBySMS is DISPUTE <receipt or ref> <reason>: the payer opens a case.
func (t *turn) openCaseBySMS() domain.Job {
	e := t.e
	p, ver, ok := t.paymentByCode(t.cmd.Code)
	if !ok {
		return t.withProfile(domain.Job{})
	}
	ref := paymentRef(&p)
	left, err := e.disputable(&p)
	switch domain.CodeOf(err) {
	case "":
	case domain.CodeDisputeOpen:
		t.reply(commands.RDisputeBusy, commands.Args{Ref: ref})
		return t.withProfile(domain.Job{})
	case domain.CodeTooLate:
		t.reply(commands.RDisputeTooLate, commands.Args{Ref: ref, N: int(e.cfg.Disputes.OpenFor.Hours() / 24)})
		return t.withProfile(domain.Job{})
	case domain.CodeRefundTooLarge:
		t.reply(commands.RNothingLeft, commands.Args{Ref: ref})
		return t.withProfile(domain.Job{})
	default:
		if p.ProductOf() == domain.ProductTopup || p.ProductOf() == domain.ProductRepay {
			t.reply(commands.RDisputeNotHere, commands.Args{})
		} else {
			t.reply(commands.RNothingLeft, commands.Args{Ref: ref})
		}
		return t.withProfile(domain.Job{})
	}
	c := e.newCase(&p, left, domain.DisputeGeneral, domain.OpenerSubscriber, t.in.From, t.cmd.Reason)
	if c.Reason == "" {
		c.Reason = "-"
	}
	job, err := e.openCaseJob(&p, ver, &c, domain.Job{})
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	t.audit = job.Audit
	a := commands.Args{Amount: t.money(c.Amount), Party: p.MerchantName, Ref: ref, Case: CaseRef(c.ID), Time: e.when(c.Deadline)}
	if c.State == domain.DisputeUnderReview {
		t.reply(commands.RDisputeReview, a)
	} else {
		t.reply(commands.RDisputeOpened, a)
	}
	t.onCase = &c
	return t.withProfile(job)
}
