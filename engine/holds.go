package engine

import (
	"context"
	"errors"
	"strings"

	"mpg/commands"
	"mpg/ledger"
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
	var purse *ledger.Account
	for _, a := range e.l.AccountsOf(msisdn) {
		if a.Kind == ledger.KindPurse && a.Currency == e.cfg.Currency && a.Status != ledger.StatusClosed {
			purse = &a
		}
	}
	if purse == nil {
		return nil
	}
	lang := e.langOf(msisdn)
	money := func(v uint64) commands.Money {
		return commands.Money{Minor: v, Currency: e.cfg.Currency, Exponent: e.cfg.Exponent}
	}
	for _, held := range holds {
		payer, _ := e.l.Account(held.Debit)
		job := ledger.Job{Transfers: []ledger.Transfer{
			{ID: claimID(held.ID, 0), PendingID: held.ID, Flags: ledger.PostPending},
			{ID: claimID(held.ID, 1), Debit: held.Credit, Credit: purse.ID, Amount: held.Amount, Code: CodeClaim, Ref: held.ID.String()[:16]},
		}}
		job.Compose = func(v ledger.View, r *ledger.Result) ([]ledger.Message, error) {
			after, _ := v.Account(purse.ID)
			return []ledger.Message{{From: e.cfg.ShortCode, To: msisdn, Text: commands.Render(lang, commands.RClaimed,
				commands.Args{Amount: money(held.Amount), Party: commands.Mask(payer.Owner), Balance: money(uint64(max(0, after.Available()))),
					Ref: shortRef(r.Transfers[1])})}}, nil
		}
		_, err = e.l.Submit(ctx, job)
		var ref *ledger.RefusedError
		if errors.As(err, &ref) {
			if tell && ref.Reason == ledger.ErrLimitBalance {
				left := int(max(1, (held.Timestamp+int64(held.Timeout)-e.cfg.Now().UnixNano())/int64(24*3600e9)))
				e.l.Submit(ctx, ledger.Job{Messages: []ledger.Message{{From: e.cfg.ShortCode, To: msisdn, Text: commands.Render(lang, commands.RClaimWaiting,
					commands.Args{Amount: money(held.Amount), Party: commands.Mask(payer.Owner), N: left})}}})
			}
			continue
		}
		if err != nil {
			return err // the hold stays; the next message from this number claims it
		}
	}
	return nil
}

// ExpiryNotices is the ledger's expiry hook: when a hold lapses, the payer is told the money
// is back and the would-be payee that it is gone. It needs nothing but the configuration,
// so the ledger can have it from the moment it opens.
func ExpiryNotices(cfg Config) ledger.ExpiryHook {
	return func(p ledger.Transfer, v ledger.View) []ledger.Message {
		if p.Code != CodeHold || p.For == "" {
			return nil
		}
		lang, _, _ := strings.Cut(p.Ref, " ")
		l := commands.EN
		switch lang {
		case "FR":
			l = commands.FR
		case "ZH":
			l = commands.ZH
		}
		payer, ok := v.Account(p.Debit)
		if !ok {
			return nil
		}
		m := func(v uint64) commands.Money {
			return commands.Money{Minor: v, Currency: cfg.Currency, Exponent: cfg.Exponent}
		}
		return []ledger.Message{
			{From: cfg.ShortCode, To: payer.Owner, Text: commands.Render(l, commands.RRefunded, commands.Args{Amount: m(p.Amount),
				Party: commands.Mask(p.For), Balance: m(uint64(max(0, payer.Available()))), Ref: shortRef(p)})},
			{From: cfg.ShortCode, To: p.For, Text: commands.Render(l, commands.RLapsed, commands.Args{Amount: m(p.Amount), Party: commands.Mask(payer.Owner)})},
		}
	}
}
