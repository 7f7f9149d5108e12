package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// Erasure. A person who asks to be erased has his purse closed at once (the balance paid
// out, as an operator's close does) and his marketing stopped; his financial records are
// then kept for the retention the law asks (Config.Retention after the relationship ends)
// and, when it is over, the person becomes unreadable for good: the ledger destroys his key
// (the journal and backups keep only a party id and sealed fields), and the engine first
// clears what its own records hold of him in clear (the payer's number and IBAN of his
// payment records, his consent records). Until then an erasure waits in a record filed by
// its due time, which RunExpiry's sweep reads in order.

const keyErasure = "@ed:" // + due %016x + ":" + number: erasures waiting for the retention to end

// ErrNoPerson: the number is nobody mpg knows, or was erased already.
var ErrNoPerson = domain.ErrNoPerson

// Erasure is what an erasure request did.
type Erasure struct {
	Paid uint64    `json:"paid_minor"` // the balance paid out at the close
	Due  time.Time `json:"due"`        // when the person becomes unreadable (now: already)
	Done bool      `json:"done"`
	// Already: the erasure was asked before and is filed for Due; nothing was done again.
	Already bool `json:"already,omitempty"`
}

// knows tells whether mpg holds anything about a number: an account, a profile, or money
// held for it.
func (e *Engine) knows(number string) bool {
	if len(e.l.AccountsOf(number)) > 0 {
		return true
	}
	if _, v, _ := e.l.Profile(number); v > 0 {
		return true
	}
	h, _ := e.l.HoldsFor(number)
	return len(h) > 0
}

type erasureRecord struct {
	Requested int64  `json:"requested"`
	Actor     string `json:"actor"`
}

// errAlreadyAsked ends an erasure request filed before.
var errAlreadyAsked = errors.New("erasure asked before")

// maxErasureScrub bounds the transfers read to find the payment records to clear.
const maxErasureScrub = 100000

// RequestErasure closes a person's purse (paying out its balance), stops his marketing and
// files his erasure for when the retention ends; now erases him at once (no financial
// record has to be kept, or the law allows it).
func (e *Engine) RequestErasure(ctx context.Context, actor, number string, now bool) (Erasure, error) {
	var out Erasure
	if !e.knows(number) {
		return out, ErrNoPerson
	}
	float, err := e.l.System(domain.KindFloat, e.cfg.Currency)
	if err != nil {
		return out, err
	}
	_, err = e.opTurn(ctx, number, func(purse *domain.Account, p *profile, ver uint64) (domain.Job, error) {
		if p.ErasureDue != 0 && !now {
			out = Erasure{Due: time.Unix(0, p.ErasureDue), Already: true}
			return domain.Job{}, errAlreadyAsked
		}
		job, o := e.erasureJob(actor, number, "operator", purse, float.ID, p, !now)
		out = o
		job.Profiles = append(job.Profiles, e.profileWrite(number, p, ver))
		if len(job.Status) > 0 {
			job.Messages = []domain.Message{e.sms(number, p.Lang, commands.RClosedNotice, commands.Args{Amount: e.money(o.Paid)})}
		}
		return job, nil
	})
	if errors.Is(err, errAlreadyAsked) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("the purse could not be paid out and closed: %w", err)
	}
	if now {
		return out, e.eraseNow(ctx, actor, number)
	}
	return out, nil
}

// EraseDue erases the people whose retention is over; RunExpiry calls it. It returns how
// many it erased.
func (e *Engine) EraseDue(ctx context.Context) (int, error) {
	recs, err := e.l.ProfilesFrom(keyErasure, "", 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		rest := strings.TrimPrefix(r.Owner, keyErasure)
		due, err := strconv.ParseUint(rest[:min(16, len(rest))], 16, 64)
		if err != nil || int64(due) > e.cfg.Now().UnixNano() {
			break // filed by due time: the rest are later
		}
		who := rest[min(17, len(rest)):]
		if !strings.HasPrefix(who, "+") {
			// Erased already (the ledger names him by party id now): the request is done.
			_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: r.Owner, Version: r.Version, Delete: true}}})
			if err != nil && !errors.Is(err, domain.ErrConflict) {
				return n, err
			}
			continue
		}
		var rec erasureRecord
		json.Unmarshal(r.Data, &rec)
		if err := e.eraseNow(ctx, "retention ended ("+rec.Actor+")", who); err != nil && !errors.Is(err, ErrNoPerson) {
			return n, err
		}
		n++
	}
	return n, nil
}

// eraseNow clears what the engine's records hold of a person in clear, then has the ledger
// destroy his key.
func (e *Engine) eraseNow(ctx context.Context, actor, number string) error {
	if err := e.scrubPayments(ctx, number); err != nil {
		return err
	}
	if err := e.dropRecords(ctx, keyConsent+number+":"); err != nil {
		return err
	}
	err := e.casesOf(number, func(c domain.Dispute, _ uint64) error {
		return e.rewrite(ctx, func() (domain.Profile, bool, error) {
			c, ver, err := e.dispute(c.ID)
			if err != nil {
				return domain.Profile{}, false, err
			}
			c.MSISDN, c.By = "", strings.ReplaceAll(c.By, number, "")
			for i := range c.History {
				c.History[i].Actor = strings.ReplaceAll(c.History[i].Actor, number, "")
			}
			return write(keyDispute+c.ID, c, ver), true, nil
		})
	})
	if err != nil {
		return err
	}
	if err := e.dropRecords(ctx, keyDisputePerson+number+":"); err != nil {
		return err
	}
	_, err = e.l.Erase(ctx, number, domain.Audit{Actor: actor, Action: "subscriber erase"})
	return err
}

// scrubPayments clears the payer's number, bank account and checkout browser addresses from
// the payment records of his accounts' transfers (lean records hold none: the ledger names
// their payer by party).
func (e *Engine) scrubPayments(ctx context.Context, number string) error {
	for _, a := range e.l.AccountsOf(number) {
		err := e.history(a.ID, maxErasureScrub, func(tr domain.Transfer) error {
			p, ver, found, err := e.paymentOf(tr)
			if err != nil || !found || ver == 0 || p.MSISDN != number {
				return err
			}
			return e.rewrite(ctx, func() (domain.Profile, bool, error) {
				p, ver, err := e.payment(p.ID)
				if err != nil || p.MSISDN != number {
					return domain.Profile{}, false, err
				}
				p.MSISDN = ""
				if p.Bank != nil {
					p.Bank.Account = ""
				}
				if c := p.Checkout; c != nil {
					c.PhoneIP, c.CodeIP = "", ""
				}
				return write(keyPayment+p.ID, p, ver), true, nil
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// rewrite writes back a record that next reads fresh and changes (ok false: nothing to
// write), again while a racing step wrote it in between.
func (e *Engine) rewrite(ctx context.Context, next func() (domain.Profile, bool, error)) error {
	for try := 0; ; try++ {
		w, ok, err := next()
		if err != nil || !ok {
			return err
		}
		_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{w}})
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

// dropRecords deletes every record under a prefix.
func (e *Engine) dropRecords(ctx context.Context, prefix string) error {
	for {
		recs, err := e.l.ProfilesFrom(prefix, "", 64)
		if err != nil || len(recs) == 0 {
			return err
		}
		job := domain.Job{}
		for _, r := range recs[:min(len(recs), domain.MaxJobStatus)] {
			job.Profiles = append(job.Profiles, domain.Profile{Owner: r.Owner, Version: r.Version, Delete: true})
		}
		if _, err := e.l.Submit(ctx, job); err != nil && !errors.Is(err, domain.ErrConflict) {
			return err
		}
	}
}
