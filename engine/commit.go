package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// repeatRecord is what the dedupe record keeps of an SMS, so that a redelivered copy is
// answered to its sender only, saying it is a repeat: no receipt, no notice to anyone else.
type repeatRecord struct {
	Kind   string `json:"k"`           // repeatPaid, repeatSent, repeatQuery, or "" (anything else)
	Amount uint64 `json:"a,omitempty"` // minor units
	Party  string `json:"p,omitempty"` // merchant name or masked number
	Ref    string `json:"r,omitempty"` // short transaction reference
}

const (
	repeatPaid  = "paid"
	repeatSent  = "sent"
	repeatQuery = "query" // BAL, MINI: a copy is answered with the current state
)

// submit commits the job with the SMS's dedupe record and replies. A refused transfer turns
// into its refusal reply, committed the same way; a duplicate SMS is told it is one and moves
// nothing.
func (t *turn) submit(ctx context.Context, job domain.Job) error {
	computed := t.replies
	job.Audit = t.audit
	job.Messages = append(job.Messages, t.replies...)
	job.Dedupe = t.dedupe(&job)
	job.Facts = t.saidFacts(job)
	if t.sweep != nil {
		job.Reads = append(job.Reads, *t.sweep)
	}
	_, err := t.e.l.Submit(ctx, job)
	var ref *domain.RefusedError
	if errors.As(err, &ref) && (ref.Reason == domain.ErrConflict || t.sweep != nil && sweepRefused(&job, err) ||
		ref.Reason == domain.ErrInsufficientFunds && t.discountAt != 0 && ref.Index == t.discountAt-1) {
		return errConflict // a record moved, the payee's purse was blocked, or the discount's budget ran out: computed again
	}
	if errors.As(err, &ref) && ref.Reason != domain.ErrDuplicate {
		// Every other refusal is an answer, committed with the dedupe record, so that a
		// redelivered copy does not run again and nothing is left unanswered.
		t.replies, t.retry.said = nil, nil
		t.decision = nil // its job is not written: nothing decided to keep
		t.refusal(ref)
		profiles := t.ownProfile(job.Profiles)
		if t.onRefusal != nil {
			profiles = *t.onRefusal
		}
		if t.onRefused != nil {
			profiles = t.onRefused(ref)
		}
		t.repeat = repeatRecord{}
		job = domain.Job{Messages: t.replies, Profiles: profiles, Facts: t.e.refusedRecordFacts(profiles)}
		if t.onRefused != nil {
			job.Audit = t.audit // a merchant's payment refused: a transition like any other
		}
		job.Dedupe = t.dedupe(&job)
		job.Facts = t.saidFacts(job)
		_, err = t.e.l.Submit(ctx, job)
		if errors.As(err, &ref) && ref.Reason == domain.ErrConflict {
			return errConflict
		}
		if errors.As(err, &ref) && ref.Reason != domain.ErrDuplicate {
			job.Profiles = nil // even the profile cannot be written: answer without it
			_, err = t.e.l.Submit(ctx, job)
		}
	}
	var dup *domain.DuplicateError
	if errors.As(err, &dup) {
		t.decision = nil // a repeat: the first copy's decision was counted
		err = t.answerRepeat(ctx, dup, computed)
	}
	if errors.Is(err, errFreshCode) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBusy, err)
	}
	t.e.countDecision(t.decision)
	return nil
}

// ownProfile keeps, of a refused job's record writes, only the subscriber's own profile
// (a lockout counted, a wrong PIN): the records of a payment the ledger refused (its record
// completed or authorised, its indexes, its webhook) must not be written without its money.
func (t *turn) ownProfile(ps []domain.Profile) []domain.Profile {
	for _, p := range ps {
		if p.Owner == t.in.From {
			return []domain.Profile{p}
		}
	}
	return nil
}

// dedupe is the record of the SMS that job answers.
func (t *turn) dedupe(job *domain.Job) *domain.Dedupe {
	if t.dedupeKey == "" {
		return nil // not an SMS (the checkout page): nothing to recognise a copy of
	}
	b, _ := json.Marshal(t.repeat)
	return &domain.Dedupe{Key: t.dedupeKey, TTL: t.e.cfg.Dedupe, Result: b, Retry: t.rerun || t.mayRetry(job)}
}

// retryState is what a turn knows, when it commits, of whether its SMS may run again.
type retryState struct {
	said  []commands.Reply // what the sender is told, in order
	final bool             // a wrong PIN was counted: a copy of this SMS must never count again
}

// mayRetry reports whether job answers the SMS with a refusal whose cause can go away
// (money, limits, a block, a lockout, a service not there yet, a passing fault) and which
// moved nothing, counted nothing and ended nothing: then the same text sent again runs
// again, its record replacing this one, and a copy redelivered meanwhile is refused again
// to its sender only. Every other answer is final: its copies are repeats.
func (t *turn) mayRetry(job *domain.Job) bool {
	if t.retry.final || t.cmd.Kind == 0 || len(t.retry.said) == 0 || len(t.retry.said) != len(job.Messages) {
		return false // a parse error, or replies the turn did not word as refusals
	}
	if len(job.Transfers)+len(job.Open)+len(job.Status)+len(job.Tiers)+len(job.Limits) > 0 ||
		job.Compose != nil || job.Part != nil || job.ReleaseParts != nil {
		return false
	}
	for _, p := range job.Profiles {
		if p.Owner != t.in.From && (p.Version != 0 || p.Delete) {
			return false // a record that was there before moved on (a merchant's request refused)
		}
	}
	for _, m := range job.Messages {
		if m.To != t.in.From {
			return false // someone else was told
		}
	}
	for _, r := range t.retry.said {
		if !causeMayGo(r) || r == commands.RBusy && (t.cmd.Kind == commands.Yes || t.cmd.Kind == commands.No) {
			return false // a YES/NO that failed half way may have taken its request off the profile
		}
	}
	return true
}

// causeMayGo tells the refusals whose cause can go away, and what lifts it.
func causeMayGo(r commands.Reply) bool {
	switch r {
	case commands.RInsufficient, // a top-up
		commands.RLimitPerPayment, commands.RLimitDaily, commands.RLimitExceeded, commands.RTierCannotSend, // a higher tier, the 24 hours moving on
		commands.RLimitBalance, commands.RTooManyHolds, // the payee spends or claims
		commands.RAccountBlocked, commands.RCreditFrozen, commands.RCreditOverdue, // an unblock, a repayment
		commands.RCompanyLimit, commands.RCompanyNo, // the company changes what an employee may do
		commands.RLocked, commands.RLockedAdmin, // the lockout ends or customer care unlocks
		commands.RNotRegistered, commands.RNoCreditLine, commands.RBankNotLinked, commands.RNotAvailable, // REG, a line, a bank
		commands.RErasureWaiting, // the payments waiting are answered or expire
		commands.RBillNoAccount,  // a BILL with the account saves it
		commands.RBusy:           // a passing fault
		return true
	}
	return false
}

// answerRepeat tells the sender of a copy of an SMS taken before what the first one did,
// and moves nothing. A copy of a payment says it was paid and how to pay again on purpose;
// a balance, statement or STATS is answered with the current state (its PIN checked, a wrong one
// not counted twice); help and receipt checks, which change nothing, are answered anew.
func (t *turn) answerRepeat(ctx context.Context, dup *domain.DuplicateError, computed []domain.Message) error {
	if err := t.freshAnswer(); err != nil {
		return err
	}
	var r repeatRecord
	json.Unmarshal(dup.Result, &r)
	at := time.Unix(0, dup.At).In(t.e.cfg.Location).Format("15:04")
	t.replies = nil
	a := commands.Args{Amount: t.money(r.Amount), Party: r.Party, Ref: r.Ref, Time: at}
	switch {
	case r.Kind == repeatPaid:
		t.reply(commands.RRepeatPaid, a)
	case r.Kind == repeatSent:
		t.reply(commands.RRepeatSent, a)
	case t.cmd.Kind == 0 || t.cmd.Kind == commands.Help || t.cmd.Kind == commands.Check:
		t.replies = computed
	case (t.cmd.Kind == commands.Bal || t.cmd.Kind == commands.Mini || t.cmd.Kind == commands.Stats || t.cmd.Kind == commands.Settings || t.cmd.Kind == commands.Orders) && t.purse != nil && t.purse.Status != domain.StatusClosed:
		if t.pinHolds() {
			t.query()
		}
	default:
		t.reply(commands.RRepeat, a)
	}
	_, err := t.e.l.Submit(ctx, domain.Job{Messages: t.replies})
	return err
}

// query answers BAL, MINI or STATS with the current state.
func (t *turn) query() {
	switch t.cmd.Kind {
	case commands.Mini:
		t.mini()
	case commands.Stats:
		t.spendStats()
	case commands.Settings:
		t.settings()
	case commands.Orders:
		t.listOrders()
	default:
		t.balance()
	}
}

// pinHolds checks the PIN of a repeated query without counting a failure: the copy of a
// wrong guess is the same guess. It replies when the PIN does not hold.
func (t *turn) pinHolds() bool {
	// The turn changed its copy of the profile before the ledger said "duplicate": read it
	// again, as committed (the first copy's failure counted in it).
	t.prof, t.purse = profile{}, nil
	if err := t.load(); err != nil || t.purse == nil {
		t.reply(commands.RBusy, commands.Args{})
		return false
	}
	now := t.e.cfg.Now().UnixNano()
	switch {
	case t.prof.LockedUntil > now:
		t.lockedReply(now)
	case t.e.macEqual(t.prof.PINMAC, t.in.From, t.cmd.PIN):
		return true
	default:
		t.reply(commands.RWrongPIN, commands.Args{N: max(1, t.e.cfg.LockAfter-t.prof.Fails)})
	}
	return false
}

func (t *turn) refusal(ref *domain.RefusedError) {
	bal := t.money(0)
	if t.purse != nil {
		bal = t.money(uint64(max(0, t.purse.Available())))
	}
	switch ref.Reason {
	case domain.ErrPendingExpired, domain.ErrPendingResolved, domain.ErrPendingNotFound:
		t.reply(commands.RConfirmExpired, commands.Args{})
	case domain.ErrInsufficientFunds:
		t.reply(commands.RInsufficient, commands.Args{Balance: bal, Amount: t.money(t.cmd.Amount + t.fee(codeOf(t.cmd.Kind), t.cmd.Amount))})
	case domain.ErrAccountBlocked:
		if t.cmd.Kind == commands.Credit {
			t.reply(commands.RCreditFrozen, commands.Args{})
			break
		}
		t.reply(commands.RAccountBlocked, commands.Args{})
	case domain.ErrAccountClosed:
		if strings.HasPrefix(ref.Detail, "credit") && t.payeeName != "" {
			t.reply(commands.RPayeeClosed, commands.Args{Party: t.payeeName})
		} else {
			t.reply(commands.RAccountClosed, commands.Args{})
		}
	case domain.ErrAccountExists:
		t.reply(commands.RAlreadyRegistered, commands.Args{})
	case domain.ErrLimitPerPayment:
		t.reply(commands.RLimitPerPayment, commands.Args{Limit: t.money(ref.Room)})
	case domain.ErrLimitDaily:
		t.reply(commands.RLimitDaily, commands.Args{Limit: t.money(ref.Room)})
	case domain.ErrLimitBalance:
		t.reply(commands.RLimitBalance, commands.Args{Limit: t.money(ref.Room), Party: t.payeeName})
	case domain.ErrTierCannotSend:
		t.reply(commands.RTierCannotSend, commands.Args{})
	case domain.ErrTooManyHolds:
		t.reply(commands.RTooManyHolds, commands.Args{Party: t.payeeName})
	case domain.ErrLimitExceeded:
		t.reply(commands.RLimitExceeded, commands.Args{Amount: t.money(0)})
	case domain.ErrInvalid, domain.ErrJobTooLarge, domain.ErrIDReused, domain.ErrZeroAmount, domain.ErrOverflow, domain.ErrSameAccount:
		t.reply(commands.RNotPossible, commands.Args{})
	default:
		t.reply(commands.RBusy, commands.Args{})
	}
}

// freshAnswer recognises a YES/NO <code> whose text was taken before but whose code is one
// waiting now: six random digits repeat, and a number that confirms often inside the dedupe
// window (hours) will one day be texted a code it has already typed. The earlier message
// cannot have answered this code (a right code ends what it answers), so this one is new;
// it runs again under a key that names what it answers, and a copy of it is still a copy.
func (t *turn) freshAnswer() error {
	if t.salted || (t.cmd.Kind != commands.Yes && t.cmd.Kind != commands.No) || t.cmd.Code == "" {
		return nil
	}
	// The profile as stored: the turn that ran has changed its copy (a request answered is
	// dropped from it) in the job the ledger just refused as a duplicate.
	var prof profile
	if b, _, err := t.e.l.Profile(t.in.From); err != nil || b == nil || json.Unmarshal(b, &prof) != nil {
		return nil
	}
	answers := ""
	if t.e.confirmationCode(prof.Confirm, t.in.From, t.cmd.Code) {
		answers = "confirm:" + strconv.FormatInt(prof.Confirm.Expires, 10)
	}
	for i := 0; i < len(prof.Requests) && answers == ""; i++ {
		p, _, err := t.e.payment(prof.Requests[i])
		if err == nil && p.State == domain.PaymentAwaiting && p.MSISDN == t.in.From && t.e.paymentCode(&p, t.cmd.Code) {
			answers = "pay:" + p.ID
		}
	}
	if answers == "" {
		return nil
	}
	t.freshKey = t.e.dedupeKey(Inbound{From: t.in.From, To: t.in.To, Text: t.in.Text + "\x00" + answers})
	return errFreshCode
}
