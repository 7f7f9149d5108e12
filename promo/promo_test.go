package promo

import (
	"strings"
	"testing"
	"time"
)

var paris, _ = time.LoadLocation("Europe/Paris")

func summer() *Promotion {
	return &Promotion{Code: "SUMMER", Merchant: "SHOP42", Name: "Summer", Percent: 10, MinAmount: 500,
		Start: time.Date(2026, 12, 1, 0, 0, 0, 0, paris).UnixNano(), End: time.Date(2027, 1, 1, 0, 0, 0, 0, paris).UnixNano(),
		Days: []int{1, 2, 3, 4, 5}, FromHour: 8, ToHour: 20, PerDay: 1, PerMember: 3, Budget: 10000,
		Audience: `level in ["silver", "gold"] || days_since_last_payment > 30`}
}

func TestValidateRefusesWhatCannotRun(t *testing.T) {
	if err := summer().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]func(*Promotion){
		"lower-case code":   func(p *Promotion) { p.Code = "summer" },
		"both discounts":    func(p *Promotion) { p.Fixed = 100 },
		"no discount":       func(p *Promotion) { p.Percent = 0 },
		"over 100 percent":  func(p *Promotion) { p.Percent = 101 },
		"end before start":  func(p *Promotion) { p.End = p.Start },
		"hours backwards":   func(p *Promotion) { p.FromHour, p.ToHour = 20, 8 },
		"day 7":             func(p *Promotion) { p.Days = []int{7} },
		"no budget":         func(p *Promotion) { p.Budget = 0 },
		"unknown attribute": func(p *Promotion) { p.Audience = `age > 30` },
		"not true or false": func(p *Promotion) { p.Audience = `points + 1` },
		"does not parse":    func(p *Promotion) { p.Audience = `level ==` },
		"too long":          func(p *Promotion) { p.Audience = strings.Repeat("points > 1 && ", 60) + "true" },
		"too many nodes":    func(p *Promotion) { p.Audience = strings.Repeat("1<2||", 90) + "true" },
		"negative limit":    func(p *Promotion) { p.PerDay = -1 },
	} {
		p := summer()
		bad(p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
}

func TestAudienceRules(t *testing.T) {
	a, err := Compile(`"SHOP42" in merchants_paid && payments >= 3 && language == "FR"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m    Member
		want bool
	}{
		{Member{Paid: []string{"CAFE", "SHOP42"}, Payments: 3, Language: "FR"}, true},
		{Member{Paid: []string{"CAFE"}, Payments: 3, Language: "FR"}, false},
		{Member{Paid: []string{"SHOP42"}, Payments: 2, Language: "FR"}, false},
		{Member{}, false},
	} {
		if got := a.Match(c.m); got != c.want {
			t.Errorf("%+v: %v", c.m, got)
		}
	}
	everybody, _ := Compile("")
	if !everybody.Match(Member{}) {
		t.Error(`"" is everybody`)
	}
}

func TestDiscountNeverPaysEverything(t *testing.T) {
	p := summer()
	if d := p.Discount(1250); d != 125 {
		t.Errorf("10%% of 12.50: %d", d)
	}
	if d := p.Discount(1999); d != 199 {
		t.Errorf("10%% of 19.99: %d, rounded down", d)
	}
	p.Percent, p.Fixed = 0, 500
	if d := p.Discount(500); d != 0 {
		t.Errorf("5.00 off 5.00: %d", d)
	}
	if d := p.Discount(^uint64(0)); d != 500 {
		t.Errorf("fixed: %d", d)
	}
	p.Percent, p.Fixed = 100, 0
	if d := p.Discount(^uint64(0)); d != 0 {
		t.Error("100% would pay everything")
	}
}

func TestRunsOnItsDaysAndHoursInItsZone(t *testing.T) {
	p := summer()
	wed := time.Date(2026, 12, 2, 9, 0, 0, 0, paris)
	for _, c := range []struct {
		at     time.Time
		amount uint64
		want   bool
	}{
		{wed, 1000, true},
		{wed, 499, false},                          // below the minimum
		{wed.Add(-2 * time.Hour), 1000, false},     // 07:00 Paris
		{wed.Add(11 * time.Hour), 1000, false},     // 20:00 Paris
		{wed.Add(3 * 24 * time.Hour), 1000, false}, // Saturday
		{wed.AddDate(0, 1, 0), 1000, false},        // after the end
		{wed.In(time.UTC), 1000, true},             // 08:00 UTC is 09:00 in Paris
	} {
		if got := p.Runs(c.at, paris, c.amount); got != c.want {
			t.Errorf("%s %d: %v", c.at, c.amount, got)
		}
	}
	p.Ended = wed.Add(time.Hour).UnixNano()
	if p.Runs(wed.Add(2*time.Hour), paris, 1000) {
		t.Error("runs after it was ended")
	}
}

func TestLimitsPerMemberPerDayAndInAll(t *testing.T) {
	p := summer()
	var u Use
	day := Day(time.Date(2026, 12, 2, 23, 30, 0, 0, paris), paris)
	if !p.Allows(u, day) {
		t.Fatal("a first use refused")
	}
	u.Take(day)
	if p.Allows(u, day) {
		t.Error("twice in a day")
	}
	u.Take(day + 1)
	u.Take(day + 2)
	if p.Allows(u, day+3) {
		t.Errorf("a fourth use of 3: %+v", u)
	}
	if Day(time.Date(2026, 12, 2, 23, 30, 0, 0, time.UTC), paris) != day+1 {
		t.Error("days are counted in the promotion's zone")
	}
	if p.Allows(Use{Left: true}, day) {
		t.Error("a member who left")
	}
}
