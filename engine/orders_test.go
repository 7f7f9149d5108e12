package engine

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
	"mpg/internal/testbooks"
	"mpg/ledger"
)

// runDays moves the clock a day at a time, n days, running the scheduler each day, and
// returns the dates on which it ran an order (paid or told), with what the phones read.
func (w *world) runDays(n int) (ran []string, read map[string][]string) {
	w.t.Helper()
	read = map[string][]string{}
	for range n {
		w.advance(24 * time.Hour)
		for pass := 0; pass < 2; pass++ { // a second pass the same day runs nothing
			k, err := w.e.RunDueOrders(context.Background())
			if err != nil {
				w.t.Fatal(err)
			}
			if pass == 1 && k != 0 {
				w.t.Fatalf("%s: a second pass ran %d orders again", w.now.Format(time.DateOnly), k)
			}
			for i := 0; i < k; i++ {
				ran = append(ran, w.now.Format(time.DateOnly))
			}
		}
		for to, texts := range w.outbox() {
			read[to] = append(read[to], texts...)
		}
	}
	return ran, read
}

// A monthly order on the 31st runs on the last day of the shorter months (November,
// February, April) and on the 31st of the others; a run without the money is told and takes
// nothing, is not tried again that day, and next month's run pays.
func TestStandingOrderAcrossMovedMonths(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 10000, 2)
	w.expect(alice, "EVERY 31 BILL EDF 0042-77 30 739164", "Standing order 1 set: 30.00 EUR to EDF every 31. First payment on 30/11/2026")
	ran, read := w.runDays(66) // to 30 January 2027
	if want := []string{"2026-11-30", "2026-12-31"}; fmt.Sprint(ran) != fmt.Sprint(want) {
		t.Fatalf("ran on %v, want %v", ran, want)
	}
	if got := read[alice]; len(got) != 2 || !strings.Contains(got[0], "Bill paid: 30.00 EUR to EDF, account 0042-77") ||
		!strings.Contains(got[1], "Balance 40.00 EUR") {
		t.Fatalf("alice read %q", got)
	}
	// 31 January pays 30.00 and leaves 10.00: 28 February cannot pay, is told, takes nothing.
	ran, read = w.runDays(29) // to 28 February
	if fmt.Sprint(ran) != "[2027-01-31 2027-02-28]" || w.available(alice) != 1000 {
		t.Fatalf("ran %v, balance %d", ran, w.available(alice))
	}
	if got := read[alice]; len(got) != 2 || !strings.Contains(got[1], "Standing order 30.00 EUR to EDF due 28/02/2027 not paid: Not enough money: balance 10.00 EUR") {
		t.Fatalf("alice read %q", got)
	}
	w.topup(alice, 5000, 2)
	ran, read = w.runDays(61) // to 30 April: 31 March and 30 April pay
	if fmt.Sprint(ran) != "[2027-03-31 2027-04-30]" || w.available(alice) != 0 {
		t.Fatalf("ran %v, balance %d", ran, w.available(alice))
	}
	if got := read[alice]; len(got) != 2 || !strings.Contains(got[1], "Bill paid: 30.00 EUR to EDF") {
		t.Fatalf("alice read %q", got)
	}
	bills := w.paymentsOf("EDF", domain.KindBiller)
	if len(bills) != 5 {
		t.Fatalf("%d bill payments, want 5 (Nov, Dec, Jan, Mar, Apr)", len(bills))
	}
	for _, p := range bills {
		if p.Reference != "0042-77" || p.Amount != 3000 || p.Product != domain.ProductBill {
			t.Fatalf("payment %+v", p)
		}
	}
	orders, err := w.e.Orders(alice)
	if err != nil || len(orders) != 1 || orders[0].Next != "2027-05-31" || orders[0].Last != "2027-04-30" {
		t.Fatalf("orders %+v, %v", orders, err)
	}
	w.verify()
}

// A weekly SEND runs on its weekday with both told; a blocked purse's run is told and takes
// nothing; after the unblock the next week pays.
func TestWeeklyStandingOrder(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.expect(bob, "REG 5678 Bob", "Welcome")
	w.topup(alice, 5000, 2)
	w.expect(alice, "CHAQUE LUN ENVOYER 0687654321 5 739164", "Ordre permanent 1 créé: 5,00 EUR à +336****321 chaque LUN")
	ran, read := w.runDays(7)
	if len(ran) != 1 || time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC).Format(time.DateOnly) != ran[0] {
		t.Fatalf("ran on %v, want the Monday 2026-11-30", ran)
	}
	if len(read[alice]) != 1 || !strings.Contains(read[alice][0], "5,00 EUR") || len(read[bob]) != 1 || !strings.Contains(read[bob][0], "You received 5.00 EUR from Alice") {
		t.Fatalf("read %q", read)
	}
	w.sms(alice, "BLOCK")
	ran, read = w.runDays(7)
	if len(ran) != 1 || w.available(alice) != 4500 || len(read[bob]) != 0 || len(read[alice]) != 1 ||
		!strings.Contains(read[alice][0], "non payé: Votre porte-monnaie est bloqué") {
		t.Fatalf("blocked week: ran %v, balance %d, read %q", ran, w.available(alice), read)
	}
	w.setStatus(alice, domain.StatusActive)
	ran, _ = w.runDays(14)
	if len(ran) != 2 || w.available(alice) != 3500 || w.available(bob) != 1500 {
		t.Fatalf("ran %v, alice %d, bob %d", ran, w.available(alice), w.available(bob))
	}
	w.verify()
}

// ORDERS lists the orders numbered, at most Orders.Max of them; STOPORDER ends one, which
// then never runs; the others keep running.
func TestOrdersListStopAndBound(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.expect(bob, "REG 5678 Bob", "Welcome")
	w.topup(alice, 10000, 2)
	w.expect(alice, "ORDERS 739164", "No standing orders")
	w.expect(alice, "BILL EDF 30 739164", "No account saved for EDF")
	w.expect(alice, "EVERY 1 BILL EDF 30 739164", "No account saved for EDF")
	for i, day := range []string{"1", "2", "3", "4", "5"} {
		w.expect(alice, "EVERY "+day+" SEND 0687654321 1 739164", fmt.Sprintf("Standing order %d set: 1.00 EUR to +336****321 every %s", i+1, day))
	}
	w.expect(alice, "EVERY 6 SEND 0687654321 1 739164", "You have 5 standing orders, the most allowed")
	w.expect(alice, "EVERY MON SEND 0612345678 1 739164", "You have 5") // the bound first
	list := w.expect(alice, "ORDERS 739164", "Standing orders:\n1) +336****321 1.00 EUR 1, 01/12/2026\n2) +336****321 1.00 EUR 2, 02/12/2026")
	if strings.Count(list, "\n") != 5 {
		t.Fatalf("ORDERS: %q", list)
	}
	w.expect(alice, "STOPORDER 2 739164", "Standing order 2 stopped: 1.00 EUR to +336****321 every 2")
	w.expect(alice, "STOPORDER 5 739164", "No standing order 5")
	w.expect(alice, "ORDERS 739164 ", "2) +336****321 1.00 EUR 3, 03/12/2026")
	ran, _ := w.runDays(10)
	if fmt.Sprint(ran) != "[2026-12-01 2026-12-03 2026-12-04 2026-12-05]" || w.available(bob) != 400 {
		t.Fatalf("ran %v, bob has %d", ran, w.available(bob))
	}
	w.expect(alice, "EVERY 6 SEND 0612345678 1 739164", "You cannot send money to yourself")
	w.expect(alice, "EVERY 6 SEND 0687654321 1 739164", "Standing order 5 set")
	w.expect(alice, "EVERY 32 SEND 0687654321 1 739164", "Unknown day 32")
	w.verify()
}

// An order above the amount that needs a YES is not set, and a run above it (the amount
// lowered since) is told and takes nothing.
func TestStandingOrderAboveTheConfirmationAmount(t *testing.T) {
	w := newWorldWith(t, nil, 2000)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 10000, 2)
	w.expect(alice, "EVERY 1 BILL EDF 0042 25 739164", "so it can be at most 20.00 EUR. Nothing set")
	w.expect(alice, "EVERY 1 BILL EDF 0042 20 739164", "Standing order 1 set")
	w.e.cfg.ConfirmAbove = 1500
	_, read := w.runDays(6)
	if w.available(alice) != 10000 || len(read[alice]) != 1 || !strings.Contains(read[alice][0], "not paid: above 15.00 EUR a payment needs your YES") {
		t.Fatalf("balance %d, read %q", w.available(alice), read)
	}
}

// BILL without an account pays the account typed last for that biller; at most
// Orders.SavedBills billers are kept, the least recently changed dropped first.
func TestSavedBills(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 20000, 2)
	w.expect(alice, "BILL EDF 12 739164", "No account saved for EDF. Send BILL EDF account amount pin once")
	w.expect(alice, "BILL EDF 0042-77 10 739164", "account 0042-77")
	w.expect(alice, "BILL EDF 12 739164", "Bill paid: 12.00 EUR to EDF, account 0042-77")
	w.expect(alice, "BILL EDF 0099 5 739164", "account 0099")
	w.expect(alice, "BILL EDF 6 739164", "account 0099")
	var open []domain.AccountSpec
	for i := range 10 {
		open = append(open, domain.AccountSpec{Currency: "EUR", Kind: domain.KindBiller, Owner: fmt.Sprintf("B%02d", i), Name: fmt.Sprintf("B%02d", i)})
	}
	if _, err := w.l.Submit(context.Background(), domain.Job{Open: open}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		w.expect(alice, fmt.Sprintf("BILL B%02d A%d 1 739164", i, i), fmt.Sprintf("account A%d", i))
	}
	w.expect(alice, "BILL EDF 7 739164", "No account saved for EDF") // the eleventh: dropped
	w.expect(alice, "BILL B00 2 739164", "account A0")
	w.verify()
}

// Two daemons on one ledger run the scheduler at the same moment, again and again: each
// order's due date is paid once, told once.
func TestStandingOrdersRunOnceOnTwoDaemons(t *testing.T) {
	w := newWorld(t)
	payers := []string{"+33611110001", "+33611110002", "+33611110003", "+33611110004"}
	for _, p := range payers {
		w.expect(p, "REG 2468 P", "Welcome")
		w.topup(p, 10000, 2)
		w.expect(p, "EVERY 27 BILL EDF X1 3 2468", "Standing order 1 set")
		w.expect(p, "EVERY 27 SEND 0611110009 2 2468", "Standing order 2 set")
	}
	d := w.secondDaemon()
	w.advance(2 * 24 * time.Hour) // the 27th
	var acts []func()
	for _, e := range []*Engine{w.e, d.e, w.e, d.e} {
		acts = append(acts, func() {
			if _, err := e.RunDueOrders(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	atOnce(acts)
	read := w.outbox()
	for _, p := range payers {
		if w.available(p) != 10000-500 || len(read[p]) != 2 {
			t.Fatalf("%s: balance %d, read %q", p, w.available(p), read[p])
		}
	}
	if len(read["+33611110009"]) != 4 { // held for a number with no purse: invited once a payer
		t.Fatalf("payee read %q", read["+33611110009"])
	}
	if n, _ := d.e.RunDueOrders(context.Background()); n != 0 {
		t.Fatalf("the second daemon ran %d again", n)
	}
	w.verify()
}

// Erasing a person ends his standing orders: their records and due entries are gone.
func TestErasureEndsStandingOrders(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 2)
	w.expect(alice, "EVERY 30 BILL EDF 0042 3 739164", "Standing order 1 set")
	if _, err := w.e.RequestErasure(context.Background(), "op", alice, false); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{keyOrder, keyOrderDue} {
		if recs, err := w.l.ProfilesFrom(prefix, "", 10); err != nil || len(recs) != 0 {
			t.Fatalf("%s: %d records, %v", prefix, len(recs), err)
		}
	}
	if ran, _ := w.runDays(6); len(ran) != 0 {
		t.Fatalf("ran %v", ran)
	}
}

// An operator lists and ends a subscriber's order; the subscriber is told; audited.
func TestOperatorStopsAStandingOrder(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 2)
	w.expect(alice, "EVERY 30 BILL EDF 0042 3 739164", "Standing order 1 set")
	w.expect(alice, "EVERY FRI BILL EDF 0042 4 739164", "Standing order 2 set")
	orders, err := w.e.Orders(alice)
	if err != nil || len(orders) != 2 || orders[1].Every != "FRI" || orders[1].Amount != "4.00 EUR" || orders[1].Next != "2026-11-27" {
		t.Fatalf("orders %+v, %v", orders, err)
	}
	if _, err := w.e.StopOrder(context.Background(), "uid 1000", alice, 3); err == nil {
		t.Fatal("order 3 stopped")
	}
	if _, err := w.e.StopOrder(context.Background(), "uid 1000", alice, 2); err != nil {
		t.Fatal(err)
	}
	if got := w.outbox()[alice]; len(got) != 1 || !strings.Contains(got[0], "Customer care ended your standing order: 4.00 EUR to EDF every FRI") {
		t.Fatalf("alice read %q", got)
	}
	if orders, _ := w.e.Orders(alice); len(orders) != 1 || orders[0].Every != "30" {
		t.Fatalf("orders %+v", orders)
	}
	if ran, _ := w.runDays(5); fmt.Sprint(ran) != "[2026-11-30]" {
		t.Fatalf("ran %v", ran)
	}
}

// BenchmarkStandingOrderRun: the scheduler's cost per order run (a BILL paid, its reply,
// the order moved on), b.N orders of b.N payers due on one day, passes of Orders.PerPass
// until none is left. go test -run '^$' -bench StandingOrderRun -benchtime 2000x ./engine
func BenchmarkStandingOrderRun(b *testing.B) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := testbooks.New(b).Create(b, &ledger.Options{Now: func() time.Time { return clock() }})
	if _, err := l.Submit(context.Background(), domain.Job{Open: []domain.AccountSpec{
		{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"}, {Currency: "EUR", Kind: domain.KindFees, Owner: "@fees"},
		{Currency: "EUR", Kind: domain.KindEscrow, Owner: "@escrow"}, {Currency: "EUR", Kind: domain.KindBiller, Owner: "EDF", Name: "EDF"}}}); err != nil {
		b.Fatal(err)
	}
	e, err := New(Config{ShortCode: "1234", Currency: "EUR", Exponent: 2, Region: "FR", PINKey: []byte("pin-key-for-tests-only"),
		ReceiptKey: []byte("receipt-key-for-tests"), Now: func() time.Time { return clock() }}, l)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range b.N {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p := fmt.Sprintf("+336%08d", 20000000+i)
			ctx := context.Background()
			err := e.Handle(ctx, Inbound{From: p, To: "1234", Text: "REG 2468"})
			if err == nil {
				_, err = e.Topup(ctx, "bench", p, 10000, "cash")
			}
			if err == nil {
				err = e.Handle(ctx, Inbound{From: p, To: "1234", Text: "EVERY 26 BILL EDF X1 3 2468"})
			}
			if err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	now = now.Add(24 * time.Hour)
	b.ResetTimer()
	ran := 0
	for {
		n, err := e.RunDueOrders(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if ran += n; n == 0 {
			break
		}
	}
	b.StopTimer()
	if ran != b.N {
		b.Fatalf("ran %d of %d", ran, b.N)
	}
}

// A standing order's record is sealed as the payer's: the bill account it pays is nowhere
// in the books in clear (the saved bill in his profile neither).
func TestStandingOrderSealedAtRest(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 2)
	w.expect(alice, "EVERY 30 BILL EDF ACCT-QX77Z 3 739164", "Standing order 1 set")
	if raw := w.rawBooks(t); bytes.Contains(raw, []byte("ACCT-QX77Z")) || bytes.Contains(raw, []byte(alice)) {
		t.Fatal("the bill account or the payer's number is in the books in clear")
	}
	if orders, err := w.e.Orders(alice); err != nil || len(orders) != 1 || orders[0].Account != "ACCT-QX77Z" {
		t.Fatalf("orders %+v, %v", orders, err)
	}
}

// The export of what is held about a person has his saved bills and standing orders.
func TestExportHasSavedBillsAndOrders(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 2)
	w.expect(alice, "EVERY 30 BILL EDF 0042-77 3 739164", "Standing order 1 set")
	x, err := w.e.ExportFor(context.Background(), "test", alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.SavedBills) != 1 || x.SavedBills[0] != (ExportBill{Biller: "EDF", Account: "0042-77"}) ||
		len(x.Orders) != 1 || x.Orders[0].Payee != "EDF" || x.Orders[0].Next != "2026-11-30" {
		t.Fatalf("export: bills %+v, orders %+v", x.SavedBills, x.Orders)
	}
}

// A restart on the day of a run (the books closed and opened again, a new engine) runs
// nothing again; the next due date runs after it. Created in Chinese.
func TestStandingOrderOnceAcrossARestart(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 2)
	w.expect(alice, "每 周五 缴费 EDF 0042 3 739164", "定期1已设置:每周五向EDF支付3.00 EUR。首次付款 27/11/2026")
	if ran, _ := w.runDays(2); len(ran) != 1 || w.available(alice) != 4700 {
		t.Fatalf("ran %v, balance %d", ran, w.available(alice))
	}
	cfg := w.e.cfg
	if err := w.l.Close(); err != nil {
		t.Fatal(err)
	}
	w = reopen(t, w, cfg)
	if n, err := w.e.RunDueOrders(context.Background()); n != 0 || err != nil {
		t.Fatalf("after the restart: %d ran, %v", n, err)
	}
	if ran, _ := w.runDays(7); fmt.Sprint(ran) != "[2026-12-04]" || w.available(alice) != 4400 {
		t.Fatalf("ran %v, balance %d", ran, w.available(alice))
	}
	w.verify()
}

// The day's orders run from Orders.RunHour, and one pass runs at most Orders.PerPass of them;
// the next passes run the rest.
func TestStandingOrderRunHourAndPassBound(t *testing.T) {
	w := newWorld(t)
	w.e.cfg.Orders.RunHour, w.e.cfg.Orders.PerPass = 13, 2
	payers := []string{"+33611110001", "+33611110002", "+33611110003", "+33611110004", "+33611110005"}
	for _, p := range payers {
		w.expect(p, "REG 2468 P", "Welcome")
		w.topup(p, 1000, 2)
		w.expect(p, "EVERY 26 BILL EDF X1 1 2468", "Standing order 1 set")
	}
	w.advance(24 * time.Hour) // the 26th, 12:00
	if n, err := w.e.RunDueOrders(context.Background()); n != 0 || err != nil {
		t.Fatalf("before the run hour: %d ran, %v", n, err)
	}
	w.advance(time.Hour)
	var passes []int
	for {
		n, err := w.e.RunDueOrders(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		passes = append(passes, n)
	}
	if fmt.Sprint(passes) != "[2 2 1]" {
		t.Fatalf("passes ran %v, want [2 2 1]", passes)
	}
	for _, p := range payers {
		if w.available(p) != 900 {
			t.Fatalf("%s has %d", p, w.available(p))
		}
	}
}

// A SEND order whose payee was erased since ends at its due date, told, paying nothing.
func TestStandingOrderToAnErasedPayeeEnds(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.expect(bob, "REG 5678 Bob", "Welcome")
	w.topup(alice, 5000, 2)
	w.expect(alice, "EVERY 27 SEND 0687654321 5 739164", "Standing order 1 set")
	if _, err := w.e.RequestErasure(context.Background(), "op", bob, true); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	ran, read := w.runDays(2)
	if len(ran) != 1 || w.available(alice) != 5000 || len(read[alice]) != 1 || !strings.Contains(read[alice][0], "not paid:") {
		t.Fatalf("ran %v, balance %d, read %q", ran, w.available(alice), read)
	}
	if orders, _ := w.e.Orders(alice); len(orders) != 0 {
		t.Fatalf("orders %+v", orders)
	}
	w.verify()
}
