package settlement

import (
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"mpg/domain"
)

// mpg reads the bank's answer to a pain.001 as a pain.002.001.03 payment status report: it
// names our own MsgId, PmtInfId and EndToEndId back, says per transaction whether it was
// settled (ACSC) or rejected (RJCT), and gives the reason code of a rejection. A camt.054
// debit notification would confirm the booking too, but not a rejection, which comes later
// as a return; pain.002 answers both, for exactly the ids we sent.

// Limits on a report mpg reads.
const (
	MaxReportBytes = 4 << 20
	MaxReportTxs   = 10000
)

// verdict reads a status code and its reason; only the final codes decide.
func verdict(code, reason string) domain.Verdict {
	v := domain.Verdict{Code: code, Reason: reason}
	switch code {
	case "ACSC": // accepted, settlement completed
		v.Outcome = domain.OutcomePaid
	case "RJCT":
		v.Outcome = domain.OutcomeRejected
	}
	return v
}

// ParseReport reads a pain.002.001.03 payment status report.
func ParseReport(in io.Reader) (domain.StatusReport, error) {
	var doc struct {
		XMLName xml.Name `xml:"Document"`
		Rpt     struct {
			Hdr struct {
				MsgID string `xml:"MsgId"`
			} `xml:"GrpHdr"`
			Orig struct {
				MsgID   string     `xml:"OrgnlMsgId"`
				NmDefID string     `xml:"OrgnlMsgNmId"`
				Sts     string     `xml:"GrpSts"`
				Rsn     []reasonEl `xml:"StsRsnInf"`
			} `xml:"OrgnlGrpInfAndSts"`
			Blocks []struct {
				ID  string     `xml:"OrgnlPmtInfId"`
				Sts string     `xml:"PmtInfSts"`
				Rsn []reasonEl `xml:"StsRsnInf"`
				Txs []struct {
					EndToEnd string     `xml:"OrgnlEndToEndId"`
					Sts      string     `xml:"TxSts"`
					Rsn      []reasonEl `xml:"StsRsnInf"`
				} `xml:"TxInfAndSts"`
			} `xml:"OrgnlPmtInfAndSts"`
		} `xml:"CstmrPmtStsRpt"`
	}
	b, err := io.ReadAll(io.LimitReader(in, MaxReportBytes+1))
	if err != nil {
		return domain.StatusReport{}, err
	}
	if len(b) > MaxReportBytes {
		return domain.StatusReport{}, fmt.Errorf("status report: larger than %d bytes", MaxReportBytes)
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return domain.StatusReport{}, fmt.Errorf("status report: not a pain.002 document: %w", err)
	}
	if doc.XMLName.Space != namespace002 {
		return domain.StatusReport{}, fmt.Errorf("status report: namespace %q, want %s", doc.XMLName.Space, namespace002)
	}
	o := doc.Rpt.Orig
	if o.MsgID == "" {
		return domain.StatusReport{}, errors.New("status report: no OrgnlMsgId: which file does it answer?")
	}
	if o.NmDefID != "" && !strings.HasPrefix(o.NmDefID, "pain.001") {
		return domain.StatusReport{}, fmt.Errorf("status report answers a %s, not a pain.001", o.NmDefID)
	}
	r := domain.StatusReport{MsgID: doc.Rpt.Hdr.MsgID, OrigMsgID: o.MsgID, Group: verdict(o.Sts, reasonOf(o.Rsn)), Blocks: map[string]domain.Verdict{}}
	for _, blk := range doc.Rpt.Blocks {
		r.Blocks[blk.ID] = verdict(blk.Sts, reasonOf(blk.Rsn))
		for _, t := range blk.Txs {
			if len(r.Txs) == MaxReportTxs {
				return domain.StatusReport{}, fmt.Errorf("status report: more than %d transactions", MaxReportTxs)
			}
			r.Txs = append(r.Txs, domain.TxVerdict{PmtInfID: blk.ID, EndToEndID: t.EndToEnd, Verdict: verdict(t.Sts, reasonOf(t.Rsn))})
		}
	}
	return r, nil
}

const namespace002 = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"

type reasonEl struct {
	Code  string   `xml:"Rsn>Cd"`
	Prtry string   `xml:"Rsn>Prtry"`
	Info  []string `xml:"AddtlInf"`
}

// reasonOf writes a status reason as people read it: "AC04 account closed".
func reasonOf(rs []reasonEl) string {
	if len(rs) == 0 {
		return ""
	}
	r := rs[0]
	c := cmp.Or(r.Code, r.Prtry)
	words := c
	if n, ok := reasonNames[c]; ok {
		words += " " + n
	}
	if len(r.Info) > 0 {
		words += ": " + strings.Join(r.Info, " ")
	}
	return domain.SEPAText(words, 140)
}

// reasonNames are the ISO 20022 external status reason codes a SEPA rejection carries most.
var reasonNames = map[string]string{
	"AC01": "account number incorrect", "AC04": "account closed", "AC06": "account blocked",
	"AG01": "transaction forbidden", "AM04": "insufficient funds", "AM05": "duplicate",
	"BE04": "creditor address missing", "FF01": "invalid file format", "MD07": "creditor deceased",
	"MS02": "refused by the creditor", "MS03": "reason not specified", "RC01": "BIC incorrect", "RR04": "regulatory reason",
}
