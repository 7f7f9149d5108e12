package engine

import (
	"time"

	"mpg/commands"
	"mpg/domain"
)

// Erasure asked by SMS. ERASE <pin> says what an erasure does and texts a one-time code;
// YES <code> within the confirmation time does it, in one job: the purse paid out and
// closed, offers stopped (a withdrawal recorded), the erasure filed for when the retention
// ends, the reply. NO <code>, a code out of time, or silence change nothing. The payer's rule
// book applies to both steps: a blocked, locked or closed purse cannot be erased by SMS
// (a stolen phone with a PIN seen over a shoulder must not be able to close the account);
// an operator can.

// erasureAsk is the ERASE waiting for YES <code>, in the profile.
type erasureAsk struct {
	CodeMAC string `json:"code_mac"`
	Expires int64  `json:"expires"`
}

func (e *Engine) erasureCodeMAC(number, code string) string {
	return e.pinMAC(number, "erase:"+code)
}

// askErasure handles ERASE <pin>.
func (t *turn) askErasure() domain.Job {
	if job, refused := t.erasureRefused(); refused {
		return job
	}
	code, err := oneTimeCode()
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	e := t.e
	t.reply(commands.RErasureAsk, commands.Args{Amount: t.money(uint64(max(0, t.purse.Available()))), Years: e.cfg.RetentionYears,
		Code: secretMark, N: int(e.cfg.ConfirmFor.Minutes())})
	m, err := e.sealedMessage(t.replies[len(t.replies)-1], code)
	if err != nil {
		t.replies = t.replies[:len(t.replies)-1]
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	t.replies[len(t.replies)-1] = m
	t.prof.EraseAsk = &erasureAsk{CodeMAC: e.erasureCodeMAC(t.in.From, code), Expires: e.cfg.Now().Add(e.cfg.ConfirmFor).UnixNano()}
	t.profDirty = true
	t.audit = &domain.Audit{Actor: t.in.From, Action: "subscriber erase asked"}
	return t.withProfile(domain.Job{})
}

// erasureRefused applies, at both steps, the payer's rule book and the rule that payments
// still waiting (a YES code, a hold) are answered first.
func (t *turn) erasureRefused() (domain.Job, bool) {
	if r := t.payerRefusal(fromPurse, nil); r != nil {
		return t.refuseBy(r), true
	}
	if t.purse.DebitsPending > 0 {
		t.reply(commands.RErasureWaiting, commands.Args{})
		return t.withProfile(domain.Job{}), true
	}
	return domain.Job{}, false
}

// answerErasure is YES or NO <code> to an ERASE; false when the code answers none (then it
// answers something else).
func (t *turn) answerErasure(yes bool) (domain.Job, bool) {
	a, e := t.prof.EraseAsk, t.e
	if a == nil || !e.macEqual(a.CodeMAC, t.in.From, "erase:"+t.cmd.Code) {
		return domain.Job{}, false
	}
	t.prof.EraseAsk, t.profDirty = nil, true
	switch {
	case e.cfg.Now().UnixNano() >= a.Expires:
		t.reply(commands.RConfirmExpired, commands.Args{})
		return t.withProfile(domain.Job{}), true
	case !yes:
		t.reply(commands.RCancelled, commands.Args{})
		return t.withProfile(domain.Job{}), true
	}
	if job, refused := t.erasureRefused(); refused {
		return job, true
	}
	float, err := e.l.System(domain.KindFloat, e.cfg.Currency)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{}), true
	}
	job, er := e.erasureJob(t.in.From, t.in.From, ConsentSMS, t.purse, float.ID, &t.prof, true)
	t.audit = job.Audit
	t.reply(commands.RErasureFiled, commands.Args{Amount: t.money(er.Paid), Time: er.Due.In(e.cfg.Location).Format("02/01/2006")})
	return t.withProfile(job), true
}

// erasureJob is an erasure request as one job: the purse (if open) paid out and closed, read
// untouched since (a payment into it meanwhile computes the job again), offers stopped with
// the withdrawal recorded in p, and, when file, the erasure filed for its due time.
func (e *Engine) erasureJob(actor, number, channel string, purse *domain.Account, float uint64, p *profile, file bool) (domain.Job, Erasure) {
	now := e.cfg.Now()
	out := Erasure{Due: now.AddDate(e.cfg.RetentionYears, 0, 0)}
	job := domain.Job{Audit: &domain.Audit{Actor: actor, Action: "subscriber erase requested", Detail: number + " due " + out.Due.UTC().Format(time.DateOnly)}}
	if purse != nil && purse.Status != domain.StatusClosed {
		out.Paid = uint64(max(0, purse.Available()))
		job.Untouched = []domain.AccountAt{{ID: purse.ID, LastSeq: purse.LastSeq}}
		if out.Paid > 0 {
			job.Transfers = []domain.Transfer{{ID: domain.NewID(), Debit: purse.ID, Credit: float, Amount: out.Paid, Code: domain.CodePayout, Flags: domain.Exempt}}
			if purse.Status == domain.StatusBlocked {
				job.Status = []domain.StatusChange{{Account: purse.ID, Status: domain.StatusActive}}
			}
		}
		job.Status = append(job.Status, domain.StatusChange{Account: purse.ID, Status: domain.StatusClosed})
	}
	if p.Promo {
		p.Promo = false
		c := Consent{Time: now.UnixNano(), Channel: channel, Command: "erasure requested", Text: "Erasure requested: no more offers."}
		job.Profiles = append(job.Profiles, consentWrite(number, c, p))
	}
	job.Profiles = append(job.Profiles, e.orderDeletes(p)...) // his standing orders end with him
	if file {
		p.ErasureDue = out.Due.UnixNano()
		job.Profiles = append(job.Profiles, write(keyErasure+hex16(uint64(out.Due.UnixNano()))+":"+number, erasureRecord{Requested: now.UnixNano(), Actor: actor}, 0))
	} else {
		out.Due, out.Done = now, true
	}
	return job, out
}
