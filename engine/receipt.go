package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"

	"mpg/commands"
	"mpg/ledger"
)

// receipt is the code CHECK verifies: the transfer's journal position and a MAC over it,
// its id and amount, with the server's receipt key. A forged or altered code fails.
func (e *Engine) receipt(tr ledger.Transfer) string {
	pos := strings.TrimLeft(strings.ToUpper(fmt.Sprintf("%x", tr.Seq)), "0")
	return pos + "-" + e.receiptMAC(tr)
}

func (e *Engine) receiptMAC(tr ledger.Transfer) string {
	m := hmac.New(sha256.New, e.cfg.ReceiptKey)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], tr.Seq)
	m.Write(b[:])
	m.Write(tr.ID[:])
	binary.BigEndian.PutUint64(b[:], tr.Amount)
	m.Write(b[:])
	return base32.StdEncoding.EncodeToString(m.Sum(nil))[:8]
}

func shortRef(tr ledger.Transfer) string { return strings.ToUpper(tr.ID.String()[26:]) }

func (t *turn) check() ledger.Job {
	pos, mac, ok := strings.Cut(t.cmd.Code, "-")
	var seq uint64
	if _, err := fmt.Sscanf(pos, "%X", &seq); !ok || err != nil {
		t.reply(commands.RReceiptInvalid, commands.Args{Receipt: t.cmd.Code})
		return ledger.Job{}
	}
	tr, err := t.e.l.TransferAt(seq)
	if err != nil || !hmac.Equal([]byte(t.e.receiptMAC(tr)), []byte(mac)) || tr.Code == CodeFee {
		t.reply(commands.RReceiptInvalid, commands.Args{Receipt: t.cmd.Code})
		return ledger.Job{}
	}
	t.reply(commands.RReceiptValid, commands.Args{Receipt: t.cmd.Code, Amount: t.money(tr.Amount), Party: t.nameOf(tr.Credit), Ref: shortRef(tr)})
	return ledger.Job{}
}

func (t *turn) nameOf(id uint64) string {
	acc, err := t.e.l.Account(id)
	switch {
	case err != nil:
		return fmt.Sprintf("account %d", id)
	case acc.Kind == ledger.KindPurse:
		return mask(acc.Owner)
	}
	return acc.Name
}
