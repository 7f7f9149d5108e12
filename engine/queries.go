package engine

import (
	"fmt"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// canPay is what the purse can pay now: its balance, its tier's per-payment limit and what is
// left of its 24-hour limit (reservations count), the smallest of the three; and that last.
func (e *Engine) canPay(purse *domain.Account) (now, today uint64) {
	lim := e.cfg.Tiers[purse.Tier]
	avail := uint64(max(0, purse.Available()))
	today = avail
	if lim.Daily > 0 {
		spent := domain.SpentSince(purse.Spends, e.cfg.Now().UnixNano())
		today = lim.Daily - min(lim.Daily, spent)
	}
	now = min(avail, today)
	if lim.PerTx > 0 {
		now = min(now, lim.PerTx)
	}
	return now, today
}

func (t *turn) balance() domain.Job {
	bal := t.money(uint64(max(0, t.purse.Available())))
	if t.purse.Status == domain.StatusBlocked {
		t.reply(commands.RBalanceBlocked, commands.Args{Balance: bal})
		return t.withProfile(domain.Job{})
	}
	now, today := t.e.canPay(t.purse)
	t.reply(commands.RBalance, commands.Args{Balance: bal, Limit: t.money(now), Amount: t.money(today)})
	return t.withProfile(domain.Job{})
}

func (t *turn) mini() domain.Job {
	// Reservations and their releases are not operations the subscriber made: MINI lists
	// what moved (single transfers and posts), the last 5 of them.
	h, err := t.e.l.History(t.purse.ID, 50, 0)
	var lines []string
	for _, tr := range h {
		if len(lines) == 5 {
			break
		}
		if tr.Flags&(domain.Pending|domain.VoidPending) != 0 {
			continue
		}
		sign := "+"
		if tr.Debit == t.purse.ID {
			sign = "-"
		}
		amt := t.money(tr.Amount).Format(t.lang.DecimalMark())
		lines = append(lines, fmt.Sprintf("%s %s%s", time.Unix(0, tr.Timestamp).In(t.e.cfg.Location).Format("02/01"), sign, amt))
	}
	if err != nil || len(lines) == 0 {
		t.reply(commands.RMiniEmpty, commands.Args{Balance: t.money(uint64(max(0, t.purse.Available())))})
		return t.withProfile(domain.Job{})
	}
	t.reply(commands.RMini, commands.Args{Lines: lines, Balance: t.money(uint64(max(0, t.purse.Available())))})
	return t.withProfile(domain.Job{})
}
