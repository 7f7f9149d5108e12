package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	"mpg/domain"
)

// BankDiff is one difference between the bank's settlement and the ledger.
type BankDiff struct {
	Key, Payment string
	Bank, Ledger string // what each side says
	What         string
}

// ReconcileBank compares the bank's settlement lines with the ledger's mDebits and the
// credits of their refunds. It returns every difference and how many requests (RRNs) of
// the ledger it checked.
func (e *Engine) ReconcileBank(settled []domain.BankSettled) ([]BankDiff, int, error) {
	lines := make(map[string][]domain.BankSettled, len(settled))
	for _, s := range settled {
		lines[s.Key] = append(lines[s.Key], s)
	}
	var diffs []BankDiff
	seen := map[string]bool{}
	checked := 0
	_, err := e.scan(keyBankKey, "", 1<<30, func(r domain.Profile) (bool, error) {
		key := strings.TrimPrefix(r.Owner, keyBankKey)
		var id string
		if json.Unmarshal(r.Data, &id) != nil {
			return true, nil
		}
		rv, err := e.ledgerRequest(id, key)
		if err != nil {
			return false, err
		}
		seen[key] = true
		checked++
		if d, ok := compareRequest(rv, lines[key]); ok {
			d.Key, d.Payment = key, id
			diffs = append(diffs, d)
		}
		return true, nil
	})
	for _, s := range settled {
		if seen[s.Key] {
			continue
		}
		seen[s.Key] = true // one line per RRN, however often the bank settled it
		if n := settledCount(lines[s.Key]); n > 0 {
			what := "settled by the bank, unknown to the ledger"
			if s.Credit {
				what = "credit settled by the bank, unknown to the ledger"
			}
			if n > 1 {
				what += fmt.Sprintf(" (settled %d times)", n)
			}
			diffs = append(diffs, BankDiff{Key: s.Key, Bank: bankSays(lines[s.Key]), Ledger: "nothing", What: what})
		}
	}
	return diffs, checked, err
}

// ledgerRequest is what the ledger says of the request of an RRN: a payment's debit or
// refund credit, or a SEND's credit to its payee's bank account (an id with receiptRef).
func (e *Engine) ledgerRequest(id, key string) (request, error) {
	if rid, ok := strings.CutPrefix(id, receiptRef); ok {
		return e.receiptView(rid)
	}
	p, _, err := e.payment(id)
	if err != nil {
		return request{}, err
	}
	rv := requestView(&p, key)
	rv.account = e.l.Unseal(rv.account)
	return rv, nil
}

// request is what the ledger says of one RRN: a debit or a refund's credit.
type request struct {
	credit   bool
	state    string
	done     bool // debited (paid), or credited: the bank must have settled it once
	inFlight bool // no sure answer yet
	amount   uint64
	currency string
	account  string
}

// requestView finds the request of key in a payment: its debit, or one of its refunds.
func requestView(p *domain.Payment, key string) request {
	r := request{state: string(p.State), amount: p.Amount, currency: p.Currency}
	if p.Bank != nil {
		r.account = p.Bank.Account // sealed for its person: the caller opens it
	}
	if p.Bank != nil && p.Bank.Key == key {
		r.inFlight = p.State == domain.PaymentSentToBank
		r.done = p.State.Refundable() || p.State == domain.PaymentRefunded
		return r
	}
	for _, f := range p.Refunds {
		if f.Bank != nil && f.Bank.Key == key {
			r.credit, r.state, r.amount = true, "refund "+string(f.State), f.Amount
			r.inFlight, r.done = f.State == domain.RefundSentToBank, f.State == domain.RefundCredited
			return r
		}
	}
	r.state = "no request with this RRN"
	return r
}

func settledCount(lines []domain.BankSettled) int {
	n := 0
	for _, s := range lines {
		if !s.Reversed {
			n++
		}
	}
	return n
}

// bankSays is what the bank's lines of one RRN say.
func bankSays(lines []domain.BankSettled) string {
	var says []string
	for _, s := range lines {
		kind := "debit"
		if s.Credit {
			kind = "credit"
		}
		status := "settled"
		if s.Reversed {
			status = "reversed"
		}
		says = append(says, kind+" "+status+" "+domain.FormatAmount(s.Amount, s.Currency))
	}
	if len(says) == 0 {
		return "nothing"
	}
	return strings.Join(says, "; ")
}

// compareRequest says how the bank's lines of one RRN differ from the ledger's request.
func compareRequest(r request, lines []domain.BankSettled) (BankDiff, bool) {
	d := BankDiff{Bank: bankSays(lines), Ledger: r.state + " " + domain.FormatAmount(r.amount, r.currency)}
	n := settledCount(lines)
	var s domain.BankSettled
	for _, l := range lines {
		if !l.Reversed {
			s = l
		}
	}
	kind := map[bool]string{false: "debit", true: "refund credit"}[r.credit]
	switch {
	case n > 1:
		d.What = fmt.Sprintf("settled %d times by the bank: one %s", n, kind)
	case n == 1 && s.Credit != r.credit:
		d.What = "the bank settled a " + map[bool]string{false: "debit", true: "credit"}[s.Credit] + ", the ledger asked a " + kind
	case r.inFlight && n == 1:
		d.What = "in flight: the bank settled it, the ledger has not heard yet (the bank worker will settle it)"
	case r.inFlight:
		return d, false // in flight, nothing settled yet: no difference
	case r.done && n == 0 && r.credit:
		d.What = "refund credited in the ledger, missing from the bank's settlement"
	case r.done && n == 0:
		d.What = "paid in the ledger, not settled by the bank"
	case r.done && s.Amount != r.amount:
		d.What = "amounts differ"
	case r.done && s.Currency != r.currency:
		d.What = "currencies differ"
	case r.done && r.account != "" && s.Account != r.account:
		verb := map[bool]string{false: "debited", true: "credited"}[r.credit]
		d.What = "accounts differ: the bank " + verb + " " + domain.MaskIBAN(s.Account) + ", the ledger asked " + domain.MaskIBAN(r.account)
	case !r.done && n == 1 && r.credit:
		d.What = "credited by the bank, but the ledger gave the refund to the purse: paid twice"
	case !r.done && n == 1:
		d.What = "settled by the bank, not paid in the ledger"
	default:
		return d, false
	}
	return d, true
}
