package smpp

import "fmt"

// Per-message capacities of SMS (3GPP TS 23.040).
const (
	gsmSingle  = 160 // septets in one SMS
	gsmPart    = 153 // septets per part after a 6-octet concatenation header
	ucs2Single = 140 // octets in one SMS
	ucs2Part   = 134 // octets per part after the header (67 UTF-16 units)
	// MaxParts bounds what mpg ever sends for one reply.
	MaxParts = 8
)

// ErrTooLong is returned when a text needs more parts than allowed.
var ErrTooLong = fmt.Errorf("text needs more parts than allowed")

// Part is one short_message to submit. With UDH set, esm_class must carry UDHI (0x40) and
// Message is the header followed by the payload.
type Part struct {
	Coding  Coding
	Message []byte
	UDH     bool
}

// Split encodes text and cuts it into concatenated parts by characters: an escape sequence
// or a surrogate pair is never cut. ref identifies the message among the sender's recent
// ones; maxParts (at most MaxParts) caps the number of parts.
func Split(text string, ref byte, maxParts int) ([]Part, error) {
	if maxParts < 1 || maxParts > MaxParts {
		maxParts = MaxParts
	}
	coding, payload, err := Encode(text)
	if err != nil {
		return nil, err
	}
	single, per, unit := gsmSingle, gsmPart, 1
	if coding == CodingUCS2 {
		single, per, unit = ucs2Single, ucs2Part, 2
	}
	if len(payload) <= single {
		return []Part{{Coding: coding, Message: payload}}, nil
	}
	var chunks [][]byte
	for len(payload) > 0 {
		n := min(per, len(payload))
		if n < len(payload) {
			n = cutPoint(coding, payload, n, unit)
		}
		chunks = append(chunks, payload[:n])
		payload = payload[n:]
	}
	if len(chunks) > maxParts {
		return nil, fmt.Errorf("%w: %d parts, at most %d", ErrTooLong, len(chunks), maxParts)
	}
	parts := make([]Part, len(chunks))
	for i, c := range chunks {
		msg := append([]byte{0x05, 0x00, 0x03, ref, byte(len(chunks)), byte(i + 1)}, c...)
		parts[i] = Part{Coding: coding, Message: msg, UDH: true}
	}
	return parts, nil
}

// cutPoint moves a cut at n back so that it does not split an escape or a surrogate pair.
func cutPoint(c Coding, b []byte, n, unit int) int {
	if c == CodingGSM7 {
		// Count the escapes right before the cut: an odd run means the last one starts a pair.
		run := 0
		for i := n - 1; i >= 0 && b[i] == esc; i-- {
			run++
		}
		if run%2 == 1 {
			return n - 1
		}
		return n
	}
	n -= n % unit
	if hi := uint16(b[n-2])<<8 | uint16(b[n-1]); hi >= 0xD800 && hi < 0xDC00 {
		return n - 2 // a high surrogate: keep it with its low half
	}
	return n
}
