package engine

import (
	"time"

	"mpg/domain"
)

// Evidence is what mpg knows of a disputed payment, put together from the books: the
// record, its transfers with their journal positions, the SMS around it with their delivery
// state, and what the record says of its confirmation. Numbers are masked for a merchant.
type Evidence struct {
	Case         DisputeView       `json:"case"`
	Payment      PaymentView       `json:"payment"`
	Confirmation ConfirmationFacts `json:"confirmation"`
	Transfers    []TransferFact    `json:"transfers"`
	Messages     []MessageFact     `json:"messages"`
	// MessagesScanned is how many of the newest outbox messages were read for them.
	MessagesScanned int `json:"messages_scanned"`
}

// ConfirmationFacts are how the payment was confirmed, as its record has it.
type ConfirmationFacts struct {
	Channel   string `json:"channel"`
	Requested bool   `json:"requested"`           // the merchant asked this number by the API
	CodesSent int    `json:"codes_sent"`          // one-time codes texted for it
	WrongCode int    `json:"wrong_codes"`         // wrong codes typed before it was confirmed
	BankAuth  string `json:"bank_auth,omitempty"` // an mDebit's approval code
	Created   string `json:"created"`
	Completed string `json:"completed"`
}

// TransferFact is one transfer of the payment as the journal holds it.
type TransferFact struct {
	ID     string `json:"id"`
	What   string `json:"what"` // payment, refund, return hold...
	Amount string `json:"amount"`
	Flags  string `json:"flags"`
	At     string `json:"at"`
	Seq    uint64 `json:"journal_position"`
}

// MessageFact is one SMS to the payer or the payee around the payment.
type MessageFact struct {
	ID     uint64 `json:"id"`
	To     string `json:"to"`
	At     string `json:"at"`
	Status string `json:"status"`
	Text   string `json:"text"`
}

// outboxReader is the part of the ledger that lists sent messages (the bbolt ledger has it).
type outboxReader interface {
	Messages(limit int, before uint64, state domain.MessageStatus) ([]domain.Message, error)
}

// maxEvidenceScan bounds the outbox messages read for one bundle.
const maxEvidenceScan = 5000

// evidenceWindow is how far around the payment its SMS are looked for.
const evidenceWindow = time.Hour

// DisputeEvidenceBundle puts a case's evidence together; merchant != 0 masks numbers.
func (e *Engine) DisputeEvidenceBundle(merchant uint64, id string) (Evidence, error) {
	c, err := e.GetDispute(merchant, id)
	if err != nil {
		return Evidence{}, err
	}
	p, _, err := e.payment(c.Payment)
	if err != nil {
		return Evidence{}, err
	}
	ev := Evidence{Case: e.ViewDispute(c), Payment: e.View(p), Transfers: []TransferFact{}, Messages: []MessageFact{},
		Confirmation: ConfirmationFacts{Channel: p.Channel, Requested: p.Requested, CodesSent: p.CodesSent, WrongCode: p.Tries,
			Created: domain.FormatTime(p.Created), Completed: domain.FormatTime(p.Updated)}}
	if p.Bank != nil {
		ev.Confirmation.BankAuth = p.Bank.Auth
	}
	add := func(what, id string) {
		tid, err := domain.ParseID(id)
		if err != nil {
			return
		}
		if tr, err := e.l.Transfer(tid); err == nil {
			ev.Transfers = append(ev.Transfers, TransferFact{ID: tr.ID.String(), What: what, Amount: domain.FormatAmount(tr.Amount, tr.Currency),
				Flags: tr.Flags.String(), At: domain.FormatTime(tr.Timestamp), Seq: tr.Seq})
		}
	}
	add("payment", p.Transfer)
	for _, r := range p.Refunds {
		add(r.Kind, r.Transfer)
	}
	if c.Return != "" {
		var r domain.ReturnRequest
		if _, ok, _ := e.record(keyReturn+c.Return, &r); ok && r.Hold != "" {
			add("return hold", r.Hold)
			add("return hold released", returnVoidID(r.ID).String())
		}
	}
	ob, ok := e.l.(outboxReader)
	if !ok {
		return ev, nil
	}
	parties := map[string]bool{p.MSISDN: true}
	if payee, err := e.l.Account(p.Merchant); err == nil {
		parties[payee.Phone] = true
		if payee.Kind == domain.KindPurse {
			parties[payee.Owner] = true
		}
	}
	delete(parties, "")
	msgs, err := ob.Messages(maxEvidenceScan, 0, 0)
	if err != nil {
		return ev, err
	}
	ev.MessagesScanned = len(msgs)
	from, to := p.Created-int64(evidenceWindow), p.Updated+int64(evidenceWindow)
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if !parties[m.To] || m.Created < from || m.Created > to {
			continue
		}
		f := MessageFact{ID: m.ID, To: m.To, At: domain.FormatTime(m.Created), Status: m.Status.String(), Text: m.Text}
		if merchant != 0 {
			f.To = domain.Mask(m.To)
		}
		ev.Messages = append(ev.Messages, f)
	}
	return ev, nil
}

// PaymentOfTransfer is the payment record a transfer paid, for operator commands.
func (e *Engine) PaymentOfTransfer(tr domain.Transfer) (domain.Payment, bool, error) {
	p, _, found, err := e.paymentOf(tr)
	return p, found, err
}
