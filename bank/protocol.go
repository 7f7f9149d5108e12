// Package bank is mpg's boundary with banks' back ends: an ISO 8583 connector over TCP
// that never guesses (an unanswered request is an unknown outcome, resolved by asking again
// with the same retrieval reference number or by a reversal), and a bank simulator with
// the faults real back ends have, for tests, the demo and `mpg bank`.
package bank

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moov-io/iso8583"
	iso8583errors "github.com/moov-io/iso8583/errors"
	"github.com/moov-io/iso8583/network"

	"mpg/domain"
)

// The messages mpg and the bank exchange (ISO 8583:1987, ASCII, a 2-byte binary length
// before each message; docs/bank-interface.md is the interface page):
//
//	0200 financial request (3: 000000 debit, 200000 refund credit) → 0210 response
//	0201 financial request repeat: after any doubt, never a second 0200 → 0210: what the
//	     bank did with that request (processed as an original if it never got it)
//	0400 reversal request (90: the original as sent)        → 0410 (39: "00" reversed, "25" nothing to reverse)
//	0401 reversal request repeat                            → 0410
//	0800 network management (70: 301 echo; from either side) → 0810 (39: "00")
//
// The simulator also answers 0420/0421 reversal advices (0430) and 0820 (0830), which
// other acquirers send.
const (
	mtiFinancial       = "0200"
	mtiFinancialRepeat = "0201"
	mtiFinancialResp   = "0210"
	mtiReversal        = "0400"
	mtiReversalRepeat  = "0401"
	mtiReversalResp    = "0410"
	mtiReversalAdvice  = "0420"
	mtiAdviceRepeat    = "0421"
	mtiAdviceResp      = "0430"
	mtiNetwork         = "0800"
	mtiNetworkResp     = "0810"
	mtiNetworkAdvice   = "0820"
	mtiNetworkAdvResp  = "0830"
)

// Processing codes (field 3): the transaction type (2 digits), then the from and to
// account types (00: default account).
const (
	procDebit  = "000000" // goods and services: debit the account
	procCredit = "200000" // returns: a refund credited to the account
)

// Network management information codes (field 70).
const (
	netSignOn = "001"
	netEcho   = "301"
)

// msg is one message, field by field.
type msg struct {
	MTI       string `iso8583:"0"`
	Process   string `iso8583:"3"`
	Amount    string `iso8583:"4"`
	Sent      string `iso8583:"7"`
	Trace     string `iso8583:"11"`
	Acquirer  string `iso8583:"32"`
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
	b, err := encode(m)
	if err != nil {
		return err
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

// encode packs one message (without its length).
func encode(m *msg) ([]byte, error) {
	im := iso8583.NewMessage(spec)
	if err := im.Marshal(m); err != nil {
		return nil, fmt.Errorf("iso8583: %w", err)
	}
	b, err := im.Pack()
	if err != nil {
		return nil, fmt.Errorf("iso8583 pack: %w", err)
	}
	return b, nil
}

// errFraming is a length prefix that cannot start a message: the stream cannot be followed
// any more.
var errFraming = errors.New("iso8583 framing")

// readFrame reads one message's bytes.
func readFrame(r *bufio.Reader) ([]byte, error) {
	h := network.NewBinary2BytesHeader()
	if _, err := h.ReadFrom(r); err != nil {
		return nil, err
	}
	if h.Length() == 0 || h.Length() > maxMessage {
		return nil, fmt.Errorf("%w: a message of %d bytes announced (1..%d)", errFraming, h.Length(), maxMessage)
	}
	b := make([]byte, h.Length())
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// formatError is a message mpg could not read. It names where reading stopped, never what
// the message carried.
type formatError struct{ where string }

func (e *formatError) Error() string { return "unreadable message: " + e.where }

// decode reads one message's bytes.
func decode(b []byte) (*msg, error) {
	im := iso8583.NewMessage(spec)
	if err := im.Unpack(b); err != nil {
		// moov's own text may quote the bytes it could not read: only the field is kept.
		where := "its structure"
		var ue *iso8583errors.UnpackError
		if errors.As(err, &ue) && ue.FieldID != "" {
			where = "field " + ue.FieldID
			if ue.FieldID == "0" {
				where = "the message type"
			} else if ue.FieldID == "1" {
				where = "the bitmap"
			}
		}
		return nil, &formatError{where: where}
	}
	var m msg
	if err := im.Unmarshal(&m); err != nil {
		return nil, &formatError{where: "its fields"}
	}
	if n, err := consumed(im, b); err != nil || n != len(b) {
		return nil, &formatError{where: "its length (bytes left over after the last field)"}
	}
	return &m, nil
}

// consumed is how many bytes of b the unpacked message took: the message type, one or two
// bitmaps (as many as b has), and each field as it packs again.
func consumed(im *iso8583.Message, b []byte) (int, error) {
	n := 4 + 16
	if len(b) > 4 && strings.IndexByte("89ABCDEFabcdef", b[4]) >= 0 {
		n += 16
	}
	for id, f := range im.GetFields() {
		if id < 2 {
			continue
		}
		p, err := f.Pack()
		if err != nil {
			return 0, err
		}
		n += len(p)
	}
	return n, nil
}

// read reads one message.
func read(r *bufio.Reader) (*msg, error) {
	b, err := readFrame(r)
	if err != nil {
		return nil, err
	}
	return decode(b)
}

// shape describes a message's bytes without what they carry: its length, message type,
// bitmaps and the numbers of the fields they announce. It is what mpg logs of a message it
// could not read: never an account number, an amount or a name.
func shape(b []byte) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%d bytes", len(b))
	if len(b) < 4 || !allDigits(b[:4]) {
		s.WriteString(", no message type")
		return s.String()
	}
	fmt.Fprintf(&s, ", MTI %s", b[:4])
	var fields []string
	rest := b[4:]
	for part := 0; part < 2; part++ {
		if len(rest) < 16 {
			s.WriteString(", bitmap cut short")
			return s.String()
		}
		bits, err := hex.DecodeString(string(rest[:16]))
		if err != nil {
			s.WriteString(", bitmap not hexadecimal")
			return s.String()
		}
		fmt.Fprintf(&s, ", bitmap %d %s", part+1, rest[:16])
		for i := 1; i <= 64; i++ {
			if bits[(i-1)/8]&(0x80>>((i-1)%8)) != 0 && !(i == 1 && part == 0) {
				fields = append(fields, strconv.Itoa(part*64+i))
			}
		}
		rest = rest[16:]
		if bits[0]&0x80 == 0 {
			break
		}
	}
	fmt.Fprintf(&s, ", fields %s", strings.Join(fields, " "))
	return s.String()
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// originalData is field 90 of a reversal, n 42: the original's message type (4), trace
// (6), transmission date and time (10), acquiring institution (11, zero-filled on the left)
// and forwarding institution (11: mpg sends through none, zeros).
func originalData(o domain.BankSent) string {
	acq := strings.Repeat("0", max(0, 11-len(o.Acquirer))) + o.Acquirer
	return o.MTI + o.Trace + o.Time + acq + "00000000000"
}

// merchantField is field 42 (ans 15): the merchant's code, its first 15 characters.
func merchantField(code string) string { return code[:min(len(code), 15)] }

// sendRaw sends bytes as one message, whatever they are (the simulator's garbage fault).
func (w *writer) sendRaw(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write([]byte{byte(len(b) >> 8), byte(len(b))}); err != nil {
		return err
	}
	_, err := w.w.Write(b)
	return err
}
