package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mpg/engine"
	"mpg/settlement/settlementtest"
)

// TestSettleCLI: an operator links a merchant's IBAN (a wrong one refused), settles, gets a
// pain.001 file xmllint finds valid, settling again pays nothing twice, the payout shows the
// payment it covers, and the bank's rejection gives the money back.
func TestSettleCLI(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "merchant", "add", "shop42", "--name", "Crêperie Zoé", "--msisdn", "+33698765432")
	l, _ := alicePays(t, db, "PAY SHOP42 15 2468")
	l.Close()
	dir := filepath.Join(t.TempDir(), "out")
	conf := "[settlement]\ndir = \"" + dir + "\"\ndebtor_name = \"Mobile Operator SA\"\ndebtor_iban = \"DE89 3704 0044 0532 0130 00\"\n"
	cli := func(args ...string) (string, error) {
		out, _, err := runConfig(t, conf, append([]string{"--db", db}, args...)...)
		return out, err
	}
	if _, err := cli("merchant", "iban", "SHOP42", "FR7630006000011234567890188"); err == nil || !strings.Contains(err.Error(), "IBAN") {
		t.Fatalf("a wrong check digit: %v", err)
	}
	if out, err := cli("merchant", "iban", "SHOP42", "FR76 3000 6000 0112 3456 7890 189", "--bic", "AGRIFRPP"); err != nil || !strings.Contains(out, "FR76 **** 0189") {
		t.Fatalf("link: %v %s", err, out)
	}
	out, err := cli("settle", "-o", "json")
	var rep engine.SettleReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Issued) != 1 || len(rep.Files) != 1 {
		t.Fatalf("settle: %v %s", err, out)
	}
	settlementtest.Validate(t, rep.Files[0])
	if b, _ := os.ReadFile(rep.Files[0]); !strings.Contains(string(b), "<CtrlSum>13.50</CtrlSum>") || !strings.Contains(string(b), "<Nm>Creperie Zoe</Nm>") {
		t.Fatalf("file:\n%s", b)
	}
	if out, err := cli("settle"); err != nil || !strings.Contains(out, "0 payouts issued") || !strings.Contains(out, "already") {
		t.Fatalf("settle again: %v %s", err, out)
	}
	id := rep.Issued[0].ID
	if out, err := cli("settle", "show", id); err != nil || !strings.Contains(out, "movements +15.00 = payout 13.50 EUR + reserve kept 1.50 EUR - reserve before 0.00 EUR") {
		t.Fatalf("show: %v %s", err, out)
	}
	report := filepath.Join(t.TempDir(), "pain002.xml")
	os.WriteFile(report, []byte(`<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt><GrpHdr><MsgId>R</MsgId></GrpHdr>`+
		`<OrgnlGrpInfAndSts><OrgnlMsgId>`+rep.Issued[0].File+`</OrgnlMsgId></OrgnlGrpInfAndSts>`+
		`<OrgnlPmtInfAndSts><OrgnlPmtInfId>x</OrgnlPmtInfId><PmtInfSts>RJCT</PmtInfSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>`), 0o600)
	if out, err := cli("settle", "confirm", report); err != nil || !strings.Contains(out, "issued: the bank has not settled or rejected it yet") {
		t.Fatalf("a report naming a payment block mpg never sent decided something: %v %s", err, out)
	}
	os.WriteFile(report, []byte(strings.Replace(mustRead(t, report), "<OrgnlPmtInfId>x</OrgnlPmtInfId><PmtInfSts>RJCT</PmtInfSts>",
		"<OrgnlPmtInfId>"+rep.Issued[0].File+"-1</OrgnlPmtInfId><TxInfAndSts><OrgnlEndToEndId>"+id+
			"</OrgnlEndToEndId><TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC01</Cd></Rsn></StsRsnInf></TxInfAndSts>", 1)), 0o600)
	if out, err := cli("settle", "confirm", report); err != nil || !strings.Contains(out, id+"\trejected (AC01 account number incorrect)") {
		t.Fatalf("confirm: %v %s", err, out)
	}
	if out, err := cli("settle", "list", "SHOP42"); err != nil || !strings.Contains(out, "rejected") {
		t.Fatalf("list: %v %s", err, out)
	}
	if out := mustRun(t, "--db", db, "ledger", "verify"); !strings.Contains(out, "ok") {
		t.Fatalf("verify: %s", out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
