package smpp

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Outgoing is one reply waiting in the outbox.
type Outgoing struct {
	ID       uint64
	From, To string
	Text     string
	Receipt  bool // ask the SMSC for a delivery receipt
}

// Outbox is where replies wait; the ledger implements it (cmd wires the two), so a reply
// written with the money is sent even after a crash.
type Outbox interface {
	// Next waits for queued messages and returns up to max of them.
	Next(ctx context.Context, max int) ([]Outgoing, error)
	// Sent records the SMSC's message id of every part.
	Sent(ctx context.Context, id uint64, smscIDs []string) error
	// Failed records that the message can never be sent, and why.
	Failed(ctx context.Context, id uint64, reason string) error
	// Retry hands a message back for a later attempt (the link is down, the outcome unknown
	// after the allowed retries).
	Retry(id uint64)
}

// RunSender drains the outbox until ctx ends: each message is submitted under the session's
// window and rate; OK marks it sent, a permanent refusal marks it failed with the reason,
// anything else hands it back to the outbox. At most Window×Binds messages are in flight.
func (c *Client) RunSender(ctx context.Context, ob Outbox) error {
	limit := c.cfg.Window * c.cfg.Binds
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil { // checked here too: Next returns at once while messages are queued
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
	ids, err := c.Submit(ctx, m.From, m.To, m.Text, m.Receipt)
	var se *SubmitError
	switch {
	case err == nil:
		if err := ob.Sent(context.WithoutCancel(ctx), m.ID, ids); err != nil {
			c.cfg.Logf("smpp: outbox message %d sent but not recorded: %v", m.ID, err)
		}
	case errors.As(err, &se), errors.Is(err, ErrTooLong):
		if err := ob.Failed(context.WithoutCancel(ctx), m.ID, err.Error()); err != nil {
			c.cfg.Logf("smpp: outbox message %d failed but not recorded: %v", m.ID, err)
		}
	default:
		c.cfg.Logf("smpp: outbox message %d not sent yet: %v", m.ID, err)
		ob.Retry(m.ID)
		if errors.Is(err, ErrBadCredentials) {
			// Refused credentials last minutes: hold this slot a while rather than spin.
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}
