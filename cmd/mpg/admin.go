package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"mpg/config"
	"mpg/engine"
)

// The admin socket lets `mpg ledger|account|merchant …` work while `mpg serve` holds the
// file: the CLI sends its arguments over a unix socket beside the ledger file (mode 0600,
// so only the daemon's user can use it), the daemon runs the same command against its open
// ledger and sends back the output and the exit status.

// adminCommands are the commands the daemon runs for the CLI.
var adminCommands = map[string]bool{"ledger": true, "account": true, "merchant": true, "outbox": true, "payment": true, "webhook": true, "company": true, "credit": true, "subscriber": true,
	"dispute": true, "promo": true, "campaign": true, "fraud": true, "stats": true, "console": true, "settle": true}

// forwarded says whether a command (its words after mpg) runs in the daemon when it runs.
// `mpg bank` is the bank simulator; only its reconcile reads the ledger.
// `mpg keys check` asks the daemon; `mpg keys rotate` never runs in it (the daemon keeps the
// keys it started with).
func forwarded(args []string) bool {
	sub := func(cmd, name string) bool { return args[0] == cmd && len(args) > 1 && args[1] == name }
	return len(args) > 0 && (adminCommands[args[0]] || sub("bank", "reconcile") || sub("keys", "check"))
}

type adminRequest struct {
	Args []string `json:"args"`
	// Keys are the check values of the CLI's own keys (never the keys): a CLI with another
	// key than the ledger's is refused here as it would be opening the file itself.
	Keys []keyAtHand `json:"keys,omitempty"`
}

type adminResponse struct {
	Output string `json:"output"`
	Error  string `json:"error,omitempty"`
	Code   int    `json:"code"`
}

// forwardedError ends a CLI run whose command the daemon executed; main exits with Code.
type forwardedError struct{ code int }

func (e *forwardedError) Error() string { return "" }

// forward sends the command to a running daemon, if there is one. ok is false when no
// daemon listens, and the CLI then opens the file itself.
func (a *app) forward(cmd *cobra.Command, args []string) (bool, error) {
	top := cmd
	for top.HasParent() && top.Parent().HasParent() {
		top = top.Parent()
	}
	if !forwarded(strings.Fields(cmd.CommandPath())[1:]) || a.shared != nil {
		return false, nil
	}
	c, err := net.DialTimeout("unix", adminSocket(a.cfg, a.dbPath), time.Second)
	if err != nil {
		return false, nil
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute)) // verify of a large file takes a while
	if (cmd.Name() == "backup" || cmd.Name() == "reconcile" || cmd.Name() == "confirm" && top.Name() == "settle") && len(args) == 1 {
		if abs, err := filepath.Abs(args[0]); err == nil {
			args = []string{abs} // the daemon runs elsewhere: the file is where the user meant
		}
	}
	if f := cmd.Flags().Lookup("out"); f != nil && f.Changed {
		if abs, err := filepath.Abs(f.Value.String()); err == nil {
			f.Value.Set(abs)
		}
	}
	full := append(strings.Fields(cmd.CommandPath())[1:], args...)
	full = append(full, flagArgs(cmd)...)
	if err := json.NewEncoder(c).Encode(adminRequest{Args: full, Keys: keysAtHand(a.cfg)}); err != nil {
		return true, fmt.Errorf("admin socket: %w", err)
	}
	var resp adminResponse
	if err := json.NewDecoder(io.LimitReader(c, 64<<20)).Decode(&resp); err != nil {
		return true, fmt.Errorf("admin socket: %w", err)
	}
	io.WriteString(cmd.OutOrStdout(), resp.Output)
	if resp.Error != "" {
		return true, &exitError{code: max(1, resp.Code), msg: resp.Error}
	}
	return true, nil
}

// flagArgs are the command's own flags the user set, as --name=value (the global ones are
// the daemon's business: its file, its config, its logs).
func flagArgs(cmd *cobra.Command) []string {
	var out []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if cmd.Root().PersistentFlags().Lookup(f.Name) == nil {
			out = append(out, "--"+f.Name+"="+f.Value.String())
		}
	})
	return out
}

// serveAdmin answers CLI requests on the socket until ctx ends.
func serveAdmin(ctx context.Context, cfg config.Config, l store, eng *engine.Engine, log *zap.Logger) (func(), error) {
	// The CLI finds the socket where its configuration says (beside the file its --db names).
	path := adminSocket(cfg, where(l))
	os.Remove(path) // a socket left by a daemon that was killed
	// The socket is created 0600 (umask set around the bind, so there is no moment when it
	// is open to others), and every peer is checked by uid when it connects.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handleAdmin(ctx, c, cfg, l, eng, log)
		}
	}()
	return func() { ln.Close(); <-done; os.Remove(path) }, nil
}

func handleAdmin(ctx context.Context, c net.Conn, cfg config.Config, l store, eng *engine.Engine, log *zap.Logger) {
	defer c.Close()
	operator, err := peerOperator(c)
	if err != nil {
		log.Warn("admin socket: peer refused", zap.Error(err))
		json.NewEncoder(c).Encode(adminResponse{Error: "admin socket: " + err.Error(), Code: 1})
		return
	}
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	var req adminRequest
	if err := json.NewDecoder(io.LimitReader(c, 64<<10)).Decode(&req); err != nil || len(req.Args) == 0 || !forwarded(req.Args) {
		json.NewEncoder(c).Encode(adminResponse{Error: "admin socket: only the admin commands (ledger, account, merchant, outbox, payment, webhook, company, credit, subscriber, dispute, promo, campaign, fraud, stats, console, settle, bank reconcile, keys check)", Code: 1})
		return
	}
	if err := clientKeysRefused(l, req.Keys); err != nil {
		log.Warn("admin command refused: the CLI has another key", zap.String("operator", operator), zap.Strings("args", maskArgs(req.Args)), zap.Error(err))
		json.NewEncoder(c).Encode(adminResponse{Error: err.Error(), Code: 1})
		return
	}
	a := &app{cfg: cfg, log: log.Named("admin"), shared: l, eng: eng, operator: operator, dbPath: where(l), clientKeys: req.Keys}
	root := a.rootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(req.Args)
	root.SetContext(ctx)
	err = root.Execute()
	resp := adminResponse{Output: out.String()}
	if err != nil {
		resp.Error, resp.Code = err.Error(), exitCode(err)
	}
	log.Info("admin command", zap.String("operator", operator), zap.Strings("args", maskArgs(req.Args)), zap.Int("code", resp.Code))
	json.NewEncoder(c).Encode(resp)
}

// peerOperator names the process at the other end of the admin socket by its uid, as the
// kernel reports it (SO_PEERCRED): the audit trail never takes the client's word for it.
func peerOperator(c net.Conn) (string, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return "", errors.New("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return "", err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return "", err
	}
	if cerr != nil {
		return "", fmt.Errorf("peer credentials: %w", cerr)
	}
	// Only the daemon's own user (and root) may run commands in it.
	if int(cred.Uid) != os.Getuid() && cred.Uid != 0 {
		return "", fmt.Errorf("uid %d may not use this daemon's socket (it runs as uid %d)", cred.Uid, os.Getuid())
	}
	return operatorName("socket", int(cred.Uid)), nil
}

var errInit = errors.New("the daemon holds this file: `ledger init` makes a new file, stop the daemon or use another --db")
