package commands

import (
	"strings"
	"unicode"
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
		sep := unicode.IsSpace(r) || r == '*'
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
		switch kw.kind {
		case Reg:
			mask[1] = true
		case PIN:
			for i := 1; i <= last && i <= 2; i++ {
				mask[i] = true
			}
		case Bal, Mini, Pay, Bill, Send, Debit, Credit, Repay:
			mask[last] = true
		}
	}
	for i, sp := range spans {
		if w := text[sp.start:sp.end]; len(w) >= 4 && len(w) <= 6 && digits(w) {
			mask[i] = true
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
	return b.String()
}
