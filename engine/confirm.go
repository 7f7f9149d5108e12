package engine

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"

	"mpg/commands"
	"mpg/ledger"
)

// confirmation is a payment above the confirmation threshold, reserved as pending transfers
// until the payer answers YES <code> (post) or NO <code> (void). The code is single use,
// bound to the payer's number (it lives in their profile), stored only as an HMAC, expires
// with the pending transfers, and allows maxConfirmTries wrong answers.
type confirmation struct {
	CodeMAC string   `json:"code_mac"`
	Pending []string `json:"pending"` // pending transfer ids: the payment, then the fee
	Code    uint16   `json:"code"`    // transfer code of the payment
	Payee   uint64   `json:"payee"`
	Amount  uint64   `json:"amount"`
	Fee     uint64   `json:"fee"`
	Ref     string   `json:"ref,omitempty"`
	Expires int64    `json:"expires"`
	Tries   int      `json:"tries"`
}

const maxConfirmTries = 3

func (e *Engine) codeMAC(msisdn, code string) string {
	return e.pinMAC(msisdn, "confirm:"+code)
}

// askConfirm reserves the payment and asks for YES <code>.
func (t *turn) askConfirm(code uint16, payee *ledger.Account, amount, fee uint64, ref string, ts []ledger.Transfer) ledger.Job {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(ledger.Job{})
	}
	secret := fmt.Sprintf("%06d", n.Int64())
	c := &confirmation{CodeMAC: t.e.codeMAC(t.in.From, secret), Code: code, Payee: payee.ID, Amount: amount, Fee: fee,
		Ref: ref, Expires: t.e.cfg.Now().Add(t.e.cfg.ConfirmFor).UnixNano()}
	t.keepForRefusal()
	// A new request replaces one still waiting: release that one in the same job.
	var release []ledger.Transfer
	if old := t.prof.Confirm; old != nil && t.e.cfg.Now().UnixNano() < old.Expires {
		release = voids(old)
	}
	for i := range ts {
		ts[i].Flags |= ledger.Pending
		ts[i].Timeout = t.e.cfg.ConfirmFor
		c.Pending = append(c.Pending, ts[i].ID.String())
	}
	t.prof.Confirm, t.profDirty = c, true
	what := map[uint16]string{CodePay: "PAY", CodeBill: "BILL", CodeSend: "SEND"}[code]
	party := payee.Name
	if payee.Kind == ledger.KindPurse {
		party = mask(payee.Owner)
	}
	t.reply(commands.RConfirmAsk, commands.Args{Arg: what, Amount: t.money(amount + fee), Party: party, Code: secret,
		N: int(t.e.cfg.ConfirmFor.Minutes())})
	t.audit = &ledger.Audit{Actor: t.in.From, Action: "confirmation asked", Detail: what}
	return t.withProfile(ledger.Job{Transfers: append(release, ts...)})
}

func voids(c *confirmation) []ledger.Transfer {
	var out []ledger.Transfer
	for _, p := range c.Pending {
		if id, err := ledger.ParseID(p); err == nil {
			out = append(out, ledger.Transfer{ID: derive(id, 'v'), PendingID: id, Flags: ledger.VoidPending})
		}
	}
	return out
}

// derive makes the id of a post or void from the pending id, so a retried answer is the same.
func derive(pending ledger.ID, tag byte) ledger.ID { return claimID(pending, tag) }

// confirm answers YES (post) or NO (void) for the waiting payment.
func (t *turn) confirm(yes bool) ledger.Job {
	c := t.prof.Confirm
	if c == nil || t.e.cfg.Now().UnixNano() >= c.Expires {
		if c != nil {
			t.prof.Confirm, t.profDirty = nil, true
		}
		t.reply(commands.RConfirmExpired, commands.Args{Code: t.cmd.Code})
		return t.withProfile(ledger.Job{})
	}
	want, _ := hex.DecodeString(c.CodeMAC)
	got, _ := hex.DecodeString(t.e.codeMAC(t.in.From, t.cmd.Code))
	if !hmac.Equal(want, got) {
		c.Tries++
		t.profDirty = true
		if c.Tries >= maxConfirmTries {
			t.prof.Confirm = nil
			t.reply(commands.RCancelled, commands.Args{})
			return t.withProfile(ledger.Job{Transfers: voids(c)})
		}
		t.reply(commands.RConfirmWrong, commands.Args{N: maxConfirmTries - c.Tries})
		return t.withProfile(ledger.Job{})
	}
	t.prof.Confirm, t.profDirty = nil, true
	if !yes {
		t.reply(commands.RCancelled, commands.Args{})
		return t.withProfile(ledger.Job{Transfers: voids(c)})
	}
	payee, err := t.e.l.Account(c.Payee)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(ledger.Job{})
	}
	var posts []ledger.Transfer
	for _, p := range c.Pending {
		if id, err := ledger.ParseID(p); err == nil {
			posts = append(posts, ledger.Transfer{ID: derive(id, 'p'), PendingID: id, Flags: ledger.PostPending})
		}
	}
	t.keepForRefusal()
	t.prof.addSpend(t.hour(), c.Amount)
	job := t.withProfile(ledger.Job{Transfers: posts})
	job.Compose = t.notices(c.Code, &payee, c.Amount, c.Fee, c.Ref)
	return job
}
