// Package console serves the operator console and the merchant portal: server-rendered
// pages over plain HTML forms (no script, no external asset), signed-in sessions with roles,
// CSRF tokens on every form, and every action an audited engine job naming its author.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"mpg/config"
	"mpg/domain"
	"mpg/engine"
	"mpg/web"
)

// Insights are the figures and the fraud queue the console shows.
type Insights interface {
	Figures(ctx context.Context, from, to time.Time, merchant uint64) (Figures, error) // merchant 0: the whole service
	FraudQueue(ctx context.Context, limit int) ([]FraudCase, error)
	FraudDecide(ctx context.Context, actor, id string, release bool) error
}

// Figures are a period's activity, of the whole service or of one merchant.
type Figures struct {
	Payments, Refused      int64
	Amount, Fees, Refunded int64 // minor units
	SuccessRate            float64
	Prev                   *Figures // the previous period of the same length
	Series                 []Point  // per day or per hour
	Refusals               map[string]int64
	TopMerchants           []Named
	Segments               map[string]int64 // RFM segments: members in each
	DAU, MAU               int64
}

// Point is one day's or hour's activity.
type Point struct {
	Label             string
	Payments, Refused int64
	Amount            int64
}

// Named is one merchant's activity.
type Named struct {
	Name     string
	Payments int64
	Amount   int64
}

// FraudCase is a payment the fraud rules held or flagged, waiting for an operator.
type FraudCase struct {
	ID, Payment, State, Action string
	Score                      int
	Amount                     int64
	Payer, Payee               string // masked
	Hits                       []string
	At                         time.Time
}

// Outbox counts the outbox's messages by state (the ledger's MessageCounts).
type Outbox interface {
	MessageCounts() (map[domain.MessageStatus]int, error)
}

// Config is what the console needs of the configuration.
type Config struct {
	TLSCert, TLSKey string        // both set: HTTPS
	SessionTTL      time.Duration // a session ends after this long without a request (default 30m)
	SessionMax      time.Duration // and this long after sign-in in any case (default 8h)
	SecureCookies   bool
	// Key signs the CSRF tokens; derived from the server's PIN key (KeyFrom), else random.
	Key      []byte
	Currency string
	Exponent uint8
	Location *time.Location // the service's time zone: where "today" begins
	// LoginsPerMinute bounds the sign-in attempts from one address (default 10).
	LoginsPerMinute int
	Outbox          Outbox           // nil: the outbox is not shown
	Now             func() time.Time // the clock sessions expire by (default time.Now)
}

// FromConfig is the console's configuration from mpg's.
func FromConfig(c config.Config) Config {
	exp, _ := domain.Exponent(c.Ledger.Currency)
	loc, err := time.LoadLocation(c.Engine.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return Config{TLSCert: c.Console.TLSCert, TLSKey: c.Console.TLSKey,
		SessionTTL: time.Duration(c.Console.SessionTTLMin) * time.Minute, SessionMax: time.Duration(c.Console.SessionMaxHours) * time.Hour,
		SecureCookies: c.Console.Secure(), Key: KeyFrom([]byte(c.Engine.PINKey)), Currency: c.Ledger.Currency, Exponent: exp, Location: loc}
}

// KeyFrom derives the console's own key from the server's PIN key, under a label of its
// own: a console token is worth nothing as a PIN MAC or a webhook secret, and the reverse.
func KeyFrom(pinKey []byte) []byte {
	if len(pinKey) < 16 {
		return nil
	}
	m := hmac.New(sha256.New, pinKey)
	m.Write([]byte("mpg console key v1"))
	return m.Sum(nil)
}

// Server serves the console and the portal.
type Server struct {
	cfg Config
	e   *engine.Engine
	in  Insights
	log *zap.Logger

	mu       sync.Mutex
	sessions map[string]*session
	limiters map[string]*rate.Limiter // sign-in attempts by address
	outbox   struct {                 // the outbox's counts, as last read
		sync.Mutex
		counts map[domain.MessageStatus]int
		at     time.Time
	}
}

// New makes the console's server; in may be nil while no figures exist (the pages say so).
func New(e *engine.Engine, in Insights, cfg Config, log *zap.Logger) *Server {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 8 * time.Hour
	}
	if len(cfg.Key) < 32 {
		cfg.Key = make([]byte, 32)
		rand.Read(cfg.Key)
	}
	if cfg.LoginsPerMinute <= 0 {
		cfg.LoginsPerMinute = 10
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Currency == "" {
		cfg.Currency, cfg.Exponent = "EUR", 2
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Server{cfg: cfg, e: e, in: in, log: log, sessions: map[string]*session{}, limiters: map[string]*rate.Limiter{}}
}

// Serve serves on ln until ctx ends, then shuts down (web.ServeHTTP, as the merchant API).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return web.ServeHTTP(ctx, ln, s.Handler(), s.cfg.TLSCert, s.cfg.TLSKey, s.log)
}
