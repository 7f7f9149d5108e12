package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// The subscriber's side of a merchant's payment: YES <code> or NO <code> by SMS, or the
// number and then the code typed on the checkout page. Both run as a turn of the
// subscriber's (under the subscriber's lock, the profile written at the version read), and
// both end in answerPayment, so the money rules, the caps, the code checks and the replies
// are the same whatever the channel.

// answerRequests answers the merchant's payment whose code the subscriber sent. It reports
// false when the code is not one of them and the subscriber has a confirmation of his own
// waiting (the YES/NO of a large PAY or SEND), which then decides.
func (t *turn) answerRequests(yes bool) (domain.Job, bool) {
	if len(t.prof.Requests) == 0 {
		return domain.Job{}, false
	}
	var open []string
	for _, id := range t.prof.Requests {
		p, ver, err := t.e.payment(id)
		if err != nil || p.State != domain.PaymentAwaiting || p.MSISDN != t.in.From {
			continue
		}
		if t.e.paymentCode(&p, t.cmd.Code) {
			return t.answerPayment(&p, ver, yes), true
		}
		open = append(open, id)
	}
	if own := t.prof.Confirm; own != nil && t.e.cfg.Now().UnixNano() < own.Expires || len(open) == 0 {
		return domain.Job{}, false
	}
	// A wrong code counts against every request waiting for this number: we cannot know
	// which one was meant, and each allows only MaxPaymentTries.
	job := domain.Job{}
	left := domain.MaxPaymentTries
	for _, id := range open {
		p, ver, err := t.e.payment(id)
		if err != nil {
			continue
		}
		was := p.State
		p.Tries++
		if p.Tries >= domain.MaxPaymentTries {
			p.State, p.Reason = domain.PaymentRefused, string(domain.CodeWrongCode)
			t.dropRequest(id)
		}
		left = min(left, domain.MaxPaymentTries-p.Tries)
		var err2 error
		if len(job.Facts) == 0 {
			job.Facts = append(job.Facts, t.e.wrongCodeFact(&p)) // one wrong code, told once
		}
		if job, err2 = t.e.paymentJob(&p, ver, was, job, t.in.From, false); err2 != nil {
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(domain.Job{}), true
		}
	}
	if left <= 0 {
		t.reply(commands.RCancelled, commands.Args{})
	} else {
		t.reply(commands.RConfirmWrong, commands.Args{N: left})
	}
	return t.withProfile(job), true
}

// answerPayment builds the job of the subscriber's answer to one payment: the money and
// the completed record, or the refusal, with the replies and the merchant's webhook.
func (t *turn) answerPayment(p *domain.Payment, ver uint64, yes bool) domain.Job {
	e := t.e
	was := p.State
	now := e.cfg.Now()
	t.dropRequest(p.ID)
	t.audit = &domain.Audit{Actor: t.in.From, Action: "payment answered", Detail: p.ID}
	refuse := func(code domain.ErrorCode, r commands.Reply, a commands.Args) domain.Job {
		return t.refusePayment(p, ver, was, code, r, a)
	}
	if now.UnixNano() >= p.Expires {
		p.State = domain.PaymentExpired
		job, _ := e.paymentJob(p, ver, was, domain.Job{}, t.in.From, false)
		t.reply(commands.RConfirmExpired, commands.Args{})
		return t.withProfile(job)
	}
	if !yes {
		return refuse(domain.CodeDeclined, commands.RPayDeclined, commands.Args{Party: p.MerchantName})
	}
	// The one rule book of the payer, whatever the channel; the job carries its guards.
	with, line := fromPurse, (*domain.Account)(nil)
	switch {
	case p.Channel == domain.ChannelBank:
		with = fromBank
	case p.Channel == domain.ChannelCredit:
		with, line = fromLine, t.ruleLine()
	case p.Payer != 0:
		with = fromCompany
	}
	if r := t.payerRefusal(with, line); r != nil {
		return refuse(r.code, r.reply, r.args)
	}
	r, hold := t.riskGate(productOfPayment(p), p.Channel, p.Merchant, p.Amount, with == fromPurse)
	if r != nil {
		return t.withDecision(refuse(r.code, r.reply, r.args))
	}
	if t.holdIt = hold; t.decision != nil {
		t.decision.Payment = p.ID
	}
	// If the ledger refuses the step, the payment is refused with the ledger's reason, in
	// the job that carries the refusal reply.
	t.onRefused = t.refusedRecord(*p, ver, was)
	return t.guard(t.acceptPayment(p, ver, was, with, line))
}

// acceptPayment is YES to a payment the rule book allows: to the bank, a hold on the line,
// or the money from the purse or the company's account.
func (t *turn) acceptPayment(p *domain.Payment, ver uint64, was domain.PaymentState, with payWith, line *domain.Account) domain.Job {
	e, now := t.e, t.e.cfg.Now()
	refuse := func(code domain.ErrorCode, r commands.Reply, a commands.Args) domain.Job {
		return t.refusePayment(p, ver, was, code, r, a)
	}
	switch with {
	case fromBank:
		if left, ok := t.bankDailyLeft(now.UnixNano()); ok && p.Amount > left {
			return refuse(domain.CodeLimitExceeded, commands.RLimitDaily, commands.Args{Limit: t.money(left)})
		}
		return t.sendToBank(p, ver, was)
	case fromLine:
		merchant, err := e.l.Account(p.Merchant)
		if err != nil {
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(domain.Job{})
		}
		return t.creditHold(p, ver, was, line, &merchant)
	}
	// The account that pays: the subscriber's purse, or his company's (Internet+ Pro).
	payer := t.purse
	if p.Payer != 0 {
		c, err := e.l.Account(p.Payer)
		if err != nil {
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(domain.Job{})
		}
		payer = &c
	}
	if p.Channel == domain.ChannelWeb && e.cfg.CheckoutMonthly > 0 && p.Payer == 0 {
		month := now.In(e.cfg.Location).Format("2006-01")
		if t.prof.WebMonth != month {
			t.prof.WebMonth, t.prof.WebSpent = month, 0
		}
		if t.prof.WebSpent+p.Amount > e.cfg.CheckoutMonthly {
			return refuse(domain.CodeLimitExceeded, commands.RLimitExceeded, commands.Args{Amount: t.money(e.cfg.CheckoutMonthly - min(t.prof.WebSpent, e.cfg.CheckoutMonthly))})
		}
		// Counted in the profile written with the money, at the version read: two checkouts
		// racing cannot both fit under the cap.
		t.prof.WebSpent += p.Amount
		t.profDirty = true
	}
	merchant, err := e.l.Account(p.Merchant)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	pid, _ := domain.ParseID(p.ID)
	var o *offer
	if p.Payer == 0 && p.Discount == nil {
		if o = t.offerFor(&merchant, p.Amount, ""); o != nil { // a promotion for this buyer: he pays less
			p.Discount = &domain.PaymentDiscount{Promotion: o.p.Code, Amount: o.discount, Price: p.Amount}
			p.Amount -= o.discount
		}
	}
	fee := t.fee(domain.CodePay, p.Amount)
	code := domain.CodePay
	var employee []domain.Profile
	if p.Payer != 0 {
		code = domain.CodeCompanyPay
		// The employee's limits, counted in the job that moves the money.
		if employee, err = e.companyCharge(*payer, t.in.From, merchant, p.Amount, fee, pid, p.Reference, p.Channel, p.ID); err != nil {
			c := domain.CodeOf(err)
			if c == "" {
				t.reply(commands.RBusy, commands.Args{})
				return t.withProfile(domain.Job{})
			}
			return refuse(c, commands.RCompanyNo, commands.Args{Party: payer.Name, Arg: merchant.Name})
		}
	}
	ts := []domain.Transfer{{ID: pid, Debit: payer.ID, Credit: merchant.ID, Amount: p.Amount, Code: code, Ref: p.Reference}}
	if fee > 0 {
		fees := t.system(domain.KindFees)
		if fees == nil {
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(domain.Job{})
		}
		fr := feeTransfer(payer.ID, fees.ID, fee)
		fr.ID = claimID(pid, 'F')
		ts = append(ts, fr)
	}
	if o != nil {
		ts = append(ts, domain.Transfer{ID: claimID(pid, 'D'), Debit: o.p.Account, Credit: merchant.ID, Amount: o.discount, Code: domain.CodeDiscount, Ref: o.p.Code})
		t.discountAt, t.credited = len(ts), p.Discount.Price
	}
	t.cmd.Kind, t.cmd.Amount = commands.Pay, p.Amount // for the wording of a refusal
	t.payeeName, t.payee = merchant.Name, merchant.ID
	p.State, p.Reason, p.Fee, p.Transfer, p.Debited = domain.PaymentCompleted, "", fee, ts[0].ID.String(), payer.ID
	step := domain.Job{Transfers: ts, NotAfter: p.Expires, Profiles: employee}
	if p.Payer != 0 { // an employee may have no purse of his own: his notices are the company's
		step.Compose = t.companyNotices(payer, &merchant, p.Amount, fee, p.Reference)
	} else {
		step.Compose = t.notices(domain.CodePay, &merchant, p.Amount, fee, p.Reference, commands.EN)
	}
	if o != nil {
		step = t.withOffer(step, o)
		step.Compose = appendLine(step.Compose, t.in.From, commands.Render(t.lang, commands.RDiscount,
			commands.Args{Ref: o.p.Code, Amount: t.money(o.discount), Worth: t.money(p.Discount.Price)}))
	}
	if t.holdIt {
		return t.holdForReview(p, ver, was, step)
	}
	job, err := e.paymentJob(p, ver, was, step, t.in.From, false) // after the notices: points add to them
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	t.repeat = t.paidRecord(domain.CodePay, &merchant, p.Amount, ts[0])
	return t.withProfile(job)
}

// refusePayment ends a payment the subscriber answered as refused, with its reply.
func (t *turn) refusePayment(p *domain.Payment, ver uint64, was domain.PaymentState, code domain.ErrorCode, r commands.Reply, a commands.Args) domain.Job {
	p.State, p.Reason = domain.PaymentRefused, string(code)
	job, err := t.e.paymentJob(p, ver, was, domain.Job{}, t.in.From, false)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	t.reply(r, a)
	return t.withProfile(job)
}

// refusedRecord is the refusal path of a subscriber's answer: if the ledger refuses the
// step, the payment as it was read is refused with the ledger's reason (expired when the
// ledger's clock passed its deadline), and the profile written is the one read.
func (t *turn) refusedRecord(p domain.Payment, ver uint64, was domain.PaymentState) func(*domain.RefusedError) []domain.Profile {
	before := t.prof
	return func(ref *domain.RefusedError) []domain.Profile {
		r := p
		r.State, r.Reason = domain.PaymentRefused, string(domain.CodeOf(ref))
		if ref.Reason == domain.ErrPendingExpired {
			r.State, r.Reason = domain.PaymentExpired, ""
		}
		t.prof, t.profDirty = before, true
		t.dropRequest(p.ID)
		job, err := t.e.paymentJob(&r, ver, was, t.withProfile(domain.Job{}), t.in.From, false)
		if err != nil {
			return nil
		}
		return job.Profiles
	}
}

// webTurn runs f as a turn of the subscriber's that did not come by SMS (the checkout
// page): under his lock, computed again if his profile changed meanwhile. It has no dedupe
// record: the page's steps are idempotent by the payment record's version.
func (e *Engine) webTurn(ctx context.Context, msisdn string, f func(t *turn) (domain.Job, error)) error {
	mu := e.lock(msisdn)
	mu.Lock()
	defer mu.Unlock()
	for try := 0; ; try++ {
		t := &turn{e: e, in: Inbound{From: msisdn, Received: e.cfg.Now()}}
		if err := t.load(); err != nil {
			return fmt.Errorf("%w: %v", ErrBusy, err)
		}
		t.lang = t.prof.Lang
		job, err := f(t)
		if err != nil {
			return err
		}
		err = t.submit(ctx, job)
		if errors.Is(err, errConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

// CheckoutPhone binds a web checkout to the buyer's number and texts him the code. Typing
// a number again (a typo) sends a new code to the new number; the old code stops working.
//
// company, if not "", is the code of the company the buyer pays for (Internet+ Pro): he
// must be one of its employees, allowed there and within his limits. ip is the browser's
// address ("" if not known): kept with the time, sealed for the payer, as dispute evidence.
func (e *Engine) CheckoutPhone(ctx context.Context, id, number, company, ip string) (domain.Payment, error) {
	msisdn, err := domain.ParseMSISDN(number, e.cfg.Region)
	if err != nil {
		return domain.Payment{}, domain.PaymentErr(domain.CodeInvalidRequest, "not a phone number")
	}
	var payer *domain.Account
	if company = strings.TrimSpace(company); company != "" {
		c, ok := e.employerOf(msisdn, company)
		if !ok {
			return domain.Payment{}, domain.PaymentErr(domain.CodeNotAuthorised, "this number may not pay on that company's account")
		}
		payer = &c
	}
	var out domain.Payment
	err = e.webTurn(ctx, msisdn, func(t *turn) (domain.Job, error) {
		p, ver, err := e.merchantPayment(0, id)
		if err != nil {
			return domain.Job{}, err
		}
		now := e.cfg.Now()
		switch {
		case p.Channel != domain.ChannelWeb || !p.State.Open() || p.State == domain.PaymentInReview:
			return domain.Job{}, domain.PaymentErr(domain.CodeInvalidState, "the payment is "+string(p.State))
		case now.UnixNano() >= p.Expires:
			return domain.Job{}, domain.PaymentErr(domain.CodeInvalidState, "the checkout expired")
		case p.CodesSent >= domain.MaxPaymentTries:
			return domain.Job{}, domain.PaymentErr(domain.CodeTooManyCodes, "too many codes were sent for this payment")
		}
		with := fromPurse
		if payer != nil {
			with = fromCompany
		}
		if r := t.payerRefusal(with, nil); r != nil { // told now, before a code is sent
			return domain.Job{}, r.err()
		}
		month := now.In(e.cfg.Location).Format("2006-01")
		spent := t.prof.WebSpent
		if t.prof.WebMonth != month {
			spent = 0 // last month's
		}
		if payer == nil && e.cfg.CheckoutMonthly > 0 && spent+p.Amount > e.cfg.CheckoutMonthly {
			return domain.Job{}, domain.PaymentErr(domain.CodeLimitExceeded, "above this number's monthly limit for web payments")
		}
		p.Payer = 0
		if payer != nil {
			// Told now, before a code is sent; checked again with the money.
			merchant, err := e.l.Account(p.Merchant)
			if err != nil {
				return domain.Job{}, err
			}
			if _, err := e.companyCharge(*payer, msisdn, merchant, p.Amount, 0, domain.ID{}, "", "", ""); err != nil {
				return domain.Job{}, err
			}
			p.Payer = payer.ID
		}
		if err := t.countCode(now); err != nil {
			return domain.Job{}, err
		}
		if err := t.addRequest(p.ID); err != nil {
			return domain.Job{}, err
		}
		code, err := oneTimeCode()
		if err != nil {
			return domain.Job{}, err
		}
		was := p.State
		p.MSISDN, p.State, p.Tries = msisdn, domain.PaymentAwaiting, 0
		p.CodeMAC = e.codeMACFor(&p, code)
		p.CodesSent++
		p.Checkout = &domain.CheckoutSeen{PhoneAt: now.UnixNano(), PhoneIP: e.sealIP(msisdn, ip)}
		left := time.Duration(p.Expires - now.UnixNano())
		msg, err := e.sealedMessage(e.sms(msisdn, t.lang, commands.RCheckoutCode, commands.Args{Code: secretMark,
			Amount: e.money(p.Amount + e.fee(domain.CodePay, p.Amount)), Party: p.MerchantName, N: max(1, int(left.Minutes()))}), code)
		if err != nil {
			return domain.Job{}, err
		}
		msg.Urgent = true
		t.audit = &domain.Audit{Actor: msisdn, Action: "checkout code sent", Detail: p.ID}
		job, err := e.paymentJob(&p, ver, was, domain.Job{Messages: []domain.Message{msg}}, msisdn, was != p.State)
		out = p
		return t.withProfile(job), err
	})
	return out, err
}

// CheckoutCode confirms a web checkout with the code the buyer typed. A wrong code returns
// a PaymentError with the tries left; the third refuses the payment. ip is the browser's
// address ("" if not known), kept with the time of the right code as CheckoutPhone keeps it.
func (e *Engine) CheckoutCode(ctx context.Context, id, code, ip string) (domain.Payment, error) {
	p, err := e.GetPayment(0, id)
	if err != nil {
		return p, err
	}
	if p.Channel != domain.ChannelWeb || p.State != domain.PaymentAwaiting || p.MSISDN == "" {
		return p, domain.PaymentErr(domain.CodeInvalidState, "the payment is "+string(p.State))
	}
	var wrong *domain.PaymentError
	err = e.webTurn(ctx, p.MSISDN, func(t *turn) (domain.Job, error) {
		p, ver, err := e.merchantPayment(0, id)
		if err != nil {
			return domain.Job{}, err
		}
		if p.State != domain.PaymentAwaiting || p.MSISDN != t.in.From {
			return domain.Job{}, domain.PaymentErr(domain.CodeInvalidState, "the payment is "+string(p.State))
		}
		if len(code) == 6 && e.paymentCode(&p, code) {
			wrong = nil
			seen := domain.CheckoutSeen{}
			if p.Checkout != nil {
				seen = *p.Checkout
			}
			seen.CodeAt, seen.CodeIP = e.cfg.Now().UnixNano(), e.sealIP(p.MSISDN, ip)
			p.Checkout = &seen
			return t.answerPayment(&p, ver, true), nil
		}
		was := p.State
		p.Tries++
		wrong = &domain.PaymentError{Code: domain.CodeWrongCode, Detail: "wrong code", Left: domain.MaxPaymentTries - p.Tries}
		if p.Tries >= domain.MaxPaymentTries {
			p.State, p.Reason = domain.PaymentRefused, string(domain.CodeWrongCode)
			t.dropRequest(p.ID)
		}
		job, err := e.paymentJob(&p, ver, was, domain.Job{Facts: []domain.Fact{e.wrongCodeFact(&p)}}, p.MSISDN, false)
		return t.withProfile(job), err
	})
	if err != nil {
		return p, err
	}
	p, err = e.GetPayment(0, id)
	if err == nil && wrong != nil {
		err = wrong
	}
	return p, err
}

// sealIP is a checkout browser's address sealed for the payer, for the payment record: ""
// when it is not an IP address, or when the number is no person the ledger knows (then the
// address is not kept rather than kept bare).
func (e *Engine) sealIP(msisdn, ip string) string {
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return ""
	}
	sealed, err := e.l.SealFor(msisdn, addr.Unmap().WithZone("").String())
	if err != nil {
		return ""
	}
	return sealed
}
