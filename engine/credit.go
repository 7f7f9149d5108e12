package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// mCredit: a credit line is a ledger account of kind credit_line that may go below zero
// by at most its limit, which the ledger enforces with every debit and every hold. CREDIT
// <merchant> <amount> <pin> is an authorisation: a pending transfer from the line to the
// merchant, expiring after HoldFor, recorded as a payment of channel "credit" in state
// "authorised". The merchant captures it (fully, or partly once: the rest is released) or
// voids it; the ledger resolves each hold exactly once (post, void or expiry). REPAY moves
// money from the purse to the line.

// ErrNoCreditLine: the subscriber has no open credit line.
var ErrNoCreditLine = errors.New("no credit line for this number")

const (
	keyCreditHold  = "@ph:" // + payment id: authorisations not resolved yet
	keyCreditTerms = "@cl:" // + number: the line's statement day and what is due
)

// creditTerms are a line's statement cycle: on StatementDay each month the subscriber is
// told what he owes and the minimum due by DueBy; a line with a minimum due past DueBy
// takes no new authorisation until it is repaid. Written with the repayments that lower
// it, at the version read.
type creditTerms struct {
	StatementDay int    `json:"day"`
	Month        string `json:"month,omitempty"` // YYYY-MM of the last statement
	Due          uint64 `json:"due,omitempty"`
	DueBy        int64  `json:"due_by,omitempty"`
	// Overdue is what earlier statements asked and was not repaid by its date: carried into
	// each next statement, so that only a repayment lifts the overdue state.
	Overdue uint64 `json:"overdue,omitempty"`
}

// late is what the line owes past its dates at now: 0 when it is not overdue.
func (c creditTerms) late(now int64) uint64 {
	if c.Due > 0 && now > c.DueBy {
		return c.Overdue + c.Due
	}
	return c.Overdue
}

// repaid lowers what is due by a repayment: the overdue part first.
func (c *creditTerms) repaid(amount uint64) {
	x := min(c.Overdue, amount)
	c.Overdue -= x
	c.Due -= min(c.Due, amount-x)
}

// minimumDue is a tenth of what is owed, at least 10.00 (or all of it when less).
func minimumDue(owed uint64) uint64 { return min(owed, max(owed/10, 1000)) }

// dueDays is how long after the statement the minimum is due.
const dueDays = 20

func (e *Engine) terms(msisdn string) (creditTerms, uint64, error) {
	var t creditTerms
	ver, _, err := e.record(keyCreditTerms+msisdn, &t)
	return t, ver, err
}

// creditFor is the key a hold is indexed by (Transfer.For), so that the engine can see
// whether the ledger still holds it: never a phone number, so no claim can take it.
func creditFor(paymentID string) string { return "@ch:" + paymentID }

func (e *Engine) creditLine(msisdn string) (*domain.Account, error) {
	for _, a := range e.l.AccountsOf(msisdn) {
		if a.Kind == domain.KindCreditLine && a.Currency == e.cfg.Currency && a.Status != domain.StatusClosed {
			return &a, nil
		}
	}
	return nil, ErrNoCreditLine
}

// lineOrNil is a subscriber's open line, nil when he has none.
func (e *Engine) lineOrNil(msisdn string) *domain.Account {
	line, _ := e.creditLine(msisdn)
	return line
}

// LineUse is what a line owes (posted) and holds (pending), and what is left.
func LineUse(a domain.Account) (owed, held, available uint64) {
	if a.DebitsPosted > a.CreditsPosted {
		owed = a.DebitsPosted - a.CreditsPosted
	}
	held = a.DebitsPending
	if a.Limit+a.CreditsPosted > a.DebitsPosted+a.DebitsPending {
		available = a.Limit + a.CreditsPosted - a.DebitsPosted - a.DebitsPending
	}
	return owed, held, available
}

// GrantCredit opens a credit line with a limit for a subscriber of tier minTier or above.
func (e *Engine) GrantCredit(ctx context.Context, actor, msisdn string, limit uint64, minTier uint8, statementDay int) (domain.Account, error) {
	if limit == 0 {
		return domain.Account{}, errors.New("a credit line needs a limit above zero")
	}
	if statementDay < 1 || statementDay > 28 {
		return domain.Account{}, errors.New("the statement day is 1 to 28")
	}
	res, err := e.opTurn(ctx, msisdn, func(purse *domain.Account, p *profile, ver uint64) (domain.Job, error) {
		switch {
		case purse == nil:
			return domain.Job{}, ErrNoPurse
		case purse.Tier < minTier:
			return domain.Job{}, fmt.Errorf("tier %d: credit lines are for tier %d and above (mpg account tier)", purse.Tier, minTier)
		}
		if line, err := e.creditLine(msisdn); err == nil {
			return domain.Job{}, fmt.Errorf("%s already has credit line %d (mpg credit set-limit)", msisdn, line.ID)
		}
		_, tver, err := e.terms(msisdn)
		if err != nil {
			return domain.Job{}, err
		}
		return domain.Job{Open: []domain.AccountSpec{{Currency: e.cfg.Currency, Kind: domain.KindCreditLine, Owner: msisdn, Name: "Credit line", Limit: limit}},
			// The first statement is next month's: this month has nothing to bill yet.
			Profiles: []domain.Profile{write(keyCreditTerms+msisdn, creditTerms{StatementDay: statementDay,
				Month: e.cfg.Now().In(e.cfg.Location).Format("2006-01")}, tver)},
			Messages: []domain.Message{e.sms(msisdn, p.Lang, commands.RCreditGranted, commands.Args{Limit: e.money(limit)})},
			Audit:    &domain.Audit{Actor: actor, Action: "credit grant", Detail: msisdn + " " + domain.FormatAmount(limit, e.cfg.Currency)}}, nil
	})
	if err != nil {
		return domain.Account{}, err
	}
	return res.Accounts[0], nil
}

// SetCreditLimit changes a line's limit; the ledger refuses a limit below what it owes and holds.
func (e *Engine) SetCreditLimit(ctx context.Context, actor, msisdn string, limit uint64) error {
	_, err := e.opTurn(ctx, msisdn, func(_ *domain.Account, p *profile, ver uint64) (domain.Job, error) {
		line, err := e.creditLine(msisdn)
		if err != nil {
			return domain.Job{}, err
		}
		return domain.Job{Limits: []domain.LimitChange{{Account: line.ID, Limit: limit}},
			Messages: []domain.Message{e.sms(msisdn, p.Lang, commands.RCreditGranted, commands.Args{Limit: e.money(limit)})},
			Audit:    &domain.Audit{Actor: actor, Action: "credit set-limit", Detail: msisdn + " " + domain.FormatAmount(limit, e.cfg.Currency)}}, nil
	})
	return err
}

// SetCreditStatus freezes (blocked: no new authorisation, captures and repayments still go),
// unfreezes or closes a line. A line that owes or holds money cannot be closed.
func (e *Engine) SetCreditStatus(ctx context.Context, actor, msisdn string, s domain.Status) error {
	_, err := e.opTurn(ctx, msisdn, func(_ *domain.Account, p *profile, ver uint64) (domain.Job, error) {
		line, err := e.creditLine(msisdn)
		if err != nil {
			return domain.Job{}, err
		}
		if owed, held, _ := LineUse(*line); s == domain.StatusClosed && (owed > 0 || held > 0 || line.CreditsPosted > line.DebitsPosted) {
			return domain.Job{}, fmt.Errorf("the line owes %s and holds %s: repay and resolve them first",
				domain.FormatAmount(owed, e.cfg.Currency), domain.FormatAmount(held, e.cfg.Currency))
		}
		return domain.Job{Status: []domain.StatusChange{{Account: line.ID, Status: s}},
			Audit: &domain.Audit{Actor: actor, Action: "credit " + s.String(), Detail: msisdn}}, nil
	})
	return err
}

// CreditLineOf returns a subscriber's open line.
func (e *Engine) CreditLineOf(msisdn string) (domain.Account, error) {
	a, err := e.creditLine(msisdn)
	if err != nil {
		return domain.Account{}, err
	}
	return *a, nil
}

// statement answers CREDIT <pin>.
func (t *turn) statement() domain.Job {
	line, err := t.e.creditLine(t.in.From)
	if err != nil {
		t.reply(commands.RNoCreditLine, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	owed, held, avail := LineUse(*line)
	var due []string
	if terms, _, err := t.e.terms(t.in.From); err == nil && terms.Due+terms.Overdue > 0 {
		due = []string{" " + commands.Render(t.lang, commands.RCreditDue, commands.Args{Amount: t.money(terms.Due + terms.Overdue),
			Time: time.Unix(0, terms.DueBy).In(t.e.cfg.Location).Format("02/01")})}
	}
	t.reply(commands.RCreditLine, commands.Args{Limit: t.money(line.Limit), Amount: t.money(owed), Fee: t.money(held), Balance: t.money(avail), Lines: due})
	return t.withProfile(domain.Job{})
}

// repay answers REPAY <amount> <pin>: the purse pays the line, never more than it owes.
func (t *turn) repay() domain.Job {
	line, err := t.e.creditLine(t.in.From)
	if err != nil {
		t.reply(commands.RNoCreditLine, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	owed, _, avail := LineUse(*line)
	amount := min(t.cmd.Amount, owed)
	if amount == 0 {
		t.reply(commands.RNothingOwed, commands.Args{Balance: t.money(avail)})
		return t.withProfile(domain.Job{})
	}
	tr := domain.Transfer{ID: domain.NewID(), Debit: t.purse.ID, Credit: line.ID, Amount: amount, Code: domain.CodeRepay, Flags: domain.Exempt}
	t.audit = &domain.Audit{Actor: t.in.From, Action: "credit repay", Detail: domain.FormatAmount(amount, t.e.cfg.Currency)}
	job, err := t.e.paymentJob(t.smsPayment(domain.ProductRepay, tr.ID, line, t.purse.ID, amount, 0, ""), 0, "",
		t.withProfile(domain.Job{Transfers: []domain.Transfer{tr}}), t.in.From, false)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	if terms, tver, err := t.e.terms(t.in.From); err == nil && terms.Due+terms.Overdue > 0 {
		terms.repaid(amount) // counted with the money, at the version read
		job.Profiles = append(job.Profiles, write(keyCreditTerms+t.in.From, terms, tver))
	}
	e, from, lang, purse, lineID := t.e, t.in.From, t.lang, t.purse.ID, line.ID
	job.Compose = func(v domain.View, r *domain.Result) ([]domain.Message, error) {
		p, _ := v.Account(purse)
		l, _ := v.Account(lineID)
		owed, _, avail := LineUse(l)
		return []domain.Message{e.sms(from, lang, commands.RRepaid, commands.Args{Amount: e.money(amount), Limit: e.money(owed), Fee: e.money(avail),
			Balance: e.money(uint64(max(0, p.Available()))), Ref: shortRef(r.Transfers[0])})}, nil
	}
	return job
}

// authorise answers CREDIT <merchant> <amount> <pin>: a hold on the line for the merchant.
func (t *turn) authorise() domain.Job {
	e, c := t.e, t.cmd
	line := t.ruleLine()
	if r := t.payerRefusal(fromLine, line); r != nil {
		return t.refuseBy(r)
	}
	merchant := e.activeMerchant(c.Merchant)
	if merchant == nil {
		t.reply(commands.RUnknownMerchant, commands.Args{Arg: c.Merchant})
		return t.withProfile(domain.Job{})
	}
	if r, _ := t.riskGate(domain.ProductCredit, domain.ChannelCredit, merchant.ID, c.Amount, false); r != nil {
		return t.refuseBy(r)
	}
	now := e.cfg.Now().UnixNano()
	p := &domain.Payment{Product: domain.ProductCredit, ID: domain.NewID().String(), Merchant: merchant.ID, MerchantName: merchantName(*merchant), Channel: domain.ChannelCredit,
		MSISDN: t.in.From, Amount: c.Amount, Currency: e.cfg.Currency, Reference: "CREDIT", Created: now}
	if c.Ref != "" {
		p.Reference = c.Ref
	}
	return t.creditHold(p, 0, "", line, merchant)
}

// creditHold places the authorisation of p on the line (a new CREDIT, or a merchant's request the
// subscriber confirmed), with the replies to both sides.
func (t *turn) creditHold(p *domain.Payment, ver uint64, was domain.PaymentState, line, merchant *domain.Account) domain.Job {
	e, now := t.e, t.e.cfg.Now().UnixNano()
	p.State, p.Expires, p.Debited = domain.PaymentAuthorised, now+int64(e.cfg.HoldFor), line.ID
	pid, _ := domain.ParseID(p.ID)
	hold := domain.Transfer{ID: claimID(pid, 'H'), Debit: line.ID, Credit: merchant.ID, Amount: p.Amount, Code: domain.CodeCreditAuth,
		Flags: domain.Pending, Timeout: e.cfg.HoldFor, Ref: holdRef(e.langOf(p.MSISDN), p.Reference), For: creditFor(p.ID)}
	p.Transfer = hold.ID.String()
	t.payeeName, t.payee = merchant.Name, merchant.ID
	t.audit = &domain.Audit{Actor: t.in.From, Action: "credit authorise", Detail: p.ID + " " + domain.FormatAmount(p.Amount, e.cfg.Currency) + " " + merchant.Owner}
	job, err := e.paymentJob(p, ver, was, domain.Job{Transfers: []domain.Transfer{hold}, Profiles: []domain.Profile{write(keyCreditHold+p.ID, struct{}{}, 0)}}, t.in.From, false)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	from, lang, lineID, amount := t.in.From, t.lang, line.ID, p.Amount
	job.Compose = func(v domain.View, r *domain.Result) ([]domain.Message, error) {
		l, _ := v.Account(lineID)
		_, _, avail := LineUse(l)
		ref := shortRef(r.Transfers[0])
		msgs := []domain.Message{e.sms(from, lang, commands.RCreditHeld, commands.Args{Amount: e.money(amount), Party: merchant.Name, Balance: e.money(avail), Ref: ref})}
		if merchant.Phone != "" {
			msgs = append(msgs, e.sms(merchant.Phone, commands.EN, commands.RMerchantHeld, commands.Args{Amount: e.money(amount), Party: domain.Mask(from), Ref: ref}))
		}
		return msgs, nil
	}
	return t.withProfile(job)
}

// CaptureHold takes (part of) an authorisation: once; a part releases the rest.
func (e *Engine) CaptureHold(ctx context.Context, actor string, merchant uint64, id string, amount uint64) (domain.Payment, error) {
	return e.resolveHold(ctx, actor, merchant, id, true, amount)
}

// VoidHold releases an authorisation.
func (e *Engine) VoidHold(ctx context.Context, actor string, merchant uint64, id string) (domain.Payment, error) {
	return e.resolveHold(ctx, actor, merchant, id, false, 0)
}

func (e *Engine) resolveHold(ctx context.Context, actor string, merchant uint64, id string, capture bool, amount uint64) (domain.Payment, error) {
	for try := 0; ; try++ {
		p, ver, err := e.merchantPayment(merchant, id)
		if err != nil {
			return p, err
		}
		job, err := e.holdStep(&p, ver, capture, amount, actor)
		if err != nil {
			return p, err
		}
		_, err = e.l.Submit(ctx, job)
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		if errors.Is(err, domain.ErrPendingExpired) || errors.Is(err, domain.ErrPendingResolved) {
			e.ExpireHolds(ctx) // the ledger released it meanwhile: say so
			p, _, _ = e.merchantPayment(merchant, id)
			return p, domain.PaymentErr(domain.CodeInvalidState, "the authorisation expired")
		}
		return p, err
	}
}

// holdStep builds the job that captures (amount, 0 for all; once) or voids an
// authorisation read at ver, with the subscriber's notice.
func (e *Engine) holdStep(p *domain.Payment, ver uint64, capture bool, amount uint64, actor string) (domain.Job, error) {
	switch {
	case p.Channel != domain.ChannelCredit:
		return domain.Job{}, domain.PaymentErr(domain.CodeInvalidState, "not a credit authorisation")
	case p.State != domain.PaymentAuthorised:
		return domain.Job{}, domain.PaymentErr(domain.CodeInvalidState, "the authorisation is "+string(p.State))
	case capture && amount > p.Amount:
		return domain.Job{}, domain.PaymentErr(domain.CodeRefundTooLarge, "at most "+domain.FormatAmount(p.Amount, p.Currency)+" was authorised")
	}
	hold, _ := domain.ParseID(p.Transfer)
	pid, _ := domain.ParseID(p.ID)
	was := p.State
	tr := domain.Transfer{ID: claimID(pid, 'V'), PendingID: hold, Flags: domain.VoidPending}
	reply := commands.RCreditReleased
	if capture {
		if amount == 0 {
			amount = p.Amount
		}
		tr = domain.Transfer{ID: claimID(pid, 'C'), PendingID: hold, Amount: amount, Flags: domain.PostPending}
		p.State, p.Amount, reply = domain.PaymentCompleted, amount, commands.RCreditCaptured
	} else {
		p.State = domain.PaymentCancelled
	}
	transfers := []domain.Transfer{tr}
	if capture {
		fee, err := e.merchantFee(domain.CodeCreditAuth, p.Merchant, amount, claimID(pid, 'c'))
		if err != nil {
			return domain.Job{}, err
		}
		if fee != nil {
			transfers, p.Fee = append(transfers, *fee), fee.Amount
		}
	}
	job := domain.Job{Transfers: transfers, Profiles: []domain.Profile{{Owner: keyCreditHold + p.ID, Version: 1, Delete: true}},
		Audit: &domain.Audit{Actor: actor, Action: "credit " + map[bool]string{true: "capture", false: "void"}[capture], Detail: p.ID}}
	lang, msisdn, name, lineID, amt := e.langOf(p.MSISDN), p.MSISDN, p.MerchantName, p.Debited, p.Amount
	job.Compose = func(v domain.View, r *domain.Result) ([]domain.Message, error) {
		l, _ := v.Account(lineID)
		_, _, avail := LineUse(l)
		return []domain.Message{e.sms(msisdn, lang, reply, commands.Args{Amount: e.money(amt), Party: name, Balance: e.money(avail),
			Ref: shortRef(r.Transfers[0]), Receipt: e.receipt(r.Transfers[0])})}, nil
	}
	return e.paymentJob(p, ver, was, job, actor, false)
}

// merchantHold answers CAPTURE <ref> [amount] and VOID <ref> from a merchant's registered
// number: the open authorisation of that merchant with that reference.
func (t *turn) merchantHold() domain.Job {
	e, c := t.e, t.cmd
	merchants := map[uint64]domain.Account{}
	var found *domain.Payment
	var ver uint64
	e.scan(keyCreditHold, "", maxQueueScan, func(r domain.Profile) (bool, error) {
		p, v, err := e.payment(strings.TrimPrefix(r.Owner, keyCreditHold))
		if err != nil || p.State != domain.PaymentAuthorised {
			return true, nil
		}
		m, ok := merchants[p.Merchant]
		if !ok {
			m, _ = e.l.Account(p.Merchant)
			merchants[p.Merchant] = m
		}
		hold, _ := domain.ParseID(p.Transfer)
		if m.Phone == t.in.From && shortRef(domain.Transfer{ID: hold}) == c.Code {
			found, ver = &p, v
			return false, nil
		}
		return true, nil
	})
	if found == nil {
		t.reply(commands.RHoldNotFound, commands.Args{Arg: c.Code})
		return domain.Job{}
	}
	job, err := e.holdStep(found, ver, c.Kind == commands.Capture, c.Amount, t.in.From)
	if err != nil {
		t.reply(commands.RHoldNotFound, commands.Args{Arg: c.Code})
		return domain.Job{}
	}
	subscriber := job.Compose
	party, amount, from, capture, lang := domain.Mask(found.MSISDN), found.Amount, t.in.From, c.Kind == commands.Capture, t.lang
	job.Compose = func(v domain.View, r *domain.Result) ([]domain.Message, error) {
		msgs, err := subscriber(v, r)
		rep, args := commands.RHoldVoided, commands.Args{Amount: e.money(amount), Party: party, Ref: c.Code}
		if capture {
			rep, args.Receipt = commands.RHoldCaptured, e.receipt(r.Transfers[0])
		}
		return append(msgs, e.sms(from, lang, rep, args)), err
	}
	t.audit = job.Audit
	return job
}

// ExpireHolds marks the authorisations the ledger released by their timeout as expired
// (the ledger's expiry hook already told both sides). It returns how many.
func (e *Engine) ExpireHolds(ctx context.Context) (int, error) {
	n := 0
	_, err := e.scan(keyCreditHold, "", 1000, func(r domain.Profile) (bool, error) {
		id := strings.TrimPrefix(r.Owner, keyCreditHold)
		if open, err := e.l.HoldsFor(creditFor(id)); err != nil || len(open) > 0 {
			return err == nil, err
		}
		_, err := e.transition(ctx, 0, id, func(p *domain.Payment) (domain.Job, bool, error) {
			if p.State != domain.PaymentAuthorised {
				return domain.Job{}, false, nil
			}
			p.State = domain.PaymentExpired
			return domain.Job{Profiles: []domain.Profile{{Owner: keyCreditHold + id, Version: 1, Delete: true}}}, false, nil
		})
		if err == nil {
			n++
		}
		return err == nil, err
	})
	return n, err
}

// creditExpiryNotices tell both sides when the ledger releases an authorisation by its
// timeout (part of the ledger's expiry hook).
func creditExpiryNotices(cfg Config, p domain.Transfer, v domain.View) []domain.Message {
	line, ok1 := v.Account(p.Debit)
	merchant, ok2 := v.Account(p.Credit)
	if !ok1 || !ok2 {
		return nil
	}
	m := func(x uint64) domain.Money {
		return domain.Money{Minor: x, Currency: cfg.Currency, Exponent: cfg.Exponent}
	}
	_, _, avail := LineUse(line)
	out := []domain.Message{{From: cfg.ShortCode, To: line.Owner, Text: commands.Render(holdLang(p.Ref), commands.RCreditReleased,
		commands.Args{Amount: m(p.Amount), Party: merchant.Name, Balance: m(avail)})}}
	if merchant.Phone != "" {
		out = append(out, domain.Message{From: cfg.ShortCode, To: merchant.Phone, Text: commands.Render(commands.EN, commands.RMerchantReleased,
			commands.Args{Amount: m(p.Amount), Party: domain.Mask(line.Owner), Ref: shortRef(p)})})
	}
	return out
}

// Statements sends each line's monthly statement on (or, if the daemon was down, after)
// its statement day: what is owed and the minimum due in dueDays. It returns how many.
func (e *Engine) Statements(ctx context.Context) (int, error) {
	now := e.cfg.Now().In(e.cfg.Location)
	month := now.Format("2006-01")
	n := 0
	_, err := e.scan(keyCreditTerms, "", 1<<30, func(r domain.Profile) (bool, error) {
		msisdn := strings.TrimPrefix(r.Owner, keyCreditTerms)
		var terms creditTerms
		if json.Unmarshal(r.Data, &terms) != nil || terms.Month == month || now.Day() < terms.StatementDay {
			return true, nil
		}
		line, err := e.creditLine(msisdn)
		if err != nil {
			return true, nil // closed
		}
		owed, _, _ := LineUse(*line)
		if terms.Due > 0 && now.UnixNano() > terms.DueBy { // not repaid in time: still owed, still late
			terms.Overdue = min(owed, terms.Overdue+terms.Due)
		}
		terms.Month, terms.Due, terms.DueBy = month, minimumDue(owed-min(owed, terms.Overdue)), now.AddDate(0, 0, dueDays).UnixNano()
		job := domain.Job{Profiles: []domain.Profile{write(keyCreditTerms+msisdn, terms, r.Version)}}
		if owed > 0 {
			job.Messages = []domain.Message{e.sms(msisdn, e.langOf(msisdn), commands.RCreditStatement, commands.Args{Limit: e.money(owed),
				Amount: e.money(terms.Due + terms.Overdue), Time: time.Unix(0, terms.DueBy).In(e.cfg.Location).Format("02/01")})}
		}
		if _, err := e.l.Submit(ctx, job); err != nil && !errors.Is(err, domain.ErrConflict) {
			return false, err
		}
		n++
		return true, nil
	})
	return n, err
}
