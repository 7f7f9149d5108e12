package engine

import (
	"fmt"
	"strconv"
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
	t.withPointsHeld()
	return t.withProfile(domain.Job{})
}

func (t *turn) mini() domain.Job {
	// Reservations and their releases are not operations the subscriber made: MINI lists
	// what moved (single transfers and posts), the last 5 of them, each with what it was.
	h, err := t.e.l.History(t.purse.ID, 50, 0)
	var lines []string
	for _, tr := range h {
		if len(lines) == 5 {
			break
		}
		if tr.Flags&(domain.Pending|domain.VoidPending) != 0 {
			continue
		}
		lines = append(lines, t.miniLine(tr))
	}
	if err != nil || len(lines) == 0 {
		t.reply(commands.RMiniEmpty, commands.Args{Balance: t.money(uint64(max(0, t.purse.Available())))})
		return t.withProfile(domain.Job{})
	}
	t.reply(commands.RMini, commands.Args{Lines: fitLines(lines, t.lang), Balance: t.money(uint64(max(0, t.purse.Available())))})
	return t.withProfile(domain.Job{})
}

// miniLine is one MINI line: date, signed amount, and what it was.
func (t *turn) miniLine(tr domain.Transfer) string {
	sign, other := "+", tr.Debit
	if tr.Debit == t.purse.ID {
		sign, other = "-", tr.Credit
	}
	amt := t.money(tr.Amount).Format(t.lang.DecimalMark())
	day := time.Unix(0, tr.Timestamp).In(t.e.cfg.Location).Format("02/01")
	return fmt.Sprintf("%s %s%s %s", day, sign, amt, t.e.miniWhat(t.lang, tr.Code, other))
}

// miniWhat says what a transfer was to the subscriber: the merchant, biller or payee it went
// to or came from, or its kind when that says more (cash-in, fee, refund, reversal).
func (e *Engine) miniWhat(l commands.Lang, code uint16, other uint64) string {
	switch code {
	case domain.CodeTopup:
		return commands.Say(l, commands.WordCashIn)
	case domain.CodeFee:
		return commands.Say(l, commands.WordFee)
	case domain.CodeReversal:
		return commands.Say(l, commands.WordReversal)
	case domain.CodeRefund:
		return commands.Say(l, commands.WordRefund) + " " + e.partyName(l, other)
	case domain.CodeClaim:
		return commands.Say(l, commands.WordClaimed)
	case domain.CodePayout:
		return commands.Say(l, commands.WordPayout)
	case domain.CodeRepay:
		return commands.Say(l, commands.WordRepay)
	}
	return e.partyName(l, other)
}

// partyName is the other side of a MINI line as a subscriber knows it: a merchant's or
// biller's name, a masked phone number for another purse; short, for the SMS.
func (e *Engine) partyName(l commands.Lang, id uint64) string {
	a, err := e.l.Account(id)
	switch {
	case err != nil:
		return "?"
	case a.Kind == domain.KindPurse:
		return domain.Mask(a.Owner)
	case a.Kind == domain.KindBankClearing:
		return commands.Say(l, commands.WordBank)
	case a.Kind == domain.KindFees:
		return commands.Say(l, commands.WordFee)
	case a.Kind == domain.KindEscrow: // a SEND held until its payee registers
		return commands.Say(l, commands.WordHeld)
	}
	name := a.Name
	if name == "" {
		name = a.Owner
	}
	if r := []rune(name); len(r) > miniNameRunes {
		name = string(r[:miniNameRunes])
	}
	return name
}

// miniNameRunes keeps a name on a MINI line short.
const miniNameRunes = 16

// fitLines keeps the newest lines that fit within 3 SMS: GSM-7 holds far more than UCS-2,
// which Chinese, and any name with a letter outside GSM-7, needs.
func fitLines(lines []string, l commands.Lang) []string {
	budget := 360
	if l == commands.ZH || !gsmish(lines) {
		budget = 150
	}
	n := 0
	for i, s := range lines {
		if n += len([]rune(s)) + 1; n > budget && i > 0 {
			return lines[:i]
		}
	}
	return lines
}

// gsmish is true when the lines are ASCII but for the French é of MINI's words.
func gsmish(lines []string) bool {
	for _, s := range lines {
		for _, r := range s {
			if r > 0x7E && r != 'é' {
				return false
			}
		}
	}
	return true
}

// PartyOf is an account as an operator's screens show it: a merchant's or biller's code, a
// person's number masked (his purse or credit line), the id of one it cannot read.
func (e *Engine) PartyOf(id uint64) string {
	a, err := e.l.Account(id)
	switch {
	case err != nil:
		return strconv.FormatUint(id, 10)
	case a.Kind == domain.KindPurse || a.Kind == domain.KindCreditLine:
		return domain.Mask(a.Owner)
	}
	return a.Owner
}
