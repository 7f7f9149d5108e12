package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"mpg/domain"
	"mpg/loyalty"
)

// A merchant may set its own earning rule and what a point pays at it (the merchant API's
// PUT /v1/loyalty), beside the configuration's: its rule comes before the general ones for
// payments to it, its worth replaces the configured one.
const keyMerchantLoyalty = "@lr:" // + merchant code

// MerchantLoyalty is a merchant's own points rule.
type MerchantLoyalty struct {
	PerUnit    uint64   `json:"per_unit"`              // points per whole unit of money paid to it
	Products   []string `json:"products,omitempty"`    // of pay, bill, debit, credit; empty: all four
	BonusDays  []int    `json:"bonus_days,omitempty"`  // 0 (Sunday) to 6
	BonusTimes uint64   `json:"bonus_times,omitempty"` // the multiplier on those days
	PointWorth uint64   `json:"point_worth"`           // minor units a point pays at it; 0: it takes none
}

// SetMerchantLoyalty saves a merchant's own points rule, checked as the configuration's are.
func (e *Engine) SetMerchantLoyalty(ctx context.Context, merchant uint64, ml MerchantLoyalty, actor string) error {
	if !e.loyal() {
		return domain.PaymentErr(domain.CodeInvalidState, "no loyalty programme runs on this service")
	}
	m, err := e.l.Account(merchant)
	if err != nil || (m.Kind != domain.KindMerchant && m.Kind != domain.KindBiller) {
		return domain.PaymentErr(domain.CodeNotFound, "no such merchant")
	}
	if most := ml.PerUnit * max(1, ml.BonusTimes); ml.PerUnit > loyalty.MaxPerUnit || most > e.cfg.Loyalty.MerchantMax {
		return domain.PaymentErr(domain.CodeInvalidRequest, fmt.Sprintf("at most %d points per 1.00, bonus included", e.cfg.Loyalty.MerchantMax))
	}
	for _, d := range ml.BonusDays {
		if d < 0 || d > 6 {
			return domain.PaymentErr(domain.CodeInvalidRequest, "bonus_days: 0 (Sunday) to 6")
		}
	}
	if err := e.withMerchantRule(m.Owner, ml).Validate(); err != nil {
		return domain.PaymentErr(domain.CodeInvalidRequest, err.Error())
	}
	var old MerchantLoyalty
	ver, _, err := e.record(keyMerchantLoyalty+m.Owner, &old)
	if err != nil {
		return err
	}
	_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(keyMerchantLoyalty+m.Owner, ml, ver)},
		Audit: &domain.Audit{Actor: actor, Action: "merchant loyalty", Detail: m.Owner}})
	return err
}

// MerchantLoyaltyOf is the points rule that applies to a merchant's payments: its own (own
// true), else the service's as it applies to it.
func (e *Engine) MerchantLoyaltyOf(merchant uint64) (MerchantLoyalty, bool, error) {
	var ml MerchantLoyalty
	m, err := e.l.Account(merchant)
	if err != nil {
		return ml, false, domain.PaymentErr(domain.CodeNotFound, "no such merchant")
	}
	_, found, err := e.record(keyMerchantLoyalty+m.Owner, &ml)
	if err != nil || found || !e.loyal() {
		return ml, found, err
	}
	prog := e.cfg.Loyalty
	for _, product := range []string{"pay", "bill", "debit", "credit"} {
		if r, ok := prog.RuleFor(m.Owner, product); ok {
			ml = MerchantLoyalty{PerUnit: r.PerUnit, Products: r.Products, BonusTimes: r.BonusTimes}
			for _, d := range r.BonusDays {
				ml.BonusDays = append(ml.BonusDays, int(d))
			}
			break
		}
	}
	ml.PointWorth = prog.Rates[m.Owner]
	return ml, false, nil
}

// DropMerchantLoyalty removes a merchant's own rule: the service's applies again.
func (e *Engine) DropMerchantLoyalty(ctx context.Context, merchant uint64, actor string) error {
	m, err := e.l.Account(merchant)
	if err != nil {
		return domain.PaymentErr(domain.CodeNotFound, "no such merchant")
	}
	_, ver, err := e.l.Profile(keyMerchantLoyalty + m.Owner)
	if err != nil || ver == 0 {
		return err
	}
	_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: keyMerchantLoyalty + m.Owner, Version: ver, Delete: true}},
		Audit: &domain.Audit{Actor: actor, Action: "merchant loyalty dropped", Detail: m.Owner}})
	return err
}

// programmeAt is the programme as it applies to payments to a merchant: the configuration's,
// with the merchant's own rule first and its worth, when it set them.
func (e *Engine) programmeAt(code string) *loyalty.Programme {
	var ml MerchantLoyalty
	if _, found, err := e.record(keyMerchantLoyalty+code, &ml); err != nil || !found {
		return e.cfg.Loyalty
	}
	return e.withMerchantRule(code, ml)
}

func (e *Engine) withMerchantRule(code string, ml MerchantLoyalty) *loyalty.Programme {
	p := *e.cfg.Loyalty
	r := loyalty.Rule{Merchant: code, Products: ml.Products, PerUnit: ml.PerUnit, BonusTimes: ml.BonusTimes}
	for _, d := range ml.BonusDays {
		r.BonusDays = append(r.BonusDays, time.Weekday(d))
	}
	p.Rules = append([]loyalty.Rule{r}, slices.DeleteFunc(slices.Clone(p.Rules), func(x loyalty.Rule) bool { return x.Merchant == code })...)
	p.Rates = maps.Clone(p.Rates)
	if p.Rates == nil {
		p.Rates = map[string]uint64{}
	}
	delete(p.Rates, code)
	if ml.PointWorth > 0 {
		p.Rates[code] = ml.PointWorth
	}
	return &p
}
