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
