package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// concrete is a route's path with its wildcards filled.
func concrete(path string) string { return strings.ReplaceAll(path, "{name}", "activity.svg") }

// TestEveryRouteIsGuarded walks every route of the console and the portal: refused without
// a session (a page goes to its sign-in form, an action is 401), refused to a role below
// it and to the other kind of session (403), and every action refused with a missing or
// forged CSRF token or a foreign Origin, whoever sends it.
func TestEveryRouteIsGuarded(t *testing.T) {
	f := newFixture(t, nil)
	people := map[string]*browser{"viewer": f.signedIn("vera"), "operator": f.signedIn("olga"), "admin": f.signedIn("adam"), "merchant": f.merchant(f.shopKey)}
	may := map[access][]string{
		needViewer: {"viewer", "operator", "admin"}, needOperator: {"operator", "admin"}, needAdmin: {"admin"},
		needMerchant: {"merchant"}, needSession: {"viewer", "operator", "admin", "merchant"},
	}
	anon := f.browser()
	checked := 0
	for _, rt := range f.s.routes() {
		if rt.need == public {
			continue
		}
		path := concrete(rt.path)
		t.Run(rt.method+" "+path, func(t *testing.T) {
			checked++
			if rt.method == "GET" {
				code, _, h := anon.get(path)
				want := "/login"
				if rt.need == needMerchant {
					want = "/portal/login"
				}
				if code != http.StatusSeeOther || h.Get("Location") != want {
					t.Fatalf("without a session: %d to %q", code, h.Get("Location"))
				}
			} else if code, _, _ := anon.postWith(path, nil, "forged", f.srv.URL); code != http.StatusUnauthorized {
				t.Fatalf("without a session: %d", code)
			}
			for who, b := range people {
				ok := false
				for _, w := range may[rt.need] {
					ok = ok || w == who
				}
				guardedFor(t, f, b, rt, path, who, ok)
			}
		})
	}
	if checked < 19 {
		t.Fatalf("only %d routes checked", checked)
	}
}

// guardedFor checks one route for one signed-in person.
func guardedFor(t *testing.T, f *fixture, b *browser, rt route, path, who string, ok bool) {
	t.Helper()
	token := b.csrf
	if rt.method == "GET" {
		code, _, h := b.get(path)
		if !ok && code != http.StatusForbidden || ok && (code == http.StatusForbidden || code >= 500 || code == http.StatusSeeOther && strings.Contains(h.Get("Location"), "login")) {
			t.Fatalf("%s: GET %d (allowed %v)", who, code, ok)
		}
		b.csrf = token
		return
	}
	for name, try := range map[string]struct{ token, origin string }{
		"no token": {"", f.srv.URL}, "forged token": {strings.Repeat("A", 43), f.srv.URL},
		"another session's token": {f.signedIn("adam").csrf, f.srv.URL}, "foreign origin": {token, "https://evil.example"},
	} {
		if code, _, _ := b.postWith(path, url.Values{"id": {"fc1"}, "decision": {"release"}}, try.token, try.origin); code != http.StatusForbidden {
			t.Fatalf("%s, %s: %d", who, name, code)
		}
	}
	if !ok {
		if code, _, _ := b.postWith(path, url.Values{"id": {"fc1"}, "decision": {"release"}}, token, f.srv.URL); code != http.StatusForbidden {
			t.Fatalf("%s with a valid token: %d, want 403", who, code)
		}
	}
	if got := f.in.decisions(); len(got) != 0 {
		t.Fatalf("a refused request decided: %v", got)
	}
}

// TestSecurityHeadersAndCookie: the policy forbids scripts, frames and foreign forms; the
// session cookie is HttpOnly, SameSite=Strict, and Secure when the console says so.
func TestSecurityHeadersAndCookie(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.SecureCookies = true })
	b := f.browser()
	_, _, h := b.get("/login")
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "img-src 'self' data:"} {
		if !strings.Contains(csp, want) {
			t.Fatalf("CSP %q lacks %q", csp, want)
		}
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", h)
	}
	v := url.Values{"name": {"olga"}, "password": {password}, "csrf": {b.csrf}}
	req, _ := http.NewRequest("POST", f.srv.URL+"/login", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	u, _ := url.Parse(f.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			found = true
			if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie %+v", c)
			}
		}
	}
	if !found {
		t.Fatalf("no session cookie: %d", resp.StatusCode)
	}
}

// TestLoginCSRF: the sign-in form is refused without the token bound to its own cookie.
func TestLoginCSRF(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	if code, _, _ := b.postWith("/login", url.Values{"name": {"olga"}, "password": {password}}, "", f.srv.URL); code != http.StatusForbidden {
		t.Fatalf("no token: %d", code)
	}
	other := f.browser()
	other.get("/login")
	b.get("/login")
	if code, _, _ := b.postWith("/login", url.Values{"name": {"olga"}, "password": {password}}, other.csrf, f.srv.URL); code != http.StatusForbidden {
		t.Fatalf("another browser's token: %d", code)
	}
	if code, _, _ := b.postWith("/login", url.Values{"name": {"olga"}, "password": {password}}, b.csrf, "https://evil.example"); code != http.StatusForbidden {
		t.Fatalf("foreign origin: %d", code)
	}
	if code, _ := b.login("olga", password); code != http.StatusSeeOther {
		t.Fatalf("the real form: %d", code)
	}
}

// TestLockoutAfterFiveWrongPasswords: the sixth try, even with the right password, is
// refused for 15 minutes; after them the right password works.
func TestLockoutAfterFiveWrongPasswords(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	for i := range 5 {
		if code, _ := b.login("olga", "not the password"); code != http.StatusUnauthorized {
			t.Fatalf("try %d: %d", i, code)
		}
	}
	if code, body := b.login("olga", password); code != http.StatusUnauthorized || !strings.Contains(body, "15 minutes") {
		t.Fatalf("locked: %d %s", code, body)
	}
	f.advance(16 * time.Minute)
	if code, _ := b.login("olga", password); code != http.StatusSeeOther {
		t.Fatalf("after the lockout: %d", code)
	}
}

// TestLoginsRateLimitedPerAddress: beyond the address's budget, sign-ins are refused
// before any password is checked.
func TestLoginsRateLimitedPerAddress(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.LoginsPerMinute = 3 })
	b := f.browser()
	for range 3 {
		b.login("nobody", "whatever password")
	}
	if code, _ := b.login("olga", password); code != http.StatusTooManyRequests {
		t.Fatalf("4th sign-in in a minute: %d", code)
	}
	f.advance(time.Minute)
	if code, _ := b.login("olga", password); code != http.StatusSeeOther {
		t.Fatalf("a minute later: %d", code)
	}
}

// TestSessionsExpire: idle for longer than the idle limit, or older than the absolute one
// however busy, a session is over; logging out ends it; a disabled user is out at once.
func TestSessionsExpire(t *testing.T) {
	f := newFixture(t, nil)
	b := f.signedIn("vera")
	f.advance(29 * time.Minute)
	if code, _, _ := b.get("/dashboard"); code != http.StatusOK {
		t.Fatalf("29 minutes idle: %d", code)
	}
	f.advance(31 * time.Minute)
	if code, _, h := b.get("/dashboard"); code != http.StatusSeeOther || h.Get("Location") != "/login" {
		t.Fatalf("31 minutes idle: %d", code)
	}
	b = f.signedIn("vera")
	for range 16 {
		f.advance(29 * time.Minute)
		if code, _, _ := b.get("/dashboard"); code != http.StatusOK {
			t.Fatalf("busy: %d", code)
		}
	}
	f.advance(29 * time.Minute) // 8 h 12 min after sign-in
	if code, _, _ := b.get("/dashboard"); code != http.StatusSeeOther {
		t.Fatalf("after 8 hours: %d", code)
	}
	b = f.signedIn("vera")
	b.post("/logout", nil)
	if code, _, _ := b.get("/dashboard"); code != http.StatusSeeOther {
		t.Fatalf("after logout: %d", code)
	}
	b = f.signedIn("vera")
	admin := f.signedIn("adam")
	if code, _, _ := admin.post("/users/disable", url.Values{"name": {"vera"}}); code != http.StatusSeeOther {
		t.Fatalf("disable: %d", code)
	}
	if code, _, _ := b.get("/dashboard"); code != http.StatusSeeOther {
		t.Fatalf("disabled user: %d", code)
	}
}

// TestMerchantSeesOnlyItsOwn: a merchant's session reaches none of the operator's pages and
// none of another merchant's payments, to read or to refund.
func TestMerchantSeesOnlyItsOwn(t *testing.T) {
	f := newFixture(t, nil)
	m := f.merchant(f.shopKey)
	if code, body, _ := m.get("/portal"); code != http.StatusOK || !strings.Contains(body, "12.50") || strings.Contains(body, "3.00 EUR</td>") {
		t.Fatalf("portal: %d", code)
	}
	if code, _, _ := m.get("/portal/payment?id=" + f.shopPay); code != http.StatusOK {
		t.Fatalf("its own payment: %d", code)
	}
	if code, body, _ := m.get("/portal/payment?id=" + f.shop2Pay); code != http.StatusNotFound || strings.Contains(body, f.shop2Pay) {
		t.Fatalf("another merchant's payment: %d", code)
	}
	m.get("/portal")
	if code, _, _ := m.post("/portal/refund", url.Values{"id": {f.shop2Pay}}); code == http.StatusSeeOther {
		t.Fatal("refunded another merchant's payment")
	}
	if p, _ := f.e.GetPayment(0, f.shop2Pay); p.Refunded != 0 {
		t.Fatalf("another merchant's payment refunded: %+v", p)
	}
	for _, path := range []string{"/dashboard", "/fraud", "/payment?id=" + f.shopPay, "/subscriber?msisdn=" + url.QueryEscape(alice), "/users"} {
		if code, _, _ := m.get(path); code != http.StatusForbidden {
			t.Fatalf("merchant on %s: %d", path, code)
		}
	}
	if code := f.browser().portalLogin("mpg_00000000_notakey"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong key: %d", code)
	}
	// The key revoked, its session is over at once.
	if err := f.e.RevokeAPIKey(context.Background(), "test", f.e.AccountsOf("SHOP42")[0].ID, keyID(f.shopKey)); err != nil {
		t.Fatal(err)
	}
	if code, _, h := m.get("/portal"); code != http.StatusSeeOther || h.Get("Location") != "/portal/login" {
		t.Fatalf("after the key was revoked: %d", code)
	}
}
