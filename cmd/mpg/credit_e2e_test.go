package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestCreditEndToEnd: an operator grants a line through the socket; the subscriber
// authorises by SMS over SMPP; the merchant captures part through the API; the subscriber
// reads his statement and repays by SMS.
func TestCreditEndToEnd(t *testing.T) {
	const phone = "+33612345678"
	db, sim, cfg := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop"})
	cfg.Merchant.Addr = "127.0.0.1:0"
	_, d := serveDaemon(t, db, cfg)
	text := texter(t, sim, phone)
	text("REG 1234 Alice", "Welcome Alice")
	if _, err := run(t, "--db", db, "credit", "grant", phone, "100"); err == nil {
		t.Fatal("a tier 1 purse got a credit line")
	}
	mustRun(t, "--db", db, "account", "tier", phone, "2")
	mustRun(t, "--db", db, "account", "topup", phone, "50")
	mustRun(t, "--db", db, "credit", "grant", phone, "100")
	text("CREDIT SHOP42 40 1234", "Authorised 40.00 EUR at Corner Shop on your credit line. Available 60.00 EUR")
	key := strings.Fields(mustRun(t, "--db", db, "merchant", "key", "create", "SHOP42"))[0]
	api := "http://" + d.merchantAddr
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, api+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, list := call("GET", "/v1/payments", "")
	id := regexp.MustCompile(`"id": "([0-9a-f]{32})"`).FindStringSubmatch(list)[1]
	n := len(sim.MT(phone))
	if st, body := call("POST", "/v1/payments/"+id+"/capture", `{"amount":"25"}`); st != 200 || !strings.Contains(body, `"state": "completed"`) {
		t.Fatalf("capture: %d %s", st, body)
	}
	waitText(t, sim, phone, n, "Corner Shop charged 25.00 EUR to your credit line. Available 75.00 EUR")
	if st, _ := call("POST", "/v1/payments/"+id+"/void", ""); st != 409 {
		t.Fatalf("void after capture: %d", st)
	}
	text("CREDIT 1234", "limit 100.00 EUR, used 25.00 EUR, held 0.00 EUR, available 75.00 EUR")
	text("REPAY 10 1234", "Repaid 10.00 EUR on your credit line: 15.00 EUR still owed, available 85.00 EUR. Balance 40.00 EUR")
	if out := mustRun(t, "--db", db, "credit", "show", phone); !strings.Contains(out, "owed 15.00 EUR") {
		t.Fatalf("show: %s", out)
	}
}
