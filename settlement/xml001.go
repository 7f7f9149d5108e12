package settlement

import "encoding/xml"

// The pain.001.001.03 elements mpg writes, in the schema's order.

const namespace001 = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"

type document struct {
	XMLName xml.Name   `xml:"Document"`
	Xmlns   string     `xml:"xmlns,attr"`
	Initn   initiation `xml:"CstmrCdtTrfInitn"`
}

type initiation struct {
	Header groupHeader `xml:"GrpHdr"`
	Info   paymentInfo `xml:"PmtInf"`
}

type groupHeader struct {
	MsgID     string `xml:"MsgId"`
	Created   string `xml:"CreDtTm"`
	NbOfTxs   string `xml:"NbOfTxs"`
	CtrlSum   string `xml:"CtrlSum"`
	Initiator party  `xml:"InitgPty"`
}

type paymentInfo struct {
	ID         string        `xml:"PmtInfId"`
	Method     string        `xml:"PmtMtd"`
	NbOfTxs    string        `xml:"NbOfTxs"`
	CtrlSum    string        `xml:"CtrlSum"`
	Type       *paymentType  `xml:"PmtTpInf"`
	Execution  string        `xml:"ReqdExctnDt"`
	Debtor     party         `xml:"Dbtr"`
	DebtorAcct account       `xml:"DbtrAcct"`
	DebtorAgt  agent         `xml:"DbtrAgt"`
	Charges    string        `xml:"ChrgBr"`
	Txs        []transaction `xml:"CdtTrfTxInf"`
}

type paymentType struct {
	Level code `xml:"SvcLvl"`
}

type code struct {
	Cd string `xml:"Cd"`
}

type party struct {
	Name string `xml:"Nm"`
}

type account struct {
	IBAN string `xml:"Id>IBAN"`
}

type agent struct {
	Inst institution `xml:"FinInstnId"`
}

type institution struct {
	BIC   string `xml:"BIC,omitempty"`
	Other *other `xml:"Othr"`
}

type other struct {
	ID string `xml:"Id"`
}

type transaction struct {
	ID           paymentID   `xml:"PmtId"`
	Amount       amountOf    `xml:"Amt"`
	CreditorAgt  *agent      `xml:"CdtrAgt"`
	Creditor     party       `xml:"Cdtr"`
	CreditorAcct account     `xml:"CdtrAcct"`
	Remittance   *remittance `xml:"RmtInf"`
}

type paymentID struct {
	EndToEnd string `xml:"EndToEndId"`
}

type amountOf struct {
	Value string `xml:",chardata"`
	Ccy   string `xml:"Ccy,attr"`
}

// Amt is a choice: the instructed amount.
func (a amountOf) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	type instructed struct {
		Value string `xml:",chardata"`
		Ccy   string `xml:"Ccy,attr"`
	}
	return e.EncodeElement(struct {
		In instructed `xml:"InstdAmt"`
	}{instructed(a)}, start)
}

type remittance struct {
	Text string `xml:"Ustrd"`
}
