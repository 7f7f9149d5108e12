package config

import (
	"fmt"
	"strings"
	"time"

	"mpg/loyalty"
)

// Loyalty configures the points programme; it runs only when enabled.
type Loyalty struct {
	Enabled      bool  `toml:"enabled"`
	ExpiryMonths int   `toml:"expiry_months"` // a month's points expire at the end of the n-th month after
	NoticeHours  []int `toml:"notice_hours"`  // members are told this long before points expire
	// Rules say how many points a payment earns (the merchant's own before the general one).
	Rules []PointsRule `toml:"rules"`
	// Levels are reached by paying over the last 13 weeks, each with its earning rate.
	Levels []PointsLevel `toml:"levels"`
	// Worth is what one point pays at a merchant, in minor units, by merchant code; a
	// merchant not named takes no points.
	Worth map[string]uint64 `toml:"point_worth_minor"`
	// MerchantMaxPerUnit bounds the rule a merchant sets through the API: points per 1.00,
	// bonus included (0: merchants set none).
	MerchantMaxPerUnit uint64 `toml:"merchant_max_per_unit"`
}

// PointsRule is one earning rule.
type PointsRule struct {
	Merchant   string   `toml:"merchant"`    // a merchant's or biller's code; "": every one
	Products   []string `toml:"products"`    // of pay, bill, debit, credit; empty: all four
	PerUnit    uint64   `toml:"per_unit"`    // points per whole unit of money (1.00 EUR)
	BonusDays  []string `toml:"bonus_days"`  // mon..sun, in engine.time_zone
	BonusTimes uint64   `toml:"bonus_times"` // the multiplier on those days
}

// PointsLevel is a membership level.
type PointsLevel struct {
	Name      string `toml:"name"`
	MinCount  int    `toml:"min_count"`        // payments in the last 13 weeks
	MinVolume uint64 `toml:"min_volume_minor"` // and at least this much paid
	Percent   uint64 `toml:"percent"`          // earning rate, 100 = ×1
}

func defaultLoyalty() Loyalty {
	return Loyalty{ExpiryMonths: 24, NoticeHours: []int{720, 48},
		Rules: []PointsRule{{PerUnit: 1, Products: []string{"pay", "bill", "debit", "credit"}, BonusDays: []string{}}},
		Levels: []PointsLevel{{Name: "silver", MinCount: 5, MinVolume: 10000, Percent: 125},
			{Name: "gold", MinCount: 20, MinVolume: 50000, Percent: 150}},
		Worth: map[string]uint64{}, MerchantMaxPerUnit: 2}
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// Programme is the section as the engine takes it (nil when off), in the money's decimals
// and the engine's time zone.
func (l Loyalty) Programme(exponent uint8, loc *time.Location) (*loyalty.Programme, error) {
	if !l.Enabled {
		return nil, nil
	}
	p := &loyalty.Programme{ExpiryMonths: l.ExpiryMonths, Exponent: exponent, Location: loc, Rates: map[string]uint64{},
		MerchantMax: l.MerchantMaxPerUnit}
	for _, h := range l.NoticeHours {
		p.Notices = append(p.Notices, time.Duration(h)*time.Hour)
	}
	for i, r := range l.Rules {
		rule := loyalty.Rule{Merchant: strings.ToUpper(r.Merchant), Products: r.Products, PerUnit: r.PerUnit, BonusTimes: r.BonusTimes}
		for _, d := range r.BonusDays {
			wd, ok := weekdays[strings.ToLower(d)]
			if !ok {
				return nil, fmt.Errorf("rule %d: bonus day %q (mon, tue, wed, thu, fri, sat, sun)", i+1, d)
			}
			rule.BonusDays = append(rule.BonusDays, wd)
		}
		p.Rules = append(p.Rules, rule)
	}
	for _, lv := range l.Levels {
		p.Levels = append(p.Levels, loyalty.Level{Name: lv.Name, MinCount: lv.MinCount, MinVolume: lv.MinVolume, Percent: lv.Percent})
	}
	for m, w := range l.Worth {
		p.Rates[strings.ToUpper(m)] = w
	}
	return p, p.Validate()
}

func (l Loyalty) validate(r *rules) {
	if !l.Enabled {
		return
	}
	if _, err := l.Programme(2, time.UTC); err != nil {
		r.bad("loyalty", "", err.Error())
	}
}
