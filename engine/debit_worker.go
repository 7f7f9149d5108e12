package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// The bank worker asks the bank about every mDebit in the queue, one attempt at a time:
// the first attempt is a debit, every later one a repeat with the same key (which the bank
// answers with its first outcome), and after BankTries attempts without a sure answer, a
// reversal, repeated until the bank answers it. Each answer is one ledger job: approved
// moves the money from bank clearing to the merchant; declined or reversed ends the
// payment with its reason. The queue is in the ledger: a restart resumes every request.

// BankStats count what the bank worker saw, for the daemon's metrics.
type BankStats struct {
	Approved, Declined, Unknown, Reversed, ReversalDeclined atomic.Int64
}

// BankStats are the bank worker's counters.
func (e *Engine) BankStats() *BankStats { return &e.bankStats }

// RunBank works the queue until ctx ends.
func (e *Engine) RunBank(ctx context.Context, every time.Duration, workers int) {
	if e.bank == nil {
		return
	}
	var mu sync.Mutex
	running := map[string]bool{}
	slots := make(chan struct{}, max(1, workers))
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		now := e.cfg.Now().UnixNano()
		var due []string
		e.scan(keyBankQueue, "", maxQueueScan, func(r domain.Profile) (bool, error) {
			due = append(due, strings.TrimPrefix(r.Owner, keyBankQueue))
			return true, nil
		})
		for _, id := range due {
			mu.Lock()
			busy := running[id]
			mu.Unlock()
			if busy {
				continue
			}
			if p, _, err := e.payment(id); err != nil || (p.Bank != nil && p.Bank.Next > now) {
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			mu.Lock()
			running[id] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.BankStep(ctx, id)
				mu.Lock()
				delete(running, id)
				mu.Unlock()
				<-slots
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.bankWake:
		}
	}
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
	d := debitOf(&p, merchant.Owner)
	var a domain.BankAnswer
	switch {
	case p.Bank.Reversing:
		a, err = e.bank.Reverse(ctx, d, p.Bank.Tries > 0)
	case p.Bank.Tries == 0:
		a, err = e.bank.Debit(ctx, d)
	default:
		a, err = e.bank.Status(ctx, d)
	}
	if ctx.Err() != nil {
		return false, ctx.Err() // stopping: the queue keeps it for the next start
	}
	was := p.State
	now := e.cfg.Now()
	switch {
	case err != nil:
		// Unsure: ask again later with the same key; after BankTries, reverse.
		e.bankStats.Unknown.Add(1)
		p.Bank.Tries++
		p.Bank.LastError = clipError(err.Error())
		if !p.Bank.Reversing && p.Bank.Tries >= e.cfg.BankTries {
			p.Bank.Reversing, p.Bank.Tries, p.Bank.Next = true, 0, now.UnixNano()
		} else {
			p.Bank.Next = now.Add(bankBackoff(p.Bank.Tries)).UnixNano()
		}
		return false, e.saveBank(ctx, &p, ver, domain.Job{Audit: &domain.Audit{Actor: "bank", Action: "debit unknown", Detail: p.ID + " " + p.Bank.LastError}})
	case p.Bank.Reversing && a.Outcome == domain.BankApproved:
		e.bankStats.Reversed.Add(1)
		p.Bank.Code = a.Code
		p.State, p.Reason = domain.PaymentRefused, "bank_no_answer"
		job := e.bankEnd(&p, e.sms(p.MSISDN, e.langOf(p.MSISDN), commands.RDebitReversed, commands.Args{Amount: e.money(p.Amount), Party: p.MerchantName}))
		return true, e.submitBank(ctx, &p, ver, was, job)
	case p.Bank.Reversing:
		// The bank will not reverse it: the debit stands. Ask what it was, and settle that.
		e.bankStats.ReversalDeclined.Add(1)
		p.Bank.Reversing, p.Bank.Tries, p.Bank.Code, p.Bank.Next = false, 1, a.Code, now.UnixNano()
		return false, e.saveBank(ctx, &p, ver, domain.Job{Audit: &domain.Audit{Actor: "bank", Action: "reversal declined", Detail: p.ID + " " + a.Code}})
	case a.Outcome == domain.BankApproved:
		e.bankStats.Approved.Add(1)
		return true, e.completeDebit(ctx, &p, ver, was, merchant, a)
	default:
		e.bankStats.Declined.Add(1)
		code, why := bankReason(a.Code)
		p.Bank.Code = a.Code
		p.State, p.Reason = domain.PaymentRefused, string(code)
		job := e.bankEnd(&p, e.sms(p.MSISDN, e.langOf(p.MSISDN), commands.RDebitDeclined, commands.Args{Amount: e.money(p.Amount), Party: p.MerchantName, Arg: why}))
		return true, e.submitBank(ctx, &p, ver, was, job)
	}
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
	lang, msisdn, account := e.langOf(p.MSISDN), p.MSISDN, domain.MaskIBAN(p.Bank.Account)
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
	job, err := e.paymentJob(p, ver, was, job, "bank", false)
	if err != nil {
		return err
	}
	_, err = e.l.Submit(ctx, job)
	if errors.Is(err, domain.ErrConflict) {
		return nil
	}
	return err
}

// saveBank records an attempt that did not end the payment.
func (e *Engine) saveBank(ctx context.Context, p *domain.Payment, ver uint64, job domain.Job) error {
	p.Updated = e.cfg.Now().UnixNano()
	job.Profiles = append(job.Profiles, write(keyPayment+p.ID, p, ver))
	_, err := e.l.Submit(ctx, job)
	if errors.Is(err, domain.ErrConflict) {
		return nil
	}
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
