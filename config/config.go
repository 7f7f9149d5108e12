// Package config reads mpg's TOML configuration strictly: an unknown key or a bad value is an
// error that names the key. Secrets may come from the environment instead of the file, and
// the server keys from key files or systemd credentials (see keys.go).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Config is the whole of mpg.toml.
type Config struct {
	Ledger    Ledger    `toml:"ledger"`
	SMPP      SMPP      `toml:"smpp"`
	Engine    Engine    `toml:"engine"`
	HTTP      HTTP      `toml:"http"`
	Merchant  Merchant  `toml:"merchant"`
	Bank      Bank      `toml:"bank"`
	Privacy   Privacy   `toml:"privacy"`
	Disputes  Disputes  `toml:"disputes"`
	Loyalty   Loyalty   `toml:"loyalty"`
	Marketing Marketing `toml:"marketing"`
	Console   Console   `toml:"console"`
	Fraud     Fraud     `toml:"fraud"`
	Stats     Stats     `toml:"stats"`
	Voice     Voice     `toml:"voice"`
	Mail      Mail      `toml:"mail"`
	Orders    Orders    `toml:"orders"`
	// Settlement pays merchants into their bank accounts.
	Settlement Settlement `toml:"settlement"`
	// KeyFrom says where the keys were read from, for messages (not a key of the file).
	KeyFrom KeyFrom `toml:"-"`
}

// Orders bounds saved bills and standing orders (EVERY) and says when the day's runs go.
type Orders struct {
	MaxPerSubscriber int `toml:"max_per_subscriber"` // standing orders one subscriber may have
	SavedBills       int `toml:"saved_bills"`        // billers whose account is kept per subscriber
	RunHour          int `toml:"run_hour"`           // the day's orders run from this hour (engine.time_zone)
	PerPass          int `toml:"per_pass"`           // orders one pass of the scheduler runs at most
	EveryS           int `toml:"every_s"`            // how often the scheduler looks for orders due
}

func (o Orders) validate(r *rules) {
	r.between("orders.max_per_subscriber", o.MaxPerSubscriber, 1, 20) // the profile lists them: it holds 4 KiB
	r.between("orders.saved_bills", o.SavedBills, 1, 20)
	r.between("orders.run_hour", o.RunHour, 0, 23)
	r.between("orders.per_pass", o.PerPass, 1, 100000)
	r.between("orders.every_s", o.EveryS, 1, 3600)
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

// Privacy configures what mpg keeps about a person and how he gets a copy of it.
type Privacy struct {
	// RetentionYears is how long financial records are kept after the relationship ends.
	RetentionYears int `toml:"retention_years"`
	// ExportLinkMin is how long the one-time link DATA texts stays valid.
	ExportLinkMin int `toml:"export_link_minutes"`
	// DataPerDay bounds the DATA requests one number makes per day (each one sends an SMS).
	DataPerDay int `toml:"data_per_day"`
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

// Console configures the operator console and the merchant portal (web pages).
type Console struct {
	Addr    string `toml:"addr"`     // listen address ("": off)
	TLSCert string `toml:"tls_cert"` // PEM files: both set serves HTTPS
	TLSKey  string `toml:"tls_key"`
	// A session ends after SessionTTLMin minutes without a request, and SessionMaxHours
	// after it began in any case.
	SessionTTLMin   int `toml:"session_ttl_minutes"`
	SessionMaxHours int `toml:"session_max_hours"`
	// SecureCookies marks the session cookie Secure: "auto" (when TLS is served, or when
	// a proxy in front serves it: set "true"), "true" or "false".
	SecureCookies string `toml:"secure_cookies"`
}

// Secure says whether the console's cookies are marked Secure.
func (c Console) Secure() bool {
	return c.SecureCookies == "true" || (c.SecureCookies == "auto" && c.TLSCert != "")
}

func (c Console) validate(r *rules) {
	r.between("console.session_ttl_minutes", c.SessionTTLMin, 1, 24*60)
	r.between("console.session_max_hours", c.SessionMaxHours, 1, 24*7)
	if c.SessionMaxHours*60 < c.SessionTTLMin {
		r.bad("console.session_max_hours", strconv.Itoa(c.SessionMaxHours), "must be at least session_ttl_minutes")
	}
	if c.SecureCookies != "auto" && c.SecureCookies != "true" && c.SecureCookies != "false" {
		r.bad("console.secure_cookies", strconv.Quote(c.SecureCookies), `must be "auto", "true" or "false"`)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		r.bad("console.tls_key", strconv.Quote(c.TLSKey), "must be set with tls_cert, both or neither")
	}
}

// Engine configures the SMS commands.
type Engine struct {
	ShortCode      string `toml:"short_code"`       // the number subscribers text
	Region         string `toml:"region"`           // default country for national numbers, e.g. "FR"
	PINKey         string `toml:"pin_key"`          // secret: prefer pin_key_file
	ReceiptKey     string `toml:"receipt_key"`      // secret: prefer receipt_key_file
	PINKeyFile     string `toml:"pin_key_file"`     // a file (mode 0600 or 0400) holding the PIN key in hex
	ReceiptKeyFile string `toml:"receipt_key_file"` // a file (mode 0600 or 0400) holding the receipt key in hex
	// IdentityKeyFile holds the key people's numbers and names are sealed under in the
	// ledger (hex, like the others). Unset: a key kept in the ledger file itself.
	IdentityKeyFile string `toml:"identity_key_file"`
	IdentityKey     string `toml:"-"`                   // from the file, MPG_IDENTITY_KEY or the credential
	DedupeS         int    `toml:"dedupe_s"`            // identical SMS within this window are one (the SMSC's redelivery period)
	LockAfter       int    `toml:"lock_after"`          // wrong PINs before lockout
	LockMinutes     int    `toml:"lock_minutes"`        // how long the first lockout lasts; each next one twice as long
	LockForever     int    `toml:"lock_forever_after"`  // lockouts in a row after which only an operator unlocks
	ClaimDays       int    `toml:"claim_days"`          // money sent to an unregistered number waits this long
	MaxHolds        int    `toml:"max_holds_per_payee"` // payments that may wait for one unregistered number
	ConfirmAbove    int    `toml:"confirm_above_minor"` // payments above this ask YES <code> (0: never)
	ConfirmMin      int    `toml:"confirm_minutes"`     // how long a confirmation code lives
	ActivationH     int    `toml:"activation_hours"`    // how long a one-time code to set a PIN lives
	TimeZone        string `toml:"time_zone"`           // for times in replies, e.g. "Europe/Paris"
	MOPerMinute     int    `toml:"mo_per_minute"`       // what one number may text per minute (0: no limit)
	MOBurst         int    `toml:"mo_burst"`            // and in a burst
	CreditHoldDays  int    `toml:"credit_hold_days"`    // an mCredit authorisation holds this long
	CreditMinTier   int    `toml:"credit_min_tier"`     // the lowest tier granted a credit line
	Tiers           []Tier `toml:"tiers"`               // KYC tiers; a purse's tier must be one of them
	Fees            Fees   `toml:"fees"`                // banded fee tables per product
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
	// IdentityKeyEnv holds the identity key (see Engine.IdentityKeyFile).
	IdentityKeyEnv = "MPG_IDENTITY_KEY"
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

// DSNEnv overrides ledger.dsn (and may carry a password, kept out of the file).
const DSNEnv = "MPG_LEDGER_DSN"

// Ledger drivers.
const (
	DriverBbolt    = "bbolt"
	DriverPostgres = "postgres"
)

// Ledger configures where the books are kept.
type Ledger struct {
	// Driver is "bbolt" (one local file, the default) or "postgres" (a database several
	// daemons share).
	Driver string `toml:"driver"`
	// Path of the bbolt file.
	Path string `toml:"path"`
	// DSN names the PostgreSQL database (driver "postgres"), without its password: that
	// comes from PGPASSWORD, a .pgpass file, or dsn_file. MPG_LEDGER_DSN overrides it.
	DSN string `toml:"dsn"`
	// DSNFile is a file holding the whole DSN, password included, readable by mpg alone.
	DSNFile string `toml:"dsn_file"`
	// Daemon names this daemon among those sharing a database (default: host, process id
	// and a random suffix); two live daemons must never share one.
	Daemon string `toml:"daemon"`
	// AdminSocket is the admin socket's path (default: the file's path + ".sock"; with
	// PostgreSQL, "mpg.sock" in the working directory).
	AdminSocket string `toml:"admin_socket"`
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
		Ledger: Ledger{Driver: DriverBbolt, Path: "mpg.db", Currency: "EUR", MaxBatchJobs: 4096, MaxBatchWaitUs: 500,
			CheckpointEveryMs: 5000, CheckpointChunk: 1024, OutboxRetentionDays: 30},
		Engine: Engine{ShortCode: "1234", Region: "FR", DedupeS: 21600, LockAfter: 3, LockMinutes: 30, LockForever: 5,
			ClaimDays: 7, MaxHolds: 8, CreditHoldDays: 7, CreditMinTier: 2, ConfirmMin: 5, ActivationH: 24, TimeZone: "UTC", MOPerMinute: 30, MOBurst: 10,
			Tiers: []Tier{
				{Tier: 1, PerPayment: 10000, Daily: 20000, MaxBalance: 50000},
				{Tier: 2, PerPayment: 50000, Daily: 100000, MaxBalance: 200000, CanSend: true},
				{Tier: 3, PerPayment: 200000, Daily: 500000, MaxBalance: 1000000, CanSend: true},
			},
			Fees: Fees{Pay: []Band{}, Bill: []Band{}, Send: []Band{}, Debit: []Band{}, Credit: []Band{}}},
		HTTP:      HTTP{Addr: "127.0.0.1:9464"},
		Bank:      Bank{TimeoutMs: 5000, Tries: 5, MaxInflight: 64, EchoS: 30},
		Privacy:   Privacy{RetentionYears: 5, ExportLinkMin: 15, DataPerDay: 3},
		Disputes:  Disputes{SelfServiceHours: 24, AnswerHours: 48, OpenDays: 120, MerchantDays: 7, CloseHours: 72, AutoRefundMax: 5000},
		Loyalty:   defaultLoyalty(),
		Marketing: defaultMarketing(),
		Console:   Console{SessionTTLMin: 30, SessionMaxHours: 8, SecureCookies: "auto"},
		Fraud:     defaultFraud(),
		Stats:     defaultStats(),
		Voice:     defaultVoice(),
		Mail:      defaultMail(),
		Orders:    Orders{MaxPerSubscriber: 5, SavedBills: 10, RunHour: 8, PerPass: 200, EveryS: 60},
		Merchant: Merchant{RatePerS: 20, Burst: 40, RequestMin: 15, CheckoutMin: 15, CheckoutMax: 1000,
			CheckoutMonthly: 30000, CodesPerHour: 5, WebhookRetryS: []int{5, 300, 1800, 7200, 18000, 36000, 36000, 50400, 86400}},
		SMPP: SMPP{Addr: "127.0.0.1:2775", SystemID: "mpg", Transceiver: true, Binds: 1, Window: 10, MaxInflight: 1024,
			EnquireLinkS: 30, RespTimeoutS: 10, RatePerS: 100, RetryUnknown: 3, ValidityS: 86400, RetryMs: 5000, SourceNPI: 1, AuthRetryS: 600, DrainS: 5},
		Settlement: defaultSettlement(),
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
		return c, decodeError(path, err)
	}
	if v := os.Getenv(PasswordEnv); v != "" {
		c.SMPP.Password = v
	}
	if v := os.Getenv(DSNEnv); v != "" {
		c.Ledger.DSN, c.Ledger.DSNFile = v, ""
	}
	if err := c.loadKeys(path); err != nil {
		return c, err
	}
	if bad := c.validate(); len(bad) > 0 {
		errs := make([]error, len(bad))
		for i, k := range bad {
			errs[i] = fmt.Errorf("config %s: %w", path, k)
		}
		return c, errors.Join(errs...)
	}
	return c, nil
}

// A KeyError is one key of the file whose value breaks a rule.
type KeyError struct {
	Key   string // dotted, e.g. "engine.lock_after"
	Value string // as TOML writes it; "" when it is not shown (a secret, a table)
	Rule  string // what the value must be
}

// Error reads as the line of the file: "[engine] lock_after = -1: must be at least 1".
func (e *KeyError) Error() string {
	s := keyName(strings.Split(e.Key, "."))
	if e.Value != "" {
		s += " = " + e.Value
	}
	return s + ": " + e.Rule
}

// keyName writes a key as a reader finds it in the file: its table, then its name.
func keyName(parts []string) string {
	if len(parts) < 2 {
		return strings.Join(parts, ".")
	}
	return "[" + strings.Join(parts[:len(parts)-1], ".") + "] " + parts[len(parts)-1]
}

// decodeError says where in the file the TOML could not be read, and which key, if any.
func decodeError(path string, err error) error {
	var sm *toml.StrictMissingError
	if errors.As(err, &sm) {
		errs := make([]error, len(sm.Errors))
		for i := range sm.Errors {
			e := &sm.Errors[i]
			row, col := e.Position()
			key := strings.Join(e.Key(), ".")
			if now, ok := replacedKeys[key]; ok {
				errs[i] = fmt.Errorf("config %s:%d:%d: %s is no longer read: %s (see mpg.example.toml)", path, row, col, keyName(e.Key()), now)
			} else {
				errs[i] = fmt.Errorf("config %s:%d:%d: %s: unknown key (see mpg.example.toml)", path, row, col, keyName(e.Key()))
			}
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := readableDecode(strings.TrimPrefix(de.Error(), "toml: "))
		if key := de.Key(); len(key) > 0 {
			return fmt.Errorf("config %s:%d:%d: %s: %s", path, row, col, keyName(key), msg)
		}
		return fmt.Errorf("config %s:%d:%d: %s", path, row, col, msg)
	}
	return fmt.Errorf("config %s: %w", path, err)
}

// typeMismatch is the TOML library's message for a value of the wrong type, which names Go
// fields and types rather than what the file should hold.
var typeMismatch = regexp.MustCompile(`^cannot decode TOML (.+) into struct field \S+ of type (\S+)$`)

// readableDecode says a type mismatch in TOML's words; other messages are kept.
func readableDecode(msg string) string {
	m := typeMismatch.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := map[string]string{"string": "a string", "bool": "true or false", "int": "an integer",
		"uint8": "an integer", "uint64": "an integer", "[]int": "an array of integers"}[m[2]]
	if want == "" {
		want = "another type of value (see mpg.example.toml)"
	}
	return fmt.Sprintf("a TOML %s, want %s", m[1], want)
}

// rules collects the keys whose values break a rule, in the order of the checks.
type rules []*KeyError

func (r *rules) bad(key, value, rule string) {
	*r = append(*r, &KeyError{Key: key, Value: value, Rule: rule})
}

func (r *rules) between(key string, got, lo, hi int) {
	if got < lo || got > hi {
		r.bad(key, strconv.Itoa(got), fmt.Sprintf("must be %d to %d", lo, hi))
	}
}

func (r *rules) atLeast(key string, got, lo int) {
	if got < lo {
		r.bad(key, strconv.Itoa(got), fmt.Sprintf("must be at least %d", lo))
	}
}

// validate names every key whose value breaks its rule; none: the configuration is usable.
func (c Config) validate() []*KeyError {
	var r rules
	c.Privacy.validate(&r)
	c.Disputes.validate(&r)
	c.Loyalty.validate(&r)
	c.Marketing.validate(&r)
	c.Console.validate(&r)
	c.Fraud.validate(&r)
	c.Stats.validate(&r)
	c.Voice.validate(&r)
	c.Mail.validate(&r)
	c.Orders.validate(&r)
	c.Settlement.validate(&r)
	l, s, e, m, b := c.Ledger, c.SMPP, c.Engine, c.Merchant, c.Bank
	switch l.Driver {
	case DriverBbolt:
		if l.Path == "" {
			r.bad("ledger.path", `""`, "must not be empty")
		}
	case DriverPostgres:
		if l.DSN == "" && l.DSNFile == "" {
			r.bad("ledger.dsn", `""`, "must name the database (or set ledger.dsn_file, or MPG_LEDGER_DSN)")
		}
		if os.Getenv(DSNEnv) == "" && hasPassword(l.DSN) { // a secret: never echoed
			r.bad("ledger.dsn", "", "must not hold a password: use PGPASSWORD, a .pgpass file, ledger.dsn_file or MPG_LEDGER_DSN")
		}
	default:
		r.bad("ledger.driver", strconv.Quote(l.Driver), `must be "bbolt" or "postgres"`)
	}
	if len(l.Currency) != 3 || l.Currency == "PTS" {
		r.bad("ledger.currency", strconv.Quote(l.Currency), "must be an ISO 4217 code like EUR")
	}
	r.between("ledger.max_batch_jobs", l.MaxBatchJobs, 1, 65536)
	r.between("ledger.max_batch_wait_us", l.MaxBatchWaitUs, 0, 100000)
	r.between("ledger.checkpoint_every_ms", l.CheckpointEveryMs, 100, 3600000)
	r.between("ledger.checkpoint_chunk", l.CheckpointChunk, 64, 1<<20)
	r.between("ledger.outbox_retention_days", l.OutboxRetentionDays, 1, 3650)

	if len(s.SystemID) > 15 {
		r.bad("smpp.system_id", strconv.Quote(s.SystemID), "must be at most 15 characters (SMPP 3.4)")
	}
	if len(s.Password) > 8 { // a secret: its length only
		r.bad("smpp.password", "", fmt.Sprintf("must be at most 8 characters (SMPP 3.4), has %d", len(s.Password)))
	}
	r.between("smpp.binds", s.Binds, 1, 64)
	r.between("smpp.window", s.Window, 1, 1000)
	r.between("smpp.max_inflight", s.MaxInflight, 1, 65536)
	r.between("smpp.enquire_link_s", s.EnquireLinkS, 1, 3600)
	r.between("smpp.response_timeout_s", s.RespTimeoutS, 1, 300)
	r.between("smpp.rate_per_s", s.RatePerS, 1, 100000)
	r.between("smpp.retry_unknown", s.RetryUnknown, 0, 10)
	r.between("smpp.validity_s", s.ValidityS, 60, 7*86400)
	r.between("smpp.retry_backoff_ms", s.RetryMs, 10, 600000)
	r.between("smpp.auth_retry_s", s.AuthRetryS, 1, 86400)
	r.between("smpp.drain_s", s.DrainS, 0, 300)

	if e.ShortCode == "" {
		r.bad("engine.short_code", `""`, "must be set: the number subscribers text")
	}
	if len(e.Region) != 2 {
		r.bad("engine.region", strconv.Quote(e.Region), "must be a 2-letter country code like FR")
	}
	if _, err := time.LoadLocation(e.TimeZone); err != nil {
		r.bad("engine.time_zone", strconv.Quote(e.TimeZone), "must be a time zone like Europe/Paris: "+err.Error())
	}
	r.between("engine.dedupe_s", e.DedupeS, 1, 7*24*3600)
	r.atLeast("engine.lock_after", e.LockAfter, 1)
	r.atLeast("engine.lock_minutes", e.LockMinutes, 1)
	r.atLeast("engine.lock_forever_after", e.LockForever, 1)
	r.atLeast("engine.claim_days", e.ClaimDays, 1)
	r.atLeast("engine.max_holds_per_payee", e.MaxHolds, 1)
	r.atLeast("engine.confirm_above_minor", e.ConfirmAbove, 0)
	r.atLeast("engine.confirm_minutes", e.ConfirmMin, 1)
	r.atLeast("engine.activation_hours", e.ActivationH, 1)
	r.atLeast("engine.mo_per_minute", e.MOPerMinute, 0)
	if e.MOBurst < 0 || (e.MOPerMinute > 0 && e.MOBurst < 1) {
		r.bad("engine.mo_burst", strconv.Itoa(e.MOBurst), "must be at least 1 when mo_per_minute is set (0 only with no limit)")
	}
	r.between("engine.credit_hold_days", e.CreditHoldDays, 1, 30)
	r.between("engine.credit_min_tier", e.CreditMinTier, 1, 255)
	if len(e.Tiers) == 0 {
		r.bad("engine.tiers", "[]", "at least one tier (tier 1 is what REG opens)")
	}
	seen := map[uint8]bool{}
	for _, t := range e.Tiers {
		if t.Tier == 0 || seen[t.Tier] {
			r.bad("engine.tiers", "", fmt.Sprintf("tier numbers must be 1..255 and each once, got tier = %d", t.Tier))
		}
		seen[t.Tier] = true
	}
	if len(e.Tiers) > 0 && !seen[1] {
		r.bad("engine.tiers", "", "tier 1 is required (REG opens purses at tier 1)")
	}
	for _, f := range []struct {
		name  string
		bands []Band
	}{{"pay", e.Fees.Pay}, {"bill", e.Fees.Bill}, {"send", e.Fees.Send}, {"debit", e.Fees.Debit}, {"credit", e.Fees.Credit}} {
		for i, band := range f.bands {
			if i > 0 && band.UpTo != 0 && (f.bands[i-1].UpTo == 0 || band.UpTo <= f.bands[i-1].UpTo) {
				r.bad("engine.fees."+f.name, "", "bands must be in increasing up_to_minor, the unbounded one (0) last")
				break
			}
		}
	}

	r.between("merchant.rate_per_s", m.RatePerS, 1, 10000)
	r.between("merchant.burst", m.Burst, 1, 100000)
	r.between("merchant.request_minutes", m.RequestMin, 1, 1440)
	r.between("merchant.checkout_minutes", m.CheckoutMin, 1, 1440)
	r.between("merchant.codes_per_hour", m.CodesPerHour, 1, 100)
	if !validRetries(m.WebhookRetryS) {
		r.bad("merchant.webhook_retry_s", tomlInts(m.WebhookRetryS), "must be 1 to 30 waits of 1 to 604800 seconds each")
	}
	if m.TLSCert != "" && m.TLSKey == "" {
		r.bad("merchant.tls_key", `""`, "must be set when tls_cert is")
	}
	if m.TLSKey != "" && m.TLSCert == "" {
		r.bad("merchant.tls_cert", `""`, "must be set when tls_key is")
	}
	if m.PublicURL != "" && !strings.HasPrefix(m.PublicURL, "https://") && !strings.HasPrefix(m.PublicURL, "http://") {
		r.bad("merchant.public_url", strconv.Quote(m.PublicURL), "must be an http(s) URL")
	}

	r.between("bank.timeout_ms", b.TimeoutMs, 100, 120000)
	r.between("bank.tries", b.Tries, 1, 100)
	r.between("bank.max_inflight", b.MaxInflight, 1, 4096)
	r.between("bank.echo_s", b.EchoS, 0, 3600)
	if len(b.Acquirer) > 11 || strings.Trim(b.Acquirer, "0123456789") != "" {
		r.bad("bank.acquirer", strconv.Quote(b.Acquirer), "must be the acquiring institution code the bank gave, up to 11 digits")
	}
	return r
}

// tomlInts writes a list of integers as TOML does.
func tomlInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(s, ", ") + "]"
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

func (p Privacy) validate(r *rules) {
	r.between("privacy.retention_years", p.RetentionYears, 1, 100)
	r.between("privacy.export_link_minutes", p.ExportLinkMin, 1, 1440)
	r.between("privacy.data_per_day", p.DataPerDay, 1, 100)
}

func (d Disputes) validate(r *rules) {
	r.between("disputes.self_service_hours", d.SelfServiceHours, 1, 24*30)
	r.between("disputes.answer_hours", d.AnswerHours, 1, 24*30)
	r.between("disputes.open_days", d.OpenDays, 1, 540)
	r.between("disputes.merchant_days", d.MerchantDays, 1, 90)
	r.between("disputes.close_hours", d.CloseHours, 0, 24*90)
}

// hasPassword reports whether a PostgreSQL DSN (URL or key=value) carries a password.
func hasPassword(dsn string) bool {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, set := u.User.Password(); set {
			return true
		}
	}
	return strings.Contains(strings.ToLower(dsn), "password=")
}

// DSNValue is the DSN to connect with: from dsn_file when it is set, else dsn.
func (l Ledger) DSNValue() (string, error) {
	if l.DSNFile == "" {
		return l.DSN, nil
	}
	b, err := os.ReadFile(l.DSNFile)
	if err != nil {
		return "", fmt.Errorf("ledger.dsn_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
