package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mpg/domain"
)

// TestOperatorActionsAreAuditedWithTheirAuthor: a fraud release, an unlock and a top-up
// from the console, each named console:<user> (the engine's audit trail, or the fraud
// queue's own record).
func TestOperatorActionsAreAuditedWithTheirAuthor(t *testing.T) {
	f := newFixture(t, nil)
	b := f.signedIn("olga")
	if _, body, _ := b.get("/fraud"); !strings.Contains(body, "velocity_1h") || !strings.Contains(body, `id="release-fc1"`) {
		t.Fatalf("fraud queue: %s", body)
	}
	if code, _, h := b.post("/fraud/decide", url.Values{"id": {"fc1"}, "decision": {"release"}}); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/fraud?done=released") {
		t.Fatalf("release: %d %v", code, h)
	}
	if got := f.in.decisions(); len(got) != 1 || got[0] != "console:olga fc1 release" {
		t.Fatalf("decisions %v", got)
	}
	b.get("/subscriber?msisdn=0612345678")
	for _, v := range []url.Values{{"action": {"unlock"}}, {"action": {"block"}}, {"action": {"unblock"}}, {"action": {"topup"}, "amount": {"2.50"}}} {
		v.Set("msisdn", "06 12 34 56 78")
		if code, body, _ := b.post("/subscriber/action", v); code != http.StatusSeeOther {
			t.Fatalf("%v: %d %s", v, code, body)
		}
	}
	audit, err := f.l.AuditLog(10, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{} // the newest of each action
	for _, a := range audit {
		if seen[a.Action] == "" {
			seen[a.Action] = a.Actor
		}
	}
	if seen["pin unlock"] != "console:olga" || seen["account topup"] != "console:olga" || seen["account block"] != "console:olga" || seen["account unblock"] != "console:olga" {
		t.Fatalf("audit %+v", seen)
	}
	if _, body, _ := b.get("/subscriber?msisdn=0612345678"); !strings.Contains(body, "37.00 EUR") {
		t.Fatalf("balance after top-up (50 - 12.50 - 3 + 2.50 = 37): %s", body)
	}
}

// TestViewerSeesNumbersMaskedAndNoActions: the viewer's payment and subscriber pages mask
// the number and offer no form that acts; the operator's show it whole.
func TestViewerSeesNumbersMaskedAndNoActions(t *testing.T) {
	f := newFixture(t, nil)
	v := f.signedIn("vera")
	_, body, _ := v.get("/payment?id=" + f.shopPay)
	if strings.Contains(body, esc(alice)) || !strings.Contains(body, esc(domain.Mask(alice))) || strings.Contains(body, "/payment/reverse") {
		t.Fatalf("viewer's payment page: %s", body)
	}
	if !strings.Contains(body, "12.50") || !strings.Contains(body, "Corner Shop") {
		t.Fatalf("payment page: %s", body)
	}
	if _, body, _ = v.get("/subscriber?msisdn=0612345678"); strings.Contains(body, esc(alice)) || strings.Contains(body, "/subscriber/action") {
		t.Fatalf("viewer's subscriber page: %s", body)
	}
	if _, body, _ = v.get("/fraud"); strings.Contains(body, "/fraud/decide") {
		t.Fatal("viewer's fraud queue offers decisions")
	}
	o := f.signedIn("olga")
	if _, body, _ = o.get("/payment?id=" + f.shopPay); !strings.Contains(body, esc(alice)) || !strings.Contains(body, "/payment/reverse") {
		t.Fatalf("operator's payment page: %s", body)
	}
	if code, _, _ := o.post("/payment/reverse", url.Values{"id": {f.shopPay}}); code != http.StatusSeeOther {
		t.Fatalf("reverse: %d", code)
	}
	if p, _ := f.e.GetPayment(0, f.shopPay); p.Refunded != p.Amount {
		t.Fatalf("not reversed: %+v", p)
	}
}

// TestDashboardAndCharts: figures, segments, outbox and webhook health, and the charts as
// SVG from the authenticated route.
func TestDashboardAndCharts(t *testing.T) {
	f := newFixture(t, nil)
	b := f.signedIn("vera")
	_, body, _ := b.get("/dashboard?period=7d")
	for _, want := range []string{"1280", "25634.50 EUR", "95.2 %", "insufficient_funds", "Corner Shop", "champions", "&#43;11.3 %", "Outbox", "/chart/activity.svg?period=7d"} {
		if !strings.Contains(body, want) {
			t.Fatalf("dashboard lacks %q", want)
		}
	}
	for _, name := range []string{"activity.svg", "refusals.svg"} {
		code, svg, h := b.get("/chart/" + name + "?period=30d")
		if code != http.StatusOK || h.Get("Content-Type") != "image/svg+xml" || !strings.Contains(svg, "<svg") {
			t.Fatalf("%s: %d %s", name, code, h.Get("Content-Type"))
		}
	}
}

// TestUsersAddedFromTheConsole: an admin adds an operator who can then sign in.
func TestUsersAddedFromTheConsole(t *testing.T) {
	f := newFixture(t, nil)
	a := f.signedIn("adam")
	a.get("/users")
	if code, _, _ := a.post("/users/add", url.Values{"name": {"nina"}, "role": {"operator"}, "password": {"nina's long password"}}); code != http.StatusSeeOther {
		t.Fatalf("add: %d", code)
	}
	if _, body, _ := a.get("/users"); !strings.Contains(body, "nina") || strings.Contains(body, "argon2") {
		t.Fatalf("users page: %s", body)
	}
	if code, _ := f.browser().login("nina", "nina's long password"); code != http.StatusSeeOther {
		t.Fatalf("nina's sign-in: %d", code)
	}
}

// TestPortalRefundsPromotionsAndFrench: a merchant refunds its own payment, creates and
// ends a promotion, and reads the portal in French by Accept-Language or ?lang=.
func TestPortalRefundsPromotionsAndFrench(t *testing.T) {
	f := newFixture(t, nil)
	m := f.merchant(f.shopKey)
	m.get("/portal/payment?id=" + f.shopPay)
	if code, body, _ := m.post("/portal/refund", url.Values{"id": {f.shopPay}, "amount": {"2"}}); code != http.StatusSeeOther {
		t.Fatalf("refund: %d %s", code, body)
	}
	if p, _ := f.e.GetPayment(0, f.shopPay); p.Refunded != 200 {
		t.Fatalf("refunded %d", p.Refunded)
	}
	m.get("/portal/promotions")
	if code, body, _ := m.post("/portal/promotions/create", url.Values{"code": {"WINTER"}, "name": {"Winter"}, "percent": {"10"}, "budget": {"5"}}); code != http.StatusSeeOther {
		t.Fatalf("create: %d %s", code, body)
	}
	if _, body, _ := m.get("/portal/promotions"); !strings.Contains(body, "WINTER") {
		t.Fatal("the promotion is not listed")
	}
	if code, _, _ := m.post("/portal/promotions/end", url.Values{"code": {"WINTER"}}); code != http.StatusSeeOther {
		t.Fatalf("end: %d", code)
	}
	if _, body, _ := m.get("/portal?lang=fr"); !strings.Contains(body, "Encaissements") || !strings.Contains(body, "reversement") {
		t.Fatalf("French portal: %s", body)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/portal/login", nil)
	req.Header.Set("Accept-Language", "fr-FR,fr;q=0.9,en;q=0.5")
	if _, body, _ := f.browser().do(req); !strings.Contains(body, "Clé d&#39;API") {
		t.Fatalf("French sign-in: %s", body)
	}
}

// esc is text as the pages write it (html/template writes + as &#43;).
func esc(s string) string { return strings.ReplaceAll(s, "+", "&#43;") }
