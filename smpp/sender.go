package smpp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Outgoing is one reply waiting in the outbox.
type Outgoing struct {
	ID       uint64
	From, To string
	Text     string
	Receipt  bool      // ask the SMSC for a delivery receipt
	Created  time.Time // when the reply was written: its validity runs from here
	Attempts int       // submits tried before
	Unknowns int       // of which got no answer
}

// Outbox is where replies wait; the ledger implements it (cmd wires the two), so a reply
// written with the money is sent even after a crash.
type Outbox interface {
	// Next waits for due messages and returns up to max of them, urgent ones first.
	Next(ctx context.Context, max int) ([]Outgoing, error)
	// Sent records the SMSC's message id of every part.
	Sent(ctx context.Context, id uint64, smscIDs []string) error
	// Failed records that the message can never be sent, and why.
	Failed(ctx context.Context, id uint64, reason string) error
	// Later records a try that did not get the message through, and when to try again.
	// unknown: no answer came (the SMSC may have it); a zero at with unknown means no
	// resends are left and the message waits for an answer or the operator.
	Later(ctx context.Context, id uint64, unknown bool, reason string, at time.Time) error
	// Retry hands a message back at once, recording nothing (the sender is stopping).
	Retry(id uint64)
}

// RunSender drains the outbox until ctx ends: each message is submitted under the session's
// window and rate. OK marks it sent; a permanent refusal fails it with the reason; a
// temporary one schedules it again with growing backoff until its validity ends; an
// unanswered submit makes it unknown, resent with backoff RetryUnknown times. At most
// Window×Binds messages are in flight.
func (c *Client) RunSender(ctx context.Context, ob Outbox) error {
	limit := c.cfg.Window * c.cfg.Binds
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil { // checked here too: Next returns at once while messages are due
		msgs, err := ob.Next(ctx, limit)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, m := range msgs {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				ob.Retry(m.ID)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				c.send(ctx, ob, m)
			}()
		}
	}
	return nil
}

func (c *Client) send(ctx context.Context, ob Outbox, m Outgoing) {
	bg := context.WithoutCancel(ctx)
	record := func(what string, err error) {
		if err != nil {
			c.cfg.Logf("smpp: outbox message %d %s but not recorded: %v", m.ID, what, err)
		}
	}
	validUntil := m.Created.Add(c.cfg.Validity)
	if !m.Created.IsZero() && time.Now().After(validUntil) {
		c.Metrics.ValidityEnded.Add(1)
		c.cfg.Logf("smpp: outbox message %d to %s failed: its validity (%s) ended before it could be sent", m.ID, mask(m.To), c.cfg.Validity)
		record("failed", ob.Failed(bg, m.ID, fmt.Sprintf("validity of %s ended before it could be sent", c.cfg.Validity)))
		return
	}
	late := func(smscID string) {
		c.cfg.Logf("smpp: outbox message %d: a late answer says the SMSC has it (%s)", m.ID, smscID)
		record("sent", ob.Sent(bg, m.ID, []string{smscID}))
	}
	ids, err := c.submit(ctx, m.From, m.To, m.Text, m.Receipt, late)
	var se *SubmitError
	switch {
	case err == nil:
		record("sent", ob.Sent(bg, m.ID, ids))
	case ctx.Err() != nil:
		ob.Retry(m.ID)
	case errors.Is(err, ErrTooLong), errors.As(err, &se) && se.Permanent():
		c.Metrics.SubmitFailed.Add(1)
		c.cfg.Logf("smpp: outbox message %d to %s failed for good: %v", m.ID, mask(m.To), err)
		record("failed", ob.Failed(bg, m.ID, err.Error()))
	case errors.Is(err, ErrUnknownOutcome):
		c.Metrics.SubmitUnknown.Add(1)
		var at time.Time
		if m.Unknowns < c.cfg.RetryUnknown {
			at = time.Now().Add(backoff(c.cfg.UnknownBackoff, c.cfg.RetryBackoffMax, m.Unknowns))
			c.cfg.Logf("smpp: outbox message %d: outcome unknown (%v), resent at %s", m.ID, err, at.Format(time.RFC3339))
		} else {
			c.cfg.Logf("smpp: outbox message %d: outcome unknown after %d resends, left for a late answer or `mpg outbox resend`", m.ID, m.Unknowns)
		}
		record("unknown", ob.Later(bg, m.ID, true, err.Error(), at))
	default:
		// A temporary refusal, refused credentials, or anything else that may pass.
		c.Metrics.SubmitLater.Add(1)
		tries := m.Attempts + 1 - m.Unknowns
		if !m.Created.IsZero() && !time.Now().Before(validUntil) {
			c.Metrics.ValidityEnded.Add(1)
			reason := fmt.Sprintf("validity of %s ended after %d attempts, last: %v", c.cfg.Validity, m.Attempts+1, err)
			c.cfg.Logf("smpp: outbox message %d to %s failed: %s", m.ID, mask(m.To), reason)
			record("failed", ob.Failed(bg, m.ID, reason))
			return
		}
		at := time.Now().Add(backoff(c.cfg.RetryBackoff, c.cfg.RetryBackoffMax, tries-1))
		if !m.Created.IsZero() && at.After(validUntil) {
			at = validUntil // the last try is when the validity ends
		}
		if tries&(tries-1) == 0 { // attempts 1, 2, 4, 8…: a storm of refusals does not flood the log
			c.cfg.Logf("smpp: outbox message %d not sent (%v): attempt %d, next at %s", m.ID, err, tries, at.Format(time.RFC3339))
		}
		record("refused", ob.Later(bg, m.ID, false, err.Error(), at))
	}
}

// backoff is base doubled n times, capped, with ±20% jitter so that a burst refused at once
// does not come back at once.
func backoff(base, cap time.Duration, n int) time.Duration {
	d := base
	for i := 0; i < n && d < cap; i++ {
		d *= 2
	}
	d = min(d, cap)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// mask keeps a number's last three digits for logs.
func mask(n string) string {
	if len(n) <= 3 {
		return "***"
	}
	return "***" + n[len(n)-3:]
}
