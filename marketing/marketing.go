// Package marketing says when a marketing SMS may go to a member: only inside the sending
// hours of his own time zone, never on a Sunday or a public holiday where his country rests,
// and never more than a few a day and a week. It is pure: the engine reads the member's
// profile and his record of what was sent to him, asks this package, and writes the record
// back at the version it read, in the same job as the SMS, so two daemons cannot both pass
// a cap.
package marketing

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Limits on the rules, so that a record of sends stays small.
const (
	MaxPerDay  = 10
	MaxPerWeek = 30
	week       = 7 * 24 * time.Hour
)

// Rules are the marketing rules of the configuration.
type Rules struct {
	// FromHour and UntilHour are the sending hours, [from, until) in the member's time zone.
	FromHour, UntilHour int
	PerDay, PerWeek     int // marketing SMS one member gets at most per local day and per 7 days
	// Zones maps a country calling code ("33") to its time zone; a number whose code is not
	// here is in Default.
	Zones   map[string]*time.Location
	Default *time.Location
	// Calendars maps a calling code to the public holiday calendar of its country ("FR"):
	// members with that code get no marketing on Sundays nor on those holidays.
	Calendars map[string]string
}

// Calendars that Holiday knows.
var knownCalendars = map[string]bool{"FR": true}

// Validate says what is wrong with the rules.
func (r *Rules) Validate() error {
	switch {
	case r.FromHour < 0 || r.UntilHour > 24 || r.FromHour >= r.UntilHour:
		return errors.New("sending hours: from 0-23 before until 1-24")
	case r.PerDay < 1 || r.PerDay > MaxPerDay:
		return fmt.Errorf("per day: 1 to %d", MaxPerDay)
	case r.PerWeek < r.PerDay || r.PerWeek > MaxPerWeek:
		return fmt.Errorf("per week: per day to %d", MaxPerWeek)
	}
	for code, cal := range r.Calendars {
		if !knownCalendars[cal] {
			return fmt.Errorf("calendar %q of +%s: only FR is known", cal, code)
		}
	}
	return nil
}

// Sent is the record of the marketing SMS a member got in the last 7 days (unix nanos,
// oldest first): at most PerWeek entries.
type Sent struct {
	At []int64 `json:"at,omitempty"`
}

// Member is where a number lives, as far as marketing knows it.
type Member struct {
	Loc      *time.Location
	Calendar string // "" : no rest days
}

// MemberOf is where number (E.164, with or without "+") lives: the longest calling code
// the rules know, else the default zone.
func (r *Rules) MemberOf(number string) Member {
	digits := strings.TrimPrefix(number, "+")
	m := Member{Loc: r.Default}
	if m.Loc == nil {
		m.Loc = time.UTC
	}
	for n := min(3, len(digits)); n >= 1; n-- {
		code := digits[:n]
		loc, ok := r.Zones[code]
		cal, rests := r.Calendars[code]
		if ok || rests {
			if ok {
				m.Loc = loc
			}
			m.Calendar = cal
			return m
		}
	}
	return m
}

// Allowed says whether a marketing SMS may go to the member at now, given what he got.
func (r *Rules) Allowed(m Member, s Sent, now time.Time) bool {
	return r.openAt(m, now) && r.capsAllow(m, s, now)
}

// openAt says whether now is inside the member's sending hours on a day he may be sent to.
func (r *Rules) openAt(m Member, now time.Time) bool {
	t := now.In(m.Loc)
	return t.Hour() >= r.FromHour && t.Hour() < r.UntilHour && !r.restDay(m, t)
}

// restDay says whether the local day of t is a Sunday or a holiday of the member's country.
func (r *Rules) restDay(m Member, t time.Time) bool {
	if m.Calendar == "" {
		return false
	}
	return t.Weekday() == time.Sunday || Holiday(m.Calendar, t)
}

// capsAllow says whether one more SMS at now stays within the caps.
func (r *Rules) capsAllow(m Member, s Sent, now time.Time) bool {
	today, inWeek := 0, 0
	for _, at := range s.At {
		t := time.Unix(0, at)
		if now.Sub(t) < week {
			inWeek++
		}
		if sameDay(t, now, m.Loc) {
			today++
		}
	}
	return today < r.PerDay && inWeek < r.PerWeek
}

func sameDay(a, b time.Time, loc *time.Location) bool {
	a, b = a.In(loc), b.In(loc)
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

// Take records one SMS sent at now, dropping what is older than a week.
func (s *Sent) Take(now time.Time) {
	keep := s.At[:0]
	for _, at := range s.At {
		if now.Sub(time.Unix(0, at)) < week {
			keep = append(keep, at)
		}
	}
	s.At = append(keep, now.UnixNano())
}

// maxNextSteps bounds the search of Next: a rest day, a full day and a full week at most.
const maxNextSteps = 64

// Next is the first time at or after now when a marketing SMS may go to the member, and
// false when none is found within the steps it looks (rules that never open).
func (r *Rules) Next(m Member, s Sent, now time.Time) (time.Time, bool) {
	t := now
	for range maxNextSteps {
		switch {
		case !r.openAt(m, t):
			t = r.nextOpening(m, t)
		case !r.capsAllow(m, s, t):
			t = r.afterCaps(m, s, t)
		default:
			return t, true
		}
	}
	return time.Time{}, false
}

// nextOpening is the next start of sending hours after t (on a day that may not be open).
func (r *Rules) nextOpening(m Member, t time.Time) time.Time {
	l := t.In(m.Loc)
	start := time.Date(l.Year(), l.Month(), l.Day(), r.FromHour, 0, 0, 0, m.Loc)
	if !start.After(l) {
		start = time.Date(l.Year(), l.Month(), l.Day()+1, r.FromHour, 0, 0, 0, m.Loc)
	}
	return start
}

// afterCaps is the first time after t when a cap that is full frees a place: the next local
// day for the day's cap, when the oldest send leaves the week for the week's.
func (r *Rules) afterCaps(m Member, s Sent, t time.Time) time.Time {
	next := t.Add(time.Minute)
	today, inWeek, oldest := 0, 0, time.Time{}
	for _, at := range s.At {
		sent := time.Unix(0, at)
		if t.Sub(sent) < week {
			inWeek++
			if oldest.IsZero() || sent.Before(oldest) {
				oldest = sent
			}
		}
		if sameDay(sent, t, m.Loc) {
			today++
		}
	}
	if today >= r.PerDay {
		l := t.In(m.Loc)
		next = time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, m.Loc)
	}
	if inWeek >= r.PerWeek && oldest.Add(week).After(next) {
		next = oldest.Add(week)
	}
	return next
}
