package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// [mail]: off by default; a server needs a sender; plain text only to loopback; the
// password comes from a private file or the environment, and no error shows it.
func TestMailSection(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.toml")
	load := func(body string) (Config, error) {
		t.Helper()
		os.WriteFile(p, []byte(body), 0o600)
		return Load(p, true)
	}
	if c, err := load(""); err != nil || c.Mail.On() || c.Mail.TLSPolicy != MailTLSMandatory {
		t.Fatalf("default: %v %+v", err, c.Mail)
	}
	for body, want := range map[string]string{
		"[mail]\nserver = \"smtp.example.net\"\n":                                                "[mail] from",
		"[mail]\nserver = \"smtp.example.net\"\nfrom = \"a@b.example\"\ntls_policy = \"none\"\n": "loopback",
		"[mail]\ntls_policy = \"sometimes\"\n":                                                   "tls_policy",
		"[mail]\nstatement_hour = 24\n":                                                          "statement_hour",
		"[mail]\nserver = \"smtp.example.net\"\nfrom = \"a@b.example\"\npassword_env = \"X\"\n":  "[mail] username",
		"[mail]\npassword = \"secret\"\n":                                                        "unknown key",
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	c, err := load("[mail]\nserver = \"127.0.0.1\"\nfrom = \"mpg <n@pay.example>\"\ntls_policy = \"none\"\nusername = \"mpg\"\npassword_file = \"" + filepath.Join(dir, "pw") + "\"\n")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "pw"), []byte("relay-secret\n"), 0o644)
	if _, err := c.Mail.MailPassword(); err == nil || !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), "relay-secret") {
		t.Fatalf("a file others may read: %v", err)
	}
	os.Chmod(filepath.Join(dir, "pw"), 0o600)
	if pw, err := c.Mail.MailPassword(); err != nil || pw != "relay-secret" {
		t.Fatalf("file: %v", err)
	}
	c.Mail.PasswordFile, c.Mail.PasswordEnv = "", "MPG_TEST_RELAY_PW"
	t.Setenv("MPG_TEST_RELAY_PW", "")
	if _, err := c.Mail.MailPassword(); err == nil || !strings.Contains(err.Error(), "MPG_TEST_RELAY_PW") {
		t.Fatalf("unset variable: %v", err)
	}
	t.Setenv("MPG_TEST_RELAY_PW", "from-env")
	if pw, err := c.Mail.MailPassword(); err != nil || pw != "from-env" {
		t.Fatalf("env: %v", err)
	}
}
