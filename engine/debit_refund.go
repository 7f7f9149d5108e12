package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// A refund of an mDebit gives the money back where it came from: the subscriber's bank
// account. The refund's job moves the amount from the merchant to bank clearing (as every
// refund moves it back to the account that paid) and queues a credit for the bank worker;
// the worker sends it once that job is durable (0200, processing code 200000), and treats
// its outcome like a debit's: unknown is a state, resolved by repeats (0201) and, after
// bank.tries, a reversal. Credited: the subscriber is told the money is on its way to his
// bank account. Surely not credited (declined, or reversed): one job moves the amount from
// bank clearing to his e-purse, and he is told so.

// keyBankCredit + payment id + "/" + refund index: a refund credit sent to the bank and not
// settled. The record is the credit's bank state while it is in flight (tries, how it was
// first sent, reversal); the refund keeps only its RRN, then its outcome.
const keyBankCredit = "@pbc:"

func creditKey(payment string, refund int) string {
	return keyBankCredit + payment + "/" + strconv.Itoa(refund)
}

func parseCreditKey(key string) (payment string, refund int, ok bool) {
	id, i, found := strings.Cut(strings.TrimPrefix(key, keyBankCredit), "/")
	n, err := strconv.Atoi(i)
	return id, n, found && err == nil && n >= 0
}

// bankRefund makes refund i of an mDebit a credit to the subscriber's bank account: it
// marks the refund sent to the bank, with an RRN derived from the refund's id, and returns
// the records to add to the refund's job: the bank worker's queue entry and the RRN's
// index for reconciliation. It returns nil for a payment that did not come from a bank.
func (e *Engine) bankRefund(p *domain.Payment, i int) []domain.Profile {
	if p.Channel != domain.ChannelBank || p.Bank == nil || i < 0 || i >= len(p.Refunds) {
		return nil
	}
	r := &p.Refunds[i]
	rrn, trace := refundKeys(r.ID)
	r.State, r.Bank = domain.RefundSentToBank, &domain.BankState{Key: rrn}
	queued := domain.BankState{Account: p.Bank.Account, Key: rrn, Trace: trace, At: e.cfg.Now().UnixNano()}
	return []domain.Profile{write(creditKey(p.ID, i), queued, 0), write(keyBankKey+rrn, p.ID, 0)}
}

// CreditStep makes one attempt for the credit of refund i of a payment, and records what
// came of it. It reports whether the credit reached an end.
func (e *Engine) CreditStep(ctx context.Context, id string, i int) (bool, error) {
	key := creditKey(id, i)
	var b domain.BankState
	qver, found, err := e.record(key, &b)
	if err != nil || !found {
		return !found, err
	}
	p, _, err := e.payment(id)
	if err != nil {
		return false, err
	}
	if i >= len(p.Refunds) || p.Refunds[i].State != domain.RefundSentToBank {
		return true, ignoreConflict(e.submitRecords(ctx, domain.Profile{Owner: key, Version: qver, Delete: true}))
	}
	merchant, err := e.l.Account(p.Merchant)
	if err != nil {
		return false, err
	}
	amount := p.Refunds[i].Amount
	save := func() error { return e.submitRecords(ctx, write(key, b, qver)) }
	first, wrote, err := e.stamp(&b, requestOf(&b, amount, p.Currency, merchant.Owner, true), save)
	if err != nil {
		return false, ignoreConflict(err)
	}
	if wrote {
		qver++
	}
	a, err := e.exchange(ctx, &b, requestOf(&b, amount, p.Currency, merchant.Owner, true), first)
	if ctx.Err() != nil {
		return false, ctx.Err() // stopping: the queue keeps it for the next start
	}
	v := e.judge(&b, a, err)
	if v == unsure || v == reversalDeclined {
		return false, ignoreConflict(e.submitRecords(ctx, write(key, b, qver)))
	}
	if err := e.endCredit(ctx, id, i, &b, qver, v); err != nil {
		// The ledger did not take the end (the purse refused the money…): tried again in a
		// minute, the bank answering the same.
		b.LastError, b.Next = clipError(err.Error()), e.cfg.Now().Add(time.Minute).UnixNano()
		return false, errors.Join(err, ignoreConflict(e.submitRecords(ctx, write(key, b, qver))))
	}
	return true, nil
}

// submitRecords commits records alone.
func (e *Engine) submitRecords(ctx context.Context, ps ...domain.Profile) error {
	_, err := e.l.Submit(ctx, domain.Job{Profiles: ps})
	return err
}

// endCredit ends a refund's credit on a sure answer: credited, or (declined, reversed) the
// money to the subscriber's purse instead. The refund on the payment record, the queue
// entry's removal, the money and the SMS are one job. A payment record changed meanwhile
// (another refund) is read again.
func (e *Engine) endCredit(ctx context.Context, id string, i int, b *domain.BankState, qver uint64, v verdict) error {
	for try := 0; ; try++ {
		p, ver, err := e.payment(id)
		if err != nil {
			return err
		}
		if i >= len(p.Refunds) || p.Refunds[i].State != domain.RefundSentToBank {
			return nil // ended by another step
		}
		r := &p.Refunds[i]
		r.Bank = &domain.BankState{Key: b.Key, Auth: b.Auth, Code: b.Code}
		job := domain.Job{Profiles: []domain.Profile{{Owner: creditKey(id, i), Version: qver, Delete: true}}}
		if v == approved {
			r.State = domain.RefundCredited
			job.Messages = []domain.Message{e.sms(p.MSISDN, e.langOf(p.MSISDN), commands.RBankRefundSent, commands.Args{
				Party: p.MerchantName, Amount: e.money(r.Amount), Account: domain.MaskIBAN(e.l.Unseal(b.Account)), Name: b.Auth})}
			job.Audit = &domain.Audit{Actor: "bank", Action: "refund credited", Detail: p.ID + " " + r.ID + " " + b.Key}
		} else if job, err = e.refundToPurse(ctx, &p, i, b, v, job); err != nil {
			return err
		}
		p.Updated = e.cfg.Now().UnixNano()
		job.Profiles = append(job.Profiles, write(keyPayment+p.ID, p, ver))
		_, err = e.l.Submit(ctx, job)
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

// refundToPurse adds to job what gives a refund the bank surely did not credit to the
// subscriber's purse: the amount from bank clearing, and the SMS saying why, with his
// balance.
func (e *Engine) refundToPurse(ctx context.Context, p *domain.Payment, i int, b *domain.BankState, v verdict, job domain.Job) (domain.Job, error) {
	r := &p.Refunds[i]
	purse := e.purseOf(p.MSISDN)
	if purse == nil {
		return job, errors.New("refund " + r.ID + ": the bank did not credit it and " + domain.Mask(p.MSISDN) + " has no open purse")
	}
	clr, err := e.clearing(ctx)
	if err != nil {
		return job, err
	}
	why := "your bank did not answer"
	if v == declined {
		_, why = bankReason(b.Code)
	}
	r.State = domain.RefundToPurse
	h := sha256.Sum256([]byte("mpg refund to purse\x00" + r.ID))
	var tid domain.ID
	copy(tid[:], h[:16])
	job.Transfers = []domain.Transfer{{ID: tid, Debit: clr.ID, Credit: purse.ID, Amount: r.Amount, Code: domain.CodeRefund,
		Ref: p.Reference, Flags: domain.Exempt}}
	lang, to, party, amount := e.langOf(p.MSISDN), p.MSISDN, p.MerchantName, r.Amount
	job.Compose = func(view domain.View, _ *domain.Result) ([]domain.Message, error) {
		after, _ := view.Account(purse.ID)
		return []domain.Message{e.sms(to, lang, commands.RBankRefundToPurse, commands.Args{Party: party, Amount: e.money(amount),
			Arg: why, Balance: e.money(uint64(max(0, after.Available())))})}, nil
	}
	job.Audit = &domain.Audit{Actor: "bank", Action: "refund to purse", Detail: p.ID + " " + r.ID + " " + b.Key + " " + b.Code}
	return job, nil
}

// purseOf is a subscriber's open purse in the engine's currency (nil: none).
func (e *Engine) purseOf(msisdn string) *domain.Account {
	for _, a := range e.l.AccountsOf(msisdn) {
		if a.Kind == domain.KindPurse && a.Currency == e.cfg.Currency && a.Status != domain.StatusClosed {
			return &a
		}
	}
	return nil
}
