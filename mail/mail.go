// Package mail is mpg's SMTP side: it hands merchants' e-mail notices and daily statements,
// queued in the ledger by the engine, to the operator's SMTP relay (STARTTLS, mandatory by
// default; SMTP AUTH with a password from a file or the environment), and reports each
// attempt to the engine: accepted (250 after DATA) takes the mail off the queue, a 5xx
// answer to the message fails it at once, anything else (a 4xx, a dropped connection, a
// relay away) is tried again later. It holds no rules of its own and never blocks a payment:
// the mails wait in the ledger.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"
	"go.uber.org/zap"

	"mpg/engine"
)

// TLS policies.
const (
	TLSMandatory     = "mandatory"     // STARTTLS or no mail
	TLSOpportunistic = "opportunistic" // STARTTLS when the relay offers it
	TLSNone          = "none"          // plain text (a loopback relay: tests, the demo)
)

// Config is how mpg reaches the relay.
type Config struct {
	Host      string
	Port      int
	From      string // the sender, e.g. "mpg <notices@pay.example>"
	Username  string // "" for no SMTP AUTH
	Password  string // never logged, never stored
	TLSPolicy string
	TLS       *tls.Config   // nil: the system's roots, server name Host
	Timeout   time.Duration // one attempt (default 30 s)
	Workers   int           // attempts at once (default 4)
	Every     time.Duration // how often the queue is looked at (default 1 s)
	// StatementsEvery is how often the statements due are queued (default 1 min).
	StatementsEvery time.Duration
	// Metrics counts the attempts (nil: not counted).
	Metrics *Metrics
}

// Metrics count what the relay answered, since the daemon started.
type Metrics struct {
	Sent, Retried, Failed atomic.Int64
}

func (m *Metrics) count(o engine.Outcome) {
	switch {
	case m == nil:
	case o.Accepted:
		m.Sent.Add(1)
	case o.Permanent:
		m.Failed.Add(1)
	default:
		m.Retried.Add(1)
	}
}

func (c *Config) defaults() {
	if c.Port == 0 {
		c.Port = 587
	}
	if c.TLSPolicy == "" {
		c.TLSPolicy = TLSMandatory
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Every <= 0 {
		c.Every = time.Second
	}
	if c.StatementsEvery <= 0 {
		c.StatementsEvery = time.Minute
	}
}

// Source is the engine's side of the queue.
type Source interface {
	DueMails(ctx context.Context, limit int, skip func(id string) bool) ([]engine.Letter, error)
	MailAttempt(ctx context.Context, id string, o engine.Outcome) error
	QueueStatements(ctx context.Context) (int, error)
}

// Run sends the queued mails until ctx ends: at most Workers attempts at once, each bounded
// by Timeout; and queues the statements that fall due.
func Run(ctx context.Context, cfg Config, src Source, log *zap.Logger) {
	cfg.defaults()
	if log == nil {
		log = zap.NewNop()
	}
	var (
		mu      sync.Mutex
		running = map[string]bool{} // never two attempts at one mail
		wg      sync.WaitGroup
		slots   = make(chan struct{}, cfg.Workers)
		last    time.Time
	)
	defer wg.Wait()
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	busy := func(id string) bool {
		mu.Lock()
		defer mu.Unlock()
		return running[id]
	}
	for {
		if time.Since(last) >= cfg.StatementsEvery {
			last = time.Now()
			if n, err := src.QueueStatements(ctx); err != nil && ctx.Err() == nil {
				log.Warn("statements not queued", zap.Error(err))
			} else if n > 0 {
				log.Info("statements queued", zap.Int("merchants", n))
			}
		}
		due, err := src.DueMails(ctx, 4*cfg.Workers, busy)
		if err != nil && ctx.Err() == nil {
			log.Warn("mail queue", zap.Error(err))
		}
		for _, l := range due {
			select {
			case slots <- struct{}{}: // every worker busy: wait (the queue waits in the ledger)
			case <-ctx.Done():
				return
			}
			mu.Lock()
			running[l.ID] = true
			mu.Unlock()
			wg.Add(1)
			go func(l engine.Letter) {
				defer wg.Done()
				attempt(ctx, cfg, src, l, log)
				mu.Lock()
				delete(running, l.ID)
				mu.Unlock()
				<-slots
			}(l)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// attempt sends one mail and records how it went.
func attempt(ctx context.Context, cfg Config, src Source, l engine.Letter, log *zap.Logger) {
	o := Send(ctx, cfg, l)
	if ctx.Err() != nil && !o.Accepted {
		return // stopping: the mail stays queued and goes after the restart
	}
	cfg.Metrics.count(o)
	if err := src.MailAttempt(context.WithoutCancel(ctx), l.ID, o); err != nil {
		log.Warn("mail attempt not recorded", zap.String("id", l.ID), zap.Error(err))
		return
	}
	if !o.Accepted {
		// The relay's words may name the address: the log gets the code, the record the words.
		log.Info("mail attempt failed (mpg merchant mail list)", zap.String("id", l.ID), zap.Uint64("merchant", l.Merchant),
			zap.Bool("permanent", o.Permanent), zap.String("reply", replyCode.FindString(o.Error)))
	}
}

// replyCode finds an SMTP reply code in an error's words.
var replyCode = regexp.MustCompile(`\b[45][0-9][0-9]\b`)

// Send makes one attempt at the relay.
func Send(ctx context.Context, cfg Config, l engine.Letter) engine.Outcome {
	cfg.defaults()
	msg, err := Message(cfg.From, l)
	if err != nil {
		return engine.Outcome{Permanent: true, Error: err.Error()}
	}
	c, err := client(cfg)
	if err != nil {
		return engine.Outcome{Error: err.Error()}
	}
	actx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	err = c.DialAndSendWithContext(actx, msg)
	return outcome(msg, err)
}

// Message is a letter as MIME: plain text, the attachment (a CSV) if any, and a Message-ID
// made of the mail's id, the same on every attempt, so a reader can tell a copy.
func Message(from string, l engine.Letter) (*gomail.Msg, error) {
	m := gomail.NewMsg()
	if err := m.From(from); err != nil {
		return nil, fmt.Errorf("mail.from: %w", err)
	}
	if err := m.To(l.To); err != nil {
		return nil, fmt.Errorf("the merchant's address: %w", err)
	}
	m.Subject(l.Subject)
	m.SetMessageIDWithValue(l.ID + "@mpg")
	m.SetDate()
	m.SetUserAgent("mpg")
	m.SetBodyString(gomail.TypeTextPlain, l.Text)
	if l.AttachmentName != "" {
		if err := m.AttachReader(l.AttachmentName, bytes.NewReader(l.Attachment), gomail.WithFileContentType("text/csv")); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func client(cfg Config) (*gomail.Client, error) {
	policy := map[string]gomail.TLSPolicy{TLSMandatory: gomail.TLSMandatory, TLSOpportunistic: gomail.TLSOpportunistic, TLSNone: gomail.NoTLS}[cfg.TLSPolicy]
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTLSPolicy(policy), gomail.WithTimeout(cfg.Timeout)}
	if cfg.TLS != nil {
		opts = append(opts, gomail.WithTLSConfig(cfg.TLS))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	return gomail.NewClient(cfg.Host, opts...)
}

// outcome reads what the relay said: the message accepted (250 after DATA, whatever came
// after), refused for good (a 5xx answer to MAIL, RCPT or DATA), or to try again (a 4xx, a
// connection that failed or dropped, STARTTLS or AUTH that failed: the relay's or the
// configuration's trouble, not the mail's).
func outcome(m *gomail.Msg, err error) engine.Outcome {
	if m.IsDelivered() {
		return engine.Outcome{Accepted: true}
	}
	if err == nil {
		return engine.Outcome{Error: "not delivered"}
	}
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
		switch se.Reason {
		case gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose, gomail.ErrWriteContent:
			return engine.Outcome{Permanent: true, Error: err.Error()}
		}
	}
	return engine.Outcome{Error: err.Error()}
}
