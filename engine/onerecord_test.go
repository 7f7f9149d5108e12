package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
)

// One payment record for every channel, and money given back as one operation on it.

// paymentsOf lists the payments to an account, newest last.
func (w *world) paymentsOf(owner string, kind domain.Kind) []domain.Payment {
	w.t.Helper()
	for _, a := range w.l.AccountsOf(owner) {
		if a.Kind == kind {
			ps, _, err := w.e.ListPayments(a.ID, PaymentFilter{Limit: 1000})
			if err != nil {
				w.t.Fatal(err)
			}
			return ps
		}
	}
	w.t.Fatalf("no %s account of %s", kind, owner)
	return nil
}

func TestEveryChannelIsAPaymentRecord(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	if _, err := w.e.SetWebhook(ctx, "m", shop, "https://shop.example/hooks", false); err != nil {
		t.Fatal(err)
	}
	w.topup(alice, 1000, 2)
	w.expect(bob, "REG 246810 Bob", "Welcome Bob")

	// A texted PAY: in the merchant's list, with the subscriber's reference, the number
	// masked as in the merchant's SMS, a receipt, and a webhook.
	got := w.sms(alice, "PAY SHOP42 3 INV77 739164")
	if m := got["+33698765432"]; len(m) != 1 || !strings.Contains(m[0], "for INV77") || !strings.Contains(m[0], domain.Mask(alice)) {
		t.Fatalf("merchant's SMS %q", m)
	}
	ps := w.paymentsOf("SHOP42", domain.KindMerchant)
	p := ps[len(ps)-1]
	v := w.e.View(p)
	if p.State != domain.PaymentCompleted || p.Reference != "INV77" || v.Product != domain.ProductPay || v.Channel != domain.ChannelSMS ||
		v.MSISDN != domain.Mask(alice) || v.Receipt == "" || v.Amount != "3.00" {
		t.Fatalf("texted PAY as a record: %+v", v)
	}
	if ds, _ := w.e.Deliveries("", "", 100); len(ds) != 1 || ds[0].Payment != p.ID || ds[0].Type != "payment.completed" ||
		!strings.Contains(string(ds[0].Body), `"reference":"INV77"`) {
		t.Fatalf("webhook of the texted PAY: %+v", ds)
	}
	if list, _, _ := w.e.ListPayments(shop, PaymentFilter{Reference: "INV77"}); len(list) != 1 {
		t.Fatalf("reconciliation by reference: %d", len(list))
	}

	// BILL to the biller's list, SEND to the payee's, a cash-in to the purse's.
	w.sms(alice, "BILL EDF 4411 2 739164")
	if b := w.paymentsOf("EDF", domain.KindBiller); len(b) != 1 || b[0].ProductOf() != domain.ProductBill || b[0].Reference != "4411" {
		t.Fatalf("bill: %+v", b)
	}
	w.sms(alice, "SEND "+bob+" 1 739164")
	if s := w.paymentsOf(bob, domain.KindPurse); len(s) != 1 || s[0].ProductOf() != domain.ProductSend || s[0].MSISDN != alice {
		t.Fatalf("send: %+v", s)
	}
	if _, err := w.e.Topup(ctx, "care:1", bob, 500, "cash"); err != nil {
		t.Fatal(err)
	}
	if s := w.paymentsOf(bob, domain.KindPurse); len(s) != 2 || s[1].ProductOf() != domain.ProductTopup || s[1].Channel != domain.ChannelOperator {
		t.Fatalf("topup: %+v", s)
	}

	// A merchant's request shows the number it gave; every other channel masks it.
	r, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: "req-1"})
	if err != nil || !w.e.View(r).Requested || w.e.View(r).MSISDN != alice {
		t.Fatalf("request: %+v %v", w.e.View(r), err)
	}
	w.verify()
}

func TestOwnConfirmationIsARecordThatMoves(t *testing.T) {
	w := newWorldWith(t, nil, 1000)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 1)
	code := payCode(t, w.sms(alice, "PAY SHOP42 20 R1 739164")[alice])
	p := w.paymentsOf("SHOP42", domain.KindMerchant)[0]
	if p.State != domain.PaymentAwaiting {
		t.Fatalf("asked: %+v", p)
	}
	w.expect(alice, "YES "+code, "Paid 20.00 EUR")
	p = w.paymentsOf("SHOP42", domain.KindMerchant)[0]
	id, _ := domain.ParseID(p.Transfer)
	if tr, err := w.l.Transfer(id); p.State != domain.PaymentCompleted || err != nil || tr.Amount != 2000 {
		t.Fatalf("confirmed: %+v %v", p, err)
	}
	code = payCode(t, w.sms(alice, "PAY SHOP42 15 R2 739164")[alice])
	w.expect(alice, "NO "+code, "Cancelled")
	if p := w.paymentsOf("SHOP42", domain.KindMerchant)[1]; p.State != domain.PaymentRefused || p.Reason != string(domain.CodeDeclined) {
		t.Fatalf("declined: %+v", p)
	}
}

func TestRefundsAndReversalsShareOneCap(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	reply := w.expect(alice, "PAY SHOP42 4.50 A1 739164", "Paid 4.50 EUR")
	receipt := reply[strings.LastIndex(reply, " ")+1:]
	p := w.paymentsOf("SHOP42", domain.KindMerchant)[0]
	before := w.available(alice)
	if _, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 150, Actor: "key:1"}); err != nil {
		t.Fatal(err)
	}
	found, err := w.e.Find(receipt, "")
	if err != nil || len(found) != 1 {
		t.Fatalf("find: %v %d", err, len(found))
	}
	rev, err := w.e.Reverse(ctx, "care:7", found[0].Transfer)
	if err != nil || rev.Amount != 300 {
		t.Fatalf("reversal gives back what is left: %+v %v", rev, err)
	}
	_, _, _, err = w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 100})
	wantCode(t, err, domain.CodeInvalidState) // refunded in full: nothing left
	if _, err := w.e.Reverse(ctx, "care:7", found[0].Transfer); !errors.Is(err, ErrAlreadyReversed) {
		t.Fatalf("second reversal: %v", err)
	}
	p, _ = w.e.GetPayment(shop, p.ID)
	if got := w.available(alice) - before; got != 450 || p.State != domain.PaymentRefunded || len(p.Refunds) != 2 ||
		p.Refunds[0].Kind != domain.RefundByMerchant || p.Refunds[1].Kind != domain.Reversal || p.Refunds[1].By != "care:7" {
		t.Fatalf("given back %d, record %+v", got, p)
	}
	if v := w.e.View(p); v.Refunds[1].Kind != "reversal" || v.Refunded != "4.50" {
		t.Fatalf("view %+v", v)
	}
	w.verify()
}

// TestGivingBackRacesStayUnderTheCap: merchants' refunds and operators' reversals at once,
// through two engines on one ledger: never more than was paid, one reversal at most.
func TestGivingBackRacesStayUnderTheCap(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	w.expect(alice, "PAY SHOP42 9 A1 739164", "Paid 9.00 EUR")
	p := w.paymentsOf("SHOP42", domain.KindMerchant)[0]
	id, _ := domain.ParseID(p.Transfer)
	tr, _ := w.l.Transfer(id)
	other, _ := New(w.e.cfg, w.l)
	before := w.available(alice)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := []*Engine{w.e, other}[i%2]
			if i%4 == 0 {
				e.Reverse(ctx, "care", tr)
				return
			}
			e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 200, Actor: "key"})
		}()
	}
	wg.Wait()
	p, _ = w.e.GetPayment(shop, p.ID)
	back, reversals := uint64(0), 0
	for _, r := range p.Refunds {
		back += r.Amount
		if r.Kind == domain.Reversal {
			reversals++
		}
	}
	if got := w.available(alice) - before; uint64(got) != back || back != p.Refunded || back > 900 || reversals > 1 || w.available("SHOP42") != int64(900-back) {
		t.Fatalf("given back %d (record %d, %d reversals), shop keeps %d", got, p.Refunded, reversals, w.available("SHOP42"))
	}
	w.verify()
}

func TestCreditRefundAfterRepayGoesToThePurse(t *testing.T) {
	w, shop := creditWorld(t)
	w.e.cfg.Fees[domain.CodeCreditAuth] = []Band{{UpTo: 1 << 62, Fee: 50}} // fee ids must not meet refund ids
	ctx := context.Background()
	w.expect(alice, "CREDIT SHOP42 30 739164", "Authorised")
	p, err := w.e.CaptureHold(ctx, "m", shop, w.lastPayment(shop).ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Before any repayment a refund lowers what the line owes.
	if _, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 500}); err != nil {
		t.Fatal(err)
	}
	if owed, _, _ := LineUse(w.line()); owed != 2500 {
		t.Fatalf("owed %d", owed)
	}
	w.outbox()
	w.expect(alice, "REPAY 25 739164", "Repaid 25.00 EUR")
	purse := w.available(alice)
	for i := range 3 { // the 3rd refund of a captured credit payment, a fee table in place
		if _, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 500}); err != nil {
			t.Fatalf("refund %d: %v", i+2, err)
		}
	}
	line := w.line()
	if owed, _, _ := LineUse(line); owed != 0 || line.CreditsPosted != line.DebitsPosted || w.available(alice) != purse+1500 {
		t.Fatalf("after repay: owed %d, line %+v, purse %d", owed, line.Balances, w.available(alice)-purse)
	}
	if msgs := w.outbox()[alice]; len(msgs) == 0 || !strings.Contains(msgs[len(msgs)-1], "0.00 EUR to your credit line, 5.00 EUR to your e-purse") {
		t.Fatalf("refund notice %q", msgs)
	}
	if err := w.e.SetCreditStatus(ctx, "ops", alice, domain.StatusClosed); err != nil {
		t.Fatalf("the repaid line cannot close: %v", err)
	}
	mustVerifyWorld(t, w)
}

func TestFrozenLineCapturesGoOnAndOnlyRepaymentLiftsOverdue(t *testing.T) {
	w, shop := creditWorld(t) // statement day 5; the clock is 25 November
	ctx := context.Background()
	w.expect(alice, "CREDIT SHOP42 30 739164", "Authorised")
	held := w.lastPayment(shop)
	if err := w.e.SetCreditStatus(ctx, "ops", alice, domain.StatusBlocked); err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "CREDIT SHOP42 5 739164", "frozen")
	if p, err := w.e.CaptureHold(ctx, "m", shop, held.ID, 0); err != nil || p.State != domain.PaymentCompleted || w.available("SHOP42") != 3000 {
		t.Fatalf("capture on a frozen line: %+v %v", p, err)
	}
	w.e.SetCreditStatus(ctx, "ops", alice, domain.StatusActive)
	w.advance(10 * 24 * time.Hour) // 5 December: statement, 10.00 due by 25 December
	w.e.Statements(ctx)
	w.advance(31 * 24 * time.Hour) // 5 January: unpaid, and the next statement comes
	if n, err := w.e.Statements(ctx); err != nil || n != 1 {
		t.Fatalf("statements %d %v", n, err)
	}
	if msgs := w.outbox()[alice]; len(msgs) == 0 || !strings.Contains(msgs[len(msgs)-1], "Minimum due 20.00 EUR by 25/01") {
		t.Fatalf("the unpaid minimum is carried into the next statement: %q", msgs)
	}
	w.expect(alice, "CREDIT SHOP42 5 739164", "overdue: repay at least 10.00 EUR")
	w.expect(alice, "REPAY 10 739164", "Repaid 10.00 EUR")
	w.expect(alice, "CREDIT SHOP42 5.00 739164", "Authorised 5.00 EUR")
	// A CREDIT the line cannot take leaves no record behind.
	n := len(w.paymentsOf("SHOP42", domain.KindMerchant))
	w.expect(alice, "CREDIT SHOP42 500 739164", "")
	if ps := w.paymentsOf("SHOP42", domain.KindMerchant); len(ps) != n {
		t.Fatalf("a refused CREDIT left a record: %+v", ps[len(ps)-1])
	}
	mustVerifyWorld(t, w)
}
