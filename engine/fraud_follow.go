package engine

import (
	"mpg/domain"
	"mpg/fraud"
)

// The statistics follower also keeps the fraud rules' counters: each fact it reads is an
// event in the payer's activity and in the payee's (and wrong codes in the service's),
// written in the same job as its position, with that position (riskRecord.Seq).

// riskPass is the activities one pass touched, read at their versions.
type riskPass struct {
	e     *Engine
	acts  map[string]*versioned[riskRecord]                   // payees' and the service's
	payer func(purse uint64) (*versioned[payerRecord], error) // a payer's record, shared with the statistics
}

// activity reads an activity into the pass once.
func (r *riskPass) activity(key string) (*versioned[riskRecord], bool, error) {
	if a, ok := r.acts[key]; ok {
		return a, false, nil
	}
	a := &versioned[riskRecord]{}
	var err error
	a.v, a.ver, err = r.e.readRisk(key)
	r.acts[key] = a
	return a, true, err
}

// observe folds one event into an account's activity; it says whether the activity is new
// to the pass (one more record to write).
func (r *riskPass) observe(key string, ev fraud.Event) (bool, error) {
	a, fresh, err := r.activity(key)
	if err == nil {
		a.v.A.Observe(ev)
	}
	return fresh, err
}

// events are what a fact is to each side: the payer's, the payee's and the service's.
func factEvents(f domain.Fact, t int64) (payer, payee, service *fraud.Event) {
	ev := fraud.Event{Time: t, Amount: f.Amount, Product: f.Product, Channel: f.Channel, Local: f.Local}
	switch f.Kind {
	case domain.FactPaid:
		ev.Kind = fraud.Paid
	case domain.FactRefused:
		ev.Kind = fraud.Refused
	case domain.FactHeld:
		ev.Kind = fraud.Held
	case domain.FactRefund:
		ev.Kind = fraud.Refund
		to := ev
		to.Counterparty = f.Payer
		return nil, &to, nil // the merchant's refunds: its refund ratio
	case domain.FactWrongPIN:
		ev.Kind = fraud.WrongPIN
		all := ev
		all.Counterparty = f.Payer
		var to *fraud.Event
		if f.Payee != 0 {
			to = &all
		}
		return &ev, to, &all
	case domain.FactPINReset:
		ev.Kind = fraud.PINReset
		return &ev, nil, nil
	default:
		return nil, nil, nil
	}
	from, to := ev, ev
	from.Counterparty, to.Counterparty = f.Payee, f.Payer
	return &from, &to, nil
}

// fold adds one journal entry to the pass's activities; it returns the records it added
// (a payer's record is counted by the statistics pass that reads it).
func (r *riskPass) fold(en domain.JournalEntry) (int, error) {
	if en.Tier != nil {
		return 0, r.observePayer(en.Tier.Account, fraud.Event{Time: en.Time, Kind: fraud.TierChange, Local: 255})
	}
	if en.Fact == nil {
		return 0, nil
	}
	payer, payee, service := factEvents(*en.Fact, en.Time)
	if payer != nil && en.Fact.Payer != 0 {
		if err := r.observePayer(en.Fact.Payer, *payer); err != nil {
			return 0, err
		}
	}
	n := 0
	for _, side := range []struct {
		key string
		ev  *fraud.Event
		id  uint64
	}{{paidKey(en.Fact.Payee), payee, en.Fact.Payee}, {keyRiskAll, service, 1}} {
		if side.ev == nil || side.id == 0 {
			continue
		}
		fresh, err := r.observe(side.key, *side.ev)
		if err != nil {
			return n, err
		}
		n += b2i(fresh)
	}
	return n, nil
}

// observePayer folds an event into what a purse has paid, in its payer's record.
func (r *riskPass) observePayer(purse uint64, ev fraud.Event) error {
	m, err := r.payer(purse)
	if err == nil {
		m.v.Risk.A.Observe(ev)
	}
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writes adds the pass's activities to its job, each folded up to position next.
func (r *riskPass) writes(job domain.Job, next uint64) domain.Job {
	for key, a := range r.acts {
		a.v.Seq = next
		job.Profiles = append(job.Profiles, domain.Profile{Owner: key, Data: a.v.encode(), Version: a.ver})
	}
	return job
}
