package engine

import (
	"time"

	"mpg/domain"
)

// Evidence is what mpg knows of a disputed payment, put together from the books: the
// record, its transfers with their journal positions and chained hashes, the journal's head
// when the bundle was made, the SMS around it with their delivery state, and what the record
// says of its confirmation (with the checkout browser's address and times). Numbers and
// addresses are masked for a merchant.
type Evidence struct {
	Case         DisputeView       `json:"case"`
	Payment      PaymentView       `json:"payment"`
	Confirmation ConfirmationFacts `json:"confirmation"`
	Transfers    []TransferFact    `json:"transfers"`
	Messages     []MessageFact     `json:"messages"`
	// Chain is the audit chain proof: where the journal stood when the bundle was made.
	Chain ChainProof `json:"chain"`
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
	// The hosted checkout: when the number was entered and the code confirmed there, and the
	// browser's address each came from (masked for a merchant; "" once the payer is erased).
	CheckoutPhoneAt string `json:"checkout_phone_at,omitempty"`
	CheckoutPhoneIP string `json:"checkout_phone_ip,omitempty"`
	CheckoutCodeAt  string `json:"checkout_code_at,omitempty"`
	CheckoutCodeIP  string `json:"checkout_code_ip,omitempty"`
}

// ChainProof is the journal's head when a bundle was made, and how to check the bundle's
// transfers against it.
type ChainProof struct {
	HeadPosition uint64 `json:"head_position,omitempty"`
	HeadHash     string `json:"head_hash,omitempty"`
	How          string `json:"how"`
}

// chainHow tells a reader of the evidence how the transfers' hashes prove them.
const chainHow = "Every journal entry's hash is SHA-256 of the entry before it, its position and its content. " +
	"`mpg ledger verify` recomputes every hash from the first entry to the head; each transfer above is proven " +
	"when the hash recomputed at its journal_position is its journal_hash, and the chain still reaches this head_hash at head_position."

// TransferFact is one transfer of the payment as the journal holds it.
type TransferFact struct {
	ID     string `json:"id"`
	What   string `json:"what"` // payment, refund, return hold...
	Amount string `json:"amount"`
	Flags  string `json:"flags"`
	At     string `json:"at"`
	Seq    uint64 `json:"journal_position"`
	Hash   string `json:"journal_hash,omitempty"` // the entry's chained hash, hex
}

// MessageFact is one SMS to the payer or the payee around the payment.
type MessageFact struct {
	ID     uint64 `json:"id"`
	To     string `json:"to"`
	At     string `json:"at"`
	Status string `json:"status"`
	Text   string `json:"text"`
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
	if c := p.Checkout; c != nil {
		ip := func(sealed string) string {
			a := e.l.Unseal(sealed)
			if merchant != 0 {
				a = domain.MaskIP(a)
			}
			return a
		}
		ev.Confirmation.CheckoutPhoneIP, ev.Confirmation.CheckoutCodeIP = ip(c.PhoneIP), ip(c.CodeIP)
		if c.PhoneAt != 0 {
			ev.Confirmation.CheckoutPhoneAt = domain.FormatTime(c.PhoneAt)
		}
		if c.CodeAt != 0 {
			ev.Confirmation.CheckoutCodeAt = domain.FormatTime(c.CodeAt)
		}
	}
	add := func(what, id string) {
		tid, err := domain.ParseID(id)
		if err != nil {
			return
		}
		if tr, err := e.l.Transfer(tid); err == nil {
			f := TransferFact{ID: tr.ID.String(), What: what, Amount: domain.FormatAmount(tr.Amount, tr.Currency),
				Flags: tr.Flags.String(), At: domain.FormatTime(tr.Timestamp), Seq: tr.Seq}
			f.Hash, _ = e.l.EntryHash(tr.Seq) // "" if unreadable: the bundle still lists it
			ev.Transfers = append(ev.Transfers, f)
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
	// Read after the transfers: every transfer listed is at or below this head.
	seq, hash, err := e.l.Head()
	if err != nil {
		return Evidence{}, err
	}
	ev.Chain = ChainProof{HeadPosition: seq, HeadHash: hash, How: chainHow}
	ev.Messages, ev.MessagesScanned, err = e.PaymentMessages(p, merchant != 0, maxEvidenceScan)
	return ev, err
}

// PaymentMessages are the SMS to the payer or the payee in the hour around a payment, oldest
// first, from the newest scan messages of the outbox (how many were read is returned too);
// codes are never in them (they wait sealed). mask hides the numbers.
func (e *Engine) PaymentMessages(p domain.Payment, mask bool, scan int) ([]MessageFact, int, error) {
	parties := map[string]bool{p.MSISDN: true}
	if payee, err := e.l.Account(p.Merchant); err == nil {
		parties[payee.Phone] = true
		if payee.Kind == domain.KindPurse {
			parties[payee.Owner] = true
		}
	}
	delete(parties, "")
	msgs, err := e.l.Messages(scan, 0, 0)
	if err != nil {
		return nil, 0, err
	}
	out := []MessageFact{}
	from, to := p.Created-int64(evidenceWindow), p.Updated+int64(evidenceWindow)
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if !parties[m.To] || m.Created < from || m.Created > to {
			continue
		}
		f := MessageFact{ID: m.ID, To: m.To, At: domain.FormatTime(m.Created), Status: m.Status.String(), Text: m.Text}
		if mask {
			f.To = domain.Mask(m.To)
		}
		out = append(out, f)
	}
	return out, len(msgs), nil
}

// PaymentOfTransfer is the payment record a transfer paid, for operator commands.
func (e *Engine) PaymentOfTransfer(tr domain.Transfer) (domain.Payment, bool, error) {
	p, _, found, err := e.paymentOf(tr)
	return p, found, err
}
