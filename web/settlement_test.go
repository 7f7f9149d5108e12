package web

import (
	"context"
	"net/http"
	"testing"

	"mpg/domain"
	"mpg/engine"
)

// A merchant links its IBAN over the API, is paid out, and reads the payout with the
// payments it covers: they add up to the payout plus the reserve kept. Another merchant's key
// finds no such payout.
func TestPayoutsOverTheAPI(t *testing.T) {
	f := newFixture(t, Config{RatePerS: 1000})
	var acc bankAccountView
	for _, bad := range []string{`{"iban":"FR7630006000011234567890188"}`, `{"iban":"FR7630006000011234567890189","bic":"AGRI"}`} {
		if resp := f.call("PUT", "/v1/settlement/bank-account", bad, map[string]string{"Content-Type": "application/json"}, nil); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: %d, want 400", bad, resp.StatusCode)
		}
	}
	if resp := f.call("PUT", "/v1/settlement/bank-account", `{"iban":"FR7630006000011234567890189","holder":"Corner Shop SARL"}`,
		map[string]string{"Content-Type": "application/json"}, &acc); resp.StatusCode != http.StatusOK || !acc.Linked || acc.IBAN != "FR76 **** 0189" {
		t.Fatalf("link: %d %+v", resp.StatusCode, acc)
	}
	for _, ref := range []string{"p1", "p2"} {
		var p engine.PaymentView
		f.call("POST", "/v1/payments", `{"msisdn":"`+alice+`","amount":"4.00","reference":"`+ref+`"}`, map[string]string{"Content-Type": "application/json"}, &p)
		if err := f.e.Handle(context.Background(), engine.Inbound{From: alice, To: "1234", Text: "YES " + f.lastCode()}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := f.e.Settle(context.Background(), "test")
	if err != nil || len(rep.Issued) != 1 {
		t.Fatalf("settle: %+v %v", rep, err)
	}
	var v payoutView
	if resp := f.call("GET", "/v1/payouts/"+rep.Issued[0].ID, "", nil, &v); resp.StatusCode != http.StatusOK {
		t.Fatalf("payout: %d", resp.StatusCode)
	}
	if v.Amount != "7.20" || v.Reserve != "0.80" || v.MovementsSum != "8.00" || len(v.Movements) != 2 || v.Movements[0].Payment == "" || !*v.Complete {
		t.Fatalf("payout %+v", v)
	}
	res, err := f.l.Submit(context.Background(), domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindMerchant, Owner: "OTHER", Name: "Other"}}})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := f.e.CreateAPIKey(context.Background(), "test", res.Accounts[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	f.key = other
	var e apiError
	resp := f.call("GET", "/v1/payouts/"+rep.Issued[0].ID, "", nil, &e)
	f.errorCode(resp, e, http.StatusNotFound, domain.CodeNotFound)
}
