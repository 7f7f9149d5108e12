package engine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// mDebit: DEBIT <merchant> <amount> <pin> pays a merchant straight from the subscriber's
// linked bank account. It always asks YES <code> and says the payment is irreversible; the
// bank is asked only after YES, by the bank worker (debit_worker.go), never during the SMS.
// The payment is a record of the state machine with channel "bank".

// Bank is what the engine needs of a bank's back end. An error is an outcome the engine
// must not guess: domain.ErrBankUnknown (the bank may have acted) or ErrBankUnreachable.
type Bank interface {
	// Stamp is how the first transmission of d (reversal: of its reversal) identifies it.
	// The engine records it before sending: once recorded, every attempt is a repeat.
	Stamp(d domain.BankDebit, reversal bool, now time.Time) domain.BankSent
	// Debit asks the bank to debit the subscriber's account, for the first time.
	Debit(ctx context.Context, d domain.BankDebit) (domain.BankAnswer, error)
	// Credit asks the bank to credit a refund to the subscriber's account, for the first time.
	Credit(ctx context.Context, d domain.BankDebit) (domain.BankAnswer, error)
	// Status repeats a debit or a credit (d.Credit) as first sent: the bank answers its
	// first outcome, and acts only if it never got the request.
	Status(ctx context.Context, d domain.BankDebit) (domain.BankAnswer, error)
	// Reverse undoes the debit or credit with that key (again: a repeat of the reversal);
	// approved means no money stays moved.
	Reverse(ctx context.Context, d domain.BankDebit, again bool) (domain.BankAnswer, error)
}

// SetBank gives the engine its bank connector (before it serves); without one DEBIT
// answers that it is not available.
func (e *Engine) SetBank(b Bank) { e.bank = b }

const (
	keyBankQueue = "@pb:"  // + payment id: mDebits sent to the bank and not settled
	keyBankKey   = "@pbk:" // + RRN: the payment of a bank key, for reconciliation
)

// bankKeys derives the RRN (12 base-36 characters from the id's 62 random bits: unique
// among billions) and the trace number of a payment.
func bankKeys(id string) (rrn, trace string) {
	pid, _ := domain.ParseID(id)
	r := binary.BigEndian.Uint64(pid[8:]) >> 2
	rrn = strings.ToUpper(strconv.FormatUint(r, 36))
	rrn = strings.Repeat("0", max(0, 12-len(rrn))) + rrn
	h := sha256.Sum256(pid[:])
	trace = fmt.Sprintf("%06d", binary.BigEndian.Uint32(h[:4])%1000000)
	return rrn, trace
}

// refundKeys derives the RRN and the trace number of a refund's credit from the refund's id.
func refundKeys(refundID string) (rrn, trace string) {
	h := sha256.Sum256([]byte("mpg refund credit\x00" + refundID))
	rrn = strings.ToUpper(strconv.FormatUint(binary.BigEndian.Uint64(h[:8])>>2, 36))
	rrn = strings.Repeat("0", max(0, 12-len(rrn))) + rrn
	trace = fmt.Sprintf("%06d", binary.BigEndian.Uint32(h[8:12])%1000000)
	return rrn, trace
}

// debitOf is the bank request of a payment.
func debitOf(p *domain.Payment, merchantCode string) domain.BankDebit {
	return requestOf(p.Bank, p.Amount, p.Currency, merchantCode, false)
}

// requestOf is the bank request in state b: its key, account, and how it was first sent.
func requestOf(b *domain.BankState, amount uint64, currency, merchantCode string, credit bool) domain.BankDebit {
	d := domain.BankDebit{Key: b.Key, Trace: b.Trace, Account: b.Account, Amount: amount, Currency: currency,
		Merchant: merchantCode, At: b.At, Credit: credit}
	if b.Sent != nil {
		d.Sent = *b.Sent
	}
	if b.Reversal != nil {
		d.Reversal = *b.Reversal
	}
	return d
}

// debit handles DEBIT: it asks for YES <code>, and nothing goes to the bank before it.
func (t *turn) debit() domain.Job {
	e, c := t.e, t.cmd
	if e.bank == nil {
		t.reply(commands.RNotAvailable, commands.Args{Arg: c.Kind.String()})
		return t.withProfile(domain.Job{})
	}
	if t.prof.BankIBAN == "" {
		t.reply(commands.RBankNotLinked, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	merchant := e.activeMerchant(c.Merchant)
	if merchant == nil {
		t.reply(commands.RUnknownMerchant, commands.Args{Arg: c.Merchant})
		return t.withProfile(domain.Job{})
	}
	if lim, ok := e.cfg.Tiers[t.purse.Tier]; ok && lim.PerTx > 0 && c.Amount > lim.PerTx {
		t.reply(commands.RLimitPerPayment, commands.Args{Limit: t.money(lim.PerTx)})
		return t.withProfile(domain.Job{})
	}
	now := e.cfg.Now().UnixNano()
	if left, ok := t.bankDailyLeft(now); ok && c.Amount > left {
		t.reply(commands.RLimitDaily, commands.Args{Limit: t.money(left)})
		return t.withProfile(domain.Job{})
	}
	ref := c.Ref
	if ref == "" {
		ref = "DEBIT"
	}
	p := &domain.Payment{ID: domain.NewID().String(), Merchant: merchant.ID, MerchantName: merchantName(*merchant), Channel: domain.ChannelBank,
		MSISDN: t.in.From, Amount: c.Amount, Currency: e.cfg.Currency, Reference: ref, State: domain.PaymentAwaiting,
		Created: now, Expires: now + int64(e.cfg.ConfirmFor)}
	rrn, trace := bankKeys(p.ID)
	account, err := e.l.SealFor(t.in.From, t.prof.BankIBAN)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	p.Bank = &domain.BankState{Account: account, Key: rrn, Trace: trace}
	if err := t.addRequest(p.ID); err != nil {
		t.reply(commands.RTooManyHolds, commands.Args{Party: merchant.Name})
		return t.withProfile(domain.Job{})
	}
	code, err := oneTimeCode()
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	p.CodeMAC, p.CodesSent = e.codeMACFor(p, code), 1
	msg, err := e.sealedMessage(e.sms(t.in.From, t.lang, commands.RDebitAsk, commands.Args{Amount: t.money(c.Amount), Party: merchant.Name,
		Account: domain.MaskIBAN(t.prof.BankIBAN), Code: secretMark, N: int(e.cfg.ConfirmFor.Minutes())}), code)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	msg.Urgent = true
	queue := []domain.Profile{write(keyBankKey+rrn, p.ID, 0)}
	if m, q, ok := t.callInstead(voiceCall{Payment: p.ID, What: "DEBIT", Amount: c.Amount, Party: merchant.Name, Expires: p.Expires}); ok {
		msg, queue = m, append(queue, q...) // the code is never sent: he keys his PIN in our call
	}
	t.replies = append(t.replies, msg)
	t.audit = &domain.Audit{Actor: t.in.From, Action: "debit asked", Detail: p.ID + " " + domain.FormatAmount(c.Amount, e.cfg.Currency) + " " + merchant.Owner}
	job, err := e.paymentJob(p, 0, "", domain.Job{Profiles: queue}, t.in.From, false)
	if err != nil {
		t.replies = nil
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	return t.withProfile(job)
}

// activeMerchant finds an active merchant of the engine's currency by its code (nil: none).
func (e *Engine) activeMerchant(code string) *domain.Account {
	return e.activeOf(code, domain.KindMerchant)
}

// activeOf is code's active account of kind in the service's currency (nil: none).
func (e *Engine) activeOf(code string, kind domain.Kind) *domain.Account {
	for _, a := range e.l.AccountsOf(code) {
		if a.Kind == kind && a.Currency == e.cfg.Currency && a.Status == domain.StatusActive {
			return &a
		}
	}
	return nil
}

// maxBankSpends bounds the DEBITs a profile remembers for the 24-hour limit.
const maxBankSpends = 24

// bankDailyLeft is what the tier's 24-hour limit leaves for DEBITs now (ok false: no limit).
func (t *turn) bankDailyLeft(now int64) (uint64, bool) {
	if t.purse == nil {
		return 0, false
	}
	lim, ok := t.e.cfg.Tiers[t.purse.Tier]
	if !ok || lim.Daily == 0 {
		return 0, false
	}
	return lim.Daily - min(lim.Daily, domain.SpentSince(t.prof.BankSpends, now)), true
}

// sendToBank is YES to an mDebit (answerPayment checked what the 24-hour limit leaves): the
// payment goes to the bank queue, in the job that answers the subscriber "pending"; the
// worker asks the bank after this commit. The amount is counted against the limit in the
// profile this job writes at the version it read, so two YES racing (an operator's change,
// another daemon) cannot both fit. A DEBIT the bank then declines stays counted: the limit
// errs on the side of the account holder.
func (t *turn) sendToBank(p *domain.Payment, ver uint64, was domain.PaymentState) domain.Job {
	now := t.e.cfg.Now().UnixNano()
	if _, ok := t.bankDailyLeft(now); ok {
		t.prof.BankSpends = domain.AddSpend(t.prof.BankSpends, now, p.Amount, maxBankSpends)
		t.profDirty = true
	}
	p.State = domain.PaymentSentToBank
	p.Bank.At = now
	job, err := t.e.paymentJob(p, ver, was, domain.Job{NotAfter: p.Expires,
		Profiles: []domain.Profile{write(keyBankQueue+p.ID, struct{}{}, 0)}}, t.in.From, false)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	t.reply(commands.RDebitPending, commands.Args{Amount: t.money(p.Amount), Party: p.MerchantName})
	// Urgent like the bank's answer that follows (it moves money, so it is urgent): queued
	// normally, "pending" could reach the phone after "Paid" when the outbox is busy.
	t.replies[len(t.replies)-1].Urgent = true
	t.toBank = true
	return t.withProfile(job)
}

// LinkBank links a bank account (an IBAN, checked) to a subscriber's purse, or with ""
// unlinks it; the subscriber is told by SMS.
func (e *Engine) LinkBank(ctx context.Context, actor, msisdn, account string) (string, error) {
	ibanCode := ""
	if account != "" {
		var err error
		if ibanCode, err = domain.ParseIBAN(account); err != nil {
			return "", err
		}
		if len(ibanCode) > domain.MaxBankAccount {
			return "", fmt.Errorf("IBAN of %d characters: the bank interface (ISO 8583 field 102) carries at most %d", len(ibanCode), domain.MaxBankAccount)
		}
	}
	_, err := e.opTurn(ctx, msisdn, func(purse *domain.Account, p *profile, ver uint64) (domain.Job, error) {
		if purse == nil {
			return domain.Job{}, ErrNoPurse
		}
		was := p.BankIBAN
		p.BankIBAN = ibanCode
		if ibanCode == "" {
			p.Receive = "" // nothing to receive on: SENDs stay in the purse
		}
		job := domain.Job{Profiles: []domain.Profile{e.profileWrite(msisdn, p, ver)},
			Audit: &domain.Audit{Actor: actor, Action: "bank link", Detail: msisdn + " " + domain.MaskIBAN(ibanCode)}}
		if ibanCode != "" {
			job.Messages = []domain.Message{e.sms(msisdn, p.Lang, commands.RBankLinked, commands.Args{Account: domain.MaskIBAN(ibanCode)})}
		} else {
			job.Audit.Action, job.Audit.Detail = "bank unlink", msisdn+" "+domain.MaskIBAN(was)
		}
		return job, nil
	})
	return ibanCode, err
}

// LinkedBank returns the bank account linked to a subscriber ("" for none).
func (e *Engine) LinkedBank(msisdn string) (string, error) {
	b, _, err := e.l.Profile(msisdn)
	if err != nil || b == nil {
		return "", err
	}
	var p profile
	return p.BankIBAN, json.Unmarshal(b, &p)
}

// bankReason is the stable reason of a bank's decline.
func bankReason(code string) (domain.ErrorCode, string) {
	switch code {
	case "51":
		return domain.CodeInsufficientFunds, "insufficient funds"
	case "61":
		return domain.CodeLimitExceeded, "limit exceeded"
	case "14", "62":
		return domain.CodeAccountBlocked, "account closed or unknown"
	}
	return "bank_declined", "declined, code " + code
}

// errNoClearing: the ledger has no bank-clearing account and it could not be opened.
var errNoClearing = errors.New("no bank clearing account")

// clearing is the bank-clearing account of the currency, opened the first time.
func (e *Engine) clearing(ctx context.Context) (domain.Account, error) {
	if a, err := e.l.System(domain.KindBankClearing, e.cfg.Currency); err == nil {
		return a, nil
	}
	_, err := e.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: e.cfg.Currency, Kind: domain.KindBankClearing,
		Owner: "@clearing", Name: "Bank clearing"}}, Audit: &domain.Audit{Actor: "system", Action: "open bank clearing", Detail: e.cfg.Currency}})
	if err != nil && !errors.Is(err, domain.ErrAccountExists) {
		return domain.Account{}, fmt.Errorf("%w: %v", errNoClearing, err)
	}
	return e.l.System(domain.KindBankClearing, e.cfg.Currency)
}
