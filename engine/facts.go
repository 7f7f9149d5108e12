package engine

import (
	"encoding/json"
	"strings"

	"mpg/commands"
	"mpg/domain"
)

// Facts (domain.Fact) say what each payment step did; they are journaled with the step's
// own job, and the statistics and fraud followers read nothing else. Two places write
// them, so that no channel can forget: paymentJob (and leanPaymentJob), which every step
// of a payment record goes through, whatever started it; and submit, the commit of every
// texted command, for the refusals of texted payments that never had a record.

// paymentFacts adds to a step's job what it did to payment p, which was in state was.
func (e *Engine) paymentFacts(p *domain.Payment, was domain.PaymentState, job domain.Job) domain.Job {
	if p.State == was && p.Refunded <= p.Counted {
		return job // a step that tells nothing (a code sent, a wrong code counted): no look-ups
	}
	base := domain.Fact{Product: productOfPayment(p), Channel: p.Channel, Payer: e.payerPurse(p), Payee: p.Merchant,
		Amount: p.Amount, Local: e.localHour(p.MSISDN)}
	if p.State != was {
		switch p.State {
		case domain.PaymentCompleted:
			job.Facts = append(job.Facts, paidFact(base, p))
		case domain.PaymentRefused, domain.PaymentExpired, domain.PaymentCancelled:
			f := base
			f.Kind, f.Reason = domain.FactRefused, reasonOf(p)
			job.Facts = append(job.Facts, f)
		case domain.PaymentInReview:
			f := base
			f.Kind = domain.FactHeld
			job.Facts = append(job.Facts, f)
		}
	}
	if p.Refunded > p.Counted {
		f := base
		f.Kind, f.Amount, f.Fee = domain.FactRefund, p.Refunded-p.Counted, 0
		f.Earned, f.Spent = pointsMoved(job.Transfers)
		job.Facts = append(job.Facts, f)
		p.Counted = p.Refunded
	}
	return job
}

// paidFact is a completed payment's fact: its money, fee, points and discount.
func paidFact(f domain.Fact, p *domain.Payment) domain.Fact {
	f.Kind, f.Fee = domain.FactPaid, p.Fee
	if p.Points != nil {
		f.Earned, f.Spent = p.Points.Earned, p.Points.Spent
	}
	if p.Discount != nil {
		f.Promo, f.Discount = p.Discount.Promotion, p.Discount.Amount
	}
	return f
}

// pointsMoved sums what a refund's transfers took back and gave back in points.
func pointsMoved(ts []domain.Transfer) (takenBack, restored uint64) {
	for _, t := range ts {
		switch t.Code {
		case domain.CodePointsTakeBack:
			takenBack += t.Amount
		case domain.CodePointsRestore:
			restored += t.Amount
		}
	}
	return takenBack, restored
}

// productOfPayment is a record's product: a bank's or a credit line's by its channel (a
// texted DEBIT's record names none); records from before products were all merchants'
// payments.
func productOfPayment(p *domain.Payment) string {
	switch {
	case p.Channel == domain.ChannelBank:
		return domain.ProductDebit
	case p.Channel == domain.ChannelCredit:
		return domain.ProductCredit
	case p.Product == "":
		return domain.ProductPay
	}
	return p.Product
}

// payerPurse is the purse of the person who paid p: statistics and fraud counters count
// people by it. A purse pays texted and web payments; a DEBIT, a CREDIT or a company
// payment is the person's too, found by his number; a cash-in has no payer.
func (e *Engine) payerPurse(p *domain.Payment) uint64 {
	switch {
	case p.Product == domain.ProductTopup:
		return 0
	case p.Payer == 0 && (p.Channel == domain.ChannelSMS || p.Channel == domain.ChannelWeb) && p.Debited != 0:
		return p.Debited
	case p.MSISDN == "":
		return 0
	}
	for _, a := range e.l.AccountsOf(p.MSISDN) {
		if a.Kind == domain.KindPurse {
			return a.ID
		}
	}
	return 0
}

// localHour is the hour of the day where number's owner lives (255: no number).
func (e *Engine) localHour(number string) uint8 {
	if number == "" {
		return 255
	}
	loc := e.cfg.Marketing.Rules.MemberOf(number).Loc
	if loc == nil {
		loc = e.cfg.Location
	}
	return uint8(e.cfg.Now().In(loc).Hour())
}

// reasonOf is why a payment record ended without paying, as statistics count it.
func reasonOf(p *domain.Payment) string {
	switch p.State {
	case domain.PaymentExpired:
		return domain.ReasonExpired
	case domain.PaymentCancelled:
		return domain.ReasonDeclined
	}
	switch domain.ErrorCode(p.Reason) {
	case domain.CodeInsufficientFunds:
		return domain.ReasonFunds
	case domain.CodeLimitExceeded:
		return domain.ReasonLimit
	case domain.CodeWrongCode, domain.CodeTooManyCodes, domain.CodeAccountLocked:
		return domain.ReasonPIN
	case domain.CodeAccountBlocked, domain.CodeCreditOverdue, domain.CodeSubscriberNotFound:
		return domain.ReasonBlocked
	case domain.CodeDeclined:
		return domain.ReasonDeclined
	case domain.CodeRiskDeclined:
		return domain.ReasonFraud
	}
	if p.Channel == domain.ChannelBank {
		return domain.ReasonBank // the bank's own answer code, or no answer
	}
	return domain.ReasonOther
}

// refusalReasons are the replies that refuse a texted payment, by the reason statistics
// count.
var refusalReasons = map[commands.Reply]string{
	commands.RInsufficient:    domain.ReasonFunds,
	commands.RWrongPIN:        domain.ReasonPIN,
	commands.RLocked:          domain.ReasonPIN,
	commands.RLockedAdmin:     domain.ReasonPIN,
	commands.RLimitPerPayment: domain.ReasonLimit,
	commands.RLimitDaily:      domain.ReasonLimit,
	commands.RLimitBalance:    domain.ReasonLimit,
	commands.RLimitExceeded:   domain.ReasonLimit,
	commands.RTierCannotSend:  domain.ReasonLimit,
	commands.RTooManyHolds:    domain.ReasonLimit,
	commands.RAccountBlocked:  domain.ReasonBlocked,
	commands.RAccountClosed:   domain.ReasonBlocked,
	commands.RPayeeClosed:     domain.ReasonBlocked,
	commands.RCreditFrozen:    domain.ReasonBlocked,
	commands.RCreditOverdue:   domain.ReasonBlocked,
	commands.RRiskDeclined:    domain.ReasonFraud,
}

// textedProduct is the product and channel a texted command pays with ("" for others).
func textedProduct(k commands.Kind) (product, channel string) {
	switch k {
	case commands.Pay:
		return domain.ProductPay, domain.ChannelSMS
	case commands.Bill:
		return domain.ProductBill, domain.ChannelSMS
	case commands.Send:
		return domain.ProductSend, domain.ChannelSMS
	case commands.Repay:
		return domain.ProductRepay, domain.ChannelSMS
	case commands.Debit:
		return domain.ProductDebit, domain.ChannelBank
	case commands.Credit:
		return domain.ProductCredit, domain.ChannelCredit
	}
	return "", ""
}

// saidFacts are the facts of a texted command's answer: each wrong PIN, and a texted
// payment refused by what it was told, unless the job already says what happened to it
// (a record refused, or money moved).
func (t *turn) saidFacts(job domain.Job) []domain.Fact {
	payer := uint64(0)
	if t.purse != nil {
		payer = t.purse.ID
	}
	facts := job.Facts
	for _, r := range t.retry.said {
		wrong := r == commands.RWrongPIN || r == commands.RLocked || r == commands.RConfirmWrong
		if wrong && !hasKind(facts, domain.FactWrongPIN) { // a request's wrong code told it already
			facts = append(facts, domain.Fact{Kind: domain.FactWrongPIN, Payer: payer, Local: t.e.localHour(t.in.From)})
			break
		}
	}
	f := t.attempted()
	if f.Product == "" || hasOutcome(job) {
		return facts
	}
	for _, r := range t.retry.said {
		if reason, ok := refusalReasons[r]; ok {
			f.Kind, f.Payer, f.Reason, f.Local = domain.FactRefused, payer, reason, t.e.localHour(t.in.From)
			return append(facts, f)
		}
	}
	return facts
}

// attempted is the payment a texted command tried: its product, channel, payee and amount
// (no product: the command pays nothing). A YES confirms the sender's own payment, or a
// merchant's request whose refusals its record tells.
func (t *turn) attempted() domain.Fact {
	if t.cmd.Kind == commands.Yes {
		if c := t.prof.Confirm; c != nil {
			return domain.Fact{Product: productOf(c.Code), Channel: domain.ChannelSMS, Payee: c.Payee, Amount: c.Amount}
		}
		return domain.Fact{Product: domain.ProductPay, Channel: domain.ChannelSMS}
	}
	product, channel := textedProduct(t.cmd.Kind)
	return domain.Fact{Product: product, Channel: channel, Payee: t.payee, Amount: t.cmd.Amount}
}

// hasOutcome says whether a job already records what became of its payment.
func hasOutcome(job domain.Job) bool {
	if len(job.Transfers) > 0 {
		return true
	}
	for _, f := range job.Facts {
		if f.Kind != domain.FactWrongPIN {
			return true
		}
	}
	return false
}

// refusedRecordFacts are the facts of payment records a refusal job writes as refused or
// expired (a step the ledger refused, recorded on its payment; expired when its deadline
// passed as it committed).
func (e *Engine) refusedRecordFacts(profiles []domain.Profile) []domain.Fact {
	var facts []domain.Fact
	for _, w := range profiles {
		if !strings.HasPrefix(w.Owner, keyPayment) || w.Delete {
			continue
		}
		var p domain.Payment
		if json.Unmarshal(w.Data, &p) != nil || p.State != domain.PaymentRefused && p.State != domain.PaymentExpired {
			continue
		}
		facts = append(facts, domain.Fact{Kind: domain.FactRefused, Product: productOfPayment(&p), Channel: p.Channel,
			Payer: e.payerPurse(&p), Payee: p.Merchant, Amount: p.Amount, Reason: reasonOf(&p), Local: e.localHour(p.MSISDN)})
	}
	return facts
}

// wrongCodeFact is a wrong confirmation code typed or texted for payment p.
func (e *Engine) wrongCodeFact(p *domain.Payment) domain.Fact {
	return domain.Fact{Kind: domain.FactWrongPIN, Product: productOfPayment(p), Channel: p.Channel, Payer: e.payerPurse(p),
		Payee: p.Merchant, Local: e.localHour(p.MSISDN)}
}

func hasKind(facts []domain.Fact, k domain.FactKind) bool {
	for _, f := range facts {
		if f.Kind == k {
			return true
		}
	}
	return false
}
