package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestCheckoutInABrowser drives headless Chromium through the whole web checkout against a
// running daemon bound to the SMSC simulator over SMPP: the merchant makes the checkout with
// its API key, the buyer opens the page on a phone-sized screen, types his number, reads
// the code on his phone (the simulator), types it, and is sent back; the merchant's
// endpoint gets the signed webhook. With MPG_SCREENSHOTS=dir it saves a screenshot of each
// step (the README's).
func TestCheckoutInABrowser(t *testing.T) {
	chrome := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chrome = p
			break
		}
	}
	if chrome == "" {
		if os.Getenv("MPG_REQUIRE_INTEROP") == "1" {
			t.Fatal("chromium is not installed (apt-get install chromium)")
		}
		t.Skip("chromium is not installed")
	}
	const buyer = "+33612345678"
	db, sim, cfg := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop"})
	cfg.Merchant.Addr = "127.0.0.1:0"
	l, d := serveDaemon(t, db, cfg)
	mustRun(t, "--db", db, "account", "open", buyer, "--name", "Alice")
	mustRun(t, "--db", db, "account", "topup", buyer, "20")
	key := strings.Fields(mustRun(t, "--db", db, "merchant", "key", "create", "SHOP42"))[0]

	// The merchant's webhook endpoint checks every signature.
	var mu sync.Mutex
	var events []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		secret := hookSecret
		k, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		m := hmac.New(sha256.New, k)
		m.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "."))
		m.Write(body)
		if r.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)) {
			w.WriteHeader(400)
			return
		}
		var ev struct{ Type string }
		json.Unmarshal(body, &ev)
		events = append(events, ev.Type)
	}))
	defer hook.Close()
	out := mustRun(t, "--db", db, "merchant", "webhook", "SHOP42", "--url", hook.URL)
	mu.Lock()
	hookSecret = regexp.MustCompile(`whsec_\S+`).FindString(out)
	mu.Unlock()

	api := "http://" + d.merchantAddr
	req, _ := http.NewRequest("POST", api+"/v1/checkouts", strings.NewReader(
		`{"amount":"4.50","reference":"order-1234","description":"2 croissants and a coffee","return_url":"https://shop.example/thanks"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var co struct {
		ID          string `json:"id"`
		CheckoutURL string `json:"checkout_url"`
		State       string `json:"state"`
	}
	json.NewDecoder(resp.Body).Decode(&co)
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.HasPrefix(co.CheckoutURL, api+"/checkout/") {
		t.Fatalf("checkout: %d %+v", resp.StatusCode, co)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(390, 844))
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	shots := os.Getenv("MPG_SCREENSHOTS")
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	shot := func(name string) {
		t.Helper()
		if shots == "" {
			return
		}
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, "checkout-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := len(sim.MT(buyer))
	do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(co.CheckoutURL+"?lang=en"), chromedp.WaitVisible(chromedp.CSS("#phone")))
	// What will be charged and to whom is on the page before any code is sent.
	if amount, summary := text("#amount"), text("#summary"); amount != "4.50 EUR" || !strings.Contains(summary, "Corner Shop") || !strings.Contains(summary, "order-1234") {
		t.Fatalf("page shows %q / %q", amount, summary)
	}
	shot("1-amount")
	do(chromedp.SendKeys(chromedp.CSS("#phone"), "06 12 34 56 78"), chromedp.Click(chromedp.CSS("#send")), chromedp.WaitVisible(chromedp.CSS("#code")))
	if sent := text("#sent"); !strings.Contains(sent, "+336****678") || strings.Contains(sent, "12345678") {
		t.Fatalf("code step shows %q", sent)
	}
	shot("2-code")
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	msgs, _ := sim.WaitMT(wctx, buyer, before+1)
	wcancel()
	code := regexp.MustCompile(`Code (\d{6}) to pay 4\.50 EUR to Corner Shop`).FindStringSubmatch(strings.Join(msgs[min(before, len(msgs)):], "\n"))
	if code == nil {
		t.Fatalf("no code on the buyer's phone: %q", msgs)
	}
	do(chromedp.SendKeys(chromedp.CSS("#code"), code[1]), chromedp.Click(chromedp.CSS("#pay")), chromedp.WaitVisible(chromedp.CSS("#done")))
	back, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS("#back"), "href"))
	if err != nil {
		t.Fatal(err)
	}
	if done, receipt := text("#done"), text("#receipt"); done != "Paid. Thank you." || back.Value != "https://shop.example/thanks?payment="+co.ID+"&state=completed" || receipt == "" {
		t.Fatalf("done page: %q %q %q", done, back.Value, receipt)
	}
	shot("3-paid")
	// The money moved once; the merchant was told by a signed webhook.
	if got := l.AccountsOf(buyer)[0].Available(); got != 2000-450 {
		t.Fatalf("buyer's balance %d", got)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		got := strings.Join(events, ",")
		mu.Unlock()
		if strings.Contains(got, "payment.completed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks received: %q", got)
		}
	}
	// The same page in French.
	do(chromedp.Navigate(co.CheckoutURL + "?lang=fr"))
	if fr := text("#done"); fr != "Payé. Merci." {
		t.Fatalf("french page: %q", fr)
	}
}

// hookSecret is the webhook secret the test's endpoint checks (set under the test's mutex).
var hookSecret string
