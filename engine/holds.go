package engine

import (
	"context"
	"errors"

	"mpg/commands"
	"mpg/domain"
)

// Claim moves the money held for a subscriber into their purse (after REG, after an operator
// raised their tier). Exported for the operator commands.
func (e *Engine) Claim(ctx context.Context, msisdn string) error { return e.claim(ctx, msisdn, false) }

// claim takes every hold the ledger keeps for this number, each as its own job: a post of
// the hold linked to a transfer from escrow to the purse, idempotent by ids derived from the
// hold. A hold the purse cannot take (its tier's maximum balance, a payer blocked meanwhile)
// stays a hold: it lapses back to the payer unless a later claim succeeds. tell says whether
// to tell the payee that some money could not be taken (once, when they register).
func (e *Engine) claim(ctx context.Context, msisdn string, tell bool) error {
	holds, err := e.l.HoldsFor(msisdn)
	if err != nil || len(holds) == 0 {
		return err
	}
	var purse *domain.Account
	for _, a := range e.l.AccountsOf(msisdn) {
		if a.Kind == domain.KindPurse && a.Currency == e.cfg.Currency && a.Status != domain.StatusClosed {
			purse = &a
		}
	}
	if purse == nil {
		return nil
	}
	lang := e.langOf(msisdn)
	money := func(v uint64) domain.Money {
		return domain.Money{Minor: v, Currency: e.cfg.Currency, Exponent: e.cfg.Exponent}
	}
	for _, held := range holds {
		payer, _ := e.l.Account(held.Debit)
		job := domain.Job{Transfers: []domain.Transfer{
			{ID: claimID(held.ID, 0), PendingID: held.ID, Flags: domain.PostPending},
			{ID: claimID(held.ID, 1), Debit: held.Credit, Credit: purse.ID, Amount: held.Amount, Code: domain.CodeClaim, Ref: held.ID.String()[:16]},
		}}
		job.Compose = func(v domain.View, r *domain.Result) ([]domain.Message, error) {
			after, _ := v.Account(purse.ID)
			return []domain.Message{{From: e.cfg.ShortCode, To: msisdn, Text: commands.Render(lang, commands.RClaimed,
				commands.Args{Amount: money(held.Amount), Party: domain.Mask(payer.Owner), Balance: money(uint64(max(0, after.Available()))),
					Ref: shortRef(r.Transfers[1])})}}, nil
		}
		if job, err = e.claimed(held, purse, job); errors.Is(err, errNotHeld) {
			continue // the record ended: the ledger releases the hold to the payer
		} else if err != nil {
			return err
		}
		_, err = e.l.Submit(ctx, job)
		var ref *domain.RefusedError
		if errors.As(err, &ref) {
			if tell && ref.Reason == domain.ErrLimitBalance {
				left := int(max(1, (held.Timestamp+int64(held.Timeout)-e.cfg.Now().UnixNano())/int64(24*3600e9)))
				e.l.Submit(ctx, domain.Job{Messages: []domain.Message{{From: e.cfg.ShortCode, To: msisdn, Text: commands.Render(lang, commands.RClaimWaiting,
					commands.Args{Amount: money(held.Amount), Party: domain.Mask(payer.Owner), N: left})}}})
			}
			continue
		}
		if err != nil {
			return err // the hold stays; the next message from this number claims it
		}
	}
	return nil
}

// errNotHeld: the hold's record is no longer held (it expired): the money is not claimed.
var errNotHeld = errors.New("the held payment ended")

// claimed completes, in the claim's job, the record of the SEND the hold was for: the payee's
// purse is now what it paid, the claim its transfer, and the payee's list shows it. The
// claim is refused after the record's deadline, so the record and the ledger cannot end
// differently. A hold with no record (made before holds had one) is claimed as it is.
func (e *Engine) claimed(held domain.Transfer, purse *domain.Account, job domain.Job) (domain.Job, error) {
	p, ver, err := e.payment(held.ID.String())
	switch {
	case domain.CodeOf(err) == domain.CodeNotFound:
		return job, nil
	case err != nil:
		return job, err
	case p.State != domain.PaymentHeld:
		return job, errNotHeld
	}
	p.State, p.Merchant, p.Transfer = domain.PaymentCompleted, purse.ID, claimID(held.ID, 1).String()
	job.NotAfter = p.Expires
	job.Profiles = append(job.Profiles, write(merchantKey(purse.ID, p.ID), struct{}{}, 0))
	return e.paymentJob(&p, ver, domain.PaymentHeld, job, "system", false)
}

// ExpiryNotices is the ledger's expiry hook: when a hold lapses, the payer is told the money
// is back and the would-be payee that it is gone. It needs nothing but the configuration,
// so the ledger can have it from the moment it opens.
func ExpiryNotices(cfg Config) domain.ExpiryHook {
	return func(p domain.Transfer, v domain.View) []domain.Message {
		if p.Code == domain.CodeCreditAuth {
			return creditExpiryNotices(cfg, p, v)
		}
		if p.Code != domain.CodeHold || p.For == "" {
			return nil
		}
		l := holdLang(p.Ref)
		payer, ok := v.Account(p.Debit)
		if !ok {
			return nil
		}
		m := func(v uint64) domain.Money {
			return domain.Money{Minor: v, Currency: cfg.Currency, Exponent: cfg.Exponent}
		}
		return []domain.Message{
			{From: cfg.ShortCode, To: payer.Owner, Text: commands.Render(l, commands.RRefunded, commands.Args{Amount: m(p.Amount),
				Party: domain.Mask(p.For), Balance: m(uint64(max(0, payer.Available()))), Ref: shortRef(p)})},
			{From: cfg.ShortCode, To: p.For, Text: commands.Render(l, commands.RLapsed, commands.Args{Amount: m(p.Amount), Party: domain.Mask(payer.Owner)})},
		}
	}
}
