package main

import (
	"context"
	"fmt"

	"mpg/domain"
	"mpg/engine"
	"mpg/ledger"
)

// store is what the daemon and the CLI use of the books: the engine's Ledger and, beside
// it, exactly the methods cmd/mpg calls. Package ledger's is one, on a file or on a
// PostgreSQL database (books.go opens either). What only a ledger kept in one local file
// can do is in bboltFile, asked for where it is needed.
// It is defined here, by its one user, rather than in package ledger: that package cannot
// embed engine.Ledger (the engine's tests import it), and a list of its own would repeat it.
type store interface {
	engine.Ledger

	// Sending the outbox over SMPP (outboxSender, the delivery receipts, /metrics).
	ledger.Outbox

	// The parts of a long SMS until the last arrives (partStore).
	KeepPart(ctx context.Context, p domain.PartWrite) error
	Parts(sender, msg string) ([]ledger.Part, error)
	ReleaseParts(ctx context.Context, sender, msg string) error

	// Operator reads and actions (the ledger, outbox and account commands).
	Accounts(f ledger.Filter) []domain.Account
	Find(ref string) (domain.Account, error)
	AuditLog(limit int, before uint64) ([]ledger.AuditEntry, error)
	Message(id uint64) (domain.Message, error)
	MessageCounts() (map[domain.MessageStatus]int, error)
	Resend(ctx context.Context, id uint64, actor string) (uint64, error)
	Verify(ctx context.Context, progress func(done, total uint64)) (*ledger.Report, error)

	// The keys' check values (keys check, keys rotate, the admin socket's key check).
	CheckKeys(checks []ledger.KeyCheck) error
	KeyChecks() (map[string][]byte, error)
	RotateKeys(ctx context.Context, checks []ledger.KeyCheck, audit domain.Audit) error

	// The daemon's runtime: /readyz, /metrics, shutdown.
	Err() error
	Stats() *ledger.Stats
	Close() error
}

// bboltFile is what only the bbolt ledger has: one local file. Its path names the books in
// messages and the log, the admin socket lives beside it, and a backup copies it whole.
type bboltFile interface {
	Path() string
	BackupFile(path string) (int64, error)
}

var _ interface {
	store
	bboltFile
} = (*ledger.Ledger)(nil)

// fileOf is l's bbolt file, or an error saying that what needs it needs the bbolt ledger.
func fileOf(l store, what string) (bboltFile, error) {
	f, ok := l.(bboltFile)
	if !ok {
		return nil, fmt.Errorf("%s needs the bbolt ledger (one local file)", what)
	}
	return f, nil
}

// where names the books in messages and the log: the bbolt ledger's file.
func where(l store) string {
	if f, ok := l.(bboltFile); ok {
		return f.Path()
	}
	return "the ledger"
}
