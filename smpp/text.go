// Package smpp is mpg's side of SMPP 3.4: the ESME session, the text codecs and the SMSC
// simulator. This file holds the text codecs: GSM 03.38 (with its extension table) when every
// character fits, else UCS-2; never a silent substitution.
package smpp

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Coding is an SMPP data_coding value mpg reads or writes.
type Coding uint8

const (
	CodingGSM7   Coding = 0x00 // SMSC default alphabet: GSM 03.38, one septet per octet
	CodingASCII  Coding = 0x01 // IA5 / ASCII, accepted inbound
	CodingLatin1 Coding = 0x03 // ISO 8859-1
	CodingUCS2   Coding = 0x08 // UCS-2 (UTF-16BE; surrogate pairs kept whole)
)

func (c Coding) String() string {
	switch c {
	case CodingGSM7:
		return "GSM-7"
	case CodingASCII:
		return "ASCII"
	case CodingLatin1:
		return "Latin-1"
	case CodingUCS2:
		return "UCS-2"
	}
	return fmt.Sprintf("data_coding 0x%02x", uint8(c))
}

const esc = 0x1B

// gsmBasic is the GSM 03.38 default alphabet, indexed by septet.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 0x1B, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmExt is the extension table: ESC followed by the key septet.
var gsmExt = map[byte]rune{
	0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\',
	0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€',
}

var gsmBasicRev, gsmExtRev = func() (map[rune]byte, map[rune]byte) {
	b, e := map[rune]byte{}, map[rune]byte{}
	for i, r := range gsmBasic {
		if i != esc {
			b[r] = byte(i)
		}
	}
	for k, r := range gsmExt {
		e[r] = k
	}
	return b, e
}()

// ErrNotGSM is returned by EncodeGSM7 for a character outside GSM 03.38.
var ErrNotGSM = errors.New("character not in GSM 03.38")

// EncodeGSM7 returns the septets of s, one per octet (extension characters take two), or
// ErrNotGSM naming the first character that does not fit.
func EncodeGSM7(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i, r := range s {
		if b, ok := gsmBasicRev[r]; ok {
			out = append(out, b)
		} else if b, ok := gsmExtRev[r]; ok {
			out = append(out, esc, b)
		} else {
			return nil, fmt.Errorf("%w: %q at byte %d", ErrNotGSM, r, i)
		}
	}
	return out, nil
}

// DecodeGSM7 reads septets one per octet. A septet with the high bit set or an unknown
// escape is an error, never a guess.
func DecodeGSM7(b []byte) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c > 0x7F {
			return "", fmt.Errorf("GSM-7: octet 0x%02x at %d is not a septet", c, i)
		}
		if c != esc {
			sb.WriteRune(gsmBasic[c])
			continue
		}
		if i+1 >= len(b) {
			return "", fmt.Errorf("GSM-7: escape at the end")
		}
		r, ok := gsmExt[b[i+1]]
		if !ok {
			return "", fmt.Errorf("GSM-7: unknown escape 0x1b 0x%02x at %d", b[i+1], i)
		}
		sb.WriteRune(r)
		i++
	}
	return sb.String(), nil
}

// EncodeUCS2 writes s as UTF-16BE.
func EncodeUCS2(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 0, 2*len(u))
	for _, c := range u {
		out = append(out, byte(c>>8), byte(c))
	}
	return out
}

// DecodeUCS2 reads UTF-16BE. An odd length or a broken surrogate pair is an error.
func DecodeUCS2(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("UCS-2: odd length %d", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	for i := 0; i < len(u); i++ {
		switch {
		case utf16.IsSurrogate(rune(u[i])) && u[i] < 0xDC00 && i+1 < len(u) && u[i+1] >= 0xDC00 && u[i+1] <= 0xDFFF:
			i++
		case utf16.IsSurrogate(rune(u[i])):
			return "", fmt.Errorf("UCS-2: broken surrogate at unit %d", i)
		}
	}
	return string(utf16.Decode(u)), nil
}

// Encode picks GSM-7 when every character fits, else UCS-2.
func Encode(s string) (Coding, []byte, error) {
	if !utf8.ValidString(s) {
		return 0, nil, fmt.Errorf("text is not valid UTF-8")
	}
	if b, err := EncodeGSM7(s); err == nil {
		return CodingGSM7, b, nil
	}
	return CodingUCS2, EncodeUCS2(s), nil
}

// Decode reads inbound text in any coding mpg accepts: GSM-7, Latin-1 (and plain ASCII,
// data_coding 1), UCS-2.
func Decode(c Coding, b []byte) (string, error) {
	switch c {
	case CodingGSM7:
		return DecodeGSM7(b)
	case CodingASCII:
		for i, x := range b {
			if x > 0x7F {
				return "", fmt.Errorf("ASCII: octet 0x%02x at %d", x, i)
			}
		}
		return string(b), nil
	case CodingLatin1:
		r := make([]rune, len(b))
		for i, x := range b {
			r[i] = rune(x)
		}
		return string(r), nil
	case CodingUCS2:
		return DecodeUCS2(b)
	}
	return "", fmt.Errorf("unsupported %s", c)
}

// DecodeLenient reads inbound text whatever it holds, for a subscriber's message: it never
// fails. GSM-7 with octets above 0x7F is read as Latin-1 (the "SMSC default alphabet" of many
// SMSCs), an unknown escape or a broken UCS-2 unit becomes U+FFFD, an odd UCS-2 length drops
// the last octet. exact is false when anything had to be guessed; an unsupported coding
// (8-bit binary, say) gives "" (an unreadable message, answered with help).
func DecodeLenient(c Coding, b []byte) (text string, exact bool) {
	if t, err := Decode(c, b); err == nil {
		return t, true
	}
	switch c {
	case CodingGSM7:
		high := false
		for _, x := range b {
			high = high || x > 0x7F
		}
		if high {
			t, _ := Decode(CodingLatin1, b)
			return t, false
		}
		var sb strings.Builder
		for i := 0; i < len(b); i++ {
			if b[i] != esc {
				sb.WriteRune(gsmBasic[b[i]])
				continue
			}
			if i+1 < len(b) {
				if r, ok := gsmExt[b[i+1]]; ok {
					sb.WriteRune(r)
				} else {
					sb.WriteRune(utf8.RuneError) // the escape and the octet it escapes are one character
				}
				i++
				continue
			}
			sb.WriteRune(utf8.RuneError)
		}
		return sb.String(), false
	case CodingASCII:
		t, _ := Decode(CodingLatin1, b)
		return t, false
	case CodingUCS2:
		b = b[:len(b)&^1]
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		return string(utf16.Decode(u)), false // broken surrogates decode as U+FFFD
	}
	return "", false
}
