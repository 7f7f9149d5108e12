package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"

	"mpg/ledger"
)

// runIn runs the CLI with stdin.
func runIn(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	a := &app{}
	root := a.rootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	cfg := filepath.Join(t.TempDir(), "mpg.toml")
	os.WriteFile(cfg, nil, 0o600)
	root.SetArgs(append([]string{"--config", cfg}, args...))
	root.SetContext(context.Background())
	err := root.Execute()
	if e, ok := err.(*forwardedError); ok && e.code == 0 {
		err = nil
	}
	return out.String(), err
}

// TestConsoleUsersCLI: users added from stdin or the environment, listed without a hash,
// disabled; with no daemon, on the file itself.
func TestConsoleUsersCLI(t *testing.T) {
	db := cliLedger(t)
	if out, err := runIn(t, "a long enough passphrase\n", "--db", db, "console", "user", "add", "Ann", "--role", "operator"); err != nil || !strings.Contains(out, "ann added, role operator") {
		t.Fatalf("add from stdin: %v %s", err, out)
	}
	if _, err := runIn(t, "short\n", "--db", db, "console", "user", "add", "bob"); err == nil || !strings.Contains(err.Error(), "10 to 256") {
		t.Fatalf("a short password: %v", err)
	}
	t.Setenv(ConsolePasswordEnv, "another long passphrase")
	mustRun(t, "--db", db, "console", "user", "add", "root", "--role", "admin")
	if _, err := run(t, "--db", db, "console", "user", "add", "eve", "--role", "boss"); err == nil || !strings.Contains(err.Error(), "viewer, operator or admin") {
		t.Fatalf("bad role: %v", err)
	}
	mustRun(t, "--db", db, "console", "user", "disable", "ann")
	out := mustRun(t, "--db", db, "console", "user", "list")
	if !strings.Contains(out, "ann") || !strings.Contains(out, "disabled") || !strings.Contains(out, "root") || strings.Contains(out, "argon2") {
		t.Fatalf("list: %s", out)
	}
	if out := mustRun(t, "--db", db, "console", "user", "list", "-o", "json"); strings.Contains(out, "argon2") || strings.Contains(out, "hash") {
		t.Fatalf("json list shows a hash: %s", out)
	}
	raw, _ := os.ReadFile(db)
	if bytes.Contains(raw, []byte("another long passphrase")) || bytes.Contains(raw, []byte("a long enough passphrase")) {
		t.Fatal("a password is in the ledger file")
	}
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestConsoleServedByTheDaemon: with [console] addr set, mpg serve serves the console; a
// user added through the admin socket while it runs signs in there, and the audit names
// the console user.
func TestConsoleServedByTheDaemon(t *testing.T) {
	db, _, cfg := testSetup(t)
	cfg.Console.Addr = "127.0.0.1:0"
	l, err := ledger.Open(db, (&app{cfg: cfg}).daemonLedgerOptions(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d, _, stop, err := startDaemon(context.Background(), cfg, l, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	t.Setenv(ConsolePasswordEnv, "the operator's passphrase")
	if out := mustRun(t, "--db", db, "console", "user", "add", "olga", "--role", "operator"); !strings.Contains(out, "olga added") {
		t.Fatalf("add through the daemon: %s", out)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	base := "http://" + d.consoleAddr
	body := getBody(t, c, base+"/login")
	m := consoleCSRF.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no sign-in form: %s", body)
	}
	resp, err := c.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "name": {"olga"}, "password": {"the operator's passphrase"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Dashboard") || !strings.Contains(string(page), "olga (operator)") {
		t.Fatalf("after sign-in: %d %s", resp.StatusCode, page)
	}
	if out := mustRun(t, "--db", db, "ledger", "audit"); !strings.Contains(out, "console:olga") || !strings.Contains(out, "console user add") {
		t.Fatalf("audit: %s", out)
	}
}

func getBody(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
