package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"mpg/commands"
	"mpg/domain"
	"mpg/marketing"
	"mpg/promo"
)

// Finding the audience: a campaign reads the consent records (keyConsent) in key order, one
// page of at most a few times its budget a step, and takes each number once (a person's
// records are adjacent). Everybody who ever opted in has a record, so the whole walk reads
// every consent record once a round: as many as the switches people made, far fewer than
// the profiles of all subscribers. For each number it then reads his profile, his audience
// attributes (MemberOf), whether this campaign sent him something and his cap record: four
// point reads, then one job for a member who gets the SMS.

// outcome is what a campaign did with one member.
type outcome uint8

const (
	outSkipped  outcome = iota // not opted in, not in the audience, or sent already
	outDeferred                // quiet hours or a cap: tried again next round
	outSent
	outRaced // his consent, his caps or the campaign changed meanwhile: the job was refused
)

// campaignStep reads the next page of consent records and handles each member in it, up to
// budget SMS; it returns how many it queued.
func (e *Engine) campaignStep(ctx context.Context, id string, budget int) (int, error) {
	c, ver, err := e.CampaignByID(id)
	if err != nil || c.State != CampaignRunning {
		return 0, err
	}
	now := e.cfg.Now().UnixNano()
	if now < c.NextAt {
		return 0, nil
	}
	aud, err := promo.Compile(c.Audience)
	if err != nil {
		return 0, err
	}
	page := min(domain.MaxProfileScan, 4*budget)
	cur, last := e.openCursor(c.Cursor), e.openCursor(c.Last)
	recs, err := e.l.ProfilesFrom(keyConsent, max(cur, keyConsent), page)
	if err != nil {
		return 0, err
	}
	sent, done := 0, len(recs) < page
	var ids []sentMsg
	for i, r := range recs {
		number, _, _ := strings.Cut(strings.TrimPrefix(r.Owner, keyConsent), ":")
		cur = r.Owner + "\x00"
		if number == last {
			continue
		}
		last = number
		out, msg, err := e.campaignMember(ctx, &c, ver, aud, number)
		if err != nil { // said without the member's number: it goes to the logs
			return sent, fmt.Errorf("campaign %s, member %s: %s", c.ID, domain.Mask(number), strings.ReplaceAll(err.Error(), number, domain.Mask(number)))
		}
		if out == outRaced && e.campaignMoved(id, ver) {
			return sent, nil // stopped by an operator, or stepped by another daemon
		}
		if out == outSent {
			sent++
			ids = append(ids, sentMsg{number, msg, now})
		}
		if sent >= budget || e.outboxBusy() {
			done = done && i == len(recs)-1
			break
		}
	}
	c.Sent += sent
	if c.Cursor, err = e.sealCursor(cur); err != nil {
		return sent, err
	}
	if c.Last, err = e.sealCursor(last); err != nil {
		return sent, err
	}
	if done {
		e.campaignRoundEnd(&c, now)
	}
	return sent, e.campaignSave(ctx, c, ver, ids)
}

// campaignRoundEnd starts the next round when members were left for later and there is
// time, else ends the campaign.
func (e *Engine) campaignRoundEnd(c *Campaign, now int64) {
	if c.Deferred > 0 && now+int64(roundWait) < c.Until {
		c.Round, c.Cursor, c.Last, c.Deferred, c.NextAt = c.Round+1, "", "", 0, now+int64(roundWait)
		return
	}
	c.State, c.Ended = CampaignDone, now
}

type sentMsg struct {
	number string
	msg    uint64
	at     int64
}

// campaignSave writes the campaign's progress at the version the step read, with the outbox
// ids of what it sent (for the report's deliveries). A conflict means another daemon moved
// the campaign: its own record stands, and what this step sent is counted by its records.
func (e *Engine) campaignSave(ctx context.Context, c Campaign, ver uint64, ids []sentMsg) error {
	job := domain.Job{Profiles: []domain.Profile{write(keyCampaign+c.ID, c, ver)}}
	if c.State != CampaignRunning {
		var err error
		if job, err = e.campaignEnd(c, ver); err != nil {
			return err
		}
	}
	for _, s := range ids {
		job.Profiles = append(job.Profiles, write(sentKey(c.ID, s.number), campaignSend{At: s.at, Msg: s.msg}, 1))
	}
	_, err := e.l.Submit(ctx, job)
	if errors.Is(err, domain.ErrConflict) {
		return nil
	}
	return err
}

// campaignMoved says whether the campaign's record changed since the step read it.
func (e *Engine) campaignMoved(id string, ver uint64) bool {
	_, now, err := e.l.Profile(keyCampaign + id)
	return err != nil || now != ver
}

func sentKey(id, number string) string { return keyCampaignSent + id + ":" + number }

// campaignMember sends the campaign to one member if he opted in, the rule matches him, it
// was not sent to him yet, his hours are open and his caps allow it.
func (e *Engine) campaignMember(ctx context.Context, c *Campaign, cver uint64, aud *promo.Audience, number string) (outcome, uint64, error) {
	b, ver, err := e.l.Profile(number)
	if err != nil || b == nil {
		return outSkipped, 0, err
	}
	var p profile
	if json.Unmarshal(b, &p) != nil || !p.Promo {
		return outSkipped, 0, nil
	}
	m, err := e.MemberOf(number)
	if err != nil || !aud.Match(m) {
		return outSkipped, 0, err
	}
	if c.Round == 1 {
		c.Matched++
	}
	if old, _, err := e.l.Profile(sentKey(c.ID, number)); err != nil || old != nil {
		return outSkipped, 0, err
	}
	var s marketing.Sent
	capVer, _, err := e.record(keyMarketingCap+number, &s)
	if err != nil {
		return outSkipped, 0, err
	}
	rules, now := &e.cfg.Marketing.Rules, e.cfg.Now()
	if !rules.Allowed(rules.MemberOf(number), s, now) {
		c.Deferred++
		return outDeferred, 0, nil
	}
	s.Take(now)
	text := commands.Render(p.Lang, commands.RCampaign, commands.Args{Lines: []string{c.Text}}) // as the merchant wrote it: digits kept
	res, err := e.l.Submit(ctx, domain.Job{
		// A STOP since, or the campaign stopped since, refuses the job.
		Reads:    []domain.Profile{{Owner: number, Version: ver}, {Owner: keyCampaign + c.ID, Version: cver}},
		Profiles: []domain.Profile{write(keyMarketingCap+number, s, capVer), write(sentKey(c.ID, number), campaignSend{At: now.UnixNano()}, 0)},
		Messages: []domain.Message{{From: e.cfg.ShortCode, To: number, Text: text}},
	})
	if errors.Is(err, domain.ErrConflict) {
		return outRaced, 0, nil
	}
	if err != nil {
		return outSkipped, 0, err
	}
	return outSent, res.Messages[0], nil
}

// The cursor and the last member handled name a member (his number, in his consent record's
// key): the campaign record keeps them sealed, so it holds no number in clear, and no listing
// shows one. A cursor that cannot be opened (the PIN key changed) starts the round again;
// the members sent already are skipped by their own records.
func (e *Engine) sealCursor(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	return e.seal(s)
}

func (e *Engine) openCursor(s string) string {
	if s == "" {
		return ""
	}
	t, err := e.DeliverText(domain.Message{Text: secretMark, Sealed: s})
	if err != nil {
		return ""
	}
	return t
}
