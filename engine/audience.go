package engine

import (
	"encoding/json"

	"mpg/loyalty"
	"mpg/promo"
)

// MemberOf is what promotions' and campaigns' audience rules see of a number: his language
// from his profile, and from the wallet the points programme keeps (level, points, his recent
// payments and the merchants he paid). Without a programme only the language is known.
func (e *Engine) MemberOf(number string) (promo.Member, error) {
	m := promo.Member{Language: "EN", Days: -1}
	if b, _, err := e.l.Profile(number); err != nil {
		return m, err
	} else if b != nil {
		var p profile
		if json.Unmarshal(b, &p) == nil {
			m.Language = p.Lang.String()
		}
	}
	if !e.loyal() {
		return m, nil
	}
	var w loyalty.Wallet
	if _, _, err := e.record(keyWallet+number, &w); err != nil {
		return m, err
	}
	return e.memberFrom(m, &w), nil
}

// memberFrom fills a member's attributes from his wallet.
func (e *Engine) memberFrom(m promo.Member, w *loyalty.Wallet) promo.Member {
	prog, now := e.cfg.Loyalty, e.cfg.Now()
	m.Level = prog.LevelOf(w, now).Name
	m.Points = int64(w.Spendable(now.UnixNano()))
	payments, days := prog.Activity(w, now)
	m.Payments, m.Days = int64(payments), days
	m.Paid = append([]string(nil), w.Paid...)
	return m
}
