package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"mpg/config"
	"mpg/ledger"
	"mpg/smpp"
)

// The crash tests run the daemon as a child process (this test binary running one of the
// TestCrash…Child tests) so that they can SIGKILL it.

// serveUntilKilled is a child's body: the daemon on db with cfg, until SIGKILL.
func serveUntilKilled(db string, cfg config.Config) {
	a := &app{cfg: cfg, log: zap.NewNop()}
	l, err := ledger.Open(db, a.daemonLedgerOptions(cfg))
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	d, err := newDaemon(cfg, l, zap.NewNop())
	if err != nil {
		fmt.Println("daemon:", err)
		os.Exit(3)
	}
	d.run(context.Background(), nil)
}

// startChild starts the child test named, with env, and waits until it is bound to sim.
func startChild(t *testing.T, name string, sim *smpp.Sim, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); sim.Bound() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("daemon did not bind")
		}
	}
	return cmd
}

// killChild SIGKILLs the child and waits until the simulator sees it gone.
func killChild(cmd *exec.Cmd, sim *smpp.Sim) {
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for deadline := time.Now().Add(5 * time.Second); sim.Bound() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// serveDaemon opens db as the daemon does and starts the daemon in this process; both end
// with the test.
func serveDaemon(t *testing.T, db string, cfg config.Config) (*ledger.Ledger, *daemon) {
	t.Helper()
	a := &app{cfg: cfg, log: zap.NewNop()}
	l, err := ledger.Open(db, a.daemonLedgerOptions(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	d, _, stop, err := startDaemon(context.Background(), cfg, l, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop() })
	return l, d
}
