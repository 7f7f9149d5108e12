package engine

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// P2P to a bank account. A subscriber with a linked bank account may choose (RECEIVE BANK)
// that money sent to him goes on to that account. A SEND to him is the SEND every payer
// makes, under the same rule book, into his purse; the same job moves the amount on from
// his purse to bank clearing (transfer code CodeToBank, exempt from his own limits: it is
// not his spending) and queues a credit for the bank worker. The worker sends it once the
// job is durable (0200, processing code 200000, as a refund's credit), and treats its
// outcome like every bank request: unknown is a state, resolved by repeats (0201) and,
// after bank.tries, a reversal. Credited: he is told the money is on his bank account.
// Surely not credited (declined, or reversed): one job moves it back from bank clearing to
// his purse, and he is told why. The payer is told at once, as for any SEND.

// keyBankReceipt + payment id: a SEND's amount sent on to its payee's bank account (kept,
// for reconciliation); keyReceiptQueue + payment id: the same while the bank has not
// surely answered (the bank worker's queue).
const (
	keyBankReceipt  = "@pbr:"
	keyReceiptQueue = "@pbq:"
)

// bankReceipt is a credit to a payee's bank account: the bank request's state, where it is,
// and what the end needs to tell him.
type bankReceipt struct {
	domain.BankState
	State  domain.RefundState `json:"state"`  // sent_to_bank, then credited or to_purse
	Purse  uint64             `json:"purse"`  // the payee's purse, where the money goes back if the bank refuses it
	Payee  string             `json:"payee"`  // his number
	Payer  string             `json:"payer"`  // the payer's masked number, for the SMS
	Amount uint64             `json:"amount"` // minor units
}

// receive handles RECEIVE BANK|PURSE: where money sent to this subscriber lands.
func (t *turn) receive() domain.Job {
	if t.cmd.Where != commands.ReceiveBank {
		if t.prof.Receive != "" {
			t.prof.Receive, t.profDirty = "", true
		}
		t.reply(commands.RReceivePurse, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	switch refused, _ := t.e.receiveBankRefused(&t.prof); refused {
	case 0:
		if t.prof.Receive != commands.ReceiveBank {
			t.prof.Receive, t.profDirty = commands.ReceiveBank, true
		}
		t.reply(commands.RReceiveBank, commands.Args{Account: domain.MaskIBAN(t.prof.BankIBAN)})
	default:
		t.reply(refused, commands.Args{})
	}
	return t.withProfile(domain.Job{})
}

// receiveBankRefused is the rule RECEIVE BANK obeys on every path (his SMS, an operator's
// command): a bank connector configured and a bank account linked. It returns the reply and
// the error that say why not, or 0 and nil.
func (e *Engine) receiveBankRefused(p *profile) (commands.Reply, error) {
	switch {
	case e.bank == nil && !e.cfg.BankConfigured:
		return commands.RReceiveNoConnector, ErrNoBankConnector
	case p.BankIBAN == "":
		return commands.RReceiveNoBank, ErrNoBankLinked
	}
	return 0, nil
}

// onToBank is what sends a SEND's amount on to its payee's bank account when he chose so,
// for the job the turn pays him in (payment: the SEND's id); ok is false when the money
// stays in his purse. The bank worker wakes once the job is durable, and the job is
// computed again if the sweep is refused (his purse blocked meanwhile).
func (t *turn) onToBank(payee *domain.Account, amount uint64, payment domain.ID) (tr domain.Transfer, records []domain.Profile, account string, ok bool) {
	o, ok := t.e.onward(payee, amount, payment, t.in.From)
	if ok {
		t.toBank, t.sweep = true, &o.read
	}
	return o.tr, o.records, o.account, ok
}

// onwardCredit is a SEND's amount going on to its payee's bank account: the transfer from
// his purse to bank clearing (guarded by his choice as read), the credit's record, the bank
// worker's queue entry and the RRN's index for reconciliation.
type onwardCredit struct {
	tr      domain.Transfer
	read    domain.Profile // his profile's version as read: the job's guard
	records []domain.Profile
	account string // his bank account, masked, for the notices
}

// onward is the onward credit of a SEND of amount to payee, paid by payer, when the payee
// chose RECEIVE BANK; ok is false when the money stays in his purse. Every path that pays a
// SEND into a purse asks it: the SEND itself, its YES, an operator's release of its hold.
func (e *Engine) onward(payee *domain.Account, amount uint64, payment domain.ID, payer string) (o onwardCredit, ok bool) {
	if e.bank == nil || payee.Kind != domain.KindPurse || payee.Status != domain.StatusActive {
		return o, false // a blocked purse (a stolen phone) keeps what it receives
	}
	var p profile
	ver, found, err := e.record(payee.Owner, &p)
	if err != nil || !found || p.Receive != commands.ReceiveBank || p.BankIBAN == "" {
		return o, false
	}
	clr, err := e.clearing(context.Background())
	if err != nil {
		return o, false
	}
	sealed, err := e.l.SealFor(payee.Owner, p.BankIBAN)
	if err != nil {
		return o, false
	}
	rrn, trace := receiptKeys(payment.String())
	r := bankReceipt{BankState: domain.BankState{Account: sealed, Key: rrn, Trace: trace, At: e.cfg.Now().UnixNano()},
		State: domain.RefundSentToBank, Purse: payee.ID, Payee: payee.Owner, Payer: domain.Mask(payer), Amount: amount}
	o.tr = domain.Transfer{ID: claimID(payment, 'K'), Debit: payee.ID, Credit: clr.ID, Amount: amount, Code: domain.CodeToBank,
		Ref: rrn, Flags: domain.Exempt}
	// His choice and account as read must still be his when the job commits; a purse blocked
	// meanwhile refuses the sweep, and the job is computed again (then it stays in his purse).
	o.read, o.account = domain.Profile{Owner: payee.Owner, Version: ver}, domain.MaskIBAN(p.BankIBAN)
	id := payment.String()
	o.records = []domain.Profile{write(keyBankReceipt+id, r, 0), write(keyReceiptQueue+id, struct{}{}, 0), write(keyBankKey+rrn, receiptRef+id, 0)}
	return o, true
}

// receiptRef marks, in the RRN index, a payee's bank credit rather than a payment.
const receiptRef = "receipt:"

// dropQueued removes a queue entry whose request already ended.
func (e *Engine) dropQueued(ctx context.Context, key string) error {
	_, v, err := e.l.Profile(key)
	if err != nil || v == 0 {
		return err
	}
	return ignoreConflict(e.submitRecords(ctx, domain.Profile{Owner: key, Version: v, Delete: true}))
}

// receiptView is what the ledger says of a payee's bank credit, for reconciliation.
func (e *Engine) receiptView(id string) (request, error) {
	var r bankReceipt
	_, found, err := e.record(keyBankReceipt+id, &r)
	if err != nil || !found {
		return request{state: "no request with this RRN"}, err
	}
	return request{credit: true, state: "receipt " + string(r.State), amount: r.Amount, currency: e.cfg.Currency,
		account: e.l.Unseal(r.Account), inFlight: r.State == domain.RefundSentToBank, done: r.State == domain.RefundCredited}, nil
}

// sweepRefused reports whether err refused job's sweep of a SEND to its payee's bank
// because his purse was blocked after it was read: then the job is computed again (and the
// money stays in his purse).
func sweepRefused(job *domain.Job, err error) bool {
	var ref *domain.RefusedError
	return errors.As(err, &ref) && ref.Reason == domain.ErrAccountBlocked && ref.Index >= 0 && ref.Index < len(job.Transfers) &&
		job.Transfers[ref.Index].Code == domain.CodeToBank
}

// receiptKeys are the RRN and trace of a payee's bank credit, derived from the SEND's id.
func receiptKeys(payment string) (rrn, trace string) { return refundKeys("receive\x00" + payment) }

// ReceiptStep makes one attempt for the bank credit of a SEND's payee and records what came
// of it. It reports whether the credit reached an end.
func (e *Engine) ReceiptStep(ctx context.Context, id string) (bool, error) {
	key := keyBankReceipt + id
	var r bankReceipt
	ver, found, err := e.record(key, &r)
	if err != nil {
		return false, err
	}
	if !found || r.State != domain.RefundSentToBank {
		return true, e.dropQueued(ctx, keyReceiptQueue+id)
	}
	save := func() error { return e.submitRecords(ctx, write(key, r, ver)) }
	req := requestOf(&r.BankState, r.Amount, e.cfg.Currency, "P2P", true)
	first, wrote, err := e.stamp(&r.BankState, req, save)
	if err != nil {
		return false, ignoreConflict(err)
	}
	if wrote {
		ver++
	}
	a, err := e.exchange(ctx, &r.BankState, requestOf(&r.BankState, r.Amount, e.cfg.Currency, "P2P", true), first)
	if ctx.Err() != nil {
		return false, ctx.Err() // stopping: the queue keeps it for the next start
	}
	v := e.judge(&r.BankState, a, err)
	if v == unsure || v == reversalDeclined {
		return false, ignoreConflict(e.submitRecords(ctx, write(key, r, ver)))
	}
	if err := e.endReceipt(ctx, id, &r, ver, v); err != nil {
		// The ledger did not take the end (his purse refused the money back…): tried again
		// in a minute, the bank answering the same.
		r.LastError, r.Next = clipError(err.Error()), e.cfg.Now().Add(time.Minute).UnixNano()
		return false, errors.Join(err, ignoreConflict(e.submitRecords(ctx, write(key, r, ver))))
	}
	return true, nil
}

// endReceipt ends a payee's bank credit on a sure answer, in one job with the queue
// entry's removal: credited, he is told; not credited, the money goes back to his purse
// and he is told why, with his balance.
func (e *Engine) endReceipt(ctx context.Context, id string, r *bankReceipt, ver uint64, v verdict) error {
	lang := e.langOf(r.Payee)
	account := domain.MaskIBAN(e.l.Unseal(r.Account))
	end := *r // the record as it ends; r stays as it was for a retry if the job is refused
	end.State = domain.RefundCredited
	if v != approved {
		end.State = domain.RefundToPurse
	}
	job := domain.Job{Profiles: []domain.Profile{write(keyBankReceipt+id, end, ver), {Owner: keyReceiptQueue + id, Version: 1, Delete: true}}}
	if v == approved {
		job.Messages = []domain.Message{e.sms(r.Payee, lang, commands.RBankReceived, commands.Args{Amount: e.money(r.Amount),
			Party: r.Payer, Account: account, Name: r.Auth})}
		job.Audit = &domain.Audit{Actor: "bank", Action: "receipt credited", Detail: id + " " + r.Key}
		_, err := e.l.Submit(ctx, job)
		return ignoreConflict(err)
	}
	clr, err := e.clearing(ctx)
	if err != nil {
		return err
	}
	why := "your bank did not answer"
	if v == declined {
		_, why = bankReason(r.Code)
	}
	h := sha256.Sum256([]byte("mpg receipt to purse\x00" + id))
	var tid domain.ID
	copy(tid[:], h[:16])
	job.Transfers = []domain.Transfer{{ID: tid, Debit: clr.ID, Credit: r.Purse, Amount: r.Amount, Code: domain.CodeToBank,
		Ref: r.Key, Flags: domain.Exempt}}
	if purse, err := e.l.Account(r.Purse); err == nil && purse.Status == domain.StatusClosed {
		// His purse was closed (or erased) meanwhile: the money is paid out with it, to the
		// float the closing payout went to, and nobody is texted.
		end.State = receiptPaidOut
		job.Profiles[0] = write(keyBankReceipt+id, end, ver)
		return e.payOutReceipt(ctx, id, job, r)
	}
	to, purse, amount, payer := r.Payee, r.Purse, r.Amount, r.Payer
	job.Compose = func(view domain.View, _ *domain.Result) ([]domain.Message, error) {
		after, _ := view.Account(purse)
		return []domain.Message{e.sms(to, lang, commands.RBankReceiveToPurse, commands.Args{Amount: e.money(amount), Party: payer,
			Arg: why, Balance: e.money(uint64(max(0, after.Available())))})}, nil
	}
	job.Audit = &domain.Audit{Actor: "bank", Action: "receipt to purse", Detail: id + " " + r.Key + " " + r.Code}
	_, err = e.l.Submit(ctx, job)
	return ignoreConflict(err)
}

// settings answers SETTINGS <pin>: his preferences, each with the command that changes it.
func (t *turn) settings() domain.Job {
	prefs := t.e.preferences(&t.prof)
	prefs.Lang = t.lang // the language he is answered in, chosen or not
	t.reply(commands.RSettings, commands.Args{Lines: commands.SettingsLines(t.lang, prefs)})
	return t.withProfile(domain.Job{})
}

// preferences are a subscriber's settings as SETTINGS and operators show them.
func (e *Engine) preferences(p *profile) commands.Preferences {
	s := commands.Preferences{Lang: p.Lang, Offers: p.Promo, Receive: commands.ReceivePurse, Orders: len(p.Orders), Bills: len(p.Bills),
		Voice: p.ConfirmBy == "voice"}
	if p.Receive == commands.ReceiveBank {
		s.Receive = commands.ReceiveBank
	}
	if p.BankIBAN != "" {
		s.Bank = domain.MaskIBAN(p.BankIBAN)
	}
	return s
}

// ErrNoBankLinked: a subscriber may receive on his bank account only once one is linked.
var ErrNoBankLinked = errors.New("no bank account is linked to this purse: link one first (mpg account bank link)")

// ErrNoBankConnector: money goes on to a bank account only where a bank connector is.
var ErrNoBankConnector = errors.New("no bank connector is configured ([bank] addr): money sent to him cannot go on to a bank account")

// Preferences are a subscriber's settings, as SETTINGS texts them.
func (e *Engine) Preferences(msisdn string) (commands.Preferences, error) {
	b, _, err := e.l.Profile(msisdn)
	if err != nil || b == nil {
		return commands.Preferences{}, cmp.Or(err, ErrNoPurse)
	}
	var p profile
	if err := json.Unmarshal(b, &p); err != nil {
		return commands.Preferences{}, err
	}
	return e.preferences(&p), nil
}

// SetReceive is an operator's RECEIVE for a subscriber (where: commands.ReceiveBank or
// ReceivePurse), audited; the subscriber is told by SMS as if he had texted it.
func (e *Engine) SetReceive(ctx context.Context, actor, msisdn, where string) (commands.Preferences, error) {
	if where != commands.ReceiveBank && where != commands.ReceivePurse {
		return commands.Preferences{}, fmt.Errorf("receive %q: want %s or %s", where, commands.ReceiveBank, commands.ReceivePurse)
	}
	var prefs commands.Preferences
	_, err := e.opTurn(ctx, msisdn, func(purse *domain.Account, p *profile, ver uint64) (domain.Job, error) {
		if purse == nil {
			return domain.Job{}, ErrNoPurse
		}
		if _, err := e.receiveBankRefused(p); where == commands.ReceiveBank && err != nil {
			return domain.Job{}, err
		}
		p.Receive = where
		reply := commands.RReceivePurse
		if where == commands.ReceivePurse {
			p.Receive = ""
		} else {
			reply = commands.RReceiveBank
		}
		prefs = e.preferences(p)
		return domain.Job{Profiles: []domain.Profile{e.profileWrite(msisdn, p, ver)},
			Messages: []domain.Message{e.sms(msisdn, p.Lang, reply, commands.Args{Account: prefs.Bank})},
			Audit:    &domain.Audit{Actor: actor, Action: "subscriber receive", Detail: msisdn + " " + where}}, nil
	})
	return prefs, err
}

// receiptPaidOut: the bank refused the credit and the payee's purse was closed meanwhile;
// the amount was paid out with it.
const receiptPaidOut domain.RefundState = "paid_out"

// payOutReceipt ends a refused credit of a payee whose purse is closed: the amount goes
// from bank clearing to the float, as his closing balance did, in the job that ends it.
func (e *Engine) payOutReceipt(ctx context.Context, id string, job domain.Job, r *bankReceipt) error {
	float, err := e.l.System(domain.KindFloat, e.cfg.Currency)
	if err != nil {
		return err
	}
	job.Transfers[0].Credit, job.Transfers[0].Code = float.ID, domain.CodePayout
	job.Audit = &domain.Audit{Actor: "bank", Action: "receipt paid out", Detail: id + " " + r.Key + " " + r.Code + " purse closed"}
	_, err = e.l.Submit(ctx, job)
	return ignoreConflict(err)
}
