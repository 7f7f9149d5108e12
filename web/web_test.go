package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
	"mpg/engine"
	"mpg/internal/testbooks"
	"mpg/ledger"
	"mpg/settlement"
)

const alice = "+33612345678"

type fixture struct {
	t    *testing.T
	l    *ledger.Ledger
	e    *engine.Engine
	srv  *httptest.Server
	key  string
	shop uint64
	seen uint64
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	ecfg := engine.Config{ShortCode: "1234", Currency: "EUR", Exponent: 2, Region: "FR",
		PINKey: []byte("pin-key-for-tests-only"), ReceiptKey: []byte("receipt-key-for-tests"),
		CheckoutMax: 1000, CheckoutMonthly: 30000, CheckoutURL: "http://checkout.test",
		Settlement: engine.SettlementConfig{Files: settlement.Files{}, Dir: t.TempDir(), ReservePercent: 10, ReserveDays: 7,
			Debtor: domain.SEPAParty{Name: "Mobile Operator SA", IBAN: "DE89370400440532013000"}}}
	l := testbooks.New(t).Create(t, &ledger.Options{Tiers: engine.LedgerTiers(nil)})
	ctx := context.Background()
	res, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{
		{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		{Currency: "EUR", Kind: domain.KindFees, Owner: "@fees"},
		{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42", Name: "Corner Shop"},
		{Currency: "EUR", Kind: domain.KindPurse, Owner: alice, Name: "Alice", Tier: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: res.Accounts[0].ID,
		Credit: res.Accounts[3].ID, Amount: 5000, Code: domain.CodeTopup}}}); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(ecfg, l)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, l: l, e: e, shop: res.Accounts[2].ID}
	if f.key, _, err = e.CreateAPIKey(ctx, "test", f.shop); err != nil {
		t.Fatal(err)
	}
	cfg.Currency, cfg.Exponent = "EUR", 2
	f.srv = httptest.NewServer(New(cfg, e, nil).Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// call makes an API request and decodes the JSON answer into out (if not nil).
func (f *fixture) call(method, path, body string, hdr map[string]string, out any) *http.Response {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.key)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp
}

func (f *fixture) errorCode(resp *http.Response, body apiError, status int, code domain.ErrorCode) {
	f.t.Helper()
	if resp.StatusCode != status || body.Error.Code != code {
		f.t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, body.Error.Code, body.Error.Message, status, code)
	}
}

var code6 = regexp.MustCompile(`\b(\d{6})\b`)

// lastCode reads the code in the newest SMS to alice, as her phone shows it.
func (f *fixture) lastCode() string {
	f.t.Helper()
	msgs, err := f.l.Messages(20, 0, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, m := range msgs {
		if m.To == alice && m.Sealed != "" {
			text, err := f.e.DeliverText(m)
			if err != nil {
				f.t.Fatal(err)
			}
			return code6.FindStringSubmatch(text)[1]
		}
	}
	f.t.Fatal("no code sent to alice")
	return ""
}

func TestMerchantAPIRequestToPay(t *testing.T) {
	f := newFixture(t, Config{})
	var v engine.PaymentView
	body := `{"msisdn":"0612345678","amount":"4.50","currency":"EUR","reference":"order-1234"}`
	resp := f.call("POST", "/v1/payments", body, map[string]string{"Idempotency-Key": "a1"}, &v)
	if resp.StatusCode != 201 || v.State != "awaiting_confirmation" || v.Amount != "4.50" || v.MSISDN != alice {
		t.Fatalf("create: %d %+v", resp.StatusCode, v)
	}
	// Same key, same body: the first answer. Same key, other body: 422.
	var again engine.PaymentView
	resp = f.call("POST", "/v1/payments", body, map[string]string{"Idempotency-Key": "a1"}, &again)
	if resp.StatusCode != 201 || again.ID != v.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %+v", resp.StatusCode, again)
	}
	var e apiError
	resp = f.call("POST", "/v1/payments", strings.Replace(body, "4.50", "4.60", 1), map[string]string{"X-Correlation-ID": "a1"}, &e)
	f.errorCode(resp, e, 422, domain.CodeIdempotencyMismatch)

	// The subscriber answers by SMS; the API shows the result.
	if err := f.e.Handle(context.Background(), engine.Inbound{From: alice, To: "1234", Text: "YES " + f.lastCode()}); err != nil {
		t.Fatal(err)
	}
	f.call("GET", "/v1/payments/"+v.ID, "", nil, &v)
	if v.State != "completed" || v.Receipt == "" {
		t.Fatalf("after YES: %+v", v)
	}
	// Refunds: part, then too much, then the rest.
	var rf struct {
		Refund  engine.RefundView  `json:"refund"`
		Payment engine.PaymentView `json:"payment"`
	}
	resp = f.call("POST", "/v1/payments/"+v.ID+"/refunds", `{"amount":"1.50"}`, nil, &rf)
	if resp.StatusCode != 201 || rf.Refund.Amount != "1.50" || rf.Payment.State != "partially_refunded" {
		t.Fatalf("refund: %d %+v", resp.StatusCode, rf)
	}
	resp = f.call("POST", "/v1/payments/"+v.ID+"/refunds", `{"amount":"3.01"}`, nil, &e)
	f.errorCode(resp, e, 422, domain.CodeRefundTooLarge)
	resp = f.call("POST", "/v1/payments/"+v.ID+"/refunds", ``, nil, &rf)
	if resp.StatusCode != 201 || rf.Refund.Amount != "3.00" || rf.Payment.State != "refunded" {
		t.Fatalf("refund rest: %d %+v", resp.StatusCode, rf)
	}
	resp = f.call("POST", "/v1/payments/"+v.ID+"/cancel", ``, nil, &e)
	f.errorCode(resp, e, 409, domain.CodeInvalidState)

	// Refusals with stable codes.
	resp = f.call("POST", "/v1/payments", `{"msisdn":"0600000001","amount":"1","reference":"x"}`, nil, &e)
	f.errorCode(resp, e, 404, domain.CodeSubscriberNotFound)
	resp = f.call("POST", "/v1/payments", `{"msisdn":"0612345678","amount":"1.234","reference":"x"}`, nil, &e)
	f.errorCode(resp, e, 400, domain.CodeInvalidRequest)
	resp = f.call("POST", "/v1/payments", `{"msisdn":"0612345678","amount":"1","reference":"x","pin":"1234"}`, nil, &e)
	f.errorCode(resp, e, 400, domain.CodeInvalidRequest) // unknown fields are refused
	resp = f.call("GET", "/v1/payments/00000000000000000000000000000000", "", nil, &e)
	f.errorCode(resp, e, 404, domain.CodeNotFound)
	req, _ := http.NewRequest("GET", f.srv.URL+"/v1/payments/"+v.ID, nil)
	req.Header.Set("Authorization", "Bearer mpg_00000000_nope")
	r2, _ := http.DefaultClient.Do(req)
	if r2.StatusCode != 401 {
		t.Fatalf("bad key: %d", r2.StatusCode)
	}
	r2.Body.Close()
}

func TestMerchantAPIReconciliationPagesAndCSV(t *testing.T) {
	f := newFixture(t, Config{RatePerS: 1000})
	ids := map[string]bool{}
	for i := 0; i < 7; i++ {
		var v engine.PaymentView
		ref := "batch"
		if i == 3 {
			ref = "special"
		}
		f.call("POST", "/v1/checkouts", `{"amount":"1.00","reference":"`+ref+`"}`, nil, &v)
		if v.CheckoutURL != "http://checkout.test/checkout/"+v.ID {
			t.Fatalf("checkout url %q", v.CheckoutURL)
		}
		ids[v.ID] = true
	}
	seen := map[string]bool{}
	cursor := ""
	for page := 0; page < 10; page++ {
		var out struct {
			Payments   []engine.PaymentView `json:"payments"`
			NextCursor string               `json:"next_cursor"`
		}
		f.call("GET", "/v1/payments?limit=3&cursor="+cursor, "", nil, &out)
		for _, p := range out.Payments {
			if seen[p.ID] {
				t.Fatalf("payment %s on two pages", p.ID)
			}
			seen[p.ID] = true
		}
		if cursor = out.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 7 {
		t.Fatalf("pages held %d of 7", len(seen))
	}
	var only struct {
		Payments []engine.PaymentView `json:"payments"`
	}
	f.call("GET", "/v1/payments?reference=special", "", nil, &only)
	if len(only.Payments) != 1 {
		t.Fatalf("by reference: %d", len(only.Payments))
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	f.call("GET", "/v1/payments?from="+future, "", nil, &only)
	if len(only.Payments) != 0 {
		t.Fatalf("from the future: %d", len(only.Payments))
	}
	// A texted payment is in the export too, with its product, channel, masked number and
	// the subscriber's reference.
	const bob = "+33687654321"
	ctx := context.Background()
	if err := f.e.Handle(ctx, engine.Inbound{From: bob, To: "1234", Text: "REG 739164 Bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.Topup(ctx, "test", bob, 2000, "cash"); err != nil {
		t.Fatal(err)
	}
	if err := f.e.Handle(ctx, engine.Inbound{From: bob, To: "1234", Text: "PAY SHOP42 3 INV77 739164"}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/v1/payments?format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+f.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || len(rows) != 9 ||
		strings.Join(rows[0], ",") != "id,created,updated,state,reason,channel,msisdn,amount,currency,refunded,reference,receipt,product,promotion,discount,points_spent,points_worth,points_earned" {
		t.Fatalf("csv (%v): %q", err, b)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	texted := 0
	for _, r := range rows[1:] {
		if ids[r[col["id"]]] { // a checkout
			if r[col["product"]] != "pay" || r[col["channel"]] != "web" {
				t.Errorf("checkout row %q", r)
			}
			continue
		}
		texted++
		want := map[string]string{"state": "completed", "channel": "sms", "msisdn": "+336****321", "amount": "3.00",
			"currency": "EUR", "refunded": "0.00", "reference": "INV77", "product": "pay"}
		for name, v := range want {
			if r[col[name]] != v {
				t.Errorf("texted payment's %s is %q, want %q (row %q)", name, r[col[name]], v, r)
			}
		}
		if r[col["receipt"]] == "" {
			t.Errorf("texted payment without its receipt: %q", r)
		}
	}
	if texted != 1 {
		t.Fatalf("%d texted payments in the csv, want 1: %q", texted, b)
	}
}

func TestMerchantAPIRateLimitAndInflightIdempotency(t *testing.T) {
	f := newFixture(t, Config{RatePerS: 1, Burst: 3})
	codes := map[int]int{}
	for i := 0; i < 5; i++ {
		resp := f.call("GET", "/v1/payments", "", nil, nil)
		codes[resp.StatusCode]++
	}
	if codes[200] != 3 || codes[429] != 2 {
		t.Fatalf("statuses %v", codes)
	}

	// Many clients retry one create at once: one payment, the others 409 or the replay.
	g := newFixture(t, Config{RatePerS: 1000})
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v struct {
				ID    string   `json:"id"`
				Error apiError `json:"-"`
			}
			resp := g.call("POST", "/v1/checkouts", `{"amount":"2.00","reference":"once"}`, map[string]string{"Idempotency-Key": "same"}, &v)
			mu.Lock()
			got[strconv.Itoa(resp.StatusCode)+" "+v.ID]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for k := range got {
		status, id, _ := strings.Cut(k, " ")
		if status == "201" {
			ids[id] = true
		} else if status != "409" {
			t.Fatalf("status %s", k)
		}
	}
	ps, _, _ := g.e.ListPayments(g.shop, engine.PaymentFilter{})
	if len(ids) != 1 || len(ps) != 1 {
		t.Fatalf("answers %v, %d payments", got, len(ps))
	}
}

// receiver is a merchant's webhook endpoint that fails on demand and checks signatures.
type receiver struct {
	mu      sync.Mutex
	secret  string
	mode    string // "ok", "fail", "slow", "gone"
	got     []string
	bad     int
	attempt atomic.Int32
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.attempt.Add(1)
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	mode, secret := r.mode, r.secret
	r.mu.Unlock()
	id, ts, sig := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	switch mode {
	case "fail":
		w.WriteHeader(500)
		return
	case "slow":
		time.Sleep(300 * time.Millisecond)
		return
	case "gone":
		w.WriteHeader(410)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !hmac.Equal([]byte(sig), []byte(want)) {
		r.bad++
		w.WriteHeader(400)
		return
	}
	var ev struct {
		Type string `json:"type"`
	}
	json.Unmarshal(body, &ev)
	r.got = append(r.got, id+" "+ev.Type)
}

func TestWebhooksAreSignedRetriedAndStoppedByGone(t *testing.T) {
	rc := &receiver{mode: "fail"}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	f := newFixture(t, Config{WebhookEvery: 20 * time.Millisecond, WebhookTimeout: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	secret, err := f.e.SetWebhook(ctx, "test", f.shop, hook.URL, false)
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = secret
	srv := New(Config{WebhookEvery: 20 * time.Millisecond, WebhookTimeout: 100 * time.Millisecond}, f.e, nil)
	done := make(chan struct{})
	go func() { srv.RunWebhooks(ctx); close(done) }()

	var v engine.PaymentView
	f.call("POST", "/v1/checkouts", `{"amount":"1.00","reference":"w1"}`, nil, &v)
	waitFor(t, func() bool { return rc.attempt.Load() >= 1 })
	ds, _ := f.e.Deliveries("", "", 10)
	if len(ds) != 1 || ds[0].State != engine.DeliveryPending {
		t.Fatalf("after a 500: %+v", ds)
	}
	waitFor(t, func() bool { d, _, _ := f.e.Delivery(ds[0].ID); return d.Attempts == 1 && d.LastStatus == 500 })

	// A timeout is a failure too; then the endpoint recovers: delivered once, signed.
	rc.mu.Lock()
	rc.mode = "slow"
	rc.mu.Unlock()
	f.e.ReplayWebhook(ctx, "test", ds[0].ID) // now, not in 5 s; the attempts are counted on
	waitFor(t, func() bool {
		d, _, _ := f.e.Delivery(ds[0].ID)
		return d.Attempts == 2 && d.LastStatus == 0 && d.LastError != ""
	})
	rc.mu.Lock()
	rc.mode = "ok"
	rc.mu.Unlock()
	f.e.ReplayWebhook(ctx, "test", ds[0].ID)
	waitFor(t, func() bool { d, _, _ := f.e.Delivery(ds[0].ID); return d.State == engine.DeliveryDelivered })
	rc.mu.Lock()
	if len(rc.got) != 1 || rc.bad != 0 || !strings.HasSuffix(rc.got[0], "payment.created") {
		t.Fatalf("received %q, %d bad signatures", rc.got, rc.bad)
	}
	rc.mode = "gone"
	rc.mu.Unlock()

	// 410: the endpoint is turned off and nothing more is sent to it.
	f.call("POST", "/v1/payments/"+v.ID+"/cancel", "", nil, &v)
	waitFor(t, func() bool { ds, _ := f.e.Deliveries("", engine.DeliveryFailed, 10); return len(ds) == 1 })
	before := rc.attempt.Load()
	f.call("POST", "/v1/checkouts", `{"amount":"1.00","reference":"w2"}`, nil, &v)
	time.Sleep(150 * time.Millisecond)
	if rc.attempt.Load() != before {
		t.Fatal("a gone endpoint was called again")
	}
	cancel()
	<-done
}

// waitFor waits for what a background worker does: at most 15 s, as CI machines run the
// PostgreSQL suites beside others and a worker's round can come late there.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("condition not met in 15 s")
}

func TestCheckoutPagesResistCSRFAndFraming(t *testing.T) {
	f := newFixture(t, Config{})
	var v engine.PaymentView
	f.call("POST", "/v1/checkouts", `{"amount":"8.00","reference":"web-1","return_url":"https://shop.example/done"}`, nil, &v)
	jar, _ := cookiejar.New(nil)
	buyer := &http.Client{Jar: jar}
	page := get(t, buyer, f.srv.URL+"/checkout/"+v.ID+"?lang=fr")
	if page.StatusCode != 200 || page.Header.Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(page.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("headers %v", page.Header)
	}
	html := page.body
	if !strings.Contains(html, "Corner Shop") || !strings.Contains(html, "8,00 EUR") || strings.Contains(html, "<script") {
		t.Fatalf("page %s", html)
	}
	token := regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`).FindStringSubmatch(html)[1]

	// A form posted from another site has no cookie (SameSite=Strict) or no token: refused.
	resp, _ := http.PostForm(f.srv.URL+"/checkout/"+v.ID+"/phone", url.Values{"csrf": {token}, "phone": {"0612345678"}})
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("cross-site post: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/checkout/"+v.ID+"/phone", strings.NewReader(url.Values{"csrf": {token}, "phone": {"0612345678"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, _ = buyer.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("foreign origin: %d", resp.StatusCode)
	}
	if p, _ := f.e.GetPayment(0, v.ID); p.State != domain.PaymentCreated || p.CodesSent != 0 {
		t.Fatalf("a refused post sent a code: %+v", p)
	}

	// The buyer's own posts: number, a wrong code, the right one; the number shown masked.
	r := postForm(t, buyer, f.srv.URL+"/checkout/"+v.ID+"/phone", url.Values{"csrf": {token}, "phone": {"06 12 34 56 78"}, "lang": {"en"}})
	if !strings.Contains(r.body, "336****678") || strings.Contains(r.body, "12345678") {
		t.Fatalf("code step: %s", r.body)
	}
	r = postForm(t, buyer, f.srv.URL+"/checkout/"+v.ID+"/code", url.Values{"csrf": {token}, "code": {"12345x"}, "lang": {"en"}})
	if r.StatusCode != 200 || !strings.Contains(r.body, "Wrong code. 2 tries left.") {
		t.Fatalf("wrong code: %d %s", r.StatusCode, r.body)
	}
	r = postForm(t, buyer, f.srv.URL+"/checkout/"+v.ID+"/code", url.Values{"csrf": {token}, "code": {f.lastCode()}, "lang": {"en"}})
	if !strings.Contains(r.body, "Paid. Thank you.") || !strings.Contains(r.body, "https://shop.example/done?payment="+v.ID+"&amp;state=completed") {
		t.Fatalf("done: %s", r.body)
	}
	// Someone else opening the link sees the outcome, never the number.
	other := get(t, http.DefaultClient, f.srv.URL+"/checkout/"+v.ID)
	if strings.Contains(other.body, "678") && strings.Contains(other.body, "+33") {
		t.Fatalf("number shown to another visitor: %s", other.body)
	}
}

type page struct {
	*http.Response
	body string
}

func get(t *testing.T, c *http.Client, u string) page {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp, string(b)}
}

func postForm(t *testing.T, c *http.Client, u string, v url.Values) page {
	t.Helper()
	resp, err := c.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp, string(b)}
}

// TestOpenAPIDescribesEveryRoute: the served description names every endpoint and method.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	f := newFixture(t, Config{})
	doc := get(t, http.DefaultClient, f.srv.URL+"/openapi.yaml")
	if doc.StatusCode != 200 || !strings.HasPrefix(doc.body, "openapi: 3.1.0") {
		t.Fatalf("openapi: %d", doc.StatusCode)
	}
	for _, r := range New(Config{}, f.e, nil).apiRoutes() {
		method, path, _ := strings.Cut(r.pattern, " ")
		i := strings.Index(doc.body, "\n  "+path+":\n")
		if i < 0 {
			t.Errorf("%s is not in openapi.yaml", path)
			continue
		}
		rest := doc.body[i+len(path)+4:] // from the newline before the first method
		if j := strings.Index(rest, "\n  /"); j >= 0 {
			rest = rest[:j]
		}
		if !strings.Contains(rest, "\n    "+strings.ToLower(method)+":") {
			t.Errorf("%s %s is not in openapi.yaml", method, path)
		}
	}
}

// TestServeOverTLS: with a certificate the API and the pages are served over HTTPS only.
func TestServeOverTLS(t *testing.T) {
	f := newFixture(t, Config{})
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- New(Config{TLSCert: certFile, TLSKey: keyFile, Currency: "EUR", Exponent: 2}, f.e, nil).Serve(ctx, ln)
	}()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}, Timeout: 5 * time.Second}
	req, _ := http.NewRequest("GET", "https://"+ln.Addr().String()+"/v1/payments", nil)
	req.Header.Set("Authorization", "Bearer "+f.key)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("https: %v %v", resp, err)
	}
	resp.Body.Close()
	if resp, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP answered on the TLS listener")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mpg test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// TestHomePage: "/" says what the listener is and links its endpoints, each of which answers;
// other paths outside the API stay 404.
func TestHomePage(t *testing.T) {
	f := newFixture(t, Config{})
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	code, ctype, body := get("/")
	if code != http.StatusOK || !strings.HasPrefix(ctype, "text/html") || !strings.Contains(body, "mpg") {
		t.Fatalf("/: %d %s\n%s", code, ctype, body)
	}
	for _, link := range []string{"/openapi.yaml", "/healthz"} {
		if !strings.Contains(body, `href="`+link+`"`) {
			t.Errorf("/ does not link %s:\n%s", link, body)
		}
		if code, _, _ := get(link); code != http.StatusOK {
			t.Errorf("%s: %d", link, code)
		}
	}
	if !strings.Contains(body, "/checkout/") || !strings.Contains(body, "/v1") {
		t.Errorf("/ does not say where the API and the checkout pages are:\n%s", body)
	}
	for _, path := range []string{"/index.html", "/nothing", "/checkout", "/openapi.yml"} {
		if code, _, _ := get(path); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
}
