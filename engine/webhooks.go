package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mpg/domain"
)

// Webhooks: every state change of a payment is written, in the same job as the change, as a
// delivery record in the books and an entry in the queue of deliveries to make. The HTTP
// side sends them (Standard Webhooks signatures) and reports each attempt here; a failed one
// waits longer each time, for about three days, and a 410 Gone turns the endpoint off.

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"   // every attempt failed, or the endpoint said 410 Gone
	DeliveryDisabled  = "disabled" // the endpoint was off when its turn came
)

// retrySchedule is the wait before each next attempt: about three days in all.
var retrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour, 14 * time.Hour, 24 * time.Hour}

// Delivery is one webhook message: what is sent, where, and how it went.
type Delivery struct {
	ID       string          `json:"id"` // the webhook-id header: the same on every attempt
	Merchant uint64          `json:"merchant"`
	Type     string          `json:"type"`
	Payment  string          `json:"payment"`
	Body     json.RawMessage `json:"body"` // the exact bytes signed and sent
	Created  int64           `json:"created"`
	State    string          `json:"state"`
	Attempts int             `json:"attempts"` // every attempt, replays included
	// Round counts the attempts since the delivery was made or last replayed: the retry
	// schedule's place.
	Round      int    `json:"round,omitempty"`
	NextAt     int64  `json:"next_at,omitempty"`
	LastStatus int    `json:"last_status,omitempty"`
	LastError  string `json:"last_error,omitempty"`
	Done       int64  `json:"done,omitempty"`
	// Set when handed to the sender, never stored.
	URL    string `json:"-"`
	Secret string `json:"-"`
}

// queued is the queue entry of a delivery: enough to know when it is due without reading it.
type queued struct {
	NextAt int64 `json:"n"`
}

// event writes the delivery of a payment's new state, if the merchant has an endpoint: also
// while the endpoint is off (after a 410), so that it is sent when it is on again, or on replay.
func (e *Engine) event(p *domain.Payment, s merchantSettings) ([]domain.Profile, error) {
	if s.WebhookURL == "" {
		return nil, nil
	}
	id := domain.NewID().String()
	typ := "payment." + string(p.State)
	body, err := json.Marshal(struct {
		Type      string      `json:"type"`
		Timestamp string      `json:"timestamp"`
		Data      PaymentView `json:"data"`
	}{typ, domain.FormatTime(p.Updated), e.View(*p)})
	if err != nil {
		return nil, err
	}
	d := Delivery{ID: "msg_" + id, Merchant: p.Merchant, Type: typ, Payment: p.ID, Body: body, Created: p.Updated, State: DeliveryPending}
	return []domain.Profile{write(keyEvent+d.ID, d, 0), write(queueKey(d.Merchant, 0, d.ID), queued{}, 0)}, nil
}

// WebhookSecret is the merchant's signing secret in the Standard Webhooks form (whsec_ and
// base64), derived from the server's PIN key, the merchant and its secret generation.
func (e *Engine) WebhookSecret(merchant uint64, generation int) (string, error) {
	if len(e.cfg.PINKey) < 16 {
		return "", ErrNoKey
	}
	m := hmac.New(sha256.New, e.cfg.PINKey)
	fmt.Fprintf(m, "mpg webhook secret %d %d", merchant, generation)
	return "whsec_" + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// SignWebhook is the webhook-signature header of a body: v1, then the base64 HMAC-SHA256 of
// "id.timestamp.body" under the secret's bytes.
func SignWebhook(secret, id string, ts int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// SetWebhook sets (or, with "", removes) a merchant's endpoint and turns it on again. With
// rotate the signing secret changes. It returns the secret to give the merchant.
func (e *Engine) SetWebhook(ctx context.Context, actor string, merchant uint64, endpoint string, rotate bool) (string, error) {
	if _, err := e.l.Account(merchant); err != nil {
		return "", err
	}
	if endpoint != "" && !strings.HasPrefix(endpoint, "https://") && !strings.HasPrefix(endpoint, "http://") {
		return "", errors.New("the webhook URL must be http(s)")
	}
	if len(endpoint) > domain.MaxReturnURLLen {
		return "", errors.New("the webhook URL is too long")
	}
	for try := 0; ; try++ {
		s, ver, err := e.settings(merchant)
		if err != nil {
			return "", err
		}
		s.WebhookURL, s.WebhookOff = endpoint, false
		if rotate {
			s.SecretVersion++
		}
		secret, err := e.WebhookSecret(merchant, s.SecretVersion)
		if err != nil {
			return "", err
		}
		_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(settingsKey(merchant), s, ver)},
			Audit: &domain.Audit{Actor: actor, Action: "merchant webhook", Detail: fmt.Sprintf("%d %s", merchant, endpoint)}})
		e.forgetHook(merchant)
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return secret, err
	}
}

// maxQueueScan bounds the queue entries one look reads (those waiting for a later retry
// are read and passed over).
const maxQueueScan = 10 * domain.MaxProfileScan

// Delivery reads one delivery.
func (e *Engine) Delivery(id string) (Delivery, uint64, error) {
	var d Delivery
	ver, found, err := e.record(keyEvent+id, &d)
	if err == nil && !found {
		err = fmt.Errorf("no webhook delivery %s", id)
	}
	return d, ver, err
}

// WebhookAttempt records how one attempt went: the HTTP status (0: no answer) and the error.
func (e *Engine) WebhookAttempt(ctx context.Context, id string, status int, failure string) error {
	switch {
	case status >= 200 && status < 300:
		return e.closeDelivery(ctx, id, DeliveryDelivered, status, "")
	case status == 410:
		// Gone: the merchant retired the endpoint. Turn it off; an operator turns it on again.
		d, _, err := e.Delivery(id)
		if err != nil {
			return err
		}
		if err := e.disableEndpoint(ctx, d.Merchant); err != nil {
			return err
		}
		return e.closeDelivery(ctx, id, DeliveryFailed, status, "410 Gone: endpoint turned off")
	}
	for try := 0; ; try++ {
		d, ver, err := e.Delivery(id)
		if err != nil || d.State != DeliveryPending {
			return err
		}
		if try == 0 {
			e.countFailure(d.Merchant)
		}
		was := queueKey(d.Merchant, d.NextAt, id)
		d.Attempts++
		d.Round++
		d.LastStatus, d.LastError = status, clipError(failure)
		var next []domain.Profile
		if d.Round > len(e.cfg.WebhookRetry) {
			d.State, d.Done = DeliveryFailed, e.cfg.Now().UnixNano()
		} else {
			d.NextAt = e.cfg.Now().Add(e.cfg.WebhookRetry[d.Round-1]).UnixNano()
			next = append(next, write(queueKey(d.Merchant, d.NextAt, id), queued{NextAt: d.NextAt}, 0))
		}
		profiles := append([]domain.Profile{write(keyEvent+id, d, ver), e.dequeue(was, id)}, next...)
		_, err = e.l.Submit(ctx, domain.Job{Profiles: profiles})
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

func clipError(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

func (e *Engine) closeDelivery(ctx context.Context, id, state string, status int, why string) error {
	for try := 0; ; try++ {
		d, ver, err := e.Delivery(id)
		if err != nil || d.State != DeliveryPending {
			return err
		}
		if status != 0 || state == DeliveryDelivered {
			d.Attempts++
		}
		was := queueKey(d.Merchant, d.NextAt, id)
		d.State, d.LastStatus, d.LastError, d.Done, d.NextAt = state, status, why, e.cfg.Now().UnixNano(), 0
		_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(keyEvent+id, d, ver), e.dequeue(was, id)}})
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

func (e *Engine) disableEndpoint(ctx context.Context, merchant uint64) error {
	for try := 0; ; try++ {
		s, ver, err := e.settings(merchant)
		if err != nil || s.WebhookOff {
			return err
		}
		s.WebhookOff = true
		_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(settingsKey(merchant), s, ver)},
			Audit: &domain.Audit{Actor: "system", Action: "merchant webhook off", Detail: fmt.Sprintf("%d answered 410 Gone", merchant)}})
		e.forgetHook(merchant)
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

// ReplayWebhook queues a delivery again, whatever became of it: its retry schedule starts
// again, its count of attempts goes on. The id and body stay the same, so a receiver that
// already has it can tell.
func (e *Engine) ReplayWebhook(ctx context.Context, actor, id string) error {
	for try := 0; ; try++ {
		d, ver, err := e.Delivery(id)
		if err != nil {
			return err
		}
		profiles := []domain.Profile{{}}
		if was := queueKey(d.Merchant, d.NextAt, id); d.State != DeliveryPending || was != queueKey(d.Merchant, 0, id) {
			if d.State == DeliveryPending {
				profiles = append(profiles, e.dequeue(was, id))
			}
			profiles = append(profiles, write(queueKey(d.Merchant, 0, id), queued{}, 0))
		}
		d.State, d.Round, d.NextAt, d.Done, d.LastError, d.LastStatus = DeliveryPending, 0, 0, 0, "", 0
		profiles[0] = write(keyEvent+id, d, ver)
		_, err = e.l.Submit(ctx, domain.Job{Profiles: profiles, Audit: &domain.Audit{Actor: actor, Action: "webhook replay", Detail: id}})
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

// Deliveries lists deliveries newest last, after the id given ("" from the first), with
// the state given ("" for any).
func (e *Engine) Deliveries(after, state string, limit int) ([]Delivery, error) {
	from := ""
	if after != "" {
		from = keyEvent + after + "\x00"
	}
	var out []Delivery
	_, err := e.scan(keyEvent, from, maxListScan, func(r domain.Profile) (bool, error) {
		var d Delivery
		if json.Unmarshal(r.Data, &d) == nil && (state == "" || d.State == state) {
			out = append(out, d)
		}
		return len(out) < limit, nil
	})
	return out, err
}
