// Package config reads mpg's TOML configuration strictly: an unknown key or a bad value is an
// error that names the key. Secrets may come from the environment instead of the file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Config is the whole of mpg.toml.
type Config struct {
	Ledger Ledger `toml:"ledger"`
	SMPP   SMPP   `toml:"smpp"`
	Engine Engine `toml:"engine"`
	HTTP   HTTP   `toml:"http"`
}

// Engine configures the SMS commands.
type Engine struct {
	ShortCode    string `toml:"short_code"`    // the number subscribers text
	Region       string `toml:"region"`        // default country for national numbers, e.g. "FR"
	PINKey       string `toml:"pin_key"`       // secret: prefer MPG_PIN_KEY
	ReceiptKey   string `toml:"receipt_key"`   // secret: prefer MPG_RECEIPT_KEY
	DedupeS      int    `toml:"dedupe_s"`      // identical SMS within this window are one
	LockAfter    int    `toml:"lock_after"`    // wrong PINs before lockout
	LockMinutes  int    `toml:"lock_minutes"`  // how long a lockout lasts
	PayFeeMinor  uint64 `toml:"pay_fee_minor"` // fee on PAY above pay_fee_from_minor
	PayFeeFrom   uint64 `toml:"pay_fee_from_minor"`
	SendFeeMinor uint64 `toml:"send_fee_minor"` // fee on SEND above send_fee_from_minor
	SendFeeFrom  uint64 `toml:"send_fee_from_minor"`
	ClaimDays    int    `toml:"claim_days"`          // money sent to an unregistered number waits this long
	ConfirmAbove int    `toml:"confirm_above_minor"` // payments above this ask YES <code> (0: never)
	ConfirmMin   int    `toml:"confirm_minutes"`     // how long a confirmation code lives
}

// HTTP configures the local operator endpoints: /metrics, /healthz, /readyz.
type HTTP struct {
	Addr string `toml:"addr"`
}

// Secret environment variables override the file.
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
	Transceiver  bool   `toml:"transceiver"` // one connection both ways, else a receiver + transmitter pair
	Binds        int    `toml:"binds"`       // links, sharing one rate
	Window       int    `toml:"window"`      // unanswered requests per connection
	EnquireLinkS int    `toml:"enquire_link_s"`
	RespTimeoutS int    `toml:"response_timeout_s"`
	RatePerS     int    `toml:"rate_per_s"` // submit_sm per second over all binds
	RetryUnknown int    `toml:"retry_unknown"`
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
}

// Default is the configuration used when no file is given.
func Default() Config {
	return Config{
		Ledger: Ledger{Path: "mpg.db", Currency: "EUR", MaxBatchJobs: 4096, MaxBatchWaitUs: 500,
			CheckpointEveryMs: 5000, CheckpointChunk: 1024},
		Engine: Engine{ShortCode: "1234", Region: "FR", DedupeS: 120, LockAfter: 3, LockMinutes: 30, ClaimDays: 7, ConfirmMin: 5},
		HTTP:   HTTP{Addr: "127.0.0.1:9464"},
		SMPP: SMPP{Addr: "127.0.0.1:2775", SystemID: "mpg", Transceiver: true, Binds: 1, Window: 10,
			EnquireLinkS: 30, RespTimeoutS: 10, RatePerS: 100, RetryUnknown: 1, SourceNPI: 1},
	}
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
			return c, fmt.Errorf("config %s: unknown key %s", path, strings.Join(sm.Errors[0].Key(), "."))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return c, fmt.Errorf("config %s:%d:%d: %s (key %s)", path, row, col, de.Error(), strings.Join(de.Key(), "."))
		}
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	for env, dst := range map[string]*string{PasswordEnv: &c.SMPP.Password, PINKeyEnv: &c.Engine.PINKey, ReceiptKeyEnv: &c.Engine.ReceiptKey} {
		if v := os.Getenv(env); v != "" {
			*dst = v
		}
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
	case c.SMPP.RetryUnknown < 0 || c.SMPP.RetryUnknown > 5:
		return fmt.Errorf("config: smpp.retry_unknown must be 0..5, got %d", c.SMPP.RetryUnknown)
	case len(c.SMPP.SystemID) > 15 || len(c.SMPP.Password) > 8:
		return fmt.Errorf("config: smpp.system_id is at most 15 characters and smpp.password at most 8 (SMPP 3.4)")
	case c.Engine.ShortCode == "" || len(c.Engine.Region) != 2:
		return fmt.Errorf("config: engine.short_code must be set and engine.region be a 2-letter country code")
	case c.Engine.DedupeS < 1 || c.Engine.LockAfter < 1 || c.Engine.LockMinutes < 1 || c.Engine.ClaimDays < 1 || c.Engine.ConfirmMin < 1 || c.Engine.ConfirmAbove < 0:
		return fmt.Errorf("config: engine.dedupe_s, lock_after, lock_minutes, claim_days and confirm_minutes must be positive")
	case len(c.Ledger.Currency) != 3:
		return fmt.Errorf("config: ledger.currency must be an ISO 4217 code like EUR, got %q", c.Ledger.Currency)
	}
	return nil
}

// Secrets says whether the keys `mpg serve` needs are set, naming the first missing one.
func (c Config) Secrets() error {
	if len(c.Engine.PINKey) < 16 {
		return fmt.Errorf("config: engine.pin_key must be at least 16 characters (set %s)", PINKeyEnv)
	}
	if len(c.Engine.ReceiptKey) < 16 {
		return fmt.Errorf("config: engine.receipt_key must be at least 16 characters (set %s)", ReceiptKeyEnv)
	}
	return nil
}
