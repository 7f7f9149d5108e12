package engine

import (
	"context"
	"errors"
	"mpg/domain"
	"strings"
	"testing"
	"time"
)

// codeIn returns the 6-digit one-time code of an activation SMS.
func codeIn(t *testing.T, sms []string) string {
	t.Helper()
	for _, s := range sms {
		if i := strings.Index(s, "reply PIN "); i >= 0 {
			return s[i+10 : i+16]
		}
	}
	t.Fatalf("no one-time code in %q", sms)
	return ""
}

func TestPurseOpenedAtTheCounterIsActivatedBySMS(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.e.OpenPurse(ctx, "agent:7", alice, "Alice", 1); err != nil {
		t.Fatal(err)
	}
	code := codeIn(t, w.inbox()[alice])
	// Before activation: REG says how to activate, and no PIN works.
	w.expect(alice, "REG 739164 Alice", "opened by an agent")
	w.expect(alice, "BAL 739164", "Wrong PIN")
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	w.expect(alice, "PIN "+wrong+" 739164", "Wrong PIN")
	w.expect(alice, "PIN "+code+" 739164", "Your PIN is set")
	w.expect(alice, "BAL 739164", "Balance 0.00 EUR")
	w.expect(alice, "PIN "+code+" 111111", "Wrong PIN") // single use: it is no PIN now
	if st, _, _ := w.e.StateOf(alice); !st.HasPIN || st.AwaitingCode {
		t.Fatalf("state %+v", st)
	}
}

func TestResetPINUnlocksAndReplacesThePIN(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.expect(alice, "REG 739164", "Welcome")
	for i := range 3 {
		w.sms(alice, "BAL 00000"+string(rune('1'+i)))
	}
	w.expect(alice, "BAL 739164", "locked")
	if err := w.e.ResetPIN(ctx, "care:3", alice); err != nil {
		t.Fatal(err)
	}
	code := codeIn(t, w.inbox()[alice])
	w.expect(alice, "BAL  739164", "Your PIN was reset") // the old PIN stopped working at once
	w.expect(alice, "PIN "+code+" 246802", "Your PIN is set")
	w.expect(alice, "BAL 246802", "Balance")
	// An expired code is no good; the purse is back to waiting for one.
	if err := w.e.ResetPIN(ctx, "care:3", alice); err != nil {
		t.Fatal(err)
	}
	code = codeIn(t, w.inbox()[alice])
	w.advance(25 * time.Hour)
	w.expect(alice, "PIN "+code+" 135791", "opened by an agent")
}

func TestClosePaysOutAndRefusesAfter(t *testing.T) {
	w := newWorldTiers(t, sendTiers)
	ctx := context.Background()
	w.expect(alice, "REG 739164", "Welcome")
	w.topup(alice, 4200, 1)
	if _, err := w.e.ClosePurse(ctx, "care:1", alice, false); !errors.Is(err, ErrHasBalance) {
		t.Fatalf("close with money, no payout: %v", err)
	}
	w.expect(alice, "BLOCK", "blocked") // a blocked purse can still be paid out and closed
	paid, err := w.e.ClosePurse(ctx, "care:1", alice, true)
	if err != nil || paid != 4200 {
		t.Fatalf("close: %d %v", paid, err)
	}
	if got := w.inbox()[alice]; len(got) != 1 || !strings.Contains(got[0], "42.00 EUR was paid out") {
		t.Fatalf("notice: %q", got)
	}
	w.expect(alice, "BAL 739164", "closed")
	w.expect(bob, "REG 246810", "Welcome")
	w.topup(bob, 1000, 2)
	w.expect(bob, "SEND "+alice+" 1 246810", "The account of +336****678 is closed: nothing was paid")
	if _, err := w.e.Topup(ctx, "care:1", alice, 100, ""); !errors.Is(err, domain.ErrAccountClosed) {
		t.Fatalf("top-up of a closed purse: %v", err)
	}
	w.verify()
}

func TestReverseFindAndCheckByWhatTheSubscriberReadsOut(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.expect(alice, "REG 739164", "Welcome")
	w.topup(alice, 5000, 1)
	reply := w.expect(alice, "PAY SHOP42 20 INV42 739164", "Paid 20.00 EUR")
	receipt := reply[strings.LastIndex(reply, " ")+1:]
	ref := reply[strings.Index(reply, "Ref ")+4:][:6]
	for what, owner := range map[string]string{receipt: "", ref: alice, "INV42": "SHOP42"} {
		found, err := w.e.Find(what, owner)
		if err != nil || len(found) != 1 || found[0].Transfer.Amount != 2000 {
			t.Fatalf("find %q in %q: %v %+v", what, owner, err, found)
		}
	}
	if _, err := w.e.Find(ref, ""); err == nil {
		t.Fatal("a short reference without an owner matched")
	}
	found, _ := w.e.Find(receipt, "")
	rev, err := w.e.Reverse(ctx, "care:9", found[0].Transfer)
	if err != nil || rev.Amount != 2000 {
		t.Fatalf("reverse: %v %+v", err, rev)
	}
	got := w.inbox()
	if len(got[alice]) != 1 || !strings.Contains(got[alice][0], "20.00 EUR is back") || len(got["+33698765432"]) != 1 {
		t.Fatalf("reversal notices: %q", got)
	}
	// A second reversal is refused, and nobody is told again.
	if _, err := w.e.Reverse(ctx, "care:9", found[0].Transfer); !errors.Is(err, ErrAlreadyReversed) {
		t.Fatalf("second reversal: %v", err)
	}
	if got := w.inbox(); len(got[alice]) != 0 {
		t.Fatalf("told twice: %q", got)
	}
	if _, err := w.e.Reverse(ctx, "care:9", rev); !errors.Is(err, ErrNotReversed) {
		t.Fatalf("reversing a reversal: %v", err)
	}
	if w.available(alice) != 4990 || w.available("SHOP42") != 0 {
		t.Fatalf("after reversal: alice %d shop %d", w.available(alice), w.available("SHOP42"))
	}
	if tr, ok, err := w.e.CheckReceipt(receipt); err != nil || !ok || tr.Amount != 2000 {
		t.Fatalf("check: %v %v", ok, err)
	}
	audits, _ := w.l.AuditLog(10, 0)
	if len(audits) == 0 || audits[0].Actor != "care:9" || audits[0].Action != "payment reverse" {
		t.Fatalf("audit: %+v", audits)
	}
	w.verify()
}

func TestOperatorRacingTheSubscriberLosesNothing(t *testing.T) {
	// An unlock while the subscriber texts: both writes land, neither on a stale read.
	w := newWorld(t)
	ctx := context.Background()
	w.expect(alice, "REG 739164", "Welcome")
	done := make(chan error, 1)
	go func() {
		for range 20 {
			if err := w.e.Unlock(ctx, "care:2", alice); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range 20 {
		if err := w.e.Handle(ctx, Inbound{From: alice, To: "1234", Text: "LANG FR " + strings.Repeat(" ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.inbox()
	w.expect(alice, "SOLDE 739164", "Solde") // the language the subscriber set, and the PIN, both kept
}
