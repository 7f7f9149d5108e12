package engine

import (
	"encoding/json"
	"fmt"
	"time"

	"mpg/domain"
	"mpg/stats"
)

// maxStatsCells bounds the cells one answer reads (a period and the one before it).
const maxStatsCells = 200000

// StatsAnswer is a query's answer: the roll-ups' rows and totals with the previous equal
// period beside them, the payers, and how far behind the journal the follower was.
type StatsAnswer struct {
	stats.Report
	Payers Payers `json:"payers"`
	Lag    int64  `json:"lag_entries"`
}

// Payers are the people who paid: new ones in the period and the one before, active ones
// on the period's last day (DAU) and in its last month (MAU). Service-wide only.
type Payers struct {
	New     int64 `json:"new"`
	PrevNew int64 `json:"prev_new"`
	DAU     int64 `json:"dau"`
	MAU     int64 `json:"mau"`
}

// Statistics answers a query from the roll-ups.
func (e *Engine) Statistics(q stats.Query) (StatsAnswer, error) {
	if err := q.Check(); err != nil {
		return StatsAnswer{}, domain.PaymentErr(domain.CodeInvalidRequest, err.Error())
	}
	cells, err := e.statsCells(stats.Previous(q).From, q.To)
	if err != nil {
		return StatsAnswer{}, err
	}
	a := StatsAnswer{Report: stats.NewReport(cells, q)}
	if a.Lag, err = e.statsBehind(); err != nil {
		return a, err
	}
	if q.Merchant == 0 {
		a.Payers, err = e.payers(q)
	}
	return a, err
}

// statsBehind is how many journal entries the follower's position, as the books hold it,
// has still to read (whichever daemon follows): all of them while a rebuild runs.
func (e *Engine) statsBehind() (int64, error) {
	var pos statsPos
	if _, _, err := e.record(keyStatsPos, &pos); err != nil {
		return 0, err
	}
	head := int64(e.headSeq())
	if pos.Rebuild {
		return head, nil
	}
	return max(0, head-int64(max(pos.Next, 1))+1), nil
}

// statsCells reads the cells of the hours that start in [from, to).
func (e *Engine) statsCells(from, to time.Time) ([]stats.KeyedCell, error) {
	var out []stats.KeyedCell
	// Every hour that starts before to: the hour to falls in too, unless to begins it.
	end := keyStatsCell + hex16(uint64(stats.HourOf(to.UnixNano()-1)+3600))
	more, err := e.scan(keyStatsCell, keyStatsCell+hex16(uint64(stats.HourOf(from.UnixNano()))), maxStatsCells, func(r domain.Profile) (bool, error) {
		if r.Owner >= end {
			return false, nil
		}
		k, ok := parseCellKey(r.Owner)
		var c stats.Cell
		if !ok || json.Unmarshal(r.Data, &c) != nil {
			return false, fmt.Errorf("statistics record %s unreadable", r.Owner)
		}
		out = append(out, stats.KeyedCell{Key: k, Cell: c})
		return true, nil
	})
	if more {
		return nil, domain.PaymentErr(domain.CodeInvalidRequest, "the period holds too many figures: ask for a shorter one")
	}
	return out, err
}

// payers reads the payers' counts of a query's period.
func (e *Engine) payers(q stats.Query) (Payers, error) {
	var p Payers
	loc := e.cfg.Location
	last := q.To.Add(-time.Nanosecond).In(loc)
	prev := stats.Previous(q)
	for d := stats.DayOf(prev.From.In(loc)); d <= stats.DayOf(last); d++ {
		var c payersCount
		if _, _, err := e.record(keyStatsDay+hex16(uint64(d)), &c); err != nil {
			return p, err
		}
		if d < stats.DayOf(q.From.In(loc)) {
			p.PrevNew += c.New
		} else {
			p.New += c.New
		}
		if d == stats.DayOf(last) {
			p.DAU = c.Active
		}
	}
	var m payersCount
	_, _, err := e.record(keyStatsMonth+hex16(uint64(stats.MonthOf(last))), &m)
	p.MAU = m.Active
	return p, err
}

// MemberStats is a payer's record and scores as of a date.
type MemberStats struct {
	Member  stats.Member
	Score   stats.Score
	Segment string
	Found   bool
}

// MemberStatsOf reads the statistics of the payer whose purse is purse, scored as of asOf.
func (e *Engine) MemberStatsOf(purse uint64, asOf time.Time) (MemberStats, error) {
	var ms MemberStats
	p, _, err := e.readPayer(purse)
	if err != nil || p.Member.First == 0 {
		return ms, err // no payment of his folded yet
	}
	ms.Member = p.Member
	ms.Found, ms.Score = true, stats.RFM(ms.Member, asOf)
	ms.Segment = stats.Segment(ms.Score, ms.Member, asOf)
	return ms, nil
}

// StatsDays is the period of the days from and to (YYYY-MM-DD, both included, in the
// engine's zone); an empty to is today, an empty from 6 days before to.
func (e *Engine) StatsDays(from, to string) (time.Time, time.Time, error) {
	loc := e.cfg.Location
	today := e.cfg.Now().In(loc)
	end := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc)
	var err error
	if to != "" {
		if end, err = time.ParseInLocation(time.DateOnly, to, loc); err != nil {
			return end, end, domain.PaymentErr(domain.CodeInvalidRequest, "to: a day as YYYY-MM-DD")
		}
	}
	start := end.AddDate(0, 0, -6)
	if from != "" {
		if start, err = time.ParseInLocation(time.DateOnly, from, loc); err != nil {
			return start, end, domain.PaymentErr(domain.CodeInvalidRequest, "from: a day as YYYY-MM-DD")
		}
	}
	return start, end.AddDate(0, 0, 1), nil
}

// maxCensus bounds the payers' records one census reads.
const maxCensus = 200000

// Segments counts the payers in each RFM segment as of asOf (complete false when there
// were more records than a census reads).
func (e *Engine) Segments(asOf time.Time) (counts map[string]int64, complete bool, err error) {
	counts = map[string]int64{}
	more, err := e.scan(keyStatsMember, "", maxCensus, func(r domain.Profile) (bool, error) {
		var p payerRecord
		if p.decode(r.Data) != nil || p.Member.First == 0 {
			return true, nil // unreadable, or a purse that only ever was scored: in no segment
		}
		m := p.Member
		counts[stats.Segment(stats.RFM(m, asOf), m, asOf)]++
		return true, nil
	})
	return counts, !more, err
}
