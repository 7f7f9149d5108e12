package domain

import "errors"

// A payment is what a merchant asks a subscriber to pay, by SMS (a request to pay) or on
// the hosted web checkout. It is one durable record moving through explicit states; every
// move is one ledger job (the record, the money, the replies, the webhook event and the
// audit entry together), so the SMS path, the merchant API and the checkout page cannot
// disagree on what happened.
//
//	created ──(buyer's number)──> awaiting_confirmation ──(code / YES)──> completed ──> partially_refunded ──> refunded
//	   │                               │                                       └──────────────────────────────────┘
//	   └──> cancelled | expired        └──> refused | cancelled | expired
type PaymentState string

const (
	PaymentCreated           PaymentState = "created"               // a checkout waiting for the buyer's number
	PaymentAwaiting          PaymentState = "awaiting_confirmation" // a code was sent; YES <code> or the page confirms
	PaymentCompleted         PaymentState = "completed"
	PaymentRefused           PaymentState = "refused" // the money rules said no, the subscriber said NO, or 3 wrong codes
	PaymentExpired           PaymentState = "expired"
	PaymentCancelled         PaymentState = "cancelled"
	PaymentPartiallyRefunded PaymentState = "partially_refunded"
	PaymentRefunded          PaymentState = "refunded"
	// PaymentSentToBank: an mDebit the subscriber confirmed; the bank was or is being
	// asked. Until it answers for sure the outcome is unknown, and no clock ends it: it is
	// resolved by asking the bank again with the same key, or by a reversal.
	PaymentSentToBank PaymentState = "sent_to_bank"
	// PaymentAuthorised: an mCredit hold on the subscriber's credit line, until the merchant
	// captures it (completed), voids it (cancelled) or it expires.
	PaymentAuthorised PaymentState = "authorised"
	// PaymentHeld: a SEND to a number with no purse yet; the money waits in escrow until the
	// payee registers and claims it (completed), or the claim window ends (expired: the
	// ledger gives it back to the payer).
	PaymentHeld PaymentState = "held"
	// PaymentInReview: the fraud rules held the payment for an operator's review. The
	// money is reserved (a pending transfer); release pays it (completed), decline or the
	// review's deadline gives it back (refused, expired).
	PaymentInReview PaymentState = "in_review"
)

// Open reports whether the payment can still be confirmed, cancelled or expire.
func (s PaymentState) Open() bool {
	return s == PaymentCreated || s == PaymentAwaiting || s == PaymentHeld || s == PaymentInReview
}

// Refundable reports whether money was paid that can go back.
func (s PaymentState) Refundable() bool {
	return s == PaymentCompleted || s == PaymentPartiallyRefunded
}

// Channels a payment is confirmed on.
const (
	ChannelSMS = "sms" // a texted command, or a request to pay the subscriber answers YES <code> by SMS
	ChannelWeb = "web" // a checkout: the buyer types the texted code on the hosted page
	// ChannelBank is an mDebit: confirmed by YES <code>, paid by the subscriber's bank.
	ChannelBank = "bank"
	// ChannelCredit is an mCredit authorisation on a credit line.
	ChannelCredit = "credit"
	// ChannelOperator is a payment an operator made (a cash-in at the counter).
	ChannelOperator = "operator"
)

// Products: what a payment is, whatever channel started or confirmed it. Every money
// movement a person starts is a payment record with one of them.
const (
	ProductPay    = "pay"    // mPurse: a merchant paid from a purse (a texted PAY, a request, a checkout)
	ProductBill   = "bill"   // mPurse: a biller paid from a purse
	ProductSend   = "send"   // mP2P: a purse paid another purse
	ProductDebit  = "debit"  // mDebit: a merchant paid from a bank account
	ProductCredit = "credit" // mCredit: a merchant paid on a credit line
	ProductRepay  = "repay"  // a credit line repaid from the purse
	ProductTopup  = "topup"  // cash-in: a purse credited from the float
)

// Payment is the record of one payment.
type Payment struct {
	ID string `json:"id"`
	// Product is what the payment is (ProductPay...); "" in records written before products
	// existed, which were all merchants' payments of their channel.
	Product string `json:"product,omitempty"`
	// Merchant is the account paid: a merchant's, a biller's, the payee's purse (send,
	// topup) or the credit line (repay). Its list of payments is indexed by it.
	Merchant     uint64 `json:"merchant"`
	MerchantName string `json:"merchant_name"`
	Channel      string `json:"channel"`
	// Requested: the merchant asked this number to pay (the API); it knows the number.
	Requested   bool         `json:"requested,omitempty"`
	MSISDN      string       `json:"msisdn,omitempty"` // the payer, once known
	Amount      uint64       `json:"amount"`           // minor units
	Fee         uint64       `json:"fee,omitempty"`    // paid by the subscriber on completion
	Currency    string       `json:"currency"`
	Reference   string       `json:"reference"`
	Description string       `json:"description,omitempty"`
	ReturnURL   string       `json:"return_url,omitempty"`
	State       PaymentState `json:"state"`
	Reason      string       `json:"reason,omitempty"` // an ErrorCode when refused or cancelled
	Created     int64        `json:"created"`          // unix nanos
	Updated     int64        `json:"updated"`
	Expires     int64        `json:"expires"`
	// Deadline is when the payment is due to expire in the engine's index of open payments
	// (where its entry is filed); 0 once it cannot expire, or in records from before.
	Deadline int64 `json:"deadline,omitempty"`
	// CodeMAC is the HMAC of the one-time code, bound to the payment and the number; the
	// code itself is never stored.
	CodeMAC   string `json:"code_mac,omitempty"`
	Tries     int    `json:"tries,omitempty"`      // wrong codes so far
	CodesSent int    `json:"codes_sent,omitempty"` // codes texted for this payment
	Transfer  string `json:"transfer,omitempty"`   // the completed payment's transfer id
	Debited   uint64 `json:"debited,omitempty"`    // the account that paid: refunds go back there
	// Payer is the company account an employee pays on (Internet+ Pro); 0: his own purse.
	Payer    uint64 `json:"payer,omitempty"`
	Refunded uint64 `json:"refunded,omitempty"`
	// Counted is how much of Refunded the journal's facts have told (facts.go), so that a
	// refund is counted by statistics exactly once.
	Counted uint64   `json:"counted,omitempty"`
	Refunds []Refund `json:"refunds,omitempty"`
	// Bank is the state of an mDebit's request to the bank.
	Bank *BankState `json:"bank,omitempty"`
	// Dispute is the case open on the payment (while it is open nothing else is given back);
	// Return the payer's return request waiting for the payee (a SEND); Returns counts them.
	Dispute string `json:"dispute,omitempty"`
	Return  string `json:"return,omitempty"`
	Returns int    `json:"returns,omitempty"`
	// Checkout is what the hosted checkout page saw of the buyer's browser (web payments).
	Checkout *CheckoutSeen `json:"checkout,omitempty"`
	// Points are the loyalty points the payment earned and spent, and what refunds did to them.
	Points *PaymentPoints `json:"points,omitempty"`
	// Discount is the promotion that took part of the price: Amount is what the buyer paid,
	// Discount.Amount what the promotion's budget paid the merchant beside it.
	Discount *PaymentDiscount `json:"discount,omitempty"`
}

// PaymentDiscount is a promotion's part of a payment.
type PaymentDiscount struct {
	Promotion string `json:"promotion"` // its code
	Amount    uint64 `json:"amount"`    // minor units paid from its budget
	Price     uint64 `json:"price"`     // the price before it
}

// PaymentPoints are a payment's loyalty points. Amount is the money paid; points spent on
// it paid Worth more, at the merchant's rate. A refund of part of the money takes back that
// part of what was earned and gives back that part of what was spent (all of both at the
// end), each once: TakenBack and Restored count what was done.
type PaymentPoints struct {
	Earned    uint64       `json:"earned,omitempty"`
	Lot       int32        `json:"lot,omitempty"`   // the month the earned points were filed in
	Total     uint64       `json:"total,omitempty"` // the member's points after the payment
	Spent     uint64       `json:"spent,omitempty"`
	Worth     uint64       `json:"worth,omitempty"` // minor units the spent points paid
	Draws     []PointsDraw `json:"draws,omitempty"` // the lots they came from
	TakenBack uint64       `json:"taken_back,omitempty"`
	Short     uint64       `json:"short,omitempty"` // earned points spent before the refund: not taken back
	Restored  uint64       `json:"restored,omitempty"`
}

// PointsDraw is what a payment took from one lot of points, given back to that lot (with its
// expiry) by a refund.
type PointsDraw struct {
	Month   int32  `json:"m"`
	Points  uint64 `json:"p"`
	Expires int64  `json:"e"`
}

// CheckoutSeen is when the buyer typed his number and his code on the hosted checkout page
// and from which address, kept as evidence for a dispute. The addresses are personal data:
// sealed for the payer (Ledger.SealFor), unreadable once he is erased, "" when not known.
type CheckoutSeen struct {
	PhoneAt int64  `json:"phone_at,omitempty"` // unix nanos the number was entered
	PhoneIP string `json:"phone_ip,omitempty"` // sealed browser address it came from
	CodeAt  int64  `json:"code_at,omitempty"`  // unix nanos the right code was typed
	CodeIP  string `json:"code_ip,omitempty"`  // sealed browser address it came from
}

// BankState is where an mDebit's bank request is.
type BankState struct {
	Account   string `json:"account,omitempty"` // the subscriber's IBAN
	Key       string `json:"key"`               // the retrieval reference number: the bank's idempotency key
	Trace     string `json:"trace,omitempty"`
	At        int64  `json:"at,omitempty"`    // when it was queued for the bank
	Tries     int    `json:"tries,omitempty"` // attempts without a sure answer
	Next      int64  `json:"next,omitempty"`  // when to ask again
	LastError string `json:"last_error,omitempty"`
	Reversing bool   `json:"reversing,omitempty"` // the debit is being reversed
	Auth      string `json:"auth,omitempty"`      // the bank's approval code
	Code      string `json:"code,omitempty"`      // the bank's last response code
	// Sent is the request as first transmitted, recorded before it left: once set, every
	// attempt is a repeat (0201) of it, and a reversal names it.
	Sent *BankSent `json:"sent,omitempty"`
	// Reversal is the reversal as first transmitted: once set, the next is a repeat (0401).
	Reversal *BankSent `json:"reversal,omitempty"`
}

// Refund is money given back on a payment, by its merchant (a refund) or by an operator (a
// reversal): a new transfer, never an edit. Both count against one cap: everything given
// back never exceeds what was paid.
type Refund struct {
	ID       string `json:"id"`
	Amount   uint64 `json:"amount"`
	At       int64  `json:"at"`
	Transfer string `json:"transfer"`
	Kind     string `json:"kind,omitempty"` // RefundByMerchant ("" in older records) or Reversal
	By       string `json:"by,omitempty"`   // who gave it back: the merchant's key, an operator
	// ToPurse is the part of a refund of a credit payment that went to the purse because
	// the line no longer owed it (it was repaid meanwhile).
	ToPurse uint64 `json:"to_purse,omitempty"`

	// State is where a refund of an mDebit is: its money goes back to the subscriber's
	// bank account by a credit ("": a refund that needs no bank).
	State RefundState `json:"state,omitempty"`
	// Bank is the state of that credit's request to the bank.
	Bank *BankState `json:"bank,omitempty"`
}

// Kinds of money given back.
const (
	RefundByMerchant = "refund"
	Reversal         = "reversal"
	RefundReturn     = "return"  // a SEND's payee gave it back (REV, then OK <code>)
	RefundDispute    = "dispute" // a dispute case decided for the payer
)

// ProductOf is the product of a payment, for records written before products existed.
func (p *Payment) ProductOf() string {
	switch {
	case p.Product != "":
		return p.Product
	case p.Channel == ChannelBank:
		return ProductDebit
	case p.Channel == ChannelCredit:
		return ProductCredit
	}
	return ProductPay
}

// Reversed reports whether an operator reversed the payment already.
func (p *Payment) Reversed() bool {
	for _, r := range p.Refunds {
		if r.Kind == Reversal {
			return true
		}
	}
	return false
}

// Left is what can still be given back on the payment: what was paid less what was given
// back already, under the one cap every refund, reversal, return and decision shares.
func (p *Payment) Left() uint64 { return p.Amount - min(p.Amount, p.Refunded) }

// RefundState is where the credit of a refunded mDebit is.
type RefundState string

const (
	// RefundSentToBank: the credit is queued or sent; until the bank answers for sure the
	// outcome is unknown, resolved by a repeat or a reversal, never guessed.
	RefundSentToBank RefundState = "sent_to_bank"
	RefundCredited   RefundState = "credited" // the bank approved the credit
	// RefundToPurse: the bank surely did not credit the account (declined, or reversed);
	// the money went to the subscriber's e-purse instead.
	RefundToPurse RefundState = "to_purse"
)

// Limits of the payment records.
const (
	MaxRefunds        = 10  // refunds per payment
	MaxDescriptionLen = 140 // bytes
	MaxReturnURLLen   = 512
	MaxPaymentTries   = 3 // wrong codes before the payment is refused
)

// ErrorCode is the stable code the merchant API answers with, and a refused payment's reason.
type ErrorCode string

const (
	CodeInsufficientFunds   ErrorCode = "insufficient_funds"
	CodeLimitExceeded       ErrorCode = "limit_exceeded"
	CodeSubscriberNotFound  ErrorCode = "subscriber_not_found"
	CodeDuplicateRequest    ErrorCode = "duplicate_request"
	CodeIdempotencyMismatch ErrorCode = "idempotency_key_reused"
	CodeInvalidState        ErrorCode = "invalid_state"
	CodeRateLimited         ErrorCode = "rate_limited"
	CodeInvalidRequest      ErrorCode = "invalid_request"
	CodeNotFound            ErrorCode = "not_found"
	CodeUnauthorized        ErrorCode = "unauthorized"
	CodeWrongCode           ErrorCode = "wrong_code"
	CodeTooManyCodes        ErrorCode = "too_many_codes"
	CodeDeclined            ErrorCode = "declined_by_subscriber"
	CodeAccountBlocked      ErrorCode = "account_blocked"
	CodeRefundTooLarge      ErrorCode = "refund_exceeds_payment"
	CodeNotAuthorised       ErrorCode = "employee_not_authorised"
	CodeUnavailable         ErrorCode = "temporarily_unavailable"
	CodeAccountLocked       ErrorCode = "account_locked" // too many wrong PINs: locked for a while
	CodeCreditOverdue       ErrorCode = "credit_overdue" // the credit line's minimum due is late
	CodeAlreadyReversed     ErrorCode = "already_reversed"
	CodeDisputeOpen         ErrorCode = "dispute_open" // a case or return request is open on the payment
	CodeTooLate             ErrorCode = "too_late"     // past the window a dispute or return may be asked in
	// CodeRiskDeclined: the fraud rules said no; the words never say which rule.
	CodeRiskDeclined ErrorCode = "payment_declined"
)

// PaymentError is a refusal of a payment operation with its stable code.
type PaymentError struct {
	Code   ErrorCode
	Detail string // for the merchant; never a secret
	Left   int    // wrong_code: tries left
}

func (e *PaymentError) Error() string {
	if e.Detail == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Detail
}

// PaymentErr makes a PaymentError.
func PaymentErr(code ErrorCode, detail string) error {
	return &PaymentError{Code: code, Detail: detail}
}

// CodeOf is the stable code of an error: a PaymentError's, or the one a ledger refusal
// stands for; "" for anything else (a failure, not a refusal).
func CodeOf(err error) ErrorCode {
	var pe *PaymentError
	if errors.As(err, &pe) {
		return pe.Code
	}
	var re *RefusedError
	if errors.As(err, &re) {
		switch re.Reason {
		case ErrInsufficientFunds:
			return CodeInsufficientFunds
		case ErrLimitExceeded, ErrLimitPerPayment, ErrLimitDaily, ErrLimitBalance:
			return CodeLimitExceeded
		case ErrAccountBlocked, ErrAccountClosed:
			return CodeAccountBlocked
		case ErrPendingExpired:
			return CodeInvalidState
		}
		return CodeInvalidRequest
	}
	return ""
}
