package engine

import (
	"math"
	"time"

	"mpg/commands"
	"mpg/domain"
	"mpg/stats"
)

// spendStats answers STATS <pin>: this month's spend against last month's, and the
// merchants it went to, from the payer's statistics record (as far as the follower got).
func (t *turn) spendStats() domain.Job {
	t.repeat.Kind = repeatQuery
	now := t.e.cfg.Now().In(t.e.cfg.Location)
	ms, err := t.e.MemberStatsOf(t.purse.ID, now)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	s := stats.Summary(ms.Member, now)
	if s.Count == 0 {
		t.reply(commands.RStatsNone, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	month := stats.MonthOf(now)
	a := commands.Args{Month: monthOf(month), PrevMonth: monthOf(month - 1), N: int(s.Count),
		Amount: t.money(uint64(max(0, s.Amount))), Prev: t.money(uint64(max(0, s.PrevAmt))),
		Change: int(math.Round(s.ChangePct)), HasChange: s.ChangeOK, Parts: t.e.spendParts(s)}
	t.reply(commands.RStats, a)
	return t.withProfile(domain.Job{})
}

// monthOf is a month since January 1970 as its calendar month.
func monthOf(m int32) time.Month { return time.Month((m%12+12)%12 + 1) }

// spendParts names where a month's money went: each merchant by its code, then the rest.
func (e *Engine) spendParts(s stats.SpendSummary) []commands.Part {
	money := func(v int64) domain.Money {
		return domain.Money{Minor: uint64(max(0, v)), Currency: e.cfg.Currency, Exponent: e.cfg.Exponent}
	}
	parts := make([]commands.Part, 0, len(s.Top)+1)
	others := s.Others
	for _, sp := range s.Top {
		a, err := e.l.Account(sp.Merchant)
		if err != nil || a.Owner == "" {
			others += sp.Amount
			continue
		}
		parts = append(parts, commands.Part{Name: a.Owner, Amount: money(sp.Amount)})
	}
	if others > 0 {
		parts = append(parts, commands.Part{Amount: money(others)})
	}
	return parts
}
