package settlement

import "strings"

// latin maps the accented Latin letters merchants' names carry to the basic ones the SEPA
// character set has (the EPC's conversion table, for the letters of the languages mpg serves).
var latin = map[rune]string{
	'À': "A", 'Á': "A", 'Â': "A", 'Ã': "A", 'Ä': "A", 'Å': "A", 'Æ': "AE", 'Ç': "C", 'È': "E", 'É': "E", 'Ê': "E", 'Ë': "E",
	'Ì': "I", 'Í': "I", 'Î': "I", 'Ï': "I", 'Ð': "D", 'Ñ': "N", 'Ò': "O", 'Ó': "O", 'Ô': "O", 'Õ': "O", 'Ö': "O", 'Ø': "O",
	'Ù': "U", 'Ú': "U", 'Û': "U", 'Ü': "U", 'Ý': "Y", 'Þ': "TH", 'ß': "ss", 'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a",
	'å': "a", 'æ': "ae", 'ç': "c", 'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ì': "i", 'í': "i", 'î': "i", 'ï': "i", 'ð': "d",
	'ñ': "n", 'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ø': "o", 'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ý': "y",
	'þ': "th", 'ÿ': "y", 'Œ': "OE", 'œ': "oe", 'Š': "S", 'š': "s", 'Ž': "Z", 'ž': "z", 'Ÿ': "Y", 'Ł': "L", 'ł': "l",
	'&': "+", '’': "'", '‘': "'", '«': "'", '»': "'", '"': "'", '–': "-", '—': "-", '_': "-", '@': "(at)",
}

// sepaKept says whether r is in the SEPA character set as it stands.
func sepaKept(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-?:().,'+ ", r)
}

// SEPAText is s in SEPA characters, at most max bytes: accented letters lose their accents,
// a few signs become their SEPA stand-ins, anything else (Chinese, emoji) is dropped, and runs
// of spaces shrink to one. It may be "" when nothing of s is left.
func SEPAText(s string, max int) string {
	var b strings.Builder
	space := true // no leading space
	for _, r := range s {
		out := ""
		switch {
		case sepaKept(r):
			out = string(r)
		case latin[r] != "":
			out = latin[r]
		case r == '\t' || r == '\n' || r == '\r':
			out = " "
		}
		if out == " " && space {
			continue
		}
		if out != "" {
			space = out == " "
			b.WriteString(out)
		}
	}
	t := b.String()
	if len(t) > max {
		t = t[:max]
	}
	return strings.TrimSpace(t)
}
