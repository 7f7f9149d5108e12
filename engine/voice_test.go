package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"mpg/domain"
)

// voiceWorld is a world where Alice chose to confirm by phone call, calls can be made,
// and payments above 50.00 EUR wait for her confirmation.
func voiceWorld(t *testing.T) *world {
	w := newWorldWith(t, nil, 5000)
	w.expect(alice, "REG 739164", "Welcome")
	w.topup(alice, 20000, 2)
	w.expect(alice, "CONFIRM VOICE 739164", "not available") // no calls: codes go on
	w.expect(alice, "SETTINGS 739164", "Confirm by: SMS code (CONFIRM VOICE pin")
	w.e.SetVoice(true)
	w.expect(alice, "CONFIRM VOICE 000000", "Wrong PIN")
	w.expect(alice, "CONFIRM VOICE 739164", "confirmed by a phone call")
	w.expect(alice, "CONFIRM 739164", "CONFIRM VOICE pin") // the syntax
	w.expect(alice, "REGLAGES 739164", "Confirmation: appel (CONFIRMER APPEL")
	return w
}

// dial is the voice worker's first step: the queued call moves to calling.
func (w *world) dial(number string) VoiceCall {
	w.t.Helper()
	due := w.e.VoiceDue(10)
	if len(due) != 1 || due[0] != number {
		w.t.Fatalf("calls due %q, want %s", due, number)
	}
	call, ok, err := w.e.VoiceDial(context.Background(), number)
	if err != nil || !ok {
		w.t.Fatalf("dial %s: %v %v", number, ok, err)
	}
	if _, state, _ := w.e.ConfirmCall(number); state != CallCalling {
		w.t.Fatalf("call state %q, want calling", state)
	}
	return call
}

func (w *world) keyed(call VoiceCall, pin, state, say string) {
	w.t.Helper()
	v, err := w.e.VoicePIN(context.Background(), call.Number, call.ID, pin)
	if err != nil || v.State != state || !strings.Contains(v.Say, say) {
		w.t.Fatalf("PIN %s: %+v %v, want %s %q", pin, v, err, state, say)
	}
}

// news are the SMS sent since the last look, by recipient.
func (w *world) news() map[string][]string {
	w.t.Helper()
	return w.sms(alice, "HELP") // HELP's reply comes last, after what the worker's steps sent
}

// A PAY above the threshold reserves the money and queues a call instead of texting a
// code: a wrong PIN keyed counts, the right one pays, in the job that records the call
// confirmed; the call's PIN is the same PIN, its wrong tries count as wrong PINs.
func TestVoiceConfirmationPays(t *testing.T) {
	w := voiceWorld(t)
	got := w.expect(alice, "PAY SHOP42 60 739164", "We are calling you to confirm PAY of 60.10 EUR to Corner Shop")
	if strings.Contains(got, "YES") || w.available(alice) != 20000-6010 || w.available("SHOP42") != 0 {
		t.Fatalf("asked %q; alice %d shop %d", got, w.available(alice), w.available("SHOP42"))
	}
	call := w.dial(alice)
	if call.Prompt != "Pay 60.10 EUR to Corner Shop. Key in your PIN, then hash." {
		t.Fatalf("prompt %q", call.Prompt)
	}
	if err := w.e.VoiceAnswered(context.Background(), alice, call.ID); err != nil {
		t.Fatal(err)
	}
	w.keyed(call, "111111", CallAnswered, "Wrong PIN. 2 tries left")
	w.keyed(call, "739164", CallConfirmed, "Thank you")
	if w.available("SHOP42") != 6000 || w.available(alice) != 20000-6010 {
		t.Fatalf("paid: alice %d shop %d", w.available(alice), w.available("SHOP42"))
	}
	news := w.news()
	if len(news[alice]) != 2 || !strings.Contains(news[alice][0], "Paid 60.00 EUR to Corner Shop") {
		t.Fatalf("told %q", news)
	}
	if due := w.e.VoiceDue(10); len(due) != 0 {
		t.Fatalf("queue after: %q", due)
	}
	w.keyed(call, "739164", CallConfirmed, "Thank you") // a repeated PIN posts nothing more
	if w.available("SHOP42") != 6000 {
		t.Fatalf("paid twice: %d", w.available("SHOP42"))
	}
	w.expect(alice, "CONFIRM SMS 739164", "by a code texted")
	w.expect(alice, "PAY SHOP42 51 739164", "reply YES")
}

// Three wrong PINs in the call refuse the payment: the money is back, an SMS says so.
func TestVoiceWrongPINsRefuse(t *testing.T) {
	w := voiceWorld(t)
	w.expect(alice, "PAY SHOP42 60 739164", "We are calling you")
	call := w.dial(alice)
	w.keyed(call, "111111", CallCalling, "2 tries left")
	w.keyed(call, "222222", CallCalling, "1 tries left")
	w.keyed(call, "333333", CallRefused, "not made")
	if w.available(alice) != 20000 || w.available("SHOP42") != 0 {
		t.Fatalf("alice %d shop %d", w.available(alice), w.available("SHOP42"))
	}
	if news := w.news(); len(news[alice]) != 2 || !strings.Contains(news[alice][0], "was wrong. The payment was not made") {
		t.Fatalf("told %q", news)
	}
	w.keyed(call, "739164", CallRefused, "not made") // too late: nothing
	if w.available("SHOP42") != 0 {
		t.Fatal("paid after refusal")
	}
}

// No answer releases the reservation; so does a call a restart finds under way (its PIN
// never recorded), and a PIN keyed after that posts nothing. A PIN keyed after the
// confirmation expired posts nothing either.
func TestVoiceNoAnswerCrashAndLatePIN(t *testing.T) {
	w := voiceWorld(t)
	ctx := context.Background()
	w.expect(alice, "PAY SHOP42 60 739164", "We are calling you")
	call := w.dial(alice)
	if err := w.e.VoiceEnd(ctx, alice, call.ID, CallNoAnswer); err != nil {
		t.Fatal(err)
	}
	if w.available(alice) != 20000 {
		t.Fatalf("after no answer: %d", w.available(alice))
	}
	if news := w.news(); !strings.Contains(news[alice][0], "no answer") {
		t.Fatalf("told %q", news)
	}

	// A daemon stopped while calling: a new engine on the same books resolves it.
	w.expect(alice, "SEND 0687654321 70 739164", "We are calling you to confirm SEND of 70.00 EUR to")
	call = w.dial(alice)
	restarted, err := New(w.e.cfg, w.l)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := restarted.VoiceRecover(ctx); err != nil || n != 1 {
		t.Fatalf("recovered %d %v", n, err)
	}
	if _, state, _ := restarted.ConfirmCall(alice); state != CallFailed || w.available(alice) != 20000 {
		t.Fatalf("after restart: %s %d", state, w.available(alice))
	}
	if news := w.news(); !strings.Contains(news[alice][0], "could not be completed") {
		t.Fatalf("told %q", news)
	}
	w.keyed(call, "739164", CallFailed, "not made")
	if w.available(alice) != 20000 {
		t.Fatal("a late PIN moved money")
	}

	// Expired while the call went on: the right PIN posts nothing.
	w.expect(alice, "PAY SHOP42 60 R2 739164", "We are calling you")
	call = w.dial(alice)
	w.advance(w.e.cfg.ConfirmFor + time.Second)
	w.keyed(call, "739164", CallFailed, "not made")
	if w.available("SHOP42") != 0 {
		t.Fatal("paid after expiry")
	}
	waitFor(t, func() bool { return w.available(alice) == 20000 }) // the ledger's expiry
}

// A merchant's request to pay is confirmed by the call as by YES <code>: the payment's
// record completes; no answer refuses it.
func TestVoiceConfirmsMerchantRequest(t *testing.T) {
	w := voiceWorld(t)
	ctx := context.Background()
	shop := w.l.AccountsOf("SHOP42")[0].ID
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 450, Reference: "order-1"})
	if err != nil {
		t.Fatal(err)
	}
	if news := w.news(); !strings.Contains(news[alice][0], "We are calling you to confirm PAY of 4.50 EUR to Corner Shop") {
		t.Fatalf("told %q", news)
	}
	call := w.dial(alice)
	w.keyed(call, "739164", CallConfirmed, "Thank you")
	if got, _, _ := w.e.payment(p.ID); got.State != domain.PaymentCompleted || w.available("SHOP42") != 450 {
		t.Fatalf("payment %s, shop %d", got.State, w.available("SHOP42"))
	}
	p, _, err = w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 300, Reference: "order-2"})
	if err != nil {
		t.Fatal(err)
	}
	call = w.dial(alice)
	if err := w.e.VoiceEnd(ctx, alice, call.ID, CallNoAnswer); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := w.e.payment(p.ID); got.State != domain.PaymentRefused || w.available("SHOP42") != 450 {
		t.Fatalf("payment %s, shop %d", got.State, w.available("SHOP42"))
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("timed out")
		}
	}
}

// A DEBIT confirmed by the call goes to the bank as after YES <code>, and the bank's answer
// completes it; one not confirmed (no answer) never reaches the bank.
func TestVoiceConfirmsDebit(t *testing.T) {
	w, _ := debitWorld(t)
	w.e.SetVoice(true)
	w.expect(alice, "CONFIRM VOICE 739164", "phone call")
	w.expect(alice, "DEBIT SHOP42 20 739164", "We are calling you to confirm DEBIT of 20.00 EUR to Corner Shop")
	call := w.dial(alice)
	w.keyed(call, "739164", CallConfirmed, "Thank you")
	recs, _ := w.l.ProfilesFrom(keyBankQueue, "", 10)
	if len(recs) != 1 {
		t.Fatalf("bank queue: %d", len(recs))
	}
	if p := w.settle(strings.TrimPrefix(recs[0].Owner, keyBankQueue)); p.State != domain.PaymentCompleted || w.available("SHOP42") != 2000 {
		t.Fatalf("after the bank: %s, shop %d", p.State, w.available("SHOP42"))
	}
	if got := strings.Join(w.outbox()[alice], " "); !strings.Contains(got, "Sent to your bank: 20.00 EUR") || !strings.Contains(got, "Bank approval") {
		t.Fatalf("told %q", got)
	}
	w.expect(alice, "DEBIT SHOP42 30 739164", "We are calling you")
	call = w.dial(alice)
	if err := w.e.VoiceEnd(context.Background(), alice, call.ID, CallNoAnswer); err != nil {
		t.Fatal(err)
	}
	if recs, _ := w.l.ProfilesFrom(keyBankQueue, "", 10); len(recs) != 0 || w.available("SHOP42") != 2000 {
		t.Fatalf("unconfirmed DEBIT queued for the bank: %d, shop %d", len(recs), w.available("SHOP42"))
	}
}

// A confirmation the rule book refuses when the right PIN is keyed (the purse was blocked
// while the phone rang) is released at once, not kept for a YES: no code was texted, so
// none can come. The call ends failed, never confirmed; the payment's record too.
func TestVoiceRefusedAtTheRightPINReleases(t *testing.T) {
	w := voiceWorld(t)
	w.expect(alice, "PAY SHOP42 60 739164", "We are calling you")
	call := w.dial(alice)
	w.handle(alice, "BLOCK")
	w.keyed(call, "739164", CallFailed, "not made")
	if w.available(alice) != 20000 || w.available("SHOP42") != 0 {
		t.Fatalf("alice %d shop %d", w.available(alice), w.available("SHOP42"))
	}
	if due := w.e.VoiceDue(10); len(due) != 0 {
		t.Fatalf("queue after: %q", due)
	}

	// A merchant's request: refused, not confirmed, nothing paid.
	w = voiceWorld(t)
	shop := w.l.AccountsOf("SHOP42")[0].ID
	p, _, err := w.e.CreatePayment(context.Background(), CreatePayment{Merchant: shop, MSISDN: alice, Amount: 450, Reference: "order-1"})
	if err != nil {
		t.Fatal(err)
	}
	call = w.dial(alice)
	w.handle(alice, "BLOCK")
	w.keyed(call, "739164", CallFailed, "not made")
	if got, _, _ := w.e.payment(p.ID); got.State != domain.PaymentRefused || w.available("SHOP42") != 0 || w.available(alice) != 20000 {
		t.Fatalf("payment %s, shop %d, alice %d", got.State, w.available("SHOP42"), w.available(alice))
	}
}

// A call whose end could not be recorded (the ledger failed the worker's last step) stays
// calling; the worker's next look at the queue ends it as failed, the money back, an SMS.
func TestVoiceCallLeftOpenIsEndedAtTheNextLook(t *testing.T) {
	w := voiceWorld(t)
	w.expect(alice, "PAY SHOP42 60 739164", "We are calling you")
	w.dial(alice)
	due := w.e.VoiceDue(10)
	if len(due) != 1 || due[0] != alice {
		t.Fatalf("due %q", due)
	}
	if _, ok, err := w.e.VoiceDial(context.Background(), alice); ok || err != nil {
		t.Fatalf("dialled again: %v %v", ok, err)
	}
	if _, state, _ := w.e.ConfirmCall(alice); state != CallFailed || w.available(alice) != 20000 {
		t.Fatalf("after: %s %d", state, w.available(alice))
	}
	if news := w.news(); !strings.Contains(news[alice][0], "could not be completed") {
		t.Fatalf("told %q", news)
	}
	if due := w.e.VoiceDue(10); len(due) != 0 {
		t.Fatalf("queue after: %q", due)
	}
}

// The PIN keyed in a call is checked as every PIN is: after an operator reset it (a stolen
// PIN), the old one keyed is no guess and counts as no wrong PIN; the call ends, the money
// back, and the SMS says the PIN was reset.
func TestVoicePINAfterAnOperatorResetIsNoGuess(t *testing.T) {
	w := voiceWorld(t)
	w.expect(alice, "PAY SHOP42 60 739164", "We are calling you")
	call := w.dial(alice)
	if err := w.e.ResetPIN(context.Background(), "care:3", alice); err != nil {
		t.Fatal(err)
	}
	w.keyed(call, "739164", CallFailed, "not made")
	if w.available(alice) != 20000 || w.available("SHOP42") != 0 {
		t.Fatalf("alice %d shop %d", w.available(alice), w.available("SHOP42"))
	}
	if tr, err := w.e.loadTurn(alice); err != nil || tr.prof.Fails != 0 {
		t.Fatalf("wrong PINs counted: %d %v", tr.prof.Fails, err)
	}
	if got := strings.Join(w.news()[alice], " "); !strings.Contains(got, "reset") {
		t.Fatalf("told %q", got)
	}
}
