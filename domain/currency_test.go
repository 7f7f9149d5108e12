package domain

import (
	"strings"
	"testing"
)

func TestFormatAmountGroupedForOperators(t *testing.T) {
	for _, c := range []struct {
		minor    uint64
		currency string
		want     string
	}{
		{0, "EUR", "0.00 EUR"},
		{5, "EUR", "0.05 EUR"},
		{99950, "EUR", "999.50 EUR"},
		{191750, "EUR", "1,917.50 EUR"},
		{123456789, "EUR", "1,234,567.89 EUR"},
		{1000000, "XOF", "1,000,000 XOF"},
		{100, "XOF", "100 XOF"},
		{1234567, "KWD", "1,234.567 KWD"},
	} {
		if got := FormatAmountGrouped(c.minor, c.currency); got != c.want {
			t.Errorf("FormatAmountGrouped(%d, %s) = %q, want %q", c.minor, c.currency, got, c.want)
		}
	}
}

func TestParseAmountSaysNegativeAndZeroAreNotPositive(t *testing.T) {
	for _, s := range []string{"-5", "-12.50", "-0,5", "0", "0.00"} {
		_, err := ParseAmount(s, 2)
		if err == nil || err.Error() != "amount must be positive: "+s {
			t.Errorf("ParseAmount(%q): %v", s, err)
		}
	}
	for _, s := range []string{"-", "--5", "-5x", "-1.234"} {
		if _, err := ParseAmount(s, 2); err == nil || strings.Contains(err.Error(), "positive") {
			t.Errorf("ParseAmount(%q): %v, want the form's error", s, err)
		}
	}
}
