package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"mpg/domain"
)

// Cases found by trying the payment records and money given back as an attacker, a merchant
// and an operator would; each failed before its fix.

func TestRefundToTheLineLowersWhatIsDueAndOverdue(t *testing.T) {
	w, shop := creditWorld(t) // statement day 5; 25 November
	ctx := context.Background()
	w.expect(alice, "CREDIT SHOP42 10 739164", "Authorised")
	p, err := w.e.CaptureHold(ctx, "m", shop, w.lastPayment(shop).ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.advance(10 * 24 * time.Hour) // 5 Dec: 10.00 due by 25 Dec
	w.e.Statements(ctx)
	w.advance(31 * 24 * time.Hour) // 5 Jan: unpaid, carried as overdue
	w.e.Statements(ctx)
	w.outbox()
	w.expect(alice, "CREDIT SHOP42 5 739164", "overdue")
	if _, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 1000}); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	w.expect(alice, "CREDIT SHOP42 5.00 739164", "Authorised 5.00 EUR") // the line owes nothing: not overdue
}

func TestCreditRefundRacingARepaymentIsComputedAgain(t *testing.T) {
	w, shop := creditWorld(t)
	ctx := context.Background()
	w.expect(alice, "CREDIT SHOP42 30 739164", "Authorised")
	p, err := w.e.CaptureHold(ctx, "m", shop, w.lastPayment(shop).ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, ver, _ := w.e.payment(p.ID)
	_, job, err := w.e.giveBack(&p, ver, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 3000, Kind: domain.RefundByMerchant})
	if err != nil {
		t.Fatal(err)
	}
	w.outbox()
	w.expect(alice, "REPAY 30 739164", "Repaid 30.00 EUR") // lands between the refund's read and its commit
	if _, err := w.l.Submit(ctx, job); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a refund split by a stale line committed: %v", err)
	}
	purse := w.available(alice)
	if _, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 3000}); err != nil {
		t.Fatal(err)
	}
	if line := w.line(); line.CreditsPosted != line.DebitsPosted || w.available(alice) != purse+3000 {
		t.Fatalf("line %+v, purse +%d", line.Balances, w.available(alice)-purse)
	}
	if err := w.e.SetCreditStatus(ctx, "ops", alice, domain.StatusClosed); err != nil {
		t.Fatal(err)
	}
}

func TestReversedCashInIsOneNotice(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.expect(alice, "REG 739164 Alice", "Welcome")
	tr, err := w.e.Topup(ctx, "care:1", alice, 500, "cash")
	if err != nil {
		t.Fatal(err)
	}
	w.outbox()
	if _, err := w.e.Reverse(ctx, "care:2", tr); err != nil {
		t.Fatal(err)
	}
	if msgs := w.outbox()[alice]; len(msgs) != 1 || !strings.Contains(msgs[0], "taken back") || w.available(alice) != 0 {
		t.Fatalf("reversed cash-in: %q, balance %d", msgs, w.available(alice))
	}
}

func TestReversalFromBeforeOneCapIsNotGivenTwice(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 450, Reference: "o1"})
	if err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "YES "+payCode(t, w.outbox()[alice]), "Paid 4.50 EUR")
	w.topup("SHOP42", 1000, 0) // the shop has sold more since
	id, _ := domain.ParseID(p.ID)
	tr, _ := w.l.Transfer(id)
	before := w.available(alice)
	if _, err := w.e.reverseTransfer(ctx, "care:old", tr); err != nil { // a reversal as the release before did it
		t.Fatal(err)
	}
	if _, err := w.e.Reverse(ctx, "care:new", tr); !errors.Is(err, ErrAlreadyReversed) {
		t.Fatalf("reversed again: %v", err)
	}
	_, _, _, err = w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID})
	wantCode(t, err, domain.CodeAlreadyReversed)
	if got := w.available(alice) - before; got != 450 {
		t.Fatalf("given back %d of 450", got)
	}
}

func TestHeldSendIsARecordClaimedAndReversedToThePayer(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 2)
	reply := w.sms(alice, "SEND "+bob+" 5 739164")[alice]
	esc, _ := w.l.System(domain.KindEscrow, "EUR")
	ps, _, _ := w.e.ListPayments(esc.ID, PaymentFilter{})
	if len(ps) != 1 || ps[0].State != domain.PaymentHeld || ps[0].ProductOf() != domain.ProductSend || ps[0].MerchantName != domain.Mask(bob) {
		t.Fatalf("held SEND: %+v (%q)", ps, reply)
	}
	w.sms(bob, "REG 246810 Bob")
	got := w.paymentsOf(bob, domain.KindPurse)
	if len(got) != 1 || got[0].State != domain.PaymentCompleted || got[0].ID != ps[0].ID {
		t.Fatalf("claimed: %+v", got)
	}
	var claim domain.Transfer
	hist, _ := w.l.History(w.l.AccountsOf(bob)[0].ID, 10, 0)
	for _, tr := range hist {
		if tr.Code == domain.CodeClaim {
			claim = tr
		}
	}
	aliceBefore := w.available(alice)
	if _, err := w.e.Reverse(ctx, "care", claim); err != nil {
		t.Fatal(err)
	}
	if esc, _ = w.l.System(domain.KindEscrow, "EUR"); w.available(alice)-aliceBefore != 500 || w.available(bob) != 0 || esc.Available() != 0 {
		t.Fatalf("reversed claim: alice +%d, bob %d", w.available(alice)-aliceBefore, w.available(bob))
	}
	w.verify()
	// One the payee never claims expires with the ledger's hold.
	w.sms(alice, "SEND +33699999999 2 739164")
	w.advance(49 * time.Hour)
	w.waitHeld(esc.ID)
}

// waitHeld expires the records whose holds lapsed and checks none is left held.
func (w *world) waitHeld(escrow uint64) {
	w.t.Helper()
	if _, err := w.e.ExpirePayments(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	ps, _, _ := w.e.ListPayments(escrow, PaymentFilter{})
	for _, p := range ps {
		if p.State == domain.PaymentHeld {
			w.t.Fatalf("still held after the claim window: %+v", p)
		}
	}
}

func TestReplacedConfirmationIsCancelled(t *testing.T) {
	w := newWorldWith(t, nil, 1000)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 1)
	w.sms(alice, "PAY SHOP42 20 R1 739164")
	w.sms(alice, "PAY SHOP42 15 R2 739164")
	if ps := w.paymentsOf("SHOP42", domain.KindMerchant); ps[0].State != domain.PaymentCancelled || ps[1].State != domain.PaymentAwaiting {
		t.Fatalf("first %s, second %s", ps[0].State, ps[1].State)
	}
}

func TestMerchantCancelledConfirmationDoesNotPay(t *testing.T) {
	w := newWorldWith(t, nil, 1000)
	ctx := context.Background()
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 1)
	code := payCode(t, w.sms(alice, "PAY SHOP42 20 R1 739164")[alice])
	shop := w.l.AccountsOf("SHOP42")[0].ID
	p := w.paymentsOf("SHOP42", domain.KindMerchant)[0]
	if _, err := w.e.CancelPayment(ctx, "key:1", shop, p.ID); err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "YES "+code, "Cancelled")
	if w.available("SHOP42") != 0 || w.available(alice) != 5000 {
		t.Fatalf("shop %d alice %d", w.available("SHOP42"), w.available(alice))
	}
}

// TestRequestPaidBeforeOneIdIsFoundByItsReceipt: a request completed when its transfer had an
// id of its own (before the payment's id was the transfer's) is still found from the receipt
// the subscriber reads out, so a refund and a reversal share its cap.
func TestRequestPaidBeforeOneIdIsFoundByItsReceipt(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	// A request completed as the release before did it: its transfer had an id of its own,
	// which the record names. Its id is time-ordered by the ledger's clock, as in a daemon.
	p, tr := w.oldRequest(shop)
	if _, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 150}); err != nil {
		t.Fatal(err)
	}
	stored, _ := w.l.Transfer(tr.ID)
	before := w.available(alice)
	if rev, err := w.e.Reverse(ctx, "care", stored); err != nil || rev.Amount != 300 {
		t.Fatalf("reversal of the rest: %+v %v", rev, err)
	}
	if w.available(alice)-before != 300 {
		t.Fatalf("given back %d", w.available(alice)-before)
	}
}

// timeID is an id made at t, as NewID makes them (time first), told apart by n.
func timeID(t time.Time, n uint64) domain.ID {
	var id domain.ID
	binary.BigEndian.PutUint64(id[:8], uint64(t.UnixNano()))
	binary.BigEndian.PutUint64(id[8:], n)
	return id
}

// oldRequest stores a 4.50 request alice paid a minute ago as the release before completed
// them: its transfer had an id of its own, which the record names.
func (w *world) oldRequest(shop uint64) (domain.Payment, domain.Transfer) {
	w.t.Helper()
	pid := timeID(w.now.Add(-time.Minute), 7)
	tr := domain.Transfer{ID: claimID(pid, 'P'), Debit: w.l.AccountsOf(alice)[0].ID, Credit: shop, Amount: 450, Code: domain.CodePay, Ref: "old-1"}
	p := domain.Payment{ID: pid.String(), Merchant: shop, MerchantName: "Corner Shop", Channel: domain.ChannelSMS, MSISDN: alice, Amount: 450,
		Currency: "EUR", Reference: "old-1", State: domain.PaymentCompleted, Transfer: tr.ID.String(), Debited: tr.Debit}
	if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{tr}, Profiles: []domain.Profile{write(keyPayment+p.ID, p, 0),
		{Owner: merchantKey(shop, p.ID), Data: indexEntry}}}); err != nil {
		w.t.Fatal(err)
	}
	return p, tr
}

// expiredCheckouts stores n expired checkouts of the shop, made a microsecond apart from t.
func (w *world) expiredCheckouts(shop uint64, n int, t time.Time) {
	w.t.Helper()
	var ps []domain.Profile
	for i := range n {
		q := domain.Payment{ID: timeID(t.Add(time.Duration(i)*time.Microsecond), 1).String(), Merchant: shop, MerchantName: "Corner Shop",
			Channel: domain.ChannelWeb, Amount: 100, Currency: "EUR", Reference: "x", State: domain.PaymentExpired}
		ps = append(ps, write(keyPayment+q.ID, q, 0), domain.Profile{Owner: merchantKey(shop, q.ID), Data: indexEntry})
		if len(ps) >= 2000 || i == n-1 {
			if _, err := w.l.Submit(context.Background(), domain.Job{Profiles: ps}); err != nil {
				w.t.Fatal(err)
			}
			ps = nil
		}
	}
}
