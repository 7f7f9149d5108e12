package ledger

import (
	"mpg/domain"
	"strconv"
)

// The rules that protect a subscriber's purse are checked by the writer in the same step as
// the transfer they judge, against the working balances of that moment: never from a
// snapshot a caller took earlier. Concurrent payments, registrations and admin actions
// therefore cannot walk around them.

// maxSpends bounds the entries kept per purse (domain.AddSpend merges beyond it).
const maxSpends = 48

// releaseSpend takes a released reservation (made at `at`) out of the window at time now:
// from the entry that holds it, the first at or after its time (entries only ever merge
// forwards). A reservation older than the window has left it already; if it was merged into
// a later entry, that entry keeps counting it a little longer, never shorter.
func releaseSpend(spends []domain.Spend, at int64, amount uint64, now int64) []domain.Spend {
	if amount == 0 || at <= now-int64(domain.SpendWindow) {
		return spends
	}
	out := append([]domain.Spend(nil), spends...)
	for i := range out {
		if out[i].At >= at {
			out[i].Amount -= min(out[i].Amount, amount)
			break
		}
	}
	return out
}

// tierOf returns the rules of a purse, and whether any apply.
func (w *batchWriter) tierOf(a *account) (domain.TierLimits, bool, error) {
	tiers := w.l.opt.Tiers
	if tiers == nil || a.Kind != domain.KindPurse {
		return domain.TierLimits{}, false, nil
	}
	t, ok := tiers[a.wTier]
	if !ok {
		return domain.TierLimits{}, false, refuse(domain.ErrInvalid, -1, "tier %d of account %d is not configured", a.wTier, a.ID)
	}
	return t, true, nil
}

// checkRules applies the tier rules to a new single or pending transfer: the debit side's
// per-payment and rolling 24-hour limits (unless the transfer is Exempt), and the credit
// side's maximum balance. It returns whether the debit counts as a spend.
func (ja *jobApply) checkRules(i int, t *domain.Transfer, dr, cr *account) (bool, error) {
	spend := false
	if lim, ok, err := ja.w.tierOf(dr); err != nil {
		return false, withIndex(err, i)
	} else if ok && t.Flags&domain.Exempt == 0 {
		if !lim.MaySend && (cr.Kind == domain.KindPurse || t.For != "") {
			return false, &domain.RefusedError{Reason: domain.ErrTierCannotSend, Index: i, Detail: "account " + strconv.FormatUint(dr.ID, 10) + " tier " + strconv.FormatUint(uint64(dr.wTier), 10)}
		}
		if lim.PerPayment > 0 && t.Amount > lim.PerPayment {
			return false, &domain.RefusedError{Reason: domain.ErrLimitPerPayment, Index: i, Room: lim.PerPayment,
				Detail: "account " + strconv.FormatUint(dr.ID, 10)}
		}
		if lim.Daily > 0 {
			spent := domain.SpentSince(dr.wSpend, ja.now)
			if spent+t.Amount > lim.Daily || spent+t.Amount < spent {
				return false, &domain.RefusedError{Reason: domain.ErrLimitDaily, Index: i, Room: lim.Daily - min(lim.Daily, spent),
					Detail: "account " + strconv.FormatUint(dr.ID, 10)}
			}
		}
		spend = lim.Daily > 0 // only a daily limit needs the window
	}
	if lim, ok, err := ja.w.tierOf(cr); err != nil {
		return false, withIndex(err, i)
	} else if ok && lim.MaxBalance > 0 {
		// Money on its way in (pending credits) counts; money on its way out does not.
		in, ok1 := add3(cr.wBal.CreditsPosted, cr.wBal.CreditsPending, t.Amount)
		held := in - min(in, cr.wBal.DebitsPosted)
		if !ok1 || held > lim.MaxBalance {
			before := cr.wBal.CreditsPosted + cr.wBal.CreditsPending - min(cr.wBal.CreditsPosted+cr.wBal.CreditsPending, cr.wBal.DebitsPosted)
			return false, &domain.RefusedError{Reason: domain.ErrLimitBalance, Index: i, Room: lim.MaxBalance - min(lim.MaxBalance, before),
				Detail: "account " + strconv.FormatUint(cr.ID, 10)}
		}
	}
	return spend, nil
}

func withIndex(err error, i int) error {
	if r, ok := err.(*domain.RefusedError); ok {
		c := *r
		c.Index = i
		return &c
	}
	return err
}
