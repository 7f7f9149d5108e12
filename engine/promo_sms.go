package engine

import (
	"strconv"
	"strings"
	"sync"

	"mpg/commands"
	"mpg/domain"
	"mpg/promo"
)

// offer is the discount a payment gets, and what it was computed from: the promotion and
// the member's use of it at the versions read.
type offer struct {
	p        promo.Promotion
	ver      uint64
	use      promo.Use
	useVer   uint64
	discount uint64
}

// offerFor is the best discount a payment of amount to payee gets now: among the merchant's
// promotions running for that amount, those for this member (the code he added to PAY, one
// he joined, or an automatic one whose audience he is in) within his limits and what their
// budget holds.
func (t *turn) offerFor(payee *domain.Account, amount uint64, code string) *offer {
	e := t.e
	if payee.Kind != domain.KindMerchant {
		return nil
	}
	now := e.cfg.Now()
	day := promo.Day(now, e.cfg.Location)
	var member *promo.Member
	var best *offer
	for _, c := range e.merchantPromos(payee.Owner) {
		p, ver := c.p, c.ver
		if !p.Runs(now, e.cfg.Location, amount) {
			continue
		}
		var u promo.Use
		uver, _, err := e.record(keyPromoUse+p.Code+":"+t.in.From, &u) // his use: joined, left, counted
		if err != nil || u.Left || (p.Counts() && !p.Allows(u, day)) {
			continue
		}
		if p.WithCode && !strings.EqualFold(code, p.Code) && !u.Joined {
			continue
		}
		if p.Audience != "" { // a code's promotion too: the code does not widen its audience
			if member == nil {
				m, err := e.MemberOf(t.in.From)
				if err != nil {
					continue
				}
				member = &m
			}
			if !audienceOf(p.Audience).Match(*member) {
				continue
			}
		}
		d := p.Discount(amount)
		if b, err := e.l.Account(p.Account); d == 0 || err != nil || b.Available() < int64(d) {
			continue
		}
		if best == nil || d > best.discount {
			best = &offer{p: p, ver: ver, use: u, useVer: uver, discount: d}
		}
	}
	return best
}

// audiences caches compiled audience rules by their text (each compiled when its promotion
// was saved; compiled again here once per daemon).
var audiences struct {
	sync.Mutex
	m map[string]*promo.Audience
}

func audienceOf(rule string) *promo.Audience {
	audiences.Lock()
	defer audiences.Unlock()
	if a, ok := audiences.m[rule]; ok {
		return a
	}
	a, err := promo.Compile(rule)
	if err != nil {
		return nobody // saved rules compile: one that does not matches nobody
	}
	if audiences.m == nil || len(audiences.m) > 1000 {
		audiences.m = map[string]*promo.Audience{}
	}
	audiences.m[rule] = a
	return a
}

// nobody is the audience of a rule that does not compile.
var nobody, _ = promo.Compile("false")

// offers answers OFFERS: the promotions running now that this member may use, at most 5.
func (t *turn) offers() domain.Job {
	t.repeat.Kind = repeatQuery
	e := t.e
	now := e.cfg.Now()
	m, err := e.MemberOf(t.in.From)
	all, err2 := e.Promotions("")
	if err != nil || err2 != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	var lines []string
	for _, p := range all {
		if len(lines) == 5 {
			break
		}
		if p.Ended != 0 || !p.Runs(now, e.cfg.Location, p.MinAmount) || !audienceOf(p.Audience).Match(m) {
			continue
		}
		lines = append(lines, t.offerLine(p))
	}
	if len(lines) == 0 {
		t.reply(commands.ROffersNone, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	t.reply(commands.ROffers, commands.Args{Lines: []string{strings.Join(lines, "; ")}})
	return t.withProfile(domain.Job{})
}

// offerLine is one promotion as OFFERS lists it: "SUMMER -10% Corner Shop".
func (t *turn) offerLine(p promo.Promotion) string {
	off := t.money(p.Fixed).Format(t.lang.DecimalMark())
	if p.Percent > 0 {
		off = strconv.FormatUint(p.Percent, 10) + "%"
	}
	name := p.Merchant
	if m := t.e.activeMerchant(p.Merchant); m != nil {
		name = merchantName(*m)
	}
	return p.Code + " -" + off + " " + name
}

// joinOrLeave answers JOIN <code> and LEAVE <code>: the member's use of the promotion,
// written at the version read.
func (t *turn) joinOrLeave(join bool) domain.Job {
	e, code := t.e, t.cmd.Code
	p, _, err := e.promotion(code)
	if err != nil || p.Ended != 0 || (p.End != 0 && e.cfg.Now().UnixNano() >= p.End) {
		t.reply(commands.RNoOffer, commands.Args{Ref: code})
		return t.withProfile(domain.Job{})
	}
	var u promo.Use
	ver, _, err := e.record(keyPromoUse+p.Code+":"+t.in.From, &u)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	u.Joined, u.Left = join, !join
	job := t.withProfile(domain.Job{Profiles: []domain.Profile{write(keyPromoUse+p.Code+":"+t.in.From, u, ver)}})
	if join {
		party := p.Merchant
		if m := e.activeMerchant(p.Merchant); m != nil {
			party = merchantName(*m)
		}
		t.reply(commands.RJoined, commands.Args{Ref: p.Code, Name: p.Name, Party: party})
	} else {
		t.reply(commands.RLeft, commands.Args{Ref: p.Code})
	}
	return job
}

// appendLine appends a line to the first message composed for to.
func appendLine(compose func(domain.View, *domain.Result) ([]domain.Message, error), to, line string) func(domain.View, *domain.Result) ([]domain.Message, error) {
	return func(v domain.View, r *domain.Result) ([]domain.Message, error) {
		var msgs []domain.Message
		if compose != nil {
			var err error
			if msgs, err = compose(v, r); err != nil {
				return nil, err
			}
		}
		for i := range msgs {
			if msgs[i].To == to {
				// No full stop after a receipt code: the subscriber copies it as it stands.
				msgs[i].Text = strings.TrimRight(msgs[i].Text, " ") + line
				break
			}
		}
		return msgs, nil
	}
}

// withOffer adds to the job that gets a promotion's discount what guards it: the member's
// use counted at the version read (two racing payments cannot both take the last use) and
// the promotion at the version read (one ended meanwhile refuses it).
func (t *turn) withOffer(job domain.Job, o *offer) domain.Job {
	if o.p.Counts() {
		o.use.Take(promo.Day(t.e.cfg.Now(), t.e.cfg.Location))
		job.Profiles = append(job.Profiles, write(keyPromoUse+o.p.Code+":"+t.in.From, o.use, o.useVer))
	}
	job.Reads = append(job.Reads, domain.Profile{Owner: keyPromo + o.p.Code, Version: o.ver})
	return job
}

// OfferFor is the discount a payment would get from its payer now (a checkout whose number
// was typed, a request to pay): the promotion's code and the discount; ok false for none.
// The payment's confirmation computes it again, in its job.
func (e *Engine) OfferFor(p domain.Payment) (code string, discount uint64, ok bool) {
	if p.MSISDN == "" || p.Payer != 0 || p.Discount != nil {
		return "", 0, false
	}
	merchant, err := e.l.Account(p.Merchant)
	if err != nil {
		return "", 0, false
	}
	t := &turn{e: e, in: Inbound{From: p.MSISDN}}
	if o := t.offerFor(&merchant, p.Amount, ""); o != nil {
		return o.p.Code, o.discount, true
	}
	return "", 0, false
}
