package engine

import (
	"context"
	"testing"

	"mpg/domain"
)

// factsSince reads the facts the journal holds after position from.
func (w *world) factsSince(from uint64) []domain.Fact {
	w.t.Helper()
	var out []domain.Fact
	for next := from + 1; ; {
		page, n, err := w.l.Journal(next, 1000)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, e := range page {
			if e.Fact != nil {
				out = append(out, *e.Fact)
			}
		}
		if n == next {
			return out
		}
		next = n
	}
}

func (w *world) head() uint64 {
	seq, _, err := w.l.Head()
	if err != nil {
		w.t.Fatal(err)
	}
	return seq
}

func (w *world) purseOf(number string) uint64 {
	for _, a := range w.l.AccountsOf(number) {
		if a.Kind == domain.KindPurse {
			return a.ID
		}
	}
	return 0
}

func ofKind(fs []domain.Fact, k domain.FactKind) []domain.Fact {
	var out []domain.Fact
	for _, f := range fs {
		if f.Kind == k {
			out = append(out, f)
		}
	}
	return out
}

// Every channel that completes a payment tells the journal so once, with the product and
// channel it is, the payer's purse (whoever's account paid), the payee and the amount that
// reached it; a CREDIT only when it is captured.
func TestFactsOfEveryChannel(t *testing.T) {
	want := map[string][2]string{
		"texted PAY": {domain.ProductPay, domain.ChannelSMS}, "texted company PAY": {domain.ProductPay, domain.ChannelSMS},
		"YES to his own PAY": {domain.ProductPay, domain.ChannelSMS}, "YES to a request": {domain.ProductPay, domain.ChannelSMS},
		"YES to a DEBIT": {domain.ProductDebit, domain.ChannelBank}, "YES to a bank request": {domain.ProductDebit, domain.ChannelBank},
		"checkout code": {domain.ProductPay, domain.ChannelWeb}, "checkout on the company": {domain.ProductPay, domain.ChannelWeb},
		"texted CREDIT": {domain.ProductCredit, domain.ChannelCredit}, "YES to a credit request": {domain.ProductCredit, domain.ChannelCredit},
		"texted BILL": {domain.ProductBill, domain.ChannelSMS}, "texted SEND": {domain.ProductSend, domain.ChannelSMS},
		"texted REPAY": {domain.ProductRepay, domain.ChannelSMS},
	}
	for _, ch := range bookChannels {
		t.Run(ch.name, func(t *testing.T) {
			w, shop := bookWorld(t)
			act := ch.prep(w, shop, 1)
			from := w.head()
			act()
			w.settleBank()
			if ch.credit {
				if got := ofKind(w.factsSince(from), domain.FactPaid); len(got) != 0 {
					t.Fatalf("an authorisation counted as paid: %+v", got)
				}
				ps, _, err := w.e.ListPayments(shop, PaymentFilter{Limit: 1000})
				if err != nil || len(ps) == 0 {
					t.Fatalf("no payment to capture (%v): %v", err, w.outbox())
				}
				p := ps[len(ps)-1]
				if _, err := w.e.CaptureHold(context.Background(), "test", shop, p.ID, 0); err != nil {
					t.Fatal(err)
				}
			}
			paid := ofKind(w.factsSince(from), domain.FactPaid)
			if len(paid) != 1 {
				t.Fatalf("%d paid facts, want 1: %+v", len(paid), w.factsSince(from))
			}
			f := paid[0]
			if [2]string{f.Product, f.Channel} != want[ch.name] {
				t.Errorf("product and channel %s/%s, want %v", f.Product, f.Channel, want[ch.name])
			}
			if f.Payer != w.purseOf(alice) || f.Payer == 0 {
				t.Errorf("payer %d, want alice's purse %d", f.Payer, w.purseOf(alice))
			}
			if f.Amount == 0 || f.Payee == 0 || f.Local != 12 {
				t.Errorf("amount %d, payee %d, local hour %d (12:00 UTC, no zones configured)", f.Amount, f.Payee, f.Local)
			}
			if got := ofKind(w.factsSince(from), domain.FactRefused); len(got) != 0 {
				t.Errorf("refusals told for a payment that went through: %+v", got)
			}
		})
	}
}

// A refusal of any channel's step by the rule book is told once, as blocked.
func TestFactsOfRefusalsOnEveryChannel(t *testing.T) {
	for _, ch := range bookChannels {
		t.Run(ch.name, func(t *testing.T) {
			w, shop := bookWorld(t)
			act := ch.prep(w, shop, 1)
			w.handle(alice, "BLOCK")
			from := w.head()
			act()
			w.settleBank()
			fs := w.factsSince(from)
			refused := ofKind(fs, domain.FactRefused)
			if len(refused) != 1 || len(ofKind(fs, domain.FactPaid)) != 0 {
				t.Fatalf("want one refusal and no payment, got %+v", fs)
			}
			if r := refused[0]; r.Reason != domain.ReasonBlocked || r.Product == "" || r.Payer != w.purseOf(alice) {
				t.Fatalf("refusal %+v, want blocked, with a product, by alice's purse", r)
			}
		})
	}
}

// Texted refusals say why: not enough money, a limit, a wrong PIN (told as a wrong PIN
// too, for the fraud rules); commands that pay nothing tell nothing but wrong PINs.
func TestFactsOfTextedRefusals(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 500, 1)
	cases := []struct {
		text   string
		kind   domain.FactKind
		reason string
	}{
		{"PAY SHOP42 9 739164", domain.FactRefused, domain.ReasonFunds},
		{"PAY SHOP42 1 000000", domain.FactRefused, domain.ReasonPIN},
		{"BAL 000000", domain.FactWrongPIN, ""},
		{"SEND " + bob + " 1 739164", domain.FactRefused, domain.ReasonLimit}, // tier 1 may not send
	}
	for _, c := range cases {
		from := w.head()
		w.sms(alice, c.text)
		fs := w.factsSince(from)
		got := ofKind(fs, c.kind)
		if len(got) != 1 || got[0].Reason != c.reason || got[0].Payer != w.purseOf(alice) {
			t.Fatalf("%q: facts %+v, want one of kind %d reason %q", c.text, fs, c.kind, c.reason)
		}
		if c.reason == domain.ReasonPIN && len(ofKind(fs, domain.FactWrongPIN)) != 1 {
			t.Fatalf("%q: a wrong PIN not told as one: %+v", c.text, fs)
		}
	}
	from := w.head()
	w.sms(alice, "BAL 739164")
	if fs := w.factsSince(from); len(fs) != 0 {
		t.Fatalf("BAL told %+v", fs)
	}
}

// A refund is told once per refund, with what it gave back; a second partial refund only
// its own part.
func TestFactsOfRefunds(t *testing.T) {
	w, shop := merchantWorld(t)
	w.sms(alice, "PAY SHOP42 8 739164")
	p := w.lastPayment(shop)
	from := w.head()
	for _, part := range []uint64{300, 200} {
		if _, _, _, err := w.e.RefundPayment(context.Background(), RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: part, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	refunds := ofKind(w.factsSince(from), domain.FactRefund)
	if len(refunds) != 2 || refunds[0].Amount != 300 || refunds[1].Amount != 200 {
		t.Fatalf("refund facts %+v, want 300 then 200", refunds)
	}
	if refunds[0].Payer != w.purseOf(alice) || refunds[0].Payee != shop {
		t.Fatalf("refund fact %+v names the wrong accounts", refunds[0])
	}
}

// A payment a refusal job records as refused or expired (the ledger refused its step, or its
// deadline passed as it committed) is told as refused, with its reason; other records are
// not facts.
func TestFactsOfRecordsARefusalWrites(t *testing.T) {
	w := newWorld(t)
	rec := func(id string, s domain.PaymentState, reason string) domain.Profile {
		return write(keyPayment+id, domain.Payment{ID: id, Product: domain.ProductPay, Channel: domain.ChannelWeb, Merchant: 4,
			Amount: 300, State: s, Reason: reason}, 1)
	}
	fs := w.e.refusedRecordFacts([]domain.Profile{rec("a", domain.PaymentRefused, string(domain.CodeInsufficientFunds)),
		rec("b", domain.PaymentExpired, ""), rec("c", domain.PaymentAwaiting, ""), {Owner: alice, Data: []byte("{}")}})
	if len(fs) != 2 || fs[0].Reason != domain.ReasonFunds || fs[1].Reason != domain.ReasonExpired || fs[1].Kind != domain.FactRefused {
		t.Fatalf("facts %+v, want funds then expired", fs)
	}
}
