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

// browser is a buyer's browser on a checkout page: its own cookies, redirects not followed.
type browser struct {
	t     *testing.T
	c     *http.Client
	base  string
	token string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	page := get(t, b.c, base+"?lang=en")
	b.token = regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`).FindStringSubmatch(page.body)[1]
	return b
}

// post submits a form of the page and checks it is answered by a redirect to the page.
func (b *browser) post(step string, v url.Values) {
	b.t.Helper()
	v.Set("csrf", b.token)
	v.Set("lang", "en")
	r := postForm(b.t, b.c, b.base+"/"+step, v)
	if r.StatusCode != http.StatusSeeOther || !strings.HasSuffix(r.Header.Get("Location"), "?lang=en") {
		b.t.Fatalf("post %s: %d %q", step, r.StatusCode, r.Header.Get("Location"))
	}
}

func (b *browser) page() string { return get(b.t, b.c, b.base+"?lang=en").body }

// Every post of the checkout is answered 303, refusals too: a reload shows the page again and
// never submits the code a second time.
func TestCheckoutPostsRedirectRefusalsToo(t *testing.T) {
	f := newFixture(t, Config{})
	var v engine.PaymentView
	f.call("POST", "/v1/checkouts", `{"amount":"3.00","reference":"prg"}`, nil, &v)
	b := newBrowser(t, f.srv.URL+"/checkout/"+v.ID)
	b.post("phone", url.Values{"phone": {"0612345678"}})
	b.post("code", url.Values{"code": {"000000"}})
	if html := b.page(); !strings.Contains(html, "Wrong code. 2 tries left.") {
		t.Fatalf("refusal not shown after the redirect: %s", html)
	}
	if html := b.page(); strings.Contains(html, "Wrong code") {
		t.Fatalf("reload shows the refusal again: %s", html)
	}
	b.post("code", url.Values{"code": {"000001"}})
	if html := b.page(); !strings.Contains(html, "Wrong code. 1 try left.") && !strings.Contains(html, "Wrong code. 1 tries left.") {
		t.Fatalf("second wrong code: %s", html)
	}
	b.post("code", url.Values{"code": {f.lastCode()}})
	if html := b.page(); !strings.Contains(html, "Paid. Thank you.") {
		t.Fatalf("paid: %s", html)
	}
}

// The number the code went to is shown, masked, only to the browser that typed it; another
// browser opening the link while the code is awaited does not see it.
func TestCheckoutShowsNumberOnlyToItsBrowser(t *testing.T) {
	f := newFixture(t, Config{})
	var v engine.PaymentView
	f.call("POST", "/v1/checkouts", `{"amount":"3.00","reference":"mask"}`, nil, &v)
	base := f.srv.URL + "/checkout/" + v.ID
	buyer := newBrowser(t, base)
	buyer.post("phone", url.Values{"phone": {"0612345678"}})
	if html := buyer.page(); !strings.Contains(html, "336****678") {
		t.Fatalf("the buyer does not see his number: %s", html)
	}
	other := newBrowser(t, base)
	for _, html := range []string{other.page(), get(t, http.DefaultClient, base).body} {
		if strings.Contains(html, "****") || !strings.Contains(html, "We texted a code to the number typed") {
			t.Fatalf("number shown to another browser: %s", html)
		}
	}
}
