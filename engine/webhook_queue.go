package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"

	"mpg/domain"
)

// The queue of webhook deliveries is kept per endpoint, each in the order its deliveries
// fall due: an entry is keyQueued + merchant + ":" + due time (unix seconds, 8 hex digits) +
// ":" + the delivery id's 32 hex digits (the due second rounded up: never sent early). A look at the queue visits the endpoints in turn,
// from where the last look stopped, and reads of each only what is due, at most perEndpoint:
// a backlog of retries at one endpoint costs one read and never delays another. An endpoint
// that is off (it answered 410) keeps its deliveries, sent once it is on again.

// queueKey is a delivery's queue entry, due at nextAt (unix nanos; 0: now).
func queueKey(merchant uint64, nextAt int64, id string) string {
	due := strconv.FormatUint(uint64(max(0, (nextAt+1e9-1)/1e9)), 16) // whole seconds, never early
	return keyQueued + hex16(merchant) + ":" + strings.Repeat("0", max(0, 8-len(due))) + due + ":" + strings.TrimPrefix(id, "msg_")
}

// parseQueueKey reads an entry; old is true for one from before the queue was per endpoint
// (keyQueued + the delivery id).
func parseQueueKey(key string) (merchant uint64, dueS int64, id string, old bool) {
	rest := strings.TrimPrefix(key, keyQueued)
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return 0, 0, rest, true
	}
	m, err1 := strconv.ParseUint(parts[0], 16, 64)
	d, err2 := strconv.ParseUint(parts[1], 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, rest, true
	}
	return m, int64(d), "msg_" + parts[2], false
}

// dequeue removes a delivery's entry: the one at key (written once), or its entry from
// before the queue was per endpoint.
func (e *Engine) dequeue(key, id string) domain.Profile {
	if _, v, err := e.l.Profile(key); err == nil && v > 0 {
		return domain.Profile{Owner: key, Version: v, Delete: true}
	}
	_, v, _ := e.l.Profile(keyQueued + id)
	return domain.Profile{Owner: keyQueued + id, Version: v, Delete: true}
}

// perEndpoint bounds the deliveries of one endpoint one look hands out, and, in the sender,
// the attempts at one endpoint at once (WebhooksPerEndpoint).
const perEndpoint = 4

// WebhooksPerEndpoint is how many attempts the sender makes at one endpoint at once: a slow
// or dead endpoint holds at most these, never every worker.
const WebhooksPerEndpoint = perEndpoint

// maxEndpointsPerLook bounds the endpoints one look visits.
const maxEndpointsPerLook = 1000

// DueWebhooks returns up to limit deliveries whose time has come, at most perEndpoint of an
// endpoint, with their endpoint and secret, leaving out those skip names (attempts still
// running).
func (e *Engine) DueWebhooks(ctx context.Context, limit int, skip func(id string) bool) ([]Delivery, error) {
	return e.DueWebhooksWithin(ctx, limit, skip, nil)
}

// DueWebhooksWithin is DueWebhooks where room says how many more attempts an endpoint may
// take now (nil: perEndpoint each).
func (e *Engine) DueWebhooksWithin(ctx context.Context, limit int, skip func(id string) bool, room func(merchant uint64) int) ([]Delivery, error) {
	now := e.cfg.Now().UnixNano()
	var out []Delivery
	start := e.hookCursor.Load()
	from, wrapped := keyQueued+hex16(start), false
	for visited := 0; len(out) < limit && visited < maxEndpointsPerLook; visited++ {
		first, err := e.l.ProfilesFrom(keyQueued, from, 1)
		if err != nil {
			return out, err
		}
		if len(first) == 0 {
			if wrapped {
				break
			}
			from, wrapped = keyQueued, true // round the endpoints again from the first
			continue
		}
		m, _, id, old := parseQueueKey(first[0].Owner)
		if old {
			if err := e.requeue(ctx, first[0], id); err != nil {
				return out, err
			}
			continue
		}
		if wrapped && m >= start {
			break // every endpoint had its turn
		}
		n := min(perEndpoint, limit-len(out))
		if room != nil {
			n = min(n, room(m))
		}
		got, err := e.dueOf(ctx, m, now, n, skip)
		if err != nil {
			return out, err
		}
		out = append(out, got...)
		e.hookCursor.Store(m + 1)
		from = keyQueued + hex16(m+1)
	}
	return out, nil
}

// dueOf returns up to n of an endpoint's deliveries due at now, none while it is off.
func (e *Engine) dueOf(ctx context.Context, m uint64, now int64, n int, skip func(string) bool) ([]Delivery, error) {
	s, _, err := e.settings(m)
	if err != nil || s.WebhookURL == "" || s.WebhookOff {
		return nil, err
	}
	secret, err := e.WebhookSecret(m, s.SecretVersion)
	if err != nil {
		return nil, err
	}
	prefix := keyQueued + hex16(m) + ":"
	if n <= 0 {
		return nil, nil
	}
	recs, err := e.l.ProfilesFrom(prefix, "", n+perEndpoint)
	var out []Delivery
	for _, r := range recs {
		_, dueS, id, _ := parseQueueKey(r.Owner)
		if dueS*1e9 > now || len(out) == n {
			break
		}
		if skip != nil && skip(id) {
			continue
		}
		d, ver, err := e.Delivery(id)
		if err != nil || e.withReceipt(ctx, &d, ver) != nil {
			continue
		}
		d.URL, d.Secret = s.WebhookURL, secret
		out = append(out, d)
	}
	return out, err
}

// requeue moves an entry from before the queue was per endpoint to its endpoint's queue.
func (e *Engine) requeue(ctx context.Context, r domain.Profile, id string) error {
	job := domain.Job{Profiles: []domain.Profile{{Owner: r.Owner, Version: r.Version, Delete: true}}}
	var q queued
	json.Unmarshal(r.Data, &q)
	if d, _, err := e.Delivery(id); err == nil && d.State == DeliveryPending {
		job.Profiles = append(job.Profiles, write(queueKey(d.Merchant, q.NextAt, id), q, 0))
	}
	_, err := e.l.Submit(ctx, job)
	if err != nil && !errors.Is(err, domain.ErrConflict) {
		return err
	}
	return nil
}

// eventBody is a webhook's body as event writes it.
type eventBody struct {
	Type      string      `json:"type"`
	Timestamp string      `json:"timestamp"`
	Data      PaymentView `json:"data"`
}

// withReceipt completes, before its first attempt, an event written in the job that made
// the payment's transfer, when the receipt could not be read yet: the receipt is put in
// and the body kept, so every attempt sends the same bytes.
func (e *Engine) withReceipt(ctx context.Context, d *Delivery, ver uint64) error {
	var b eventBody
	if d.Attempts > 0 || json.Unmarshal(d.Body, &b) != nil || b.Data.Receipt != "" {
		return nil
	}
	p, _, err := e.payment(d.Payment)
	tid, perr := domain.ParseID(p.Transfer)
	if err != nil || perr != nil {
		return nil // no transfer: no receipt to give
	}
	tr, err := e.l.Transfer(tid)
	if err != nil {
		return nil
	}
	b.Data.Receipt = e.receipt(tr)
	if d.Body, err = json.Marshal(b); err != nil {
		return err
	}
	_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(keyEvent+d.ID, d, ver)}})
	return err
}

// Backlog is what waits at one webhook endpoint.
type Backlog struct {
	Merchant  uint64
	Pending   int   // deliveries queued
	OldestDue int64 // when the one due first is due (unix nanos)
	Failures  int64 // attempts that failed since this engine started
}

// MaxBacklogCount bounds the entries WebhookBacklog counts for one endpoint: a scrape of
// the metrics reads at most this many per endpoint, however long a dead endpoint's queue.
const MaxBacklogCount = 10000

// maxBacklogEndpoints bounds the endpoints one WebhookBacklog visits.
const maxBacklogEndpoints = 10000

// WebhookBacklog reads the queue of every endpoint that has one: how many wait (counted up
// to MaxBacklogCount), since when. It visits each endpoint's queue from its first entry and
// skips to the next endpoint, so its cost is the endpoints times at most the bound.
func (e *Engine) WebhookBacklog() ([]Backlog, error) {
	byMerchant := map[uint64]*Backlog{}
	from := keyQueued
	for range maxBacklogEndpoints {
		first, err := e.l.ProfilesFrom(keyQueued, from, 1)
		if err != nil {
			return nil, err
		}
		if len(first) == 0 {
			break
		}
		m, dueS, _, old := parseQueueKey(first[0].Owner)
		if old { // an entry from before queues were per endpoint: past it, one at a time
			from = first[0].Owner + "\x00"
			continue
		}
		b := &Backlog{Merchant: m, OldestDue: dueS * 1e9}
		prefix := keyQueued + hex16(m) + ":"
		_, err = e.scan(prefix, "", MaxBacklogCount, func(domain.Profile) (bool, error) {
			b.Pending++
			return true, nil
		})
		if err != nil {
			return nil, err
		}
		byMerchant[m] = b
		from = keyQueued + hex16(m) + ";" // ';' follows ':': the next endpoint's first entry
	}
	e.hookFailures.Range(func(k, v any) bool {
		if byMerchant[k.(uint64)] == nil {
			byMerchant[k.(uint64)] = &Backlog{Merchant: k.(uint64)}
		}
		return true
	})
	out := make([]Backlog, 0, len(byMerchant))
	for m, b := range byMerchant {
		if v, ok := e.hookFailures.Load(m); ok {
			b.Failures = v.(*atomic.Int64).Load()
		}
		out = append(out, *b)
	}
	return out, nil
}

// countFailure counts a failed attempt at a merchant's endpoint.
func (e *Engine) countFailure(m uint64) {
	v, _ := e.hookFailures.LoadOrStore(m, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}
