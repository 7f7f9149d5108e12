package marketing

import (
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func testRules(t *testing.T) *Rules {
	r := &Rules{FromHour: 8, UntilHour: 20, PerDay: 1, PerWeek: 3,
		Zones:     map[string]*time.Location{"33": mustZone(t, "Europe/Paris"), "86": mustZone(t, "Asia/Shanghai")},
		Calendars: map[string]string{"33": "FR"}, Default: time.UTC}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEasterAndFrenchHolidays(t *testing.T) {
	for year, want := range map[int]string{2000: "2000-04-23", 2019: "2019-04-21", 2024: "2024-03-31", 2025: "2025-04-20", 2026: "2026-04-05", 2038: "2038-04-25"} {
		if got := Easter(year).Format(time.DateOnly); got != want {
			t.Errorf("Easter %d = %s, want %s", year, got, want)
		}
	}
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	holidays := []string{"2024-04-01", "2024-05-09", "2024-05-20", "2025-04-21", "2025-05-29", "2025-06-09",
		"2026-01-01", "2026-05-01", "2026-05-08", "2026-07-14", "2026-08-15", "2026-11-01", "2026-11-11", "2026-12-25"}
	for _, h := range holidays {
		if !Holiday("FR", day(h)) {
			t.Errorf("%s is a French public holiday", h)
		}
		if Holiday("", day(h)) {
			t.Errorf("%s: no calendar, no holiday", h)
		}
	}
	for _, w := range []string{"2025-04-20", "2025-04-22", "2025-05-28", "2026-07-13", "2026-12-26"} {
		if Holiday("FR", day(w)) {
			t.Errorf("%s is a working day in France", w)
		}
	}
}

func TestZoneFromCallingCode(t *testing.T) {
	r := testRules(t)
	cases := map[string]string{"+33612345678": "Europe/Paris", "+8613800138000": "Asia/Shanghai", "+447700900123": "UTC"}
	for number, zone := range cases {
		if got := r.MemberOf(number).Loc.String(); got != zone {
			t.Errorf("%s in %s, want %s", number, got, zone)
		}
	}
	if r.MemberOf("+33612345678").Calendar != "FR" || r.MemberOf("+8613800138000").Calendar != "" {
		t.Error("only French numbers rest on French holidays")
	}
}

// On Tuesday 2026-03-10 at 07:30 UTC it is 08:30 in Paris (open) and 15:30 in Shanghai
// (open); at 12:30 UTC, 13:30 in Paris and 20:30 in Shanghai (closed).
func TestQuietHoursInTwoZones(t *testing.T) {
	r := testRules(t)
	fr, cn := r.MemberOf("+33612345678"), r.MemberOf("+8613800138000")
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	cases := []struct {
		now    string
		fr, cn bool
	}{
		{"2026-03-10T06:59:00Z", false, true},
		{"2026-03-10T07:30:00Z", true, true},
		{"2026-03-10T11:59:00Z", true, true},
		{"2026-03-10T12:30:00Z", true, false},
		{"2026-03-10T19:00:00Z", false, false},
		{"2026-03-08T09:00:00Z", false, true}, // a Sunday: France rests, China does not
		{"2026-05-08T09:00:00Z", false, true}, // Victory in Europe Day, a Friday
		{"2026-05-07T09:00:00Z", true, true},
	}
	for _, c := range cases {
		now := at(c.now)
		if got := r.Allowed(fr, Sent{}, now); got != c.fr {
			t.Errorf("%s: Paris allowed %v, want %v", c.now, got, c.fr)
		}
		if got := r.Allowed(cn, Sent{}, now); got != c.cn {
			t.Errorf("%s: Shanghai allowed %v, want %v", c.now, got, c.cn)
		}
	}
	// From Saturday 2026-05-23 21:00 Paris the next opening skips Sunday and Whit Monday.
	next, ok := r.Next(fr, Sent{}, at("2026-05-23T19:00:00Z"))
	if want := at("2026-05-26T06:00:00Z"); !ok || !next.Equal(want) {
		t.Errorf("next in Paris %v, want %v", next, want)
	}
	next, ok = r.Next(cn, Sent{}, at("2026-05-23T19:00:00Z"))
	if want := at("2026-05-24T00:00:00Z"); !ok || !next.Equal(want) {
		t.Errorf("next in Shanghai %v, want %v", next, want)
	}
}

func TestCapsPerDayAndWeek(t *testing.T) {
	r := testRules(t)
	r.PerDay, r.PerWeek = 2, 3
	cn := r.MemberOf("+8613800138000")
	now, _ := time.Parse(time.RFC3339, "2026-03-10T02:00:00Z") // Tuesday 10:00 in Shanghai
	var s Sent
	sent := 0
	for hour := range 24 * 9 {
		clock := now.Add(time.Duration(hour) * time.Hour)
		if r.Allowed(cn, s, clock) {
			s.Take(clock)
			sent++
		}
		if len(s.At) > r.PerWeek {
			t.Fatalf("record holds %d sends, more than the week's cap", len(s.At))
		}
	}
	// Two on Tuesday, one on Wednesday at 08:00, then the week is full until each of them
	// is 7 days old: the same three a week later, 6 in 9 days.
	if sent != 6 {
		t.Errorf("sent %d in 9 days, want 6", sent)
	}
	var full Sent
	full.Take(now)
	full.Take(now.Add(time.Hour))
	next, ok := r.Next(cn, full, now.Add(2*time.Hour))
	if want, _ := time.Parse(time.RFC3339, "2026-03-11T00:00:00Z"); !ok || !next.Equal(want) {
		t.Errorf("after the day's cap next is %v, want Wednesday 08:00 Shanghai", next)
	}
}

func TestValidate(t *testing.T) {
	bad := []Rules{{FromHour: 20, UntilHour: 8, PerDay: 1, PerWeek: 1}, {FromHour: 8, UntilHour: 20, PerDay: 0, PerWeek: 1},
		{FromHour: 8, UntilHour: 20, PerDay: 2, PerWeek: 1}, {FromHour: 8, UntilHour: 20, PerDay: 1, PerWeek: 1, Calendars: map[string]string{"49": "DE"}}}
	for i, r := range bad {
		if r.Validate() == nil {
			t.Errorf("rules %d accepted", i)
		}
	}
}
