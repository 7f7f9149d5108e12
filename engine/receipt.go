package engine

import (
	"crypto/hmac"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"

	"mpg/commands"
	"mpg/domain"
)

// receipt is the code CHECK verifies: the transfer's journal position and a MAC over it,
// its id and amount, with the server's receipt key. A forged or altered code fails.
func (e *Engine) receipt(tr domain.Transfer) string {
	pos := strings.TrimLeft(strings.ToUpper(fmt.Sprintf("%x", tr.Seq)), "0")
	return pos + "-" + e.receiptMAC(tr)
}

func (e *Engine) receiptMAC(tr domain.Transfer) string {
	var seq, amount [8]byte
	binary.BigEndian.PutUint64(seq[:], tr.Seq)
	binary.BigEndian.PutUint64(amount[:], tr.Amount)
	return base32.StdEncoding.EncodeToString(e.receiptMACs.sum(seq[:], tr.ID[:], amount[:]))[:8]
}

func shortRef(tr domain.Transfer) string { return strings.ToUpper(tr.ID.String()[26:]) }

// check tells whoever texts CHECK whether a receipt is genuine, and whether the payment was
// from or to their own number: a genuine receipt of someone else's payment (a look-alike
// number, a copied SMS) must not vouch for a forged "you received money" message.
func (t *turn) check() domain.Job {
	tr, ok := t.e.verifyReceipt(t.cmd.Code)
	if !ok {
		// What was typed is echoed with any 4-6 digit run masked: it may be a PIN.
		t.reply(commands.RReceiptInvalid, commands.Args{Receipt: commands.MaskDigits(t.cmd.Code)})
		return domain.Job{}
	}
	shown := t.cmd.Code // genuine: one of our codes, not something secret
	a := commands.Args{Receipt: shown, Amount: t.money(tr.Amount), Ref: shortRef(tr)}
	if tr.Code == domain.CodePointsRedeem { // a payment all in points: what it paid, to whom
		if p, _, found, _ := t.e.paymentOf(tr); found && p.Points != nil {
			tr.Debit, tr.Credit = p.Debited, p.Merchant
			a.Amount = t.money(p.Points.Worth)
		}
	}
	dr, _ := t.e.l.Account(tr.Debit)
	cr, _ := t.e.l.Account(tr.Credit)
	switch {
	case dr.Owner == t.in.From || t.e.debitPayer(tr) == t.in.From:
		a.Party = t.nameOf(tr.Credit)
		t.reply(commands.RReceiptFromYou, a)
	case cr.Owner == t.in.From || cr.Phone == t.in.From:
		a.Party = t.nameOf(tr.Debit)
		t.reply(commands.RReceiptToYou, a)
	default:
		a.Party = t.nameOf(tr.Credit)
		t.reply(commands.RReceiptNotYours, a)
	}
	return domain.Job{}
}

// debitPayer is the number that paid a DEBIT: its transfer runs from bank clearing to the
// merchant, so only the payment record names the subscriber. "" for any other transfer.
func (e *Engine) debitPayer(tr domain.Transfer) string {
	if tr.Code != domain.CodeDebit {
		return ""
	}
	p, _, found, err := e.paymentOf(tr)
	if err != nil || !found {
		return ""
	}
	return p.MSISDN
}

// verifyReceipt finds the transfer a receipt code names and checks its MAC.
func (e *Engine) verifyReceipt(code string) (domain.Transfer, bool) {
	pos, mac, ok := strings.Cut(strings.ToUpper(strings.TrimRight(strings.TrimSpace(code), ".,;")), "-") // copied with the full stop after it: still the code
	var seq uint64
	if _, err := fmt.Sscanf(pos, "%X", &seq); !ok || err != nil || len(e.cfg.ReceiptKey) == 0 {
		return domain.Transfer{}, false
	}
	tr, err := e.l.TransferAt(seq)
	if err != nil || !hmac.Equal([]byte(e.receiptMAC(tr)), []byte(mac)) || tr.Code == domain.CodeFee {
		return domain.Transfer{}, false
	}
	return tr, true
}

func (t *turn) nameOf(id uint64) string {
	acc, err := t.e.l.Account(id)
	switch {
	case err != nil:
		return fmt.Sprintf("account %d", id)
	case acc.Kind == domain.KindPurse:
		return domain.Mask(acc.Owner)
	}
	return acc.Name
}
