package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestServeConfirmsPaymentByCall is the whole way, with the daemon as `mpg serve` runs it:
// Alice texts over SMPP that she confirms by call, pays above the threshold, her phone
// (baresip on loopback) rings and answers, keys her PIN over RFC 4733, and she is texted the
// receipt; the daemon's metrics count the call confirmed.
func TestServeConfirmsPaymentByCall(t *testing.T) {
	for _, p := range []string{"baresip", "espeak-ng"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("MPG_REQUIRE_INTEROP") == "1" {
				t.Fatalf("%s not installed (Debian package %s; .ci/run installs it)", p, p)
			}
			t.Skipf("%s not installed", p)
		}
	}
	phone := startDemoVoice(t.TempDir())
	if phone == nil {
		t.Fatal("baresip did not start")
	}
	t.Cleanup(phone.Stop)
	db, sim, cfg := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop"})
	cfg.Engine.ConfirmAbove = 1000
	cfg.Voice.Trunk, cfg.Voice.RingS, cfg.Voice.KeyS = phone.Trunk(), 10, 15
	_, httpAddr, _ := serveTest(t, db, cfg, nil)
	ctx := context.Background()
	n := 0
	text := func(msg, want string) {
		t.Helper()
		if _, err := sim.SendMO(ctx, demoAlice, "1234", msg); err != nil {
			t.Fatal(err)
		}
		n++
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		got, err := sim.WaitMT(wctx, demoAlice, n)
		if err != nil || !strings.Contains(got[n-1], want) {
			t.Fatalf("%q: %q %v, want %q", msg, got, err, want)
		}
	}
	text("REG 2468 Alice", "Welcome")
	mustRun(t, "--db", db, "account", "topup", demoAlice, "50")
	n++ // the top-up's notice
	text("CONFIRM VOICE 2468", "phone call")
	text("PAY SHOP42 20 2468", "We are calling you to confirm PAY of 20.00 EUR to Corner Shop")
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if out := mustRun(t, "--db", db, "account", "confirm", demoAlice); strings.Contains(out, "last call: answered") {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the call was not answered")
		}
	}
	if err := phone.Key("2468#"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	got, err := sim.WaitMT(wctx, demoAlice, n+1)
	if err != nil || !strings.Contains(got[n], "Paid 20.00 EUR to Corner Shop") {
		t.Fatalf("after the PIN: %q %v", got, err)
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `mpg_voice_calls_total{outcome="confirmed"} 1`) {
		t.Fatalf("metrics:\n%s", metrics)
	}
}
