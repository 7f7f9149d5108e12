package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"mpg/domain"
)

// Merchants' e-mail notices. A merchant with an address (set by an operator or over the
// API) gets an e-mail per payment and per refund, written as a record and a queue entry IN
// THE SAME LEDGER JOB as the payment's step: a step that commits has its notice, a step
// that is refused has none, and the payment never waits for the mail. The daily statement
// is queued by QueueStatements with the record of the last day sent, in one job, so each
// merchant gets one a day whatever restarts and however many daemons. The mail room hands
// the due ones to the SMTP relay and reports each attempt with MailAttempt.

const (
	keyMail      = "@ml:"  // + mail id: one e-mail to a merchant and how it went
	keyMailQueue = "@mlq:" // + due (unix seconds, 8 hex digits) + ":" + mail id: mails still to send
	keyMailDay   = "@mld:" // + merchant %016x: the last day whose statement was queued
	keyMailTo    = "@mle:" // + merchant %016x: merchants with an address, for the statements
)

// MaxEmailLen bounds a merchant's address (RFC 5321's path limit).
const MaxEmailLen = 254

// Mail kinds and states.
const (
	MailPayment   = "payment"
	MailRefund    = "refund"
	MailStatement = "statement"

	MailPending = "pending"
	MailSent    = "sent"   // the relay answered 250 after DATA
	MailFailed  = "failed" // a permanent refusal (5xx), or every retry failed
)

// MailConfig is how the engine queues and retries merchants' e-mail.
type MailConfig struct {
	// StatementHour is the hour (Config.Location) from which the day before's statement is
	// queued; negative: no statements.
	StatementHour int
	// Retry is the wait before each next attempt (default: about three days, as webhooks).
	Retry []time.Duration
	// MaxRows bounds the payments one statement lists (default 5000).
	MaxRows int
}

// Mail is one e-mail to a merchant: what it tells, where it goes, and how it went.
type Mail struct {
	ID       string `json:"id"`
	Merchant uint64 `json:"merchant"`
	Kind     string `json:"kind"`
	To       string `json:"to"`
	Payment  string `json:"payment,omitempty"`
	Transfer string `json:"transfer,omitempty"` // the transfer whose receipt the notice gives
	Amount   uint64 `json:"amount,omitempty"`   // paid, or given back (minor units)
	Currency string `json:"currency,omitempty"`
	Payer    string `json:"payer,omitempty"` // masked, always
	Ref      string `json:"ref,omitempty"`
	At       int64  `json:"at,omitempty"`  // when the payment or refund happened
	Day      string `json:"day,omitempty"` // a statement's day, YYYY-MM-DD in Config.Location
	Created  int64  `json:"created"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	Round    int    `json:"round,omitempty"` // attempts since made or replayed: the retry schedule's place
	NextAt   int64  `json:"next_at,omitempty"`
	LastErr  string `json:"last_error,omitempty"`
	Done     int64  `json:"done,omitempty"`
}

// Letter is a mail as the relay gets it, composed from its record when its turn comes.
type Letter struct {
	ID, To, Subject, Text string
	Merchant              uint64
	AttachmentName        string // "" for none
	Attachment            []byte
}

// Outcome is what one attempt at the relay came to.
type Outcome struct {
	Accepted  bool   // 250 after DATA: the relay has it
	Permanent bool   // a 5xx answer to the message: never tried again
	Error     string // what went wrong (no password, no body)
}

// CheckEmail reads a merchant's address: one address, at most MaxEmailLen bytes. It
// returns the bare address.
func CheckEmail(s string) (string, error) {
	if len(s) > MaxEmailLen {
		return "", domain.PaymentErr(domain.CodeInvalidRequest, fmt.Sprintf("email: at most %d bytes", MaxEmailLen))
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(s) || !strings.Contains(a.Address, "@") {
		return "", domain.PaymentErr(domain.CodeInvalidRequest, "email: one address like shop@example.com")
	}
	return a.Address, nil
}

// SetMerchantEmail sets (or, with "", removes) the address a merchant's notices and
// statements go to.
func (e *Engine) SetMerchantEmail(ctx context.Context, actor string, merchant uint64, address string) error {
	if address != "" {
		var err error
		if address, err = CheckEmail(address); err != nil {
			return err
		}
	}
	if a, err := e.l.Account(merchant); err != nil || (a.Kind != domain.KindMerchant && a.Kind != domain.KindBiller) {
		return domain.PaymentErr(domain.CodeNotFound, "no such merchant")
	}
	for try := 0; ; try++ {
		s, ver, err := e.settings(merchant)
		if err != nil {
			return err
		}
		s.Email = address
		_, iver, _ := e.l.Profile(keyMailTo + hex16(merchant))
		index := domain.Profile{Owner: keyMailTo + hex16(merchant), Version: iver, Delete: true}
		if address != "" {
			index = domain.Profile{Owner: index.Owner, Version: iver, Data: indexEntry}
		} else if iver == 0 {
			index = domain.Profile{}
		}
		profiles := []domain.Profile{write(settingsKey(merchant), s, ver)}
		if index.Owner != "" {
			profiles = append(profiles, index)
		}
		_, err = e.l.Submit(ctx, domain.Job{Profiles: profiles,
			Audit: &domain.Audit{Actor: actor, Action: "merchant email", Detail: strconv.FormatUint(merchant, 10) + " " + onOff(address != "")}})
		e.forgetHook(merchant)
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// MerchantEmail is the address a merchant's notices go to ("" for none).
func (e *Engine) MerchantEmail(merchant uint64) (string, error) {
	s, _, err := e.settings(merchant)
	return s.Email, err
}

// mailNotice is the record and queue entry of a notice to the merchant, for a job that
// makes the payment or the refund: nothing when the merchant has no address.
func (e *Engine) mailNotice(p *domain.Payment, kind string, amount uint64, transfer string, at int64, s merchantSettings) []domain.Profile {
	if s.Email == "" || amount == 0 {
		return nil
	}
	m := Mail{ID: "ml_" + domain.NewID().String(), Merchant: p.Merchant, Kind: kind, To: s.Email, Payment: p.ID, Transfer: transfer,
		Amount: amount, Currency: p.Currency, Payer: domain.Mask(p.MSISDN), Ref: p.Reference, At: at,
		Created: e.cfg.Now().UnixNano(), State: MailPending}
	return m.queue(0)
}

// queue is a new mail's record and its queue entry due at nextAt (0: now).
func (m Mail) queue(nextAt int64) []domain.Profile {
	return []domain.Profile{write(keyMail+m.ID, m, 0), {Owner: mailQueueKey(nextAt, m.ID), Data: indexEntry}}
}

// paymentMail adds to a payment step's job the notice of its completion.
func (e *Engine) paymentMail(p *domain.Payment, was domain.PaymentState, s merchantSettings) []domain.Profile {
	if p.State != domain.PaymentCompleted || was == domain.PaymentCompleted {
		return nil
	}
	return e.mailNotice(p, MailPayment, p.Amount, p.Transfer, p.Updated, s)
}

// refundMail adds to a refund's (or reversal's) job its notice.
func (e *Engine) refundMail(p *domain.Payment, r domain.Refund, job domain.Job) (domain.Job, error) {
	s, err := e.hookSettings(p.Merchant)
	if err != nil {
		return job, err
	}
	job.Profiles = append(job.Profiles, e.mailNotice(p, MailRefund, r.Amount, r.Transfer, r.At, s)...)
	return job, nil
}

// mailQueueKey is a mail's queue entry, due at nextAt (unix nanos; 0: now), in whole
// seconds rounded up: never early.
func mailQueueKey(nextAt int64, id string) string {
	due := strconv.FormatUint(uint64(max(0, (nextAt+1e9-1)/1e9)), 16)
	return keyMailQueue + strings.Repeat("0", max(0, 8-len(due))) + due + ":" + id
}

// parseMailQueueKey reads a queue entry: when it is due (unix seconds) and which mail.
func parseMailQueueKey(key string) (dueS int64, id string) {
	due, id, _ := strings.Cut(strings.TrimPrefix(key, keyMailQueue), ":")
	d, _ := strconv.ParseUint(due, 16, 64)
	return int64(d), id
}

// MailRecord reads one mail and the version read.
func (e *Engine) MailRecord(id string) (Mail, uint64, error) {
	var m Mail
	ver, found, err := e.record(keyMail+id, &m)
	if err == nil && !found {
		err = fmt.Errorf("no mail %s", id)
	}
	return m, ver, err
}

// maxMailScan bounds the queue entries one look reads.
const maxMailScan = 1000

// DueMails returns up to limit mails whose time has come, composed, leaving out those skip
// names (attempts still running). A mail that cannot be composed (its payment unreadable)
// is failed with the reason.
func (e *Engine) DueMails(ctx context.Context, limit int, skip func(id string) bool) ([]Letter, error) {
	now := e.cfg.Now().UnixNano()
	recs, err := e.l.ProfilesFrom(keyMailQueue, "", min(maxMailScan, limit+maxMailScan/10))
	var out []Letter
	for _, r := range recs {
		dueS, id := parseMailQueueKey(r.Owner)
		if dueS*1e9 > now || len(out) == limit {
			break
		}
		if skip != nil && skip(id) {
			continue
		}
		m, _, rerr := e.MailRecord(id)
		if rerr != nil {
			continue
		}
		if m.State != MailPending { // an entry left behind: the record says it is done
			e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: r.Owner, Version: r.Version, Delete: true}}})
			continue
		}
		letter, cerr := e.compose(m)
		if cerr != nil {
			if aerr := e.MailAttempt(ctx, id, Outcome{Permanent: true, Error: "cannot be written: " + cerr.Error()}); aerr != nil {
				return out, aerr
			}
			continue
		}
		out = append(out, letter)
	}
	return out, err
}

// MailAttempt records how one attempt went: accepted (the record is sent and leaves the
// queue), refused for good (failed at once), or anything else (tried again later, failed
// after the last wait of the schedule).
func (e *Engine) MailAttempt(ctx context.Context, id string, o Outcome) error {
	for try := 0; ; try++ {
		m, ver, err := e.MailRecord(id)
		if err != nil || m.State != MailPending {
			return err
		}
		was := mailQueueKey(m.NextAt, id)
		m.Attempts++
		m.Round++
		m.LastErr = clipError(o.Error)
		now := e.cfg.Now().UnixNano()
		var next []domain.Profile
		switch retry := e.mailRetry(); {
		case o.Accepted:
			m.State, m.Done, m.NextAt, m.LastErr = MailSent, now, 0, ""
		case o.Permanent || m.Round > len(retry):
			m.State, m.Done, m.NextAt = MailFailed, now, 0
		default:
			m.NextAt = e.cfg.Now().Add(retry[m.Round-1]).UnixNano()
			next = append(next, domain.Profile{Owner: mailQueueKey(m.NextAt, id), Data: indexEntry})
		}
		profiles := []domain.Profile{write(keyMail+id, m, ver)}
		if len(next) == 1 && next[0].Owner == was {
			next = nil // due again in the same second: its queue entry stands
		} else {
			profiles = append(profiles, e.unqueueMail(was))
		}
		profiles = append(profiles, next...)
		_, err = e.l.Submit(ctx, domain.Job{Profiles: profiles})
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

// unqueueMail deletes a queue entry (written once: version 1 when present).
func (e *Engine) unqueueMail(key string) domain.Profile {
	_, v, _ := e.l.Profile(key)
	return domain.Profile{Owner: key, Version: v, Delete: true}
}

func (e *Engine) mailRetry() []time.Duration {
	if len(e.cfg.Mail.Retry) > 0 {
		return e.cfg.Mail.Retry
	}
	return retrySchedule
}

// ReplayMail queues a mail again now, whatever became of it: its retry schedule starts
// again, its count of attempts goes on (an operator's, after fixing the address or relay).
func (e *Engine) ReplayMail(ctx context.Context, actor, id string) error {
	for try := 0; ; try++ {
		m, ver, err := e.MailRecord(id)
		if err != nil {
			return err
		}
		var profiles []domain.Profile
		if m.State == MailPending {
			profiles = append(profiles, e.unqueueMail(mailQueueKey(m.NextAt, id)))
		}
		if s, _, err := e.settings(m.Merchant); err == nil && s.Email != "" {
			m.To = s.Email // the address as it is now
		}
		m.State, m.Round, m.NextAt, m.Done, m.LastErr = MailPending, 0, 0, 0, ""
		profiles = append(profiles, write(keyMail+id, m, ver), domain.Profile{Owner: mailQueueKey(0, id), Data: indexEntry})
		_, err = e.l.Submit(ctx, domain.Job{Profiles: profiles, Audit: &domain.Audit{Actor: actor, Action: "mail replay", Detail: id}})
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

// Mails lists mails oldest first, after the id given ("" from the first), in the state
// given ("" for any), of the merchant given (0 for any).
func (e *Engine) Mails(after, state string, merchant uint64, limit int) ([]Mail, error) {
	from := ""
	if after != "" {
		from = keyMail + after + "\x00"
	}
	var out []Mail
	_, err := e.scan(keyMail, from, maxListScan, func(r domain.Profile) (bool, error) {
		var m Mail
		if json.Unmarshal(r.Data, &m) == nil && (state == "" || m.State == state) && (merchant == 0 || m.Merchant == merchant) {
			out = append(out, m)
		}
		return len(out) < limit, nil
	})
	return out, err
}

// MaxMailCount bounds the queue entries MailQueued counts: a scrape of the metrics reads at
// most this many, however long a dead relay's queue.
const MaxMailCount = 10000

// MailQueued counts the mails waiting to be sent (up to MaxMailCount).
func (e *Engine) MailQueued() (int, error) {
	n := 0
	_, err := e.scan(keyMailQueue, "", MaxMailCount, func(domain.Profile) (bool, error) {
		n++
		return true, nil
	})
	return n, err
}
