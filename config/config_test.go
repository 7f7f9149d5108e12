package config

import (
	"errors"
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
		{"[ledger]\npaht = \"x.db\"\n", "[ledger] paht: unknown key"},
		{"[ledger]\nmax_batch_jobs = \"many\"\n", "[ledger] max_batch_jobs: a TOML string, want an integer"},
		{"[ledger]\nmax_batch_jobs = 0\n", "max_batch_jobs"},
		{"[smpp]\nwindow = 0\n", "[smpp] window = 0: must be 1 to 1000"},
		{"[smpp]\nwindw = 5\n", "[smpp] windw: unknown key"},
		{"[engine]\npay_fee_minor = 10\n", "engine.fees.pay"},
		{"[ledger]\npath = \"x.db\"\ncurrency = \"XOF\"\n[merchant]\nwebhook_retry_s = [5, 60, 3600]\n", ""},
		{"[merchant]\nwebhook_retry_s = [5, 0]\n", "[merchant] webhook_retry_s = [5, 0]: must be"},
		{"[merchant]\nwebhook_retry_s = [5, 700000]\n", "[merchant] webhook_retry_s = [5, 700000]: must be"},
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

// An operator who gets a value wrong is told that one key, with the value as the file has it
// and the rule it breaks; a file that is no TOML is told where, never with an empty key.
func TestErrorNamesTheBadKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mpg.toml")
	cases := []struct{ body, want string }{
		{"[engine]\nlock_after = -1\n", "config P: [engine] lock_after = -1: must be at least 1"},
		{"[engine]\nlock_minutes = 0\nclaim_days = 0\n",
			"config P: [engine] lock_minutes = 0: must be at least 1\nconfig P: [engine] claim_days = 0: must be at least 1"},
		{"[engine]\ndedupe_s = 700000\n", "config P: [engine] dedupe_s = 700000: must be 1 to 604800"},
		{"[engine]\nmo_per_minute = 10\nmo_burst = 0\n", "config P: [engine] mo_burst = 0: must be at least 1 when mo_per_minute is set (0 only with no limit)"},
		{"[engine]\nregion = \"FRA\"\n", `config P: [engine] region = "FRA": must be a 2-letter country code like FR`},
		{"[bank]\ntries = 0\n", "config P: [bank] tries = 0: must be 1 to 100"},
		{"[stats]\nfollow_every_ms = 1\n", "config P: [stats] follow_every_ms = 1: must be 10 to 600000"},
		{"[orders]\nrun_hour = 24\n", "config P: [orders] run_hour = 24: must be 0 to 23"},
		{"[orders]\nmax_per_subscriber = 0\n", "config P: [orders] max_per_subscriber = 0: must be 1 to 20"},
		{"[settlement]\nat = \"25:00\"\n", `config P: [settlement] at = "25:00": must be a time of day as HH:MM`},
		{"[settlement]\nenabled = true\n", "config P: [settlement] enabled = true: needs settlement.debtor_name and settlement.debtor_iban, the operator's account"},
		{"[settlement]\nreserve_percent = 101\n", "config P: [settlement] reserve_percent = 101: must be 0 to 100"},
		{"[merchant]\ntls_cert = \"c.pem\"\n", `config P: [merchant] tls_key = "": must be set when tls_cert is`},
		{"[engine.fees]\npay = [ { up_to_minor = 0, fee_minor = 1 }, { up_to_minor = 5 } ]\n",
			"config P: [engine.fees] pay: bands must be in increasing up_to_minor, the unbounded one (0) last"},
		{"[smpp]\npassword = \"longsecret\"\n", "config P: [smpp] password: must be at most 8 characters (SMPP 3.4), has 10"},
		{"[console]\nsession_ttl_minutes = 0\n", "config P: [console] session_ttl_minutes = 0: must be 1 to 1440"},
		{"[console]\nsession_ttl_minutes = 600\nsession_max_hours = 2\n", "config P: [console] session_max_hours = 2: must be at least session_ttl_minutes"},
		{"[console]\nsecure_cookies = \"yes\"\n", `config P: [console] secure_cookies = "yes": must be "auto", "true" or "false"`},
		{"[console]\ntls_cert = \"c.pem\"\n", `config P: [console] tls_key = "": must be set with tls_cert, both or neither`},
		// Not TOML: the place, and no "(key )".
		{"[engine]\nlock_after = = 3\n", "config P:2:14: unexpected character U+003D '=' at start of value"},
		{"[ledger\npath = \"x.db\"\n", "config P:1:8: expected ']' to close table name"},
		{"[engine]\nlock_after = \"three\"\n", "config P:2:14: [engine] lock_after: a TOML string, want an integer"},
		{"[engine]\nlock_after = 3\nlock_atfer = 4\n", "config P:3:1: [engine] lock_atfer: unknown key (see mpg.example.toml)"},
	}
	for _, c := range cases {
		if err := os.WriteFile(p, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p, true)
		want := strings.ReplaceAll(c.want, "config P", "config "+p)
		if err == nil || err.Error() != want {
			t.Errorf("%q:\n got %v\nwant %s", c.body, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "(key )") {
			t.Errorf("%q: an empty key in %v", c.body, err)
		}
	}
	var ke *KeyError
	os.WriteFile(p, []byte("[engine]\nlock_after = -1\n"), 0o600)
	if _, err := Load(p, true); !errors.As(err, &ke) || ke.Key != "engine.lock_after" || ke.Value != "-1" {
		t.Errorf("KeyError: %v %+v", err, ke)
	}
	os.WriteFile(p, []byte("[smpp]\npassword = \"longsecret\"\n"), 0o600)
	if _, err := Load(p, true); err == nil || strings.Contains(err.Error(), "longsecret") {
		t.Error("the password is shown")
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
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("the example's values differ from the defaults:\n%+v\n%+v", c, Default())
	}
	b, _ := os.ReadFile(filepath.Join("..", "mpg.example.toml"))
	var walk func(rt reflect.Type, path string)
	walk = func(rt reflect.Type, path string) {
		for i := range rt.NumField() {
			f := rt.Field(i)
			key := f.Tag.Get("toml")
			if key == "-" {
				continue // not read from the file
			}
			full := strings.TrimPrefix(path+"."+key, ".")
			switch {
			case f.Type.Kind() == reflect.Struct:
				if !strings.Contains(string(b), "["+full+"]") {
					t.Errorf("mpg.example.toml has no [%s] section", full)
				}
				walk(f.Type, full)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				if !strings.Contains(string(b), "[["+full+"]]") && !strings.Contains(string(b), "\n"+key+" = [") {
					t.Errorf("mpg.example.toml does not show %s", full)
				}
				walk(f.Type.Elem(), full)
			default:
				if !strings.Contains(string(b), "\n"+key+" = ") && !strings.Contains(string(b), "{ "+key+" = ") && !strings.Contains(string(b), ", "+key+" = ") {
					t.Errorf("mpg.example.toml does not show %s", full)
				}
			}
		}
	}
	walk(reflect.TypeOf(c), "")
}

func TestTiersAndFees(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte(`[engine]
tiers = [ { tier = 1, per_payment_minor = 500, daily_minor = 1000, max_balance_minor = 2000 },
          { tier = 2, per_payment_minor = 5000, daily_minor = 10000, max_balance_minor = 20000, can_send = true } ]
[engine.fees]
send = [ { up_to_minor = 1000, fee_minor = 0 }, { up_to_minor = 0, fee_minor = 25 } ]
`), 0o600)
	c, err := Load(p, true)
	if err != nil || len(c.Engine.Tiers) != 2 || !c.Engine.Tiers[1].CanSend || len(c.Engine.Fees.Send) != 2 || c.Engine.Fees.Send[1].Fee != 25 {
		t.Fatalf("%v %+v", err, c.Engine)
	}
	for body, want := range map[string]string{
		"[engine]\ntiers = [ { tier = 2 } ]\n":                                               "tier 1 is required",
		"[engine]\ntiers = [ { tier = 1 }, { tier = 1 } ]\n":                                 "each once",
		"[engine.fees]\npay = [ { up_to_minor = 0, fee_minor = 1 }, { up_to_minor = 5 } ]\n": "increasing",
		"[engine]\ntime_zone = \"Mars/Olympus\"\n":                                           "time_zone",
	} {
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := Load(p, true); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

// TestConsoleSecureCookies: "auto" marks cookies Secure when the console serves TLS.
func TestConsoleSecureCookies(t *testing.T) {
	for _, c := range []struct {
		c    Console
		want bool
	}{{Console{SecureCookies: "auto"}, false}, {Console{SecureCookies: "auto", TLSCert: "c", TLSKey: "k"}, true},
		{Console{SecureCookies: "true"}, true}, {Console{SecureCookies: "false", TLSCert: "c", TLSKey: "k"}, false}} {
		if got := c.c.Secure(); got != c.want {
			t.Errorf("%+v: %v", c.c, got)
		}
	}
}
