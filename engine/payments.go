package engine

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"strings"

	"mpg/commands"
	"mpg/domain"
)

func (t *turn) fee(code uint16, amount uint64) uint64 { return t.e.fee(code, amount) }

func (e *Engine) fee(code uint16, amount uint64) uint64 {
	for _, b := range e.cfg.Fees[code] {
		if amount <= b.UpTo {
			return b.Fee
		}
	}
	return 0
}

func (t *turn) system(kind domain.Kind) *domain.Account {
	a, err := t.e.l.System(kind, t.e.cfg.Currency)
	if err != nil {
		return nil
	}
	return &a
}

// feeTransfer is the fee of a payment: exempt from the tier's limits (those count what the
// subscriber pays, not what it costs), never from the balance.
func feeTransfer(purse, fees, fee uint64) domain.Transfer {
	return domain.Transfer{ID: domain.NewID(), Debit: purse, Credit: fees, Amount: fee, Code: domain.CodeFee, Flags: domain.Exempt}
}

func (t *turn) pay() domain.Job {
	c := t.cmd
	kind, code, unknown := domain.KindMerchant, domain.CodePay, commands.RUnknownMerchant
	if c.Kind == commands.Bill {
		kind, code, unknown = domain.KindBiller, domain.CodeBill, commands.RUnknownBiller
	}
	var payee *domain.Account
	for _, a := range t.e.l.AccountsOf(c.Merchant) {
		if a.Kind == kind && a.Currency == t.e.cfg.Currency {
			payee = &a
		}
	}
	if payee == nil || payee.Status != domain.StatusActive {
		t.reply(unknown, commands.Args{Arg: c.Merchant})
		return t.withProfile(domain.Job{})
	}
	ref := c.Ref
	if c.Kind == commands.Bill {
		if !t.billAccount() {
			return t.withProfile(domain.Job{})
		}
		ref = t.cmd.Account
	}
	t.payeeName, t.payee = payee.Name, payee.ID
	if c.Kind == commands.Pay && c.Ref != "" {
		if company, ok := t.e.employerOf(t.in.From, c.Ref); ok {
			return t.companyPay(&company, payee)
		}
	}
	return t.move(code, payee, c.Amount, ref)
}

func (t *turn) send() domain.Job {
	c := t.cmd
	t.payeeName = domain.Mask(c.Phone)
	payee, ok := t.sendPayee(c.Phone)
	switch {
	case !ok:
		return t.withProfile(domain.Job{})
	case payee == nil:
		return t.hold(c.Phone, c.Amount)
	}
	t.payee = payee.ID
	return t.move(domain.CodeSend, payee, c.Amount, c.Ref)
}

// sendPayee is the rule book's word on a SEND's payee, for a SEND and for a standing order
// made of one: not the payer himself, a tier that may send, a purse that is not closed. It
// returns the payee's purse (nil: he has none yet, the money is held for him), or false
// after replying why not.
func (t *turn) sendPayee(phone string) (*domain.Account, bool) {
	switch {
	case phone == t.in.From:
		t.reply(commands.RSelfTransfer, commands.Args{})
		return nil, false
	case !t.e.cfg.Tiers[t.purse.Tier].CanSend:
		t.reply(commands.RTierCannotSend, commands.Args{})
		return nil, false
	}
	var payee *domain.Account
	for _, a := range t.e.l.AccountsOf(phone) {
		if a.Kind == domain.KindPurse && a.Currency == t.e.cfg.Currency {
			payee = &a
		}
	}
	if payee != nil && payee.Status == domain.StatusClosed {
		t.reply(commands.RPayeeClosed, commands.Args{Party: domain.Mask(phone)})
		return nil, false
	}
	return payee, true
}

// holdRef is what a hold carries for its expiry notices: the payer's language and reference.
func holdRef(l commands.Lang, ref string) string {
	if ref == "" {
		return l.String()
	}
	r := l.String() + " " + ref
	if len(r) > domain.MaxRefLen {
		r = r[:domain.MaxRefLen] // the payment record keeps the whole reference
	}
	return r
}

// holdLang is the language holdRef put at the front of a hold's reference: the expiry hook
// runs on the ledger's writer and cannot read the payer's profile.
func holdLang(ref string) commands.Lang {
	switch l, _, _ := strings.Cut(ref, " "); l {
	case "FR":
		return commands.FR
	case "ZH":
		return commands.ZH
	}
	return commands.EN
}

// hold sends to a number with no purse: the amount waits in escrow as a pending transfer
// held for that number (the ledger indexes it by the payee, caps the holds per payee, and
// voids it after ClaimFor: the money is the payer's again and both are told); the payee is
// invited to register and claims it then. Above the confirmation threshold it is confirmed
// with YES first, like any payment.
func (t *turn) hold(payeeNumber string, amount uint64) domain.Job {
	escrow := t.system(domain.KindEscrow)
	if escrow == nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	if r, _ := t.riskGate(domain.ProductSend, domain.ChannelSMS, escrow.ID, amount, false); r != nil {
		return t.refuseBy(r)
	}
	fee := t.fee(domain.CodeSend, amount)
	ts := []domain.Transfer{{ID: t.newID(), Debit: t.purse.ID, Credit: escrow.ID, Amount: amount, Code: domain.CodeHold,
		Flags: domain.Pending, Timeout: t.e.cfg.ClaimFor, For: payeeNumber, Ref: holdRef(t.lang, t.cmd.Ref)}}
	if fee > 0 {
		fees := t.system(domain.KindFees)
		if fees == nil {
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(domain.Job{})
		}
		ts = append(ts, feeTransfer(t.purse.ID, fees.ID, fee))
	}
	if above := t.e.cfg.ConfirmAbove; above > 0 && amount > above {
		return t.askConfirm(domain.CodeHold, escrow, amount, fee, t.cmd.Ref, payeeNumber, ts)
	}
	t.repeat = repeatRecord{Kind: repeatSent, Amount: amount, Party: domain.Mask(payeeNumber), Ref: shortRef(ts[0])}
	job, err := t.e.paymentJob(t.heldPayment(ts[0].ID, escrow, payeeNumber, amount, fee, t.cmd.Ref), 0, "",
		t.withProfile(domain.Job{Transfers: ts}), t.in.From, false)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	job.Compose = t.heldNotices(payeeNumber, amount, fee)
	return job
}

// heldPayment is the record of a SEND held for a number with no purse: its id is the hold's,
// the claim completes it, the end of the claim window expires it.
func (t *turn) heldPayment(hold domain.ID, escrow *domain.Account, payeeNumber string, amount, fee uint64, ref string) *domain.Payment {
	p := t.smsPayment(domain.ProductSend, hold, escrow, t.purse.ID, amount, fee, ref)
	p.State, p.MerchantName, p.Transfer = domain.PaymentHeld, domain.Mask(payeeNumber), ""
	p.Expires = p.Created + int64(t.e.cfg.ClaimFor)
	return p
}

// heldNotices tell the payer the money is held and the payee how to claim it.
func (t *turn) heldNotices(payeeNumber string, amount, fee uint64) func(domain.View, *domain.Result) ([]domain.Message, error) {
	e, lang, days := t.e, t.lang, int(t.e.cfg.ClaimFor.Hours()/24)
	purse, from := t.purse.ID, t.in.From
	return func(v domain.View, r *domain.Result) ([]domain.Message, error) {
		var held domain.Transfer
		for _, tr := range r.Transfers {
			if tr.Flags&domain.Pending != 0 && tr.For != "" {
				held = tr
			}
		}
		payer, _ := v.Account(purse)
		a := commands.Args{Amount: t.money(amount), Fee: t.money(fee), Balance: t.money(uint64(max(0, payer.Available()))),
			Party: domain.Mask(payeeNumber), Ref: shortRef(held), N: max(1, days)}
		return []domain.Message{
			{From: e.cfg.ShortCode, To: from, Text: commands.Render(lang, commands.RSentHeld, a)},
			{From: e.cfg.ShortCode, To: payeeNumber, Text: commands.Render(lang, commands.RInvite, commands.Args{Amount: a.Amount, Party: domain.Mask(from), N: a.N})},
		}, nil
	}
}

// claimID derives the ids of a claim from the hold, so a claim retried after a crash is the
// same transfers (the ledger answers them as already done).
func claimID(pending domain.ID, n byte) domain.ID {
	h := sha256.Sum256(append([]byte{'c', n}, pending[:]...))
	var id domain.ID
	copy(id[:], h[:16])
	return id
}

// move builds the job of a payment: the amount to the payee and the fee to the fees
// account as one chain, with the payer's and the payee's replies composed after the money
// moved (so they carry the new balances) and a receipt code derived from the transfer.
func (t *turn) move(code uint16, payee *domain.Account, amount uint64, ref string) domain.Job {
	if t.cmd.WithPoints {
		return t.payWithPoints(code, payee, amount, ref)
	}
	// A promotion for this member: he pays the price less the discount (and the fee on what
	// he pays), its budget pays the discount beside it, the merchant gets the price.
	o := t.offerFor(payee, amount, ref)
	paid := amount
	var discount *domain.PaymentDiscount
	if o != nil {
		paid -= o.discount
		discount = &domain.PaymentDiscount{Promotion: o.p.Code, Amount: o.discount, Price: amount}
	}
	id := t.newID()
	ts := []domain.Transfer{{ID: id, Debit: t.purse.ID, Credit: payee.ID, Amount: paid, Code: code, Ref: ref}}
	if o != nil {
		ts = append(ts, domain.Transfer{ID: pointsID(id.String(), "discount"), Debit: o.p.Account, Credit: payee.ID, Amount: o.discount,
			Code: domain.CodeDiscount, Ref: o.p.Code})
		t.discountAt, t.credited = len(ts), amount
	}
	ts, fee, ok := t.withFee(ts, code, paid)
	if !ok {
		return t.busy()
	}
	// A payment the payer must confirm (YES) cannot be held: a hold would pay it on an
	// operator's word without his; such a hold declines.
	needsYes := t.e.cfg.ConfirmAbove > 0 && paid > t.e.cfg.ConfirmAbove
	if r, hold := t.riskGate(productOf(code), domain.ChannelSMS, payee.ID, paid, !needsYes); r != nil {
		return t.refuseBy(r)
	} else if hold {
		p := t.smsPayment(productOf(code), id, payee, t.purse.ID, paid, fee, ref)
		p.Discount = discount
		step := domain.Job{Transfers: ts}
		if o != nil {
			step = t.withOffer(step, o)
		}
		return t.holdForReview(p, 0, "", step)
	}
	if t.decision != nil {
		t.decision.Payment = id.String()
	}
	if above := t.e.cfg.ConfirmAbove; above > 0 && paid > above { // confirmed first: a discount reserved with the rest
		t.askDiscount = discount
		job := t.askConfirm(code, payee, paid, fee, ref, "", ts)
		if o != nil && len(job.Transfers) > 0 {
			job = t.withOffer(job, o) // a use counts when it is asked
		}
		return job
	}
	t.repeat = t.paidRecord(code, payee, paid, ts[0])
	p := t.smsPayment(productOf(code), id, payee, t.purse.ID, paid, fee, ref)
	p.Discount = discount
	var onward []domain.Profile
	if code == domain.CodeSend {
		if tr, records, account, ok := t.onToBank(payee, paid, id); ok {
			ts, onward, t.payeeBank = append(ts, tr), records, account
		}
	}
	compose := t.notices(code, payee, paid, fee, ref, t.payeeLang(payee))
	if o != nil {
		compose = appendLine(compose, t.in.From, commands.Render(t.lang, commands.RDiscount,
			commands.Args{Ref: o.p.Code, Amount: t.money(o.discount), Worth: t.money(amount)}))
	}
	job := t.withProfile(domain.Job{Transfers: ts, Compose: compose})
	job.Profiles = append(job.Profiles, onward...)
	if o != nil {
		job = t.withOffer(job, o)
	}
	job, err := t.e.earn(context.Background(), job, p, nil, payee.Owner, t.lang)
	if err == nil {
		job, err = t.e.leanPaymentJob(p, job, payee)
	}
	if err != nil {
		return t.busy()
	}
	return job
}

// withFee adds to a payment's transfers the fee of what the payer pays (fee 0: none); ok
// false when the fees account cannot be found.
func (t *turn) withFee(ts []domain.Transfer, code uint16, paid uint64) ([]domain.Transfer, uint64, bool) {
	fee := t.fee(code, paid)
	if fee == 0 {
		return ts, 0, true
	}
	fees := t.system(domain.KindFees)
	if fees == nil {
		return ts, fee, false
	}
	return append(ts, feeTransfer(t.purse.ID, fees.ID, fee)), fee, true
}

// busy answers a step that could not be computed: try again, nothing done.
func (t *turn) busy() domain.Job {
	t.reply(commands.RBusy, commands.Args{})
	return t.withProfile(domain.Job{})
}

// smsPayment is the record of a payment the subscriber made by texting a command, completed
// by the transfer id (its id too): the same record, view, list and webhook as a merchant's
// request or a checkout.
func (t *turn) smsPayment(product string, id domain.ID, payee *domain.Account, payer, amount, fee uint64, ref string) *domain.Payment {
	now := t.e.cfg.Now().UnixNano()
	name := merchantName(*payee)
	if payee.Kind == domain.KindPurse || payee.Kind == domain.KindCreditLine {
		name = domain.Mask(payee.Owner)
	}
	return &domain.Payment{ID: id.String(), Product: product, Merchant: payee.ID, MerchantName: name, Channel: domain.ChannelSMS,
		MSISDN: t.in.From, Amount: amount, Fee: fee, Currency: t.e.cfg.Currency, Reference: ref, State: domain.PaymentCompleted,
		Created: now, Updated: now, Expires: now, Transfer: id.String(), Debited: payer}
}

// productOf is the product of a transfer code a subscriber pays with.
func productOf(code uint16) string {
	switch code {
	case domain.CodeBill:
		return domain.ProductBill
	case domain.CodeSend, domain.CodeHold:
		return domain.ProductSend
	case domain.CodeRepay:
		return domain.ProductRepay
	case domain.CodeTopup:
		return domain.ProductTopup
	case domain.CodeDebit:
		return domain.ProductDebit
	case domain.CodeCreditAuth:
		return domain.ProductCredit
	}
	return domain.ProductPay
}

func (t *turn) paidRecord(code uint16, payee *domain.Account, amount uint64, tr domain.Transfer) repeatRecord {
	if code == domain.CodeSend {
		return repeatRecord{Kind: repeatSent, Amount: amount, Party: domain.Mask(payee.Owner), Ref: shortRef(tr)}
	}
	return repeatRecord{Kind: repeatPaid, Amount: amount, Party: payee.Name, Ref: shortRef(tr)}
}

// payeeLang is the language a payee subscriber reads (read before the job: Compose runs on
// the ledger's writer and must not read the ledger).
func (t *turn) payeeLang(payee *domain.Account) commands.Lang {
	if payee.Kind != domain.KindPurse {
		return commands.EN // a merchant's or biller's notice is in English: no profile to read
	}
	return t.e.langOf(payee.Owner)
}

func (e *Engine) langOf(msisdn string) commands.Lang {
	if b, _, err := e.l.Profile(msisdn); err == nil && b != nil {
		var p profile
		if json.Unmarshal(b, &p) == nil {
			return p.Lang
		}
	}
	return commands.EN
}

// notices composes, after the money moved, the payer's reply and the payee's or merchant's
// notice, with the new balances and a receipt derived from the first transfer.
func (t *turn) notices(code uint16, payee *domain.Account, amount, fee uint64, ref string, payeeLang commands.Lang) func(domain.View, *domain.Result) ([]domain.Message, error) {
	payerLang, e := t.lang, t.e
	from, purse, payerName, payeeBank := t.in.From, t.purse.ID, t.purse.Name, t.payeeBank
	credited := amount // what the merchant is told it received: the price, with a discount
	if t.credited != 0 {
		credited = t.credited
	}
	return func(v domain.View, r *domain.Result) ([]domain.Message, error) {
		main := r.Transfers[0] // a post of a confirmed payment carries no code
		for _, tr := range r.Transfers {
			if tr.Code == code && tr.Flags&domain.VoidPending == 0 {
				main = tr
				break
			}
		}
		payer, _ := v.Account(purse)
		after, _ := v.Account(payee.ID)
		rc := e.receipt(main)
		args := commands.Args{Amount: t.money(amount), Fee: t.money(fee), Balance: t.money(uint64(max(0, payer.Available()))),
			Ref: shortRef(main), Receipt: rc, Party: payee.Name, Account: ref, Name: payee.Name, Currency: e.cfg.Currency}
		var msgs []domain.Message
		add := func(to string, l commands.Lang, rep commands.Reply, a commands.Args) {
			msgs = append(msgs, domain.Message{From: e.cfg.ShortCode, To: to, Text: commands.Render(l, rep, a)})
		}
		switch code {
		case domain.CodePay:
			add(from, payerLang, commands.RPaid, args)
			if payee.Phone != "" {
				add(payee.Phone, commands.EN, merchantPaid(ref), commands.Args{Amount: t.money(credited), Party: domain.Mask(from), Ref: args.Ref, Receipt: rc, Account: ref})
			}
		case domain.CodeBill:
			add(from, payerLang, commands.RBillPaid, args)
		case domain.CodeSend:
			args.Party = domain.Mask(payee.Owner)
			add(from, payerLang, commands.RSent, args)
			told := commands.Args{Amount: args.Amount, Party: domain.Mask(from), Name: payerName,
				Balance: t.money(uint64(max(0, after.Available()))), Ref: args.Ref, Receipt: rc, Account: payeeBank}
			if payeeBank != "" {
				add(payee.Owner, payeeLang, commands.RReceivedToBank, told)
			} else {
				add(payee.Owner, payeeLang, commands.RReceived, told)
			}
		}
		return msgs, nil
	}
}

// merchantPaid is the merchant's notice of a payment, with the payer's reference if any.
func merchantPaid(ref string) commands.Reply {
	if ref != "" {
		return commands.RMerchantPaidRef
	}
	return commands.RMerchantPaid
}

func codeOf(k commands.Kind) uint16 {
	switch k {
	case commands.Pay:
		return domain.CodePay
	case commands.Bill:
		return domain.CodeBill
	case commands.Send:
		return domain.CodeSend
	}
	return 0
}

// FeeOf is the fee a payment of the product pays, for pages that show it before it is paid.
func (e *Engine) FeeOf(code uint16, amount uint64) uint64 { return e.fee(code, amount) }
