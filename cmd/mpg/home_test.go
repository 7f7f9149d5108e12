package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOperatorListener: the daemon's operator listener answers "/" with what the daemon is,
// its listeners and links to its endpoints, each of which answers; /metrics has the Go
// runtime and process collectors beside mpg's own; unknown paths stay 404.
func TestOperatorListener(t *testing.T) {
	db, _, cfg := testSetup(t, nil)
	cfg.Merchant.Addr = "127.0.0.1:0"
	_, d := serveDaemon(t, db, cfg)
	base := "http://" + d.httpAddr
	code, page := httpGet(t, base+"/")
	if code != http.StatusOK {
		t.Fatalf("/: %d\n%s", code, page)
	}
	for _, want := range []string{"mpg " + version, "Operator endpoints (this page): " + d.httpAddr,
		"SMSC (SMPP): " + cfg.SMPP.Addr, "Merchant API and checkout pages: " + d.merchantAddr, "Bank link for DEBIT: off (set [bank] addr)"} {
		if !strings.Contains(page, want) {
			t.Errorf("/ does not say %q:\n%s", want, page)
		}
	}
	links := regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(page, -1)
	seen := map[string]bool{}
	for _, l := range links {
		url := l[1]
		if strings.HasPrefix(url, "/") {
			url = base + url
		}
		seen[strings.TrimPrefix(url, base)] = true
		if code, body := httpGet(t, url); code != http.StatusOK {
			t.Errorf("%s: %d %s", url, code, body)
		}
	}
	for _, want := range []string{"/metrics", "/healthz", "/readyz", "http://" + d.merchantAddr + "/openapi.yaml"} {
		if !seen[want] {
			t.Errorf("/ does not link %s: %v", want, seen)
		}
	}
	_, metrics := httpGet(t, base+"/metrics")
	for _, want := range []string{"\ngo_goroutines ", "\nprocess_resident_memory_bytes ", "\nmpg_smpp_mo_total "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", strings.TrimSpace(want))
		}
	}
	for _, path := range []string{"/nothing", "/index.html", "/metrics/x"} {
		if code, _ := httpGet(t, base+path); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
	if code, page := httpGet(t, "http://"+d.merchantAddr+"/"); code != http.StatusOK || !strings.Contains(page, "/openapi.yaml") {
		t.Errorf("merchant listener /: %d\n%s", code, page)
	}

	// With the merchant API off, the page says so and how to turn it on.
	cfg.Merchant.Addr, cfg.Bank.Addr = "", "127.0.0.1:8583"
	rec := httptest.NewRecorder()
	(&daemon{cfg: cfg}).home("127.0.0.1:9464")(rec, httptest.NewRequest("GET", "/", nil))
	for _, want := range []string{"Merchant API and checkout pages: off (set [merchant] addr)", "Bank link for DEBIT (ISO 8583): 127.0.0.1:8583"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("page without the API does not say %q:\n%s", want, rec.Body.String())
		}
	}
	if strings.Contains(rec.Body.String(), "openapi.yaml") {
		t.Errorf("page without the API links it:\n%s", rec.Body.String())
	}
}
