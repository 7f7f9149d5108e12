package config

import (
	"fmt"
	"sort"
	"time"

	"mpg/marketing"
)

// Marketing configures campaigns: when a marketing SMS may reach a member (hours of his own
// time zone, his country's rest days), how many he gets, and how campaigns give way to
// payment replies.
type Marketing struct {
	FromHour  int `toml:"from_hour"`  // sending starts at this hour, member's time
	UntilHour int `toml:"until_hour"` // and stops at this hour
	PerDay    int `toml:"per_day"`    // marketing SMS one member gets at most per day
	PerWeek   int `toml:"per_week"`   // and per 7 days
	// Zones: a country calling code's time zone; other numbers are in engine.time_zone.
	Zones map[string]string `toml:"zones"`
	// Holidays: a country calling code's public holiday calendar (FR): no marketing on
	// Sundays nor on those days.
	Holidays map[string]string `toml:"holidays"`
	// MaxOutbox: campaigns send nothing while more replies than this wait to leave.
	MaxOutbox int `toml:"max_outbox"`
	PerSecond int `toml:"per_second"`    // campaigns queue at most this many SMS a second
	Days      int `toml:"campaign_days"` // a campaign tries its deferred members this long
}

func defaultMarketing() Marketing {
	return Marketing{FromHour: 8, UntilHour: 20, PerDay: 1, PerWeek: 3,
		Zones:     map[string]string{"33": "Europe/Paris", "86": "Asia/Shanghai"},
		Holidays:  map[string]string{"33": "FR"},
		MaxOutbox: 1000, PerSecond: 20, Days: 7}
}

// Rules are the section's rules as the engine takes them, other numbers in def's zone.
func (m Marketing) Rules(def *time.Location) (marketing.Rules, error) {
	r := marketing.Rules{FromHour: m.FromHour, UntilHour: m.UntilHour, PerDay: m.PerDay, PerWeek: m.PerWeek,
		Zones: map[string]*time.Location{}, Default: def, Calendars: map[string]string{}}
	codes := make([]string, 0, len(m.Zones))
	for code := range m.Zones {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		loc, err := time.LoadLocation(m.Zones[code])
		if err != nil {
			return r, fmt.Errorf("zone of +%s: %v", code, err)
		}
		r.Zones[code] = loc
	}
	for code, cal := range m.Holidays {
		r.Calendars[code] = cal
	}
	for code := range r.Calendars {
		if !callingCode(code) {
			return r, fmt.Errorf("calling code %q: 1 to 3 digits", code)
		}
	}
	for code := range r.Zones {
		if !callingCode(code) {
			return r, fmt.Errorf("calling code %q: 1 to 3 digits", code)
		}
	}
	return r, r.Validate()
}

func callingCode(s string) bool {
	if len(s) < 1 || len(s) > 3 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (m Marketing) validate(r *rules) {
	if _, err := m.Rules(time.UTC); err != nil {
		r.bad("marketing", "", err.Error())
	}
	r.between("marketing.max_outbox", m.MaxOutbox, 1, 1000000)
	r.between("marketing.per_second", m.PerSecond, 1, 10000)
	r.between("marketing.campaign_days", m.Days, 1, 90)
}
