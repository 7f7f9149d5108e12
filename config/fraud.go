package config

import (
	"fmt"

	"mpg/fraud"
)

// Fraud configures the fraud rules. Mode "shadow" (the default) scores every payment and
// keeps the decisions a rule scored, without acting on them, so that an operator can tune
// the rule set on real traffic before "enforce" lets it review, hold and decline; "off"
// runs nothing.
type Fraud struct {
	Mode        string `toml:"mode"`         // off, shadow or enforce
	ReviewHours int    `toml:"review_hours"` // how long a held payment waits for an operator
	Version     int    `toml:"version"`      // the rule set's version, kept with every decision: bump it when tuning
	Review      int    `toml:"review"`       // score thresholds
	Hold        int    `toml:"hold"`
	Decline     int    `toml:"decline"`
	// Rules tune the fraud package's rules by id; those not listed keep their defaults.
	Rules []FraudRule `toml:"rules"`
}

// FraudRule tunes one rule.
type FraudRule struct {
	ID      string             `toml:"id"`
	Enabled bool               `toml:"enabled"`
	Version int                `toml:"version"`
	Bands   [][2]float64       `toml:"bands"`  // [value, score], ascending
	Params  map[string]float64 `toml:"params"` // the rule's own; missing ones keep their defaults
}

// Fraud modes.
const (
	FraudOff     = "off"
	FraudShadow  = "shadow"
	FraudEnforce = "enforce"
)

func defaultFraud() Fraud {
	d := fraud.Default()
	return Fraud{Mode: FraudShadow, ReviewHours: 72, Version: d.Version, Review: d.Review, Hold: d.Hold,
		Decline: d.Decline, Rules: []FraudRule{{ID: "payer_count_hour", Enabled: true, Version: 1,
			Bands: [][2]float64{{6, 25}, {12, 60}, {25, 100}}, Params: map[string]float64{}}}}
}

// RuleSet is the section as the fraud package takes it (Enabled false when off).
func (f Fraud) RuleSet() (fraud.Config, error) {
	c := fraud.Default()
	c.Enabled = f.Mode != FraudOff
	c.Version, c.Review, c.Hold, c.Decline = f.Version, f.Review, f.Hold, f.Decline
	for _, r := range f.Rules {
		i := ruleIndex(c.Rules, r.ID)
		if i < 0 {
			return c, fmt.Errorf("fraud.rules: no rule %q", r.ID)
		}
		rc := &c.Rules[i]
		rc.Enabled, rc.Version = r.Enabled, r.Version
		if len(r.Bands) > 0 {
			rc.Bands = nil
			for _, b := range r.Bands {
				rc.Bands = append(rc.Bands, fraud.Band{Min: b[0], Score: int(b[1])})
			}
		}
		for k, v := range r.Params {
			rc.Params[k] = v
		}
	}
	return c, c.Validate()
}

func ruleIndex(rules []fraud.RuleConfig, id string) int {
	for i, r := range rules {
		if r.ID == id {
			return i
		}
	}
	return -1
}

func (f Fraud) validate(r *rules) {
	switch f.Mode {
	case FraudOff, FraudShadow, FraudEnforce:
	default:
		r.bad("fraud.mode", f.Mode, "must be off, shadow or enforce")
	}
	r.between("fraud.review_hours", f.ReviewHours, 1, 720)
	if _, err := f.RuleSet(); err != nil {
		r.bad("fraud", "", err.Error())
	}
}
