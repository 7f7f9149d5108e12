package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"mpg/domain"
	"mpg/marketing"
	"mpg/promo"
)

// A campaign texts one promotion to its audience: the members who opted in to offers (their
// profile's Promo, as PROMO ON, START or a ticked box left it) and whom its audience rule
// matches. It walks the consent records in bounded steps, each member in a ledger job of his
// own that re-reads his consent at the version the job guards, so a STOP committed meanwhile
// refuses the job and nothing is ever sent after a STOP. Members in their quiet hours or at
// their cap are left for a next round, until the campaign's time is over.
const (
	keyCampaign     = "@mc:"  // + campaign id: the campaign record
	keyCampaignOn   = "@mcr:" // + campaign id: the campaigns still running
	keyCampaignSent = "@mcs:" // + campaign id + ":" + number: what the campaign sent him (once)
	keyMarketingCap = "@mk:"  // + number: the marketing SMS he got in the last 7 days
)

// Campaign states.
const (
	CampaignRunning = "running"
	CampaignStopped = "stopped" // by an operator
	CampaignDone    = "done"    // every member was tried, or its time ran out
)

// Limits on campaigns.
const (
	MaxCampaignText = 120 // characters of the merchant's text; mpg adds how to stop
	maxCampaigns    = 1000
	maxReport       = 100000 // recipients one report reads
	roundWait       = 15 * time.Minute
)

// MarketingConfig is how campaigns send: the rules of when and how often a member may get
// a marketing SMS, and how they give way to payment replies.
type MarketingConfig struct {
	Rules marketing.Rules
	// MaxOutbox: campaigns queue nothing while more messages than this wait to leave, so
	// payment replies never queue behind marketing (default 1000).
	MaxOutbox int
	PerSecond int           // SMS campaigns queue per call of RunCampaigns (default 20)
	Lasts     time.Duration // how long a campaign tries its deferred members (default 7 days)
}

func (c *MarketingConfig) defaults(loc *time.Location) {
	if c.Rules.UntilHour == 0 {
		c.Rules = marketing.Rules{FromHour: 8, UntilHour: 20, PerDay: 1, PerWeek: 3}
	}
	if c.Rules.Default == nil {
		c.Rules.Default = loc
	}
	if c.MaxOutbox <= 0 {
		c.MaxOutbox = 1000
	}
	if c.PerSecond <= 0 {
		c.PerSecond = 20
	}
	if c.Lasts <= 0 {
		c.Lasts = 7 * 24 * time.Hour
	}
}

// Campaign is a campaign's record: what it sends and how far it got.
type Campaign struct {
	ID       string `json:"id"`
	Promo    string `json:"promo"`
	Text     string `json:"text"`
	Audience string `json:"audience,omitempty"`
	State    string `json:"state"`
	Created  int64  `json:"created"` // unix nanos
	Until    int64  `json:"until"`   // deferred members are tried until then
	Ended    int64  `json:"ended,omitempty"`
	Round    int    `json:"round"`
	Cursor   string `json:"cursor,omitempty"`  // the next consent record to read (sealed: it names a member)
	Last     string `json:"last,omitempty"`    // the member handled last, his records adjacent (sealed)
	NextAt   int64  `json:"next_at,omitempty"` // the next round starts then
	Deferred int    `json:"deferred,omitempty"`
	Matched  int    `json:"matched"` // opted-in members the rule matched, in the first round
	Sent     int    `json:"sent"`
}

// campaignSend is what a campaign sent one member: when, and its outbox id once known.
type campaignSend struct {
	At  int64  `json:"at"`
	Msg uint64 `json:"msg,omitempty"`
}

var promoCodeRE = regexp.MustCompile(`^[A-Z][A-Z0-9]{2,11}$`)

// Errors of campaigns, for the operator.
var (
	ErrCampaignNotFound = errors.New("no such campaign")
	ErrCampaignText     = fmt.Errorf("a campaign's text is 1 to %d characters", MaxCampaignText)
	ErrPromoCode        = errors.New("a promotion code is 3 to 12 capital letters and digits, a letter first")
)

// CreateCampaign saves a campaign; the sweep starts sending it.
func (e *Engine) CreateCampaign(ctx context.Context, code, text, audience, actor string) (Campaign, error) {
	code, text = strings.ToUpper(strings.TrimSpace(code)), strings.TrimSpace(text)
	switch n := utf8.RuneCountInString(text); {
	case !promoCodeRE.MatchString(code):
		return Campaign{}, ErrPromoCode
	case n == 0 || n > MaxCampaignText:
		return Campaign{}, ErrCampaignText
	}
	if _, err := promo.Compile(audience); err != nil {
		return Campaign{}, err
	}
	now := e.cfg.Now()
	if p, _, err := e.promotion(code); err != nil {
		return Campaign{}, err
	} else if p.Ended != 0 || (p.End != 0 && now.UnixNano() >= p.End) {
		return Campaign{}, domain.PaymentErr(domain.CodeInvalidState, "promotion "+code+" has ended")
	}
	c := Campaign{Promo: code, Text: text, Audience: audience, State: CampaignRunning,
		Created: now.UnixNano(), Until: now.Add(e.cfg.Marketing.Lasts).UnixNano(), Round: 1}
	for try := range maxCampaigns {
		c.ID = hex16(uint64(now.UnixNano()) + uint64(try)) // ids sort by creation; the first free one
		if b, _, err := e.l.Profile(keyCampaign + c.ID); err != nil {
			return Campaign{}, err
		} else if b != nil {
			continue
		}
		_, err := e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(keyCampaign+c.ID, c, 0), write(keyCampaignOn+c.ID, c.ID, 0)},
			Audit: &domain.Audit{Actor: actor, Action: "campaign create", Detail: c.ID + " " + code}})
		if !errors.Is(err, domain.ErrConflict) {
			return c, err
		}
	}
	return Campaign{}, ErrBusy
}

// CampaignByID reads a campaign and its record's version.
func (e *Engine) CampaignByID(id string) (Campaign, uint64, error) {
	var c Campaign
	ver, found, err := e.record(keyCampaign+id, &c)
	if err == nil && !found {
		err = ErrCampaignNotFound
	}
	return c, ver, err
}

// Campaigns lists the campaigns, oldest first (at most maxCampaigns).
func (e *Engine) Campaigns() ([]Campaign, error) {
	var out []Campaign
	_, err := e.scan(keyCampaign, "", maxCampaigns, func(r domain.Profile) (bool, error) {
		c, _, err := e.CampaignByID(strings.TrimPrefix(r.Owner, keyCampaign))
		out = append(out, c)
		return true, err
	})
	return out, err
}

// StopCampaign stops a running campaign: it sends nothing more.
func (e *Engine) StopCampaign(ctx context.Context, id, actor string) (Campaign, error) {
	for {
		c, ver, err := e.CampaignByID(id)
		if err != nil || c.State != CampaignRunning {
			return c, err
		}
		c.State, c.Ended = CampaignStopped, e.cfg.Now().UnixNano()
		job, err := e.campaignEnd(c, ver)
		if err != nil {
			return c, err
		}
		job.Audit = &domain.Audit{Actor: actor, Action: "campaign stop", Detail: id}
		if _, err = e.l.Submit(ctx, job); !errors.Is(err, domain.ErrConflict) {
			return c, err
		}
	}
}

// campaignEnd writes a campaign that ended and drops it from the running ones.
func (e *Engine) campaignEnd(c Campaign, ver uint64) (domain.Job, error) {
	_, onVer, err := e.l.Profile(keyCampaignOn + c.ID)
	job := domain.Job{Profiles: []domain.Profile{write(keyCampaign+c.ID, c, ver)}}
	if onVer > 0 {
		job.Profiles = append(job.Profiles, domain.Profile{Owner: keyCampaignOn + c.ID, Version: onVer, Delete: true})
	}
	return job, err
}

// outboxDue is what a ledger that sends says of its outbox.
type outboxDue interface{ OutboxDue() int }

// outboxBusy says whether payment replies would queue behind more marketing.
func (e *Engine) outboxBusy() bool {
	o, ok := e.l.(outboxDue)
	return ok && o.OutboxDue() > e.cfg.Marketing.MaxOutbox
}

// RunCampaigns moves every running campaign a step: it queues at most PerSecond SMS in all
// (RunExpiry calls it once a second), none while the outbox is behind. It returns how many
// it queued.
func (e *Engine) RunCampaigns(ctx context.Context) (int, error) {
	budget := e.cfg.Marketing.PerSecond
	var ids []string
	_, err := e.scan(keyCampaignOn, "", maxCampaigns, func(r domain.Profile) (bool, error) {
		ids = append(ids, strings.TrimPrefix(r.Owner, keyCampaignOn))
		return true, nil
	})
	sent := 0
	for _, id := range ids {
		if err != nil || budget <= sent || e.outboxBusy() || ctx.Err() != nil {
			break
		}
		var n int
		n, err = e.campaignStep(ctx, id, budget-sent)
		sent += n
	}
	return sent, err
}
