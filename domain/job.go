package domain

import "time"

// Limits on one job, so that one caller cannot hold the writer.
const (
	MaxJobTransfers = 64
	MaxJobAccounts  = 64
	MaxJobMessages  = 16
	MaxJobStatus    = 16
	MaxMessageBytes = 1600
	MaxStringLen    = 64   // an owner, a name, a phone number, an audit actor
	MaxAuditLen     = 1024 // an audit entry's detail
)

// Job is one unit of work, applied all or nothing in one commit: accounts opened, status
// changes (a close after the transfers, every other one before), tier changes, transfers (a linked chain: every one or none), the replies to send, the dedupe
// record of the inbound message and an audit entry.
type Job struct {
	Open      []AccountSpec
	Status    []StatusChange
	Tiers     []TierChange
	Limits    []LimitChange // credit lines' limits, set before the transfers
	Transfers []Transfer
	Messages  []Message
	// Compose, if set, runs on the writer after the job's money is applied and returns more
	// messages; it sees balances as they will be after this job (for "new balance" replies).
	// It must be quick and must not call the Ledger. An error refuses the whole job.
	Compose func(v View, r *Result) ([]Message, error)
	Dedupe  *Dedupe
	Audit   *Audit
	// Profiles replaces small records kept per owner for the engine (language, PIN hash,
	// lockout state): written in the same commit as the rest, never in the hash chain.
	Profiles []Profile
	// Part keeps one part of a long inbound SMS; ReleaseParts drops a message's parts.
	Part         *PartWrite
	ReleaseParts *PartWrite
	// NotAfter, if set, is a deadline (unix nanos): the writer refuses the job with
	// ErrPendingExpired when its clock has passed it, so a confirmation that arrives as its
	// payment times out can never move money after the deadline.
	NotAfter int64
	// Guards are the payer's rule book as the writer checks it, before anything of the job
	// applies, against the state of that moment: Active names accounts that must be active
	// (the subscriber's own purse when the money comes from elsewhere: his company's account,
	// his credit line, his bank), Reads names records that must still be at the version the
	// job was computed from (the profile whose lockout was read, a credit line's terms). A
	// blocked or closed account refuses the job with its reason; a changed record with
	// ErrConflict, and the engine computes the step again from the new state.
	Active []uint64
	Reads  []Profile // Owner and Version only
	// Untouched names accounts no transfer may have touched since the job read them (the
	// journal position of their newest entry): for a step computed from a balance, such as a
	// refund split between a credit line and a purse by what the line owes.
	Untouched []AccountAt
	// Facts are what the job's payment steps did, for statistics and fraud counters
	// (fact.go): journaled with the rest, at most MaxFacts.
	Facts []Fact
}

// AccountAt is an account as of its newest journal entry.
type AccountAt struct {
	ID      uint64
	LastSeq uint64
}

// Profile is a small versioned record the engine keeps in the books: a subscriber's profile
// (keyed by the number), and, under keys beginning with '@', the records of the payment state
// machine (payments, their indexes, idempotency keys, merchant settings, API key hashes,
// webhook deliveries). Data is opaque to the ledger and at most MaxProfileLen. A write names
// the Version it was computed from (0: there was none); if the record changed since, the job
// is refused with ErrConflict, so no write is ever based on a stale read and two racing
// transitions of one payment cannot both happen. Delete removes the record (an index entry).
type Profile struct {
	Owner   string
	Data    []byte
	Version uint64
	Delete  bool
}

// RawRecord begins a record whose value is binary and names nobody: the ledger keeps it as
// it is, never looking in it for phone numbers to file under their parties (a JSON value
// never begins with it).
const RawRecord byte = 0

// MaxProfileScan bounds the records one read of a key range returns.
const MaxProfileScan = 1000

// MaxProfileLen bounds one profile record.
const MaxProfileLen = 4096

// Result is what a committed job did.
type Result struct {
	Accounts  []Account  // opened
	Transfers []Transfer // as stored (with Seq, Timestamp); an idempotent retry returns the first
	Existed   []bool     // per transfer: true when it was already in the ledger
	Messages  []uint64   // outbox ids
	Seq       uint64     // journal position of the job's last entry
}

// View lets Compose read balances on the writer while a job is applied.
type View interface {
	Account(id uint64) (Account, bool)
}

// ExpiryHook composes the messages that go out, in the same commit, when the ledger voids a
// pending transfer that timed out (the refund notices of an unclaimed payment). It runs on
// the writer: it must be quick and must not call the Ledger.
type ExpiryHook func(pending Transfer, v View) []Message

// PartWrite keeps one part of a long SMS.
type PartWrite struct {
	Sender string // who sent it: the per-sender cap counts by it
	Msg    string // which message of theirs (reference and part count)
	Seq    uint8
	Coding uint8
	Data   []byte
	TTL    time.Duration // how long an incomplete message is kept
}
