package domain

import (
	"errors"
	"strings"

	"github.com/almerlucke/go-iban/iban"
)

// mDebit: a payment straight from a subscriber's bank account, through the bank's back end.
// The engine sees the bank through these types; the connector speaks the bank's protocol.

// BankDebit is one request to the bank. Key (the retrieval reference number) identifies it
// to the bank for ever: asking again with the same key is asking what became of it, never
// a second debit.
type BankDebit struct {
	Key      string // 12 characters, derived from the payment (or the refund)
	Trace    string // 6 digits, the system trace audit number
	Account  string // the subscriber's IBAN
	Amount   uint64 // minor units
	Currency string
	Merchant string // the merchant's code
	At       int64  // unix nanos: when the subscriber's YES (or the refund) queued it
	// Credit makes it a refund credit to the account (money to the subscriber) rather than
	// a debit.
	Credit bool
	// Sent is how the request was first transmitted (zero: not yet). Every later attempt
	// is a repeat carrying the same; a reversal names it in its original data elements.
	Sent BankSent
	// Reversal is how its reversal was first transmitted (zero: not yet).
	Reversal BankSent
}

// BankSent is how a request was first transmitted, as the bank identifies it. The engine
// records it before the first transmission, so that after any doubt (a crash between
// sending and recording the answer included) the request goes again as a repeat of the
// same message, and a reversal names the request that was actually sent.
type BankSent struct {
	MTI      string `json:"mti"`                // message type of the first transmission: 0200, 0400
	Trace    string `json:"trace"`              // system trace audit number (field 11)
	Time     string `json:"time"`               // transmission date and time (field 7), MMDDhhmmss UTC
	Acquirer string `json:"acquirer,omitempty"` // acquiring institution (field 32)
}

// IsZero reports whether nothing was transmitted yet.
func (s BankSent) IsZero() bool { return s.MTI == "" }

// MaxBankAccount is the longest account the bank interface carries (ISO 8583:1987 field
// 102, ans..28): longer IBANs cannot be debited or credited through it.
const MaxBankAccount = 28

// BankOutcome is what the bank said.
type BankOutcome uint8

const (
	BankApproved BankOutcome = iota + 1
	BankDeclined
)

// BankAnswer is the bank's answer to a debit, a repeat or a reversal.
type BankAnswer struct {
	Outcome  BankOutcome
	Code     string // the bank's response code ("00" approved, "51" insufficient funds…)
	AuthCode string // the bank's approval code
}

// ErrBankUnknown wraps every failure after which the bank may or may not have acted: no
// answer in time, the connection lost, an answer that could not be read. It is a state to
// resolve by asking again with the same key, never a refusal to guess from.
var ErrBankUnknown = errors.New("bank outcome unknown")

// ErrBankUnreachable is a failure before anything was sent: the bank surely did nothing.
var ErrBankUnreachable = errors.New("bank unreachable")

// ParseIBAN checks an IBAN (country format and check digits) and returns it without spaces,
// in capitals.
func ParseIBAN(s string) (string, error) {
	v, err := iban.NewIBAN(strings.TrimSpace(s))
	if err != nil {
		return "", errors.New("IBAN: " + err.Error())
	}
	return v.Code, nil
}

// MaskIBAN shows the country and the last 4 characters only: FR76 **** 5678.
func MaskIBAN(s string) string {
	if len(s) < 8 {
		return "****"
	}
	return s[:4] + " **** " + s[len(s)-4:]
}

// BankSettled is one line of a bank's settlement file: a debit (or a refund credit) the
// bank approved.
type BankSettled struct {
	Key      string
	Account  string
	Amount   uint64
	Currency string // ISO 4217 alphabetic code (the file's numeric code, translated)
	Reversed bool
	Credit   bool // a refund credit to the account, not a debit
}
