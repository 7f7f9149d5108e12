package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// [voice] keys are checked by name, and the trunk's password comes from the environment or
// from a file only its owner reads, never from the configuration.
func TestVoiceConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mpg.toml")
	for body, want := range map[string]string{
		"[voice]\ntrunk = \"127.0.0.1:5060\"\n": `[voice] trunk = "127.0.0.1:5060": must be a SIP URI`,
		"[voice]\ntransport = \"tls\"\n":        `[voice] transport = "tls": must be "udp" or "tcp"`,
		"[voice]\nring_s = 1\n":                 "[voice] ring_s = 1: must be 5 to 120",
		"[voice]\nmax_calls = 0\n":              "[voice] max_calls = 0: must be 1 to 256",
		"[voice]\npassword = \"x\"\n":           "[voice] password: unknown key",
	} {
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := Load(p, true); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	v := Default().Voice
	if pw, err := v.Password(); pw != "" || err != nil {
		t.Fatalf("no password: %q %v", pw, err)
	}
	v.PasswordFile = filepath.Join(dir, "trunk.pw")
	os.WriteFile(v.PasswordFile, []byte("s3cret\n"), 0o644)
	if _, err := v.Password(); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("a file others read: %v", err)
	}
	os.Chmod(v.PasswordFile, 0o600)
	if pw, err := v.Password(); pw != "s3cret" || err != nil {
		t.Fatalf("from the file: %q %v", pw, err)
	}
	t.Setenv(VoicePasswordEnv, "from-env")
	if pw, _ := v.Password(); pw != "from-env" {
		t.Fatalf("the environment first: %q", pw)
	}
}
