package commands

import (
	"strings"
)

// Masked replaces a PIN in redacted text.
const Masked = "****"

// Redact returns text with every PIN masked, for logs and storage. It masks the PIN
// positions of the command the text looks like (even when the rest does not parse) and,
// to be safe with anything malformed, every word of 4 to 6 digits. It over-masks (an amount
// such as 1500 is masked too) rather than ever letting a PIN through.
func Redact(text string) string {
	type span struct{ start, end int }
	var spans []span
	start := -1
	for i, r := range text {
		sep := isSep(r)
		if !sep && start < 0 {
			start = i
		}
		if sep && start >= 0 {
			spans = append(spans, span{start, i})
			start = -1
		}
	}
	if start >= 0 {
		spans = append(spans, span{start, len(text)})
	}
	if len(spans) == 0 {
		return text
	}
	mask := make([]bool, len(spans))
	last := len(spans) - 1
	if kw, ok := keywords[strings.ToUpper(text[spans[0].start:spans[0].end])]; ok && last > 0 {
		// A PIN in a position is masked whatever it looks like (a mistyped "12a4" too).
		switch kw.kind {
		case Reg:
			mask[1] = true
		case PIN:
			for i := 1; i <= last && i <= 2; i++ {
				mask[i] = true
			}
		case Bal, Mini, Pay, Bill, Send, Debit, Credit, Repay, Data, Stats, Settings, Every, Orders, StopOrder, ConfirmBy:
			mask[last] = true
		}
	}
	var b strings.Builder
	prev := 0
	for i, sp := range spans {
		b.WriteString(text[prev:sp.start])
		if mask[i] {
			b.WriteString(Masked)
		} else {
			b.WriteString(text[sp.start:sp.end])
		}
		prev = sp.end
	}
	b.WriteString(text[prev:])
	return MaskDigits(b.String())
}

// MaskDigits masks every run of 4 to 6 digits, wherever it stands: alone, glued to a word
// ("REG1234"), after a colon ("BAL:1234"). Longer runs (phone numbers) and shorter ones
// stay. Replies pass what a subscriber typed through it, so no PIN is ever echoed.
func MaskDigits(s string) string {
	var b strings.Builder
	run := 0
	flush := func(end int) {
		if run >= 4 && run <= 6 {
			b.WriteString(Masked)
		} else {
			b.WriteString(s[end-run : end])
		}
		run = 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		if run > 0 {
			flush(i)
		}
		b.WriteByte(s[i])
	}
	if run > 0 {
		flush(len(s))
	}
	return b.String()
}
