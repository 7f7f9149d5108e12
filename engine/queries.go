package engine

import (
	"fmt"
	"time"

	"mpg/commands"
	"mpg/ledger"
)

func (t *turn) balance() ledger.Job {
	lim := t.e.cfg.Tiers[t.purse.Tier]
	spent, _ := t.spentToday()
	left := uint64(0)
	if lim.Daily > spent {
		left = lim.Daily - spent
	}
	t.reply(commands.RBalance, commands.Args{Balance: t.money(uint64(max(0, t.purse.Available()))), Limit: t.money(left)})
	return t.withProfile(ledger.Job{})
}

func (t *turn) mini() ledger.Job {
	// Reservations and their releases are not operations the subscriber made: MINI lists
	// what moved (single transfers and posts), the last 5 of them.
	h, err := t.e.l.History(t.purse.ID, 50, 0)
	var lines []string
	for _, tr := range h {
		if len(lines) == 5 {
			break
		}
		if tr.Flags&(ledger.Pending|ledger.VoidPending) != 0 {
			continue
		}
		sign := "+"
		if tr.Debit == t.purse.ID {
			sign = "-"
		}
		amt := t.money(tr.Amount).Format(t.lang)
		lines = append(lines, fmt.Sprintf("%s %s%s", time.Unix(0, tr.Timestamp).UTC().Format("02/01"), sign, amt))
	}
	if err != nil || len(lines) == 0 {
		t.reply(commands.RMiniEmpty, commands.Args{Balance: t.money(uint64(max(0, t.purse.Available())))})
		return t.withProfile(ledger.Job{})
	}
	t.reply(commands.RMini, commands.Args{Lines: lines, Balance: t.money(uint64(max(0, t.purse.Available())))})
	return t.withProfile(ledger.Job{})
}
