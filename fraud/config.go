package fraud

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Action is what a decision asks the engine to do with the operation.
type Action uint8

// The actions, from the mildest.
const (
	Allow   Action = iota // go ahead
	Review                // go ahead, and put it before an operator
	Hold                  // keep the money aside until an operator looks
	Decline               // refuse
)

var actionNames = [...]string{"allow", "review", "hold", "decline"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// ErrUnknownAction is returned by ParseAction for a name it does not know.
var ErrUnknownAction = errors.New("fraud: unknown action")

// ParseAction reads "allow", "review", "hold" or "decline".
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if n == s {
			return Action(i), nil
		}
	}
	return Allow, fmt.Errorf("%w %q", ErrUnknownAction, s)
}

// Band turns a rule's value into a score: a value at or above Min scores Score, and of the
// bands a value reaches, the highest wins. Bands are kept in ascending Min.
type Band struct {
	Min   float64
	Score int
}

// RuleConfig turns one rule on and tunes it. Version is the version of this tuning: bump it
// whenever Params or Bands change, so a stored decision says which tuning made it (a rule
// whose meaning changes gets a new ID).
type RuleConfig struct {
	ID       string
	Version  int
	Enabled  bool
	Params   map[string]float64 // missing ones take their defaults
	Bands    []Band
	Products []string // the products it looks at; empty: all
}

// Config is the whole rule set. A decision's score is the sum of its rules' scores; at or
// above Review it is reviewed, at or above Hold held, at or above Decline declined. With
// Enabled false every operation is allowed and no rule runs.
type Config struct {
	Enabled bool
	Version int // the version of this rule set, stored with every decision
	Review  int
	Hold    int
	Decline int
	Rules   []RuleConfig
}

// MaxScore is the most a band may score, so that no sum of scores overflows.
const MaxScore = 10_000

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("fraud: invalid config")

// Products are the product names Input.Product and RuleConfig.Products use.
var Products = []string{"pay", "bill", "send", "debit", "credit", "repay", "topup"}

// Default is a rule set for a mobile-money service counting in euro cents: every rule on,
// one weak signal reviews, a strong one (or two weak ones with a third) holds.
func Default() Config {
	c := Config{Enabled: true, Version: 1, Review: 25, Hold: 60, Decline: 100}
	for _, d := range rules {
		rc := RuleConfig{ID: d.id, Version: 1, Enabled: true, Params: map[string]float64{},
			Bands: slices.Clone(d.bands), Products: slices.Clone(d.products)}
		for _, p := range d.params {
			rc.Params[p.name] = p.def
		}
		c.Rules = append(c.Rules, rc)
	}
	return c
}

// Validate says what is wrong with c, naming the field.
func (c Config) Validate() error {
	if c.Review <= 0 || c.Hold <= c.Review || c.Decline <= c.Hold {
		return fmt.Errorf("%w: thresholds must be 0 < Review < Hold < Decline, got Review=%d Hold=%d Decline=%d",
			ErrConfig, c.Review, c.Hold, c.Decline)
	}
	seen := map[string]bool{}
	for i, r := range c.Rules {
		if seen[r.ID] {
			return fmt.Errorf("%w: Rules[%d].ID %q appears twice", ErrConfig, i, r.ID)
		}
		seen[r.ID] = true
		if err := r.validate(); err != nil {
			return fmt.Errorf("%w: Rules[%d] %q: %s", ErrConfig, i, r.ID, err)
		}
	}
	return nil
}

func (r RuleConfig) validate() error {
	d := ruleByID(r.ID)
	if d == nil {
		return errors.New("ID: unknown rule")
	}
	if r.Version < 1 {
		return fmt.Errorf("Version: must be 1 or more, got %d", r.Version)
	}
	for name, v := range r.Params {
		if err := d.checkParam(name, v); err != nil {
			return err
		}
	}
	for _, p := range r.Products {
		if !slices.Contains(Products, p) {
			return fmt.Errorf("Products: unknown product %q", p)
		}
	}
	return checkBands(r.Bands)
}

func (d *ruleDef) checkParam(name string, v float64) error {
	i := slices.IndexFunc(d.params, func(p param) bool { return p.name == name })
	switch {
	case i < 0:
		return fmt.Errorf("Params[%q]: unknown parameter", name)
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("Params[%q]: must be a finite number", name)
	case v < 0:
		return fmt.Errorf("Params[%q]: must not be negative, got %g", name, v)
	case d.params[i].max > 0 && v > d.params[i].max:
		return fmt.Errorf("Params[%q]: must be at most %g, got %g", name, d.params[i].max, v)
	}
	return nil
}

func checkBands(bands []Band) error {
	if len(bands) == 0 {
		return errors.New("Bands: none; a rule with no band never scores")
	}
	for i, b := range bands {
		switch {
		case math.IsNaN(b.Min) || math.IsInf(b.Min, 0):
			return fmt.Errorf("Bands[%d].Min: must be a finite number", i)
		case b.Score < 0 || b.Score > MaxScore:
			return fmt.Errorf("Bands[%d].Score: must be from 0 to %d, got %d", i, MaxScore, b.Score)
		case i > 0 && b.Min <= bands[i-1].Min:
			return fmt.Errorf("Bands[%d].Min: must be above Bands[%d].Min (%g), got %g", i, i-1, bands[i-1].Min, b.Min)
		}
	}
	return nil
}
