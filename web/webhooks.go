package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"mpg/engine"
)

// RunWebhooks delivers the queued webhooks until ctx ends: each signed as Standard Webhooks
// says (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of
// "id.timestamp.body">), at most WebhookWorkers at a time, each attempt bounded by
// WebhookTimeout. The engine decides what an answer means (2xx delivered, 410 endpoint
// off, anything else: try again later); redirects are not followed.
func (s *Server) RunWebhooks(ctx context.Context) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{Transport: tr, Timeout: s.cfg.WebhookTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer tr.CloseIdleConnections()
	var (
		mu       sync.Mutex
		running  = map[string]bool{} // deliveries being attempted: never two attempts at once
		inflight = map[uint64]int{}  // attempts per endpoint: a slow one never holds every worker
		wg       sync.WaitGroup
		slots    = make(chan struct{}, s.cfg.WebhookWorkers)
	)
	freed := make(chan struct{}, 1) // an attempt ended: an endpoint may take the next
	room := func(m uint64) int {
		mu.Lock()
		defer mu.Unlock()
		return engine.WebhooksPerEndpoint - inflight[m]
	}
	t := time.NewTicker(s.cfg.WebhookEvery)
	defer t.Stop()
	defer wg.Wait()
	limit := 4 * s.cfg.WebhookWorkers
	for {
		busy := func(id string) bool {
			mu.Lock()
			defer mu.Unlock()
			return running[id]
		}
		due, err := s.e.DueWebhooksWithin(ctx, limit, busy, room)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("webhook queue", zap.Error(err))
		}
		for _, d := range due {
			select {
			case slots <- struct{}{}: // all workers busy: wait for one (the queue waits in the ledger)
			case <-ctx.Done():
				return
			}
			mu.Lock()
			running[d.ID] = true
			inflight[d.Merchant]++
			mu.Unlock()
			wg.Add(1)
			go func(d engine.Delivery) {
				defer wg.Done()
				s.deliver(ctx, client, d)
				mu.Lock()
				delete(running, d.ID)
				if inflight[d.Merchant]--; inflight[d.Merchant] <= 0 {
					delete(inflight, d.Merchant)
				}
				mu.Unlock()
				<-slots
				select {
				case freed <- struct{}{}:
				default:
				}
			}(d)
		}
		if len(due) == limit && err == nil {
			continue // a backlog: take the next batch as soon as a worker is free
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-freed: // an endpoint held at its share may take its next delivery now
		}
	}
}

// deliver makes one attempt and records it.
func (s *Server) deliver(ctx context.Context, client *http.Client, d engine.Delivery) {
	ts := time.Now().Unix()
	sig, err := engine.SignWebhook(d.Secret, d.ID, ts, d.Body)
	if err != nil {
		s.log.Error("webhook signature", zap.String("id", d.ID), zap.Error(err))
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	status, failure := 0, ""
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "mpg-webhooks/1")
		req.Header.Set("webhook-id", d.ID)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("webhook-signature", sig)
		var resp *http.Response
		if resp, err = client.Do(req); err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			status = resp.StatusCode
			if status < 200 || status >= 300 {
				failure = resp.Status
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return // stopping: the delivery stays queued and is made after the restart
		}
		failure = err.Error()
	}
	if err := s.e.WebhookAttempt(context.WithoutCancel(ctx), d.ID, status, failure); err != nil {
		s.log.Warn("webhook attempt not recorded", zap.String("id", d.ID), zap.Error(err))
		return
	}
	if failure != "" {
		s.log.Info("webhook attempt failed", zap.String("id", d.ID), zap.Uint64("merchant", d.Merchant), zap.Int("status", status), zap.String("error", failure))
	}
}
