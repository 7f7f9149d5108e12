package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestSenderFromSMPPAddress(t *testing.T) {
	for _, c := range []struct {
		addr string
		ton  uint8
		want string
	}{
		{"33611110001", TONInternational, "+33611110001"}, // what real SMSCs send
		{"+33611110001", TONInternational, "+33611110001"},
		{"0611110001", TONNational, "+33611110001"},
		{"611110001", TONNational, "+33611110001"},
		{"0611110001", TONUnknown, "+33611110001"},
		{"33611110001", TONUnknown, "+33611110001"},
		{"+33611110001", TONUnknown, "+33611110001"},
		{"447911123456", TONInternational, "+447911123456"},
		{"8613812345678", TONInternational, "+8613812345678"},
		{"0611110001", TONSubscriber, "+33611110001"},
		{"0033611110001", TONInternational, "+33611110001"}, // mislabelled: 00 with TON 1
		{"0611110001", TONInternational, "+33611110001"},    // mislabelled: national with TON 1
		{"33611110001", TONNational, "+33611110001"},        // mislabelled: international with TON 2
	} {
		got, err := Sender(c.addr, c.ton, "FR")
		if err != nil || got != c.want {
			t.Errorf("Sender(%q, TON %d) = %q, %v; want %q", c.addr, c.ton, got, err, c.want)
		}
	}
	for _, c := range []struct {
		addr string
		ton  uint8
	}{
		{"@float", TONUnknown}, {"@float", TONAlphanumeric}, {"MYBANK", TONAlphanumeric},
		{"", TONInternational}, {"1234567890123456789012", TONInternational}, {"12", TONInternational},
		{"33611110001", TONAlphanumeric}, {"+33 6 11", TONUnknown}, {"3361111000199999", TONInternational},
	} {
		if got, err := Sender(c.addr, c.ton, "FR"); !errors.Is(err, ErrNotMSISDN) {
			t.Errorf("Sender(%q, TON %d) = %q, %v; want ErrNotMSISDN", c.addr, c.ton, got, err)
		}
	}
}

func TestParseMSISDNAsPeopleType(t *testing.T) {
	for _, in := range []string{"+33611110001", "0033611110001", "0611110001", "06 11 11 00 01", "06.11.11.00.01", "33611110001", "+33 6 11 11 00 01"} {
		if got, err := ParseMSISDN(in, "FR"); err != nil || got != "+33611110001" {
			t.Errorf("ParseMSISDN(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"SHOP42", "@float", "1234", "", "+0611110001"} {
		if got, err := ParseMSISDN(in, "FR"); err == nil {
			t.Errorf("ParseMSISDN(%q) = %q, want an error", in, got)
		}
	}
}

// TestNumberErrorNamesForeignNumbers: a number of another country that cannot exist is
// called foreign, not shown how French numbers are written; a bad national one is.
func TestNumberErrorNamesForeignNumbers(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"+447700900123", `phone number "+447700900123" is foreign (+44 is GB, not FR) and not a valid GB number`},
		{"0044 7700 900123", `phone number "0044 7700 900123" is foreign (+44 is GB, not FR) and not a valid GB number`},
		{"+1 555 0100", `phone number "+1 555 0100" is foreign (+1 is US, not FR) and not a valid US number`},
		{"0612", `phone number "0612" is not a valid FR number (write it like +33612345678 or 06 12 34 56 78)`},
		{"+3361234", `phone number "+3361234" is not a valid FR number (write it like +33612345678 or 06 12 34 56 78)`},
		{"SHOP42", `phone number "SHOP42" is not a valid FR number (write it like +33612345678 or 06 12 34 56 78)`},
	} {
		if _, err := ParseMSISDN(c.in, "FR"); err == nil {
			t.Fatalf("ParseMSISDN(%q) took it", c.in)
		}
		var err error = NumberError(c.in, "FR")
		if !errors.Is(err, ErrNotMSISDN) || err.Error() != c.want {
			t.Errorf("NumberError(%q) = %v\n want %s", c.in, err, c.want)
		}
	}
	if err := NumberError("07700 900123", "GB"); err == nil || strings.Contains(err.Error(), "foreign") {
		t.Errorf("a bad national number of the region itself: %v", err)
	}
}

func TestMaskIP(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1": "192.0.2.x", "::ffff:198.51.100.7": "198.51.100.x", "2001:db8:1:2::5": "2001:db8:1::x",
		"": "", "not an address": "x",
	} {
		if got := MaskIP(in); got != want {
			t.Errorf("MaskIP(%q) = %q, want %q", in, got, want)
		}
	}
}
