package bank

import (
	"fmt"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/padding"
	"github.com/moov-io/iso8583/prefix"
)

// The data elements of ISO 8583:1987, all of them, so that a bank's answer carrying fields
// mpg does not use (local time, settlement date, additional data…) is read and those fields
// ignored, instead of the whole answer being unreadable. Every element is ASCII; binary
// elements (b 64: PIN data, MACs) travel as 16 hexadecimal characters, like the bitmaps.

// element is one data element: its number, name, format and length.
type element struct {
	n      int
	name   string
	format string // n, an, ans, x+n, z, b (ISO 8583 attributes)
	length int    // characters (b: bytes), the maximum when variable
	vary   int    // 0: fixed; 2: LLVAR; 3: LLLVAR (a 2- or 3-digit length first)
}

var elements1987 = []element{
	{2, "Primary account number", "n", 19, 2},
	{3, "Processing code", "n", 6, 0},
	{4, "Amount, transaction", "n", 12, 0},
	{5, "Amount, settlement", "n", 12, 0},
	{6, "Amount, cardholder billing", "n", 12, 0},
	{7, "Transmission date and time", "n", 10, 0},
	{8, "Amount, cardholder billing fee", "n", 8, 0},
	{9, "Conversion rate, settlement", "n", 8, 0},
	{10, "Conversion rate, cardholder billing", "n", 8, 0},
	{11, "Systems trace audit number", "n", 6, 0},
	{12, "Time, local transaction", "n", 6, 0},
	{13, "Date, local transaction", "n", 4, 0},
	{14, "Date, expiration", "n", 4, 0},
	{15, "Date, settlement", "n", 4, 0},
	{16, "Date, conversion", "n", 4, 0},
	{17, "Date, capture", "n", 4, 0},
	{18, "Merchant type", "n", 4, 0},
	{19, "Acquiring institution country code", "n", 3, 0},
	{20, "PAN extended, country code", "n", 3, 0},
	{21, "Forwarding institution country code", "n", 3, 0},
	{22, "Point of service entry mode", "n", 3, 0},
	{23, "Card sequence number", "n", 3, 0},
	{24, "Network international identifier", "n", 3, 0},
	{25, "Point of service condition code", "n", 2, 0},
	{26, "Point of service PIN capture code", "n", 2, 0},
	{27, "Authorizing identification response length", "n", 1, 0},
	{28, "Amount, transaction fee", "x+n", 9, 0},
	{29, "Amount, settlement fee", "x+n", 9, 0},
	{30, "Amount, transaction processing fee", "x+n", 9, 0},
	{31, "Amount, settlement processing fee", "x+n", 9, 0},
	{32, "Acquiring institution identification code", "n", 11, 2},
	{33, "Forwarding institution identification code", "n", 11, 2},
	{34, "Primary account number, extended", "ns", 28, 2},
	{35, "Track 2 data", "z", 37, 2},
	{36, "Track 3 data", "n", 104, 3},
	{37, "Retrieval reference number", "an", 12, 0},
	{38, "Authorization identification response", "an", 6, 0},
	{39, "Response code", "an", 2, 0},
	{40, "Service restriction code", "an", 3, 0},
	{41, "Card acceptor terminal identification", "ans", 8, 0},
	{42, "Card acceptor identification code", "ans", 15, 0},
	{43, "Card acceptor name/location", "ans", 40, 0},
	{44, "Additional response data", "an", 25, 2},
	{45, "Track 1 data", "an", 76, 2},
	{46, "Additional data - ISO", "an", 999, 3},
	{47, "Additional data - national", "an", 999, 3},
	{48, "Additional data - private", "an", 999, 3},
	{49, "Currency code, transaction", "n", 3, 0},
	{50, "Currency code, settlement", "n", 3, 0},
	{51, "Currency code, cardholder billing", "n", 3, 0},
	{52, "Personal identification number data", "b", 8, 0},
	{53, "Security related control information", "n", 16, 0},
	{54, "Additional amounts", "an", 120, 3},
	{55, "Reserved ISO", "ans", 999, 3},
	{56, "Reserved ISO", "ans", 999, 3},
	{57, "Reserved national", "ans", 999, 3},
	{58, "Reserved national", "ans", 999, 3},
	{59, "Reserved national", "ans", 999, 3},
	{60, "Reserved private", "ans", 999, 3},
	{61, "Reserved private", "ans", 999, 3},
	{62, "Reserved private", "ans", 999, 3},
	{63, "Reserved private", "ans", 999, 3},
	{64, "Message authentication code", "b", 8, 0},
	// 65 (bitmap, extended) announces a third bitmap: mpg neither sends nor takes one.
	{66, "Settlement code", "n", 1, 0},
	{67, "Extended payment code", "n", 2, 0},
	{68, "Receiving institution country code", "n", 3, 0},
	{69, "Settlement institution country code", "n", 3, 0},
	{70, "Network management information code", "n", 3, 0},
	{71, "Message number", "n", 4, 0},
	{72, "Message number, last", "n", 4, 0},
	{73, "Date, action", "n", 6, 0},
	{74, "Credits, number", "n", 10, 0},
	{75, "Credits, reversal number", "n", 10, 0},
	{76, "Debits, number", "n", 10, 0},
	{77, "Debits, reversal number", "n", 10, 0},
	{78, "Transfer, number", "n", 10, 0},
	{79, "Transfer, reversal number", "n", 10, 0},
	{80, "Inquiries, number", "n", 10, 0},
	{81, "Authorizations, number", "n", 10, 0},
	{82, "Credits, processing fee amount", "n", 12, 0},
	{83, "Credits, transaction fee amount", "n", 12, 0},
	{84, "Debits, processing fee amount", "n", 12, 0},
	{85, "Debits, transaction fee amount", "n", 12, 0},
	{86, "Credits, amount", "n", 16, 0},
	{87, "Credits, reversal amount", "n", 16, 0},
	{88, "Debits, amount", "n", 16, 0},
	{89, "Debits, reversal amount", "n", 16, 0},
	{90, "Original data elements", "n", 42, 0},
	{91, "File update code", "an", 1, 0},
	{92, "File security code", "an", 2, 0},
	{93, "Response indicator", "an", 5, 0},
	{94, "Service indicator", "an", 7, 0},
	{95, "Replacement amounts", "an", 42, 0},
	{96, "Message security code", "b", 8, 0},
	{97, "Amount, net settlement", "x+n", 17, 0},
	{98, "Payee", "ans", 25, 0},
	{99, "Settlement institution identification code", "n", 11, 2},
	{100, "Receiving institution identification code", "n", 11, 2},
	{101, "File name", "ans", 17, 2},
	{102, "Account identification 1", "ans", 28, 2},
	{103, "Account identification 2", "ans", 28, 2},
	{104, "Transaction description", "ans", 100, 3},
	{105, "Reserved ISO", "ans", 999, 3}, {106, "Reserved ISO", "ans", 999, 3}, {107, "Reserved ISO", "ans", 999, 3},
	{108, "Reserved ISO", "ans", 999, 3}, {109, "Reserved ISO", "ans", 999, 3}, {110, "Reserved ISO", "ans", 999, 3},
	{111, "Reserved ISO", "ans", 999, 3}, {112, "Reserved national", "ans", 999, 3}, {113, "Reserved national", "ans", 999, 3},
	{114, "Reserved national", "ans", 999, 3}, {115, "Reserved national", "ans", 999, 3}, {116, "Reserved national", "ans", 999, 3},
	{117, "Reserved national", "ans", 999, 3}, {118, "Reserved national", "ans", 999, 3}, {119, "Reserved national", "ans", 999, 3},
	{120, "Reserved private", "ans", 999, 3}, {121, "Reserved private", "ans", 999, 3}, {122, "Reserved private", "ans", 999, 3},
	{123, "Reserved private", "ans", 999, 3}, {124, "Reserved private", "ans", 999, 3}, {125, "Reserved private", "ans", 999, 3},
	{126, "Reserved private", "ans", 999, 3}, {127, "Reserved private", "ans", 999, 3},
	{128, "Message authentication code", "b", 8, 0},
}

// padded are the fixed elements mpg fills with shorter values: amounts are zero-filled
// on the left, the merchant's code space-filled on the right.
var padded = map[int]padding.Padder{4: padding.Left('0'), 42: padding.Right(' ')}

// newSpec is ISO 8583:1987 as mpg and its bank exchange it: the message type, then the
// primary bitmap (64 bits as 16 hexadecimal characters; bit 1 set if and only if a
// secondary bitmap of 64 more follows, which it does whenever an element above 64 is
// present), then the elements in order.
func newSpec() *iso8583.MessageSpec {
	fields := map[int]field.Field{
		0: field.NewString(&field.Spec{Length: 4, Description: "Message type identifier", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}),
		// Length 8 bytes: one bitmap; the packer adds the secondary (and sets bit 1) only when
		// an element above 64 is set, and the reader reads it only when bit 1 says so.
		1: field.NewBitmap(&field.Spec{Length: 8, Description: "Bitmap", Enc: encoding.BytesToASCIIHex, Pref: prefix.Hex.Fixed}),
	}
	for _, e := range elements1987 {
		s := &field.Spec{Length: e.length, Description: e.name, Enc: encoding.ASCII, Pad: padded[e.n]}
		switch e.vary {
		case 0:
			s.Pref = prefix.ASCII.Fixed
		case 2:
			s.Pref = prefix.ASCII.LL
		default:
			s.Pref = prefix.ASCII.LLL
		}
		if e.format == "b" {
			s.Length = 2 * e.length // its bytes as hexadecimal characters
		}
		fields[e.n] = field.NewString(s)
	}
	return &iso8583.MessageSpec{Name: "ISO 8583:1987, ASCII, hexadecimal bitmaps", Fields: fields}
}

// spec is the message format of the link.
var spec = newSpec()

// describe is how the interface page names an element: "n 12", "ans ..28 (LLVAR)".
func (e element) describe() string {
	switch e.vary {
	case 2:
		return fmt.Sprintf("%s ..%d (LLVAR)", e.format, e.length)
	case 3:
		return fmt.Sprintf("%s ...%d (LLLVAR)", e.format, e.length)
	}
	if e.format == "b" {
		return fmt.Sprintf("b %d (as %d hex characters)", e.length*8, e.length*2)
	}
	return fmt.Sprintf("%s %d", e.format, e.length)
}
