package domain

// A fact is what one step of a payment did, written by the engine in the step's own job and
// kept in the journal's hash chain beside its transfers: a payment completed, refused, held
// for review or given back, a wrong PIN. Statistics, members' scores and the fraud rules'
// counters are all computed from the journal's facts by a follower, never by the payment
// path, so they can be rebuilt from scratch and always agree with the books.
//
// A fact names accounts, never people: the payer is his purse's account id.
type Fact struct {
	Kind    FactKind
	Product string // ProductPay...
	Channel string // ChannelSMS...
	// Payer is the purse of the person who paid or tried to (0: none, e.g. a company pays
	// for an employee with no purse); Payee the account paid (merchant, biller, purse).
	Payer, Payee uint64
	Amount       uint64 // minor units: what moved (paid, held, given back, or asked for when refused)
	Fee          uint64
	Reason       string // a Reason* when refused
	Earned       uint64 // loyalty points earned (FactPaid) or taken back (FactRefund)
	Spent        uint64 // loyalty points spent (FactPaid) or given back (FactRefund)
	Promo        string // the promotion whose discount the payment had
	Discount     uint64 // minor units the promotion's budget paid
	// Local is the payer's local hour of the day (0-23), for rules about night-time; 255 unknown.
	Local uint8
}

// FactKind says what a fact records.
type FactKind uint8

const (
	FactPaid     FactKind = 1 // a payment completed: Amount reached the payee
	FactRefused  FactKind = 2 // a payment refused, with its Reason: nothing moved
	FactRefund   FactKind = 3 // money given back on a payment (refund, reversal, dispute, return)
	FactHeld     FactKind = 4 // a payment held for a fraud review: reserved, not paid
	FactWrongPIN FactKind = 5 // a wrong PIN or confirmation code (Payer tried)
	FactPINReset FactKind = 6 // an operator reset the payer's PIN
	// FactReply: an SMS mpg sent changed state at the SMSC; Reason is one of the Reply*.
	// Written by the ledger in the outbox update itself, so every reply, notice and marketing
	// SMS counts once, whichever daemon sent it. Product is ProductReply, no payer or payee.
	FactReply FactKind = 7
)

// ProductReply is the product of reply facts: the SMS mpg sends, not a payment.
const ProductReply = "reply"

// How an SMS mpg sent fared, as reply facts count it.
const (
	ReplySent          = "sent"          // the SMSC took it (submit_sm_resp with status 0)
	ReplyDelivered     = "delivered"     // a delivery receipt said it reached the phone
	ReplyUndeliverable = "undeliverable" // a delivery receipt said it never will
	ReplyFailed        = "failed"        // the SMSC refused it for good, or retries ran out
)

// ReplyFacts are the facts an SMS's move from status old to now records: each state reached
// for the first time counts once (a receipt that came before its submit was recorded
// counts the send as well), a repeated receipt or a late answer counts nothing.
func ReplyFacts(old, now MessageStatus) []Fact {
	if old == now {
		return nil
	}
	var reasons []string
	atSMSC := func(s MessageStatus) bool { return s == MsgSent || s == MsgDelivered || s == MsgUndeliverable }
	if atSMSC(now) && !atSMSC(old) {
		reasons = append(reasons, ReplySent)
	}
	switch {
	case (now == MsgDelivered || now == MsgUndeliverable) && old != MsgDelivered && old != MsgUndeliverable:
		reasons = append(reasons, now.String())
	case now == MsgFailed:
		reasons = append(reasons, ReplyFailed)
	}
	facts := make([]Fact, len(reasons))
	for i, r := range reasons {
		facts[i] = Fact{Kind: FactReply, Product: ProductReply, Channel: ChannelSMS, Reason: r, Local: 255}
	}
	return facts
}

// Why a payment was refused, as statistics count them.
const (
	ReasonFunds    = "funds"         // not enough money
	ReasonPIN      = "pin"           // a wrong PIN or code, or locked after them
	ReasonLimit    = "limit"         // a tier or credit limit
	ReasonBlocked  = "blocked"       // the account blocked, closed or frozen
	ReasonFraud    = "fraud"         // a fraud rule declined it
	ReasonBank     = "bank_declined" // the bank said no or did not answer
	ReasonExpired  = "expired"       // nobody confirmed it in time
	ReasonDeclined = "declined"      // the payer said NO, or the merchant cancelled
	ReasonOther    = "other"
)

// MaxFacts bounds the facts of one job (a wrong code refusing every request a number has
// waiting writes one for each, and one for the code).
const MaxFacts = 16

// JournalEntry is one entry of the journal as a follower reads it: exactly one of its parts
// is set (entries of other kinds are skipped, their positions still counted).
type JournalEntry struct {
	Seq  uint64
	Time int64 // unix nanos
	// Transfer moved money; Fact recorded a step; Opened is an account opened; Tier a
	// purse's new KYC tier (Account and Tier set).
	Transfer *Transfer
	Fact     *Fact
	Opened   *Account
	Tier     *TierChange
}
