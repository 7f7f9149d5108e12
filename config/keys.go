package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// mpg has two server keys. The PIN key makes the PIN MACs, the codes' MACs, the dedupe keys
// of inbound SMS, the seal of one-time codes waiting in the outbox and every merchant's
// webhook signing secret; the receipt key makes the receipt codes CHECK verifies. Neither is
// ever in the ledger file: only their check values are (see CheckValue).

// The names of the keys, as the ledger's check values and the messages call them.
const (
	KeyPIN     = "PIN"
	KeyReceipt = "receipt"
)

// CredentialsDirEnv is where systemd puts a service's credentials (LoadCredential=).
const CredentialsDirEnv = "CREDENTIALS_DIRECTORY"

// Credential names mpg reads from $CREDENTIALS_DIRECTORY.
const (
	PINKeyCredential     = "mpg-pin-key"
	ReceiptKeyCredential = "mpg-receipt-key"
	// IdentityKeyCredential seals people in the ledger (optional).
	IdentityKeyCredential = "mpg-identity-key"
)

// MinKeyFileHex is the fewest hex digits a key file or credential holds: 128 random bits.
const MinKeyFileHex = 32

// maxKeyFileBytes bounds what is read of a key file (a key is some tens of bytes).
const maxKeyFileBytes = 4096

// KeyFrom says where each key came from ("" when it is not set), for messages; never the key.
type KeyFrom struct {
	PIN     string
	Receipt string
}

// keySource is one place a key may be set, and what it holds there.
type keySource struct {
	where, key string
}

// loadKeys sets the two keys from wherever they are given: the environment, a systemd
// credential, a key file, or the key itself in the file. A key set in two places must be
// the same key there: an MPG_PIN_KEY left in a shell never silently wins over the key file.
func (c *Config) loadKeys(path string) error {
	pin, err := resolveKey(KeyPIN, []keySourceSpec{
		{where: PINKeyEnv, env: PINKeyEnv},
		{where: "systemd credential " + PINKeyCredential, credential: PINKeyCredential},
		{where: "engine.pin_key_file", file: c.Engine.PINKeyFile},
		{where: "engine.pin_key in " + path, inline: c.Engine.PINKey},
	})
	if err != nil {
		return err
	}
	receipt, err := resolveKey(KeyReceipt, []keySourceSpec{
		{where: ReceiptKeyEnv, env: ReceiptKeyEnv},
		{where: "systemd credential " + ReceiptKeyCredential, credential: ReceiptKeyCredential},
		{where: "engine.receipt_key_file", file: c.Engine.ReceiptKeyFile},
		{where: "engine.receipt_key in " + path, inline: c.Engine.ReceiptKey},
	})
	if err != nil {
		return err
	}
	c.Engine.PINKey, c.KeyFrom.PIN = pin.key, pin.where
	c.Engine.ReceiptKey, c.KeyFrom.Receipt = receipt.key, receipt.where
	identity, err := resolveKey("identity", []keySourceSpec{
		{where: IdentityKeyEnv, env: IdentityKeyEnv},
		{where: "systemd credential " + IdentityKeyCredential, credential: IdentityKeyCredential},
		{where: "engine.identity_key_file", file: c.Engine.IdentityKeyFile},
	})
	if err != nil {
		return err
	}
	c.Engine.IdentityKey = identity.key
	return nil
}

// keySourceSpec is one place to look for a key; one of its fields is set.
type keySourceSpec struct {
	where      string
	env        string // an environment variable
	credential string // a systemd credential's name
	file       string // a key file's path
	inline     string // the key itself, written in mpg.toml
}

// resolveKey reads every place that sets the key and returns the key they agree on.
func resolveKey(name string, specs []keySourceSpec) (keySource, error) {
	var found []keySource
	for _, s := range specs {
		src, err := s.read()
		if err != nil {
			return keySource{}, err
		}
		if src.key != "" {
			found = append(found, src)
		}
	}
	if len(found) == 0 {
		return keySource{}, nil
	}
	for _, other := range found[1:] {
		if other.key != found[0].key {
			return keySource{}, fmt.Errorf("config: the %s key is set in %s and in %s, and they differ: keep it in one place (see README 'Keys')",
				name, found[0].where, other.where)
		}
	}
	return found[0], nil
}

func (s keySourceSpec) read() (keySource, error) {
	switch {
	case s.env != "":
		return keySource{where: s.where, key: os.Getenv(s.env)}, nil
	case s.credential != "":
		dir := os.Getenv(CredentialsDirEnv)
		if dir == "" {
			return keySource{}, nil
		}
		p := filepath.Join(dir, s.credential)
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return keySource{}, nil
		}
		// systemd makes a credential 0400 and lets the service's user read it through an ACL,
		// which stat shows as a group bit: its mode is systemd's business, not checked here.
		key, err := readKeyFile(p, false)
		if err != nil {
			return keySource{}, fmt.Errorf("config: %s: %w", s.where, err)
		}
		return keySource{where: s.where + " (" + p + ")", key: key}, nil
	case s.file != "":
		key, err := readKeyFile(s.file, true)
		if err != nil {
			return keySource{}, fmt.Errorf("config: %s: %w", s.where, err)
		}
		return keySource{where: s.where + " " + s.file, key: key}, nil
	}
	return keySource{where: s.where, key: s.inline}, nil
}

// readKeyFile reads a key kept in a file: hex digits (at least MinKeyFileHex), surrounding
// white space trimmed. With checkMode, a file others than its owner may read is refused. The
// key is the hex text itself, the same bytes as when it is given in MPG_PIN_KEY. Errors name
// the file, never what it holds.
func readKeyFile(path string, checkMode bool) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); checkMode && perm&^0o600 != 0 {
		return "", fmt.Errorf("%s has mode %04o: a key file must be readable by its owner only (chmod 600 %s, or 400)", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxKeyFileBytes {
		return "", fmt.Errorf("%s is larger than a key (%d bytes at most)", path, maxKeyFileBytes)
	}
	key := strings.TrimSpace(string(b))
	if !isHex(key) {
		return "", fmt.Errorf("%s must hold the key as hex digits only (openssl rand -hex 32)", path)
	}
	if len(key) < MinKeyFileHex {
		return "", fmt.Errorf("%s holds %d hex digits, want at least %d (openssl rand -hex 32)", path, len(key), MinKeyFileHex)
	}
	return key, nil
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// CheckValue is what the ledger file keeps of a key, so that a daemon or a CLI started with
// another key is refused instead of silently failing every PIN and receipt: the first 8
// bytes of HMAC-SHA256 keyed by the key over "mpg key check value v1 <name>".
//
// It reveals nothing useful about the key. HMAC-SHA256 is a pseudo-random function: without
// the key its output cannot be told from random bytes, so the value says only whether
// another key is the same one. Nor can it be turned back into the key: a key file holds at
// least 128 random bits, and 64 bits of check value leave some 2^64 keys matching any value,
// among 2^128 to try. A weak key typed into MPG_PIN_KEY could be guessed from it, but no
// more easily than from the PIN MACs the file has always held (anyone who knows one PIN can
// test a guessed key against its MAC).
func CheckValue(name, key string) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("mpg key check value v1 " + name))
	return m.Sum(nil)[:8]
}
