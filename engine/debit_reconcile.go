package engine

import (
	"encoding/json"
	"strings"

	"mpg/domain"
)

// BankDiff is one difference between the bank's settlement and the ledger.
type BankDiff struct {
	Key, Payment string
	Bank, Ledger string // what each side says
	What         string
}

// ReconcileBank compares the bank's settlement lines with the ledger's mDebits. It
// returns every difference and how many debits it checked.
func (e *Engine) ReconcileBank(settled []domain.BankSettled) ([]BankDiff, int, error) {
	byKey := make(map[string]domain.BankSettled, len(settled))
	for _, s := range settled {
		byKey[s.Key] = s
	}
	var diffs []BankDiff
	seen := map[string]bool{}
	_, err := e.scan(keyBankKey, "", 1<<30, func(r domain.Profile) (bool, error) {
		key := strings.TrimPrefix(r.Owner, keyBankKey)
		var id string
		if json.Unmarshal(r.Data, &id) != nil {
			return true, nil
		}
		p, _, err := e.payment(id)
		if err != nil {
			return false, err
		}
		seen[key] = true
		s, inBank := byKey[key]
		bankSays := "nothing"
		switch {
		case inBank && s.Reversed:
			bankSays = "reversed"
		case inBank:
			bankSays = "settled " + domain.FormatAmount(s.Amount, s.Currency)
		}
		d := BankDiff{Key: key, Payment: id, Bank: bankSays, Ledger: string(p.State) + " " + domain.FormatAmount(p.Amount, p.Currency)}
		settledForReal := inBank && !s.Reversed
		switch {
		case p.State == domain.PaymentSentToBank && settledForReal:
			d.What = "in flight: the bank settled it, the ledger has not heard yet (the bank worker will settle it)"
		case p.State == domain.PaymentSentToBank:
			return true, nil // in flight, nothing settled yet: no difference
		case p.State == domain.PaymentCompleted && !settledForReal:
			d.What = "paid in the ledger, not settled by the bank"
		case p.State == domain.PaymentCompleted && s.Amount != p.Amount:
			d.What = "amounts differ"
		case p.State == domain.PaymentCompleted && s.Currency != p.Currency:
			d.What = "currencies differ"
		case p.State == domain.PaymentCompleted && p.Bank != nil && s.Account != p.Bank.Account:
			d.What = "accounts differ: the bank debited " + domain.MaskIBAN(s.Account) + ", the ledger asked " + domain.MaskIBAN(p.Bank.Account)
		case p.State != domain.PaymentCompleted && settledForReal:
			d.What = "settled by the bank, not paid in the ledger"
		default:
			return true, nil
		}
		diffs = append(diffs, d)
		return true, nil
	})
	for _, s := range settled {
		if !seen[s.Key] && !s.Reversed {
			diffs = append(diffs, BankDiff{Key: s.Key, Bank: "settled " + domain.FormatAmount(s.Amount, s.Currency), Ledger: "nothing",
				What: "settled by the bank, unknown to the ledger"})
		}
	}
	return diffs, len(seen), err
}
