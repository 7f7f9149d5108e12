package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mpg/config"
	"mpg/ledger"
	"mpg/smpp"
)

// The key tests run mpg as its own processes (this test binary as mpg), on real key files,
// as an operator would: ledger init, serve, the CLI with and without the daemon.

const (
	keyPINA     = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	keyPINB     = "b00b1e55b00b1e55b00b1e55b00b1e55b00b1e55b00b1e55b00b1e55b00b1e55"
	keyReceiptA = "7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e7e57ab1e"
	keyReceiptB = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
)

// keyWorld is one operator's machine: a directory with the ledger, key files and configs.
type keyWorld struct {
	dir, db string
	sim     *smpp.Sim
}

func newKeyWorld(t *testing.T) *keyWorld {
	t.Helper()
	sim, err := smpp.NewSim("127.0.0.1:0", "mpg", "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	dir := t.TempDir()
	return &keyWorld{dir: dir, db: filepath.Join(dir, "mpg.db"), sim: sim}
}

// keyFile writes a key file (the key and a newline, as openssl writes it) with mode.
func (w *keyWorld) keyFile(t *testing.T, name, key string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// config writes an mpg.toml named name with these key files ("" for none).
func (w *keyWorld) config(t *testing.T, name, pinFile, receiptFile string) string {
	t.Helper()
	body := fmt.Sprintf("[ledger]\npath = %q\n[smpp]\naddr = %q\ndrain_s = 1\n[http]\naddr = \"127.0.0.1:0\"\n[engine]\npin_key_file = %q\nreceipt_key_file = %q\n",
		w.db, w.sim.Addr(), pinFile, receiptFile)
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mpgEnv is the environment of an mpg process: this binary as mpg, the SMSC's password, and
// env (MPG_PIN_KEY=… and the like).
func mpgEnv(env ...string) []string {
	return append(append(os.Environ(), "MPG_TEST_AS_MPG=1", "MPG_SMPP_PASSWORD=pw"), env...)
}

// mpgRun runs mpg to its end (at most 30 s) and returns what it printed and its exit code.
func mpgRun(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = mpgEnv(env...)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("mpg %s: %v", strings.Join(args, " "), err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// mpgOK runs mpg and fails the test unless it exits 0.
func mpgOK(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, code := mpgRun(t, env, args...)
	if code != 0 {
		t.Fatalf("mpg %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// mpgServe starts `mpg serve` and waits until it is bound to the simulator; stop ends it
// with SIGTERM, as systemd does, and returns its exit code and everything it logged.
func (w *keyWorld) mpgServe(t *testing.T, env []string, args ...string) (stop func() (int, string)) {
	t.Helper()
	var logs bytes.Buffer
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--log-level", "debug"}, args...)...)
	cmd.Env = mpgEnv(env...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill() // our own child, by its handle
			<-exited
		}
	})
	for deadline := time.Now().Add(10 * time.Second); w.sim.Bound() == 0; time.Sleep(10 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("mpg serve exited %d before it bound:\n%s", cmd.ProcessState.ExitCode(), logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mpg serve did not bind:\n%s", logs.String())
		}
	}
	return func() (int, string) {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			t.Fatal("mpg serve did not stop within 20 s of SIGTERM")
		}
		for deadline := time.Now().Add(5 * time.Second); w.sim.Bound() > 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		return cmd.ProcessState.ExitCode(), logs.String()
	}
}

// wantRefused checks a refusal of a key: a non-zero exit, a message that names the key, its
// two check values and what to do, and no key in it.
func wantRefused(t *testing.T, what string, out string, code int, name, recordedKey, givenKey string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("%s: exit 0, want a refusal:\n%s", what, out)
	}
	for _, want := range []string{
		"was used with another " + name + " key",
		fmt.Sprintf("check value %x", config.CheckValue(name, recordedKey)),
		fmt.Sprintf("this one %x", config.CheckValue(name, givenKey)),
		keyPlaces(name), "mpg keys rotate", "README 'Keys'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("%s: the message lacks %q:\n%s", what, want, out)
		}
	}
	noKeyIn(t, what, []byte(out))
}

// noKeyIn fails if b holds any test key: as text, as the hex of that text, or as the bytes
// the hex stands for.
func noKeyIn(t *testing.T, what string, b []byte) {
	t.Helper()
	for _, k := range []string{keyPINA, keyPINB, keyReceiptA, keyReceiptB} {
		raw, _ := hex.DecodeString(k)
		for form, needle := range map[string][]byte{"text": []byte(k), "hex of the text": []byte(hex.EncodeToString([]byte(k))), "bytes": raw} {
			if bytes.Contains(bytes.ToLower(b), bytes.ToLower(needle)) {
				t.Errorf("%s holds a key (%s)", what, form)
			}
		}
	}
}

// recordedChecks reads the check values the file keeps, the daemon stopped.
func recordedChecks(t *testing.T, db string) map[string][]byte {
	t.Helper()
	l, err := ledger.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, err := l.KeyChecks()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestKeyChecksRefuseAnotherKey is the README's first day with key files, then the mistakes
// the keys check catches: a restart with another PIN key, with another receipt key, a CLI
// with another key through the daemon's socket and on the file itself. Each is refused,
// naming the key; nothing is written; the right keys go on working; no key is ever in the
// ledger file or the logs.
func TestKeyChecksRefuseAnotherKey(t *testing.T) {
	w := newKeyWorld(t)
	pinA, receiptA := w.keyFile(t, "pin.key", keyPINA, 0o600), w.keyFile(t, "receipt.key", keyReceiptA, 0o400)
	pinB, receiptB := w.keyFile(t, "pin-b.key", keyPINB, 0o600), w.keyFile(t, "receipt-b.key", keyReceiptB, 0o600)
	confA := w.config(t, "mpg.toml", pinA, receiptA)
	confNoKeys := w.config(t, "nokeys.toml", "", "")

	// ledger init, keys at hand: their check values are recorded at once.
	mpgOK(t, nil, "--config", confA, "ledger", "init")
	got := recordedChecks(t, w.db)
	if !bytes.Equal(got[config.KeyPIN], config.CheckValue(config.KeyPIN, keyPINA)) ||
		!bytes.Equal(got[config.KeyReceipt], config.CheckValue(config.KeyReceipt, keyReceiptA)) || len(got) != 2 {
		t.Fatalf("check values after init: %x", got)
	}
	mpgOK(t, nil, "--config", confA, "merchant", "add", "SHOP42", "--name", "Corner Shop")

	stop := w.mpgServe(t, nil, "--config", confA)
	mpgOK(t, nil, "--config", confA, "account", "open", "+33612345678", "--name", "Alice") // through the socket
	// A CLI with another PIN key is refused by the daemon; one with no key is served.
	out, code := mpgRun(t, []string{"MPG_PIN_KEY=" + keyPINB}, "--config", confNoKeys, "ledger", "accounts")
	wantRefused(t, "a CLI with another PIN key, through the socket", out, code, config.KeyPIN, keyPINA, keyPINB)
	if !strings.Contains(out, "from MPG_PIN_KEY") {
		t.Errorf("the refusal does not say where the CLI's key came from:\n%s", out)
	}
	if out := mpgOK(t, nil, "--config", confNoKeys, "ledger", "accounts"); !strings.Contains(out, "Alice") {
		t.Fatalf("a CLI without keys, through the socket:\n%s", out)
	}
	if out := mpgOK(t, nil, "--config", confA, "keys", "check"); strings.Count(out, ", the same") != 2 {
		t.Fatalf("keys check through the socket:\n%s", out)
	}
	if code, logs := stop(); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, logs)
	} else {
		noKeyIn(t, "the daemon's debug log", []byte(logs))
	}

	// Restarts with another key are refused before anything runs.
	confPINB := w.config(t, "pin-b.toml", pinB, receiptA)
	out, code = mpgRun(t, nil, "--config", confPINB, "serve")
	wantRefused(t, "serve with another PIN key", out, code, config.KeyPIN, keyPINA, keyPINB)
	if !strings.Contains(out, "from engine.pin_key_file "+pinB) {
		t.Errorf("the refusal does not name the key file:\n%s", out)
	}
	confReceiptB := w.config(t, "receipt-b.toml", pinA, receiptB)
	out, code = mpgRun(t, nil, "--config", confReceiptB, "serve")
	wantRefused(t, "serve with another receipt key", out, code, config.KeyReceipt, keyReceiptA, keyReceiptB)
	out, code = mpgRun(t, []string{"MPG_PIN_KEY=" + keyPINA, "MPG_RECEIPT_KEY=" + keyReceiptB}, "--config", confNoKeys, "serve")
	wantRefused(t, "serve with another receipt key from the environment", out, code, config.KeyReceipt, keyReceiptA, keyReceiptB)

	// The CLI on the file itself, likewise; with no key it still works.
	out, code = mpgRun(t, nil, "--config", confPINB, "ledger", "accounts")
	wantRefused(t, "a CLI with another PIN key, on the file", out, code, config.KeyPIN, keyPINA, keyPINB)
	out, code = mpgRun(t, nil, "--config", confPINB, "keys", "check")
	if code == 0 || !strings.Contains(out, "DIFFERENT") {
		t.Fatalf("keys check with another PIN key: exit %d\n%s", code, out)
	}
	if out := mpgOK(t, nil, "--config", confNoKeys, "ledger", "accounts"); !strings.Contains(out, "Alice") {
		t.Fatalf("a CLI without keys, on the file:\n%s", out)
	}

	// Nothing was recorded by the refused ones: the right keys serve again.
	stop = w.mpgServe(t, nil, "--config", confA)
	if code, logs := stop(); code != 0 {
		t.Fatalf("serve with the right keys after the refusals exited %d:\n%s", code, logs)
	}
	file, err := os.ReadFile(w.db)
	if err != nil {
		t.Fatal(err)
	}
	noKeyIn(t, "the ledger file", file)
	if !bytes.Contains(file, config.CheckValue(config.KeyPIN, keyPINA)) {
		t.Fatal("the ledger file does not hold the PIN key's check value (is the grep looking at the right bytes?)")
	}
}

// A key file others may read is refused at start, naming the file and the key of mpg.toml.
func TestKeyFileReadableByOthersRefused(t *testing.T) {
	w := newKeyWorld(t)
	pin := w.keyFile(t, "pin.key", keyPINA, 0o644)
	conf := w.config(t, "mpg.toml", pin, w.keyFile(t, "receipt.key", keyReceiptA, 0o600))
	for _, args := range [][]string{{"serve"}, {"ledger", "init"}} {
		out, code := mpgRun(t, nil, append([]string{"--config", conf}, args...)...)
		if code == 0 || !strings.Contains(out, "engine.pin_key_file") || !strings.Contains(out, pin) || !strings.Contains(out, "mode 0644") {
			t.Fatalf("mpg %v with a 0644 key file: exit %d\n%s", args, code, out)
		}
		noKeyIn(t, "the refusal", []byte(out))
	}
	if _, err := os.Stat(w.db); err == nil {
		t.Fatal("ledger init made a file with a key it refused")
	}
}

// A key is changed only on purpose: `mpg keys rotate` says what it breaks and changes nothing
// without --confirm, is refused while the daemon runs, and with --confirm records the new
// check value with an audit entry. Then the new key serves and the old one is refused.
func TestKeyRotationConfirmedAndAudited(t *testing.T) {
	w := newKeyWorld(t)
	receipt := w.keyFile(t, "receipt.key", keyReceiptA, 0o600)
	confA := w.config(t, "mpg.toml", w.keyFile(t, "pin.key", keyPINA, 0o600), receipt)
	confB := w.config(t, "pin-b.toml", w.keyFile(t, "pin-b.key", keyPINB, 0o600), receipt)
	mpgOK(t, nil, "--config", confA, "ledger", "init")

	out, code := mpgRun(t, nil, "--config", confB, "keys", "rotate")
	if code == 0 || !strings.Contains(out, "Wrong PIN") || !strings.Contains(out, "reset-pin") || !strings.Contains(out, "webhook signing secret") ||
		!strings.Contains(out, "--confirm") || !strings.Contains(out, "receipt key: unchanged") {
		t.Fatalf("rotate without --confirm: exit %d\n%s", code, out)
	}
	if got := recordedChecks(t, w.db); !bytes.Equal(got[config.KeyPIN], config.CheckValue(config.KeyPIN, keyPINA)) {
		t.Fatal("rotate without --confirm changed the check value")
	}

	stop := w.mpgServe(t, nil, "--config", confA)
	out, code = mpgRun(t, nil, "--config", confB, "keys", "rotate", "--confirm")
	if code == 0 || !strings.Contains(out, "stop the daemon first") {
		t.Fatalf("rotate while the daemon runs: exit %d\n%s", code, out)
	}
	stop()

	mpgOK(t, nil, "--config", confB, "keys", "rotate", "--confirm")
	audit := mpgOK(t, nil, "--config", confB, "ledger", "audit")
	wantDetail := fmt.Sprintf("PIN %x -> %x", config.CheckValue(config.KeyPIN, keyPINA), config.CheckValue(config.KeyPIN, keyPINB))
	if !strings.Contains(audit, "keys rotated") || !strings.Contains(audit, wantDetail) || !strings.Contains(audit, "cli:uid") {
		t.Fatalf("audit lacks the rotation %q:\n%s", wantDetail, audit)
	}
	out, code = mpgRun(t, nil, "--config", confA, "serve")
	wantRefused(t, "serve with the PIN key rotated away", out, code, config.KeyPIN, keyPINB, keyPINA)
	w.mpgServe(t, nil, "--config", confB)()
	if out := mpgOK(t, nil, "--config", confB, "ledger", "verify"); !strings.Contains(out, "ok") {
		t.Fatalf("verify after the rotation: %s", out)
	}
	file, _ := os.ReadFile(w.db)
	noKeyIn(t, "the ledger file after a rotation", file)
}
