package fraud

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func defaultEngine(t interface {
	Helper()
	Fatal(...any)
}) *Engine {
	t.Helper()
	e, err := New(Default())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func hitOf(d Decision, rule string) (Hit, bool) {
	i := slices.IndexFunc(d.Hits, func(h Hit) bool { return h.Rule == rule })
	if i < 0 {
		return Hit{}, false
	}
	return d.Hits[i], true
}

// Each rule fires on the mildest form of its pattern, its hit names the rule and the
// version of its tuning, and the decision is at least a review.
func TestEachRuleFiresOnItsPattern(t *testing.T) {
	e := defaultEngine(t)
	for i, p := range patterns {
		t.Run(fmt.Sprintf("%s/%d", p.rule, i), func(t *testing.T) {
			d := e.Decide(p.build(mildest))
			h, ok := hitOf(d, p.rule)
			if !ok {
				t.Fatalf("no hit for %s: %s; values %+v", p.rule, Explain(d), d.Values)
			}
			if h.Version != 1 || h.Score <= 0 {
				t.Errorf("hit %+v: want version 1 and a score", h)
			}
			if d.Action < Review {
				t.Errorf("action %s, want at least review: %s", d.Action, Explain(d))
			}
		})
	}
}

// Every rule is covered by a pattern.
func TestEveryRuleHasAPattern(t *testing.T) {
	for _, r := range rules {
		if !slices.ContainsFunc(patterns, func(p pattern) bool { return p.rule == r.id }) {
			t.Errorf("rule %s has no pattern", r.id)
		}
	}
	if len(rules) > maxRules {
		t.Errorf("%d rules, maxRules is %d", len(rules), maxRules)
	}
	for _, r := range rules {
		if len(r.params) > maxParams {
			t.Errorf("rule %s has %d params, maxParams is %d", r.id, len(r.params), maxParams)
		}
	}
}

// A quiet payer paying his usual merchant his usual amount in the afternoon: nothing.
func TestQuietPaymentAllowed(t *testing.T) {
	d := defaultEngine(t).Decide(pay(history(10, 2_000), nil, shop, 2_100))
	if d.Action != Allow || len(d.Hits) != 0 || d.Score != 0 {
		t.Fatalf("got %s", Explain(d))
	}
	if len(d.Values) != len(rules) {
		t.Errorf("%d values, want one per rule (%d)", len(d.Values), len(rules))
	}
	if got := Explain(d); got != "no rule scored: allow" {
		t.Errorf("Explain = %q", got)
	}
}

func TestWindowsForget(t *testing.T) {
	e := defaultEngine(t)
	a := history(5, 500)
	for i := range 20 {
		paid(a, at(-2*time.Hour+time.Duration(i)*time.Minute), 500, uint64(6000+i), "sms", 12)
	}
	in := pay(a, nil, shop, 500)
	if d := e.Decide(in); d.Action < Review {
		t.Fatalf("two hours on, still 20 payments and 20 payees today: want review, got %s", Explain(d))
	}
	in.Now = at(26 * time.Hour)
	if d := e.Decide(in); d.Action != Allow {
		t.Fatalf("a day later the burst is forgotten: %s", Explain(d))
	}
}

func TestDecideChangesNothing(t *testing.T) {
	e := defaultEngine(t)
	for _, p := range patterns {
		in := p.build(mildest)
		before, _ := json.Marshal([]*Activity{in.Payer, in.Payee, in.Service})
		d1, d2 := e.Decide(in), e.Decide(in)
		after, _ := json.Marshal([]*Activity{in.Payer, in.Payee, in.Service})
		if string(before) != string(after) {
			t.Errorf("%s: Decide changed an activity", p.rule)
		}
		if Explain(d1) != Explain(d2) || !slices.Equal(d1.Values, d2.Values) {
			t.Errorf("%s: two decisions on one input differ", p.rule)
		}
	}
}

func TestDisabled(t *testing.T) {
	c := Default()
	c.Rules[0].Enabled = false // payer_count_hour
	e, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	d := e.Decide(patterns[0].build(mildest))
	if _, ok := hitOf(d, "payer_count_hour"); ok || len(d.Values) != len(rules)-1 {
		t.Errorf("a disabled rule still runs: %s, %d values", Explain(d), len(d.Values))
	}
	c.Enabled = false
	e, _ = New(c)
	if d := e.Decide(patterns[1].build(mildest)); d.Action != Allow || d.Values != nil {
		t.Errorf("a disabled rule set decides: %+v", d)
	}
}

func TestProductsLimitARule(t *testing.T) {
	in := patterns[3].build(mildest) // payee_fan_in, a send
	in.Product = "pay"
	if _, ok := hitOf(defaultEngine(t).Decide(in), "payee_fan_in"); ok {
		t.Error("payee_fan_in looks only at sends by default, yet scored a payment")
	}
}

func TestRefundSkipsPayerRules(t *testing.T) {
	in := patterns[0].build(mildest) // a payer in a burst
	in.Refund = true
	if d := defaultEngine(t).Decide(in); len(d.Hits) != 0 {
		t.Errorf("a refund scored on payer rules: %s", Explain(d))
	}
}

func TestBandsHighestWins(t *testing.T) {
	bands := []Band{{6, 25}, {12, 60}, {25, 100}}
	for _, c := range []struct {
		v    float64
		want int
	}{{0, 0}, {5.9, 0}, {6, 25}, {11, 25}, {12, 60}, {24, 60}, {25, 100}, {1e9, 100}} {
		if got := score(bands, c.v); got != c.want {
			t.Errorf("score(%g) = %d, want %d", c.v, got, c.want)
		}
	}
}

func TestThresholds(t *testing.T) {
	e := defaultEngine(t)
	for _, c := range []struct {
		score int
		want  Action
	}{{0, Allow}, {24, Allow}, {25, Review}, {59, Review}, {60, Hold}, {99, Hold}, {100, Decline}, {500, Decline}} {
		if got := e.action(c.score); got != c.want {
			t.Errorf("action(%d) = %s, want %s", c.score, got, c.want)
		}
	}
}

func TestExplain(t *testing.T) {
	d := Decision{Action: Hold, Score: 85, Hits: []Hit{
		{Rule: "payer_count_hour", Version: 1, Value: 14, Score: 60},
		{Rule: "new_payee_large", Version: 2, Value: 8.25, Score: 25},
		{Rule: "payer_amount_day", Version: 1, Value: 123456, Score: 25},
		{Rule: "dormant_then_pay", Version: 1, Value: 45, Score: 25},
		{Rule: "merchant_refund_ratio", Version: 1, Value: 0.45, Score: 25},
	}}
	want := "payer_count_hour=14 (+60), new_payee_large=8.2x (+25), payer_amount_day=1234.56 (+25), " +
		"dormant_then_pay=45d (+25), merchant_refund_ratio=45% (+25): hold"
	if got := Explain(d); got != want {
		t.Errorf("Explain =\n %q\nwant\n %q", got, want)
	}
}

func TestActionNames(t *testing.T) {
	for a := Allow; a <= Decline; a++ {
		got, err := ParseAction(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAction(%q) = %v, %v", a.String(), got, err)
		}
	}
	if _, err := ParseAction("block"); !errors.Is(err, ErrUnknownAction) {
		t.Errorf("ParseAction(block): %v", err)
	}
}

func TestDefaultIsValidAndFresh(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Rules[0].Bands[0].Min = 1000
	c.Rules[5].Params["floor"] = 1
	if d := Default(); d.Rules[0].Bands[0].Min == 1000 || d.Rules[5].Params["floor"] == 1 {
		t.Error("changing one Default() changed the next")
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(c *Config)
		wants []string
	}{
		{"review zero", func(c *Config) { c.Review = 0 }, []string{"Review"}},
		{"hold below review", func(c *Config) { c.Hold = 10 }, []string{"Review < Hold"}},
		{"decline below hold", func(c *Config) { c.Decline = 60 }, []string{"Hold < Decline"}},
		{"unknown rule", func(c *Config) { c.Rules[2].ID = "payer_velocity" }, []string{"Rules[2]", "payer_velocity", "ID: unknown rule"}},
		{"twice", func(c *Config) { c.Rules[3].ID = c.Rules[0].ID }, []string{"Rules[3].ID", "twice"}},
		{"version", func(c *Config) { c.Rules[1].Version = 0 }, []string{"payer_amount_day", "Version"}},
		{"bands unsorted", func(c *Config) { c.Rules[0].Bands[1].Min = 6 }, []string{"payer_count_hour", "Bands[1].Min", "above Bands[0].Min"}},
		{"no bands", func(c *Config) { c.Rules[0].Bands = nil }, []string{"payer_count_hour", "Bands"}},
		{"NaN band", func(c *Config) { c.Rules[0].Bands[0].Min = nan() }, []string{"Bands[0].Min", "finite"}},
		{"negative score", func(c *Config) { c.Rules[0].Bands[2].Score = -5 }, []string{"Bands[2].Score", "from 0"}},
		{"huge score", func(c *Config) { c.Rules[0].Bands[2].Score = MaxScore + 1 }, []string{"Bands[2].Score", "from 0 to 10000"}},
		{"negative param", func(c *Config) { c.Rules[5].Params["floor"] = -1 }, []string{"new_payee_large", `Params["floor"]`, "negative"}},
		{"unknown param", func(c *Config) { c.Rules[5].Params["ceiling"] = 1 }, []string{`Params["ceiling"]`, "unknown"}},
		{"param too big", func(c *Config) { c.Rules[9].Params["within"] = 1.5 }, []string{"just_under_limit", `Params["within"]`, "at most 1"}},
		{"unknown product", func(c *Config) { c.Rules[3].Products = []string{"loan"} }, []string{"payee_fan_in", "Products", "loan"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default()
			c.edit(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate() = %v, want ErrConfig", err)
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not name %q", err, w)
				}
			}
			if _, err := New(cfg); err == nil {
				t.Error("New took it")
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

// One engine decides for many goroutines at once over shared activities, each getting
// what it would get alone.
func TestDecideConcurrent(t *testing.T) {
	e := defaultEngine(t)
	inputs := make([]Input, len(patterns))
	want := make([]string, len(patterns))
	for i, p := range patterns {
		inputs[i] = p.build(mildest)
		want[i] = Explain(e.Decide(inputs[i]))
	}
	errs := make(chan string, 8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 200 {
				i := (g + n) % len(inputs)
				if got := Explain(e.Decide(inputs[i])); got != want[i] {
					errs <- fmt.Sprintf("%s: got %q, want %q", patterns[i].rule, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
