package domain

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
	PointsAsset: 0,
}

// PointsAsset is the code of loyalty points in the ledger: an asset of its own, whole
// points, never money. Transfers never cross currencies, so points cannot be paid out, nor
// money paid in points, by mistake; only the engine's redemption turns points into a
// discount, at a merchant's rate, as two transfers in one job.
const PointsAsset = "PTS"

// Currencies lists the codes mpg knows.
func Currencies() []string {
	out := make([]string, 0, len(exponents))
	for k := range exponents {
		out = append(out, k)
	}
	return out
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
	return Money{Minor: minor, Currency: currency, Exponent: exponents[currency]}.Format('.')
}

// FormatAmountGrouped writes minor units for an operator, thousands grouped with commas:
// 191750 EUR is "1,917.50 EUR". SMS replies keep FormatAmount's plain form.
func FormatAmountGrouped(minor uint64, currency string) string {
	s := FormatMinor(minor, exponents[currency])
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return b.String() + " " + currency
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

// ParseAmountIn reads an amount in a currency's decimals ("12", "12.5", "12.50", "12,50").
func ParseAmountIn(s, currency string) (uint64, error) {
	e, err := Exponent(currency)
	if err != nil {
		return 0, err
	}
	return ParseAmount(strings.TrimSpace(s), e)
}

func digitsOnly(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Money is an amount with what it takes to write it.
type Money struct {
	Minor    uint64
	Currency string
	Exponent uint8
}

// ParseAmount reads "12", "12.5", "12.50" or "12,50" into minor units with e decimals.
// Signs, more decimals than e, zero, and overflow are errors.
func ParseAmount(s string, e uint8) (uint64, error) {
	if rest, neg := strings.CutPrefix(s, "-"); neg {
		if _, err := ParseAmount(rest, e); err == nil {
			return 0, fmt.Errorf("amount must be positive: %s", s)
		}
	}
	whole, frac, hasFrac := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	if whole == "" || !digitsOnly(whole) || (hasFrac && (frac == "" || !digitsOnly(frac))) {
		return 0, fmt.Errorf("amount %q: want digits like 12 or 12.50", s)
	}
	if len(frac) > int(e) {
		return 0, fmt.Errorf("amount %q: at most %d decimals", s, e)
	}
	v, err := strconv.ParseUint(whole+frac+strings.Repeat("0", int(e)-len(frac)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	if v == 0 {
		return 0, fmt.Errorf("amount must be positive: %s", s)
	}
	return v, nil
}

// Format writes the amount with the given decimal mark: "12.50 EUR", or "12,50 EUR".
func (m Money) Format(mark byte) string {
	s := FormatMinor(m.Minor, m.Exponent)
	if mark != '.' {
		s = strings.Replace(s, ".", string(mark), 1)
	}
	return s + " " + m.Currency
}
