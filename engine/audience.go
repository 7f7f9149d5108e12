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
	if err := e.withSegment(&m, number); err != nil {
		return m, err
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

// withSegment fills a member's RFM segment and scores from his statistics record.
func (e *Engine) withSegment(m *promo.Member, number string) error {
	purse := e.purseOf(number)
	if purse == nil {
		return nil
	}
	ms, err := e.MemberStatsOf(purse.ID, e.cfg.Now().In(e.cfg.Location))
	if err != nil || !ms.Found {
		return err
	}
	m.Segment = ms.Segment
	m.Recency, m.Frequency, m.Monetary = int64(ms.Score.R), int64(ms.Score.F), int64(ms.Score.M)
	return nil
}
