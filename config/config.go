// Package config reads mpg's TOML configuration strictly: an unknown key or a bad value is an
// error that names the key. Secrets may come from the environment instead of the file, and
// the server keys from key files or systemd credentials (see keys.go).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Config is the whole of mpg.toml.
type Config struct {
	Ledger   Ledger   `toml:"ledger"`
	SMPP     SMPP     `toml:"smpp"`
	Engine   Engine   `toml:"engine"`
	HTTP     HTTP     `toml:"http"`
	Merchant Merchant `toml:"merchant"`
	Bank     Bank     `toml:"bank"`
	Disputes Disputes `toml:"disputes"`
	// KeyFrom says where the keys were read from, for messages (not a key of the file).
	KeyFrom KeyFrom `toml:"-"`
}

// Disputes configures return requests (REV) and dispute cases.
type Disputes struct {
	SelfServiceHours int `toml:"self_service_hours"` // REV within this long of the SEND
	AnswerHours      int `toml:"answer_hours"`       // the payee's time to answer OK or NO
	OpenDays         int `toml:"open_days"`          // DISPUTE within this long of the payment
	MerchantDays     int `toml:"merchant_days"`      // the merchant's time to answer a case
	CloseHours       int `toml:"close_hours"`        // a decided case closes after this long
	// AutoRefundMax: a case the merchant leaves unanswered is decided for the payer at or
	// below this (minor units), else it goes to an operator.
	AutoRefundMax uint64 `toml:"auto_refund_max_minor"`
}

// Bank configures the link to the bank's back end for mDebit (ISO 8583 over TCP).
type Bank struct {
	Addr      string `toml:"addr"`       // host:port ("": DEBIT is not available)
	TLS       bool   `toml:"tls"`        // TLS, with server name from addr
	TimeoutMs int    `toml:"timeout_ms"` // an answer not in by then is an unknown outcome
	Tries     int    `toml:"tries"`      // attempts without a sure answer before a reversal
	// MaxInflight bounds the requests waiting for the bank at once.
	MaxInflight int `toml:"max_inflight"`
	// EchoS is how often the link is checked with a network echo (0800); 0: never.
	EchoS int `toml:"echo_s"`
	// Acquirer is mpg's acquiring institution identification code, as the bank assigned it
	// (ISO 8583 field 32, 1..11 digits; "": not sent).
	Acquirer string `toml:"acquirer"`
}

// Merchant configures the merchant API, the hosted checkout pages and their rules.
type Merchant struct {
	Addr      string `toml:"addr"`       // listen address of the API and the pages ("": off)
	PublicURL string `toml:"public_url"` // how buyers reach the pages (default http://addr)
	TLSCert   string `toml:"tls_cert"`   // PEM files: both set serves HTTPS
	TLSKey    string `toml:"tls_key"`
	RatePerS  int    `toml:"rate_per_s"` // API requests per second per merchant
	Burst     int    `toml:"burst"`
	// How long a request to pay and a checkout wait for the subscriber.
	RequestMin  int `toml:"request_minutes"`
	CheckoutMin int `toml:"checkout_minutes"`
	// The caps of web checkouts: one charge, and what one number pays by checkout in a
	// calendar month (the EU's carrier-billing ceilings are 50 EUR and 300 EUR).
	CheckoutMax     uint64 `toml:"checkout_max_minor"`
	CheckoutMonthly uint64 `toml:"checkout_monthly_minor"`
	CodesPerHour    int    `toml:"codes_per_hour"` // codes texted to one number per hour: checkouts and requests to pay
	// WebhookRetryS is the wait in seconds before each next attempt of a webhook delivery
	// that failed; after the last, the delivery is failed (default: about three days).
	WebhookRetryS []int `toml:"webhook_retry_s"`
}

// Engine configures the SMS commands.
type Engine struct {
	ShortCode      string `toml:"short_code"`          // the number subscribers text
	Region         string `toml:"region"`              // default country for national numbers, e.g. "FR"
	PINKey         string `toml:"pin_key"`             // secret: prefer pin_key_file
	ReceiptKey     string `toml:"receipt_key"`         // secret: prefer receipt_key_file
	PINKeyFile     string `toml:"pin_key_file"`        // a file (mode 0600 or 0400) holding the PIN key in hex
	ReceiptKeyFile string `toml:"receipt_key_file"`    // a file (mode 0600 or 0400) holding the receipt key in hex
	DedupeS        int    `toml:"dedupe_s"`            // identical SMS within this window are one (the SMSC's redelivery period)
	LockAfter      int    `toml:"lock_after"`          // wrong PINs before lockout
	LockMinutes    int    `toml:"lock_minutes"`        // how long the first lockout lasts; each next one twice as long
	LockForever    int    `toml:"lock_forever_after"`  // lockouts in a row after which only an operator unlocks
	ClaimDays      int    `toml:"claim_days"`          // money sent to an unregistered number waits this long
	MaxHolds       int    `toml:"max_holds_per_payee"` // payments that may wait for one unregistered number
	ConfirmAbove   int    `toml:"confirm_above_minor"` // payments above this ask YES <code> (0: never)
	ConfirmMin     int    `toml:"confirm_minutes"`     // how long a confirmation code lives
	ActivationH    int    `toml:"activation_hours"`    // how long a one-time code to set a PIN lives
	TimeZone       string `toml:"time_zone"`           // for times in replies, e.g. "Europe/Paris"
	MOPerMinute    int    `toml:"mo_per_minute"`       // what one number may text per minute (0: no limit)
	MOBurst        int    `toml:"mo_burst"`            // and in a burst
	CreditHoldDays int    `toml:"credit_hold_days"`    // an mCredit authorisation holds this long
	CreditMinTier  int    `toml:"credit_min_tier"`     // the lowest tier granted a credit line
	Tiers          []Tier `toml:"tiers"`               // KYC tiers; a purse's tier must be one of them
	Fees           Fees   `toml:"fees"`                // banded fee tables per product
}

// Tier is one KYC tier's limits, in minor units (0: no limit).
type Tier struct {
	Tier       uint8  `toml:"tier"`
	PerPayment uint64 `toml:"per_payment_minor"` // one payment out of the purse
	Daily      uint64 `toml:"daily_minor"`       // over any rolling 24 hours, reservations included
	MaxBalance uint64 `toml:"max_balance_minor"` // what the purse may hold
	CanSend    bool   `toml:"can_send"`          // may SEND to other people
}

// Fees are the fee tables of each product: a payment pays the fee of the first band whose
// up_to_minor is at least its amount (0: no upper bound). No band: no fee.
type Fees struct {
	Pay  []Band `toml:"pay"`
	Bill []Band `toml:"bill"`
	Send []Band `toml:"send"`
	// Debit and Credit are charged to the merchant, out of what it receives (as card
	// acquirers do): the subscriber pays the amount he confirmed.
	Debit  []Band `toml:"debit"`
	Credit []Band `toml:"credit"`
}

// Band is one line of a fee table.
type Band struct {
	UpTo uint64 `toml:"up_to_minor"`
	Fee  uint64 `toml:"fee_minor"`
}

// HTTP configures the local operator endpoints: /metrics, /healthz, /readyz.
type HTTP struct {
	Addr string `toml:"addr"`
}

// The keys' environment variables: a key set there and elsewhere must be the same key.
const (
	PINKeyEnv     = "MPG_PIN_KEY"
	ReceiptKeyEnv = "MPG_RECEIPT_KEY"
)

// SMPP configures the link to the operator's SMSC.
type SMPP struct {
	Addr         string `toml:"addr"`          // host:port of the SMSC
	TLS          bool   `toml:"tls"`           // TLS, with server name from addr
	SystemID     string `toml:"system_id"`     // bind credentials
	Password     string `toml:"password"`      // secret: prefer MPG_SMPP_PASSWORD
	SystemType   string `toml:"system_type"`   // often empty
	AddressRange string `toml:"address_range"` // often empty
	SourceTON    uint8  `toml:"source_ton"`
	SourceNPI    uint8  `toml:"source_npi"`
	Transceiver  bool   `toml:"transceiver"`  // one connection both ways, else a receiver + transmitter pair
	Binds        int    `toml:"binds"`        // links, sharing one rate
	Window       int    `toml:"window"`       // unanswered requests per connection
	MaxInflight  int    `toml:"max_inflight"` // MO handlers running per connection; beyond, ESME_RX_T_APPN
	EnquireLinkS int    `toml:"enquire_link_s"`
	RespTimeoutS int    `toml:"response_timeout_s"`
	RatePerS     int    `toml:"rate_per_s"`       // submit_sm per second over all binds
	RetryUnknown int    `toml:"retry_unknown"`    // resends, with backoff, of a reply whose submit got no response
	ValidityS    int    `toml:"validity_s"`       // a reply refused temporarily this long fails with its reason
	RetryMs      int    `toml:"retry_backoff_ms"` // first wait after a temporary refusal, doubled per attempt up to 10 min
	AuthRetryS   int    `toml:"auth_retry_s"`     // after 3 refused binds in a row, try again this often
	DrainS       int    `toml:"drain_s"`          // a graceful stop waits this long for replies to leave before unbinding
}

// PasswordEnv overrides smpp.password, so the secret need not sit in a file.
const PasswordEnv = "MPG_SMPP_PASSWORD"

// Ledger configures the ledger file.
type Ledger struct {
	// Path of the bbolt file.
	Path string `toml:"path"`
	// Currency of the system accounts `mpg ledger init` opens, and of new purses.
	Currency string `toml:"currency"`
	// Group commit: at most this many jobs per commit, waiting at most this long for company.
	MaxBatchJobs   int `toml:"max_batch_jobs"`
	MaxBatchWaitUs int `toml:"max_batch_wait_us"`
	// Balance checkpoints: a round starts this often and writes this many account records
	// per commit. More often means a shorter replay after a crash and more pages written.
	CheckpointEveryMs int `toml:"checkpoint_every_ms"`
	CheckpointChunk   int `toml:"checkpoint_chunk"`
	// Sent, delivered and failed replies (and their SMSC ids) are kept this long.
	OutboxRetentionDays int `toml:"outbox_retention_days"`
}

// Default is the configuration used when no file is given.
func Default() Config {
	return Config{
		Ledger: Ledger{Path: "mpg.db", Currency: "EUR", MaxBatchJobs: 4096, MaxBatchWaitUs: 500,
			CheckpointEveryMs: 5000, CheckpointChunk: 1024, OutboxRetentionDays: 30},
		Engine: Engine{ShortCode: "1234", Region: "FR", DedupeS: 21600, LockAfter: 3, LockMinutes: 30, LockForever: 5,
			ClaimDays: 7, MaxHolds: 8, CreditHoldDays: 7, CreditMinTier: 2, ConfirmMin: 5, ActivationH: 24, TimeZone: "UTC", MOPerMinute: 30, MOBurst: 10,
			Tiers: []Tier{
				{Tier: 1, PerPayment: 10000, Daily: 20000, MaxBalance: 50000},
				{Tier: 2, PerPayment: 50000, Daily: 100000, MaxBalance: 200000, CanSend: true},
				{Tier: 3, PerPayment: 200000, Daily: 500000, MaxBalance: 1000000, CanSend: true},
			},
			Fees: Fees{Pay: []Band{}, Bill: []Band{}, Send: []Band{}, Debit: []Band{}, Credit: []Band{}}},
		HTTP:     HTTP{Addr: "127.0.0.1:9464"},
		Bank:     Bank{TimeoutMs: 5000, Tries: 5, MaxInflight: 64, EchoS: 30},
		Disputes: Disputes{SelfServiceHours: 24, AnswerHours: 48, OpenDays: 120, MerchantDays: 7, CloseHours: 72, AutoRefundMax: 5000},
		Merchant: Merchant{RatePerS: 20, Burst: 40, RequestMin: 15, CheckoutMin: 15, CheckoutMax: 1000,
			CheckoutMonthly: 30000, CodesPerHour: 5, WebhookRetryS: []int{5, 300, 1800, 7200, 18000, 36000, 36000, 50400, 86400}},
		SMPP: SMPP{Addr: "127.0.0.1:2775", SystemID: "mpg", Transceiver: true, Binds: 1, Window: 10, MaxInflight: 1024,
			EnquireLinkS: 30, RespTimeoutS: 10, RatePerS: 100, RetryUnknown: 3, ValidityS: 86400, RetryMs: 5000, SourceNPI: 1, AuthRetryS: 600, DrainS: 5},
	}
}

// replacedKeys are keys earlier versions read, and what took their place.
var replacedKeys = map[string]string{
	"engine.pay_fee_minor":       "fees are banded tables per product, engine.fees.pay",
	"engine.pay_fee_from_minor":  "fees are banded tables per product, engine.fees.pay",
	"engine.send_fee_minor":      "fees are banded tables per product, engine.fees.send",
	"engine.send_fee_from_minor": "fees are banded tables per product, engine.fees.send",
}

// Load reads path over the defaults. A missing file is an error only when required.
func Load(path string, required bool) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !required:
		b = nil // defaults, then the environment
	case err != nil:
		return c, fmt.Errorf("config: %w", err)
	}
	d := toml.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			key := strings.Join(sm.Errors[0].Key(), ".")
			if now, ok := replacedKeys[key]; ok {
				return c, fmt.Errorf("config %s: %s is no longer read: %s (see mpg.example.toml)", path, key, now)
			}
			return c, fmt.Errorf("config %s: unknown key %s", path, key)
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return c, fmt.Errorf("config %s:%d:%d: %s (key %s)", path, row, col, de.Error(), strings.Join(de.Key(), "."))
		}
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if v := os.Getenv(PasswordEnv); v != "" {
		c.SMPP.Password = v
	}
	if err := c.loadKeys(path); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c Config) validate() error {
	switch {
	case c.Ledger.Path == "":
		return fmt.Errorf("config: ledger.path must not be empty")
	case c.Ledger.MaxBatchJobs < 1 || c.Ledger.MaxBatchJobs > 65536:
		return fmt.Errorf("config: ledger.max_batch_jobs must be 1..65536, got %d", c.Ledger.MaxBatchJobs)
	case c.Ledger.MaxBatchWaitUs < 0 || c.Ledger.MaxBatchWaitUs > 100000:
		return fmt.Errorf("config: ledger.max_batch_wait_us must be 0..100000, got %d", c.Ledger.MaxBatchWaitUs)
	case c.Ledger.CheckpointEveryMs < 100 || c.Ledger.CheckpointEveryMs > 3600000:
		return fmt.Errorf("config: ledger.checkpoint_every_ms must be 100..3600000, got %d", c.Ledger.CheckpointEveryMs)
	case c.Ledger.CheckpointChunk < 64 || c.Ledger.CheckpointChunk > 1<<20:
		return fmt.Errorf("config: ledger.checkpoint_chunk must be 64..1048576, got %d", c.Ledger.CheckpointChunk)
	case c.SMPP.Binds < 1 || c.SMPP.Binds > 64:
		return fmt.Errorf("config: smpp.binds must be 1..64, got %d", c.SMPP.Binds)
	case c.SMPP.Window < 1 || c.SMPP.Window > 1000:
		return fmt.Errorf("config: smpp.window must be 1..1000, got %d", c.SMPP.Window)
	case c.SMPP.EnquireLinkS < 1 || c.SMPP.EnquireLinkS > 3600:
		return fmt.Errorf("config: smpp.enquire_link_s must be 1..3600, got %d", c.SMPP.EnquireLinkS)
	case c.SMPP.RespTimeoutS < 1 || c.SMPP.RespTimeoutS > 300:
		return fmt.Errorf("config: smpp.response_timeout_s must be 1..300, got %d", c.SMPP.RespTimeoutS)
	case c.SMPP.RatePerS < 1 || c.SMPP.RatePerS > 100000:
		return fmt.Errorf("config: smpp.rate_per_s must be 1..100000, got %d", c.SMPP.RatePerS)
	case c.SMPP.DrainS < 0 || c.SMPP.DrainS > 300:
		return fmt.Errorf("config: smpp.drain_s must be 0..300, got %d", c.SMPP.DrainS)
	case c.SMPP.AuthRetryS < 1 || c.SMPP.AuthRetryS > 86400:
		return fmt.Errorf("config: smpp.auth_retry_s must be 1..86400, got %d", c.SMPP.AuthRetryS)
	case c.SMPP.RetryUnknown < 0 || c.SMPP.RetryUnknown > 10:
		return fmt.Errorf("config: smpp.retry_unknown must be 0..10, got %d", c.SMPP.RetryUnknown)
	case c.SMPP.MaxInflight < 1 || c.SMPP.MaxInflight > 65536:
		return fmt.Errorf("config: smpp.max_inflight must be 1..65536, got %d", c.SMPP.MaxInflight)
	case c.SMPP.RetryMs < 10 || c.SMPP.RetryMs > 600000:
		return fmt.Errorf("config: smpp.retry_backoff_ms must be 10..600000, got %d", c.SMPP.RetryMs)
	case c.SMPP.ValidityS < 60 || c.SMPP.ValidityS > 7*86400:
		return fmt.Errorf("config: smpp.validity_s must be 60..604800, got %d", c.SMPP.ValidityS)
	case c.Ledger.OutboxRetentionDays < 1 || c.Ledger.OutboxRetentionDays > 3650:
		return fmt.Errorf("config: ledger.outbox_retention_days must be 1..3650, got %d", c.Ledger.OutboxRetentionDays)
	case len(c.SMPP.SystemID) > 15 || len(c.SMPP.Password) > 8:
		return fmt.Errorf("config: smpp.system_id is at most 15 characters and smpp.password at most 8 (SMPP 3.4)")
	case c.Engine.ShortCode == "" || len(c.Engine.Region) != 2:
		return fmt.Errorf("config: engine.short_code must be set and engine.region be a 2-letter country code")
	case c.Engine.DedupeS < 1 || c.Engine.LockAfter < 1 || c.Engine.LockMinutes < 1 || c.Engine.ClaimDays < 1 || c.Engine.ConfirmMin < 1 || c.Engine.ConfirmAbove < 0 ||
		c.Engine.LockForever < 1 || c.Engine.MaxHolds < 1 || c.Engine.ActivationH < 1:
		return fmt.Errorf("config: engine.dedupe_s, lock_after, lock_minutes, lock_forever_after, claim_days, max_holds_per_payee, confirm_minutes and activation_hours must be positive")
	case c.Engine.MOPerMinute < 0 || c.Engine.MOBurst < 0 || (c.Engine.MOPerMinute > 0 && c.Engine.MOBurst < 1):
		return fmt.Errorf("config: engine.mo_per_minute must be 0 (no limit) or more, with engine.mo_burst at least 1")
	case c.Engine.CreditHoldDays < 1 || c.Engine.CreditHoldDays > 30 || c.Engine.CreditMinTier < 1 || c.Engine.CreditMinTier > 255:
		return fmt.Errorf("config: engine.credit_hold_days must be 1..30 and engine.credit_min_tier 1..255")
	case c.Engine.DedupeS > 7*24*3600:
		return fmt.Errorf("config: engine.dedupe_s is at most a week (604800), got %d", c.Engine.DedupeS)
	case c.Merchant.RatePerS < 1 || c.Merchant.RatePerS > 10000 || c.Merchant.Burst < 1 || c.Merchant.Burst > 100000:
		return fmt.Errorf("config: merchant.rate_per_s must be 1..10000 and merchant.burst 1..100000")
	case c.Merchant.RequestMin < 1 || c.Merchant.RequestMin > 1440 || c.Merchant.CheckoutMin < 1 || c.Merchant.CheckoutMin > 1440:
		return fmt.Errorf("config: merchant.request_minutes and merchant.checkout_minutes must be 1..1440")
	case c.Bank.TimeoutMs < 100 || c.Bank.TimeoutMs > 120000 || c.Bank.Tries < 1 || c.Bank.Tries > 100 || c.Bank.MaxInflight < 1 || c.Bank.MaxInflight > 4096:
		return fmt.Errorf("config: bank.timeout_ms must be 100..120000, bank.tries 1..100 and bank.max_inflight 1..4096")
	case c.Bank.EchoS < 0 || c.Bank.EchoS > 3600:
		return fmt.Errorf("config: bank.echo_s must be 0 (no echo) to 3600, got %d", c.Bank.EchoS)
	case len(c.Bank.Acquirer) > 11 || strings.Trim(c.Bank.Acquirer, "0123456789") != "":
		return fmt.Errorf("config: bank.acquirer must be the acquiring institution code the bank gave, up to 11 digits, got %q", c.Bank.Acquirer)
	case c.Disputes.SelfServiceHours < 1 || c.Disputes.SelfServiceHours > 24*30 || c.Disputes.AnswerHours < 1 || c.Disputes.AnswerHours > 24*30:
		return fmt.Errorf("config: disputes.self_service_hours and disputes.answer_hours must be 1..720")
	case c.Disputes.OpenDays < 1 || c.Disputes.OpenDays > 540 || c.Disputes.MerchantDays < 1 || c.Disputes.MerchantDays > 90:
		return fmt.Errorf("config: disputes.open_days must be 1..540 and disputes.merchant_days 1..90")
	case c.Disputes.CloseHours < 0 || c.Disputes.CloseHours > 24*90:
		return fmt.Errorf("config: disputes.close_hours must be 0..2160, got %d", c.Disputes.CloseHours)
	case c.Merchant.CodesPerHour < 1 || c.Merchant.CodesPerHour > 100:
		return fmt.Errorf("config: merchant.codes_per_hour must be 1..100, got %d", c.Merchant.CodesPerHour)
	case !validRetries(c.Merchant.WebhookRetryS):
		return fmt.Errorf("config: merchant.webhook_retry_s must be 1 to 30 waits of 1 to 604800 seconds each, got %v", c.Merchant.WebhookRetryS)
	case (c.Merchant.TLSCert == "") != (c.Merchant.TLSKey == ""):
		return fmt.Errorf("config: merchant.tls_cert and merchant.tls_key go together")
	case c.Merchant.PublicURL != "" && !strings.HasPrefix(c.Merchant.PublicURL, "https://") && !strings.HasPrefix(c.Merchant.PublicURL, "http://"):
		return fmt.Errorf("config: merchant.public_url must be an http(s) URL, got %q", c.Merchant.PublicURL)
	case len(c.Ledger.Currency) != 3:
		return fmt.Errorf("config: ledger.currency must be an ISO 4217 code like EUR, got %q", c.Ledger.Currency)
	}
	if _, err := time.LoadLocation(c.Engine.TimeZone); err != nil {
		return fmt.Errorf("config: engine.time_zone %q: %v", c.Engine.TimeZone, err)
	}
	if len(c.Engine.Tiers) == 0 {
		return fmt.Errorf("config: engine.tiers: at least one tier (tier 1 is what REG opens)")
	}
	seen := map[uint8]bool{}
	for _, t := range c.Engine.Tiers {
		if t.Tier == 0 || seen[t.Tier] {
			return fmt.Errorf("config: engine.tiers: tier numbers must be 1..255 and each once, got %d", t.Tier)
		}
		seen[t.Tier] = true
	}
	if !seen[1] {
		return fmt.Errorf("config: engine.tiers: tier 1 is required (REG opens purses at tier 1)")
	}
	for name, bands := range map[string][]Band{"pay": c.Engine.Fees.Pay, "bill": c.Engine.Fees.Bill, "send": c.Engine.Fees.Send,
		"debit": c.Engine.Fees.Debit, "credit": c.Engine.Fees.Credit} {
		for i, b := range bands {
			if i > 0 && b.UpTo != 0 && (bands[i-1].UpTo == 0 || b.UpTo <= bands[i-1].UpTo) {
				return fmt.Errorf("config: engine.fees.%s: bands must be in increasing up_to_minor, the unbounded one (0) last", name)
			}
		}
	}
	return nil
}

// MinKeyLen is the shortest key mpg uses; a shorter one counts as missing.
const MinKeyLen = 16

// Secrets says whether the keys `mpg serve` needs are set, naming the first missing one.
func (c Config) Secrets() error {
	if err := keySet(KeyPIN, c.Engine.PINKey, c.KeyFrom.PIN, "engine.pin_key_file", PINKeyCredential, PINKeyEnv); err != nil {
		return err
	}
	return keySet(KeyReceipt, c.Engine.ReceiptKey, c.KeyFrom.Receipt, "engine.receipt_key_file", ReceiptKeyCredential, ReceiptKeyEnv)
}

func keySet(name, key, from, file, credential, env string) error {
	switch {
	case key == "":
		return fmt.Errorf("config: no %s key: set %s (or the systemd credential %s, or %s); see README 'Keys'", name, file, credential, env)
	case len(key) < MinKeyLen:
		return fmt.Errorf("config: the %s key from %s is shorter than %d characters", name, from, MinKeyLen)
	}
	return nil
}

// validRetries reports whether a retry schedule is empty (the default) or 1..30 waits of a
// second to a week.
func validRetries(waits []int) bool {
	if len(waits) > 30 {
		return false
	}
	for _, w := range waits {
		if w < 1 || w > 7*24*3600 {
			return false
		}
	}
	return true
}
