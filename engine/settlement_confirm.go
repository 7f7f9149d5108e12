package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"

	"mpg/commands"
	"mpg/domain"
)

// ConfirmLine is what a status report did to one payout.
type ConfirmLine struct {
	Payout string `json:"payout"`
	State  string `json:"state"`            // after the report
	Reason string `json:"reason,omitempty"` // the bank's, for a rejection
	// Note says why nothing changed: the bank has not decided yet, it was done before, or
	// the report contradicts a decision already taken (left as it is, for an operator).
	Note string `json:"note,omitempty"`
}

// ConfirmReport is what a status report did.
type ConfirmReport struct {
	File    string        `json:"file"` // the pain.001 it answers
	Lines   []ConfirmLine `json:"lines"`
	Unknown []string      `json:"unknown,omitempty"` // EndToEndIds the file does not hold
}

// ConfirmPayouts reads the bank's pain.002 status report of a file mpg sent and settles each
// payout in it the bank decided: settled (ACSC) marks it paid, the money leaving the
// settlement account for bank clearing; rejected (RJCT) gives the money back to the merchant
// and keeps the bank's reason. Each in one job with its record. Anything else leaves the
// payout issued: an unknown outcome is a state, never a guess.
func (e *Engine) ConfirmPayouts(ctx context.Context, actor string, in io.Reader) (ConfirmReport, error) {
	if e.cfg.Settlement.Files == nil {
		return ConfirmReport{}, errors.New("settlement: no file reader (the daemon wires the settlement room)")
	}
	rpt, err := e.cfg.Settlement.Files.ReadStatus(in)
	if err != nil {
		return ConfirmReport{}, err
	}
	var f payoutFile
	if _, found, err := e.record(keyPayoutFile+rpt.OrigMsgID, &f); err != nil || !found {
		return ConfirmReport{}, cmp.Or(err, fmt.Errorf("the report answers %s, a file mpg did not send", rpt.OrigMsgID))
	}
	out := ConfirmReport{File: f.MsgID}
	held := map[string]bool{}
	for _, id := range f.Payouts {
		held[id] = true
		o, why := rpt.OutcomeOf(f.MsgID+"-1", id)
		line, err := e.closePayout(ctx, actor, id, o, why)
		if err != nil {
			return out, fmt.Errorf("payout %s: %w", id, err)
		}
		out.Lines = append(out.Lines, line)
	}
	for _, t := range rpt.Txs {
		if !held[t.EndToEndID] {
			out.Unknown = append(out.Unknown, t.EndToEndID)
		}
	}
	return out, nil
}

// closePayout takes a payout from issued to paid or rejected, in one job with its money.
func (e *Engine) closePayout(ctx context.Context, actor, id string, o domain.Outcome, why string) (ConfirmLine, error) {
	want := map[domain.Outcome]string{domain.OutcomePaid: PayoutPaid, domain.OutcomeRejected: PayoutRejected}[o]
	for try := 0; try < maxTurns; try++ {
		p, ver, err := e.PayoutByID(id)
		if err != nil {
			return ConfirmLine{}, err
		}
		line := ConfirmLine{Payout: id, State: p.State, Reason: p.Reason}
		switch {
		case want == "":
			line.Note = "the bank has not settled or rejected it yet"
			return line, nil
		case p.State == want:
			line.Note = "already " + want
			return line, nil
		case p.State != PayoutIssued:
			line.Note = "the report says " + want + ": left " + p.State + " (ask the bank)"
			return line, nil
		}
		settle, err := e.settlementAccount(ctx)
		if err != nil {
			return line, err
		}
		tr := domain.Transfer{ID: settleTransferID(id, 'r'), Debit: settle, Credit: p.Merchant, Amount: p.Amount, Code: domain.CodeSettleReturn, Ref: id}
		var told []domain.Message
		if m, err := e.l.Account(p.Merchant); err == nil && want == PayoutRejected {
			told = e.payoutNotice(m, commands.RPayoutRejected, p, why)
		}
		if want == PayoutPaid {
			clearing, err := e.clearing(ctx)
			if err != nil {
				return line, err
			}
			tr = domain.Transfer{ID: settleTransferID(id, 'p'), Debit: settle, Credit: clearing.ID, Amount: p.Amount, Code: domain.CodeSettlePaid, Ref: id}
		}
		p.State, p.Reason, p.Updated = want, why, e.cfg.Now().UnixNano()
		_, err = e.l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{tr}, Profiles: []domain.Profile{write(keyPayout+id, p, ver)}, Messages: told,
			Audit: &domain.Audit{Actor: actor, Action: "settlement " + want, Detail: id + " " + why}})
		if errors.Is(err, domain.ErrConflict) {
			continue
		}
		return ConfirmLine{Payout: id, State: p.State, Reason: p.Reason}, err
	}
	return ConfirmLine{}, errors.New("its record kept changing: read the report again")
}

// Movement is one entry of a merchant's account a payout covers, and what it did to the
// balance (minor units, signed).
type Movement struct {
	Transfer string `json:"transfer"`
	Seq      uint64 `json:"seq"`
	Time     int64  `json:"time"`
	What     string `json:"what"`              // payment, refund, fee, returned payout…
	Payment  string `json:"payment,omitempty"` // the payment it belongs to, when there is one
	Effect   int64  `json:"effect"`
}

// PayoutView is a payout and the movements it covers: every entry of the merchant's account
// since the previous payout was computed. Their Sum equals Amount + Reserve - ReserveBefore,
// the payout plus the change in what is kept back (fees and refunds are among the movements).
type PayoutView struct {
	Payout
	ReserveBefore uint64     `json:"reserve_before"`
	Movements     []Movement `json:"movements"`
	Sum           int64      `json:"sum"`
	Complete      bool       `json:"complete"` // false: more than the list holds
	FilePath      string     `json:"file_path,omitempty"`
}

// PayoutDetail reads a payout and what it covers.
func (e *Engine) PayoutDetail(id string) (PayoutView, error) {
	p, _, err := e.PayoutByID(id)
	if err != nil {
		return PayoutView{}, err
	}
	v := PayoutView{Payout: p, Complete: true}
	var from uint64
	if p.Prev != "" {
		prev, _, err := e.PayoutByID(p.Prev)
		if err != nil {
			return v, err
		}
		from, v.ReserveBefore = prev.Cut, prev.Reserve
	}
	if p.File != "" {
		v.FilePath, _ = e.PayoutFilePath(p.File)
	}
	v.Movements, v.Complete, err = e.movements(p.Merchant, from, p.Cut)
	for _, m := range v.Movements {
		v.Sum += m.Effect
	}
	return v, err
}

// movements are the merchant's entries after from up to cut, newest first, but its payouts.
func (e *Engine) movements(m, from, cut uint64) ([]Movement, bool, error) {
	var out []Movement
	before := cut + 1
	for len(out) < maxPayoutShow {
		trs, err := e.l.History(m, domain.MaxProfileScan, before)
		if err != nil {
			return out, false, err
		}
		for _, t := range trs {
			if t.Seq <= from {
				return out, true, nil
			}
			if t.Code == domain.CodeSettle && t.Debit == m {
				continue
			}
			mv := Movement{Transfer: t.ID.String(), Seq: t.Seq, Time: t.Timestamp, What: movementName(t.Code), Effect: balanceEffect(t, m)}
			if pay, _, found, err := e.paymentOf(t); err == nil && found {
				mv.Payment = pay.ID
			}
			out = append(out, mv)
		}
		if len(trs) < domain.MaxProfileScan {
			return out, true, nil
		}
		before = trs[len(trs)-1].Seq
	}
	return out, false, nil
}

// balanceEffect is what a transfer did to an account's available balance (credits posted
// minus debits posted and pending).
func balanceEffect(t domain.Transfer, acc uint64) int64 {
	var pending, posted int64
	switch {
	case t.Flags&domain.Pending != 0:
		pending = int64(t.Amount)
	case t.Flags&(domain.PostPending|domain.VoidPending) != 0:
		pending, posted = -int64(t.PendingAmount), int64(t.Amount)
	default:
		posted = int64(t.Amount)
	}
	if t.Credit == acc {
		return posted
	}
	return -(pending + posted)
}

func movementName(code uint16) string {
	switch code {
	case domain.CodeFee:
		return "fee"
	case domain.CodeRefund:
		return "refund"
	case domain.CodeReversal:
		return "reversal"
	case domain.CodeSettleReturn:
		return "returned payout"
	case domain.CodeDiscount:
		return "promotion discount"
	}
	return "payment"
}
