package console

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mpg/domain"
	"mpg/engine"
	"mpg/fraud"
	"mpg/stats"
)

// TestConsoleOnTheEngineInABrowser drives the console over the engine's own figures and
// fraud queue, as `mpg serve` wires it: alice's payments (one refused for funds, the fourth
// of the hour held by the fraud rules) are followed into the roll-ups; an operator signs
// in, reads today's figures, which are those `mpg stats` answers and what the merchants'
// accounts hold, then releases the hold in the page: the merchant is paid and the figures
// count it. A viewer is refused the same form.
func TestConsoleOnTheEngineInABrowser(t *testing.T) {
	chrome := chromium(t)
	f := newFixture(t, nil) // alice paid SHOP42 12.50 and SHOP43 3.00
	rules := fraud.Config{Enabled: true, Version: 1, Review: 25, Hold: 60, Decline: 100, Rules: []fraud.RuleConfig{
		{ID: "payer_count_hour", Version: 1, Enabled: true, Bands: []fraud.Band{{Min: 4, Score: 60}}}}}
	now := time.Now // the ledger's clock, which times the journal's facts and the rules' windows
	e, err := engine.New(engine.Config{ShortCode: "1234", Currency: "EUR", Exponent: 2, Region: "FR",
		PINKey: []byte("pin-key-for-tests-only"), ReceiptKey: []byte("receipt-key-for-tests"), Now: now,
		Fraud: engine.FraudConfig{Rules: rules}}, f.l)
	if err != nil {
		t.Fatal(err)
	}
	f.e = e
	ctx := context.Background()
	f.sms(ctx, "PAY SHOP42 1 739164")  // the third of the hour
	f.sms(ctx, "PAY SHOP42 99 739164") // not enough money (held first, refused by the ledger)
	f.sms(ctx, "PAY SHOP42 2 739164")  // the fourth: held
	cases, err := e.FraudCases(ctx, 10)
	if err != nil || len(cases) != 1 {
		t.Fatalf("queue %+v, %v", cases, err)
	}
	follow := func() stats.Cell {
		t.Helper()
		if err := e.CatchUpStatistics(ctx, 10); err != nil {
			t.Fatal(err)
		}
		day := time.Date(now().Year(), now().Month(), now().Day(), 0, 0, 0, 0, time.UTC)
		a, err := e.Statistics(stats.Query{From: day, To: now(), By: stats.ByTotal})
		if err != nil {
			t.Fatal(err)
		}
		return a.Totals.Cell
	}
	want := follow()
	// Paid: the cash-in of 50.00 and three payments; refused: one; held: one.
	if want.Paid != 4 || want.RefusedCount() != 1 || want.Held != 1 || want.Amount != 6650 {
		t.Fatalf("today's roll-ups %+v, want 4 paid (66.50), 1 refused, 1 held", want)
	}
	if got := f.balance("SHOP42") + f.balance("SHOP43") + 5000; got != int64(want.Amount) {
		t.Fatalf("the payees received %d (the cash-in included), the figures say %d", got, want.Amount)
	}
	cfg := Config{Key: KeyFrom([]byte("pin-key-for-tests-only")), Currency: "EUR", Exponent: 2, LoginsPerMinute: 1000, Now: now, Outbox: f.l}
	f.others(ctx) // more people paying, for the screenshots; the figures are read again below
	srv := httptest.NewServer(New(e, EngineInsights(e), cfg, nil).Handler())
	t.Cleanup(srv.Close)

	bctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	want = follow()
	op := newTab(t, bctx, chrome, srv.URL, 1000, 900)
	op.signIn("olga")
	figures := op.text("#figures")
	success, _ := want.SuccessRate()
	for _, s := range []string{"Payments\n" + strconv.FormatInt(want.Paid, 10), domain.FormatAmount(want.Amount, "EUR"),
		"Success rate\n" + strconv.FormatFloat(success, 'f', 1, 64), "Refused\n" + strconv.FormatInt(want.RefusedCount(), 10)} {
		if !strings.Contains(figures, s) {
			t.Fatalf("dashboard figures %q lack %q (the roll-ups: %+v)", figures, s, want)
		}
	}
	op.shot("dashboard")
	op.do(chromedp.Navigate(srv.URL+"/fraud"), chromedp.WaitVisible(chromedp.CSS("#release-"+cases[0].ID)))
	if got := op.text("#queue"); !strings.Contains(got, "payer_count_hour=4") || !strings.Contains(got, domain.Mask(alice)) {
		t.Fatalf("fraud queue: %q", got)
	}
	op.shot("fraud")
	viewer := newTab(t, bctx, chrome, srv.URL, 1000, 900)
	viewer.signIn("vera")
	viewer.do(chromedp.Navigate(srv.URL+"/fraud"), chromedp.WaitVisible(chromedp.CSS("#queue")))
	if _, err := chromedp.Run(viewer.ctx, chromedp.Evaluate[bool](forgeRelease(cases[0].ID))); err != nil {
		t.Fatal(err)
	}
	viewer.do(chromedp.WaitVisible(chromedp.CSS(".err")))
	if d, _ := e.FraudDecisionOf(cases[0].ID); d.State != "open" {
		t.Fatalf("a viewer's form decided the hold: %s", d.State)
	}
	before := f.balance("SHOP42")
	op.do(chromedp.Click(chromedp.CSS("#release-"+cases[0].ID)), chromedp.WaitVisible(chromedp.CSS(".ok")))
	if got := f.balance("SHOP42"); got != before+200 {
		t.Fatalf("released: SHOP42 holds %d, was %d", got, before)
	}
	if d, _ := e.FraudDecisionOf(cases[0].ID); d.State != "released" || d.By != "console:olga" {
		t.Fatalf("decision after release: %+v", d)
	}
	if got := follow(); got.Paid != want.Paid+1 || got.Amount != want.Amount+200 {
		t.Fatalf("after the release the roll-ups say %+v, before %+v", got, want)
	}
	op.do(chromedp.Navigate(srv.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#figures")))
	if got := op.text("#figures"); !strings.Contains(got, domain.FormatAmount(want.Amount+200, "EUR")) {
		t.Fatalf("dashboard after the release: %q", got)
	}
}

// others has a few more people pay the shops, one of them short of money, one with a
// wrong PIN.
func (f *fixture) others(ctx context.Context) {
	f.t.Helper()
	for i, text := range []string{"PAY SHOP42 4.20 111111", "PAY SHOP43 2.80 111111", "PAY SHOP42 7 111111",
		"PAY SHOP43 1.10 111111", "PAY SHOP42 80 111111", "PAY SHOP42 3 000000", "BAL 111111"} {
		from := "+3361234570" + strconv.Itoa(i%4)
		if _, found, _ := f.e.StateOf(from); !found {
			f.e.Handle(ctx, engine.Inbound{From: from, To: "1234", Text: "REG 111111"})
			if _, err := f.e.Topup(ctx, "test", from, 3000, ""); err != nil {
				f.t.Fatal(err)
			}
		}
		if err := f.e.Handle(ctx, engine.Inbound{From: from, To: "1234", Text: text}); err != nil {
			f.t.Fatal(err)
		}
	}
}

// forgeRelease is a script that posts the release form with the page's own token.
func forgeRelease(id string) string {
	return `(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/fraud/decide';
		for (const [k, v] of [['csrf', document.querySelector('input[name=csrf]').value], ['id', '` + id + `'], ['decision', 'release']]) {
			const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i) }
		document.body.appendChild(f); f.submit(); return true })()`
}

func (f *fixture) balance(owner string) int64 {
	for _, a := range f.e.AccountsOf(owner) {
		return a.Available()
	}
	return 0
}
