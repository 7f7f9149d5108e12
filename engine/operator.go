package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"mpg/commands"
	"mpg/domain"
)

// Operator commands: what customer care does to a subscriber's purse. Each is one ledger
// job with an audit entry naming the operator, runs under the subscriber's lock like an SMS
// of theirs, writes the profile only at the version it read, and tells the subscriber by SMS.

// ErrNoKey is returned by an operator command that needs a server key the configuration
// does not hold.
var ErrNoKey = errors.New("this command needs the PIN and receipt keys: engine.pin_key_file and engine.receipt_key_file in mpg.toml, MPG_PIN_KEY and MPG_RECEIPT_KEY, or the running daemon (README, Keys)")

// Operator errors the CLI shows as they are.
var (
	ErrNoPurse     = errors.New("no e-purse for this number")
	ErrHasBalance  = errors.New("the purse still holds money: close it with --payout to pay it out first")
	ErrNotReversed = errors.New("this transfer cannot be reversed")
)

// opTurn runs an operator change on one subscriber: read purse and profile, let f build
// the job, submit it; a profile changed meanwhile is read again.
func (e *Engine) opTurn(ctx context.Context, msisdn string, f func(purse *domain.Account, p *profile, ver uint64) (domain.Job, error)) (domain.Result, error) {
	mu := e.lock(msisdn)
	mu.Lock()
	defer mu.Unlock()
	for try := 0; ; try++ {
		var purse *domain.Account
		for _, a := range e.l.AccountsOf(msisdn) {
			if a.Kind == domain.KindPurse && a.Currency == e.cfg.Currency {
				purse = &a
			}
		}
		b, ver, err := e.l.Profile(msisdn)
		if err != nil {
			return domain.Result{}, err
		}
		var p profile
		if b != nil {
			if err := json.Unmarshal(b, &p); err != nil {
				return domain.Result{}, fmt.Errorf("profile of %s: %w", msisdn, err)
			}
		}
		job, err := f(purse, &p, ver)
		if err != nil {
			return domain.Result{}, err
		}
		res, err := e.l.Submit(ctx, job)
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return res, err
	}
}

func (e *Engine) profileWrite(msisdn string, p *profile, ver uint64) domain.Profile {
	b, _ := json.Marshal(p)
	return domain.Profile{Owner: msisdn, Data: b, Version: ver}
}

func (e *Engine) sms(to string, l commands.Lang, r commands.Reply, a commands.Args) domain.Message {
	if a.Currency == "" {
		a.Currency = e.cfg.Currency
	}
	return domain.Message{From: e.cfg.ShortCode, To: to, Text: commands.Render(l, r, a)}
}

func (e *Engine) money(v uint64) domain.Money {
	return domain.Money{Minor: v, Currency: e.cfg.Currency, Exponent: e.cfg.Exponent}
}

// activationFor draws a one-time code to set a PIN and the record that checks it.
func (e *Engine) activationFor(msisdn string) (string, *activation, error) {
	if len(e.cfg.PINKey) < 16 {
		return "", nil, ErrNoKey
	}
	code, err := oneTimeCode()
	if err != nil {
		return "", nil, err
	}
	return code, &activation{CodeMAC: e.pinMAC(msisdn, "activate:"+code), Expires: e.cfg.Now().Add(e.cfg.ActivationFor).UnixNano()}, nil
}

// OpenPurse opens a purse at the counter and texts the subscriber a one-time code with which
// they set their own PIN (`PIN <code> <new pin>`): the agent never knows the PIN.
func (e *Engine) OpenPurse(ctx context.Context, actor, msisdn, name string, tier uint8) (domain.Account, error) {
	res, err := e.opTurn(ctx, msisdn, func(purse *domain.Account, p *profile, ver uint64) (domain.Job, error) {
		if purse != nil {
			return domain.Job{}, fmt.Errorf("%s already has purse %d", msisdn, purse.ID)
		}
		code, act, err := e.activationFor(msisdn)
		if err != nil {
			return domain.Job{}, err
		}
		p.Activation, p.PINMAC, p.Fails, p.LockedUntil, p.Lockouts = act, "", 0, 0, 0
		msg, err := e.sealedMessage(e.sms(msisdn, p.Lang, commands.RActivate, commands.Args{Code: secretMark, N: int(e.cfg.ActivationFor.Hours())}), code)
		if err != nil {
			return domain.Job{}, err
		}
		return domain.Job{
			Open:     []domain.AccountSpec{{Currency: e.cfg.Currency, Kind: domain.KindPurse, Owner: msisdn, Name: name, Tier: tier}},
			Profiles: []domain.Profile{e.profileWrite(msisdn, p, ver)},
			Messages: []domain.Message{msg},
			Audit:    &domain.Audit{Actor: actor, Action: "account open", Detail: fmt.Sprintf("%s tier %d", msisdn, tier)},
		}, nil
	})
	if err != nil {
		return domain.Account{}, err
	}
	return res.Accounts[0], nil
}

// ResetPIN replaces a forgotten PIN: the old one stops working at once, the subscriber gets a
// one-time code to set a new one, and any lockout ends.
func (e *Engine) ResetPIN(ctx context.Context, actor, msisdn string) error {
	_, err := e.opTurn(ctx, msisdn, func(purse *domain.Account, p *profile, ver uint64) (domain.Job, error) {
		if purse == nil {
			return domain.Job{}, ErrNoPurse
		}
		code, act, err := e.activationFor(msisdn)
		if err != nil {
			return domain.Job{}, err
		}
		act.Reset = true
		p.Activation, p.PINMAC, p.Fails, p.LockedUntil, p.Lockouts = act, "", 0, 0, 0
		msg, err := e.sealedMessage(e.sms(msisdn, p.Lang, commands.RActivate, commands.Args{Code: secretMark, N: int(e.cfg.ActivationFor.Hours())}), code)
		if err != nil {
			return domain.Job{}, err
		}
		return domain.Job{
			Profiles: []domain.Profile{e.profileWrite(msisdn, p, ver)},
			Messages: []domain.Message{msg},
			Audit:    &domain.Audit{Actor: actor, Action: "pin reset", Detail: msisdn},
			Facts:    []domain.Fact{{Kind: domain.FactPINReset, Payer: purse.ID, Local: 255}},
		}, nil
	})
	return err
}

// Unlock ends a PIN lockout, the permanent one too.
func (e *Engine) Unlock(ctx context.Context, actor, msisdn string) error {
	_, err := e.opTurn(ctx, msisdn, func(purse *domain.Account, p *profile, ver uint64) (domain.Job, error) {
		if purse == nil {
			return domain.Job{}, ErrNoPurse
		}
		p.Fails, p.LockedUntil, p.Lockouts = 0, 0, 0
		return domain.Job{
			Profiles: []domain.Profile{e.profileWrite(msisdn, p, ver)},
			Messages: []domain.Message{e.sms(msisdn, p.Lang, commands.RUnlocked, commands.Args{})},
			Audit:    &domain.Audit{Actor: actor, Action: "pin unlock", Detail: msisdn},
		}, nil
	})
	return err
}

// SetTier moves a purse to another KYC tier (the ledger applies the new limits from the
// next transfer), tells the subscriber, and claims what was held for them and now fits.
func (e *Engine) SetTier(ctx context.Context, actor, msisdn string, tier uint8) error {
	lim, ok := e.cfg.Tiers[tier]
	if !ok {
		return fmt.Errorf("tier %d is not configured (engine.tiers)", tier)
	}
	_, err := e.opTurn(ctx, msisdn, func(purse *domain.Account, p *profile, _ uint64) (domain.Job, error) {
		if purse == nil {
			return domain.Job{}, ErrNoPurse
		}
		return domain.Job{
			Tiers:    []domain.TierChange{{Account: purse.ID, Tier: tier}},
			Messages: []domain.Message{e.sms(msisdn, p.Lang, commands.RTierChanged, commands.Args{N: int(tier), Limit: e.money(lim.PerTx), Amount: e.money(lim.Daily)})},
			Audit:    &domain.Audit{Actor: actor, Action: "account tier", Detail: fmt.Sprintf("%s tier %d", msisdn, tier)},
		}, nil
	})
	if err != nil {
		return err
	}
	return e.Claim(ctx, msisdn)
}

// Topup credits a purse from the float (cash-in); the tier's maximum balance applies.
func (e *Engine) Topup(ctx context.Context, actor, msisdn string, amount uint64, ref string) (domain.Transfer, error) {
	float, err := e.l.System(domain.KindFloat, e.cfg.Currency)
	if err != nil {
		return domain.Transfer{}, err
	}
	res, err := e.opTurn(ctx, msisdn, func(purse *domain.Account, p *profile, _ uint64) (domain.Job, error) {
		if purse == nil {
			return domain.Job{}, ErrNoPurse
		}
		lang, id, tid := p.Lang, purse.ID, domain.NewID()
		now := e.cfg.Now().UnixNano()
		rec := &domain.Payment{ID: tid.String(), Product: domain.ProductTopup, Merchant: purse.ID, MerchantName: domain.Mask(msisdn),
			Channel: domain.ChannelOperator, MSISDN: msisdn, Amount: amount, Currency: e.cfg.Currency, Reference: ref,
			State: domain.PaymentCompleted, Created: now, Updated: now, Expires: now, Transfer: tid.String(), Debited: float.ID}
		return e.paymentJob(rec, 0, "", domain.Job{
			Transfers: []domain.Transfer{{ID: tid, Debit: float.ID, Credit: purse.ID, Amount: amount, Code: domain.CodeTopup, Ref: ref}},
			Audit:     &domain.Audit{Actor: actor, Action: "account topup", Detail: msisdn + " " + domain.FormatAmount(amount, e.cfg.Currency)},
			Compose: func(v domain.View, r *domain.Result) ([]domain.Message, error) {
				after, _ := v.Account(id)
				return []domain.Message{e.sms(msisdn, lang, commands.RToppedUp, commands.Args{Amount: e.money(amount),
					Balance: e.money(uint64(max(0, after.Available()))), Ref: shortRef(r.Transfers[0])})}, nil
			},
		}, actor, false)
	})
	if err != nil {
		return domain.Transfer{}, err
	}
	return res.Transfers[0], nil
}

// ClosePurse closes a purse for good. With payout the balance goes back to the float (the
// cash handed over at the counter) in the same step; without, a purse holding money is
// refused. Pending transfers (a reservation, a hold) must end first: the ledger refuses.
func (e *Engine) ClosePurse(ctx context.Context, actor, msisdn string, payout bool) (uint64, error) {
	float, err := e.l.System(domain.KindFloat, e.cfg.Currency)
	if err != nil {
		return 0, err
	}
	var paid uint64
	_, err = e.opTurn(ctx, msisdn, func(purse *domain.Account, p *profile, _ uint64) (domain.Job, error) {
		if purse == nil {
			return domain.Job{}, ErrNoPurse
		}
		// Read untouched since: money paid in meanwhile computes the close again.
		job := domain.Job{Audit: &domain.Audit{Actor: actor, Action: "account close", Detail: msisdn},
			Untouched: []domain.AccountAt{{ID: purse.ID, LastSeq: purse.LastSeq}}}
		paid = uint64(max(0, purse.Available()))
		if paid > 0 {
			if !payout {
				return domain.Job{}, fmt.Errorf("%w (%s)", ErrHasBalance, domain.FormatAmount(paid, e.cfg.Currency))
			}
			job.Transfers = []domain.Transfer{{ID: domain.NewID(), Debit: purse.ID, Credit: float.ID, Amount: paid, Code: domain.CodePayout, Flags: domain.Exempt}}
		}
		// Unblocked (a payout may leave a blocked purse), paid out, closed: one job (the
		// ledger applies a close after the job's transfers).
		job.Status = []domain.StatusChange{{Account: purse.ID, Status: domain.StatusClosed}}
		if purse.Status == domain.StatusBlocked && paid > 0 {
			job.Status = append([]domain.StatusChange{{Account: purse.ID, Status: domain.StatusActive}}, job.Status...)
		}
		job.Messages = []domain.Message{e.sms(msisdn, p.Lang, commands.RClosedNotice, commands.Args{Amount: e.money(paid)})}
		return job, nil
	})
	return paid, err
}

// reversalID derives the id of a reversal of a transfer that paid no payment record: reversing
// twice is the same transfer, which the ledger answers as already done.
func reversalID(of domain.ID) domain.ID { return claimID(of, 'r') }

// ErrAlreadyReversed: an operator asked to reverse what was reversed before.
var ErrAlreadyReversed = errors.New("this payment was reversed already")

// Reverse undoes a payment by a compensating transfer (never an edit), once. A transfer that
// paid a payment record reverses the payment: giveBack, under the one cap it shares with the
// merchant's refunds (what was refunded already is not given back twice), on the record and
// in its webhook. Any other transfer (a fee, a claim, one from before payments had records)
// is given back from payee to payer. The payer's maximum balance applies; the limits do not
// (it is not a spend). Both sides are told.
func (e *Engine) Reverse(ctx context.Context, actor string, tr domain.Transfer) (domain.Transfer, error) {
	if tr.Code == domain.CodeReversal || tr.Code == domain.CodeRefund || tr.Flags&domain.VoidPending != 0 {
		return domain.Transfer{}, fmt.Errorf("%w: %s is a %s transfer", ErrNotReversed, tr.ID, tr.Flags)
	}
	p, _, found, err := e.paymentOf(tr) // the payer's receipt of a held SEND names its hold
	if err != nil {
		return domain.Transfer{}, err
	}
	if !found && (tr.Flags&domain.Pending != 0 || tr.Amount == 0 || tr.Code == domain.CodeClaim) {
		return domain.Transfer{}, fmt.Errorf("%w: %s is a %s transfer", ErrNotReversed, tr.ID, tr.Flags)
	}
	if found {
		return e.ReversePayment(ctx, actor, p.ID)
	}
	if tr.Currency == domain.PointsAsset { // points move with their payment, never on their own
		return domain.Transfer{}, fmt.Errorf("%w: %s moves loyalty points: reverse the payment it belongs to", ErrNotReversed, tr.ID)
	}
	return e.reverseTransfer(ctx, actor, tr)
}

// ReversePayment reverses a payment named by its id: what its refunds left goes back, once.
// It returns the first transfer that gave it back.
func (e *Engine) ReversePayment(ctx context.Context, actor, id string) (domain.Transfer, error) {
	_, r, _, err := e.RefundPayment(ctx, RefundRequest{PaymentID: id, Actor: actor, Kind: domain.Reversal})
	if domain.CodeOf(err) == domain.CodeAlreadyReversed {
		return domain.Transfer{}, ErrAlreadyReversed
	}
	if err != nil {
		return domain.Transfer{}, err
	}
	tid, _ := domain.ParseID(r.Transfer)
	return e.l.Transfer(tid)
}

// reverseTransfer gives back a transfer that paid no payment record, once.
func (e *Engine) reverseTransfer(ctx context.Context, actor string, tr domain.Transfer) (domain.Transfer, error) {
	if _, err := e.l.Transfer(reversalID(tr.ID)); err == nil {
		return domain.Transfer{}, ErrAlreadyReversed
	}
	payer, err := e.l.Account(tr.Debit)
	if err != nil {
		return domain.Transfer{}, err
	}
	payee, err := e.l.Account(tr.Credit)
	if err != nil {
		return domain.Transfer{}, err
	}
	rev := domain.Transfer{ID: reversalID(tr.ID), Debit: tr.Credit, Credit: tr.Debit, Amount: tr.Amount, Code: domain.CodeReversal,
		Flags: domain.Exempt, Ref: "rev " + shortRef(tr)}
	payerLang, payeeLang := e.langOf(payer.Owner), e.langOf(payee.Owner)
	job := domain.Job{Transfers: []domain.Transfer{rev},
		Audit: &domain.Audit{Actor: actor, Action: "transfer reverse", Detail: tr.ID.String()}}
	job.Compose = func(v domain.View, r *domain.Result) ([]domain.Message, error) {
		if r.Existed[0] {
			return nil, nil // a racing reversal won: nobody is told twice
		}
		var out []domain.Message
		a := commands.Args{Amount: e.money(tr.Amount), Ref: shortRef(tr)}
		if after, ok := v.Account(payer.ID); ok && after.Kind == domain.KindPurse {
			a.Balance = e.money(uint64(max(0, after.Available())))
			out = append(out, e.sms(payer.Owner, payerLang, commands.RReversedIn, a))
		}
		return append(out, e.payeeReversed(payee, tr.Amount, v, payeeLang, shortRef(tr))...), nil
	}
	res, err := e.l.Submit(ctx, job)
	if err != nil {
		return domain.Transfer{}, err
	}
	if res.Existed[0] {
		return domain.Transfer{}, ErrAlreadyReversed
	}
	return res.Transfers[0], nil
}

// Found is a transfer found by what a subscriber reads out.
type Found struct {
	Transfer domain.Transfer
	Receipt  string // its receipt code, when the key is at hand
	How      string // what matched: receipt, ref, id
}

// maxFindScan bounds the history read when searching by reference.
const maxFindScan = 10000

// Find looks a transfer up by a receipt code (checked with the key), a transfer id, the short
// reference from a reply, or a merchant reference; the last two within the history of the
// owner (a number or a merchant code), newest first, at most maxFindScan transfers.
func (e *Engine) Find(what, owner string) ([]Found, error) {
	what = strings.TrimSpace(what)
	if tr, ok := e.verifyReceipt(what); ok {
		return []Found{{Transfer: tr, Receipt: e.receipt(tr), How: "receipt"}}, nil
	}
	if id, err := domain.ParseID(what); err == nil {
		tr, err := e.l.Transfer(id)
		if err != nil {
			return nil, err
		}
		return []Found{e.found(tr, "id")}, nil
	}
	if owner == "" {
		return nil, errors.New("not a genuine receipt code: to search by reference, name the subscriber or merchant (--owner)")
	}
	var out []Found
	for _, a := range e.l.AccountsOf(owner) {
		h, err := e.l.History(a.ID, maxFindScan, 0)
		if err != nil {
			return nil, err
		}
		for _, tr := range h {
			switch {
			case strings.EqualFold(shortRef(tr), what):
				out = append(out, e.found(tr, "ref"))
			case tr.Ref != "" && strings.EqualFold(tr.Ref, what):
				out = append(out, e.found(tr, "merchant ref"))
			}
		}
	}
	return out, nil
}

func (e *Engine) found(tr domain.Transfer, how string) Found {
	f := Found{Transfer: tr, How: how}
	if len(e.cfg.ReceiptKey) >= 16 {
		f.Receipt = e.receipt(tr)
	}
	return f
}

// CheckReceipt says whether a receipt code is genuine, and which transfer it names.
func (e *Engine) CheckReceipt(code string) (domain.Transfer, bool, error) {
	if len(e.cfg.ReceiptKey) < 16 {
		return domain.Transfer{}, false, ErrNoKey
	}
	tr, ok := e.verifyReceipt(code)
	return tr, ok, nil
}

// State is what an operator sees of a subscriber's profile: never the PIN's MAC.
type State struct {
	HasPIN         bool   `json:"has_pin"`
	Lang           string `json:"lang"`
	Fails          int    `json:"wrong_pins"`
	LockedUntil    int64  `json:"locked_until_unix_nano,omitempty"`
	LockedForever  bool   `json:"locked_until_unlocked,omitempty"`
	Lockouts       int    `json:"lockouts,omitempty"`
	AwaitingCode   bool   `json:"awaiting_one_time_code,omitempty"`
	PendingConfirm bool   `json:"payment_awaiting_yes,omitempty"`
}

// StateOf reads a subscriber's profile for `ledger show`.
func (e *Engine) StateOf(msisdn string) (State, bool, error) {
	b, _, err := e.l.Profile(msisdn)
	if err != nil || b == nil {
		return State{}, false, err
	}
	var p profile
	if err := json.Unmarshal(b, &p); err != nil {
		return State{}, false, err
	}
	now := e.cfg.Now().UnixNano()
	st := State{HasPIN: p.PINMAC != "", Lang: p.Lang.String(), Fails: p.Fails, Lockouts: p.Lockouts,
		AwaitingCode: p.Activation != nil && p.Activation.Expires > now, PendingConfirm: p.Confirm != nil && p.Confirm.Expires > now}
	if p.LockedUntil == lockedForever {
		st.LockedForever = true
	} else if p.LockedUntil > now {
		st.LockedUntil = p.LockedUntil
	}
	return st, true, nil
}

// ReceiptOf is the receipt code of a transfer (for the CLI's `find`).
func (e *Engine) ReceiptOf(tr domain.Transfer) string { return e.receipt(tr) }

// ErrSameStatus: the purse already has the status asked for.
var ErrSameStatus = errors.New("the purse already has this status")

// SetPurseStatus blocks a purse (no payment out until unblocked) or unblocks it.
func (e *Engine) SetPurseStatus(ctx context.Context, actor, msisdn string, to domain.Status) error {
	verb := map[domain.Status]string{domain.StatusBlocked: "block", domain.StatusActive: "unblock"}[to]
	if verb == "" {
		return fmt.Errorf("a purse is blocked or unblocked here, not %s", to)
	}
	_, err := e.opTurn(ctx, msisdn, func(purse *domain.Account, _ *profile, _ uint64) (domain.Job, error) {
		switch {
		case purse == nil:
			return domain.Job{}, ErrNoPurse
		case purse.Status == to:
			return domain.Job{}, ErrSameStatus
		}
		return domain.Job{Status: []domain.StatusChange{{Account: purse.ID, Status: to}},
			Audit: &domain.Audit{Actor: actor, Action: "account " + verb, Detail: msisdn}}, nil
	})
	return err
}
