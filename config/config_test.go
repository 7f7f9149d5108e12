package config

import (
	"os"
	"path/filepath"
	"reflect"
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

// The example file in the repository is the reference: it must load, and it must show every
// key the configuration has.
func TestExampleCoversEveryKey(t *testing.T) {
	c, err := Load(filepath.Join("..", "mpg.example.toml"), true)
	if err != nil {
		t.Fatal(err)
	}
	if c != Default() {
		t.Fatalf("the example's values differ from the defaults:\n%+v\n%+v", c, Default())
	}
	b, _ := os.ReadFile(filepath.Join("..", "mpg.example.toml"))
	var walk func(rt reflect.Type, prefix string)
	walk = func(rt reflect.Type, prefix string) {
		for i := range rt.NumField() {
			f := rt.Field(i)
			key := f.Tag.Get("toml")
			if f.Type.Kind() == reflect.Struct {
				if !strings.Contains(string(b), "["+key+"]") {
					t.Errorf("mpg.example.toml has no [%s] section", key)
				}
				walk(f.Type, key)
				continue
			}
			if !strings.Contains(string(b), "\n"+key+" = ") {
				t.Errorf("mpg.example.toml does not show %s.%s", prefix, key)
			}
		}
	}
	walk(reflect.TypeOf(c), "")
}
