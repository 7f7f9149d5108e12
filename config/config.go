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
}

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
	return Config{Ledger: Ledger{Path: "mpg.db", Currency: "EUR", MaxBatchJobs: 4096, MaxBatchWaitUs: 500,
		CheckpointEveryMs: 5000, CheckpointChunk: 1024}}
}

// Load reads path over the defaults. A missing file is an error only when required.
func Load(path string, required bool) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return c, nil
	}
	if err != nil {
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
	case len(c.Ledger.Currency) != 3:
		return fmt.Errorf("config: ledger.currency must be an ISO 4217 code like EUR, got %q", c.Ledger.Currency)
	}
	return nil
}
