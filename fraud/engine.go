package fraud

import (
	"slices"
	"strconv"
	"strings"
)

// Input is everything a decision looks at. Stored with the rule set's Version (and the
// rule set itself), it replays: Decide is a pure function of the two.
type Input struct {
	Now     int64 // unix nanos
	Amount  uint64
	Product string // as in Event
	Channel string
	// Payer and Payee are the two sides' activities, Service the whole service's (only its
	// wrong codes are read). Nil is an empty history. For a refund, Payee is the merchant
	// giving the money back and Payer the customer receiving it.
	Payer, Payee, Service *Activity
	PayeeID, PayerID      uint64
	PerPaymentLimit       uint64 // the payer's tier limit per payment, 0 none
	Local                 uint8  // the payer's local hour 0-23, 255 unknown
	Refund                bool   // a merchant giving money back; only merchant_refund_ratio looks at it
}

// Hit is one rule's part in a decision.
type Hit struct {
	Rule    string
	Version int // the version of the rule's tuning
	Value   float64
	Score   int
}

// Decision is what the rules made of one Input.
type Decision struct {
	Action Action
	Score  int
	Config int   // the rule set's Version
	Hits   []Hit // the rules that scored, in the rule set's order
	Values []Hit // every enabled rule, scoring or not, in the rule set's order
}

// Engine decides with one validated rule set. It is safe for use by many goroutines.
type Engine struct {
	on                    bool
	version               int
	review, hold, decline int
	rules                 []rule
}

// rule is one enabled rule, ready to run.
type rule struct {
	def      *ruleDef
	version  int
	params   [maxParams]float64
	bands    []Band
	products []string
}

// maxRules bounds the rules of a rule set (ids are unique, so there are at most as many
// as this package knows).
const maxRules = 16

// New validates c and makes an engine of it.
func New(c Config) (*Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{on: c.Enabled, version: c.Version, review: c.Review, hold: c.Hold, decline: c.Decline}
	for _, rc := range c.Rules {
		if rc.Enabled {
			e.rules = append(e.rules, compile(rc))
		}
	}
	return e, nil
}

func compile(rc RuleConfig) rule {
	d := ruleByID(rc.ID)
	r := rule{def: d, version: rc.Version, bands: slices.Clone(rc.Bands), products: slices.Clone(rc.Products)}
	for i, p := range d.params {
		r.params[i] = p.def
		if v, ok := rc.Params[p.name]; ok {
			r.params[i] = v
		}
	}
	return r
}

// Decide scores one operation. The operation itself counts in every window, as if it had
// been observed. It reads the activities and changes nothing.
func (e *Engine) Decide(in Input) Decision {
	d := Decision{Config: e.version}
	if !e.on {
		return d
	}
	v := newView(&in)
	var all [maxRules]Hit
	hits := 0
	for i := range e.rules {
		h := &all[i]
		e.rules[i].run(&v, h)
		d.Score += h.Score
		if h.Score > 0 {
			hits++
		}
	}
	d.Action = e.action(d.Score)
	d.Values, d.Hits = results(all[:len(e.rules)], hits)
	return d
}

// run computes one rule's value and score into h; a rule that does not look at this
// operation is worth 0.
func (r *rule) run(v *view, h *Hit) {
	h.Rule, h.Version = r.def.id, r.version
	if v.in.Refund && !r.def.refunds {
		return
	}
	if len(r.products) > 0 && !slices.Contains(r.products, v.in.Product) {
		return
	}
	h.Value = r.def.value(v, &r.params)
	h.Score = score(r.bands, h.Value)
}

// score is the score of the highest band value reaches.
func score(bands []Band, value float64) int {
	s := 0
	for _, b := range bands {
		if value < b.Min {
			break
		}
		s = b.Score
	}
	return s
}

func (e *Engine) action(score int) Action {
	switch {
	case score >= e.decline:
		return Decline
	case score >= e.hold:
		return Hold
	case score >= e.review:
		return Review
	}
	return Allow
}

// results copies every rule's part, then the scoring ones, into one allocation.
func results(all []Hit, hits int) (values, scored []Hit) {
	out := make([]Hit, len(all), len(all)+hits)
	copy(out, all)
	for _, h := range all {
		if h.Score > 0 {
			out = append(out, h)
		}
	}
	values = out[:len(all):len(all)]
	if hits > 0 {
		scored = out[len(all):]
	}
	return values, scored
}

// Explain writes a decision for an operator:
// "payer_count_hour=14 (+60), new_payee_large=8.2x (+25): decline".
func Explain(d Decision) string {
	if len(d.Hits) == 0 {
		return "no rule scored: " + d.Action.String()
	}
	var b strings.Builder
	for i, h := range d.Hits {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(h.Rule)
		b.WriteByte('=')
		b.WriteString(formatValue(h.Rule, h.Value))
		b.WriteString(" (+")
		b.WriteString(strconv.Itoa(h.Score))
		b.WriteByte(')')
	}
	b.WriteString(": ")
	b.WriteString(d.Action.String())
	return b.String()
}

// formatValue writes a value in its rule's unit; amounts are written with two decimals, as
// euro cents are.
func formatValue(id string, v float64) string {
	u := unitCount
	if d := ruleByID(id); d != nil {
		u = d.unit
	}
	switch u {
	case unitAmount:
		return strconv.FormatFloat(v/100, 'f', 2, 64)
	case unitRatio:
		return strconv.FormatFloat(v, 'f', 1, 64) + "x"
	case unitDays:
		return strconv.FormatFloat(v, 'f', 0, 64) + "d"
	case unitShare:
		return strconv.FormatFloat(v*100, 'f', 0, 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
