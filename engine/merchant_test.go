package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
)

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

// merchantWorld is a world with a registered, funded alice and SHOP42's account id.
func merchantWorld(t *testing.T) (*world, uint64) {
	w := newWorld(t)
	w.e.cfg.CheckoutMax, w.e.cfg.CheckoutMonthly = 1000, 3000
	w.expect(alice, "REG 739164 Alice", "Welcome Alice")
	w.topup(alice, 5000, 1)
	return w, w.l.AccountsOf("SHOP42")[0].ID
}

// outbox returns what reached each phone since the last look.
func (w *world) outbox() map[string][]string {
	w.t.Helper()
	msgs, err := w.l.Messages(100, 0, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string][]string{}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].ID > w.seen {
			text, err := w.e.DeliverText(msgs[i])
			if err != nil {
				w.t.Fatal(err)
			}
			out[msgs[i].To] = append(out[msgs[i].To], text)
			w.seen = msgs[i].ID
		}
	}
	return out
}

func payCode(t *testing.T, texts []string) string {
	t.Helper()
	if len(texts) != 1 {
		t.Fatalf("want one SMS with a code, got %q", texts)
	}
	m := sixDigits.FindStringSubmatch(texts[0])
	if m == nil {
		t.Fatalf("no code in %q", texts[0])
	}
	return m[1]
}

func wantCode(t *testing.T, err error, code domain.ErrorCode) {
	t.Helper()
	if got := domain.CodeOf(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestRequestToPayIsConfirmedBySMSOnce(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	if _, err := w.e.SetWebhook(ctx, "test", shop, "https://shop.example/hook", false); err != nil {
		t.Fatal(err)
	}
	req := CreatePayment{Merchant: shop, MSISDN: "0612345678", Amount: 450, Reference: "order-1234", Idempotency: Idempotency{Key: "k1", BodyHash: "h1"}}
	p, replay, err := w.e.CreatePayment(ctx, req)
	if err != nil || replay || p.State != domain.PaymentAwaiting || p.MSISDN != alice {
		t.Fatalf("create: %+v %v %v", p, replay, err)
	}
	sms := w.outbox()[alice]
	if !strings.Contains(strings.Join(sms, ""), "Corner Shop asks 4.50 EUR for order-1234: reply YES ") {
		t.Fatalf("request SMS %q", sms)
	}
	code := payCode(t, sms)

	// The same key and body is the first answer; the same key with another body is refused.
	again, replay, err := w.e.CreatePayment(ctx, req)
	if err != nil || !replay || again.ID != p.ID {
		t.Fatalf("replay: %+v %v %v", again, replay, err)
	}
	other := req
	other.BodyHash = "h2"
	_, _, err = w.e.CreatePayment(ctx, other)
	wantCode(t, err, domain.CodeIdempotencyMismatch)
	if got := w.outbox(); len(got) != 0 {
		t.Fatalf("a replay texted %q", got)
	}

	w.expect(alice, "YES "+code, "Paid 4.50 EUR to Corner Shop")
	if got, _ := w.e.GetPayment(shop, p.ID); got.State != domain.PaymentCompleted || got.Debited == 0 {
		t.Fatalf("after YES: %+v", got)
	}
	if w.available(alice) != 4550 || w.available("SHOP42") != 450 {
		t.Fatalf("balances %d %d", w.available(alice), w.available("SHOP42"))
	}
	// The code is single use: a second YES pays nothing.
	w.expect(alice, "YES  "+code, "No payment is waiting")
	if w.available(alice) != 4550 {
		t.Fatal("paid twice")
	}
	// Webhooks: created (awaiting) then completed, in order, each signed with the secret.
	ds, err := w.e.Deliveries("", "", 10)
	if err != nil || len(ds) != 2 || ds[0].Type != "payment.awaiting_confirmation" || ds[1].Type != "payment.completed" {
		t.Fatalf("deliveries %+v %v", ds, err)
	}
	if !strings.Contains(string(ds[1].Body), `"state":"completed"`) || strings.Contains(string(ds[1].Body), "code_mac") {
		t.Fatalf("body %s", ds[1].Body)
	}
	// Another merchant cannot see it.
	_, err = w.e.GetPayment(shop+100, p.ID)
	wantCode(t, err, domain.CodeNotFound)
}

func TestRequestRefusals(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	_, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: "0600000001", Amount: 100, Reference: "r"})
	wantCode(t, err, domain.CodeSubscriberNotFound)
	_, _, err = w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: "bad\nref"})
	wantCode(t, err, domain.CodeInvalidRequest)
	_, _, err = w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 20000, Reference: "r"})
	wantCode(t, err, domain.CodeLimitExceeded) // tier 1 pays at most 100.00

	// Three wrong codes refuse it.
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	code := payCode(t, w.outbox()[alice])
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	w.expect(alice, "YES "+wrong, "2 tries left")
	w.expect(alice, "YES  "+wrong, "1 try left")
	w.expect(alice, "YES   "+wrong, "Cancelled")
	if got, _ := w.e.GetPayment(shop, p.ID); got.State != domain.PaymentRefused || got.Reason != string(domain.CodeWrongCode) {
		t.Fatalf("after 3 wrong codes: %+v", got)
	}
	w.expect(alice, "YES "+code, "No payment is waiting")

	// NO refuses; cancel and expiry end the others; money never moves.
	p2, _, _ := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: "r2"})
	w.expect(alice, "NO "+payCode(t, w.outbox()[alice]), "You refused the payment to Corner Shop")
	if got, _ := w.e.GetPayment(shop, p2.ID); got.State != domain.PaymentRefused || got.Reason != string(domain.CodeDeclined) {
		t.Fatalf("after NO: %+v", got)
	}
	p3, _, _ := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: "r3"})
	c3 := payCode(t, w.outbox()[alice])
	if got, err := w.e.CancelPayment(ctx, "test", shop, p3.ID); err != nil || got.State != domain.PaymentCancelled {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	if got, err := w.e.CancelPayment(ctx, "test", shop, p3.ID); err != nil || got.State != domain.PaymentCancelled {
		t.Fatalf("cancel twice: %+v %v", got, err)
	}
	w.expect(alice, "YES "+c3, "No payment is waiting")
	p4, _, _ := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: "r4"})
	c4 := payCode(t, w.outbox()[alice])
	w.advance(16 * time.Minute)
	if n, err := w.e.ExpirePayments(ctx); err != nil || n != 1 {
		t.Fatalf("expired %d %v", n, err)
	}
	if got, _ := w.e.GetPayment(shop, p4.ID); got.State != domain.PaymentExpired {
		t.Fatalf("after expiry: %+v", got)
	}
	_, err = w.e.CancelPayment(ctx, "test", shop, p4.ID)
	wantCode(t, err, domain.CodeInvalidState)
	w.expect(alice, "YES "+c4, "No payment is waiting")
	if w.available(alice) != 5000 || w.available("SHOP42") != 0 {
		t.Fatalf("money moved: %d %d", w.available(alice), w.available("SHOP42"))
	}

	// Not enough money at YES: refused with the ledger's reason, and told.
	p5, _, _ := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 6000, Reference: "r5"})
	w.expect(alice, "YES "+payCode(t, w.outbox()[alice]), "Not enough money")
	if got, _ := w.e.GetPayment(shop, p5.ID); got.State != domain.PaymentRefused || got.Reason != string(domain.CodeInsufficientFunds) {
		t.Fatalf("after insufficient funds: %+v", got)
	}
}

func TestRefundsNeverExceedThePayment(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 1000, Reference: "o1"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 100})
	wantCode(t, err, domain.CodeInvalidState) // not paid yet
	w.expect(alice, "YES "+payCode(t, w.outbox()[alice]), "Paid 10.00 EUR")

	// Racing partial refunds: whatever the interleaving, never more than was paid.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 300})
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if c := domain.CodeOf(err); c != domain.CodeRefundTooLarge {
				t.Errorf("refund: %v", err)
			}
		}()
	}
	wg.Wait()
	got, _ := w.e.GetPayment(shop, p.ID)
	if ok != 3 || got.Refunded != 900 || got.State != domain.PaymentPartiallyRefunded || w.available("SHOP42") != 100 {
		t.Fatalf("%d refunds, %+v, shop %d", ok, got, w.available("SHOP42"))
	}
	// The rest (amount 0), with a key: a retry is the same refund.
	req := RefundRequest{Merchant: shop, PaymentID: p.ID, Idempotency: Idempotency{Key: "rf", BodyHash: "x"}}
	_, r1, _, err := w.e.RefundPayment(ctx, req)
	if err != nil || r1.Amount != 100 {
		t.Fatalf("refund rest: %+v %v", r1, err)
	}
	after, r2, replay, err := w.e.RefundPayment(ctx, req)
	if err != nil || !replay || r2.ID != r1.ID || after.State != domain.PaymentRefunded {
		t.Fatalf("replay: %+v %+v %v %v", after, r2, replay, err)
	}
	_, _, _, err = w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 1})
	wantCode(t, err, domain.CodeInvalidState)
	// The purse has its 10.00 back (no fee up to 10.00).
	if w.available(alice) != 5000 || w.available("SHOP42") != 0 {
		t.Fatalf("alice %d shop %d", w.available(alice), w.available("SHOP42"))
	}
	if sms := w.outbox()[alice]; len(sms) == 0 || !strings.Contains(sms[len(sms)-1], "Corner Shop refunded 1.00 EUR") {
		t.Fatalf("refund SMS %q", sms)
	}
}

func TestCheckoutIsConfirmedByTheTextedCodeOnce(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	_, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 1001, Reference: "big"})
	wantCode(t, err, domain.CodeLimitExceeded) // the per-charge cap
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 800, Reference: "web-1", ReturnURL: "https://shop.example/done"})
	if err != nil || p.State != domain.PaymentCreated {
		t.Fatalf("checkout: %+v %v", p, err)
	}
	_, err = w.e.CheckoutPhone(ctx, p.ID, "0600000009", "", "")
	wantCode(t, err, domain.CodeSubscriberNotFound)
	if _, err = w.e.CheckoutPhone(ctx, p.ID, "06 12 34 56 78", "", ""); err != nil {
		t.Fatal(err)
	}
	sms := w.outbox()[alice]
	if !strings.Contains(strings.Join(sms, ""), "to pay 8.00 EUR to Corner Shop on its web page") {
		t.Fatalf("code SMS %q", sms)
	}
	code := payCode(t, sms)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	var pe *domain.PaymentError
	if _, err := w.e.CheckoutCode(ctx, p.ID, wrong, ""); !errors.As(err, &pe) || pe.Code != domain.CodeWrongCode || pe.Left != 2 {
		t.Fatalf("wrong code: %v", err)
	}

	// Eight tabs submit the right code at once, with a cancel racing them: one outcome.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.e.CheckoutCode(ctx, p.ID, code, "")
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); w.e.CancelPayment(ctx, "race", shop, p.ID) }()
	wg.Wait()
	got, _ := w.e.GetPayment(shop, p.ID)
	w.outbox()
	switch got.State {
	case domain.PaymentCompleted:
		if w.available(alice) != 5000-800 || w.available("SHOP42") != 800 {
			t.Fatalf("completed but alice %d shop %d", w.available(alice), w.available("SHOP42"))
		}
	case domain.PaymentCancelled:
		if w.available(alice) != 5000 {
			t.Fatal("cancelled but money moved")
		}
	default:
		t.Fatalf("state %s", got.State)
	}

	// The monthly cap counts checkouts in the profile written with the money.
	spent := uint64(0)
	if got.State == domain.PaymentCompleted {
		spent = 800
	}
	for i := 0; spent+800 <= 3000; i++ {
		q, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 800, Reference: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.e.CheckoutPhone(ctx, q.ID, alice, "", ""); err != nil {
			t.Fatal(err)
		}
		if q, err = w.e.CheckoutCode(ctx, q.ID, payCode(t, w.outbox()[alice]), ""); err != nil || q.State != domain.PaymentCompleted {
			t.Fatalf("checkout %d: %+v %v", i, q, err)
		}
		w.outbox()
		spent += 800
	}
	q, _, _ := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 800, Reference: "over"})
	_, err = w.e.CheckoutPhone(ctx, q.ID, alice, "", "")
	wantCode(t, err, domain.CodeLimitExceeded)
	w.advance(31 * 24 * time.Hour) // next month
	w.outbox()
	q, _, _ = w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: "next month"})
	if _, err := w.e.CheckoutPhone(ctx, q.ID, alice, "", ""); err != nil {
		t.Fatalf("next month: %v", err)
	}
}

func TestCheckoutCodesPerNumberPerHourAreLimited(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		q, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: "c"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err = w.e.CheckoutPhone(ctx, q.ID, alice, "", ""); err != nil {
			t.Fatalf("code %d: %v", i, err)
		}
	}
	q, _, _ := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: "c"})
	_, err := w.e.CheckoutPhone(ctx, q.ID, alice, "", "")
	wantCode(t, err, domain.CodeTooManyCodes)
	w.advance(time.Hour)
	q, _, _ = w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: "c"})
	if _, err := w.e.CheckoutPhone(ctx, q.ID, alice, "", ""); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
}

func TestWebhookAttemptsBackOffAnd410TurnsTheEndpointOff(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	secret, err := w.e.SetWebhook(ctx, "test", shop, "https://shop.example/hook", false)
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q %v", secret, err)
	}
	w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: "a"})
	due, err := w.e.DueWebhooks(ctx, 10, nil)
	if err != nil || len(due) != 1 || due[0].URL != "https://shop.example/hook" || due[0].Secret != secret {
		t.Fatalf("due %+v %v", due, err)
	}
	id := due[0].ID
	if err := w.e.WebhookAttempt(ctx, id, 500, "server error"); err != nil {
		t.Fatal(err)
	}
	if due, _ := w.e.DueWebhooks(ctx, 10, nil); len(due) != 0 {
		t.Fatal("due again at once after a failure")
	}
	w.advance(6 * time.Second)
	if due, _ := w.e.DueWebhooks(ctx, 10, nil); len(due) != 1 {
		t.Fatal("not due after the first backoff")
	}
	if err := w.e.WebhookAttempt(ctx, id, 200, ""); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := w.e.Delivery(id); d.State != DeliveryDelivered || d.Attempts != 2 {
		t.Fatalf("delivered: %+v", d)
	}
	// A 410 turns the endpoint off; what was queued, and what happens meanwhile, waits for it
	// to be on again; replay re-queues the delivery that got the 410, its attempts counted on.
	w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: "b"})
	w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: "c"})
	due, _ = w.e.DueWebhooks(ctx, 1, nil)
	if err := w.e.WebhookAttempt(ctx, due[0].ID, 410, ""); err != nil {
		t.Fatal(err)
	}
	if due, _ := w.e.DueWebhooks(ctx, 10, nil); len(due) != 0 {
		t.Fatalf("an endpoint that is off got %d deliveries", len(due))
	}
	w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: "d"}) // while it is off
	if ds, _ := w.e.Deliveries("", DeliveryPending, 10); len(ds) != 2 {
		t.Fatalf("kept while the endpoint is off: %+v", ds)
	}
	if _, err := w.e.SetWebhook(ctx, "test", shop, "https://shop.example/hook2", false); err != nil {
		t.Fatal(err)
	}
	if due2, _ := w.e.DueWebhooks(ctx, 10, nil); len(due2) != 2 || due2[0].URL != "https://shop.example/hook2" {
		t.Fatalf("once on again: %+v", due2)
	}
	if err := w.e.ReplayWebhook(ctx, "test", due[0].ID); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := w.e.Delivery(due[0].ID); d.State != DeliveryPending || d.Attempts != 1 || d.Round != 0 {
		t.Fatalf("replayed: %+v", d)
	}
	if due3, _ := w.e.DueWebhooks(ctx, 10, nil); len(due3) != 3 {
		t.Fatalf("after replay: %d due", len(due3))
	}
	// Signatures follow Standard Webhooks: v1,base64(HMAC-SHA256(id.ts.body)).
	sig, err := SignWebhook(secret, "msg_1", 1700000000, []byte(`{"a":1}`))
	if err != nil || !strings.HasPrefix(sig, "v1,") || len(sig) != 3+44 {
		t.Fatalf("signature %q %v", sig, err)
	}
}

func TestAPIKeysAreStoredAsHashesAndRevokedAtOnce(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	key, info, err := w.e.CreateAPIKey(ctx, "ops", shop)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := w.e.Authenticate(key); err != nil || m.ID != shop {
		t.Fatalf("auth: %+v %v", m, err)
	}
	if _, err := w.e.Authenticate(key + "x"); !errors.Is(err, ErrBadKey) {
		t.Fatalf("altered key: %v", err)
	}
	if err := w.e.RevokeAPIKey(ctx, "ops", shop, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.e.Authenticate(key); !errors.Is(err, ErrBadKey) {
		t.Fatalf("revoked key: %v", err)
	}
	w.l.Close()
	if b := w.rawBooks(t); strings.Contains(string(b), key) || strings.Contains(string(b), key[13:]) {
		t.Fatal("the API key is in the ledger file")
	}
}

// TestConfirmationAtTheDeadlineIsRefusedByTheLedger: the engine reads the payment just
// before its deadline, the ledger's clock passes it before the job commits: no money moves
// and the payment ends expired.
func TestConfirmationAtTheDeadlineIsRefusedByTheLedger(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	p, _, _ := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 300, Reference: "late"})
	w.e.CheckoutPhone(ctx, p.ID, alice, "", "")
	code := payCode(t, w.outbox()[alice])
	// The engine's clock says 1 ns before the deadline; the ledger's is past it.
	w.e.cfg.Now = func() time.Time { return time.Unix(0, p.Expires-1) }
	w.clock.Store(p.Expires + 1)
	got, _ := w.e.CheckoutCode(ctx, p.ID, code, "")
	if got.State != domain.PaymentExpired || w.available(alice) != 5000 || w.available("SHOP42") != 0 {
		t.Fatalf("state %s, alice %d, shop %d", got.State, w.available(alice), w.available("SHOP42"))
	}
}

// TestWebhookEndpointsAreServedFairly: a backlog at one endpoint (deliveries waiting to be
// retried, and more due than it may take at once) never delays another's.
func TestWebhookEndpointsAreServedFairly(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	res, err := w.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP7", Name: "Other Shop"}}})
	if err != nil {
		t.Fatal(err)
	}
	other := res.Accounts[0].ID
	for _, m := range []uint64{shop, other} {
		if _, err := w.e.SetWebhook(ctx, "test", m, "https://hooks.example/"+hex16(m), false); err != nil {
			t.Fatal(err)
		}
	}
	// SHOP42: 3,000 deliveries waiting for a retry, 40 due now.
	var ps []domain.Profile
	for i := range 3040 {
		d := Delivery{ID: fmt.Sprintf("msg_%032x", i), Merchant: shop, Type: "payment.created", Body: []byte(`{}`), State: DeliveryPending, Attempts: 1, Round: 1}
		if i >= 40 {
			d.NextAt = w.now.Add(time.Hour).UnixNano()
		}
		ps = append(ps, write(keyEvent+d.ID, d, 0), write(queueKey(shop, d.NextAt, d.ID), queued{NextAt: d.NextAt}, 0))
		if len(ps) >= 1000 {
			if _, err := w.l.Submit(ctx, domain.Job{Profiles: ps}); err != nil {
				t.Fatal(err)
			}
			ps = nil
		}
	}
	w.l.Submit(ctx, domain.Job{Profiles: ps})
	w.e.CreatePayment(ctx, CreatePayment{Merchant: other, Amount: 100, Reference: "o1"})
	due, err := w.e.DueWebhooks(ctx, 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	per := map[uint64]int{}
	for _, d := range due {
		per[d.Merchant]++
	}
	if per[other] != 1 || per[shop] > perEndpoint {
		t.Fatalf("one look: %d of the other shop's, %d of the backlogged one (at most %d)", per[other], per[shop], perEndpoint)
	}
}

// TestCompletedEventCarriesTheReceipt: the event of a completed payment, written before its
// transfer could be read, carries the receipt the API shows.
func TestCompletedEventCarriesTheReceipt(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	if _, err := w.e.SetWebhook(ctx, "test", shop, "https://shop.example/hook", false); err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "PAY SHOP42 3 R1 739164", "Paid 3.00 EUR")
	due, err := w.e.DueWebhooks(ctx, 10, nil)
	if err != nil || len(due) != 1 {
		t.Fatalf("due %d %v", len(due), err)
	}
	p, _ := w.e.GetPayment(shop, due[0].Payment)
	receipt := w.e.View(p).Receipt
	if receipt == "" || !strings.Contains(string(due[0].Body), `"receipt":"`+receipt+`"`) {
		t.Fatalf("event %s, receipt %q", due[0].Body, receipt)
	}
	again, _ := w.e.DueWebhooks(ctx, 10, nil)
	if len(again) != 1 || string(again[0].Body) != string(due[0].Body) {
		t.Fatal("the body changed between looks: attempts would not send the same bytes")
	}
}

// TestWebhookRetryScheduleFromConfig: the waits between attempts are the configured ones,
// and after the last the delivery fails.
func TestWebhookRetryScheduleFromConfig(t *testing.T) {
	w, shop := merchantWorld(t)
	w.e.cfg.WebhookRetry = []time.Duration{time.Second, 3 * time.Second}
	ctx := context.Background()
	w.e.SetWebhook(ctx, "test", shop, "https://shop.example/hook", false)
	w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: "a"})
	for i, wait := range []time.Duration{time.Second, 3 * time.Second, 0} {
		due, _ := w.e.DueWebhooks(ctx, 10, nil)
		if len(due) != 1 {
			t.Fatalf("attempt %d: %d due", i+1, len(due))
		}
		w.e.WebhookAttempt(ctx, due[0].ID, 503, "busy")
		if wait > 0 {
			w.advance(wait - time.Millisecond)
			if due, _ := w.e.DueWebhooks(ctx, 10, nil); len(due) != 0 {
				t.Fatalf("attempt %d due before its wait", i+2)
			}
			w.advance(time.Second)
		}
	}
	if ds, _ := w.e.Deliveries("", DeliveryFailed, 10); len(ds) != 1 || ds[0].Attempts != 3 {
		t.Fatalf("after the schedule: %+v", ds)
	}
}

// TestWebhookBacklogPerEndpoint: what waits at each endpoint, since when, and its failures.
func TestWebhookBacklogPerEndpoint(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	w.e.SetWebhook(ctx, "test", shop, "https://shop.example/hook", false)
	for _, ref := range []string{"a", "b", "c"} {
		w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 100, Reference: ref})
	}
	due, _ := w.e.DueWebhooks(ctx, 1, nil)
	w.e.WebhookAttempt(ctx, due[0].ID, 500, "down")
	b, err := w.e.WebhookBacklog()
	if err != nil || len(b) != 1 || b[0].Merchant != shop || b[0].Pending != 3 || b[0].Failures != 1 || b[0].OldestDue > w.now.UnixNano() {
		t.Fatalf("backlog %+v %v", b, err)
	}
}

// TestWebhookBacklogIsBoundedPerEndpoint: a dead endpoint's long queue is counted up to the
// bound and no further, and the endpoint after it is still seen with its own count.
func TestWebhookBacklogIsBoundedPerEndpoint(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	next := shop + 1
	var writes []domain.Profile
	for i := range MaxBacklogCount + 5 {
		writes = append(writes, domain.Profile{Owner: queueKey(shop, int64(i+1)*1e9, fmt.Sprintf("msg_%08d", i)), Data: indexEntry})
		if len(writes) == 500 {
			if _, err := w.l.Submit(ctx, domain.Job{Profiles: writes}); err != nil {
				t.Fatal(err)
			}
			writes = nil
		}
	}
	writes = append(writes, domain.Profile{Owner: queueKey(next, 7e9, "msg_x"), Data: indexEntry}, domain.Profile{Owner: keyQueued + "msg_old", Data: indexEntry})
	if _, err := w.l.Submit(ctx, domain.Job{Profiles: writes}); err != nil {
		t.Fatal(err)
	}
	b, err := w.e.WebhookBacklog()
	got := map[uint64]Backlog{}
	for _, x := range b {
		got[x.Merchant] = x
	}
	if err != nil || len(b) != 2 || got[shop].Pending != MaxBacklogCount || got[shop].OldestDue != 1e9 || got[next].Pending != 1 || got[next].OldestDue != 7e9 {
		t.Fatalf("backlog %+v %v", b, err)
	}
}
