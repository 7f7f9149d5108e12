package marketing

import "time"

// Holiday says whether the local day of t is a public holiday of the calendar's country
// (only "FR" is known: the eight fixed days and the three that follow Easter).
func Holiday(calendar string, t time.Time) bool {
	if calendar != "FR" {
		return false
	}
	m, d := t.Month(), t.Day()
	for _, f := range frFixed {
		if f.m == m && f.d == d {
			return true
		}
	}
	easter := Easter(t.Year())
	for _, after := range []int{1, 39, 50} { // Easter Monday, Ascension Thursday, Whit Monday
		h := easter.AddDate(0, 0, after)
		if h.Month() == m && h.Day() == d {
			return true
		}
	}
	return false
}

var frFixed = []struct {
	m time.Month
	d int
}{{time.January, 1}, {time.May, 1}, {time.May, 8}, {time.July, 14}, {time.August, 15},
	{time.November, 1}, {time.November, 11}, {time.December, 25}}

// Easter is Easter Sunday of year in the Gregorian calendar (the anonymous Gregorian
// algorithm, "Meeus/Jones/Butcher"), as a date in UTC.
func Easter(year int) time.Time {
	a, b, c := year%19, year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}
