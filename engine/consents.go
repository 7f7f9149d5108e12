package engine

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"mpg/commands"
	"mpg/domain"
)

// Marketing consent is recorded as it is given: every consent and withdrawal is a record of
// its own under keyConsent, written at version 0 in the same job as the profile's Promo
// flag, so it is never rewritten and never missing. A switch that changes nothing (PROMO OFF
// when offers are off) writes no record: a person's records alternate on and off, so their
// number is bounded by the changes he makes, which the MO rate limits bound in turn.
const keyConsent = "@cs:" // + number + ":" + time %016x + ":" + seq

// Channels a consent comes by.
const (
	ConsentSMS      = "sms"
	ConsentCheckout = "checkout"
)

// Consent is one marketing consent (Granted) or withdrawal, as it was given: when, by which
// channel and command, and the wording the person was shown or texted.
type Consent struct {
	Time    int64  `json:"time"` // unix nanos
	Granted bool   `json:"granted"`
	Channel string `json:"channel"`
	Command string `json:"command"`           // what the person did: "PROMO ON", "STOP", the box ticked
	Text    string `json:"text"`              // the exact wording shown or texted
	TextID  string `json:"text_id,omitempty"` // a stable name of that wording and its version
}

// maxConsentsRead bounds the records one listing reads.
const maxConsentsRead = 100000

func consentKey(number string, at int64, seq int) string {
	return keyConsent + number + ":" + hex16(uint64(max(0, at))) + ":" + strconv.Itoa(seq)
}

// consentWrite appends a consent record, numbered by the profile written with it (so two
// records of one instant have distinct keys); the write at version 0 fails if the key exists.
func consentWrite(number string, c Consent, p *profile) domain.Profile {
	p.Consents++
	return write(consentKey(number, c.Time, p.Consents), c, 0)
}

// Consents lists a number's consent records, oldest first.
func (e *Engine) Consents(number string) ([]Consent, error) {
	var out []Consent
	prefix := keyConsent + number + ":"
	_, err := e.scan(prefix, "", maxConsentsRead, func(r domain.Profile) (bool, error) {
		var c Consent
		if err := json.Unmarshal(r.Data, &c); err != nil {
			return false, err
		}
		out = append(out, c)
		return true, nil
	})
	return out, err
}

// promo switches the sender's marketing by SMS (PROMO ON/OFF, STOP/START), recording the
// consent with the reply that confirms it.
func (t *turn) promo(on bool, r commands.Reply) domain.Job {
	t.reply(r, commands.Args{})
	if t.prof.Promo == on {
		return domain.Job{} // nothing changes: nothing to record
	}
	t.prof.Promo, t.profDirty = on, true
	c := Consent{Time: t.e.cfg.Now().UnixNano(), Granted: on, Channel: ConsentSMS,
		Command: domain.Clip(commands.Redact(strings.Join(strings.Fields(t.in.Text), " "))),
		Text:    t.replies[len(t.replies)-1].Text, TextID: "reply:" + strconv.Itoa(int(r)) + ":" + t.lang.String()}
	cw := consentWrite(t.in.From, c, &t.prof)
	job := t.withProfile(domain.Job{})
	job.Profiles = append(job.Profiles, cw)
	return job
}

// stopWord handles the one-word STOP or START, read before the parser: no PIN, at once.
func (t *turn) stopWord(on bool, l commands.Lang) domain.Job {
	t.lang = t.prof.Lang
	if !t.prof.LangSet {
		t.lang = l
	}
	r := commands.RStopped
	if on {
		r = commands.RStarted
	}
	switch {
	case t.purse == nil && !on:
		t.reply(r, commands.Args{}) // no purse: no offers are sent to this number
		return domain.Job{}
	case t.purse == nil:
		t.reply(commands.RNotRegistered, commands.Args{})
		return domain.Job{}
	case on && t.purse.Status == domain.StatusClosed:
		t.reply(commands.RAccountClosed, commands.Args{})
		return domain.Job{}
	}
	return t.promo(on, r)
}

// RecordConsent switches a subscriber's marketing from another channel than SMS (a box
// ticked on the checkout page once the number was proven with its code), with the wording
// shown. It reports whether anything changed: a switch to the state he is in records nothing.
func (e *Engine) RecordConsent(ctx context.Context, number string, c Consent) (bool, error) {
	changed := false
	_, err := e.opTurn(ctx, number, func(purse *domain.Account, p *profile, ver uint64) (domain.Job, error) {
		changed = purse != nil && p.Promo != c.Granted
		if !changed {
			return domain.Job{}, nil
		}
		p.Promo = c.Granted
		c.Time = e.cfg.Now().UnixNano()
		cw := consentWrite(number, c, p)
		return domain.Job{Profiles: []domain.Profile{e.profileWrite(number, p, ver), cw}}, nil
	})
	return changed, err
}
