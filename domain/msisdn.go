package domain

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// One subscriber, one identity: the E.164 number (+ and 8 to 15 digits). Every way a number
// reaches mpg (an SMSC's source_addr with its TON/NPI, a SEND payee, what an admin types)
// goes through this file, so that the purse, the profile, dedupe, payees and the CLI all
// name a subscriber the same way.

// Type of number (SMPP 3.4, 5.2.5).
const (
	TONUnknown       uint8 = 0
	TONInternational uint8 = 1
	TONNational      uint8 = 2
	TONNetwork       uint8 = 3
	TONSubscriber    uint8 = 4
	TONAlphanumeric  uint8 = 5
	TONAbbreviated   uint8 = 6
)

// ErrNotMSISDN is returned for a sender that is not a phone number: alphanumeric, empty,
// too short or too long. Such a sender never owns money.
var ErrNotMSISDN = errors.New("not a phone number")

// Sender derives the subscriber's E.164 identity from an SMPP source address and its TON.
// International numbers come as digits (TON 1, usually without '+'); national ones (TON 2,
// or 4) are read with region; TON 0 is read as written ('+', 00, national, or international
// digits). An SMSC that mislabels a number (national digits with TON 1, a 00 prefix) is read
// the other way when the labelled one gives no valid number.
func Sender(addr string, ton uint8, region string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" || len(addr) > 21 {
		return "", fmt.Errorf("%w: %q", ErrNotMSISDN, Clip(addr))
	}
	switch ton {
	case TONAlphanumeric, TONAbbreviated:
		return "", fmt.Errorf("%w: %q (TON %d)", ErrNotMSISDN, Clip(addr), ton)
	case TONInternational:
		digits := strings.TrimPrefix(strings.TrimPrefix(addr, "+"), "00")
		if m, err := canonical("+"+digits, ""); err == nil {
			return m, nil
		}
	case TONNational, TONSubscriber:
		if m, err := canonical(addr, region); err == nil {
			return m, nil
		}
	}
	return ParseMSISDN(addr, region)
}

// ParseMSISDN reads a number as people type it: +33612345678, 0033612345678, 0612345678
// (national, with region), 33612345678 (international digits without +, with region),
// with spaces, dots or dashes between digits.
func ParseMSISDN(s, region string) (string, error) {
	s = stripSeparators(s)
	if m, err := canonical(s, region); err == nil {
		return m, nil
	}
	if !strings.HasPrefix(s, "+") && !strings.HasPrefix(s, "0") {
		return canonical("+"+s, "")
	}
	return "", fmt.Errorf("%w: %q", ErrNotMSISDN, Clip(s))
}

// stripSeparators drops what people put between digits: spaces, dots, dashes, brackets.
func stripSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '.' || r == '-' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, s)
}

// NumberError says why s, which ParseMSISDN refused, is no number of region, for the person
// who typed it. A number written in international form (+44…, or with region's
// international prefix, 0044… from FR) of another country is named as foreign: showing its
// writer how numbers of region look would mislead. Anything else is shown how they look.
func NumberError(s, region string) *BadNumberError {
	e := &BadNumberError{Input: Clip(s), Region: region}
	if n, err := phonenumbers.Parse(stripSeparators(s), region); err == nil && n.GetCountryCodeSource() != phonenumbers.PhoneNumber_FROM_DEFAULT_COUNTRY {
		if cc := int(n.GetCountryCode()); cc != phonenumbers.GetCountryCodeForRegion(region) {
			e.CountryCode, e.Country = cc, phonenumbers.GetRegionCodeForNumber(n)
			if e.Country == "" || e.Country == "ZZ" {
				e.Country = phonenumbers.GetRegionCodeForCountryCode(cc)
			}
		}
	}
	return e
}

// BadNumberError is a number that cannot exist, as NumberError reads it. It is ErrNotMSISDN.
type BadNumberError struct {
	Input       string // as typed, clipped
	Region      string // the country national numbers are read in
	CountryCode int    // of a foreign number written in international form; 0 otherwise
	Country     string // its region, e.g. GB
}

func (e *BadNumberError) Error() string {
	if e.CountryCode != 0 {
		return fmt.Sprintf("phone number %q is foreign (+%d is %s, not %s) and not a valid %s number", e.Input, e.CountryCode, e.Country, e.Region, e.Country)
	}
	if intl, national := ExampleNumber(e.Region); intl != "" {
		return fmt.Sprintf("phone number %q is not a valid %s number (write it like %s or %s)", e.Input, e.Region, intl, national)
	}
	return fmt.Sprintf("phone number %q is not a valid %s number", e.Input, e.Region)
}

func (e *BadNumberError) Unwrap() error { return ErrNotMSISDN }

// ExampleNumber is how a mobile number of region is written, internationally and
// nationally: +33612345678 and 06 12 34 56 78 for FR ("" for a region phonenumbers lacks).
func ExampleNumber(region string) (intl, national string) {
	n := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
	if n == nil {
		return "", ""
	}
	return phonenumbers.Format(n, phonenumbers.E164), phonenumbers.Format(n, phonenumbers.NATIONAL)
}

// canonicalCache remembers numbers already read: phonenumbers costs tens of microseconds a
// number, and every SMS needs its sender's. Bounded: cleared when full.
var canonicalCache = struct {
	sync.Mutex
	m map[[2]string]string
}{m: map[[2]string]string{}}

const canonicalCacheMax = 1 << 16

// canonical parses and formats in E.164, accepting only numbers that can exist.
func canonical(s, region string) (string, error) {
	k := [2]string{s, region}
	canonicalCache.Lock()
	out, ok := canonicalCache.m[k]
	canonicalCache.Unlock()
	if ok {
		return out, nil
	}
	out, err := parseCanonical(s, region)
	if err != nil {
		return "", err
	}
	canonicalCache.Lock()
	if len(canonicalCache.m) >= canonicalCacheMax {
		clear(canonicalCache.m)
	}
	canonicalCache.m[k] = out
	canonicalCache.Unlock()
	return out, nil
}

func parseCanonical(s, region string) (string, error) {
	for _, r := range strings.TrimPrefix(s, "+") {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("%w: %q", ErrNotMSISDN, Clip(s))
		}
	}
	if region == "" && !strings.HasPrefix(s, "+") {
		return "", fmt.Errorf("%w: %q", ErrNotMSISDN, Clip(s))
	}
	n, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("%w: %q", ErrNotMSISDN, Clip(s))
	}
	out := phonenumbers.Format(n, phonenumbers.E164)
	if !IsMSISDN(out) {
		return "", fmt.Errorf("%w: %q", ErrNotMSISDN, Clip(s))
	}
	return out, nil
}

// IsMSISDN says whether s is in the canonical form: + and 8 to 15 digits, no leading zero.
func IsMSISDN(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// SMPPAddress is how mpg writes a canonical number as a destination: international digits
// without '+', TON 1, NPI 1 (E.164), as SMSCs expect.
func SMPPAddress(msisdn string) (addr string, ton, npi uint8) {
	if IsMSISDN(msisdn) {
		return msisdn[1:], TONInternational, 1
	}
	return msisdn, TONUnknown, 1
}

// Mask hides the middle of a number for the other party of a payment: +336****678.
func Mask(msisdn string) string {
	if len(msisdn) < 8 {
		return msisdn
	}
	return msisdn[:4] + "****" + msisdn[len(msisdn)-3:]
}

// MaskIP hides most of a browser's address for a merchant: an IPv4 address's last octet
// (192.0.2.x), an IPv6 address's all but its first three groups (2001:db8:1::x). Text that
// is not an address is hidden whole.
func MaskIP(ip string) string {
	a, err := netip.ParseAddr(ip)
	switch {
	case ip == "":
		return ""
	case err != nil:
		return "x"
	case a.Unmap().Is4():
		b := a.Unmap().As4()
		return fmt.Sprintf("%d.%d.%d.x", b[0], b[1], b[2])
	}
	b := a.As16()
	return fmt.Sprintf("%x:%x:%x::x", uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|uint16(b[3]), uint16(b[4])<<8|uint16(b[5]))
}

// Clip cuts what a user typed to 20 characters before it is quoted back in an error.
func Clip(s string) string {
	if utf8.RuneCountInString(s) > 20 {
		return string([]rune(s)[:20]) + "…"
	}
	return s
}

// ErrNoPerson: a number mpg holds nothing about (never seen, or erased already).
var ErrNoPerson = errors.New("mpg holds nothing about this number (never seen, or erased already)")
