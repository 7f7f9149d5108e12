package web

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"mpg/engine"
)

// The offers box beside the number is unticked; ticked, it becomes a consent with the
// box's wording once the code proves the number; unticked, nothing is recorded.
func TestCheckoutOffersConsent(t *testing.T) {
	f := newFixture(t, Config{})
	pay := func(ref, lang string, ticked bool) {
		var v engine.PaymentView
		f.call("POST", "/v1/checkouts", `{"amount":"1.00","reference":"`+ref+`"}`, nil, &v)
		jar, _ := cookiejar.New(nil)
		buyer := &http.Client{Jar: jar}
		html := get(t, buyer, f.srv.URL+"/checkout/"+v.ID+"?lang="+lang).body
		box := regexp.MustCompile(`<input id="offers"[^>]*>`).FindString(html)
		if box == "" || strings.Contains(box, "checked") {
			t.Fatalf("offers box %q", box)
		}
		token := regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`).FindStringSubmatch(html)[1]
		form := url.Values{"csrf": {token}, "phone": {"0612345678"}, "lang": {lang}}
		if ticked {
			form.Set("offers", "yes")
		}
		postForm(t, buyer, f.srv.URL+"/checkout/"+v.ID+"/phone", form)
		if cs, _ := f.e.Consents(alice); ticked && len(cs) != 0 {
			t.Fatalf("recorded before the code: %+v", cs)
		}
		r := postForm(t, buyer, f.srv.URL+"/checkout/"+v.ID+"/code", url.Values{"csrf": {token}, "code": {f.lastCode()}, "lang": {lang}})
		if r.StatusCode != 200 {
			t.Fatalf("code: %d", r.StatusCode)
		}
	}
	pay("no-box", "en", false)
	if cs, _ := f.e.Consents(alice); len(cs) != 0 {
		t.Fatalf("unticked box recorded: %+v", cs)
	}
	pay("box", "fr", true)
	cs, err := f.e.Consents(alice)
	if err != nil || len(cs) != 1 || !cs[0].Granted || cs[0].Channel != engine.ConsentCheckout ||
		cs[0].Text != texts["fr"]["offers_label"] || cs[0].TextID != "checkout-offers-v1:fr" {
		t.Fatalf("%+v %v", cs, err)
	}
}
