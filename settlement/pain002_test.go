package settlement_test

import (
	"strings"
	"testing"

	"mpg/domain"
	"mpg/settlement"
)

// StatusReport writes a pain.002.001.03 as a bank sends it: the group's status, and per
// transfer (EndToEndId -> status, a reason code after a space) in one block.
func statusReport(orig, group, pmtInf string, txs map[string]string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>
<GrpHdr><MsgId>BANK-RPT-1</MsgId><CreDtTm>2026-11-26T08:00:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>` + orig + `</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId>`)
	if group != "" {
		b.WriteString(`<GrpSts>` + group + `</GrpSts>`)
	}
	b.WriteString(`</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>` + pmtInf + `</OrgnlPmtInfId>`)
	for id, st := range txs {
		code, reason, _ := strings.Cut(st, " ")
		b.WriteString(`<TxInfAndSts><OrgnlEndToEndId>` + id + `</OrgnlEndToEndId><TxSts>` + code + `</TxSts>`)
		if reason != "" {
			b.WriteString(`<StsRsnInf><Rsn><Cd>` + reason + `</Cd></Rsn></StsRsnInf>`)
		}
		b.WriteString(`</TxInfAndSts>`)
	}
	b.WriteString(`</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>`)
	return b.String()
}

func TestParseReport(t *testing.T) {
	doc := statusReport("MSG1", "PART", "MSG1-1", map[string]string{"A": "ACSC", "B": "RJCT AC04", "C": "ACCP"})
	r, err := settlement.ParseReport(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if r.OrigMsgID != "MSG1" {
		t.Fatalf("answers %q", r.OrigMsgID)
	}
	for id, want := range map[string]domain.Outcome{"A": domain.OutcomePaid, "B": domain.OutcomeRejected, "C": domain.OutcomeOpen, "D": domain.OutcomeOpen} {
		if got, _ := r.OutcomeOf("MSG1-1", id); got != want {
			t.Errorf("%s: %v, want %v", id, got, want)
		}
	}
	if _, why := r.OutcomeOf("MSG1-1", "B"); why != "AC04 account closed" {
		t.Errorf("reason %q", why)
	}
	// A whole file rejected: every transfer in it is.
	r, err = settlement.ParseReport(strings.NewReader(statusReport("MSG2", "RJCT", "MSG2-1", nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.OutcomeOf("MSG2-1", "X"); got != domain.OutcomeRejected {
		t.Fatalf("group rejection: %v", got)
	}
}

func TestParseReportRefusals(t *testing.T) {
	for name, doc := range map[string]string{
		"not xml":   "hello",
		"camt":      `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn/></Document>`,
		"no origin": strings.Replace(statusReport("M", "ACSC", "M-1", nil), "<OrgnlMsgId>M</OrgnlMsgId>", "", 1),
		"pain.008":  strings.Replace(statusReport("M", "ACSC", "M-1", nil), "pain.001.001.03</OrgnlMsgNmId>", "pain.008.001.02</OrgnlMsgNmId>", 1),
	} {
		if _, err := settlement.ParseReport(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: read", name)
		}
	}
}
