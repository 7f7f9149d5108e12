package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadStrict(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		body, wantErr string
	}{
		{"[ledger]\npath = \"x.db\"\ncurrency = \"XOF\"\n", ""},
		{"[ledger]\npaht = \"x.db\"\n", "ledger.paht"},
		{"[ledger]\nmax_batch_jobs = \"many\"\n", "max_batch_jobs"},
		{"[ledger]\nmax_batch_jobs = 0\n", "max_batch_jobs"},
		{"[smpp]\nwindow = 0\n", "smpp.window"},
		{"[smpp]\nwindw = 5\n", "smpp.windw"},
	}
	for i, c := range cases {
		p := filepath.Join(dir, "c.toml")
		if err := os.WriteFile(p, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(p, true)
		if c.wantErr == "" {
			if err != nil || cfg.Ledger.Path != "x.db" || cfg.Ledger.Currency != "XOF" {
				t.Errorf("case %d: %v %+v", i, err, cfg)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("case %d: error %v, want it to name %s", i, err, c.wantErr)
		}
	}
	if _, err := Load(filepath.Join(dir, "none.toml"), false); err != nil {
		t.Errorf("missing optional file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "none.toml"), true); err == nil {
		t.Error("missing required file: no error")
	}
}

func TestSMPPPasswordFromEnvironment(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte("[smpp]\npassword = \"infile\"\n"), 0o600)
	t.Setenv(PasswordEnv, "fromenv")
	c, err := Load(p, true)
	if err != nil || c.SMPP.Password != "fromenv" {
		t.Fatalf("%v %q", err, c.SMPP.Password)
	}
}
