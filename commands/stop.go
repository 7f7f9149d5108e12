package commands

import "strings"

// stopWords are the one-word SMS that switch marketing off or on at once, whatever else the
// subscriber has set: the words carriers and regulators expect (STOP and its usual English
// synonyms), read before the parser and needing no PIN (SPEC.md: STOP / START). Only the
// word alone counts: "CANCEL 1234" or "STOP PLEASE" go to the parser.
var stopWords = map[string]struct {
	on   bool
	lang Lang
}{
	"STOP": {false, EN}, "START": {true, EN},
	"UNSUBSCRIBE": {false, EN}, "END": {false, EN}, "QUIT": {false, EN}, "CANCEL": {false, EN},
	"ARRET": {false, FR}, "ARRÊT": {false, FR},
	"退订": {false, ZH}, "订阅": {true, ZH},
}

// StopWord reads a one-word marketing switch: ok is false for any other text. word is the
// keyword as mpg knows it (upper case), for the consent record.
func StopWord(text string) (on bool, l Lang, word string, ok bool) {
	w := strings.ToUpper(strings.TrimSpace(text))
	sw, ok := stopWords[w]
	if !ok {
		return false, EN, "", false
	}
	return sw.on, sw.lang, w, true
}
