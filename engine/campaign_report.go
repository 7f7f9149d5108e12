package engine

import (
	"encoding/json"
	"strings"

	"mpg/domain"
	"mpg/promo"
)

// CampaignReport is what a campaign did. Audience counts the opted-in members its rule
// matched on its first pass; Sent the SMS queued; Delivered those whose delivery receipt
// came back; OptedOut the recipients who withdrew their consent after it started (STOP,
// PROMO OFF, any channel). Payments that used the promotion are not counted here: they are
// the promotion's own uses.
type CampaignReport struct {
	Campaign
	Recipients int  `json:"recipients"`
	Delivered  int  `json:"delivered"`
	Failed     int  `json:"failed"` // refused by the SMSC or undeliverable
	OptedOut   int  `json:"opted_out"`
	Partial    bool `json:"partial,omitempty"` // more recipients than one report reads
	// Uses is how often the recipients used the promotion (counted when the promotion keeps
	// a count per member: a code or a limit), at any time; Budget and BudgetLeft are the
	// promotion's, in minor units.
	Uses       int    `json:"uses"`
	Budget     uint64 `json:"budget"`
	BudgetLeft uint64 `json:"budget_left"`
}

// maxConsentsAfter bounds the consent records read per recipient.
const maxConsentsAfter = 100

// ReportCampaign counts a campaign's deliveries and opt-outs from its recipients' records:
// one read of the outbox message and one of the consent records since the start per
// recipient, at most maxReport recipients.
func (e *Engine) ReportCampaign(id string) (CampaignReport, error) {
	c, _, err := e.CampaignByID(id)
	if err != nil {
		return CampaignReport{}, err
	}
	c.Cursor, c.Last = "", "" // where the sweep is: nothing a reader needs
	rep := CampaignReport{Campaign: c}
	p, _, err := e.promotion(c.Promo)
	if err == nil {
		rep.Budget, rep.BudgetLeft = p.Budget, e.BudgetLeft(p)
	}
	prefix := keyCampaignSent + id + ":"
	rep.Partial, err = e.scan(prefix, "", maxReport, func(r domain.Profile) (bool, error) {
		rep.Recipients++
		var s campaignSend
		if err := json.Unmarshal(r.Data, &s); err != nil {
			return false, err
		}
		if err := e.countDelivery(&rep, s.Msg); err != nil {
			return false, err
		}
		number := strings.TrimPrefix(r.Owner, prefix)
		var u promo.Use
		if _, _, err := e.record(keyPromoUse+c.Promo+":"+number, &u); err == nil {
			rep.Uses += u.Count
		}
		out, err := e.optedOutSince(number, c.Created)
		if out {
			rep.OptedOut++
		}
		return true, err
	})
	return rep, err
}

// countDelivery counts what became of one outbox message (0: its id was not recorded).
func (e *Engine) countDelivery(rep *CampaignReport, id uint64) error {
	if id == 0 {
		return nil
	}
	msgs, err := e.l.Messages(1, id+1, 0)
	if err != nil || len(msgs) == 0 || msgs[0].ID != id {
		return err // pruned after the outbox retention
	}
	switch msgs[0].Status {
	case domain.MsgDelivered:
		rep.Delivered++
	case domain.MsgFailed, domain.MsgUndeliverable:
		rep.Failed++
	}
	return nil
}

// optedOutSince says whether a number withdrew his marketing consent at or after since.
func (e *Engine) optedOutSince(number string, since int64) (bool, error) {
	prefix := keyConsent + number + ":"
	out := false
	_, err := e.scan(prefix, prefix+hex16(uint64(since)), maxConsentsAfter, func(r domain.Profile) (bool, error) {
		var c Consent
		if err := json.Unmarshal(r.Data, &c); err != nil {
			return false, err
		}
		out = !c.Granted
		return !out, nil
	})
	return out, err
}
