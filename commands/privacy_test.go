package commands

import "testing"

func TestParseData(t *testing.T) {
	for text, lang := range map[string]Lang{"DATA 1234": EN, "donnees 1234": FR, "DONNÉES 1234": FR, "数据 1234": ZH} {
		c, err := Parse(text, Options{Currency: "EUR", Exponent: 2, Region: "FR"})
		if err != nil || c.Kind != Data || c.Lang != lang || c.PIN != "1234" {
			t.Errorf("%q: %+v %v", text, c, err)
		}
		if got := Redact(text); got == text {
			t.Errorf("%q: the PIN is not redacted", text)
		}
	}
	if _, err := Parse("DATA", Options{Currency: "EUR"}); err == nil {
		t.Error("DATA without a PIN parsed")
	}
}

func TestStopWords(t *testing.T) {
	cases := []struct {
		text string
		on   bool
		lang Lang
		ok   bool
	}{
		{"STOP", false, EN, true}, {" stop\n", false, EN, true}, {"START", true, EN, true},
		{"ARRET", false, FR, true}, {"arrêt", false, FR, true}, {"退订", false, ZH, true}, {"订阅", true, ZH, true},
		{"UNSUBSCRIBE", false, EN, true}, {"end", false, EN, true}, {" Quit ", false, EN, true}, {"CANCEL", false, EN, true},
		{"CANCEL 1234", false, EN, false}, {"END NOW", false, EN, false}, {"QUITS", false, EN, false}, {"UN SUBSCRIBE", false, EN, false},
		{"STOP 1234", false, EN, false}, {"PROMO OFF", false, EN, false}, {"STOPP", false, EN, false},
	}
	for _, c := range cases {
		on, l, _, ok := StopWord(c.text)
		if ok != c.ok || (ok && (on != c.on || l != c.lang)) {
			t.Errorf("%q: on=%v lang=%v ok=%v", c.text, on, l, ok)
		}
	}
}
