package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"mpg/commands"
	"mpg/domain"
	"mpg/internal/keyed"
)

// The bank worker asks the bank about every request in its queues: mDebits (@pb:) and the
// refund credits of refunded mDebits (@pbc:), one attempt at a time. Before a request first
// leaves, how it will be sent is recorded; from then on every attempt is a repeat of that
// same message (0201), which the bank answers with its first outcome — a crash between
// sending and recording the answer included. After BankTries attempts without a sure
// answer it is reversed (0400, then repeats 0401) until the bank answers that. Each sure
// answer is one ledger job. The queues are in the ledger: a restart resumes every request.

// BankStats count what the bank worker saw, for the daemon's metrics.
type BankStats struct {
	Approved, Declined, Unknown, Reversed, ReversalDeclined atomic.Int64
}

// BankStats are the bank worker's counters.
func (e *Engine) BankStats() *BankStats { return &e.bankStats }

// bankItem is one request in the bank worker's queues.
type bankItem struct {
	payment string
	refund  int // the refund whose credit it is; -1: the payment's debit; receiptItem: its payee's credit
}

// receiptItem marks the bank credit of a SEND's payee who receives on his bank account.
const receiptItem = -2

// RunBank works the queues until ctx ends, one request of a payment at a time.
func (e *Engine) RunBank(ctx context.Context, every time.Duration, workers int) {
	if e.bank == nil {
		return
	}
	steps := keyed.New(workers) // one step of a payment at a time
	defer steps.Wait()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, it := range e.bankDue(e.cfg.Now().UnixNano()) {
			err := steps.Go(ctx, it.payment, func() {
				switch {
				case it.refund == receiptItem:
					e.ReceiptStep(ctx, it.payment)
				case it.refund < 0:
					e.BankStep(ctx, it.payment)
				default:
					e.CreditStep(ctx, it.payment, it.refund)
				}
			})
			if err != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.bankWake:
		}
	}
}

// bankDue lists the queued requests whose next attempt is due.
func (e *Engine) bankDue(now int64) []bankItem {
	var due []bankItem
	e.scan(keyBankQueue, "", maxQueueScan, func(r domain.Profile) (bool, error) {
		id := strings.TrimPrefix(r.Owner, keyBankQueue)
		if p, _, err := e.payment(id); err == nil && (p.Bank == nil || p.Bank.Next <= now) {
			due = append(due, bankItem{payment: id, refund: -1})
		}
		return true, nil
	})
	e.scan(keyBankCredit, "", maxQueueScan, func(r domain.Profile) (bool, error) {
		id, i, ok := parseCreditKey(r.Owner)
		var b domain.BankState
		if ok && json.Unmarshal(r.Data, &b) == nil && b.Next <= now {
			due = append(due, bankItem{payment: id, refund: i})
		}
		return true, nil
	})
	e.scan(keyReceiptQueue, "", maxQueueScan, func(r domain.Profile) (bool, error) {
		id := strings.TrimPrefix(r.Owner, keyReceiptQueue)
		var b bankReceipt
		if _, _, err := e.record(keyBankReceipt+id, &b); err == nil && b.Next <= now {
			due = append(due, bankItem{payment: id, refund: receiptItem})
		}
		return true, nil
	})
	return due
}

// wakeBank tells the bank worker a request was queued (it also looks every so often).
func (e *Engine) wakeBank() {
	select {
	case e.bankWake <- struct{}{}:
	default:
	}
}

// bankBackoff is the wait before the n-th attempt after an unsure one.
func bankBackoff(n int) time.Duration {
	d := time.Second << min(n-1, 9)
	return min(d, 10*time.Minute)
}

// stamp records, before the first transmission of a request or of its reversal, how it
// will be sent (save writes b's record; it fails with ErrConflict if the record changed
// since it was read). It reports whether this attempt is the first transmission (false:
// one may have happened, the attempt is a repeat) and whether it wrote the record.
func (e *Engine) stamp(b *domain.BankState, d domain.BankDebit, save func() error) (first, wrote bool, err error) {
	now := e.cfg.Now()
	switch {
	case b.Reversing && b.Reversal == nil:
		s := e.bank.Stamp(d, true, now)
		b.Reversal = &s
	case !b.Reversing && b.Sent == nil:
		s := e.bank.Stamp(d, false, now)
		b.Sent = &s
	default:
		return false, false, nil
	}
	if err := save(); err != nil {
		return false, false, err
	}
	// Tries > 0 without a record: sent by an mpg that kept none; repeated all the same.
	return b.Tries == 0, true, nil
}

// exchange is one attempt: the request (or its reversal) for the first time, or repeated.
func (e *Engine) exchange(ctx context.Context, b *domain.BankState, d domain.BankDebit, first bool) (domain.BankAnswer, error) {
	d.Account = e.l.Unseal(d.Account) // sealed for its person in the records
	switch {
	case b.Reversing:
		return e.bank.Reverse(ctx, d, !first)
	case !first:
		return e.bank.Status(ctx, d)
	case d.Credit:
		return e.bank.Credit(ctx, d)
	}
	return e.bank.Debit(ctx, d)
}

// verdict is what one attempt came to.
type verdict uint8

const (
	unsure           verdict = iota // no sure answer: asked again later, reversed after BankTries
	reversed                        // reversed, or never done: nothing moved
	reversalDeclined                // the bank will not reverse: the request stands, a repeat settles it
	approved
	declined
)

// judge records in b what one attempt came to, and what follows.
func (e *Engine) judge(b *domain.BankState, a domain.BankAnswer, err error) verdict {
	now := e.cfg.Now()
	switch {
	case err != nil:
		e.bankStats.Unknown.Add(1)
		b.Tries++
		b.LastError = clipError(err.Error())
		if !b.Reversing && b.Tries >= e.cfg.BankTries {
			b.Reversing, b.Tries, b.Next = true, 0, now.UnixNano()
		} else {
			b.Next = now.Add(bankBackoff(b.Tries)).UnixNano()
		}
		return unsure
	case b.Reversing && a.Outcome == domain.BankApproved:
		e.bankStats.Reversed.Add(1)
		b.Code = a.Code
		return reversed
	case b.Reversing:
		e.bankStats.ReversalDeclined.Add(1)
		b.Reversing, b.Tries, b.Code, b.Next = false, 1, a.Code, now.UnixNano()
		return reversalDeclined
	case a.Outcome == domain.BankApproved:
		e.bankStats.Approved.Add(1)
		b.Auth, b.Code = a.AuthCode, a.Code
		return approved
	}
	e.bankStats.Declined.Add(1)
	b.Code = a.Code
	return declined
}

// BankStep makes one attempt for one queued mDebit and records what came of it. It
// reports whether the payment reached an end.
func (e *Engine) BankStep(ctx context.Context, id string) (bool, error) {
	p, ver, err := e.payment(id)
	if err != nil {
		return false, err
	}
	if p.State != domain.PaymentSentToBank || p.Bank == nil {
		return true, e.dropBankQueue(ctx, id)
	}
	merchant, err := e.l.Account(p.Merchant)
	if err != nil {
		return false, err
	}
	first, wrote, err := e.stamp(p.Bank, debitOf(&p, merchant.Owner), func() error { return e.saveBank(ctx, &p, ver, domain.Job{}) })
	if err != nil {
		return false, ignoreConflict(err) // another step wrote it: the next round goes on
	}
	if wrote {
		ver++
	}
	a, err := e.exchange(ctx, p.Bank, debitOf(&p, merchant.Owner), first)
	if ctx.Err() != nil {
		return false, ctx.Err() // stopping: the queue keeps it for the next start
	}
	was := p.State
	switch e.judge(p.Bank, a, err) {
	case unsure:
		return false, ignoreConflict(e.saveBank(ctx, &p, ver, domain.Job{Audit: &domain.Audit{Actor: "bank", Action: "debit unknown", Detail: p.ID + " " + p.Bank.LastError}}))
	case reversalDeclined:
		// The bank will not reverse it: the debit stands. Ask what it was, and settle that.
		return false, ignoreConflict(e.saveBank(ctx, &p, ver, domain.Job{Audit: &domain.Audit{Actor: "bank", Action: "reversal declined", Detail: p.ID + " " + a.Code}}))
	case reversed:
		p.State, p.Reason = domain.PaymentRefused, "bank_no_answer"
		job := e.bankEnd(&p, e.sms(p.MSISDN, e.langOf(p.MSISDN), commands.RDebitReversed, commands.Args{Amount: e.money(p.Amount), Party: p.MerchantName}))
		return true, e.submitBank(ctx, &p, ver, was, job)
	case approved:
		return true, e.completeDebit(ctx, &p, ver, was, merchant, a)
	}
	code, why := bankReason(a.Code)
	p.State, p.Reason = domain.PaymentRefused, string(code)
	job := e.bankEnd(&p, e.sms(p.MSISDN, e.langOf(p.MSISDN), commands.RDebitDeclined, commands.Args{Amount: e.money(p.Amount), Party: p.MerchantName, Arg: why}))
	return true, e.submitBank(ctx, &p, ver, was, job)
}

// ignoreConflict: a record another step changed meanwhile is not an error; the next round
// reads it again.
func ignoreConflict(err error) error {
	if errors.Is(err, domain.ErrConflict) {
		return nil
	}
	return err
}

// bankEnd is the job that ends a queued mDebit: its reply, and out of the queue.
func (e *Engine) bankEnd(p *domain.Payment, reply domain.Message) domain.Job {
	reply.Urgent = true
	return domain.Job{Messages: []domain.Message{reply},
		Profiles: []domain.Profile{{Owner: keyBankQueue + p.ID, Version: 1, Delete: true}}}
}

func (e *Engine) completeDebit(ctx context.Context, p *domain.Payment, ver uint64, was domain.PaymentState, merchant domain.Account, a domain.BankAnswer) error {
	clr, err := e.clearing(ctx)
	if err != nil {
		return err
	}
	pid, _ := domain.ParseID(p.ID)
	tr := domain.Transfer{ID: claimID(pid, 'B'), Debit: clr.ID, Credit: merchant.ID, Amount: p.Amount, Code: domain.CodeDebit, Ref: p.Bank.Key}
	p.State, p.Reason, p.Transfer, p.Debited = domain.PaymentCompleted, "", tr.ID.String(), clr.ID
	p.Bank.Auth, p.Bank.Code = a.AuthCode, a.Code
	job := domain.Job{Transfers: []domain.Transfer{tr}, Profiles: []domain.Profile{{Owner: keyBankQueue + p.ID, Version: 1, Delete: true}}}
	if fee, err := e.merchantFee(domain.CodeDebit, merchant.ID, p.Amount, claimID(pid, 'b')); err != nil {
		return err
	} else if fee != nil {
		job.Transfers = append(job.Transfers, *fee)
		p.Fee = fee.Amount
	}
	lang, msisdn, account := e.langOf(p.MSISDN), p.MSISDN, domain.MaskIBAN(e.l.Unseal(p.Bank.Account))
	amount, name, auth := p.Amount, p.MerchantName, a.AuthCode
	job.Compose = func(v domain.View, r *domain.Result) ([]domain.Message, error) {
		rc := e.receipt(r.Transfers[0])
		msgs := []domain.Message{e.sms(msisdn, lang, commands.RDebitPaid, commands.Args{Amount: e.money(amount), Party: name,
			Account: account, Name: auth, Ref: shortRef(r.Transfers[0]), Receipt: rc})}
		if merchant.Phone != "" {
			msgs = append(msgs, e.sms(merchant.Phone, commands.EN, commands.RMerchantPaid, commands.Args{Amount: e.money(amount),
				Party: domain.Mask(msisdn), Ref: shortRef(r.Transfers[0]), Receipt: rc}))
		}
		return msgs, nil
	}
	return e.submitBank(ctx, p, ver, was, job)
}

// submitBank commits the end of a queued mDebit with the payment's record and event. A
// conflict (another worker settled it) is not an error: the queue entry goes next time.
func (e *Engine) submitBank(ctx context.Context, p *domain.Payment, ver uint64, was domain.PaymentState, job domain.Job) error {
	step, base := *p, job
	for try := 0; ; try++ {
		*p, job = step, base
		job.Profiles = append([]domain.Profile(nil), base.Profiles...)
		job.Transfers = append([]domain.Transfer(nil), base.Transfers...)
		out, err := e.paymentJob(p, ver, was, job, "bank", false)
		if err != nil {
			return err
		}
		_, err = e.l.Submit(ctx, out)
		if !errors.Is(err, domain.ErrConflict) {
			return err
		}
		// The record moved (another worker settled it), or only the member's points wallet
		// did (he paid meanwhile): then the bank's answer is recorded again, afresh.
		if _, cur, rerr := e.payment(p.ID); rerr != nil || cur != ver || try >= maxTurns {
			return nil
		}
	}
}

// saveBank records an attempt that did not end the payment (ErrConflict: the record
// changed since it was read).
func (e *Engine) saveBank(ctx context.Context, p *domain.Payment, ver uint64, job domain.Job) error {
	p.Updated = e.cfg.Now().UnixNano()
	job.Profiles = append(job.Profiles, write(keyPayment+p.ID, p, ver))
	_, err := e.l.Submit(ctx, job)
	return err
}

func (e *Engine) dropBankQueue(ctx context.Context, id string) error {
	_, v, err := e.l.Profile(keyBankQueue + id)
	if err != nil || v == 0 {
		return err
	}
	_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: keyBankQueue + id, Version: v, Delete: true}}})
	if errors.Is(err, domain.ErrConflict) {
		return nil
	}
	return err
}

// merchantFee is the fee a merchant pays out of what it receives for a product (mDebit,
// mCredit), from the fee table of its transfer code; nil when there is none.
func (e *Engine) merchantFee(code uint16, merchant, amount uint64, id domain.ID) (*domain.Transfer, error) {
	fee := e.fee(code, amount)
	if fee == 0 {
		return nil, nil
	}
	fees, err := e.l.System(domain.KindFees, e.cfg.Currency)
	if err != nil {
		return nil, err
	}
	return &domain.Transfer{ID: id, Debit: merchant, Credit: fees.ID, Amount: min(fee, amount), Code: domain.CodeFee, Flags: domain.Exempt}, nil
}
