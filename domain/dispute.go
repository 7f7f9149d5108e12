package domain

import "strings"

// A dispute is a case a payer (or the merchant, or an operator) opens on a payment: the
// merchant answers with evidence or accepts (a refund), an operator decides, a deadline
// decides for him when nobody does. Every move is one ledger job with the record at the
// version read, so two racing moves of one case cannot both happen.
//
//	opened ──> awaiting_merchant ──(evidence, or deadline above the auto amount)──> under_review ──> decided ──> closed
//	               └──(accept, or deadline at or below the auto amount)──────────────────────────────┘
type DisputeState string

const (
	DisputeOpened           DisputeState = "opened"
	DisputeAwaitingMerchant DisputeState = "awaiting_merchant"
	DisputeUnderReview      DisputeState = "under_review"
	DisputeDecided          DisputeState = "decided"
	DisputeClosed           DisputeState = "closed"
)

// Open reports whether the case still stops every other give-back on its payment.
func (s DisputeState) Open() bool {
	return s == DisputeOpened || s == DisputeAwaitingMerchant || s == DisputeUnderReview
}

// Who opened a case.
const (
	OpenerSubscriber = "subscriber"
	OpenerMerchant   = "merchant"
	OpenerOperator   = "operator"
	OpenerSystem     = "system" // a return request declined or unanswered
)

// Kinds of case.
const (
	DisputeGeneral      = "general"
	DisputeMistakenSend = "mistaken_send" // a SEND the payee would not give back: no merchant answers
)

// Dispute is one case.
type Dispute struct {
	ID       string       `json:"id"`
	Payment  string       `json:"payment_id"`
	Merchant uint64       `json:"merchant"` // the account paid (a payee's purse for a SEND)
	Kind     string       `json:"kind"`
	Opener   string       `json:"opener"`
	By       string       `json:"by,omitempty"` // who opened it: a number, a merchant's key, an operator
	MSISDN   string       `json:"msisdn,omitempty"`
	Reason   string       `json:"reason"`
	Amount   uint64       `json:"amount"` // disputed, minor units
	Currency string       `json:"currency"`
	State    DisputeState `json:"state"`
	Deadline int64        `json:"deadline,omitempty"` // the next timed move (unix nanos); 0: none
	Decision *Decision    `json:"decision,omitempty"`
	Evidence string       `json:"evidence,omitempty"` // the merchant's text
	History  []CaseStep   `json:"history"`
	Created  int64        `json:"created"`
	Updated  int64        `json:"updated"`
	// Return is the return request this case came from (a mistaken SEND).
	Return string `json:"return,omitempty"`
}

// Decision is how a case ended: a refund of Refund minor units, or rejected.
type Decision struct {
	Refund   uint64 `json:"refund,omitempty"`
	Rejected bool   `json:"rejected,omitempty"`
	By       string `json:"by"`
	At       int64  `json:"at"`
	RefundID string `json:"refund_id,omitempty"` // the give-back on the payment
}

// CaseStep is one transition of a case.
type CaseStep struct {
	At    int64        `json:"at"`
	Actor string       `json:"actor"`
	State DisputeState `json:"state"`
}

// Limits of cases.
const (
	MaxReasonLen   = 140  // bytes of a reason
	MaxEvidenceLen = 1500 // bytes of the merchant's evidence text
	MaxReturns     = 3    // return requests per payment
)

// Return request states.
const (
	ReturnOpen     = "open"
	ReturnReturned = "returned"
	ReturnDeclined = "declined"
	ReturnExpired  = "expired"
)

// ReturnRequest is a payer's REV of a SEND: a hold on what the payee still has, until he
// answers OK (given back) or NO, or the deadline passes (a case opens).
type ReturnRequest struct {
	ID       string `json:"id"`
	Payment  string `json:"payment_id"`
	Payer    string `json:"payer"` // numbers
	Payee    string `json:"payee"`
	Left     uint64 `json:"left"` // what was left of the payment when asked
	Held     uint64 `json:"held"` // what the hold took (0: the payee had nothing available)
	Hold     string `json:"hold,omitempty"`
	CodeMAC  string `json:"code_mac"`
	State    string `json:"state"`
	Deadline int64  `json:"deadline"`
	Created  int64  `json:"created"`
	Case     string `json:"case,omitempty"`
	Refund   string `json:"refund,omitempty"`
}

// CleanText keeps a free text printable and at most n bytes (a reason, evidence).
func CleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffd:
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xc0) == 0x80 {
		n--
	}
	return s[:n]
}
