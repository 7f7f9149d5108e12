// Package web is mpg's HTTP side for merchants and their buyers: the merchant API (requests
// to pay, checkouts, refunds, reconciliation), the hosted checkout pages where a buyer pays
// with a code texted to his phone, and the sender of signed webhooks. It holds no rules of
// its own: every step is a call into the engine's payment state machine, which the SMS path
// drives too.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"mpg/domain"
	"mpg/engine"
)

// Config is what the HTTP side needs.
type Config struct {
	PublicURL       string // how buyers reach the pages, e.g. https://pay.example.com
	TLSCert, TLSKey string // both set: HTTPS
	RatePerS, Burst int    // per merchant (default 20 and 40)
	Exponent        uint8  // of the currency
	Currency        string
	WebhookTimeout  time.Duration // one delivery attempt (default 10s)
	WebhookEvery    time.Duration // how often the queue is looked at (default 1s)
	WebhookWorkers  int           // deliveries in flight (default 8)
	MaxBodyBytes    int64         // request bodies (default 16 KiB)
	// Once runs work that must run on one daemon at a time (the webhook sender) while this
	// daemon may (a lease, when several share a database); nil runs it at once.
	Once func(ctx context.Context, name string, work func(context.Context))
}

// Server serves the merchant API and the checkout pages.
type Server struct {
	cfg Config
	e   *engine.Engine
	log *zap.Logger

	mu       sync.Mutex
	limiters map[uint64]*rate.Limiter
	inflight map[string]bool             // idempotency keys whose first request is running
	sessions map[string]*checkoutSession // by the browser's cookie and the checkout
}

// New makes the HTTP side.
func New(cfg Config, e *engine.Engine, log *zap.Logger) *Server {
	if cfg.RatePerS <= 0 {
		cfg.RatePerS = 20
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 2 * cfg.RatePerS
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = 10 * time.Second
	}
	if cfg.WebhookEvery <= 0 {
		cfg.WebhookEvery = time.Second
	}
	if cfg.WebhookWorkers <= 0 {
		cfg.WebhookWorkers = 8
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 16 << 10
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Server{cfg: cfg, e: e, log: log, limiters: map[uint64]*rate.Limiter{}, inflight: map[string]bool{}, sessions: map[string]*checkoutSession{}}
}

// Handler routes every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.yaml", s.openAPI)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /{$}", s.home)
	for _, r := range s.apiRoutes() {
		mux.Handle(r.pattern, r.h)
	}
	mux.Handle("/v1/", s.unrouted(mux))
	mux.HandleFunc("GET /checkout/style.css", s.checkoutStyle)
	mux.HandleFunc("GET /checkout/{id}", s.checkoutPage)
	mux.HandleFunc("POST /checkout/{id}/phone", s.checkoutPhone)
	mux.HandleFunc("POST /checkout/{id}/code", s.checkoutCode)
	mux.HandleFunc("GET /data/{token}", s.dataPage)
	mux.HandleFunc("POST /data/{token}", s.dataDownload)
	return mux
}

// homePage is the answer to "GET /": what this listener is and where its endpoints are. It is
// public (buyers reach it), so it names no version and no other listener.
const homePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mpg merchant API</title></head>
<body>
<h1>mpg: merchant API and checkout pages</h1>
<p>mpg takes payments by SMS. Merchants use this API with their key (Authorization: Bearer);
buyers pay on its checkout pages with a code texted to their phone.</p>
<ul>
<li><a href="/openapi.yaml">/openapi.yaml</a>: the API under /v1 (OpenAPI 3.1)</li>
<li>/checkout/{id}: a checkout page, made with POST /v1/checkouts</li>
<li><a href="/healthz">/healthz</a>: the service answers</li>
</ul>
</body></html>
`

func (s *Server) home(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(homePage))
}

type route struct {
	pattern string // method and path, as net/http routes them; each is in openapi.yaml
	h       http.Handler
}

// apiRoutes are the API's endpoints, each authenticated by a merchant's or a company's key.
func (s *Server) apiRoutes() []route {
	return []route{
		{"POST /v1/payments", s.merchant(s.createPayment)},
		{"POST /v1/checkouts", s.merchant(s.createCheckout)},
		{"GET /v1/payments", s.merchant(s.listPayments)},
		{"GET /v1/payments/{id}", s.merchant(s.getPayment)},
		{"POST /v1/payments/{id}/cancel", s.merchant(s.cancelPayment)},
		{"POST /v1/payments/{id}/refunds", s.merchant(s.refundPayment)},
		{"POST /v1/payments/{id}/capture", s.merchant(s.capturePayment)},
		{"POST /v1/payments/{id}/void", s.merchant(s.voidPayment)},
		{"GET /v1/loyalty", s.merchant(s.getLoyalty)},
		{"PUT /v1/loyalty", s.merchant(s.putLoyalty)},
		{"DELETE /v1/loyalty", s.merchant(s.deleteLoyalty)},
		{"POST /v1/promotions", s.merchant(s.createPromotion)},
		{"GET /v1/promotions", s.merchant(s.listPromotions)},
		{"POST /v1/promotions/{code}/end", s.merchant(s.endPromotion)},
		{"POST /v1/disputes", s.merchant(s.openDispute)},
		{"GET /v1/disputes", s.merchant(s.listDisputes)},
		{"GET /v1/disputes/{id}", s.merchant(s.getDispute)},
		{"POST /v1/disputes/{id}/accept", s.merchant(s.acceptDispute)},
		{"POST /v1/disputes/{id}/evidence", s.merchant(s.disputeEvidence)},
		{"GET /v1/stats", s.merchant(s.getStats)},
		{"GET /v1/notices/email", s.merchant(s.getEmail)},
		{"PUT /v1/notices/email", s.merchant(s.putEmail)},
		{"DELETE /v1/notices/email", s.merchant(s.deleteEmail)},
		{"GET /v1/settlement/bank-account", s.merchant(s.getBankAccount)},
		{"PUT /v1/settlement/bank-account", s.merchant(s.putBankAccount)},
		{"GET /v1/payouts", s.merchant(s.listPayouts)},
		{"GET /v1/payouts/{id}", s.merchant(s.getPayout)},
		{"GET /v1/company/employees", s.company(s.listEmployees)},
		{"PUT /v1/company/employees/{msisdn}", s.company(s.putEmployee)},
		{"DELETE /v1/company/employees/{msisdn}", s.company(s.deleteEmployee)},
		{"GET /v1/company/payments", s.company(s.companyPayments)},
	}
}

// apiMethods are the methods the API's routes use, to name in an Allow header.
var apiMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}

// unrouted answers what no API route took, in the API's JSON: 405 with Allow when the path
// exists with other methods, else 404.
func (s *Server) unrouted(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var allow []string
		for _, m := range apiMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/v1/" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			s.fail(w, r, domain.PaymentErr(domain.CodeNotFound, "no such endpoint: see /openapi.yaml"))
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.fail(w, r, domain.PaymentErr(codeMethodNotAllowed, r.Method+" is not allowed here: "+strings.Join(allow, ", ")))
	})
}

// Serve serves on ln until ctx ends, with the webhook sender running beside it. It returns when all of them have stopped.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if s.cfg.Once != nil {
			s.cfg.Once(ctx, "webhooks", s.RunWebhooks)
		} else {
			s.RunWebhooks(ctx)
		}
	}()
	err := ServeHTTP(ctx, ln, s.Handler(), s.cfg.TLSCert, s.cfg.TLSKey, s.log)
	wg.Wait()
	return err
}

// ServeHTTP serves h on ln until ctx ends, then shuts down within 5 s: the HTTP server of
// every mpg listener (the merchant API and checkout pages, the console), with bounded
// times and headers, and TLS 1.2 or later when a certificate is given.
func ServeHTTP(ctx context.Context, ln net.Listener, h http.Handler, certFile, keyFile string, log *zap.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10,
		ErrorLog: zap.NewStdLog(log.Named("http"))}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
		<-errc
	case err = <-errc:
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
