package ledger

import (
	"fmt"
	"strconv"
	"strings"
)

// exponents are the ISO 4217 minor-unit digits of the currencies mpg knows.
var exponents = map[string]uint8{
	"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "CNY": 2, "INR": 2, "KES": 2, "NGN": 2,
	"GHS": 2, "ZAR": 2, "TZS": 2, "MAD": 2, "EGP": 2, "PHP": 2, "BRL": 2,
	"XOF": 0, "XAF": 0, "JPY": 0, "KRW": 0, "UGX": 0, "RWF": 0, "GNF": 0, "VND": 0,
	"BHD": 3, "KWD": 3, "TND": 3,
}

// Exponent returns the number of decimals of a currency code, or an error for an unknown one.
func Exponent(currency string) (uint8, error) {
	e, ok := exponents[currency]
	if !ok {
		return 0, fmt.Errorf("unknown currency %q", currency)
	}
	return e, nil
}

// FormatAmount writes minor units with the currency's decimals: 1250 EUR is "12.50 EUR".
func FormatAmount(minor uint64, currency string) string {
	e := exponents[currency]
	return FormatMinor(minor, e) + " " + currency
}

// FormatMinor writes minor units with e decimals.
func FormatMinor(minor uint64, e uint8) string {
	s := strconv.FormatUint(minor, 10)
	if e == 0 {
		return s
	}
	for len(s) <= int(e) {
		s = "0" + s
	}
	return s[:len(s)-int(e)] + "." + s[len(s)-int(e):]
}

// ParseAmount reads "12", "12.5", "12.50" or "12,50" into minor units of the currency.
// More decimals than the currency has, signs, and overflow are errors.
func ParseAmount(s, currency string) (uint64, error) {
	e, err := Exponent(currency)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(strings.Replace(s, ",", ".", 1))
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || !digitsOnly(whole) || (hasFrac && (frac == "" || !digitsOnly(frac))) {
		return 0, fmt.Errorf("amount %q: want digits like 12 or 12.50", s)
	}
	if len(frac) > int(e) {
		return 0, fmt.Errorf("amount %q: %s has %d decimals", s, currency, e)
	}
	frac += strings.Repeat("0", int(e)-len(frac))
	v, err := strconv.ParseUint(whole+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	if v == 0 {
		return 0, fmt.Errorf("amount %q must be positive", s)
	}
	return v, nil
}

func digitsOnly(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
