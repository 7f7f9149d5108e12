package main

import (
	"testing"

	"mpg/commands"
	"mpg/smpp"
)

// Every reply, at its longest, goes out in GSM-7 for English and French (one SMS holds 160
// characters instead of 70) and fits the 3-part cap in every language. This check lives here
// because it joins two rooms: commands writes the texts, smpp encodes them.
func TestRepliesFitTheirEncodingAndPartCap(t *testing.T) {
	for _, r := range commands.Catalogue() {
		parts, err := smpp.Split(r.Text, 1, 3)
		if err != nil {
			t.Errorf("reply %d %s does not fit 3 parts: %v (%d bytes)", r.Reply, r.Lang, err, len(r.Text))
			continue
		}
		if r.Lang == commands.FR && r.Reply == commands.RLangSet && len(parts) == 1 {
			continue // "désormais en français": its ç is not GSM-7, and one UCS-2 SMS holds it
		}
		if r.Lang != commands.ZH {
			if _, err := smpp.EncodeGSM7(r.Text); err != nil {
				t.Errorf("reply %d %s is not GSM-7: %v", r.Reply, r.Lang, err)
			}
		}
		if len(parts) > 1 && (r.Reply == commands.RPaid || r.Reply == commands.RBalance || r.Reply == commands.RWrongPIN) && r.Lang != commands.ZH {
			t.Errorf("reply %d %s takes %d SMS; the everyday replies must fit one", r.Reply, r.Lang, len(parts))
		}
	}
}

// SETTINGS with every preference set, a line each, fits the part cap in each language and
// stays GSM-7 in English and French.
func TestSettingsFitTheirEncodingAndPartCap(t *testing.T) {
	p := commands.Preferences{Offers: true, Receive: commands.ReceiveBank, Bank: "FR76 **** 0189", Orders: 5, Bills: 10, Voice: true}
	for _, l := range []commands.Lang{commands.EN, commands.FR, commands.ZH} {
		p.Lang = l
		text := commands.Render(l, commands.RSettings, commands.Args{Lines: commands.SettingsLines(l, p)})
		if _, err := smpp.Split(text, 1, 3); err != nil {
			t.Errorf("%v: %v: %q", l, err, text)
		}
		if _, err := smpp.EncodeGSM7(text); l != commands.ZH && err != nil {
			t.Errorf("%v is not GSM-7: %v: %q", l, err, text)
		}
	}
}
