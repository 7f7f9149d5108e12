package main

import (
	"strings"
	"unicode"

	"mpg/domain"
)

// maskArgs is an operator command as the log may keep it: numbers and IBANs masked, names
// dropped (a log is not where a person's data lives).
func maskArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = maskArg(a)
	}
	return out
}

func maskArg(a string) string {
	if k, _, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "--") && (k == "--name" || k == "--phone" || k == "--iban" || k == "--holder" || k == "--password-hash") {
		return k + "=…"
	}
	if i := strings.LastIndex(a, "@"); i > 0 { // an e-mail address: its domain only
		return "…" + a[i:]
	}
	digits := 0
	for _, r := range a {
		if unicode.IsDigit(r) {
			digits++
		}
	}
	if digits < 7 || strings.Contains(a, "/") { // a path, not a person
		return a
	}
	compact := strings.ReplaceAll(a, " ", "")
	if len(compact) > 4 && unicode.IsLetter(rune(compact[0])) && unicode.IsLetter(rune(compact[1])) {
		return domain.MaskIBAN(compact)
	}
	return domain.Mask(compact)
}

// keyword is what the log keeps of an SMS: its first word up to any digit, clipped (the
// rest may carry a PIN, a number, a name or a code; "BAL:1234" and "BAL1234" keep "BAL").
func keyword(text string) string {
	f := strings.FieldsFunc(text, func(r rune) bool { return unicode.IsSpace(r) || r == '*' || r == ':' || r == ';' })
	if len(f) == 0 {
		return ""
	}
	w := f[0]
	if i := strings.IndexFunc(w, unicode.IsDigit); i >= 0 {
		w = w[:i]
	}
	return domain.Clip(w)
}
