package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"mpg/domain"
)

// A checkout's dispute evidence names the browser's address and the times the number and
// the code were typed on the page (the address masked for the merchant, whole for an
// operator), each transfer's chained hash as the ledger holds it at its position, and the
// journal's head; erasing the payer clears the sealed addresses from the record.
func TestCheckoutEvidenceHasTheBrowserAndTheChain(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 800, Reference: "web-ev"})
	if err != nil {
		t.Fatal(err)
	}
	phoneAt := w.e.cfg.Now()
	if _, err := w.e.CheckoutPhone(ctx, p.ID, alice, "", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	w.advance(time.Minute)
	codeAt := w.e.cfg.Now()
	if p, err = w.e.CheckoutCode(ctx, p.ID, payCode(t, w.outbox()[alice]), "2001:db8:1:2::5"); err != nil || p.State != domain.PaymentCompleted {
		t.Fatalf("checkout: %+v %v", p, err)
	}
	if c := p.Checkout; c == nil || c.PhoneIP == "" || strings.Contains(c.PhoneIP, "192.0.2.1") || strings.Contains(c.CodeIP, "2001:db8") {
		t.Fatalf("the record should hold the addresses sealed: %+v", c)
	}
	if _, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 100, Actor: "shop"}); err != nil {
		t.Fatal(err)
	}
	c, err := w.e.OpenDispute(ctx, OpenDispute{Merchant: shop, PaymentID: p.ID, Reason: "not delivered", Opener: domain.OpenerMerchant, Actor: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	op, err := w.e.DisputeEvidenceBundle(0, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	cf := op.Confirmation
	if cf.CheckoutPhoneIP != "192.0.2.1" || cf.CheckoutCodeIP != "2001:db8:1:2::5" ||
		cf.CheckoutPhoneAt != domain.FormatTime(phoneAt.UnixNano()) || cf.CheckoutCodeAt != domain.FormatTime(codeAt.UnixNano()) {
		t.Fatalf("operator's confirmation: %+v", cf)
	}
	if len(op.Transfers) != 2 {
		t.Fatalf("transfers %+v", op.Transfers)
	}
	for _, f := range op.Transfers {
		h, err := w.l.EntryHash(f.Seq)
		if err != nil || f.Hash != h || len(h) != 64 || f.Seq > op.Chain.HeadPosition {
			t.Fatalf("transfer %+v: ledger hash %q %v, head %d", f, h, err, op.Chain.HeadPosition)
		}
	}
	seq, head, _ := w.l.Head()
	if op.Chain.HeadPosition != seq || op.Chain.HeadHash != head || !strings.Contains(op.Chain.How, "mpg ledger verify") {
		t.Fatalf("chain %+v, ledger head %d %s", op.Chain, seq, head)
	}

	m, err := w.e.DisputeEvidenceBundle(shop, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Confirmation.CheckoutPhoneIP != "192.0.2.x" || m.Confirmation.CheckoutCodeIP != "2001:db8:1::x" ||
		m.Confirmation.CheckoutCodeAt != cf.CheckoutCodeAt || m.Transfers[0].Hash != op.Transfers[0].Hash {
		t.Fatalf("merchant's evidence: %+v %+v", m.Confirmation, m.Transfers)
	}

	// The payer's own export says what the page saw of his browser.
	x, err := w.e.export(alice)
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	for _, xp := range x.Payments {
		if xp.ID == p.ID {
			seen = xp.Checkout
		}
	}
	if !strings.Contains(seen, "number typed") || !strings.Contains(seen, "from 192.0.2.1") || !strings.Contains(seen, "from 2001:db8:1:2::5") {
		t.Fatalf("export's checkout_seen: %q", seen)
	}

	if err := w.e.scrubPayments(ctx, alice); err != nil {
		t.Fatal(err)
	}
	q, _, _ := w.e.payment(p.ID)
	if q.Checkout == nil || q.Checkout.PhoneIP != "" || q.Checkout.CodeIP != "" || q.Checkout.CodeAt == 0 {
		t.Fatalf("after erasure: %+v", q.Checkout)
	}
}
