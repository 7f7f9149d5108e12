package engine

import (
	"crypto/rand"
	"fmt"
	"math/big"

	"mpg/commands"
	"mpg/domain"
)

// confirmation is a payment above the confirmation threshold, reserved as pending transfers
// until the payer answers YES <code> (post) or NO <code> (void). The reservation counts
// against the payer's 24-hour limit from the moment it is made (the ledger counts pending
// debits) and the posts are refused if the purse was blocked meanwhile. The code is single
// use, bound to the payer's number (it lives in their profile), stored only as an HMAC,
// expires with the pending transfers, and allows maxConfirmTries wrong answers.
type confirmation struct {
	CodeMAC string   `json:"code_mac"`
	Pending []string `json:"pending"` // pending transfer ids: the payment, then the fee
	Code    uint16   `json:"code"`    // transfer code of the payment
	Payee   uint64   `json:"payee"`
	Amount  uint64   `json:"amount"`
	Fee     uint64   `json:"fee"`
	Ref     string   `json:"ref,omitempty"`
	// For is set when the payment goes to a number with no purse: YES turns the reservation
	// into a hold for that number.
	For     string `json:"for,omitempty"`
	Expires int64  `json:"expires"`
	Tries   int    `json:"tries"`
	// Payment is the record of the payment waiting (none for a SEND to a number with no
	// purse, whose hold is its record, or one asked before records existed).
	Payment string `json:"payment,omitempty"`
	// Promo and Discount: a promotion's part, reserved from its budget with the rest (Amount
	// is what the payer pays).
	Promo    string `json:"promo,omitempty"`
	Discount uint64 `json:"discount,omitempty"`
}

const maxConfirmTries = 3

func (e *Engine) codeMAC(msisdn, code string) string {
	return e.pinMAC(msisdn, "confirm:"+code)
}

// oneTimeCode draws 6 digits from the system's random source.
func oneTimeCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// askConfirm reserves the payment and asks for YES <code>.
func (t *turn) askConfirm(code uint16, payee *domain.Account, amount, fee uint64, ref, holdFor string, ts []domain.Transfer) domain.Job {
	secret, err := oneTimeCode()
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	c := &confirmation{CodeMAC: t.e.codeMAC(t.in.From, secret), Code: code, Payee: payee.ID, Amount: amount, Fee: fee,
		Ref: ref, For: holdFor, Expires: t.e.cfg.Now().Add(t.e.cfg.ConfirmFor).UnixNano()}
	t.keepForRefusal()
	// A new request replaces one still waiting: release that one in the same job.
	var release []domain.Transfer
	replaced := t.prof.Confirm
	if replaced != nil && t.e.cfg.Now().UnixNano() < replaced.Expires {
		release = voids(replaced)
	}
	for i := range ts {
		ts[i].Flags |= domain.Pending
		ts[i].Timeout = t.e.cfg.ConfirmFor
		ts[i].For = "" // a reservation, not yet a hold: nobody can claim it
		c.Pending = append(c.Pending, ts[i].ID.String())
	}
	t.prof.Confirm, t.profDirty = c, true
	what := map[uint16]string{domain.CodePay: "PAY", domain.CodeBill: "BILL", domain.CodeSend: "SEND", domain.CodeHold: "SEND"}[code]
	party := payee.Name
	if payee.Kind == domain.KindPurse {
		party = domain.Mask(payee.Owner)
	}
	if holdFor != "" {
		party = domain.Mask(holdFor)
	}
	t.reply(commands.RConfirmAsk, commands.Args{Arg: what, Amount: t.money(amount + fee), Party: party, Code: secretMark,
		N: int(t.e.cfg.ConfirmFor.Minutes())})
	if t.replies[len(t.replies)-1], err = t.e.sealedMessage(t.replies[len(t.replies)-1], secret); err != nil {
		t.replies = nil
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	t.audit = &domain.Audit{Actor: t.in.From, Action: "confirmation asked", Detail: what}
	job := domain.Job{Transfers: append(release, ts...)}
	if msg, queue, ok := t.callInstead(voiceCall{Own: c.Pending[0], What: what, Amount: amount + fee, Party: party, Expires: c.Expires}); ok {
		t.replies[len(t.replies)-1], job.Profiles = msg, queue // the code is never sent: he keys his PIN in our call
	}
	if len(release) > 0 {
		job = t.confirmStep(replaced, job, domain.PaymentCancelled, "", domain.ID{})
	}
	if d := t.askDiscount; d != nil {
		c.Promo, c.Discount = d.Promotion, d.Amount
	}
	if holdFor == "" {
		p := t.smsPayment(productOf(code), ts[0].ID, payee, t.purse.ID, amount, fee, ref)
		p.State, p.Expires, p.Transfer, p.Discount = domain.PaymentAwaiting, c.Expires, "", t.askDiscount
		c.Payment = p.ID
		if job, err = t.e.paymentJob(p, 0, "", job, t.in.From, false); err != nil {
			t.replies = nil
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(domain.Job{})
		}
	}
	t.prof.Confirm = c
	return t.withProfile(job)
}

// confirmStep moves the record of the subscriber's own confirmation c, if it has one still
// open, to state in the job that answers it (transfer: the post that completed it).
func (t *turn) confirmStep(c *confirmation, job domain.Job, state domain.PaymentState, reason domain.ErrorCode, transfer domain.ID) domain.Job {
	if c.Payment == "" {
		return job
	}
	p, ver, err := t.e.payment(c.Payment)
	if err != nil || !p.State.Open() {
		return job
	}
	was := p.State
	p.State, p.Reason = state, string(reason)
	if state == domain.PaymentCompleted {
		p.Transfer = transfer.String() // a post of the payment's id: paymentOf finds it
	}
	out, err := t.e.paymentJob(&p, ver, was, job, t.in.From, false)
	if err != nil { // never the money without its record: nothing moves, the sender is told to retry
		t.replies = nil
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	out.Audit = job.Audit
	return out
}

func voids(c *confirmation) []domain.Transfer {
	var out []domain.Transfer
	for _, p := range c.Pending {
		if id, err := domain.ParseID(p); err == nil {
			out = append(out, domain.Transfer{ID: derive(id, 'v'), PendingID: id, Flags: domain.VoidPending})
		}
	}
	return out
}

// derive makes the id of a post or void from the pending id, so a retried answer is the same.
func derive(pending domain.ID, tag byte) domain.ID { return claimID(pending, tag) }

// confirm answers YES (post) or NO (void) for the waiting payment.
// confirmationCode reports whether code answers c, a number's own confirmation still open.
func (e *Engine) confirmationCode(c *confirmation, msisdn, code string) bool {
	return c != nil && e.cfg.Now().UnixNano() < c.Expires && e.macEqual(c.CodeMAC, msisdn, "confirm:"+code)
}

func (t *turn) confirm(yes bool) domain.Job {
	c := t.prof.Confirm
	if !t.e.confirmationCode(c, t.in.From, t.cmd.Code) {
		if job, ok := t.answerRequests(yes); ok {
			return job
		}
	}
	if c == nil || t.e.cfg.Now().UnixNano() >= c.Expires {
		if c != nil {
			t.prof.Confirm, t.profDirty = nil, true
		}
		t.reply(commands.RConfirmExpired, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	if !t.e.confirmationCode(c, t.in.From, t.cmd.Code) {
		c.Tries++
		t.profDirty = true
		if c.Tries >= maxConfirmTries {
			t.prof.Confirm = nil
			t.reply(commands.RCancelled, commands.Args{})
			return t.withProfile(t.confirmStep(c, domain.Job{Transfers: voids(c)}, domain.PaymentRefused, domain.CodeWrongCode, domain.ID{}))
		}
		t.reply(commands.RConfirmWrong, commands.Args{N: maxConfirmTries - c.Tries})
		return t.withProfile(domain.Job{})
	}
	return t.answerOwn(c, yes)
}

// answerOwn answers the subscriber's own confirmation c, still open, once he proved it is
// his (the code texted, or his PIN keyed in our call): YES posts it, NO releases it.
func (t *turn) answerOwn(c *confirmation, yes bool) domain.Job {
	// A payment the merchant cancelled meanwhile is not paid: its reservation is released.
	if rec, _, err := t.e.payment(c.Payment); c.Payment != "" && err == nil && !rec.State.Open() {
		t.prof.Confirm, t.profDirty = nil, true
		t.reply(commands.RCancelled, commands.Args{})
		return t.withProfile(domain.Job{Transfers: voids(c)})
	}
	// YES commits the subscriber: the rule book first, then its guards ride with the posts.
	// A refusal keeps the reservation until its time runs out: the same YES runs once the
	// cause is gone (an unblock), like any refusal that can be retried.
	if r := t.payerRefusal(fromPurse, nil); yes && r != nil {
		return t.refuseBy(r)
	}
	t.keepForRefusal()
	t.prof.Confirm, t.profDirty = nil, true
	if !yes {
		t.reply(commands.RCancelled, commands.Args{})
		return t.withProfile(t.confirmStep(c, domain.Job{Transfers: voids(c)}, domain.PaymentRefused, domain.CodeDeclined, domain.ID{}))
	}
	payee, err := t.e.l.Account(c.Payee)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	var posts []domain.Transfer
	for i, p := range c.Pending {
		id, err := domain.ParseID(p)
		if err != nil {
			continue
		}
		if i == 0 && c.For != "" {
			// The reservation becomes a hold for the payee: released and reserved again in one
			// step, now findable by the payee's number and lasting the claim window.
			held, err := t.e.l.Transfer(id)
			if err != nil {
				t.reply(commands.RBusy, commands.Args{})
				return t.withProfile(domain.Job{})
			}
			posts = append(posts, domain.Transfer{ID: derive(id, 'v'), PendingID: id, Flags: domain.VoidPending},
				domain.Transfer{ID: heldID(id), Debit: held.Debit, Credit: held.Credit, Amount: held.Amount, Code: domain.CodeHold,
					Flags: domain.Pending, Timeout: t.e.cfg.ClaimFor, For: c.For, Ref: holdRef(t.lang, c.Ref)})
			continue
		}
		posts = append(posts, domain.Transfer{ID: derive(id, 'p'), PendingID: id, Flags: domain.PostPending})
	}
	job := t.withProfile(domain.Job{Transfers: posts})
	if c.For != "" {
		held := heldID(mustID(c.Pending[0]))
		if job, err = t.e.paymentJob(t.heldPayment(held, &payee, c.For, c.Amount, c.Fee, c.Ref), 0, "", job, t.in.From, false); err != nil {
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(domain.Job{})
		}
		job = t.guard(job)
		t.payeeName = domain.Mask(c.For)
		t.repeat = repeatRecord{Kind: repeatSent, Amount: c.Amount, Party: domain.Mask(c.For),
			Ref: shortRef(domain.Transfer{ID: heldID(mustID(c.Pending[0]))})}
		job.Compose = t.heldNotices(c.For, c.Amount, c.Fee)
		return job
	}
	post := derive(mustID(c.Pending[0]), 'p')
	if c.Code == domain.CodeSend {
		if tr, records, account, ok := t.onToBank(&payee, c.Amount, mustID(c.Pending[0])); ok {
			job.Transfers, t.payeeBank = append(job.Transfers, tr), account
			job.Profiles = append(job.Profiles, records...)
		}
	}
	t.repeat = t.paidRecord(c.Code, &payee, c.Amount, domain.Transfer{ID: post})
	job.Compose = t.notices(c.Code, &payee, c.Amount, c.Fee, c.Ref, t.payeeLang(&payee)) // before the step: points add to it
	if c.Discount > 0 {
		t.credited = c.Amount + c.Discount
		job.Compose = appendLine(t.notices(c.Code, &payee, c.Amount, c.Fee, c.Ref, t.payeeLang(&payee)), t.in.From, commands.Render(t.lang,
			commands.RDiscount, commands.Args{Ref: c.Promo, Amount: t.money(c.Discount), Worth: t.money(c.Amount + c.Discount)}))
	}
	return t.guard(t.confirmStep(c, job, domain.PaymentCompleted, "", post))
}

// heldID is the id of the hold a confirmed SEND to a number with no purse becomes, and of
// its payment record: derived from the reservation (a retried YES is the same), keeping its
// time, so the record sorts by when it was made in every list.
func heldID(pending domain.ID) domain.ID {
	id := derive(pending, 'h')
	copy(id[:8], pending[:8])
	return id
}

func mustID(s string) domain.ID {
	id, _ := domain.ParseID(s)
	return id
}
