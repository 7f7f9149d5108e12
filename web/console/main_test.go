package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
	"mpg/engine"
	"mpg/internal/pgtest"
	"mpg/internal/testbooks"
	"mpg/ledger"
)

// TestMain gives the tests a PostgreSQL cluster when they run on it (MPG_TEST_LEDGER=postgres).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const (
	alice    = "+33612345678"
	password = "a long enough password"
)

// fakeInsights stands in for the figures and the fraud queue, which other rooms compute:
// fixed figures, and a queue whose decisions are recorded.
type fakeInsights struct {
	mu      sync.Mutex
	queue   []FraudCase
	decided []string // actor id release|decline
}

func (f *fakeInsights) Figures(_ context.Context, from, to time.Time, merchant uint64) (Figures, error) {
	fig := Figures{Payments: 1280, Refused: 64, Amount: 2563450, Fees: 12800, Refunded: 4500, SuccessRate: 0.952, DAU: 310, MAU: 2950,
		Refusals:     map[string]int64{"insufficient_funds": 31, "wrong_pin": 18, "daily_limit": 9, "blocked": 4, "fraud_hold": 2},
		Segments:     map[string]int64{"champions": 120, "loyal": 340, "at risk": 95, "new": 210, "hibernating": 400},
		TopMerchants: []Named{{"Corner Shop", 512, 1023400}, {"Bakery Paul", 301, 45150}, {"EDF", 120, 903000}},
		Prev:         &Figures{Payments: 1150}}
	if merchant != 0 {
		fig.Payments, fig.Amount, fig.TopMerchants = 512, 1023400, nil
	}
	for d := from; d.Before(to) && len(fig.Series) < 31; d = d.Add(24 * time.Hour) {
		n := int64(30 + 7*len(fig.Series)%23)
		fig.Series = append(fig.Series, Point{Label: d.Format("02 Jan"), Payments: n, Refused: n / 12, Amount: n * 1500})
	}
	return fig, nil
}

func (f *fakeInsights) FraudQueue(context.Context, int) ([]FraudCase, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FraudCase(nil), f.queue...), nil
}

func (f *fakeInsights) FraudDecide(_ context.Context, actor, id string, release bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.queue {
		if c.ID == id {
			f.queue = append(f.queue[:i], f.queue[i+1:]...)
			what := "decline"
			if release {
				what = "release"
			}
			f.decided = append(f.decided, actor+" "+id+" "+what)
			return nil
		}
	}
	return domain.PaymentErr(domain.CodeNotFound, "no fraud case "+id)
}

func (f *fakeInsights) decisions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.decided...)
}

// fixture is a console over a real ledger and engine, with a viewer, an operator and an
// admin, two merchants with a payment each, and a held payment in the fraud queue.
type fixture struct {
	t                 *testing.T
	l                 *ledger.Ledger
	e                 *engine.Engine
	s                 *Server
	srv               *httptest.Server
	in                *fakeInsights
	clock             *atomic.Int64
	shopKey, shop2Key string
	shopPay, shop2Pay string
}

func newFixture(t *testing.T, tweak func(*Config)) *fixture {
	t.Helper()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	l := testbooks.New(t).Create(t, &ledger.Options{Tiers: engine.LedgerTiers(nil)})
	ctx := context.Background()
	res, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{
		{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		{Currency: "EUR", Kind: domain.KindFees, Owner: "@fees"},
		{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42", Name: "Corner Shop"},
		{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP43", Name: "Bakery Paul"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Config{ShortCode: "1234", Currency: "EUR", Exponent: 2, Region: "FR",
		PINKey: []byte("pin-key-for-tests-only"), ReceiptKey: []byte("receipt-key-for-tests"), Now: now}, l)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, l: l, e: e, clock: &clock, in: &fakeInsights{}}
	f.users(ctx)
	f.shopKey, _, _ = e.CreateAPIKey(ctx, "test", res.Accounts[2].ID)
	f.shop2Key, _, _ = e.CreateAPIKey(ctx, "test", res.Accounts[3].ID)
	f.shopPay, f.shop2Pay = f.pay(ctx, "SHOP42", "12.50"), f.pay(ctx, "SHOP43", "3")
	f.in.queue = []FraudCase{{ID: "fc1", Payment: f.shopPay, State: "held", Action: "hold", Score: 87, Amount: 45000,
		Payer: domain.Mask(alice), Payee: "SHOP42", Hits: []string{"velocity_1h", "new_device", "amount_x10"}, At: now()}}
	cfg := Config{Key: KeyFrom([]byte("pin-key-for-tests-only")), Currency: "EUR", Exponent: 2, LoginsPerMinute: 1000, Now: now, Outbox: l}
	if tweak != nil {
		tweak(&cfg)
	}
	f.s = New(e, f.in, cfg, nil)
	f.srv = httptest.NewServer(f.s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) users(ctx context.Context) {
	for name, role := range map[string]engine.ConsoleRole{"vera": engine.RoleViewer, "olga": engine.RoleOperator, "adam": engine.RoleAdmin} {
		h, err := engine.HashPassword(password)
		if err != nil {
			f.t.Fatal(err)
		}
		if _, err := f.e.AddConsoleUser(ctx, "test", name, role, h); err != nil {
			f.t.Fatal(err)
		}
	}
}

// pay has alice pay a merchant by SMS; it returns the payment's id.
func (f *fixture) pay(ctx context.Context, merchant, amount string) string {
	f.t.Helper()
	if _, found, _ := f.e.StateOf(alice); !found {
		f.sms(ctx, "REG 739164 Alice")
		if _, err := f.e.Topup(ctx, "test", alice, 5000, ""); err != nil {
			f.t.Fatal(err)
		}
	}
	f.sms(ctx, "PAY "+merchant+" "+amount+" 739164")
	for _, a := range f.e.AccountsOf(merchant) {
		list, _, err := f.e.ListPayments(a.ID, engine.PaymentFilter{})
		if err == nil && len(list) > 0 {
			return list[len(list)-1].ID
		}
	}
	f.t.Fatalf("no payment to %s", merchant)
	return ""
}

func (f *fixture) sms(ctx context.Context, text string) {
	if err := f.e.Handle(ctx, engine.Inbound{From: alice, To: "1234", Text: text, Received: time.Unix(0, f.clock.Load())}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) advance(d time.Duration) { f.clock.Add(int64(d)) }

// browser is one person's browser: its own cookies, redirects not followed.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string // the newest form token seen
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: f.t, base: f.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(body), resp.Header
}

func (b *browser) get(path string) (int, string, http.Header) {
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

// post sends a form as the page's own would: the newest token and the site's origin.
func (b *browser) post(path string, v url.Values) (int, string, http.Header) {
	return b.postWith(path, v, b.csrf, b.base)
}

func (b *browser) postWith(path string, v url.Values, token, origin string) (int, string, http.Header) {
	if v == nil {
		v = url.Values{}
	}
	if token != "" {
		v.Set("csrf", token)
	}
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.do(req)
}

func (b *browser) login(name, pw string) (int, string) {
	b.get("/login")
	code, body, _ := b.post("/login", url.Values{"name": {name}, "password": {pw}})
	if code == http.StatusSeeOther {
		b.get("/dashboard") // the session's token
	}
	return code, body
}

func (b *browser) portalLogin(key string) int {
	b.get("/portal/login")
	code, _, _ := b.post("/portal/login", url.Values{"key": {key}})
	if code == http.StatusSeeOther {
		b.get("/portal")
	}
	return code
}

func (f *fixture) signedIn(name string) *browser {
	b := f.browser()
	if code, body := b.login(name, password); code != http.StatusSeeOther {
		f.t.Fatalf("sign-in as %s: %d %s", name, code, body)
	}
	return b
}

func (f *fixture) merchant(key string) *browser {
	b := f.browser()
	if code := b.portalLogin(key); code != http.StatusSeeOther {
		f.t.Fatalf("portal sign-in: %d", code)
	}
	return b
}
