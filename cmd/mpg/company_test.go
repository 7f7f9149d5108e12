package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"mpg/smpp"
)

// TestCompanyAccountEndToEnd: an operator opens ACME and authorises an employee through
// the daemon's socket; the employee pays by SMS over SMPP on the company's account; the
// company, with its own key, lists and changes its employees and exports its payments; a
// merchant's key cannot.
func TestCompanyAccountEndToEnd(t *testing.T) {
	const emp = "+33612345678"
	db, sim, cfg := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop"})
	cfg.Merchant.Addr = "127.0.0.1:0"
	l, d := serveDaemon(t, db, cfg)
	ctx := context.Background()
	text := func(msg, want string) {
		t.Helper()
		n := len(sim.MT(emp))
		if st, err := sim.SendMO(ctx, emp, "1234", msg); err != nil || st != smpp.StatusOK {
			t.Fatalf("%q: %v %v", msg, st, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		got, _ := sim.WaitMT(wctx, emp, n+1)
		if len(got) <= n || !strings.Contains(got[len(got)-1], want) {
			t.Fatalf("%q: replies %q, want %q", msg, got[min(n, len(got)):], want)
		}
	}
	text("REG 1234 Alice", "Welcome Alice")
	mustRun(t, "--db", db, "company", "add", "ACME", "--name", "Acme SA")
	mustRun(t, "--db", db, "company", "topup", "ACME", "100")
	mustRun(t, "--db", db, "company", "employee", "add", "ACME", "0612345678", "--per-payment", "20", "--monthly", "30", "--merchants", "SHOP42")
	text("PAY SHOP42 12.50 ACME 1234", "Paid 12.50 EUR to Corner Shop on Acme SA's account")
	text("PAY SHOP42 18 ACME 1234", "Above your limit on Acme SA's account: 17.50 EUR left")
	if out := mustRun(t, "--db", db, "company", "employee", "list", "ACME"); !strings.Contains(out, "12.50 EUR") {
		t.Fatalf("employee list: %s", out)
	}
	if out := mustRun(t, "--db", db, "company", "payments", "ACME", "-o", "csv"); !strings.Contains(out, emp+",SHOP42,12.50,0.00,EUR,ACME,sms") {
		t.Fatalf("payments csv: %s", out)
	}

	api := "http://" + d.merchantAddr
	coKey := strings.Fields(mustRun(t, "--db", db, "company", "key", "ACME"))[0]
	shopKey := strings.Fields(mustRun(t, "--db", db, "merchant", "key", "create", "SHOP42"))[0]
	call := func(key, method, path, body string) (int, string) {
		t.Helper()
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
	if st, body := call(coKey, "GET", "/v1/company/payments?format=csv&employee=%2B33612345678", ""); st != 200 || !strings.Contains(body, "12.50") {
		t.Fatalf("company payments: %d %s", st, body)
	}
	if st, _ := call(shopKey, "GET", "/v1/company/employees", ""); st != 401 {
		t.Fatalf("a merchant key on the company API: %d", st)
	}
	if st, _ := call(coKey, "GET", "/v1/payments", ""); st != 401 {
		t.Fatalf("a company key on the merchant API: %d", st)
	}
	if st, body := call(coKey, "PUT", "/v1/company/employees/%2B33612345678", `{"per_payment":"50","monthly":"100"}`); st != 200 || !strings.Contains(body, `"spent": "12.50"`) {
		t.Fatalf("put employee: %d %s", st, body)
	}
	text("PAY SHOP42 18.00 ACME 1234", "Paid 18.00 EUR to Corner Shop on Acme SA's account")
	if st, _ := call(coKey, "DELETE", "/v1/company/employees/%2B33612345678", ""); st != 204 {
		t.Fatalf("delete employee: %d", st)
	}
	// Removed: the same SMS form now pays from her own purse, which is empty.
	text("PAY SHOP42 1 ACME 1234", "Not enough money")
	if co := l.AccountsOf("ACME")[0]; co.Available() != 10000-1250-1800 {
		t.Fatalf("ACME %d", co.Available())
	}
}
