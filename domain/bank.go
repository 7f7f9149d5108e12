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
	Key      string // 12 digits, derived from the payment
	Trace    string // 6 digits, the system trace audit number
	Account  string // the subscriber's IBAN
	Amount   uint64 // minor units
	Currency string
	Merchant string // the merchant's code
	At       int64  // unix nanos of the first attempt
}

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

// BankSettled is one line of a bank's settlement file: a debit the bank approved.
type BankSettled struct {
	Key      string
	Account  string
	Amount   uint64
	Currency string // ISO 4217 alphabetic code (the file's numeric code, translated)
	Reversed bool
}
