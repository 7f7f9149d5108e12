// Package bank is mpg's boundary with banks' back ends: an ISO 8583 connector over TCP
// that never guesses (an unanswered request is an unknown outcome, resolved by asking again
// with the same retrieval reference number or by a reversal), and a bank simulator with
// the faults real back ends have, for tests, the demo and `mpg bank`.
package bank

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/network"
	"github.com/moov-io/iso8583/padding"
	"github.com/moov-io/iso8583/prefix"
)

// The messages mpg and the bank exchange (ISO 8583:1987, ASCII, a 2-byte binary length
// before each message):
//
//	0200 financial request           → 0210 response (39: "00" approved, else declined)
//	0201 financial request, repeat   → 0210: the first outcome of that RRN; never a new debit
//	0400 reversal request            → 0410 (39: "00" reversed, "25" nothing to reverse)
//	0420 reversal advice (a repeat)  → 0430
//	0800 network management (70=301) → 0810 echo
const (
	mtiFinancial       = "0200"
	mtiFinancialRepeat = "0201"
	mtiFinancialResp   = "0210"
	mtiReversal        = "0400"
	mtiReversalResp    = "0410"
	mtiReversalAdvice  = "0420"
	mtiAdviceResp      = "0430"
	mtiNetwork         = "0800"
	mtiNetworkResp     = "0810"
)

// Response codes (field 39).
const (
	CodeApproved          = "00"
	CodeInvalidAccount    = "14" // no such account
	CodeNotFound          = "25" // unable to locate the original (a reversal of nothing)
	CodeInsufficientFunds = "51"
	CodeLimitExceeded     = "61"
	CodeAccountClosed     = "62" // restricted: the account is closed or blocked
	CodeReversalDeclined  = "12" // invalid transaction: the bank will not reverse it
	CodeSystemError       = "96"
)

// spec is the message format: the fields mpg uses.
var spec = &iso8583.MessageSpec{
	Name: "mpg ISO 8583:1987 ASCII",
	Fields: map[int]field.Field{
		0:   field.NewString(&field.Spec{Length: 4, Description: "Message Type Indicator", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}),
		1:   field.NewBitmap(&field.Spec{Length: 16, Description: "Bitmap", Enc: encoding.BytesToASCIIHex, Pref: prefix.Hex.Fixed}),
		3:   field.NewString(&field.Spec{Length: 6, Description: "Processing Code", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}),
		4:   field.NewString(&field.Spec{Length: 12, Description: "Transaction Amount", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed, Pad: padding.Left('0')}),
		7:   field.NewString(&field.Spec{Length: 10, Description: "Transmission Date & Time", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}),
		11:  field.NewString(&field.Spec{Length: 6, Description: "Systems Trace Audit Number", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}),
		37:  field.NewString(&field.Spec{Length: 12, Description: "Retrieval Reference Number", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}),
		38:  field.NewString(&field.Spec{Length: 6, Description: "Authorization Identification Response", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}),
		39:  field.NewString(&field.Spec{Length: 2, Description: "Response Code", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}),
		42:  field.NewString(&field.Spec{Length: 15, Description: "Card Acceptor Identification Code", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed, Pad: padding.Right(' ')}),
		49:  field.NewString(&field.Spec{Length: 3, Description: "Currency Code, Transaction", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}),
		70:  field.NewString(&field.Spec{Length: 3, Description: "Network Management Information Code", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}),
		90:  field.NewString(&field.Spec{Length: 42, Description: "Original Data Elements", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed, Pad: padding.Right('0')}),
		102: field.NewString(&field.Spec{Length: 34, Description: "Account Identification 1", Enc: encoding.ASCII, Pref: prefix.ASCII.LL}),
	},
}

// msg is one message, field by field.
type msg struct {
	MTI       string `iso8583:"0"`
	Process   string `iso8583:"3"`
	Amount    string `iso8583:"4"`
	Sent      string `iso8583:"7"`
	Trace     string `iso8583:"11"`
	RRN       string `iso8583:"37"`
	AuthCode  string `iso8583:"38"`
	Response  string `iso8583:"39"`
	Merchant  string `iso8583:"42"`
	Currency  string `iso8583:"49"`
	Network   string `iso8583:"70"`
	Original  string `iso8583:"90"`
	AccountID string `iso8583:"102"`
}

// maxMessage bounds what a peer may make us read.
const maxMessage = 4096

// currencyNumbers are the ISO 4217 numeric codes of field 49.
var currencyNumbers = map[string]string{"EUR": "978", "USD": "840", "GBP": "826", "CHF": "756", "XOF": "952", "XAF": "950",
	"KES": "404", "NGN": "566", "GHS": "936", "ZAR": "710", "MAD": "504", "INR": "356", "CNY": "156", "JPY": "392"}

func numericCurrency(code string) string {
	if n, ok := currencyNumbers[code]; ok {
		return n
	}
	return "000"
}

// alphaCurrency is the alphabetic code of a numeric one (as field 49 and the settlement file
// carry it); a code it does not know is returned as it is, so a comparison shows it.
func alphaCurrency(numeric string) string {
	for alpha, n := range currencyNumbers {
		if n == numeric {
			return alpha
		}
	}
	return numeric
}

func amountField(minor uint64) string { return fmt.Sprintf("%012d", minor) }

func parseAmount(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }

func transmitted(t time.Time) string { return t.UTC().Format("0102150405") }

// writer sends whole messages, one at a time.
type writer struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *writer) send(m *msg) error {
	im := iso8583.NewMessage(spec)
	if err := im.Marshal(m); err != nil {
		return fmt.Errorf("iso8583: %w", err)
	}
	b, err := im.Pack()
	if err != nil {
		return fmt.Errorf("iso8583 pack: %w", err)
	}
	h := network.NewBinary2BytesHeader()
	if err := h.SetLength(len(b)); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := h.WriteTo(w.w); err != nil {
		return err
	}
	_, err = w.w.Write(b)
	return err
}

// read reads one message.
func read(r *bufio.Reader) (*msg, error) {
	h := network.NewBinary2BytesHeader()
	if _, err := h.ReadFrom(r); err != nil {
		return nil, err
	}
	if h.Length() == 0 || h.Length() > maxMessage {
		return nil, fmt.Errorf("iso8583: message of %d bytes", h.Length())
	}
	b := make([]byte, h.Length())
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	im := iso8583.NewMessage(spec)
	if err := im.Unpack(b); err != nil {
		return nil, fmt.Errorf("iso8583 unpack: %w", err)
	}
	var m msg
	if err := im.Unmarshal(&m); err != nil {
		return nil, fmt.Errorf("iso8583: %w", err)
	}
	return &m, nil
}
