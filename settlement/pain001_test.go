package settlement_test

import (
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mpg/domain"
	"mpg/settlement"
	"mpg/settlement/settlementtest"
)

func sampleFile() settlement.File {
	at := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	return settlement.File{MsgID: "MPG20261125180000-0a1b2c3d", Created: at, Execution: at, Currency: "EUR", Initiator: "Opérateur Mobile",
		Debtor: settlement.Party{Name: "Opérateur Mobile SA", IBAN: "FR7630006000011234567890189", BIC: "AGRIFRPP"},
		Transfers: []settlement.Transfer{
			{EndToEndID: "MPG20261125-SHOP42", AmountMinor: 1250, Name: "Crêperie Zoé & Fils", IBAN: "DE89370400440532013000", BIC: "COBADEFFXXX", Remittance: "mpg payout MPG20261125-SHOP42"},
			{EndToEndID: "MPG20261125-CAFE7", AmountMinor: 99999, Name: "咖啡 Café", IBAN: "FR1420041010050500013M02606"},
		}}
}

// The file mpg writes is valid against the ISO 20022 schema, as xmllint (not mpg) checks it,
// and its header's count and control sum are its transfers'.
func TestPain001ValidatesWithXmllint(t *testing.T) {
	f := sampleFile()
	b, err := settlement.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	path, err := settlement.Write(t.TempDir(), f.MsgID+".xml", b)
	if err != nil {
		t.Fatal(err)
	}
	settlementtest.Validate(t, path)
	var doc struct {
		Hdr struct {
			N   int    `xml:"NbOfTxs"`
			Sum string `xml:"CtrlSum"`
		} `xml:"CstmrCdtTrfInitn>GrpHdr"`
		Svc  string   `xml:"CstmrCdtTrfInitn>PmtInf>PmtTpInf>SvcLvl>Cd"`
		Amts []string `xml:"CstmrCdtTrfInitn>PmtInf>CdtTrfTxInf>Amt>InstdAmt"`
		Nms  []string `xml:"CstmrCdtTrfInitn>PmtInf>CdtTrfTxInf>Cdtr>Nm"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Hdr.N != 2 || doc.Hdr.Sum != "1012.49" || doc.Svc != "SEPA" || strings.Join(doc.Amts, " ") != "12.50 999.99" {
		t.Fatalf("header %+v, service %q, amounts %q", doc.Hdr, doc.Svc, doc.Amts)
	}
	if strings.Join(doc.Nms, "|") != "Creperie Zoe + Fils|Cafe" {
		t.Fatalf("names not in SEPA characters: %q", doc.Nms)
	}
}

// A SEPA file is in euros: another currency is refused with a clear error, and a file with
// a repeated EndToEndId, a bad BIC or no transfer is never written.
func TestPain001Refusals(t *testing.T) {
	for name, change := range map[string]func(*settlement.File){
		"currency":   func(f *settlement.File) { f.Currency = "XOF" },
		"repeat":     func(f *settlement.File) { f.Transfers[1].EndToEndID = f.Transfers[0].EndToEndID },
		"bic":        func(f *settlement.File) { f.Transfers[0].BIC = "COBA" },
		"empty":      func(f *settlement.File) { f.Transfers = nil },
		"msgid":      func(f *settlement.File) { f.MsgID = strings.Repeat("A", 36) },
		"zero":       func(f *settlement.File) { f.Transfers[0].AmountMinor = 0 },
		"nameless":   func(f *settlement.File) { f.Transfers[1].Name = "咖啡" },
		"debtoriban": func(f *settlement.File) { f.Debtor.IBAN = "" },
	} {
		f := sampleFile()
		change(&f)
		_, err := settlement.Encode(f)
		if err == nil {
			t.Errorf("%s: encoded", name)
		}
		if name == "currency" && !errors.Is(err, settlement.ErrNotEUR) {
			t.Errorf("currency: %v, want ErrNotEUR", err)
		}
	}
}

func TestIBANAndBIC(t *testing.T) {
	for _, ok := range []string{"FR76 3000 6000 0112 3456 7890 189", "de89370400440532013000", "GB29NWBK60161331926819"} {
		if _, err := domain.ParseIBAN(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	// A wrong check digit, a French IBAN one character short, an unknown country.
	for _, bad := range []string{"FR7630006000011234567890188", "FR763000600001123456789018", "XX7630006000011234567890189"} {
		if _, err := domain.ParseIBAN(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	for _, ok := range []string{"AGRIFRPP", "COBADEFFXXX"} {
		if settlement.CheckBIC(ok) != nil {
			t.Errorf("%s refused", ok)
		}
	}
	for _, bad := range []string{"agrifrpp", "AGRIFRP", "AGRIFRPP1", "AGR1FRPP"} {
		if settlement.CheckBIC(bad) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestSEPAText(t *testing.T) {
	for in, want := range map[string]string{
		"Crêperie Zoé & Fils": "Creperie Zoe + Fils", "Straße_Ökonom": "Strasse-Okonom", "  a \t\n b ": "a b",
		"小店": "", "Shop #42 <x>": "Shop 42 x", "L'Œuf": "L'OEuf",
	} {
		if got := domain.SEPAText(in, 70); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// A file written replaces the old one whole, and leaves no temporary file behind.
func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	for _, body := range []string{"first", "second"} {
		if _, err := settlement.Write(dir, "x.xml", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(filepath.Join(dir, "x.xml"))
	names, _ := os.ReadDir(dir)
	if string(got) != "second" || len(names) != 1 {
		t.Fatalf("file %q, %d entries", got, len(names))
	}
	if _, err := settlement.Write(dir, "../x.xml", nil); err == nil {
		t.Fatal("wrote outside the directory")
	}
}
