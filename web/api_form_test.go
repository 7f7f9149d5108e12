package web

import (
	"net/http"
	"testing"

	"mpg/domain"
	"mpg/engine"
)

// A merchant's client may write the auth scheme in any case (RFC 9110).
func TestAPIAuthSchemeIsCaseInsensitive(t *testing.T) {
	f := newFixture(t, Config{})
	var out struct {
		Payments []engine.PaymentView `json:"payments"`
	}
	for _, scheme := range []string{"bearer ", "BEARER "} {
		resp := f.call("GET", "/v1/payments", "", map[string]string{"Authorization": scheme + f.key}, &out)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%q: %d", scheme, resp.StatusCode)
		}
	}
}

// A body is one JSON object with amounts as strings; anything else is refused before any step.
func TestAPIRefusesMalformedBodies(t *testing.T) {
	f := newFixture(t, Config{RatePerS: 1000})
	for _, body := range []string{
		`{"amount":"1.00","reference":"a"} {"amount":"9.00"}`,
		`{"amount":"1.00","reference":"a"}x`,
		`{"amount":1.00,"reference":"a"}`,
		`{"amount":null,"reference":"a"}`,
		`{"amount":"","reference":"a"}`,
	} {
		var e apiError
		f.errorCode(f.call("POST", "/v1/checkouts", body, nil, &e), e, http.StatusBadRequest, domain.CodeInvalidRequest)
	}
	var e apiError
	resp := f.call("POST", "/v1/checkouts", `{"amount":"1.00","reference":"a"}`, map[string]string{"Content-Type": "text/plain"}, &e)
	f.errorCode(resp, e, http.StatusUnsupportedMediaType, codeUnsupportedMedia)
	var v engine.PaymentView
	if resp := f.call("POST", "/v1/checkouts", `{"amount":"1.00","reference":"a"}`,
		map[string]string{"Content-Type": "application/json; charset=utf-8"}, &v); resp.StatusCode != http.StatusCreated {
		t.Fatalf("json body: %d", resp.StatusCode)
	}
}

// A refund's amount is a decimal string or absent (all that is left): never null or "".
func TestAPIRefundAmountNullOrEmptyIsRefused(t *testing.T) {
	f := newFixture(t, Config{RatePerS: 1000})
	var p engine.PaymentView
	f.call("POST", "/v1/payments", `{"msisdn":"`+alice+`","amount":"2.00","reference":"r"}`, nil, &p)
	if err := f.e.Handle(t.Context(), engine.Inbound{From: alice, To: "1234", Text: "YES " + f.lastCode()}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"amount":null}`, `{"amount":""}`} {
		var e apiError
		f.errorCode(f.call("POST", "/v1/payments/"+p.ID+"/refunds", body, nil, &e), e, http.StatusBadRequest, domain.CodeInvalidRequest)
	}
	var out struct {
		Refund engine.RefundView `json:"refund"`
	}
	if resp := f.call("POST", "/v1/payments/"+p.ID+"/refunds", `{}`, nil, &out); resp.StatusCode != http.StatusCreated || out.Refund.Amount != "2.00" {
		t.Fatalf("refund of all: %d %+v", resp.StatusCode, out.Refund)
	}
}

// Under /v1 a wrong method is the API's 405 with Allow, an unknown path its 404.
func TestAPIUnroutedAnswersJSON(t *testing.T) {
	f := newFixture(t, Config{})
	var e apiError
	resp := f.call("DELETE", "/v1/payments", "", nil, &e)
	f.errorCode(resp, e, http.StatusMethodNotAllowed, codeMethodNotAllowed)
	if got := resp.Header.Get("Allow"); got != "GET, POST" {
		t.Fatalf("Allow %q", got)
	}
	e = apiError{}
	f.errorCode(f.call("GET", "/v1/nothing", "", nil, &e), e, http.StatusNotFound, domain.CodeNotFound)
}

// The last page of a reconciliation has no next_cursor, even when it is full.
func TestAPILastPageHasNoCursor(t *testing.T) {
	f := newFixture(t, Config{RatePerS: 1000})
	for i := 0; i < 4; i++ {
		f.call("POST", "/v1/checkouts", `{"amount":"1.00","reference":"a"}`, nil, nil)
	}
	var out struct {
		Payments   []engine.PaymentView `json:"payments"`
		NextCursor *string              `json:"next_cursor"`
	}
	f.call("GET", "/v1/payments?limit=2", "", nil, &out)
	if out.NextCursor == nil || len(out.Payments) != 2 {
		t.Fatalf("first page: %d, cursor %v", len(out.Payments), out.NextCursor)
	}
	cursor := *out.NextCursor
	out.NextCursor = nil
	f.call("GET", "/v1/payments?limit=2&cursor="+cursor, "", nil, &out)
	if out.NextCursor != nil || len(out.Payments) != 2 {
		t.Fatalf("last page: %d, cursor %q", len(out.Payments), *out.NextCursor)
	}
}
