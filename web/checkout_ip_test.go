package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"mpg/engine"
)

// The checkout page hands the engine the browser's address, the host part of the
// connection's RemoteAddr, for the dispute evidence; a forwarded header is not believed
// (there is no trusted-proxy setting).
func TestCheckoutPassesTheBrowserAddress(t *testing.T) {
	f := newFixture(t, Config{})
	var v engine.PaymentView
	f.call("POST", "/v1/checkouts", `{"amount":"8.00","reference":"web-ip"}`, nil, &v)
	h := f.srv.Config.Handler
	token := strings.Repeat("ab", 16)
	post := func(step string, form url.Values) {
		t.Helper()
		form.Set("csrf", token)
		req := httptest.NewRequest("POST", "/checkout/"+v.ID+"/"+step, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.AddCookie(&http.Cookie{Name: csrfCookie, Value: token})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther && rec.Code != http.StatusFound {
			t.Fatalf("%s: %d %s", step, rec.Code, rec.Body)
		}
	}
	post("phone", url.Values{"phone": {"0612345678"}})
	post("code", url.Values{"code": {f.lastCode()}})
	p, err := f.e.GetPayment(0, v.ID)
	if err != nil || p.Checkout == nil || p.Checkout.PhoneAt == 0 || p.Checkout.CodeAt == 0 {
		t.Fatalf("payment %+v %v", p, err)
	}
	if got := f.l.Unseal(p.Checkout.PhoneIP); got != "192.0.2.1" {
		t.Fatalf("number typed from %q", got)
	}
	if got := f.l.Unseal(p.Checkout.CodeIP); got != "192.0.2.1" {
		t.Fatalf("code typed from %q", got)
	}
}
