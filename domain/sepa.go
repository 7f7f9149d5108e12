package domain

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Merchants are paid into their bank accounts by SEPA credit transfers: the engine says what a
// file must hold with these types, the settlement room writes and reads the files.

// ErrNotEUR: a SEPA credit transfer is in euros only, so mpg cannot settle another currency.
var ErrNotEUR = errors.New("settlement: SEPA credit transfers (pain.001) are in EUR only")

// MaxSEPATransfers bounds the credit transfers of one file (one payout per merchant).
const MaxSEPATransfers = 50

// SEPAParty is an account holder: the operator's account the transfers are paid from.
type SEPAParty struct {
	Name string
	IBAN string
	BIC  string // optional
}

// SEPATransfer is one credit transfer: one merchant's payout.
type SEPATransfer struct {
	EndToEndID  string // the payout's id: the merchant's bank shows it to him
	AmountMinor uint64 // euro cents
	Name        string // the account holder
	IBAN        string
	BIC         string // optional
	Remittance  string // what the merchant reads on his statement
}

// SEPAFile is one credit transfer initiation: its id, when, who pays and the transfers.
type SEPAFile struct {
	MsgID     string
	Created   time.Time
	Execution time.Time // the requested execution date (its day only)
	Currency  string
	Initiator string // the name the bank knows the sender by ("": the debtor's)
	Debtor    SEPAParty
	Transfers []SEPATransfer
}

// Sum is the total of the file's transfers in cents (its control sum).
func (f SEPAFile) Sum() uint64 {
	var s uint64
	for _, t := range f.Transfers {
		s += t.AmountMinor
	}
	return s
}

// Outcome is what the bank's status report says of one transfer.
type Outcome uint8

const (
	// OutcomeOpen: the bank has not said it is settled or rejected (received, accepted,
	// pending): the payout stays issued, never guessed either way.
	OutcomeOpen Outcome = iota
	OutcomePaid
	OutcomeRejected
)

// Verdict is a status the bank gave (Code "" : none given) and the reason with it.
type Verdict struct {
	Outcome Outcome
	Code    string
	Reason  string
}

// TxVerdict is the status of one transfer of a payment block.
type TxVerdict struct {
	PmtInfID   string
	EndToEndID string
	Verdict
}

// StatusReport is the bank's answer to a file: the whole file's status, each payment
// block's, each transfer's.
type StatusReport struct {
	MsgID     string // the report's own id
	OrigMsgID string // the file it answers
	Group     Verdict
	Blocks    map[string]Verdict
	Txs       []TxVerdict
}

// OutcomeOf is what the report says of the transfer endToEnd in the block pmtInfID: its own
// status if it has one, else its block's, else the whole file's; with the reason that went
// with the status that decided.
func (r StatusReport) OutcomeOf(pmtInfID, endToEnd string) (Outcome, string) {
	for _, t := range r.Txs {
		if t.EndToEndID == endToEnd && t.PmtInfID == pmtInfID && t.Code != "" {
			return t.Outcome, t.Reason
		}
	}
	if v, ok := r.Blocks[pmtInfID]; ok && v.Code != "" {
		return v.Outcome, v.Reason
	}
	return r.Group.Outcome, r.Group.Reason
}

var bicForm = regexp.MustCompile(`^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$`)

// ParseBIC checks a BIC as ISO 9362 writes it (8 or 11 characters) and returns it in capitals.
func ParseBIC(s string) (string, error) {
	b := strings.ToUpper(strings.TrimSpace(s))
	if !bicForm.MatchString(b) {
		return "", fmt.Errorf("BIC %q: want 8 or 11 letters and digits (bank, country, place, branch)", s)
	}
	return b, nil
}

// latin maps the accented Latin letters names carry to the basic ones of the SEPA character
// set (the EPC's conversion table, for the letters of the languages mpg serves).
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
