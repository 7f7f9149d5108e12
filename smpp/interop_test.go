package smpp

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

const driveSMPP = "/usr/lib/kannel/test/drive_smpp"

// TestInteropKannelDriveSMPP binds our session to Kannel's drive_smpp, an SMPP
// implementation we did not write, acting as the SMSC: it sends N deliver_sm and counts the
// submit_sm it gets back. Our echo handler must answer every MO exactly once.
func TestInteropKannelDriveSMPP(t *testing.T) {
	if _, err := os.Stat(driveSMPP); err != nil {
		if os.Getenv("MPG_REQUIRE_INTEROP") != "" {
			t.Fatalf("%s not installed (Debian package kannel-extras; .ci/run installs it)", driveSMPP)
		}
		t.Skipf("%s not installed (apt-get install kannel-extras)", driveSMPP)
	}
	// drive_smpp also dials 127.0.0.1:13001 as a fake smsbox and dies if nothing listens.
	box, err := net.Listen("tcp", "127.0.0.1:13001")
	if err != nil {
		t.Fatalf("drive_smpp needs 127.0.0.1:13001: %v", err)
	}
	var boxConns sync.WaitGroup
	go func() {
		for {
			c, err := box.Accept()
			if err != nil {
				return
			}
			boxConns.Add(1)
			go func() { defer boxConns.Done(); io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	defer func() { box.Close(); boxConns.Wait() }()

	port := freePort(t)
	const n = 1000
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, driveSMPP, "-p", strconv.Itoa(port), "-m", strconv.Itoa(n), "-v", "1")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	started := time.Now()
	// No probe connection: drive_smpp counts any connection as the ESME and ends when it
	// closes. The client's reconnect backoff covers the moment before it listens.
	cfg := testConfig("127.0.0.1:" + strconv.Itoa(port))
	cfg.Transceiver = false // drive_smpp handles bind_transmitter and bind_receiver only
	cfg.Bind = Bind{SystemID: "foo", Password: "bar", SystemType: "VMA"}
	cfg.Window = 64
	cfg.MaxInflight = 1024 // drive_smpp keeps up to 500 MO unanswered and never redelivers
	cfg.RespTimeout = 5 * time.Second
	var answered sync.Map
	var c *Client
	c = NewClient(cfg, func(ctx context.Context, mo MO) error {
		if _, dup := answered.LoadOrStore(mo.From+"|"+mo.Text, true); dup {
			t.Errorf("MO %q from %s delivered twice", mo.Text, mo.From)
		}
		_, err := c.Submit(ctx, mo.To, mo.From, "echo "+mo.Text, false)
		return err
	}, nil)
	cctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	// When every MO is answered, unbind; drive_smpp then prints its counts and exits.
	for ctx.Err() == nil && c.Metrics.MTOut.Load() < n {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(started)
	stop()
	<-done
	var runErr error
	select {
	case runErr = <-exited:
	case <-time.After(10 * time.Second):
		cancel()
		runErr = <-exited
	}
	log := out.String()
	if runErr != nil {
		t.Logf("drive_smpp: %v", runErr)
	}
	t.Logf("MO in %d, MT out %d, rejected %d in %s (%.0f MO/s)", c.Metrics.MOIn.Load(), c.Metrics.MTOut.Load(),
		c.Metrics.MORejected.Load(), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	t.Log(tail(log, 1500))
	if c.Metrics.MOIn.Load() != n || c.Metrics.MTOut.Load() != n {
		t.Fatalf("want %d MO in and %d MT out; drive_smpp said:\n%s", n, n, tail(log, 2000))
	}
	// drive_smpp's own counts: every deliver_sm it sent, and as many submit_sm back.
	for _, re := range []string{`messages sent to ESME: (\d+)`, `messages sent to SMSC: (\d+)`} {
		m := regexp.MustCompile(re).FindStringSubmatch(log)
		if m == nil || m[1] != strconv.Itoa(n) {
			t.Fatalf("drive_smpp: %q is %v, want %d", re, m, n)
		}
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
