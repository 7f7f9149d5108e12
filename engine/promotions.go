package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"mpg/domain"
	"mpg/promo"
)

// A merchant's promotion is a record (keyPromo), an entry in the merchant's list
// (keyMerchantPromos) and a budget account funded from the merchant's account when it is
// made. A payment that gets a discount pays the merchant from the buyer's purse and from
// the budget in one job, with the member's use of the promotion written at the version read
// and the promotion's record guarded at its version: racing payments cannot pass a member's
// limit (one of two writes of his use is refused and computed again), nor spend more than the
// budget (the ledger keeps it at or above zero; a payment the budget can no longer cover is
// computed again, without the discount), nor use a promotion ended meanwhile.
const (
	keyPromo          = "@pr:"  // + code: the promotion (promo.Promotion)
	keyMerchantPromos = "@prm:" // + merchant code + ":" + code: a merchant's promotions not ended
	keyEndedPromos    = "@pre:" // + merchant code + ":" + code: those ended (kept for their history)
	keyPromoUse       = "@pu:"  // + code + ":" + number: a member's use (promo.Use)
	// keyPromoGen + merchant code: written whenever one of the merchant's promotions is made
	// or ended; its version tells a payment whether its copy of the list is current.
	keyPromoGen = "@prg:"
	// maxPromosPerMerchant bounds what a payment reads to find its discount.
	maxPromosPerMerchant = 20
)

// Errors of the promotion API, in the merchant API's stable codes.
var (
	errPromoExists   = domain.PaymentErr(domain.CodeInvalidState, "a promotion with this code exists")
	errPromoNotFound = domain.PaymentErr(domain.CodeNotFound, "no such promotion")
	errPromoTooMany  = domain.PaymentErr(domain.CodeLimitExceeded, fmt.Sprintf("at most %d promotions of a merchant running or to come: end one first", maxPromosPerMerchant))
)

// promotion reads a promotion and the version read.
func (e *Engine) promotion(code string) (promo.Promotion, uint64, error) {
	var p promo.Promotion
	ver, found, err := e.record(keyPromo+strings.ToUpper(code), &p)
	if err == nil && !found {
		err = errPromoNotFound
	}
	return p, ver, err
}

// Promotions lists a merchant's promotions (merchant "": every merchant's, for operators),
// those running or to come first, then at most 1000 ended ones.
func (e *Engine) Promotions(merchant string) ([]promo.Promotion, error) {
	var out []promo.Promotion
	for _, prefix := range []string{keyMerchantPromos, keyEndedPromos} {
		_, err := e.scan(prefix+merchant, "", 1000, func(r domain.Profile) (bool, error) {
			code := r.Owner[strings.LastIndexByte(r.Owner, ':')+1:]
			p, _, err := e.promotion(code)
			if err == nil {
				out = append(out, p)
			}
			return true, err
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// livePromotions counts a merchant's promotions not ended.
func (e *Engine) livePromotions(merchant string) (int, error) {
	n := 0
	_, err := e.scan(keyMerchantPromos+merchant+":", "", maxPromosPerMerchant+1, func(domain.Profile) (bool, error) {
		n++
		return true, nil
	})
	return n, err
}

// CreatePromotion saves a merchant's promotion and funds its budget from the merchant's
// account. The audience rule is compiled now: a rule that cannot run is refused here, never
// at a payment.
func (e *Engine) CreatePromotion(ctx context.Context, merchant uint64, p promo.Promotion, actor string) (promo.Promotion, error) {
	m, err := e.l.Account(merchant)
	if err != nil || m.Kind != domain.KindMerchant {
		return p, domain.PaymentErr(domain.CodeNotFound, "no such merchant")
	}
	p.Code, p.Merchant, p.MerchantID = strings.ToUpper(p.Code), m.Owner, m.ID
	p.Created = e.cfg.Now().UnixNano()
	if p.Start == 0 {
		p.Start = p.Created
	}
	if err := p.Validate(); err != nil {
		return p, domain.PaymentErr(domain.CodeInvalidRequest, err.Error())
	}
	if _, _, err := e.promotion(p.Code); err == nil {
		return p, errPromoExists
	}
	if n, err := e.livePromotions(m.Owner); err != nil {
		return p, err
	} else if n >= maxPromosPerMerchant {
		return p, errPromoTooMany
	}
	budget, err := e.budgetAccount(ctx, m, p.Code)
	if err != nil {
		return p, err
	}
	p.Account = budget
	for try := 0; ; try++ {
		gen, err := e.promoGen(m.Owner)
		if err != nil {
			return p, err
		}
		job := domain.Job{
			Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: m.ID, Credit: budget, Amount: p.Budget, Code: domain.CodeBudget, Ref: p.Code}},
			Profiles: []domain.Profile{write(keyPromo+p.Code, p, 0),
				{Owner: keyMerchantPromos + m.Owner + ":" + p.Code, Data: indexEntry}, gen},
			Audit: &domain.Audit{Actor: actor, Action: "promotion create", Detail: p.Code + " " + domain.FormatAmount(p.Budget, e.cfg.Currency)},
		}
		_, err = e.l.Submit(ctx, job)
		e.promos.forget() // this daemon sees its own change at once
		switch {
		case errors.Is(err, domain.ErrInsufficientFunds):
			held := uint64(0)
			if a, err := e.l.Account(m.ID); err == nil {
				held = uint64(max(0, a.Available()))
			}
			return p, domain.PaymentErr(domain.CodeInsufficientFunds, fmt.Sprintf("the budget (%s) comes from the merchant's account, which holds %s",
				domain.FormatAmount(p.Budget, e.cfg.Currency), domain.FormatAmount(held, e.cfg.Currency)))
		case errors.Is(err, domain.ErrConflict) && try < maxTurns:
			if _, _, err := e.promotion(p.Code); err == nil {
				return p, errPromoExists
			}
			continue // another promotion of the merchant was made meanwhile
		}
		return p, err
	}
}

// promoGen is the write that marks a merchant's promotions changed: its list's version moves.
func (e *Engine) promoGen(merchant string) (domain.Profile, error) {
	_, ver, err := e.l.Profile(keyPromoGen + merchant)
	return domain.Profile{Owner: keyPromoGen + merchant, Data: indexEntry, Version: ver}, err
}

// budgetAccount opens a promotion's budget account (or finds the one a failed attempt left).
func (e *Engine) budgetAccount(ctx context.Context, m domain.Account, code string) (uint64, error) {
	owner := m.Owner + "/" + code
	find := func() uint64 {
		for _, a := range e.l.AccountsOf(owner) {
			if a.Kind == domain.KindPromoBudget && a.Currency == e.cfg.Currency {
				return a.ID
			}
		}
		return 0
	}
	if id := find(); id != 0 {
		return id, nil
	}
	_, err := e.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: e.cfg.Currency, Kind: domain.KindPromoBudget, Owner: owner, Name: "Promotion " + code}}})
	if err != nil && !errors.Is(err, domain.ErrAccountExists) {
		return 0, err
	}
	if id := find(); id != 0 {
		return id, nil
	}
	return 0, errors.New("no budget account")
}

// EndPromotion ends a merchant's promotion now (merchant 0: an operator) and gives back to
// the merchant what is left of its budget, in one job. A payment racing it either committed
// first (and the budget given back is what it left) or is computed again without it.
func (e *Engine) EndPromotion(ctx context.Context, merchant uint64, code, actor string) (promo.Promotion, error) {
	for try := 0; ; try++ {
		p, ver, err := e.promotion(code)
		if err != nil || (merchant != 0 && p.MerchantID != merchant) {
			return p, errPromoNotFound
		}
		if p.Ended != 0 {
			return p, nil
		}
		p.Ended = e.cfg.Now().UnixNano()
		left := int64(0)
		if b, err := e.l.Account(p.Account); err == nil {
			left = b.Available()
		}
		gen, err := e.promoGen(p.Merchant)
		if err != nil {
			return p, err
		}
		job := domain.Job{Profiles: []domain.Profile{write(keyPromo+p.Code, p, ver), gen,
			{Owner: keyMerchantPromos + p.Merchant + ":" + p.Code, Version: 1, Delete: true},
			{Owner: keyEndedPromos + p.Merchant + ":" + p.Code, Data: indexEntry}},
			Audit: &domain.Audit{Actor: actor, Action: "promotion end", Detail: p.Code}}
		if left > 0 {
			job.Transfers = []domain.Transfer{{ID: domain.NewID(), Debit: p.Account, Credit: p.MerchantID, Amount: uint64(left), Code: domain.CodeBudget, Ref: p.Code}}
		}
		_, err = e.l.Submit(ctx, job)
		e.promos.forget()
		if (errors.Is(err, domain.ErrConflict) || errors.Is(err, domain.ErrInsufficientFunds)) && try < maxTurns {
			continue // a payment used the budget meanwhile: what is left is less
		}
		return p, err
	}
}

// BudgetLeft is what a promotion's budget still holds.
func (e *Engine) BudgetLeft(p promo.Promotion) uint64 {
	b, err := e.l.Account(p.Account)
	if err != nil {
		return 0
	}
	return uint64(max(0, b.Available()))
}

// EndDuePromotions ends the promotions whose end passed, giving back what is left of their
// budgets (the daemon's sweep, once a minute): a budget is never locked past its promotion.
// It reads at most 1000 live promotions a call and returns how many it ended.
func (e *Engine) EndDuePromotions(ctx context.Context) (int, error) {
	now, n := e.cfg.Now().UnixNano(), 0
	var due []string
	_, err := e.scan(keyMerchantPromos, "", 1000, func(r domain.Profile) (bool, error) {
		code := r.Owner[strings.LastIndexByte(r.Owner, ':')+1:]
		if p, _, err := e.promotion(code); err == nil && p.End != 0 && p.End <= now {
			due = append(due, code)
		}
		return true, nil
	})
	for _, code := range due {
		if _, err := e.EndPromotion(ctx, 0, code, "system"); err != nil {
			return n, err
		}
		n++
	}
	return n, err
}
