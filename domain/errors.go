package domain

import (
	"fmt"
)

// Reason is why the ledger refused a job. Every refusal has one; callers match it with
// errors.Is(err, domain.ErrInsufficientFunds) and the like.
type Reason uint8

const (
	ErrInsufficientFunds Reason = iota + 1
	ErrLimitExceeded
	ErrAccountBlocked
	ErrAccountClosed
	ErrCurrencyMismatch
	ErrSameAccount
	ErrAccountNotFound
	ErrAccountExists
	ErrZeroAmount
	ErrOverflow
	ErrIDReused
	ErrZeroID
	ErrPendingNotFound
	ErrPendingResolved
	ErrPendingExpired
	ErrAmountExceedsPending
	ErrInvalid
	ErrDuplicate
	ErrJobTooLarge
	ErrLimitPerPayment // above the tier's per-payment limit (Room: the limit)
	ErrLimitDaily      // above what is left of the rolling 24-hour limit (Room: what is left)
	ErrLimitBalance    // the payee's purse would hold more than its tier allows (Room: what fits)
	ErrTooManyHolds    // too many payments already held for this payee
	ErrConflict        // a profile changed since the caller read it: read again and retry
	ErrTierCannotSend  // the purse's tier may not pay other people
)

var reasonText = map[Reason]string{
	ErrInsufficientFunds:    "insufficient funds",
	ErrLimitExceeded:        "limit exceeded",
	ErrAccountBlocked:       "account blocked",
	ErrAccountClosed:        "account closed",
	ErrCurrencyMismatch:     "currency mismatch",
	ErrSameAccount:          "debit and credit are the same account",
	ErrAccountNotFound:      "account not found",
	ErrAccountExists:        "account already exists",
	ErrZeroAmount:           "amount must be positive",
	ErrOverflow:             "amount overflows the balance",
	ErrIDReused:             "transfer id already used with a different body",
	ErrZeroID:               "transfer id must not be zero",
	ErrPendingNotFound:      "pending transfer not found",
	ErrPendingResolved:      "pending transfer already posted or voided",
	ErrPendingExpired:       "pending transfer expired",
	ErrAmountExceedsPending: "amount exceeds the pending amount",
	ErrInvalid:              "invalid request",
	ErrDuplicate:            "duplicate message",
	ErrJobTooLarge:          "job too large",
	ErrLimitPerPayment:      "above the per-payment limit",
	ErrLimitDaily:           "above the 24-hour limit",
	ErrLimitBalance:         "above the maximum balance",
	ErrTooManyHolds:         "too many payments held for this payee",
	ErrConflict:             "changed meanwhile",
	ErrTierCannotSend:       "the purse's tier may not send to people",
}

func (r Reason) Error() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("refused (%d)", uint8(r))
}

// RefusedError says which part of a job was refused and why. Nothing of the job was applied.
type RefusedError struct {
	Reason Reason
	Index  int    // index of the transfer (or account spec) in the job; -1 for the job itself
	Detail string // precise, for logs and the CLI; never carries secrets
	// Room is, for a limit refusal, what would still have been accepted (minor units).
	Room uint64
}

func (e *RefusedError) Error() string {
	if e.Detail == "" {
		return e.Reason.Error()
	}
	return e.Reason.Error() + ": " + e.Detail
}

func (e *RefusedError) Unwrap() error { return e.Reason }

// DuplicateError is returned when a job's dedupe key was already taken inside its window.
// Result is what the first job stored; nothing moved the second time.
type DuplicateError struct {
	Key    string
	Result []byte
	At     int64 // when the first was taken (unix nanos)
}

func (e *DuplicateError) Error() string { return "duplicate message " + e.Key }
func (e *DuplicateError) Unwrap() error { return ErrDuplicate }
