package engine

import (
	"encoding/json"

	"mpg/commands"
	"mpg/ledger"
)

// profile is the engine's per-subscriber record, kept in the ledger file.
type profile struct {
	PINMAC      string        `json:"pin_mac"`
	Lang        commands.Lang `json:"lang"`
	LangSet     bool          `json:"lang_set"`
	Promo       bool          `json:"promo"`
	Fails       int           `json:"fails"`
	LockedUntil int64         `json:"locked_until"`
	// Spent is what the purse paid out in each of the last 24 hours (Spent[h%24] for unix
	// hour h), SpentHour the hour of the newest entry: the rolling 24-hour limit without
	// reading the history.
	Spent     [24]uint64 `json:"spent"`
	SpentHour int64      `json:"spent_hour"`
	// Holds are payments waiting for this number to register (pending transfer ids).
	Holds []string `json:"holds,omitempty"`
	// Confirm is the payment waiting for YES <code> from this number.
	Confirm *confirmation `json:"confirm,omitempty"`
}

// maxHolds bounds the payments one unregistered number can be waiting for.
const maxHolds = 8

// roll forgets the hours that left the 24-hour window ending at hour now.
func (p *profile) roll(now int64) {
	if now-p.SpentHour >= 24 {
		p.Spent = [24]uint64{}
	} else {
		for h := p.SpentHour + 1; h <= now; h++ {
			p.Spent[h%24] = 0
		}
	}
	if now > p.SpentHour {
		p.SpentHour = now
	}
}

func (p *profile) spent(now int64) uint64 {
	q := *p
	q.roll(now)
	var sum uint64
	for _, v := range q.Spent {
		sum += v
	}
	return sum
}

func (p *profile) addSpend(now int64, amount uint64) {
	p.roll(now)
	p.Spent[now%24] += amount
}

// keepForRefusal remembers the profile as it is now, for the refusal path.
func (t *turn) keepForRefusal() {
	p := t.withProfile(ledger.Job{}).Profiles
	t.onRefusal = &p
}

func (t *turn) withProfile(j ledger.Job) ledger.Job {
	if t.profDirty {
		b, _ := json.Marshal(t.prof)
		j.Profiles = append(j.Profiles, ledger.Profile{Owner: t.in.From, Data: b})
	}
	return j
}
