package engine

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"

	"mpg/commands"
	"mpg/ledger"
)

// spentToday is what the purse paid out over the last 24 hours (fees not counted).
func (t *turn) spentToday() (uint64, error) {
	return t.prof.spent(t.hour()), nil
}

func (t *turn) hour() int64 { return t.e.cfg.Now().Unix() / 3600 }

func (t *turn) fee(code uint16, amount uint64) uint64 {
	for _, b := range t.e.cfg.Fees[code] {
		if amount <= b.UpTo {
			return b.Fee
		}
	}
	return 0
}

// limitsOK applies the payer's tier; it queues the refusal reply when not.
func (t *turn) limitsOK(amount uint64) bool {
	lim, ok := t.e.cfg.Tiers[t.purse.Tier]
	if !ok {
		t.reply(commands.RLimitExceeded, commands.Args{Amount: t.money(0)})
		return false
	}
	spent, err := t.spentToday()
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return false
	}
	if amount > lim.PerTx || spent+amount > lim.Daily {
		left := uint64(0)
		if lim.Daily > spent {
			left = min(lim.Daily-spent, lim.PerTx)
		}
		t.reply(commands.RLimitExceeded, commands.Args{Amount: t.money(left)})
		return false
	}
	return true
}

func (t *turn) system(owner string) *ledger.Account {
	for _, a := range t.e.l.AccountsOf(owner) {
		if a.Currency == t.e.cfg.Currency {
			return &a
		}
	}
	return nil
}

func (t *turn) pay() ledger.Job {
	c := t.cmd
	kind, code, unknown := ledger.KindMerchant, CodePay, commands.RUnknownMerchant
	if c.Kind == commands.Bill {
		kind, code, unknown = ledger.KindBiller, CodeBill, commands.RUnknownBiller
	}
	var payee *ledger.Account
	for _, a := range t.e.l.AccountsOf(c.Merchant) {
		if a.Kind == kind && a.Currency == t.e.cfg.Currency {
			payee = &a
		}
	}
	if payee == nil || payee.Status != ledger.StatusActive {
		t.reply(unknown, commands.Args{Arg: c.Merchant})
		return t.withProfile(ledger.Job{})
	}
	if !t.limitsOK(c.Amount) {
		return t.withProfile(ledger.Job{})
	}
	ref := c.Ref
	if c.Kind == commands.Bill {
		ref = c.Account
	}
	return t.move(code, payee, c.Amount, ref)
}

func (t *turn) send() ledger.Job {
	c := t.cmd
	if c.Phone == t.in.From {
		t.reply(commands.RSelfTransfer, commands.Args{})
		return t.withProfile(ledger.Job{})
	}
	if lim := t.e.cfg.Tiers[t.purse.Tier]; !lim.CanSend {
		t.reply(commands.RTierCannotSend, commands.Args{})
		return t.withProfile(ledger.Job{})
	}
	var payee *ledger.Account
	for _, a := range t.e.l.AccountsOf(c.Phone) {
		if a.Kind == ledger.KindPurse && a.Currency == t.e.cfg.Currency {
			payee = &a
		}
	}
	if payee == nil {
		return t.hold(c.Phone, c.Amount)
	}
	if !t.limitsOK(c.Amount) {
		return t.withProfile(ledger.Job{})
	}
	if lim := t.e.cfg.Tiers[payee.Tier]; lim.MaxBalance > 0 && uint64(max(0, payee.Available()))+c.Amount > lim.MaxBalance {
		t.reply(commands.RLimitExceeded, commands.Args{Amount: t.money(lim.MaxBalance - min(lim.MaxBalance, uint64(max(0, payee.Available()))))})
		return t.withProfile(ledger.Job{})
	}
	return t.move(CodeSend, payee, c.Amount, "")
}

// hold sends to a number with no purse: the amount waits in escrow as a pending transfer
// that times out after ClaimFor (the ledger then voids it, the money is the payer's again and
// both are told); the payee is invited to register and claim it.
func (t *turn) hold(payeeNumber string, amount uint64) ledger.Job {
	escrow := t.system("@escrow")
	var payeeProf profile
	if b, err := t.e.l.Profile(payeeNumber); err == nil && b != nil {
		json.Unmarshal(b, &payeeProf)
	}
	if escrow == nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(ledger.Job{})
	}
	if len(payeeProf.Holds) >= maxHolds {
		t.reply(commands.RLimitExceeded, commands.Args{Amount: t.money(0)})
		return t.withProfile(ledger.Job{})
	}
	if !t.limitsOK(amount) {
		return t.withProfile(ledger.Job{})
	}
	fee := t.fee(CodeSend, amount)
	id := ledger.NewID()
	ts := []ledger.Transfer{{ID: id, Debit: t.purse.ID, Credit: escrow.ID, Amount: amount, Code: CodeHold,
		Flags: ledger.Pending, Timeout: t.e.cfg.ClaimFor, Ref: payeeNumber + " " + t.lang.String()}}
	if fee > 0 {
		fees := t.system("@fees")
		if fees == nil {
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(ledger.Job{})
		}
		ts = append(ts, ledger.Transfer{ID: ledger.NewID(), Debit: t.purse.ID, Credit: fees.ID, Amount: fee, Code: CodeFee})
	}
	t.keepForRefusal()
	t.prof.addSpend(t.hour(), amount)
	t.profDirty = true
	job := t.withProfile(ledger.Job{Transfers: ts})
	payeeProf.Holds = append(payeeProf.Holds, id.String())
	pb, _ := json.Marshal(payeeProf)
	job.Profiles = append(job.Profiles, ledger.Profile{Owner: payeeNumber, Data: pb})
	e, lang, days := t.e, t.lang, int(t.e.cfg.ClaimFor.Hours()/24)
	purse, from := t.purse.ID, t.in.From
	job.Compose = func(v ledger.View, r *ledger.Result) ([]ledger.Message, error) {
		payer, _ := v.Account(purse)
		a := commands.Args{Amount: t.money(amount), Fee: t.money(fee), Balance: t.money(uint64(max(0, payer.Available()))),
			Party: mask(payeeNumber), Ref: shortRef(r.Transfers[0]), N: max(1, days)}
		return []ledger.Message{
			{From: e.cfg.ShortCode, To: from, Text: commands.Render(lang, commands.RSentHeld, a)},
			{From: e.cfg.ShortCode, To: payeeNumber, Text: commands.Render(lang, commands.RInvite, commands.Args{Amount: a.Amount, Party: mask(from), N: a.N})},
		}, nil
	}
	return job
}

// claim moves every payment held for this new subscriber into their purse, each as a
// linked post of the hold and a transfer from escrow, and tells them. A hold that lapsed
// (the ledger voided it) is dropped.
func (e *Engine) claim(ctx context.Context, msisdn string) error {
	b, err := e.l.Profile(msisdn)
	if err != nil || b == nil {
		return err
	}
	var p profile
	if err := json.Unmarshal(b, &p); err != nil || len(p.Holds) == 0 {
		return err
	}
	var purse *ledger.Account
	for _, a := range e.l.AccountsOf(msisdn) {
		if a.Kind == ledger.KindPurse {
			purse = &a
		}
	}
	if purse == nil {
		return nil
	}
	holds := p.Holds
	p.Holds = nil
	pb, _ := json.Marshal(p)
	for _, h := range holds {
		pid, err := ledger.ParseID(h)
		if err != nil {
			continue
		}
		held, err := e.l.Transfer(pid)
		if err != nil {
			continue
		}
		payer, _ := e.l.Account(held.Debit)
		money := commands.Money{Minor: held.Amount, Currency: e.cfg.Currency, Exponent: e.cfg.Exponent}
		job := ledger.Job{Transfers: []ledger.Transfer{
			{ID: claimID(pid, 0), PendingID: pid, Flags: ledger.PostPending},
			{ID: claimID(pid, 1), Debit: held.Credit, Credit: purse.ID, Amount: held.Amount, Code: CodeClaim, Ref: h[:16]},
		}, Profiles: []ledger.Profile{{Owner: msisdn, Data: pb}}}
		job.Compose = func(v ledger.View, r *ledger.Result) ([]ledger.Message, error) {
			after, _ := v.Account(purse.ID)
			return []ledger.Message{{From: e.cfg.ShortCode, To: msisdn, Text: commands.Render(p.Lang, commands.RClaimed,
				commands.Args{Amount: money, Party: mask(payer.Owner), Balance: commands.Money{Minor: uint64(max(0, after.Available())),
					Currency: e.cfg.Currency, Exponent: e.cfg.Exponent}, Ref: shortRef(r.Transfers[1])})}}, nil
		}
		_, err = e.l.Submit(ctx, job)
		var ref *ledger.RefusedError
		if err != nil && !errors.As(err, &ref) {
			return err // the hold stays listed; the next message from this number claims it
		}
	}
	if len(holds) > 0 {
		_, err = e.l.Submit(ctx, ledger.Job{Profiles: []ledger.Profile{{Owner: msisdn, Data: pb}}})
	}
	return err
}

// claimID derives the ids of a claim from the hold, so a claim retried after a crash is the
// same transfers (the ledger answers them as already done).
func claimID(pending ledger.ID, n byte) ledger.ID {
	h := sha256.Sum256(append([]byte{'c', n}, pending[:]...))
	var id ledger.ID
	copy(id[:], h[:16])
	return id
}

// ExpiryNotices is the ledger's expiry hook: when a hold lapses, the payer is told the money
// is back and the would-be payee that it is gone. It needs nothing but the configuration,
// so the ledger can have it from the moment it opens.
func ExpiryNotices(cfg Config) ledger.ExpiryHook {
	return func(p ledger.Transfer, v ledger.View) []ledger.Message {
		if p.Code != CodeHold {
			return nil
		}
		payee, lang, _ := strings.Cut(p.Ref, " ")
		l := commands.EN
		switch lang {
		case "FR":
			l = commands.FR
		case "ZH":
			l = commands.ZH
		}
		payer, ok := v.Account(p.Debit)
		if !ok {
			return nil
		}
		m := func(v uint64) commands.Money {
			return commands.Money{Minor: v, Currency: cfg.Currency, Exponent: cfg.Exponent}
		}
		return []ledger.Message{
			{From: cfg.ShortCode, To: payer.Owner, Text: commands.Render(l, commands.RRefunded, commands.Args{Amount: m(p.Amount),
				Party: mask(payee), Balance: m(uint64(max(0, payer.Available()))), Ref: shortRef(p)})},
			{From: cfg.ShortCode, To: payee, Text: commands.Render(l, commands.RLapsed, commands.Args{Amount: m(p.Amount), Party: mask(payer.Owner)})},
		}
	}
}

// mask hides the middle of a number: +336****678.
func mask(msisdn string) string {
	if len(msisdn) < 8 {
		return msisdn
	}
	return msisdn[:4] + "****" + msisdn[len(msisdn)-3:]
}

// move builds the job of a payment: the amount to the payee and the fee to the fees
// account as one chain, with the payer's and the payee's replies composed after the money
// moved (so they carry the new balances) and a receipt code derived from the transfer.
func (t *turn) move(code uint16, payee *ledger.Account, amount uint64, ref string) ledger.Job {
	fee := t.fee(code, amount)
	ts := []ledger.Transfer{{ID: ledger.NewID(), Debit: t.purse.ID, Credit: payee.ID, Amount: amount, Code: code, Ref: ref}}
	if fee > 0 {
		fees := t.system("@fees")
		if fees == nil {
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(ledger.Job{})
		}
		ts = append(ts, ledger.Transfer{ID: ledger.NewID(), Debit: t.purse.ID, Credit: fees.ID, Amount: fee, Code: CodeFee})
	}
	if above := t.e.cfg.ConfirmAbove; above > 0 && amount > above {
		return t.askConfirm(code, payee, amount, fee, ref, ts)
	}
	// If the ledger refuses the payment, the profile is written as it was before the spend.
	t.keepForRefusal()
	t.prof.addSpend(t.hour(), amount)
	t.profDirty = true
	job := t.withProfile(ledger.Job{Transfers: ts})
	job.Compose = t.notices(code, payee, amount, fee, ref)
	return job
}

// notices composes, after the money moved, the payer's reply and the payee's or merchant's
// notice, with the new balances and a receipt derived from the first transfer.
func (t *turn) notices(code uint16, payee *ledger.Account, amount, fee uint64, ref string) func(ledger.View, *ledger.Result) ([]ledger.Message, error) {
	payerLang, e := t.lang, t.e
	from := t.in.From
	return func(v ledger.View, r *ledger.Result) ([]ledger.Message, error) {
		main := r.Transfers[0]
		payer, _ := v.Account(t.purse.ID)
		after, _ := v.Account(payee.ID)
		rc := e.receipt(main)
		args := commands.Args{Amount: t.money(amount), Fee: t.money(fee), Balance: t.money(uint64(max(0, payer.Available()))),
			Ref: shortRef(main), Receipt: rc, Party: payee.Name, Account: ref, Name: payee.Name, Currency: e.cfg.Currency}
		var msgs []ledger.Message
		add := func(to string, l commands.Lang, rep commands.Reply, a commands.Args) {
			msgs = append(msgs, ledger.Message{From: e.cfg.ShortCode, To: to, Text: commands.Render(l, rep, a)})
		}
		switch code {
		case CodePay:
			add(from, payerLang, commands.RPaid, args)
			if payee.Phone != "" {
				add(payee.Phone, commands.EN, commands.RMerchantPaid, commands.Args{Amount: args.Amount, Party: mask(from), Ref: args.Ref, Receipt: rc})
			}
		case CodeBill:
			add(from, payerLang, commands.RBillPaid, args)
		case CodeSend:
			args.Party = mask(payee.Owner)
			add(from, payerLang, commands.RSent, args)
			payeeLang := commands.EN
			if b, err := e.l.Profile(payee.Owner); err == nil && b != nil {
				var p profile
				if json.Unmarshal(b, &p) == nil {
					payeeLang = p.Lang
				}
			}
			add(payee.Owner, payeeLang, commands.RReceived, commands.Args{Amount: args.Amount, Party: mask(from), Name: t.purse.Name,
				Balance: t.money(uint64(max(0, after.Available()))), Ref: args.Ref, Receipt: rc})
		}
		return msgs, nil
	}
}

func codeOf(k commands.Kind) uint16 {
	switch k {
	case commands.Pay:
		return CodePay
	case commands.Bill:
		return CodeBill
	case commands.Send:
		return CodeSend
	}
	return 0
}
