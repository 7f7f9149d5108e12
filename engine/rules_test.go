package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
	"mpg/ledger"
)

// Every money rule is hit here from many goroutines at once, through Handle as the SMPP
// session calls it: the same payee, the same payer, a registration racing payments.

// texts sends the SMS at once, each from its own goroutine, and fails on any error.
func (w *world) texts(sms ...[2]string) {
	w.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(sms))
	start := make(chan struct{})
	for _, s := range sms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := w.e.Handle(context.Background(), Inbound{From: s[0], To: "1234", Text: s[1]}); err != nil {
				errs <- fmt.Errorf("%s %q: %w", s[0], s[1], err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		w.t.Fatal(err)
	}
}

// inbox reads every message sent since the last read, by recipient.
func (w *world) inbox() map[string][]string { return w.sms("+33600000000", "HELP") }

func (w *world) verify() {
	w.t.Helper()
	rep, err := w.l.Verify(context.Background(), nil)
	if err != nil || !rep.OK() {
		w.t.Fatalf("verify: %v %s", err, rep.Problem)
	}
}

func payer(i int) string { return fmt.Sprintf("+336111100%02d", i) }

// registered opens n paying subscribers at tier 2 with money.
func (w *world) payers(n int, minor uint64) {
	for i := range n {
		w.expect(payer(i), "REG 739164", "Welcome")
		w.topup(payer(i), minor, 2)
	}
}

var sendTiers = map[uint8]Limits{
	1: {PerTx: 10000, Daily: 20000, MaxBalance: 5000},
	2: {PerTx: 10000, Daily: 20000, MaxBalance: 100000, CanSend: true},
}

func TestConcurrentSendsToOneUnregisteredPayeeAreEachHeldAndClaimed(t *testing.T) {
	w := newWorldTiers(t, sendTiers)
	w.payers(8, 10000)
	const carol = "+33622220001"
	var sms [][2]string
	for i := range 8 {
		sms = append(sms, [2]string{payer(i), "SEND 0622220001 5 739164"})
	}
	w.texts(sms...)
	holds, err := w.l.HoldsFor(carol)
	if err != nil || len(holds) != 8 {
		t.Fatalf("%d holds for the payee, want 8 (%v)", len(holds), err)
	}
	w.inbox()
	got := w.sms(carol, "REG 135790 Carol")
	if len(got[carol]) != 9 || w.available(carol) != 4000 {
		t.Fatalf("claimed %d EUR cents with replies %q", w.available(carol), got[carol])
	}
	if left, _ := w.l.HoldsFor(carol); len(left) != 0 {
		t.Fatalf("%d holds left after the claim", len(left))
	}
	w.verify()
}

func TestSendsRacingRegistrationKeepThePayeesPIN(t *testing.T) {
	for round := range 10 {
		w := newWorldTiers(t, sendTiers)
		w.payers(4, 10000)
		dave := fmt.Sprintf("+336333300%02d", round)
		sms := [][2]string{{dave, "REG 246810 Dave"}}
		for i := range 4 {
			sms = append(sms, [2]string{payer(i), "SEND " + dave + " 2 739164"})
		}
		w.texts(sms...)
		w.inbox()
		// Whatever the order, Dave's PIN works and every euro sent is his (held or claimed).
		if got := w.sms(dave, "BAL 246810")[dave]; len(got) == 0 || !strings.Contains(strings.Join(got, "|"), "Balance") {
			t.Fatalf("round %d: the payee's PIN does not work: %q", round, got)
		}
		w.sms(dave, "MINI 246810") // a message from him claims what was held
		if got := w.available(dave); got != 800 {
			t.Fatalf("round %d: payee has %d, want 800", round, got)
		}
		w.verify()
	}
}

func TestConcurrentSendsNeverPushAPayeeAboveItsMaximumBalance(t *testing.T) {
	w := newWorldTiers(t, sendTiers)
	w.payers(16, 10000)
	w.expect(bob, "REG 246810 Bob", "Welcome") // tier 1: at most 50.00
	var sms [][2]string
	for i := range 16 {
		sms = append(sms, [2]string{payer(i), "SEND " + bob + " 10 739164"})
	}
	w.texts(sms...)
	if got := w.available(bob); got != 5000 {
		t.Fatalf("payee holds %d, its tier allows 5000", got)
	}
	refused := 0
	for to, texts := range w.inbox() {
		for _, s := range texts {
			if to != bob && strings.Contains(s, "cannot hold that much") {
				refused++
			}
		}
	}
	if refused != 11 {
		t.Fatalf("%d payers told the payee's purse is full, want 11", refused)
	}
	w.verify()
}

func TestConcurrentPaymentsFromOnePayerStopAtTheDailyLimit(t *testing.T) {
	w := newWorldTiers(t, map[uint8]Limits{1: {PerTx: 1000, Daily: 3000, MaxBalance: 100000}})
	w.expect(alice, "REG 739164", "Welcome")
	w.topup(alice, 50000, 1)
	var sms [][2]string
	for i := range 16 {
		sms = append(sms, [2]string{alice, fmt.Sprintf("PAY SHOP42 10 R%d 739164", i)})
	}
	w.texts(sms...)
	if got := w.available("SHOP42"); got != 3000 {
		t.Fatalf("merchant got %d, the daily limit is 3000", got)
	}
	limited := 0
	for _, s := range w.inbox()[alice] {
		if strings.Contains(s, "Over your 24-hour limit") {
			limited++
		}
	}
	if limited != 13 {
		t.Fatalf("%d refusals naming the 24-hour limit, want 13", limited)
	}
	w.expect(alice, "PAY SHOP42 10.01 X 739164", "Above your limit of 10.00 EUR per payment")
	w.verify()
}

func TestClaimAndTopupRespectTheMaximumBalance(t *testing.T) {
	w := newWorldTiers(t, sendTiers)
	w.payers(2, 10000)
	const erin = "+33644440001"
	w.sms(payer(0), "SEND "+erin+" 30 739164")
	w.sms(payer(1), "SEND "+erin+" 30 739164")
	got := w.sms(erin, "REG 135790 Erin") // tier 1: at most 50.00, so one of the two fits
	if w.available(erin) != 3000 || !strings.Contains(strings.Join(got[erin], "|"), "waits for you, but your e-purse level cannot hold it") {
		t.Fatalf("after REG: %d, %q", w.available(erin), got[erin])
	}
	if left, _ := w.l.HoldsFor(erin); len(left) != 1 {
		t.Fatalf("the hold that did not fit is gone: %d left", len(left))
	}
	// A top-up beyond the maximum is refused by the ledger, not just by a check before it.
	if _, err := w.e.Topup(context.Background(), "test", erin, 2001, ""); !errors.Is(err, domain.ErrLimitBalance) {
		t.Fatalf("top-up beyond the maximum balance: %v", err)
	}
	// Raised to tier 2 by an operator, the rest is claimed.
	if err := w.e.SetTier(context.Background(), "test", erin, 2); err != nil {
		t.Fatal(err)
	}
	if w.available(erin) != 6000 {
		t.Fatalf("after the tier change: %d", w.available(erin))
	}
	w.verify()
}

func TestYesAfterBlockAndReservationsCountAgainstTheDailyLimit(t *testing.T) {
	w := newWorldWith(t, map[uint8]Limits{1: {PerTx: 10000, Daily: 10000, MaxBalance: 100000}}, 5000)
	w.expect(alice, "REG 739164", "Welcome")
	w.topup(alice, 50000, 1)
	ask := w.expect(alice, "PAY SHOP42 60 739164", "reply YES")
	code := ask[strings.Index(ask, "YES ")+4:][:6]
	// The reservation counts from the moment it is made.
	w.expect(alice, "PAY SHOP42 45 739164", "Over your 24-hour limit: you can still spend 40.00 EUR")
	w.expect(alice, "BLOCK", "blocked")
	w.expect(alice, "YES "+code, "blocked")
	if w.available("SHOP42") != 0 {
		t.Fatal("a reservation was posted from a blocked purse")
	}
	w.verify()
}

func TestNoAndExpiryGiveTheReservationBackToTheDailyLimit(t *testing.T) {
	w := newWorldWith(t, map[uint8]Limits{1: {PerTx: 10000, Daily: 10000, MaxBalance: 100000}}, 5000)
	w.expect(alice, "REG 739164", "Welcome")
	w.topup(alice, 50000, 1)
	codeOf := func(s string) string { return s[strings.Index(s, "YES ")+4:][:6] }
	code := codeOf(w.expect(alice, "PAY SHOP42 60 739164", "reply YES"))
	w.expect(alice, "PAY SHOP42 45 A 739164", "Over your 24-hour limit")
	w.expect(alice, "NO "+code, "Cancelled")
	w.expect(alice, "PAY SHOP42 45 B 739164", "Paid 45.00 EUR")
	w.expect(alice, "PAY SHOP42 51 C 739164", "reply YES") // 45 + 51 fits 100
	w.expect(alice, "PAY SHOP42 5 D 739164", "Over your 24-hour limit")
	w.advance(6 * time.Minute) // the code expires: the ledger voids the reservation
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if a := w.l.AccountsOf(alice)[0]; a.DebitsPending == 0 {
			break
		}
	}
	w.expect(alice, "PAY SHOP42 5 E 739164", "Paid 5.00 EUR")
	w.verify()
}

func TestSendAboveTheThresholdToAnUnregisteredNumberAsksYES(t *testing.T) {
	w := newWorldWith(t, sendTiers, 2000)
	w.payers(1, 10000)
	const fay = "+33655550001"
	got := w.sms(payer(0), "SEND "+fay+" 30 739164")
	if len(got[fay]) != 0 || !strings.Contains(got[payer(0)][0], "Confirm SEND of 30.00 EUR to +336****001") {
		t.Fatalf("no confirmation asked: %q", got)
	}
	if holds, _ := w.l.HoldsFor(fay); len(holds) != 0 {
		t.Fatal("a reservation waiting for YES is already claimable")
	}
	code := got[payer(0)][0][strings.Index(got[payer(0)][0], "YES ")+4:][:6]
	got = w.sms(payer(0), "YES "+code)
	if len(got[fay]) != 1 || !strings.Contains(got[fay][0], "sent you 30.00 EUR") || !strings.Contains(got[payer(0)][0], "held for") {
		t.Fatalf("after YES: %q", got)
	}
	w.sms(fay, "REG 135790")
	if w.available(fay) != 3000 {
		t.Fatalf("claimed %d", w.available(fay))
	}
	w.verify()
}

func TestRepeatsTellOnlyTheSenderAndQueriesAreCurrent(t *testing.T) {
	w := newWorldTiers(t, sendTiers)
	w.payers(1, 10000)
	w.expect(bob, "REG 246810 Bob", "Welcome")
	first := w.sms(payer(0), "SEND "+bob+" 5 739164")
	if len(first[bob]) != 1 {
		t.Fatalf("payee told %d times", len(first[bob]))
	}
	w.advance(3 * time.Hour) // inside the window: the SMSC may redeliver for hours
	again := w.sms(payer(0), "SEND "+bob+" 5 739164")
	if len(again[bob]) != 0 || len(again[payer(0)]) != 1 || !strings.Contains(again[payer(0)][0], "You already sent 5.00 EUR") {
		t.Fatalf("repeat: %q", again)
	}
	// On purpose, with a reference: a new payment.
	if got := w.sms(payer(0), "SEND "+bob+" 5 AGAIN 739164"); len(got[bob]) != 1 {
		t.Fatalf("payment with a reference: %q", got)
	}
	w.expect(bob, "BAL 246810", "Balance 10.00 EUR")
	w.sms(payer(0), "SEND "+bob+" 1 NEXT 739164")
	w.expect(bob, "BAL 246810", "Balance 11.00 EUR") // a repeated BAL says what is true now
	w.verify()
}

func TestDedupeKeyIsKeyedAndDeterministicRefusalsAreAnswered(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164", "Welcome")
	w.topup(alice, 5000, 1)
	w.expect(alice, "BAL 739164", "Balance")
	// A reference too long in bytes is refused by the parser and answered; its copy is a repeat.
	long := "PAY SHOP42 4 " + strings.Repeat("订", 22) + " 739164"
	w.expect(alice, long, "not accepted")
	w.expect(alice, long, "not accepted") // a copy: answered again, nothing stored twice
	w.l.Close()
	b := w.rawBooks(t)
	for _, text := range []string{"BAL 739164", "REG 739164"} {
		sum := sha256.Sum256([]byte(text))
		if bytes.Contains(b, []byte(hex.EncodeToString(sum[:12]))) || bytes.Contains(b, sum[:12]) {
			t.Errorf("an unkeyed digest of %q is in the file", text)
		}
	}
}

func TestSenderThatIsNoPhoneNumberOwnsNothing(t *testing.T) {
	w := newWorld(t)
	for _, from := range []string{"@float", "@escrow", "MYBANK", "", "33612345678"} {
		err := w.e.Handle(context.Background(), Inbound{From: from, To: "1234", Text: "REG 739164"})
		if !errors.Is(err, ErrNotSubscriber) {
			t.Fatalf("%q: %v", from, err)
		}
	}
	if accs := w.l.Accounts(ledger.Filter{Kind: domain.KindPurse}); len(accs) != 0 {
		t.Fatalf("purses opened: %+v", accs)
	}
	w.expect(alice, "REG 739164", "Welcome")
	if _, err := w.e.Topup(context.Background(), "test", alice, 100, ""); err != nil {
		t.Fatalf("top-up after a sender named @float tried: %v", err)
	}
}

func TestLockoutsEscalateUntilAnOperatorUnlocks(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164", "Welcome")
	for round, want := range []string{"locked for 30 min", "locked for 60 min", "locked for 120 min", "locked for 240 min", "Call customer care"} {
		var last string
		for i := range 3 {
			last = strings.Join(w.sms(alice, fmt.Sprintf("BAL %06d", round*10+i+1))[alice], "|")
		}
		if !strings.Contains(last, want) {
			t.Fatalf("lockout %d: %q, want %q", round+1, last, want)
		}
		w.advance(5 * time.Hour) // longer than any timed lockout here
	}
	w.expect(alice, "BAL 739164", "Call customer care") // the right PIN does not open it
	if st, _, _ := w.e.StateOf(alice); !st.LockedForever || st.Lockouts != 5 {
		t.Fatalf("state: %+v", st)
	}
	if err := w.e.Unlock(context.Background(), "care:7", alice); err != nil {
		t.Fatal(err)
	}
	got := w.sms(alice, "BAL  739164")
	if len(got[alice]) != 2 || !strings.Contains(got[alice][0], "unlocked") || !strings.Contains(got[alice][1], "Balance") {
		t.Fatalf("after unlock: %q", got[alice])
	}
}

func TestFloodFromOneNumberWaitsAtTheSMSCAndIsToldOnce(t *testing.T) {
	w := newWorld(t)
	w.e.cfg.MOPerMinute, w.e.cfg.MOBurst = 6, 3
	w.expect(alice, "REG 739164", "Welcome")
	w.expect(alice, "BAL 739164", "Balance")
	w.expect(alice, "HELP", "BAL pin; MINI pin")
	refused, first := 0, 0
	for i := range 10 {
		err := w.e.Handle(context.Background(), Inbound{From: alice, To: "1234", Text: fmt.Sprintf("HELP %d", i)})
		var fe *FloodError
		switch {
		case errors.As(err, &fe):
			refused++
			if fe.First {
				first++
			}
			if !errors.Is(err, ErrBusy) {
				t.Fatal("a flood refusal must be temporary")
			}
		case err != nil:
			t.Fatal(err)
		}
	}
	got := w.inbox()[alice]
	notices := 0
	for _, s := range got {
		if strings.Contains(s, "Too many messages") {
			notices++
		}
	}
	if refused != 10 || first != 1 || notices != 1 {
		t.Fatalf("%d refused (%d first), %d notices in %q", refused, first, notices, got)
	}
	// Others are not held up, and after the burst refills the number is answered again.
	w.expect(bob, "HELP", "BAL pin; MINI pin")
	w.advance(31 * time.Second) // 6 a minute: 3 tokens back
	w.expect(alice, "BAL  739164", "Balance")
}
