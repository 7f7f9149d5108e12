package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
	"mpg/engine"
	"mpg/ledger"
	"mpg/smpp"
)

// TestCrashMerchantChild is the daemon TestCrashDuringCheckoutsAndWebhooks kills.
func TestCrashMerchantChild(t *testing.T) {
	db, smsc, addr := os.Getenv("MPG_CRASH_DB"), os.Getenv("MPG_CRASH_SMSC"), os.Getenv("MPG_CRASH_HTTP")
	if addr == "" {
		t.Skip("run by TestCrashDuringCheckoutsAndWebhooks")
	}
	cfg := crashConfig(smsc)
	cfg.Merchant.Addr, cfg.Merchant.RatePerS, cfg.Merchant.Burst = addr, 10000, 10000
	cfg.Merchant.CheckoutMonthly, cfg.Merchant.CodesPerHour = 0, 100000
	serveUntilKilled(db, cfg)
}

// TestCrashDuringCheckoutsAndWebhooks kills the daemon with SIGKILL at random moments while
// buyers pay on the checkout page and webhooks go out, 6 times. Buyers carry on as people
// do: they retry a create with the same idempotency key, reload the page, read the code on
// their phone. Afterwards each checkout is one payment, paid exactly once, the purses and
// the merchant agree with the payments, the books verify, and the merchant got every
// completion by webhook, each event under one webhook-id however often it was resent.
func TestCrashDuringCheckoutsAndWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop is not short")
	}
	db, sim, _ := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	api := "http://" + addr

	// The merchant's endpoint: which webhook ids it got for which payment and type.
	var hmu sync.Mutex
	hooks := map[string]map[string]bool{} // payment/type -> webhook ids
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Type string `json:"type"`
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		json.NewDecoder(r.Body).Decode(&ev)
		hmu.Lock()
		k := ev.Data.ID + "/" + ev.Type
		if hooks[k] == nil {
			hooks[k] = map[string]bool{}
		}
		hooks[k][r.Header.Get("webhook-id")] = true
		hmu.Unlock()
	}))
	defer hook.Close()

	start := func() *exec.Cmd {
		return startChild(t, "TestCrashMerchantChild", sim, "MPG_CRASH_DB="+db, "MPG_CRASH_SMSC="+sim.Addr(), "MPG_CRASH_HTTP="+addr)
	}
	kill := func(cmd *exec.Cmd) { killChild(cmd, sim) }

	buyers := []string{"+33620000001", "+33620000002", "+33620000003", "+33620000004"}
	cmd := start()
	for _, b := range buyers {
		mustRun(t, "--db", db, "account", "open", b, "--name", "Buyer")
		mustRun(t, "--db", db, "account", "tier", b, "3")
		mustRun(t, "--db", db, "account", "topup", b, "5000")
	}
	key := strings.Fields(mustRun(t, "--db", db, "merchant", "key", "create", "SHOP42"))[0]
	mustRun(t, "--db", db, "merchant", "webhook", "SHOP42", "--url", hook.URL)

	var stop atomic.Bool
	var cmu sync.Mutex
	checkouts := map[string]string{} // reference -> payment id, once created
	var wg sync.WaitGroup
	for i, buyer := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				ref := fmt.Sprintf("B%d-%d", i, n)
				id := payByCheckout(t, api, key, sim, buyer, ref, 30*time.Second)
				if id == "" {
					t.Errorf("checkout %s was not paid within 30 s", ref)
					return
				}
				cmu.Lock()
				checkouts[ref] = id
				cmu.Unlock()
			}
		}()
	}
	// The merchant refunds a cent of paid checkouts and an operator reverses some of those,
	// while the daemon is killed: both through whatever is up, retried as people do.
	giver := &debitRefunder{api: api, key: key, done: map[string]bool{}, reversed: map[string]bool{}}
	wg.Add(2)
	go func() { defer wg.Done(); giver.run(t, &stop) }()
	go func() { defer wg.Done(); giver.reverse(t, db, &stop) }()
	for round := range 6 {
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		kill(cmd)
		cmu.Lock()
		t.Logf("round %d: %d checkouts paid so far", round, len(checkouts))
		cmu.Unlock()
		cmd = start()
	}
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	// Every completion reaches the merchant (the queue survives the kills).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		hmu.Lock()
		missing := 0
		for _, id := range checkouts {
			if len(hooks[id+"/payment.completed"]) == 0 {
				missing++
			}
		}
		hmu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d completions never reached the merchant", missing)
		}
	}
	kill(cmd)

	l, err := ledger.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if rep, err := l.Verify(ctx, nil); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %s", err, rep.Problem)
	}
	shop := l.AccountsOf("SHOP42")[0]
	hist, _ := l.History(shop.ID, 1<<20, 0)
	byRef := map[string]int{}
	paidN, givenBack := int64(0), givenBackIn(t, l, giver.ids())
	for _, tr := range hist {
		if tr.Code == domain.CodePay {
			byRef[tr.Ref]++
			paidN++
		}
	}
	for ref := range checkouts {
		if byRef[ref] != 1 {
			t.Errorf("checkout %s was paid %d times", ref, byRef[ref])
		}
	}
	for ref, n := range byRef {
		if _, ok := checkouts[ref]; !ok && n > 0 {
			// A checkout whose buyer stopped before seeing it paid; never twice.
			if n > 1 {
				t.Errorf("checkout %s was paid %d times", ref, n)
			}
		}
	}
	var spent int64
	for _, b := range buyers {
		spent += 500000 - l.AccountsOf(b)[0].Available()
	}
	if spent != shop.Available() || spent != paidN*100-givenBack {
		t.Fatalf("buyers spent %d net, the merchant has %d, %d payments, %d given back", spent, shop.Available(), paidN, givenBack)
	}
	if giver.count() == 0 || giver.reversals() == 0 {
		t.Fatalf("%d refunds and %d reversals got through: the test proved little", giver.count(), giver.reversals())
	}
	for k, ids := range hooks {
		if len(ids) != 1 {
			t.Errorf("event %s was written %d times", k, len(ids))
		}
	}
	if len(checkouts) < 8 {
		t.Fatalf("only %d checkouts paid: the test proved little", len(checkouts))
	}
	t.Logf("%d checkouts, each one payment paid once; %d refunded, %d of them reversed; %d webhook events, none doubled; verify clean",
		len(checkouts), giver.count(), giver.reversals(), len(hooks))
}

// givenBackIn checks, on the records of the payments given back on, one cap (the refund
// and the reversal never above what was paid, the reversal after the refund, at most one),
// each transfer in the ledger once, and returns what was given back in all.
func givenBackIn(t *testing.T, l *ledger.Ledger, ids []string) int64 {
	t.Helper()
	e := engine.NewAdmin(engine.Config{Currency: "EUR", Exponent: 2}, l)
	var all int64
	for _, id := range ids {
		p, err := e.GetPayment(0, id)
		if err != nil || len(p.Refunds) == 0 || len(p.Refunds) > 2 {
			t.Fatalf("%s: %v, %d given back", id, err, len(p.Refunds))
		}
		back := uint64(0)
		for i, r := range p.Refunds {
			tid, _ := domain.ParseID(r.Transfer)
			if tr, err := l.Transfer(tid); err != nil || tr.Amount != r.Amount || (i == 1) != (r.Kind == domain.Reversal) {
				t.Fatalf("%s: given back %d (%s) is not in the ledger as recorded: %v", id, i, r.Kind, err)
			}
			back += r.Amount
		}
		if back != p.Refunded || back > p.Amount || (len(p.Refunds) == 2 && back != p.Amount) {
			t.Fatalf("%s: %d given back of %d (record %d)", id, back, p.Amount, p.Refunded)
		}
		all += int64(back)
	}
	return all
}

var codeOnPhone = regexp.MustCompile(`Code (\d{6}) to pay`)

// payByCheckout is one buyer paying 1.00 EUR through the page, carrying on across daemon
// restarts; it returns the payment id ("" if it gave up at the deadline).
func payByCheckout(t *testing.T, api, key string, sim *smpp.Sim, buyer, ref string, within time.Duration) string {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 3 * time.Second}
	deadline := time.Now().Add(within)
	id := ""
	seenMT := -1
	for time.Now().Before(deadline) {
		if id == "" {
			req, _ := http.NewRequest("POST", api+"/v1/checkouts", strings.NewReader(`{"amount":"1.00","reference":"`+ref+`"}`))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Idempotency-Key", ref) // a retry after a crash is the same checkout
			resp, err := c.Do(req)
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			var v struct{ ID string }
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			id = v.ID
		}
		resp, err := c.Get(api + "/checkout/" + id + "?lang=en")
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(b)
		m := regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`).FindStringSubmatch(page)
		switch {
		case strings.Contains(page, "Paid. Thank you."):
			return id
		case strings.Contains(page, `id="phone"`) && m != nil:
			seenMT = len(sim.MT(buyer))
			if r, err := c.PostForm(api+"/checkout/"+id+"/phone", url.Values{"csrf": {m[1]}, "phone": {buyer}}); err == nil {
				r.Body.Close()
			}
		case strings.Contains(page, `id="code"`) && m != nil:
			if seenMT < 0 {
				// The number was typed before a crash we did not see: any code sent since
				// this checkout began is ours (one checkout at a time per buyer).
				seenMT = 0
			}
			msgs := sim.MT(buyer)
			code := ""
			for _, msg := range msgs[min(seenMT, len(msgs)):] {
				if c := codeOnPhone.FindStringSubmatch(msg); c != nil {
					code = c[1]
				}
			}
			if code == "" {
				time.Sleep(50 * time.Millisecond) // the SMS is on its way (or resent after the restart)
				continue
			}
			if r, err := c.PostForm(api+"/checkout/"+id+"/code", url.Values{"csrf": {m[1]}, "code": {code}}); err == nil {
				r.Body.Close()
			}
		case strings.Contains(page, "refused"), strings.Contains(page, "expired"):
			t.Errorf("checkout %s ended: %s", ref, page)
			return ""
		default:
			time.Sleep(50 * time.Millisecond)
		}
	}
	return ""
}
