package engine

import (
	"mpg/commands"
	"mpg/domain"
)

// The payer's rule book. One list of the rules that decide whether a subscriber may pay or
// commit himself to a payment, checked by every step that does, whatever its channel: a
// texted PAY, BILL, SEND, DEBIT, CREDIT or REPAY, YES <code> to his own confirmation or to
// a merchant's request, the code typed on the checkout page, a payment on his company's
// account. The check reads the state of the turn; the guards the step's job carries make
// it atomic: the ledger's writer refuses the job if the purse was blocked or closed since,
// or if the profile (his lockout) or his credit line's terms changed since they were read.
//
//	rule                     | where it is decided
//	purse closed             | here, and the writer (Active guard, and every debit)
//	purse blocked (BLOCK)    | here, and the writer (Active guard, and every debit and post)
//	locked for wrong PINs    | here (profile), and the writer (Reads guard on the profile)
//	tier limits              | the writer, with each purse debit; DEBITs in the profile at its version
//	credit line frozen       | the writer refuses new holds on a blocked line; captures go on
//	credit line overdue      | here (the line's terms), and the writer (Reads guard on the terms)
//	employee's own purse     | here: his purse blocked, closed or locked stops company payments
//	fraud rules              | here (fraud.go: scored from the activities and his history),
//	                         | and the writer (Untouched guard on his purse since it was scored)

// payWith says where a payment's money comes from.
type payWith uint8

const (
	fromPurse   payWith = iota // the subscriber's purse
	fromCompany                // his company's account: his own purse need not exist
	fromLine                   // his credit line
	fromBank                   // his bank account, through the bank connector
)

// refusal is a rule that said no: the stable code for records and the API, and the reply.
type refusal struct {
	code  domain.ErrorCode
	reply commands.Reply
	args  commands.Args
}

// payerRefusal applies the rule book to the turn's subscriber paying from with (line: his
// credit line, for fromLine). nil means he may.
func (t *turn) payerRefusal(with payWith, line *domain.Account) *refusal {
	now := t.e.cfg.Now().UnixNano()
	switch {
	case t.purse == nil && with != fromCompany:
		return &refusal{domain.CodeSubscriberNotFound, commands.RNotRegistered, commands.Args{}}
	case t.purse != nil && t.purse.Status == domain.StatusClosed:
		return &refusal{domain.CodeAccountBlocked, commands.RAccountClosed, commands.Args{}}
	case t.purse != nil && t.purse.Status == domain.StatusBlocked:
		return &refusal{domain.CodeAccountBlocked, commands.RAccountBlocked, commands.Args{}}
	case t.prof.LockedUntil > now:
		r := &refusal{code: domain.CodeAccountLocked, reply: commands.RLocked,
			args: commands.Args{N: int((t.prof.LockedUntil-now)/60e9) + 1}}
		if t.prof.LockedUntil == lockedForever {
			r.reply, r.args = commands.RLockedAdmin, commands.Args{}
		}
		return r
	}
	if with == fromLine {
		return t.lineRefusal(line, now)
	}
	return nil
}

// ruleLine reads the subscriber's credit line for the rule book, its terms first. The
// cause of an overdue line (a statement left unpaid) writes the terms and the debt in one
// job: read in this order, a cause committed between the two reads leaves the terms at the
// version the job's guard names, and the commit is refused; read the other way round, the
// old debt and the new terms would both pass.
func (t *turn) ruleLine() *domain.Account {
	var err error
	t.terms, t.termsVer, err = t.e.terms(t.in.From)
	t.termsRead = err == nil
	return t.e.lineOrNil(t.in.From)
}

// lineRefusal: a frozen line takes no new authorisation, an overdue one none until repaid.
// The line and its terms are as ruleLine read them.
func (t *turn) lineRefusal(line *domain.Account, now int64) *refusal {
	if line == nil {
		return &refusal{domain.CodeSubscriberNotFound, commands.RNoCreditLine, commands.Args{}}
	}
	if line.Status != domain.StatusActive {
		return &refusal{domain.CodeAccountBlocked, commands.RCreditFrozen, commands.Args{}}
	}
	if !t.termsRead {
		return &refusal{domain.CodeUnavailable, commands.RBusy, commands.Args{}}
	}
	owed, _, _ := LineUse(*line)
	if late := min(t.terms.late(now), owed); late > 0 {
		return &refusal{domain.CodeCreditOverdue, commands.RCreditOverdue, commands.Args{Amount: t.money(late)}}
	}
	return nil
}

// guard adds to a job the guards of the rule book as the turn read it: the subscriber's
// purse must still be active, his profile and his line's terms at the versions read.
func (t *turn) guard(job domain.Job) domain.Job {
	if t.purse != nil {
		job.Active = append(job.Active, t.purse.ID)
	}
	job.Reads = append(job.Reads, domain.Profile{Owner: t.in.From, Version: t.profVer})
	if t.termsRead {
		job.Reads = append(job.Reads, domain.Profile{Owner: keyCreditTerms + t.in.From, Version: t.termsVer})
	}
	return t.withDecision(job)
}

// err is the refusal as the merchant API and the checkout page show it: the stable code
// and words that never say more than the payer's own SMS would.
func (r *refusal) err() error {
	detail := map[domain.ErrorCode]string{
		domain.CodeSubscriberNotFound: "this number has no e-purse",
		domain.CodeAccountBlocked:     "this e-purse is blocked",
		domain.CodeAccountLocked:      "this e-purse is locked for a while after wrong PINs",
		domain.CodeCreditOverdue:      "the credit line is overdue",
	}[r.code]
	return domain.PaymentErr(r.code, detail)
}

// refuseBy answers a refusal of the rule book: its reply, nothing moved.
func (t *turn) refuseBy(r *refusal) domain.Job {
	t.reply(r.reply, r.args)
	return t.withProfile(domain.Job{})
}
