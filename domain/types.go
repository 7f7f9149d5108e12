package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// ID is a caller-chosen 128-bit transfer id. The same id with the same body is the same
// transfer (idempotent retry); the same id with another body is refused with ErrIDReused.
type ID [16]byte

var idCounter atomic.Uint64

// NewID returns a time-ordered id: 8 bytes of unix nanoseconds then 8 random-ish bytes.
// Time order matters for speed: the id index is a B+tree, and ids that grow append at its
// right edge instead of rewriting pages all over the file.
func NewID() ID {
	var id ID
	binary.BigEndian.PutUint64(id[:8], uint64(time.Now().UnixNano()))
	if _, err := rand.Read(id[8:]); err != nil {
		binary.BigEndian.PutUint64(id[8:], idCounter.Add(1))
	}
	return id
}

// IsZero reports whether the id is unset.
func (id ID) IsZero() bool { return id == ID{} }

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads the 32 hex digits that String writes.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("transfer id %q: want 32 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}

// Kind says what an account is for.
type Kind uint8

const (
	KindPurse Kind = iota + 1
	KindMerchant
	KindBiller
	KindCreditLine
	KindFloat
	KindFees
	KindEscrow
	KindBankClearing
	// KindCompany is a company's purse (Internet+ Pro): its authorised employees pay
	// merchants from it, each within his own limits.
	KindCompany
	// KindPoints is a member's loyalty points (currency PointsAsset): awarded from the
	// points float (the programme's issuing account), spent back to it, never below zero.
	KindPoints
	// KindPointsExpired is the system account where what is left of an expired lot goes.
	KindPointsExpired
	// KindPromoBudget is a promotion's budget (owner: merchant code/promotion code): the
	// discounts are paid from it, and it never goes below zero, so racing payments cannot
	// spend more than it holds.
	KindPromoBudget
)

// KindSettlement is the system account where a merchant's payout waits between the ledger and
// the bank (in transit): credited when the payout is issued, emptied to bank clearing when the
// bank confirms it, or back to the merchant when the bank rejects it. Its number is fixed, so
// that kinds added beside it elsewhere cannot take it.
const KindSettlement Kind = 32

var kindNames = map[Kind]string{
	KindPurse: "purse", KindMerchant: "merchant", KindBiller: "biller",
	KindCreditLine: "credit_line", KindFloat: "float", KindFees: "fees",
	KindEscrow: "escrow", KindBankClearing: "bank_clearing", KindCompany: "company",
	KindPoints: "points", KindPointsExpired: "points_expired", KindPromoBudget: "promo_budget",
	KindSettlement: "settlement",
}

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool { _, ok := kindNames[k]; return ok }

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind reads a kind name as String writes it.
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if strings.EqualFold(n, s) || (k == KindCreditLine && strings.EqualFold(s, "credit-line")) ||
			(k == KindBankClearing && strings.EqualFold(s, "bank-clearing")) ||
			(k == KindPointsExpired && strings.EqualFold(s, "points-expired")) ||
			(k == KindPromoBudget && strings.EqualFold(s, "promo-budget")) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown account kind %q (purse, merchant, biller, credit_line, float, fees, escrow, bank_clearing, company, points, points_expired, promo_budget)", s)
}

// Status of an account. A blocked account refuses debits but may still receive money
// (a refund must never bounce); a closed account refuses both.
type Status uint8

const (
	StatusActive Status = iota + 1
	StatusBlocked
	StatusClosed
)

func (s Status) String() string {
	switch s {
	case StatusActive:
		return "active"
	case StatusBlocked:
		return "blocked"
	case StatusClosed:
		return "closed"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// AccountFlags are balance constraints checked on every transfer.
type AccountFlags uint8

const (
	// DebitsMustNotExceedCredits: posted+pending debits <= posted credits + Limit.
	// A purse (Limit 0) never goes below zero; a credit line never beyond its limit.
	DebitsMustNotExceedCredits AccountFlags = 1 << iota
	// CreditsMustNotExceedDebits: posted+pending credits <= posted debits + Limit.
	CreditsMustNotExceedDebits
)

// Balances are the four running sums of an account, in minor units.
type Balances struct {
	DebitsPending  uint64 `json:"debits_pending"`
	DebitsPosted   uint64 `json:"debits_posted"`
	CreditsPending uint64 `json:"credits_pending"`
	CreditsPosted  uint64 `json:"credits_posted"`
}

// Available is what a credit-normal account (purse, merchant) can still spend:
// credits posted minus debits posted and pending. It may be negative for debit-normal kinds.
func (b Balances) Available() int64 {
	return int64(b.CreditsPosted) - int64(b.DebitsPosted) - int64(b.DebitsPending)
}

// Debit and Credit are the balance effect of a transfer on its debit and its credit
// account: every ledger's writer, replay and verify use them, so that all agree by
// construction. Overflow was checked when the transfer was accepted.
func (b *Balances) Debit(t *Transfer) { applySide(&b.DebitsPending, &b.DebitsPosted, t) }

// Credit: see Debit.
func (b *Balances) Credit(t *Transfer) { applySide(&b.CreditsPending, &b.CreditsPosted, t) }

// applySide moves one side's pending and posted sums by a transfer: a pending transfer
// adds to pending; a post or void releases the pending amount and posts what it takes.
func applySide(pending, posted *uint64, t *Transfer) {
	switch {
	case t.Flags&Pending != 0:
		*pending += t.Amount
	case t.Flags&(PostPending|VoidPending) != 0:
		*pending -= t.PendingAmount
		*posted += t.Amount
	default:
		*posted += t.Amount
	}
}

// ExpiryID is the id of the void a ledger writes when a pending transfer times out. It is
// derived from the pending id, so that a replayed expiry is the same transfer and every
// ledger (bbolt, PostgreSQL) writes the same one.
func ExpiryID(pending ID) ID {
	h := sha256.Sum256(append([]byte("mpg-expire:"), pending[:]...))
	var id ID
	copy(id[:], h[:16])
	return id
}

// Account is one book in the ledger.
type Account struct {
	ID       uint64       `json:"id"`
	Currency string       `json:"currency"`
	Kind     Kind         `json:"-"`
	Owner    string       `json:"owner"`
	Name     string       `json:"name,omitempty"`
	Phone    string       `json:"phone,omitempty"` // a merchant's number for payment notices
	Tier     uint8        `json:"tier"`
	Status   Status       `json:"-"`
	Flags    AccountFlags `json:"flags"`
	Limit    uint64       `json:"limit"`
	Created  int64        `json:"created_unix_nano"`
	Balances
	// LastSeq is the journal position of the newest entry touching the account; the
	// history is a chain backwards from it.
	LastSeq uint64 `json:"last_seq"`
	// Spends are the purse's debits still inside the rolling 24-hour window (tiered purses).
	Spends []Spend `json:"spends,omitempty"`
}

// AccountSpec asks for a new account. The ledger assigns the id.
type AccountSpec struct {
	Currency string
	Kind     Kind
	Owner    string
	Name     string
	Phone    string
	Tier     uint8
	Limit    uint64 // credit lines only: how far debits may exceed credits
}

// TransferFlags say what a transfer does.
type TransferFlags uint16

const (
	// Pending reserves the amount (pending debit and credit) until posted, voided or expired.
	Pending TransferFlags = 1 << iota
	// PostPending posts a pending transfer, fully (Amount 0) or partly.
	PostPending
	// VoidPending releases a pending transfer.
	VoidPending
	// Linked marks a transfer that is part of a job's chain: it and the others stand or fall together.
	Linked
	// Expired is set by the ledger on the void it writes when a pending transfer times out.
	Expired
	// Exempt marks a debit that is not a subscriber's spend (a fee, a payout on closing, a
	// reversal): the tier's per-payment and 24-hour limits do not apply. Balance rules do.
	Exempt
	// Counted is set by the ledger on a debit it counted against the 24-hour limit, and on the
	// void that released such a reservation, so that replay rebuilds the window exactly.
	Counted
)

func (f TransferFlags) String() string {
	var parts []string
	for _, x := range []struct {
		f TransferFlags
		n string
	}{{Pending, "pending"}, {PostPending, "post"}, {VoidPending, "void"}, {Linked, "linked"}, {Expired, "expired"},
		{Exempt, "exempt"}, {Counted, "counted"}} {
		if f&x.f != 0 {
			parts = append(parts, x.n)
		}
	}
	if len(parts) == 0 {
		return "single"
	}
	return strings.Join(parts, "|")
}

// MaxRefLen bounds the user data a transfer carries (merchant reference, bill account, SMS id).
const MaxRefLen = 64

// Transfer moves Amount minor units from Debit to Credit (same currency).
type Transfer struct {
	ID        ID            `json:"id"`
	Debit     uint64        `json:"debit"`
	Credit    uint64        `json:"credit"`
	Amount    uint64        `json:"amount"`
	PendingID ID            `json:"pending_id"`
	Timeout   time.Duration `json:"timeout"`
	Code      uint16        `json:"code"`
	Flags     TransferFlags `json:"flags"`
	Ref       string        `json:"ref,omitempty"`
	// For names whom a pending transfer holds money for (a payee with no purse yet): the
	// ledger indexes open holds by it (HoldsFor), so a claim finds exactly its own.
	For string `json:"for,omitempty"`

	// Set by the ledger.
	Timestamp     int64  `json:"timestamp"`
	Seq           uint64 `json:"seq"`
	PendingAmount uint64 `json:"pending_amount,omitempty"` // for post/void: the amount that was reserved
	Currency      string `json:"currency"`
}

// Message is one outbound SMS written to the outbox in the same commit as the money.
type Message struct {
	ID   uint64 `json:"id"` // assigned by the ledger
	From string `json:"from"`
	To   string `json:"to"`
	Text string `json:"text"`
	// Sealed is a secret the text stands in for with {secret} (a one-time code), sealed by
	// the caller with a key the ledger never holds: the file never has it in clear. The
	// sender unseals it just before the SMS leaves. At most 128 bytes.
	Sealed  string `json:"-"`
	Created int64  `json:"created"`
	// Set as the message goes out.
	Status   MessageStatus `json:"status"`
	Attempts uint16        `json:"attempts"`
	SMSCID   string        `json:"smsc_id,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	// Urgent messages leave before the others when the outbox is behind. A message written
	// by a job that moves or reserves money is urgent; help and refusals are not.
	Urgent bool `json:"urgent,omitempty"`
	// NextAt is when the sender tries again (unix nanos) after a temporary refusal or an
	// unanswered submit; 0: as soon as it can.
	NextAt int64 `json:"next_at,omitempty"`
	// Unknowns counts the submits that got no answer: the SMSC may have taken them.
	Unknowns uint8 `json:"unknowns,omitempty"`
}

// MessageStatus is where an outbound message is.
type MessageStatus uint8

const (
	MsgQueued MessageStatus = iota + 1
	MsgSent
	MsgFailed
	MsgDelivered
	MsgUndeliverable
	// MsgUnknown: a submit got no answer, so the SMSC may or may not have the message. It is
	// resent with backoff a few times; a late answer or a delivery receipt settles it.
	MsgUnknown
)

// ParseMessageStatus reads a status by its name.
func ParseMessageStatus(name string) (MessageStatus, error) {
	for s := MsgQueued; s <= MsgUnknown; s++ {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown message state %q (queued, sent, failed, delivered, undeliverable, unknown)", name)
}

// Final reports whether nothing more will happen to a message by itself.
func (s MessageStatus) Final() bool { return s != MsgQueued && s != MsgUnknown }

func (s MessageStatus) String() string {
	switch s {
	case MsgQueued:
		return "queued"
	case MsgSent:
		return "sent"
	case MsgFailed:
		return "failed"
	case MsgDelivered:
		return "delivered"
	case MsgUndeliverable:
		return "undeliverable"
	case MsgUnknown:
		return "unknown"
	}
	return fmt.Sprintf("msgstatus(%d)", uint8(s))
}

// Dedupe records that an inbound message was taken, so a redelivered copy moves no money.
// Records live on disk only (an index by key and a time-ordered list for expiry), so the
// window can span the SMSC's redelivery period (hours) without memory growing with it.
type Dedupe struct {
	Key    string        // a keyed MAC of sender and text; at most MaxDedupeKeyLen bytes
	TTL    time.Duration // how long a copy counts as the same message
	Result []byte        // what the caller wants back on a duplicate; at most MaxDedupeResultLen bytes
	// Retry marks the answer to a refusal that moved nothing and whose cause can go away: a
	// later job with the same key is not a duplicate; it runs, and its record replaces this
	// one in the same commit (so of many copies at most one is taken after it).
	Retry bool
}

const (
	MaxDedupeKeyLen    = 128
	MaxDedupeResultLen = 512
)

// Audit is an admin or system action recorded in the hash chain.
type Audit struct {
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Detail string `json:"detail,omitempty"`
}

// StatusChange blocks, unblocks or closes an account.
type StatusChange struct {
	Account uint64
	Status  Status
}

// ErrMessageNotFound is returned for an unknown outbox id or SMSC message id.
var ErrMessageNotFound = fmt.Errorf("message not found")
