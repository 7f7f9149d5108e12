// Package settlement writes and reads the files mpg exchanges with the operator's bank to pay
// merchants what they are owed: ISO 20022 pain.001.001.03 credit transfer initiations (SEPA)
// out, pain.002.001.03 payment status reports in. It knows files, not the ledger: the engine
// gives it what a file must say and takes back what a report said.
package settlement

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"mpg/domain"
)

// Limits of one file.
const (
	// maxID is the longest identifier the standard allows (Max35Text).
	maxID = 35
	// maxName is the longest name SEPA allows (the schema allows 140).
	maxName = 70
	// maxRemittance is the unstructured remittance SEPA allows.
	maxRemittance = 140
)

// ErrNotEUR: a SEPA file is in euros only.
var ErrNotEUR = domain.ErrNotEUR

// MaxTransfers bounds the credit transfers of one file.
const MaxTransfers = domain.MaxSEPATransfers

// File, Party and Transfer are what a pain.001 holds, as the engine says it.
type (
	File     = domain.SEPAFile
	Party    = domain.SEPAParty
	Transfer = domain.SEPATransfer
)

var (
	// idForm is what SEPA allows in an identifier: its characters, no leading or double slash.
	idForm = regexp.MustCompile(`^[A-Za-z0-9?:().,'+-][A-Za-z0-9/?:().,'+-]*$`)
)

// CheckBIC says whether s is a BIC as ISO 9362 writes it (8 or 11 characters), as the
// file carries it: domain.ParseBIC's form, already in capitals.
func CheckBIC(s string) error {
	b, err := domain.ParseBIC(s)
	if err == nil && b != s {
		err = fmt.Errorf("BIC %q: want it in capitals, without spaces", s)
	}
	return err
}

// CheckID says whether s can be a SEPA identifier (MsgId, PmtInfId, EndToEndId).
func CheckID(s string) error {
	if len(s) == 0 || len(s) > maxID || !idForm.MatchString(s) {
		return fmt.Errorf("identifier %q: 1 to %d SEPA characters", s, maxID)
	}
	return nil
}

func check(f File) error {
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
	if domain.SEPAText(name, maxName) == "" {
		return errors.New("no name")
	}
	if v, err := domain.ParseIBAN(iban); err != nil || v != iban {
		return errors.New("IBAN malformed")
	}
	if bic != "" {
		return CheckBIC(bic)
	}
	return nil
}

// Amount writes cents as the standard's decimal: 1250 is 12.50.
func Amount(minor uint64) string { return domain.FormatMinor(minor, 2) }

// Encode writes the file as pain.001.001.03 XML, SEPA rules applied: EUR, service level
// SEPA, charges shared (SLEV), names and remittance in SEPA characters.
func Encode(f File) ([]byte, error) {
	if err := check(f); err != nil {
		return nil, err
	}
	sum := Amount(f.Sum())
	n := strconv.Itoa(len(f.Transfers))
	doc := document{Xmlns: namespace001, Initn: initiation{
		Header: groupHeader{MsgID: f.MsgID, Created: f.Created.UTC().Format("2006-01-02T15:04:05"), NbOfTxs: n, CtrlSum: sum,
			Initiator: party{Name: domain.SEPAText(cmp.Or(f.Initiator, f.Debtor.Name), maxName)}},
		Info: paymentInfo{ID: f.MsgID + "-1", Method: "TRF", NbOfTxs: n, CtrlSum: sum, Type: &paymentType{Level: code{"SEPA"}},
			Execution: f.Execution.Format("2006-01-02"), Debtor: party{Name: domain.SEPAText(f.Debtor.Name, maxName)},
			DebtorAcct: account{IBAN: f.Debtor.IBAN}, DebtorAgt: agentOf(f.Debtor.BIC), Charges: "SLEV"},
	}}
	for _, t := range f.Transfers {
		tx := transaction{ID: paymentID{EndToEnd: t.EndToEndID}, Amount: amountOf{Value: Amount(t.AmountMinor), Ccy: "EUR"},
			Creditor: party{Name: domain.SEPAText(t.Name, maxName)}, CreditorAcct: account{IBAN: t.IBAN}}
		if t.BIC != "" {
			a := agentOf(t.BIC)
			tx.CreditorAgt = &a
		}
		if r := domain.SEPAText(t.Remittance, maxRemittance); r != "" {
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

// Files is the settlement room as the engine uses it (engine.SettlementFiles).
type Files struct{}

// WriteInitiation encodes a file as pain.001 and writes it into dir as <MsgId>.xml.
func (Files) WriteInitiation(dir string, f File) (string, error) {
	data, err := Encode(f)
	if err != nil {
		return "", err
	}
	return Write(dir, f.MsgID+".xml", data)
}

// ReadStatus reads a pain.002 status report.
func (Files) ReadStatus(in io.Reader) (domain.StatusReport, error) { return ParseReport(in) }
