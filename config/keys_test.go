package config

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testPINKey     = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	testReceiptKey = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
)

// keyConfig writes mpg.toml with body, and the files given (name → contents, mode), in a
// fresh directory; it returns the config's path and the directory.
func keyConfig(t *testing.T, body string, files map[string]keyFile) (string, string) {
	t.Helper()
	t.Setenv(PINKeyEnv, "")
	t.Setenv(ReceiptKeyEnv, "")
	t.Setenv(CredentialsDirEnv, "")
	dir := t.TempDir()
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(f.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "mpg.toml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(body, "DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, dir
}

type keyFile struct {
	body string
	mode os.FileMode
}

const bothFiles = "[engine]\npin_key_file = \"DIR/pin.key\"\nreceipt_key_file = \"DIR/receipt.key\"\n"

func TestKeyFilesAreRead(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o400} {
		p, dir := keyConfig(t, bothFiles, map[string]keyFile{
			"pin.key":     {"  " + testPINKey + "\n", mode},
			"receipt.key": {testReceiptKey + "\r\n", mode},
		})
		c, err := Load(p, true)
		if err != nil {
			t.Fatalf("mode %04o: %v", mode, err)
		}
		if c.Engine.PINKey != testPINKey || c.Engine.ReceiptKey != testReceiptKey {
			t.Fatalf("mode %04o: keys not read trimmed", mode)
		}
		if want := "engine.pin_key_file " + filepath.Join(dir, "pin.key"); c.KeyFrom.PIN != want {
			t.Errorf("KeyFrom.PIN %q, want %q", c.KeyFrom.PIN, want)
		}
		if err := c.Secrets(); err != nil {
			t.Errorf("Secrets: %v", err)
		}
	}
}

// A key file others may read is refused, naming the key and the file; so are files that
// hold no proper key. No message shows what the file holds.
func TestKeyFileRefusals(t *testing.T) {
	cases := []struct {
		name string
		f    keyFile
		want []string
	}{
		{"group and world readable", keyFile{testPINKey, 0o644}, []string{"engine.pin_key_file", "pin.key", "mode 0644", "chmod 600"}},
		{"group readable", keyFile{testPINKey, 0o640}, []string{"pin.key", "mode 0640"}},
		{"executable", keyFile{testPINKey, 0o700}, []string{"pin.key", "mode 0700"}},
		{"not hex", keyFile{"secret-password-not-hex-0123456789", 0o600}, []string{"engine.pin_key_file", "hex digits only"}},
		{"too short", keyFile{"0123456789abcdef", 0o600}, []string{"engine.pin_key_file", "16 hex digits, want at least 32"}},
		{"empty", keyFile{"\n", 0o600}, []string{"0 hex digits"}},
	}
	for _, c := range cases {
		p, _ := keyConfig(t, "[engine]\npin_key_file = \"DIR/pin.key\"\n", map[string]keyFile{"pin.key": c.f})
		_, err := Load(p, true)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.name, err, w)
			}
		}
		if body := strings.TrimSpace(c.f.body); body != "" && strings.Contains(err.Error(), body) {
			t.Errorf("%s: the error shows the file's contents: %q", c.name, err)
		}
	}
	p, _ := keyConfig(t, "[engine]\npin_key_file = \"DIR/nowhere.key\"\n", nil)
	if _, err := Load(p, true); err == nil || !strings.Contains(err.Error(), "engine.pin_key_file") || !strings.Contains(err.Error(), "nowhere.key") {
		t.Errorf("missing key file: %v", err)
	}
	p, _ = keyConfig(t, "[engine]\npin_keyfile = \"x\"\n", nil)
	if _, err := Load(p, true); err == nil || !strings.Contains(err.Error(), "[engine] pin_keyfile: unknown key") {
		t.Errorf("misspelt key: %v", err)
	}
	p, _ = keyConfig(t, "[engine]\npin_key_file = 12\n", nil)
	if _, err := Load(p, true); err == nil || !strings.Contains(err.Error(), "pin_key_file") {
		t.Errorf("a number for a path: %v", err)
	}
}

// The environment and a key file may both set a key only if it is the same key: a stale
// MPG_PIN_KEY must not silently win over the file, nor the file over it.
func TestKeyInTwoPlaces(t *testing.T) {
	files := map[string]keyFile{"pin.key": {testPINKey + "\n", 0o600}, "receipt.key": {testReceiptKey, 0o600}}
	p, _ := keyConfig(t, bothFiles, files)
	t.Setenv(PINKeyEnv, testPINKey)
	if c, err := Load(p, true); err != nil || c.Engine.PINKey != testPINKey || c.KeyFrom.PIN != PINKeyEnv {
		t.Fatalf("the same key in both: %v (from %q)", err, c.KeyFrom.PIN)
	}
	other := strings.Repeat("ab", 32)
	t.Setenv(PINKeyEnv, other)
	_, err := Load(p, true)
	if err == nil || !strings.Contains(err.Error(), "PIN key") || !strings.Contains(err.Error(), PINKeyEnv) ||
		!strings.Contains(err.Error(), "engine.pin_key_file") {
		t.Fatalf("two different keys: %v", err)
	}
	if strings.Contains(err.Error(), other) || strings.Contains(err.Error(), testPINKey) {
		t.Fatalf("the error shows a key: %v", err)
	}
	// The environment alone still works, as it always did.
	p, _ = keyConfig(t, "", nil)
	t.Setenv(PINKeyEnv, "env-pin-key-0123456789")
	t.Setenv(ReceiptKeyEnv, "env-receipt-key-0123456789")
	if c, err := Load(p, true); err != nil || c.Engine.PINKey != "env-pin-key-0123456789" || c.Secrets() != nil {
		t.Fatalf("environment: %v", err)
	}
}

// Under systemd, LoadCredential= puts the keys in $CREDENTIALS_DIRECTORY, 0400 with an ACL for
// the service's user (stat shows 0440): they are read whatever their mode.
func TestKeysFromSystemdCredentials(t *testing.T) {
	p, _ := keyConfig(t, "", nil)
	creds := t.TempDir()
	os.WriteFile(filepath.Join(creds, PINKeyCredential), []byte(testPINKey+"\n"), 0o440)
	os.WriteFile(filepath.Join(creds, ReceiptKeyCredential), []byte(testReceiptKey), 0o400)
	t.Setenv(CredentialsDirEnv, creds)
	c, err := Load(p, true)
	if err != nil || c.Engine.PINKey != testPINKey || c.Engine.ReceiptKey != testReceiptKey {
		t.Fatalf("%v", err)
	}
	if !strings.Contains(c.KeyFrom.PIN, "systemd credential mpg-pin-key") {
		t.Errorf("KeyFrom.PIN %q", c.KeyFrom.PIN)
	}
	// A directory without mpg's credentials (another service's) sets nothing.
	t.Setenv(CredentialsDirEnv, t.TempDir())
	if c, err := Load(p, true); err != nil || c.Engine.PINKey != "" {
		t.Fatalf("empty credentials directory: %v", err)
	}
}

func TestSecretsNamesTheMissingKey(t *testing.T) {
	p, _ := keyConfig(t, "", nil)
	c, err := Load(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Secrets(); err == nil || !strings.Contains(err.Error(), "no PIN key") || !strings.Contains(err.Error(), "engine.pin_key_file") {
		t.Fatalf("%v", err)
	}
	c.Engine.PINKey = testPINKey
	if err := c.Secrets(); err == nil || !strings.Contains(err.Error(), "no receipt key") {
		t.Fatalf("%v", err)
	}
}

// The check value is the one the code's comment describes (openssl computes the same:
// printf 'mpg key check value v1 PIN' | openssl dgst -sha256 -hmac 0011…eeff).
func TestKeyCheckValue(t *testing.T) {
	got := hex.EncodeToString(CheckValue(KeyPIN, "00112233445566778899aabbccddeeff"))
	if got != "f91c68812db377de" {
		t.Fatalf("check value %s", got)
	}
	if hex.EncodeToString(CheckValue(KeyReceipt, "00112233445566778899aabbccddeeff")) == got {
		t.Fatal("the receipt key's check value equals the PIN key's for the same key")
	}
}
