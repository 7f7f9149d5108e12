package web

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mpg/domain"
	"mpg/engine"
)

// TestCheckoutShowsTheDiscountBeforeTheCode: a merchant's promotion made through the API
// applies to its checkout; the page that asks for the code shows the offer and what the
// buyer will pay, and that is what is paid.
func TestCheckoutShowsTheDiscountBeforeTheCode(t *testing.T) {
	f := newFixture(t, Config{})
	float, _ := f.l.System(domain.KindFloat, "EUR")
	if _, err := f.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: float.ID,
		Credit: f.shop, Amount: 1000, Code: domain.CodeTopup}}}); err != nil { // takings to fund the budget
		t.Fatal(err)
	}
	var made promotionView
	f.call("POST", "/v1/promotions", `{"code":"WEB10","name":"Web ten","percent":10,"budget":"5.00"}`, nil, &made)
	if made.Code != "WEB10" || made.State != "running" || made.BudgetLeft != "5.00" {
		t.Fatalf("made %+v", made)
	}
	var v engine.PaymentView
	f.call("POST", "/v1/checkouts", `{"amount":"4.00","reference":"offer"}`, nil, &v)
	b := newBrowser(t, f.srv.URL+"/checkout/"+v.ID)
	if html := b.page(); strings.Contains(html, "WEB10") {
		t.Fatalf("an offer before the number is known: %s", html)
	}
	b.post("phone", url.Values{"phone": {"0612345678"}})
	html := b.page()
	if !strings.Contains(html, "Offer WEB10: 0.40 EUR off") || !strings.Contains(html, "Pay 3.60 EUR") {
		t.Fatalf("the code page does not show the offer: %s", html)
	}
	b.post("code", url.Values{"code": {f.lastCode()}})
	var paid engine.PaymentView
	f.call("GET", "/v1/payments/"+v.ID, "", nil, &paid)
	if paid.State != "completed" || paid.Amount != "3.60" || paid.Discount == nil || paid.Discount.Price != "4.00" {
		t.Fatalf("paid %+v %+v", paid, paid.Discount)
	}
	csvReq, _ := http.NewRequest("GET", f.srv.URL+"/v1/payments?format=csv", nil)
	csvReq.Header.Set("Authorization", "Bearer "+f.key)
	resp, err := http.DefaultClient.Do(csvReq)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if len(rows) != 2 || strings.Join(rows[1][7:8], "") != "3.60" || strings.Join(rows[1][13:15], " ") != "WEB10 0.40" {
		t.Fatalf("the reconciliation: %q", rows)
	}
	var list struct{ Data []promotionView }
	f.call("GET", "/v1/promotions", "", nil, &list)
	if len(list.Data) != 1 || list.Data[0].BudgetLeft != "4.60" {
		t.Fatalf("list %+v", list)
	}
}
