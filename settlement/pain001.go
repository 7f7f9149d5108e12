// Package settlement writes and reads the files mpg exchanges with the operator's bank to pay
// merchants what they are owed: ISO 20022 pain.001.001.03 credit transfer initiations (SEPA)
// out, pain.002.001.03 payment status reports in. It knows files, not the ledger: the engine
// gives it what a file must say and takes back what a report said.
package settlement

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// Limits of one file.
const (
	// MaxTransfers bounds the credit transfers of one file (one payout per merchant).
	MaxTransfers = 50
	// maxID is the longest identifier the standard allows (Max35Text).
	maxID = 35
	// maxName is the longest name SEPA allows (the schema allows 140).
	maxName = 70
	// maxRemittance is the unstructured remittance SEPA allows.
	maxRemittance = 140
)

// ErrNotEUR: a SEPA credit transfer is in euros only, so mpg cannot settle in another currency.
var ErrNotEUR = errors.New("settlement: SEPA credit transfers (pain.001) are in EUR only")

// Party is the operator's account the transfers are paid from (the debtor).
type Party struct {
	Name string
	IBAN string
	BIC  string // optional: "" writes NOTPROVIDED, as SEPA allows
}

// Transfer is one credit transfer: one merchant's payout.
type Transfer struct {
	EndToEndID  string // the payout's id: the merchant's bank shows it to him
	AmountMinor uint64 // euro cents
	Name        string // the merchant's account holder
	IBAN        string
	BIC         string // optional
	Remittance  string // what the merchant reads on his statement
}

// File is one pain.001 message: a group header and one payment information block.
type File struct {
	MsgID     string
	Created   time.Time
	Execution time.Time // the requested execution date (its day only)
	Currency  string
	Initiator string // the initiating party's name (the operator)
	Debtor    Party
	Transfers []Transfer
}

// Sum is the total of the file's transfers in cents (its CtrlSum).
func (f File) Sum() uint64 {
	var s uint64
	for _, t := range f.Transfers {
		s += t.AmountMinor
	}
	return s
}

var (
	bicForm  = regexp.MustCompile(`^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$`)
	ibanForm = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Za-z0-9]{1,30}$`)
	// idForm is what SEPA allows in an identifier: its characters, no leading or double slash.
	idForm = regexp.MustCompile(`^[A-Za-z0-9?:().,'+-][A-Za-z0-9/?:().,'+-]*$`)
)

// CheckBIC says whether s is a BIC as ISO 9362 writes it (8 or 11 characters).
func CheckBIC(s string) error {
	if !bicForm.MatchString(s) {
		return fmt.Errorf("BIC %q: want 8 or 11 letters and digits (bank, country, place, branch)", s)
	}
	return nil
}

// CheckID says whether s can be a SEPA identifier (MsgId, PmtInfId, EndToEndId).
func CheckID(s string) error {
	if len(s) == 0 || len(s) > maxID || !idForm.MatchString(s) {
		return fmt.Errorf("identifier %q: 1 to %d SEPA characters", s, maxID)
	}
	return nil
}

func (f File) check() error {
	if f.Currency != "EUR" {
		return fmt.Errorf("%w (this one is in %q)", ErrNotEUR, f.Currency)
	}
	if n := len(f.Transfers); n == 0 || n > MaxTransfers {
		return fmt.Errorf("settlement: a file has 1 to %d transfers, not %d", MaxTransfers, n)
	}
	if err := CheckID(f.MsgID); err != nil {
		return err
	}
	if err := checkParty(f.Debtor.Name, f.Debtor.IBAN, f.Debtor.BIC); err != nil {
		return fmt.Errorf("debtor: %w", err)
	}
	seen := map[string]bool{}
	for _, t := range f.Transfers {
		if err := CheckID(t.EndToEndID); err != nil || seen[t.EndToEndID] {
			return fmt.Errorf("transfer %q: EndToEndId missing, malformed or repeated", t.EndToEndID)
		}
		seen[t.EndToEndID] = true
		if t.AmountMinor == 0 || t.AmountMinor > 99999999999 {
			return fmt.Errorf("transfer %s: amount 0.01 to 999999999.99 EUR", t.EndToEndID)
		}
		if err := checkParty(t.Name, t.IBAN, t.BIC); err != nil {
			return fmt.Errorf("transfer %s: %w", t.EndToEndID, err)
		}
	}
	return nil
}

func checkParty(name, iban, bic string) error {
	if SEPAText(name, maxName) == "" {
		return errors.New("no name")
	}
	if !ibanForm.MatchString(iban) {
		return errors.New("IBAN malformed")
	}
	if bic != "" {
		return CheckBIC(bic)
	}
	return nil
}

// Amount writes cents as the standard's decimal: 1250 is 12.50.
func Amount(minor uint64) string {
	return strconv.FormatUint(minor/100, 10) + "." + fmt.Sprintf("%02d", minor%100)
}

// Encode writes the file as pain.001.001.03 XML, SEPA rules applied: EUR, service level
// SEPA, charges shared (SLEV), names and remittance in SEPA characters.
func (f File) Encode() ([]byte, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	sum := Amount(f.Sum())
	n := strconv.Itoa(len(f.Transfers))
	doc := document{Xmlns: namespace001, Initn: initiation{
		Header: groupHeader{MsgID: f.MsgID, Created: f.Created.UTC().Format("2006-01-02T15:04:05"), NbOfTxs: n, CtrlSum: sum,
			Initiator: party{Name: SEPAText(cmpOr(f.Initiator, f.Debtor.Name), maxName)}},
		Info: paymentInfo{ID: f.MsgID + "-1", Method: "TRF", NbOfTxs: n, CtrlSum: sum, Type: &paymentType{Level: code{"SEPA"}},
			Execution: f.Execution.Format("2006-01-02"), Debtor: party{Name: SEPAText(f.Debtor.Name, maxName)},
			DebtorAcct: account{IBAN: f.Debtor.IBAN}, DebtorAgt: agentOf(f.Debtor.BIC), Charges: "SLEV"},
	}}
	for _, t := range f.Transfers {
		tx := transaction{ID: paymentID{EndToEnd: t.EndToEndID}, Amount: amountOf{Value: Amount(t.AmountMinor), Ccy: "EUR"},
			Creditor: party{Name: SEPAText(t.Name, maxName)}, CreditorAcct: account{IBAN: t.IBAN}}
		if t.BIC != "" {
			a := agentOf(t.BIC)
			tx.CreditorAgt = &a
		}
		if r := SEPAText(t.Remittance, maxRemittance); r != "" {
			tx.Remittance = &remittance{Text: r}
		}
		doc.Initn.Info.Txs = append(doc.Initn.Info.Txs, tx)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func agentOf(bic string) agent {
	if bic == "" {
		return agent{Inst: institution{Other: &other{ID: "NOTPROVIDED"}}}
	}
	return agent{Inst: institution{BIC: bic}}
}

// Write puts data in dir under name the safe way: a temporary file in the same directory,
// written, synced, renamed over the name, and the directory synced, so a reader (or a crash)
// sees the whole file or none of it. It returns the file's path.
func Write(dir, name string, data []byte) (string, error) {
	if name != filepath.Base(name) || name == "." || name == ".." {
		return "", fmt.Errorf("settlement: file name %q", name)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // gone once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	d, err := os.Open(dir)
	if err != nil {
		return "", err
	}
	defer d.Close()
	return path, d.Sync()
}
