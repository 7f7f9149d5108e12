package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
	"mpg/engine"
	"mpg/ledger"
)

// BenchmarkWebhookFairness measures deliveries per second to a healthy endpoint while another
// merchant's endpoint, dead (it answers nothing until the attempt times out), has a backlog
// of MPG_BENCH_BACKLOG deliveries (default 50,000):
//
//	go test -run '^$' -bench WebhookFairness -benchtime 200x ./web
func BenchmarkWebhookFairness(b *testing.B) {
	backlog := 50000
	if v, err := strconv.Atoi(os.Getenv("MPG_BENCH_BACKLOG")); err == nil {
		backlog = v
	}
	l, err := ledger.Create(filepath.Join(b.TempDir(), "mpg.db"), &ledger.Options{Tiers: engine.LedgerTiers(nil)})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{
		{Currency: "EUR", Kind: domain.KindMerchant, Owner: "DEAD", Name: "Dead Shop"},
		{Currency: "EUR", Kind: domain.KindMerchant, Owner: "LIVE", Name: "Live Shop"}}})
	if err != nil {
		b.Fatal(err)
	}
	dead, live := res.Accounts[0].ID, res.Accounts[1].ID
	e, err := engine.New(engine.Config{ShortCode: "1234", Currency: "EUR", Exponent: 2, Region: "FR",
		PINKey: []byte("pin-key-for-tests-only"), ReceiptKey: []byte("receipt-key-for-tests"), CheckoutMax: 1000}, l)
	if err != nil {
		b.Fatal(err)
	}
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // no answer before the sender gives up
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer hang.Close()
	var got atomic.Int64
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer ok.Close()
	e.SetWebhook(ctx, "bench", dead, hang.URL, false)
	e.SetWebhook(ctx, "bench", live, ok.URL, false)
	create := func(m uint64, n int) {
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 16 {
					if _, _, err := e.CreatePayment(ctx, engine.CreatePayment{Merchant: m, Amount: 100, Reference: fmt.Sprintf("r%d-%d", m, i)}); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	create(dead, backlog)
	srv := New(Config{WebhookEvery: 10 * time.Millisecond, WebhookTimeout: time.Second, Currency: "EUR", Exponent: 2}, e, nil)
	stopped := make(chan struct{})
	go func() { srv.RunWebhooks(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }() // before the endpoints close: nothing holds them then
	b.ResetTimer()
	start := time.Now()
	create(live, b.N)
	for got.Load() < int64(b.N) {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("%d of %d delivered to the healthy endpoint in 5 min", got.Load(), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "healthy_deliveries/s")
	b.ReportMetric(float64(backlog), "dead_backlog")
}
