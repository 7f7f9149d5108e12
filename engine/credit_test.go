package engine

import (
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"mpg/domain"
)

// creditWorld: alice at tier 2 with 100.00 EUR in her purse and a 200.00 EUR credit line.
func creditWorld(t *testing.T) (*world, uint64) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome Alice")
	w.topup(alice, 10000, 2)
	if _, err := w.e.GrantCredit(context.Background(), "ops", alice, 20000, 2, 5); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	return w, w.l.AccountsOf("SHOP42")[0].ID
}

func (w *world) line() domain.Account {
	l, err := w.e.CreditLineOf(alice)
	if err != nil {
		w.t.Fatal(err)
	}
	return l
}

// waitHoldsReleased waits for the ledger's expiry to release every hold on alice's line.
func (w *world) waitHoldsReleased() {
	w.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, held, _ := LineUse(w.line()); held == 0 {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatal("the ledger did not release the expired hold")
		}
	}
}

// lastPayment is the newest payment of the merchant.
func (w *world) lastPayment(shop uint64) domain.Payment {
	ps, _, _ := w.e.ListPayments(shop, PaymentFilter{Limit: 1000})
	return ps[len(ps)-1]
}

func TestCreditLineAuthoriseCaptureVoidExpireRepay(t *testing.T) {
	w, shop := creditWorld(t)
	ctx := context.Background()
	if _, err := w.e.GrantCredit(ctx, "ops", bob, 100, 2, 5); !errors.Is(err, ErrNoPurse) {
		t.Fatalf("grant without a purse: %v", err)
	}
	w.expect(alice, "CREDIT 739164", "limit 200.00 EUR, used 0.00 EUR, held 0.00 EUR, available 200.00 EUR")
	got := w.sms(alice, "CREDIT SHOP42 50 739164")
	if !strings.Contains(got[alice][0], "Authorised 50.00 EUR at Corner Shop on your credit line. Available 150.00 EUR") ||
		!strings.Contains(got["+33698765432"][0], "Authorisation 50.00 EUR from +336****678") {
		t.Fatalf("authorise: %q", got)
	}
	p := w.lastPayment(shop)
	if p.State != domain.PaymentAuthorised || p.Channel != domain.ChannelCredit {
		t.Fatalf("%+v", p)
	}
	// A partial capture takes 30.00 and releases the rest; a second capture is refused.
	if c, err := w.e.CaptureHold(ctx, "merchant:SHOP42", shop, p.ID, 3000); err != nil || c.State != domain.PaymentCompleted || c.Amount != 3000 {
		t.Fatalf("capture: %+v %v", c, err)
	}
	if owed, held, avail := LineUse(w.line()); owed != 3000 || held != 0 || avail != 17000 || w.available("SHOP42") != 3000 {
		t.Fatalf("after capture: owed %d held %d available %d", owed, held, avail)
	}
	_, err := w.e.CaptureHold(ctx, "merchant:SHOP42", shop, p.ID, 0)
	wantCode(t, err, domain.CodeInvalidState)
	w.outbox()
	// A void releases; an expiry releases and tells both sides.
	w.expect(alice, "CREDIT SHOP42 20 739164", "Available 150.00 EUR")
	v := w.lastPayment(shop)
	if v, err := w.e.VoidHold(ctx, "merchant:SHOP42", shop, v.ID); err != nil || v.State != domain.PaymentCancelled {
		t.Fatalf("void: %+v %v", v, err)
	}
	if msgs := w.outbox()[alice]; len(msgs) != 1 || !strings.Contains(msgs[0], "The authorisation of 20.00 EUR at Corner Shop is released") {
		t.Fatalf("void notice %q", msgs)
	}
	w.expect(alice, "CREDIT SHOP42 10 739164", "Available 160.00 EUR")
	x := w.lastPayment(shop)
	w.advance(8 * 24 * time.Hour)
	w.waitHoldsReleased()
	if n, err := w.e.ExpireHolds(ctx); err != nil || n != 1 {
		t.Fatalf("expire holds: %d %v", n, err)
	}
	if x, _ := w.e.GetPayment(shop, x.ID); x.State != domain.PaymentExpired {
		t.Fatalf("expired: %+v", x)
	}
	if msgs := w.outbox(); !strings.Contains(strings.Join(msgs[alice], ""), "The authorisation of 10.00 EUR at Corner Shop is released") ||
		!strings.Contains(strings.Join(msgs["+33698765432"], ""), "expired and is released") {
		t.Fatalf("expiry notices %q", msgs)
	}
	_, err = w.e.CaptureHold(ctx, "merchant:SHOP42", shop, x.ID, 0)
	wantCode(t, err, domain.CodeInvalidState)
	// Never beyond the limit.
	w.expect(alice, "CREDIT SHOP42 171 739164", "limit")
	// REPAY pays what is owed, no more.
	w.expect(alice, "REPAY 40 739164", "Repaid 30.00 EUR on your credit line: 0.00 EUR still owed, available 200.00 EUR. Balance 70.00 EUR")
	// Limits: never below what is used; freeze stops new authorisations; close when clear.
	w.expect(alice, "CREDIT SHOP42 5 739164", "Authorised")
	if err := w.e.SetCreditLimit(ctx, "ops", alice, 400); !errors.Is(err, domain.ErrLimitExceeded) {
		t.Fatalf("limit below what is held: %v", err)
	}
	if err := w.e.SetCreditStatus(ctx, "ops", alice, domain.StatusClosed); err == nil {
		t.Fatal("closed a line that holds money")
	}
	w.e.VoidHold(ctx, "m", shop, w.lastPayment(shop).ID)
	w.outbox()
	if err := w.e.SetCreditStatus(ctx, "ops", alice, domain.StatusBlocked); err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "CREDIT SHOP42 6 739164", "Your credit line is frozen")
	if err := w.e.SetCreditStatus(ctx, "ops", alice, domain.StatusClosed); err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "CREDIT  739164", "no credit line")
	mustVerifyWorld(t, w)
}

// An expiry happens on the ledger's writer, long after the subscriber texted: its notice is
// still in the language he reads, which the hold carries.
func TestCreditHoldExpiryNoticeInTheSubscribersLanguage(t *testing.T) {
	w, shop := creditWorld(t)
	w.expect(alice, "LANG FR", "désormais en français")
	w.expect(alice, "CREDIT SHOP42 10 739164", "Autorisé")
	x := w.lastPayment(shop)
	w.advance(8 * 24 * time.Hour)
	w.waitHoldsReleased()
	if msgs := w.outbox()[alice]; len(msgs) != 1 || !strings.Contains(msgs[0], "L'autorisation de 10,00 EUR chez Corner Shop est levée") {
		t.Fatalf("expiry notice %q", msgs)
	}
	if n, err := w.e.ExpireHolds(context.Background()); err != nil || n != 1 {
		t.Fatalf("expire holds: %d %v", n, err)
	}
	if x, _ := w.e.GetPayment(shop, x.ID); x.State != domain.PaymentExpired || x.Reference != "CREDIT" {
		t.Fatalf("expired: %+v", x)
	}
	mustVerifyWorld(t, w)
}

func TestMerchantRequestsACreditAuthorisation(t *testing.T) {
	w, shop := creditWorld(t)
	ctx := context.Background()
	p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 2500, Reference: "car-rental", Credit: true})
	if err != nil || p.Channel != domain.ChannelCredit {
		t.Fatalf("%+v %v", p, err)
	}
	w.expect(alice, "YES "+payCode(t, w.outbox()[alice]), "Authorised 25.00 EUR at Corner Shop")
	if p, _ = w.e.GetPayment(shop, p.ID); p.State != domain.PaymentAuthorised {
		t.Fatalf("%+v", p)
	}
	if c, err := w.e.CaptureHold(ctx, "m", shop, p.ID, 0); err != nil || c.State != domain.PaymentCompleted || w.available("SHOP42") != 2500 {
		t.Fatalf("capture: %+v %v", c, err)
	}
}

func mustVerifyWorld(t *testing.T, w *world) {
	t.Helper()
	if rep, err := w.l.Verify(context.Background(), nil); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep)
	}
}

// TestCreditLinesAgainstAModel: random authorisations, captures (full and partial), voids,
// expiries and repayments; after each step the line holds, owes and has available exactly
// what a model of it says, and never more than its limit.
func TestCreditLinesAgainstAModel(t *testing.T) {
	if onPostgres && !flagSet("rapid.checks") {
		// A database per case costs seconds: fewer cases there (the file runs the default 100).
		flag.Set("rapid.checks", "10")
		defer flag.Set("rapid.checks", "100")
	}
	rapid.Check(t, func(rt *rapid.T) {
		w, shop := creditWorld(t)
		defer w.l.Close() // its connections go back now, not when the whole test ends
		ctx := context.Background()
		type hold struct {
			id     string
			amount uint64
		}
		var holds []hold
		var owed, held uint64
		const limit = 20000
		purse := uint64(10000)
		texts := 0
		sms := func(text string) { // every SMS a new text: the dedupe window must not answer a repeat
			texts++
			w.e.Handle(ctx, Inbound{From: alice, To: "1234", Text: text + strings.Repeat(" ", texts)})
		}
		for step := rapid.IntRange(1, 25).Draw(rt, "steps"); step > 0; step-- {
			switch rapid.IntRange(0, 4).Draw(rt, "op") {
			case 0: // authorise
				a := uint64(rapid.IntRange(1, 8000).Draw(rt, "amount"))
				sms("CREDIT SHOP42 " + domain.FormatMinor(a, 2) + " 739164")
				if owed+held+a <= limit {
					holds = append(holds, hold{w.lastPayment(shop).ID, a})
					held += a
				}
			case 1, 2: // capture (full or partial) or void
				if len(holds) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(holds)-1).Draw(rt, "hold")
				h := holds[i]
				holds = append(holds[:i], holds[i+1:]...)
				held -= h.amount
				if rapid.Bool().Draw(rt, "capture") {
					part := uint64(rapid.IntRange(1, int(h.amount)).Draw(rt, "part"))
					if _, err := w.e.CaptureHold(ctx, "m", shop, h.id, part); err != nil {
						rt.Fatalf("capture: %v", err)
					}
					owed += part
				} else if _, err := w.e.VoidHold(ctx, "m", shop, h.id); err != nil {
					rt.Fatalf("void: %v", err)
				}
			case 3: // every hold expires
				w.advance(8 * 24 * time.Hour)
				for deadline := time.Now().Add(5 * time.Second); lineHeld(w) > 0; time.Sleep(5 * time.Millisecond) {
					if time.Now().After(deadline) {
						rt.Fatal("holds not released")
					}
				}
				w.e.ExpireHolds(ctx)
				holds, held = nil, 0
			case 4: // repay
				a := uint64(rapid.IntRange(1, 5000).Draw(rt, "repay"))
				sms("REPAY " + domain.FormatMinor(a, 2) + " 739164")
				pay := min(a, owed, purse)
				if min(a, owed) > purse {
					pay = 0 // the purse cannot pay it: refused whole
				}
				owed -= pay
				purse -= pay
			}
			gotOwed, gotHeld, avail := LineUse(w.line())
			if gotOwed != owed || gotHeld != held || avail != limit-owed-held || uint64(w.available(alice)) != purse {
				rt.Fatalf("line owes %d holds %d available %d purse %d; model %d %d %d %d", gotOwed, gotHeld, avail, w.available(alice), owed, held, limit-owed-held, purse)
			}
		}
		for _, h := range holds {
			if p, _ := w.e.GetPayment(shop, h.id); p.State != domain.PaymentAuthorised {
				rt.Fatalf("hold %s is %s", h.id, p.State)
			}
		}
		mustVerifyWorld(t, w)
	})
}

func lineHeld(w *world) uint64 {
	_, h, _ := LineUse(w.line())
	return h
}

// TestCreditStatementsAndOverdue: on the statement day the subscriber is told what he owes
// and the minimum due; past its date the line takes no new authorisation until repaid.
func TestCreditStatementsAndOverdue(t *testing.T) {
	w, shop := creditWorld(t) // statement day 5; the clock is 25 November
	ctx := context.Background()
	w.expect(alice, "CREDIT SHOP42 30 739164", "Authorised")
	if _, err := w.e.CaptureHold(ctx, "m", shop, w.lastPayment(shop).ID, 0); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	if n, _ := w.e.Statements(ctx); n != 0 {
		t.Fatalf("%d statements before the statement day", n)
	}
	w.advance(10 * 24 * time.Hour) // 5 December
	if n, err := w.e.Statements(ctx); err != nil || n != 1 {
		t.Fatalf("statements: %d %v", n, err)
	}
	if n, _ := w.e.Statements(ctx); n != 0 {
		t.Fatal("a second statement the same month")
	}
	if msgs := w.outbox()[alice]; len(msgs) != 1 || !strings.Contains(msgs[0], "owed 30.00 EUR. Minimum due 10.00 EUR by 25/12") {
		t.Fatalf("statement SMS %q", msgs)
	}
	w.expect(alice, "CREDIT 739164", "Minimum due 10.00 EUR by 25/12.")
	w.advance(21 * 24 * time.Hour) // 26 December: overdue
	w.expect(alice, "CREDIT SHOP42 5 739164", "overdue: repay at least 10.00 EUR")
	w.expect(alice, "REPAY 4 739164", "Repaid 4.00 EUR")
	w.expect(alice, "CREDIT SHOP42 5.00 739164", "overdue: repay at least 6.00 EUR")
	w.expect(alice, "REPAY 6 739164", "Repaid 6.00 EUR")
	w.expect(alice, "CREDIT SHOP42 5  739164", "Authorised 5.00 EUR")
}

// TestMerchantCapturesAndVoidsBySMS: the merchant's registered number captures or voids an
// authorisation by the reference it was told; nobody else can.
func TestMerchantCapturesAndVoidsBySMS(t *testing.T) {
	w, shop := creditWorld(t)
	const shopPhone = "+33698765432"
	ref := func(text string) string {
		got := w.sms(alice, text)
		m := got[shopPhone][0]
		return m[strings.Index(m, "Ref ")+4 : strings.Index(m, "Ref ")+10]
	}
	r1 := ref("CREDIT SHOP42 30 739164")
	got := w.sms(bob, "CAPTURE "+r1)
	if len(got[bob]) != 1 || !strings.Contains(got[bob][0], "No open authorisation") {
		t.Fatalf("someone else: %q", got)
	}
	got = w.sms(shopPhone, "CAPTURE "+r1+" 20")
	if !strings.Contains(strings.Join(got[shopPhone], ""), "Captured 20.00 EUR from +336****678") ||
		!strings.Contains(strings.Join(got[alice], ""), "Corner Shop charged 20.00 EUR to your credit line") {
		t.Fatalf("capture: %q", got)
	}
	w.expect(shopPhone, "capture "+r1, "No open authorisation") // once
	r2 := ref("CREDIT SHOP42 12 739164")
	got = w.sms(shopPhone, "ANNULER "+r2) // texted in French, answered in French
	if !strings.Contains(strings.Join(got[shopPhone], ""), "Autorisation de 12,00 EUR de +336****678 levée") {
		t.Fatalf("void: %q", got)
	}
	if owed, held, _ := LineUse(w.line()); owed != 2000 || held != 0 || w.available("SHOP42") != 2000 {
		t.Fatalf("owed %d held %d shop %d", owed, held, w.available("SHOP42"))
	}
	_ = shop
}

// TestMerchantFeesOfDebitAndCredit: the fee tables of mDebit and mCredit are charged to the
// merchant out of what it receives; the subscriber pays what he confirmed.
func TestMerchantFeesOfDebitAndCredit(t *testing.T) {
	w, shop := creditWorld(t)
	w.e.cfg.Fees[domain.CodeCreditAuth] = []Band{{UpTo: 1 << 62, Fee: 50}}
	ctx := context.Background()
	w.expect(alice, "CREDIT SHOP42 30 739164", "Authorised")
	p, err := w.e.CaptureHold(ctx, "m", shop, w.lastPayment(shop).ID, 0)
	if err != nil || p.Fee != 50 {
		t.Fatalf("%+v %v", p, err)
	}
	if owed, _, _ := LineUse(w.line()); owed != 3000 || w.available("SHOP42") != 2950 || w.available("@fees") != 50 {
		t.Fatalf("owed %d shop %d fees %d", owed, w.available("SHOP42"), w.available("@fees"))
	}
	mustVerifyWorld(t, w)
}
