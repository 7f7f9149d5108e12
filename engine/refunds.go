package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"mpg/commands"
	"mpg/domain"
)

// Money given back on a payment is one operation, whoever asks: a merchant's refund (the
// API, `mpg payment refund`) and an operator's reversal (`mpg ledger reverse`) both run
// giveBack on the payment's record, at the version read, under one cap (everything given
// back never exceeds what was paid), both show on the record and in its webhook event, and
// a payment is reversed at most once. Where the money goes depends on what paid it: the
// purse or the company's account that paid; for a credit payment the line, as far as it
// still owes it (the rest, repaid meanwhile, to the purse); for a DEBIT his bank account,
// by a credit the bank worker sends (debit_refund.go); a repayment back to the purse, a cash-in back to the float.

// RefundRequest gives back part or all of a completed payment.
type RefundRequest struct {
	Merchant  uint64 // the merchant asking: its own payments only; 0 for an operator
	PaymentID string
	Amount    uint64 // 0: all that is left
	Actor     string
	// Kind is domain.RefundByMerchant ("" too) or domain.Reversal: an operator's, once.
	Kind string
	Idempotency
}

// RefundPayment gives back part or all of a completed payment; it returns the payment, the
// refund and whether it is the replay of an earlier request with the same idempotency key.
func (e *Engine) RefundPayment(ctx context.Context, req RefundRequest) (domain.Payment, domain.Refund, bool, error) {
	if req.Kind == "" {
		req.Kind = domain.RefundByMerchant
	}
	// One step at a time on a payment in this daemon; across daemons the job's guard on the
	// record's version makes the loser compute again.
	mu := e.lock("give back " + req.PaymentID)
	mu.Lock()
	defer mu.Unlock()
	for try := 0; ; try++ {
		if p, r, ok, err := e.refundReplay(req); ok || err != nil {
			return p, r, ok, err
		}
		p, ver, err := e.merchantPayment(req.Merchant, req.PaymentID)
		if err != nil {
			return p, domain.Refund{}, false, err
		}
		refund, job, err := e.giveBack(&p, ver, req)
		if err != nil {
			return p, refund, false, err
		}
		_, err = e.l.Submit(ctx, job)
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		if err == nil && p.Channel == domain.ChannelBank {
			e.wakeBank() // the credit is queued and durable: the bank worker sends it
		}
		return p, refund, false, err
	}
}

// refundReplay answers a refund whose idempotency key was used: ok with the first answer.
func (e *Engine) refundReplay(req RefundRequest) (domain.Payment, domain.Refund, bool, error) {
	r, err := e.replay(req.Merchant, req.Idempotency)
	if err != nil || r == nil {
		return domain.Payment{}, domain.Refund{}, false, err
	}
	if r.Refund >= 0 && r.Refund < len(r.Payment.Refunds) {
		return r.Payment, r.Payment.Refunds[r.Refund], true, nil
	}
	return domain.Payment{}, domain.Refund{}, false, domain.PaymentErr(domain.CodeIdempotencyMismatch, "this idempotency key was used with another request")
}

// giveBackAmount checks a request against the payment and returns what it gives back.
func giveBackAmount(p *domain.Payment, req RefundRequest) (uint64, error) {
	left := p.Left()
	amount := req.Amount
	if amount == 0 || req.Kind == domain.Reversal {
		amount = left
	}
	switch {
	case p.Dispute != "" || p.Return != "":
		// A case or a return request open on the payment decides what goes back: nothing
		// else is given back meanwhile. The record's version guard makes a refund racing the
		// opening lose one way or the other.
		return 0, domain.PaymentErr(domain.CodeDisputeOpen, "a dispute or a return request is open on the payment")
	case req.Kind == domain.Reversal && p.Reversed():
		return 0, domain.PaymentErr(domain.CodeAlreadyReversed, "the payment was reversed already")
	case !p.State.Refundable():
		return 0, domain.PaymentErr(domain.CodeInvalidState, "the payment is "+string(p.State))
	case left == 0 && pointsOnly(p):
		return 0, nil // paid all in points: giving back is giving the points back
	case left == 0:
		return 0, domain.PaymentErr(domain.CodeRefundTooLarge, "nothing is left to give back")
	case amount > left:
		return 0, domain.PaymentErr(domain.CodeRefundTooLarge, "at most "+domain.FormatAmount(left, p.Currency)+" is left to refund")
	case len(p.Refunds) >= domain.MaxRefunds:
		return 0, domain.PaymentErr(domain.CodeLimitExceeded, fmt.Sprintf("at most %d refunds per payment", domain.MaxRefunds))
	case req.Kind == domain.RefundByMerchant && (p.ProductOf() == domain.ProductRepay || p.ProductOf() == domain.ProductTopup):
		return 0, domain.PaymentErr(domain.CodeInvalidState, "only an operator reverses a "+p.ProductOf())
	}
	return amount, nil
}

// giveBackID is the id of part (0, 1) of the n-th money given back on a payment: derived,
// so a retry is the same transfer, and in a namespace of its own, so it never meets a fee's
// or a capture's id.
func giveBackID(payment string, n, part int) domain.ID {
	pid, _ := domain.ParseID(payment)
	h := sha256.Sum256(append([]byte(fmt.Sprintf("mpg give back %d %d ", n, part)), pid[:]...))
	var id domain.ID
	copy(id[:], h[:16])
	return id
}

// giveBack builds the job that gives back on p (read at ver) what req asks, and moves p.
func (e *Engine) giveBack(p *domain.Payment, ver uint64, req RefundRequest) (domain.Refund, domain.Job, error) {
	if e.reversedBefore(p) {
		return domain.Refund{}, domain.Job{}, domain.PaymentErr(domain.CodeAlreadyReversed, "the payment was reversed already")
	}
	amount, err := giveBackAmount(p, req)
	if err != nil {
		return domain.Refund{}, domain.Job{}, err
	}
	n := len(p.Refunds)
	var plan givePlan
	if amount > 0 {
		if plan, err = e.giveBackTransfers(p, n, amount, req.Kind); err != nil {
			return domain.Refund{}, domain.Job{}, err
		}
	}
	refundID := giveBackID(p.ID, n, pointsPart)
	if len(plan.Transfers) > 0 {
		refundID = plan.Transfers[0].ID
	}
	was := p.State
	refund := domain.Refund{ID: refundID.String(), Amount: amount, At: e.cfg.Now().UnixNano(), Transfer: refundID.String(),
		Kind: req.Kind, By: req.Actor, ToPurse: plan.toPurse}
	p.Refunds = append(p.Refunds, refund)
	p.Refunded += amount
	p.State = domain.PaymentPartiallyRefunded
	if p.Refunded >= p.Amount {
		p.State = domain.PaymentRefunded
	}
	action := "payment refund"
	if req.Kind == domain.Reversal {
		action = "payment reverse"
	}
	// An mDebit's money goes back to the subscriber's bank account: the transfer takes it to
	// bank clearing, and the same job queues the credit the bank worker sends.
	bank := e.bankRefund(p, n)
	refund = p.Refunds[n]
	job := plan.Job
	back, taken, err := e.givePointsBack(p, n, &job)
	if err != nil {
		return refund, job, err
	}
	job.Compose, job.Profiles = e.giveBackNotices(*p, refund), append(job.Profiles, bank...)
	if back+taken > 0 { // the payer is told what his points did too
		job.Compose = appendLine(job.Compose, p.MSISDN, commands.Render(e.langOf(p.MSISDN), commands.RPointsRefund,
			commands.Args{Points: back, N: int(taken), Total: p.Points.Total}))
	}
	// The record at the version read, checked before the transfers: a racing step that wrote
	// it first makes this one a conflict (computed again), never a reused transfer id.
	job.Reads = append(job.Reads, domain.Profile{Owner: keyPayment + p.ID, Version: ver})
	job.Audit = &domain.Audit{Actor: req.Actor, Action: action, Detail: p.ID + " " + domain.FormatAmount(amount, p.Currency)}
	if job, err = e.paymentJob(p, ver, was, job, req.Actor, true); err != nil {
		return refund, job, err
	}
	if job, err = e.refundMail(p, refund, job); err != nil {
		return refund, job, err
	}
	if req.Key != "" {
		job.Profiles = append(job.Profiles, write(idemKey(p.Merchant, req.Key), idemRecord{Hash: req.BodyHash, Payment: *p, Refund: n}, 0))
	}
	return refund, job, nil
}

// givePlan is what giving back moves: the transfers and the guards and records that go
// with them; toPurse is the part of a credit payment's refund that goes to the purse.
type givePlan struct {
	domain.Job
	toPurse uint64
}

// giveBackTransfers plans the transfers that give amount back on p.
func (e *Engine) giveBackTransfers(p *domain.Payment, n int, amount uint64, kind string) (givePlan, error) {
	code := domain.CodeRefund
	if kind == domain.Reversal {
		code = domain.CodeReversal
	}
	tr := func(part int, to, amount uint64) domain.Transfer {
		return domain.Transfer{ID: giveBackID(p.ID, n, part), Debit: p.Merchant, Credit: to, Amount: amount, Code: code,
			Ref: clip(p.Reference, domain.MaxRefLen), Flags: domain.Exempt}
	}
	if p.ProductOf() == domain.ProductCredit {
		return e.creditGiveBack(p, amount, tr)
	}
	if p.Debited == 0 {
		return givePlan{}, domain.PaymentErr(domain.CodeInvalidState, "the payment has no account to give back to")
	}
	return givePlan{Job: domain.Job{Transfers: []domain.Transfer{tr(0, p.Debited, amount)}}}, nil
}

// creditGiveBack gives back a captured credit payment: to the line as far as it still owes
// (what it owes falls, and so does what its statement asks), the rest to the purse; never to
// a line that owes nothing, where the money would be stranded and the line could never
// close. The split is computed from the line as read: the job names the line's journal
// position, so a repayment or another refund committed in between refuses it (ErrConflict)
// and it is computed again.
func (e *Engine) creditGiveBack(p *domain.Payment, amount uint64, tr func(int, uint64, uint64) domain.Transfer) (givePlan, error) {
	line, err := e.l.Account(p.Debited)
	if err != nil {
		return givePlan{}, err
	}
	owed, _, _ := LineUse(line)
	toLine := min(owed, amount)
	plan := givePlan{Job: domain.Job{Untouched: []domain.AccountAt{{ID: line.ID, LastSeq: line.LastSeq}}}, toPurse: amount - toLine}
	if toLine > 0 {
		plan.Transfers = append(plan.Transfers, tr(0, line.ID, toLine))
		if terms, ver, err := e.terms(line.Owner); err == nil && terms.Due+terms.Overdue > 0 {
			terms.repaid(toLine)
			plan.Profiles = append(plan.Profiles, write(keyCreditTerms+line.Owner, terms, ver))
		}
	}
	if plan.toPurse > 0 {
		purse, err := e.purseID(p.MSISDN)
		if err != nil {
			return givePlan{}, err
		}
		plan.Transfers = append(plan.Transfers, tr(1, purse, plan.toPurse))
	}
	return plan, nil
}

// reversedBefore reports whether an operator reversed the payment's transfer before payments
// had one cap (a bare compensating transfer, outside the record): nothing is left to give.
func (e *Engine) reversedBefore(p *domain.Payment) bool {
	id, err := domain.ParseID(p.Transfer)
	if err != nil {
		return false
	}
	_, err = e.l.Transfer(reversalID(id))
	return err == nil
}

// purseID is the id of a subscriber's open purse in the engine's currency.
func (e *Engine) purseID(msisdn string) (uint64, error) {
	if a := e.purseOf(msisdn); a != nil {
		return a.ID, nil
	}
	return 0, domain.PaymentErr(domain.CodeSubscriberNotFound, "the payer has no e-purse to give the money back to")
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// giveBackNotices tell the payer the money is back (and the payee of a reversal that it was
// taken back), with the new balances, once the money moved.
func (e *Engine) giveBackNotices(p domain.Payment, r domain.Refund) func(domain.View, *domain.Result) ([]domain.Message, error) {
	payerLang := e.langOf(p.MSISDN)
	payee, _ := e.l.Account(p.Merchant)
	payeeLang := e.langOf(payee.Owner)
	return func(v domain.View, res *domain.Result) ([]domain.Message, error) {
		if res.Existed[0] {
			return nil, nil // given back before (a retry): nobody is told twice
		}
		ref := shortRef(res.Transfers[0])
		var out []domain.Message
		if m, ok := e.payerNotice(p, r, v, payerLang, ref); ok {
			out = append(out, m)
		}
		switch {
		case r.Kind == domain.Reversal, r.Kind == domain.RefundDispute && payee.Kind == domain.KindPurse:
			out = append(out, e.payeeReversed(payee, r.Amount, v, payeeLang, ref)...)
		case r.Kind == domain.RefundReturn:
			after, _ := v.Account(payee.ID)
			out = append(out, e.sms(payee.Owner, payeeLang, commands.RRevGaveBack, commands.Args{Amount: e.money(r.Amount), Ref: ref,
				Party: domain.Mask(p.MSISDN), Balance: e.money(uint64(max(0, after.Available())))}))
		}
		return out, nil
	}
}

// payerNotice is the payer's SMS: where his money went back to, and his balance.
func (e *Engine) payerNotice(p domain.Payment, r domain.Refund, v domain.View, lang commands.Lang, ref string) (domain.Message, bool) {
	switch p.ProductOf() {
	case domain.ProductDebit:
		return domain.Message{}, false // told by the bank worker, when the bank answers
	case domain.ProductTopup:
		return domain.Message{}, false // the float paid; the subscriber is the payee, told as such
	}
	purse, err := e.purseID(p.MSISDN)
	if p.MSISDN == "" || err != nil {
		return domain.Message{}, false
	}
	acct, _ := v.Account(purse)
	bal := e.money(uint64(max(0, acct.Available())))
	a := commands.Args{Party: p.MerchantName, Amount: e.money(r.Amount), Balance: bal, Ref: ref}
	switch {
	case p.ProductOf() == domain.ProductCredit:
		a.Fee, a.Limit = e.money(r.Amount-r.ToPurse), e.money(r.ToPurse)
		return e.sms(p.MSISDN, lang, commands.RRefundToLine, a), true
	case p.Payer != 0:
		return domain.Message{}, false // the company's money: the company sees it in its list
	case r.Kind == domain.Reversal:
		return e.sms(p.MSISDN, lang, commands.RReversedIn, a), true
	case r.Kind == domain.RefundReturn:
		return e.sms(p.MSISDN, lang, commands.RRevReturned, a), true
	}
	return e.sms(p.MSISDN, lang, commands.RMerchantRefund, a), true
}

// payeeReversed tells the payee of a reversed payment: a subscriber, or a merchant's phone.
func (e *Engine) payeeReversed(payee domain.Account, amount uint64, v domain.View, lang commands.Lang, ref string) []domain.Message {
	after, _ := v.Account(payee.ID)
	a := commands.Args{Amount: e.money(amount), Ref: ref, Balance: e.money(uint64(max(0, after.Available())))}
	switch {
	case payee.Kind == domain.KindPurse:
		return []domain.Message{e.sms(payee.Owner, lang, commands.RReversedOut, a)}
	case payee.Phone != "":
		return []domain.Message{e.sms(payee.Phone, commands.EN, commands.RReversedOutShop, a)}
	}
	return nil
}
