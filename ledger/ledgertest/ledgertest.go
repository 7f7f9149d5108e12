// Package ledgertest is the conformance suite of mpg's ledgers: the same tests of the money
// rules (alone and under concurrency), idempotency, pending/post/void and expiry, holds,
// dedupe, the outbox, long-SMS parts, payment records, the hash chain and Verify, run
// against every ledger implementation (the bbolt file today, PostgreSQL next). An
// implementation runs them all with
//
//	func TestConformance(t *testing.T) { ledgertest.Run(t, open) }
//
// where open makes a new, empty ledger for one test. Tests that look inside one
// implementation (file bytes, buckets, locks) stay with it.
package ledgertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"mpg/domain"
	"mpg/ledger"
)

// Ledger is what the suite asks of a ledger: the engine's books, the outbox and the parts
// of long messages, Verify, the counters and Close.
//
// ledger.Report, ledger.Filter, ledger.Part, ledger.Retry and ledger.Stats are the bbolt
// package's types for now; another ledger returns the same ones. They may move to domain.
type Ledger interface {
	Submit(ctx context.Context, job domain.Job) (domain.Result, error)
	Account(id uint64) (domain.Account, error)
	Accounts(f ledger.Filter) []domain.Account
	System(kind domain.Kind, currency string) (domain.Account, error)
	History(account uint64, limit int, before uint64) ([]domain.Transfer, error)
	Transfer(id domain.ID) (domain.Transfer, error)
	TransferAt(seq uint64) (domain.Transfer, error)
	HoldsFor(owner string) ([]domain.Transfer, error)
	Profile(owner string) ([]byte, uint64, error)
	Head() (uint64, string, error)
	EntryHash(seq uint64) (string, error)

	Messages(limit int, before uint64, state domain.MessageStatus) ([]domain.Message, error)
	Message(id uint64) (domain.Message, error)
	MessageCounts() (map[domain.MessageStatus]int, error)
	Unsent() (int, error)
	ledger.Outbox

	KeepPart(ctx context.Context, p domain.PartWrite) error
	Parts(sender, msg string) ([]ledger.Part, error)
	ReleaseParts(ctx context.Context, sender, msg string) error

	Verify(ctx context.Context, progress func(done, total uint64)) (*ledger.Report, error)
	Stats() *ledger.Stats
	Close() error
}

// Config is what a test asks of the ledger it opens. Zero values take the implementation's
// defaults.
type Config struct {
	Now             func() time.Time // the clock; tests move it
	Tiers           map[uint8]domain.TierLimits
	ExpiryEvery     time.Duration // how often expired pendings, dedupe keys, parts and old messages are swept
	OutboxRetention time.Duration
	Tuning          Tuning
}

// Tuning are hints for how a ledger keeps its state; an implementation without the notion
// ignores them. The tests that set them want the ledger's internal snapshots written often
// (so that a reopen exercises the replay), or rarely (so that a copy replays much).
type Tuning struct {
	MaxBatchJobs    int
	CheckpointEvery time.Duration
	CheckpointChunk int
	NoSync          bool // the test does not care about durability across a power cut
}

// Opener makes a new, empty ledger for one test, closed at the test's end, and the Store
// it keeps its books in.
type Opener func(t testing.TB, c Config) (Ledger, Store)

// Store opens the books a ledger keeps again.
type Store struct {
	// Reopen opens the same books after the test closed the ledger, as after a restart.
	Reopen func(t testing.TB, c Config) Ledger
	// Copy copies the books while l serves and opens the copy, as an operator restoring a
	// backup would (bbolt: BackupFile). Nil where the copy is taken outside mpg (PostgreSQL:
	// pg_dump); the steps that need it are then skipped.
	Copy func(t testing.TB, l Ledger, c Config) Ledger
	// Another opens a second ledger on the same books while the first serves, as a second
	// daemon would. Nil where the books are one process's alone (bbolt); the tests of
	// shared books are then skipped.
	Another func(t testing.TB, c Config) Ledger
}

// Run runs the whole suite against the ledgers open makes, one subtest a test.
func Run(t *testing.T, open Opener) {
	for _, c := range []struct {
		name string
		test func(*testing.T, Opener)
	}{
		{"TransferRulesAndRefusals", TransferRulesAndRefusals},
		{"LinkedChainAllOrNothing", LinkedChainAllOrNothing},
		{"PendingPostVoidExpiry", PendingPostVoidExpiry},
		{"HistoryAndReopen", HistoryAndReopen},
		{"ProfilesAndTransferAt", ProfilesAndTransferAt},
		{"EntryHashAndHead", EntryHashAndHead},
		{"CreditLineLimitsChangeButNeverBelowWhatIsOwed", CreditLineLimitsChangeButNeverBelowWhatIsOwed},
		{"ConcurrentSubmitters", ConcurrentSubmitters},
		{"MaxBalanceHeldUnderConcurrentCredits", MaxBalanceHeldUnderConcurrentCredits},
		{"DailyAndPerPaymentLimitsUnderConcurrentDebits", DailyAndPerPaymentLimitsUnderConcurrentDebits},
		{"ReservationCountsUntilReleased", ReservationCountsUntilReleased},
		{"HoldsIndexedByPayee", HoldsIndexedByPayee},
		{"TierThatMayNotSend", TierThatMayNotSend},
		{"TierChangeAndSystemAccounts", TierChangeAndSystemAccounts},
		{"DedupeAndOutbox", DedupeAndOutbox},
		{"DedupeOnDisk", DedupeOnDisk},
		{"MessagesPageNewestFirst", MessagesPageNewestFirst},
		{"OutboxUrgentFirst", OutboxUrgentFirst},
		{"OutboxRetryTimes", OutboxRetryTimes},
		{"OutboxUnknown", OutboxUnknown},
		{"OutboxEarlyReceipt", OutboxEarlyReceipt},
		{"OutboxPrune", OutboxPrune},
		{"PartsOfLongMessagesAreDurableCappedAndSwept", PartsOfLongMessagesAreDurableCappedAndSwept},
		{"PropertyLedgerAgreesWithModel", PropertyLedgerAgreesWithModel},
		{"PropertyTierRulesAgreeWithModel", PropertyTierRulesAgreeWithModel},
		{"SharedRulesAcrossDaemons", SharedRulesAcrossDaemons},
		{"SharedDedupeAcrossDaemons", SharedDedupeAcrossDaemons},
		{"SharedPendingAcrossDaemons", SharedPendingAcrossDaemons},
		{"SharedAccountsOnEitherDaemon", SharedAccountsOnEitherDaemon},
		{"SharedOutboxOneSender", SharedOutboxOneSender},
		{"JournalForFollowers", JournalForFollowers},
		{"RawRecordsKeptAsTheyAre", RawRecordsKeptAsTheyAre},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, open) })
	}
}

// mustOpen opens accounts in one job and returns them.
func mustOpen(t testing.TB, l Ledger, specs ...domain.AccountSpec) []domain.Account {
	t.Helper()
	return mustSubmit(t, l, domain.Job{Open: specs}).Accounts
}

func mustSubmit(t testing.TB, l Ledger, job domain.Job) domain.Result {
	t.Helper()
	res, err := l.Submit(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// mustVerify fails the test unless Verify finds the books whole.
func mustVerify(t testing.TB, l Ledger) *ledger.Report {
	t.Helper()
	rep, err := l.Verify(context.Background(), nil)
	if err == nil && !rep.OK() {
		err = errors.New(rep.Problem)
	}
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func transfer(dr, cr, amount uint64) domain.Transfer {
	return domain.Transfer{ID: domain.NewID(), Debit: dr, Credit: cr, Amount: amount}
}
