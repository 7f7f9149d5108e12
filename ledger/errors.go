package ledger

import (
	"errors"
	"fmt"

	"mpg/domain"
)

// The ledger's own failures; refusals of a job are domain.Reason.
var (
	// ErrClosed is returned for work submitted after Close.
	ErrClosed = errors.New("ledger is closed")
	// ErrFailed is returned after a write to the file failed: the in-memory state may be ahead
	// of the disk, so the ledger stops taking work until it is reopened from the file.
	ErrFailed = errors.New("ledger stopped after a write error; reopen it")
	// ErrSchema is returned when the file's schema version is not one this mpg knows.
	ErrSchema = errors.New("unknown ledger schema version")
	// ErrNotLedger is returned when the file is a bbolt file but not an mpg ledger.
	ErrNotLedger = errors.New("not an mpg ledger file (run `mpg ledger init`)")
	// ErrInUse is returned when another process holds the file.
	ErrInUse = errors.New("database is in use by another mpg process")
)

func refuse(r domain.Reason, index int, format string, args ...any) *domain.RefusedError {
	return &domain.RefusedError{Reason: r, Index: index, Detail: fmt.Sprintf(format, args...)}
}
