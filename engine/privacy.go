package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"strings"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// A person's access to his data: Export gathers everything mpg holds about a number (for
// `mpg subscriber export` and the one-time link DATA texts), each export audited with the
// number masked.

// Bounds of one export: a person with more is given the newest.
const (
	maxExportTransfers = 100000
	maxExportMessages  = 1000000 // outbox messages looked at (the outbox retention bounds it)
)

func privacyDefaults(cfg Config) Config {
	if cfg.RetentionYears <= 0 {
		cfg.RetentionYears = 5
	}
	if cfg.DataLinkFor <= 0 {
		cfg.DataLinkFor = 15 * time.Minute
	}
	if cfg.DataPerDay <= 0 {
		cfg.DataPerDay = 3
	}
	return cfg
}

// Export is everything mpg holds about one person.
type Export struct {
	Number         string            `json:"number"`
	Generated      string            `json:"generated"`
	RetentionYears int               `json:"retention_years"` // financial records, after the relationship ends
	Profile        ExportProfile     `json:"profile"`
	Accounts       []ExportAccount   `json:"accounts"`
	Consents       []Consent         `json:"consents"`
	Transfers      []ExportTransfer  `json:"transfers"`
	Payments       []ExportPayment   `json:"payments"`
	Messages       []ExportMessage   `json:"messages"`
	Holds          []ExportTransfer  `json:"held_for_you"`
	Disputes       []json.RawMessage `json:"disputes"`
	Points         []json.RawMessage `json:"points"`
	// SavedBills and Orders: the bill accounts kept for BILL and the standing orders.
	SavedBills []ExportBill `json:"saved_bills"`
	Orders     []Order      `json:"standing_orders"`
}

// ExportBill is a bill account saved for a biller.
type ExportBill struct {
	Biller  string `json:"biller"`
	Account string `json:"account"`
}

// ExportProfile is the subscriber's profile; the PIN's state, never its hash.
type ExportProfile struct {
	Language     string `json:"language"`
	LanguageSet  bool   `json:"language_set"`
	Offers       bool   `json:"offers"`
	PINSet       bool   `json:"pin_set"`
	WrongPINs    int    `json:"wrong_pins"`
	LockedUntil  string `json:"locked_until,omitempty"`
	Activation   bool   `json:"activation_code_waiting"`
	BankAccount  string `json:"bank_account,omitempty"`
	WebMonth     string `json:"web_month,omitempty"`
	WebSpent     uint64 `json:"web_spent_minor,omitempty"`
	PendingCount int    `json:"payment_requests_waiting"`
}

// ExportAccount is one of his accounts.
type ExportAccount struct {
	ID        uint64 `json:"id"`
	Kind      string `json:"kind"`
	Name      string `json:"name,omitempty"`
	Tier      uint8  `json:"tier"`
	Status    string `json:"status"`
	Currency  string `json:"currency"`
	Available int64  `json:"available_minor"`
	Limit     uint64 `json:"limit_minor,omitempty"`
	Created   string `json:"created"`
}

// ExportTransfer is a movement on one of his accounts; the other side as he sees it in MINI
// (a merchant's name, another person's number masked).
type ExportTransfer struct {
	ID        string `json:"id"`
	Time      string `json:"time"`
	Account   uint64 `json:"account"`
	Direction string `json:"direction"` // in, out, held
	Amount    uint64 `json:"amount_minor"`
	Currency  string `json:"currency"`
	What      string `json:"what"`
	Ref       string `json:"ref,omitempty"`
	Payment   string `json:"payment,omitempty"`
}

// ExportPayment is a payment he made or received.
type ExportPayment struct {
	ID          string `json:"id"`
	Role        string `json:"role"` // payer or payee
	Product     string `json:"product"`
	Channel     string `json:"channel"`
	Other       string `json:"other_party"`
	Amount      uint64 `json:"amount_minor"`
	Fee         uint64 `json:"fee_minor,omitempty"`
	Refunded    uint64 `json:"refunded_minor,omitempty"`
	Currency    string `json:"currency"`
	Reference   string `json:"reference,omitempty"`
	Description string `json:"description,omitempty"`
	State       string `json:"state"`
	Created     string `json:"created"`
	Updated     string `json:"updated"`
	// Checkout is what the checkout page saw of his browser, for a payment he made there.
	Checkout string `json:"checkout_seen,omitempty"`
}

// ExportMessage is an SMS sent to him, as the outbox has it (one-time codes stay sealed).
type ExportMessage struct {
	ID       uint64 `json:"id"`
	Created  string `json:"created"`
	Text     string `json:"text"`
	State    string `json:"state"`
	Attempts uint16 `json:"attempts"`
}

// ExportFor gathers everything held about a number and audits it (actor, number masked).
func (e *Engine) ExportFor(ctx context.Context, actor, number string) (Export, error) {
	if !e.knows(number) {
		return Export{}, ErrNoPerson
	}
	x, err := e.export(number)
	if err != nil {
		return x, err
	}
	_, err = e.l.Submit(ctx, domain.Job{Audit: exportAudit(actor, number)})
	return x, err
}

func exportAudit(actor, number string) *domain.Audit {
	return &domain.Audit{Actor: domain.Clip(actor), Action: "subscriber export", Detail: domain.Mask(number)}
}

func (e *Engine) export(number string) (Export, error) {
	x := Export{Number: number, Generated: e.cfg.Now().UTC().Format(time.RFC3339), RetentionYears: e.cfg.RetentionYears,
		Accounts: []ExportAccount{}, Transfers: []ExportTransfer{}, Payments: []ExportPayment{}, Messages: []ExportMessage{}, Holds: []ExportTransfer{}}
	var p profile
	if _, _, err := e.record(number, &p); err != nil {
		return x, err
	}
	x.Profile = exportProfile(p)
	x.SavedBills = []ExportBill{}
	for _, b := range p.Bills {
		x.SavedBills = append(x.SavedBills, ExportBill{Biller: b.Biller, Account: b.Account})
	}
	var err error
	if x.Orders, err = e.Orders(number); err != nil {
		return x, err
	}
	steps := []func(*Export) error{e.exportAccounts, e.exportConsents, e.exportMoney, e.exportMessages, e.exportHolds, e.exportDisputes, e.exportPoints}
	for _, f := range steps {
		if err := f(&x); err != nil {
			return x, err
		}
	}
	return x, nil
}

func exportProfile(p profile) ExportProfile {
	out := ExportProfile{Language: p.Lang.String(), LanguageSet: p.LangSet, Offers: p.Promo, PINSet: p.PINMAC != "",
		WrongPINs: p.Fails, Activation: p.Activation != nil, BankAccount: p.BankIBAN, WebMonth: p.WebMonth, WebSpent: p.WebSpent,
		PendingCount: len(p.Requests)}
	if p.LockedUntil == lockedForever {
		out.LockedUntil = "until customer care unlocks"
	} else if p.LockedUntil > 0 {
		out.LockedUntil = domain.FormatTime(p.LockedUntil)
	}
	return out
}

func (e *Engine) exportAccounts(x *Export) error {
	for _, a := range e.l.AccountsOf(x.Number) {
		x.Accounts = append(x.Accounts, ExportAccount{ID: a.ID, Kind: a.Kind.String(), Name: a.Name, Tier: a.Tier, Status: a.Status.String(),
			Currency: a.Currency, Available: a.Available(), Limit: a.Limit, Created: domain.FormatTime(a.Created)})
	}
	return nil
}

func (e *Engine) exportConsents(x *Export) (err error) {
	x.Consents, err = e.Consents(x.Number)
	if x.Consents == nil {
		x.Consents = []Consent{}
	}
	return err
}

// exportMoney lists the transfers of his accounts, newest first, and the payments they paid.
func (e *Engine) exportMoney(x *Export) error {
	seen := map[string]bool{}
	for _, a := range e.l.AccountsOf(x.Number) {
		err := e.history(a.ID, maxExportTransfers-len(x.Transfers), func(tr domain.Transfer) error {
			t := e.exportTransfer(a.ID, tr)
			if p, _, found, err := e.paymentOf(tr); err == nil && found {
				t.Payment = p.ID
				if !seen[p.ID] {
					seen[p.ID] = true
					x.Payments = append(x.Payments, e.exportPayment(x.Number, p, tr.Debit == a.ID))
				}
			}
			x.Transfers = append(x.Transfers, t)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// history calls f with an account's transfers, newest first, at most max of them.
func (e *Engine) history(account uint64, max int, f func(domain.Transfer) error) error {
	var before uint64
	for read := 0; read < max; {
		h, err := e.l.History(account, min(500, max-read), before)
		if err != nil || len(h) == 0 {
			return err
		}
		for _, tr := range h {
			if err := f(tr); err != nil {
				return err
			}
		}
		read += len(h)
		before = h[len(h)-1].Seq
	}
	return nil
}

func (e *Engine) exportTransfer(account uint64, tr domain.Transfer) ExportTransfer {
	dir, other := "in", tr.Debit
	if tr.Debit == account {
		dir, other = "out", tr.Credit
	}
	if tr.Flags&domain.Pending != 0 {
		dir = "held " + dir
	}
	return ExportTransfer{ID: tr.ID.String(), Time: domain.FormatTime(tr.Timestamp), Account: account, Direction: dir, Amount: tr.Amount,
		Currency: tr.Currency, What: e.miniWhat(commands.EN, tr.Code, other), Ref: tr.Ref}
}

// exportPayment is a payment as he took part in it: the payer (the money left his account)
// sees the payee, the payee sees the payer's number masked (or the channel, for a cash-in).
func (e *Engine) exportPayment(number string, p domain.Payment, payer bool) ExportPayment {
	role, other := "payer", p.MerchantName
	if !payer {
		role, other = "payee", p.Channel
		if p.MSISDN != "" && p.MSISDN != number {
			other = domain.Mask(p.MSISDN)
		}
	}
	return ExportPayment{ID: p.ID, Role: role, Product: p.ProductOf(), Channel: p.Channel, Other: other, Amount: p.Amount, Fee: p.Fee,
		Refunded: p.Refunded, Currency: p.Currency, Reference: p.Reference, Description: p.Description, State: string(p.State),
		Created: domain.FormatTime(p.Created), Updated: domain.FormatTime(p.Updated), Checkout: e.checkoutSeen(p, payer)}
}

// checkoutSeen words what the checkout page recorded of the payer's browser, for him.
func (e *Engine) checkoutSeen(p domain.Payment, payer bool) string {
	c := p.Checkout
	if !payer || c == nil {
		return ""
	}
	var parts []string
	if c.PhoneAt != 0 {
		parts = append(parts, "number typed "+domain.FormatTime(c.PhoneAt)+" from "+cmp.Or(e.l.Unseal(c.PhoneIP), "an address not kept"))
	}
	if c.CodeAt != 0 {
		parts = append(parts, "code typed "+domain.FormatTime(c.CodeAt)+" from "+cmp.Or(e.l.Unseal(c.CodeIP), "an address not kept"))
	}
	return strings.Join(parts, "; ")
}

func (e *Engine) exportMessages(x *Export) error {
	var before uint64
	for read := 0; read < maxExportMessages; {
		msgs, err := e.l.Messages(1000, before, 0)
		if err != nil || len(msgs) == 0 {
			return err
		}
		for _, m := range msgs {
			if m.To == x.Number {
				x.Messages = append(x.Messages, ExportMessage{ID: m.ID, Created: domain.FormatTime(m.Created), Text: m.Text,
					State: m.Status.String(), Attempts: m.Attempts})
			}
		}
		read += len(msgs)
		before = msgs[len(msgs)-1].ID
	}
	return nil
}

func (e *Engine) exportHolds(x *Export) error {
	holds, err := e.l.HoldsFor(x.Number)
	for _, tr := range holds {
		t := e.exportTransfer(0, tr)
		t.Direction, t.What = "held for you", e.miniWhat(commands.EN, tr.Code, tr.Debit)
		x.Holds = append(x.Holds, t)
	}
	return err
}

// exportDisputes adds the dispute cases of his payments and those he opened.
func (e *Engine) exportDisputes(x *Export) error {
	x.Disputes = []json.RawMessage{}
	return e.casesOf(x.Number, func(c domain.Dispute, _ uint64) error {
		b, err := json.Marshal(c)
		x.Disputes = append(x.Disputes, b)
		return err
	})
}

// exportPoints is where loyalty points go into the export; there are none yet.
func (e *Engine) exportPoints(x *Export) error {
	x.Points = []json.RawMessage{}
	return nil
}

// paymentsCount counts what moved on the purse (not reservations), up to max, for DATA.
func (e *Engine) paymentsCount(purse uint64, max int) int {
	n := 0
	e.history(purse, max, func(tr domain.Transfer) error {
		if tr.Flags&(domain.Pending|domain.VoidPending) == 0 {
			n++
		}
		return nil
	})
	return n
}
