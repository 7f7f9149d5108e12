package web

import (
	"testing"

	"mpg/domain"
)

// A merchant chooses e-mail notices over the API: one address, checked; DELETE stops them.
func TestMerchantSetsItsNoticeAddress(t *testing.T) {
	f := newFixture(t, Config{})
	var got emailBody
	if resp := f.call("PUT", "/v1/notices/email", `{"email":"owner@shop.example"}`, nil, &got); resp.StatusCode != 200 || got.Email != "owner@shop.example" {
		t.Fatalf("put: %d %+v", resp.StatusCode, got)
	}
	if addr, _ := f.e.MerchantEmail(f.shop); addr != "owner@shop.example" {
		t.Fatalf("the engine has %q", addr)
	}
	var e apiError
	for _, bad := range []string{`{"email":"two@a.example, b@c.example"}`, `{"email":""}`, `{"email":"x@y.example\r\nBcc: z@w.example"}`} {
		resp := f.call("PUT", "/v1/notices/email", bad, nil, &e)
		f.errorCode(resp, e, 400, domain.CodeInvalidRequest)
	}
	if f.call("GET", "/v1/notices/email", "", nil, &got); got.Email != "owner@shop.example" {
		t.Fatalf("a refused change changed it: %+v", got)
	}
	if resp := f.call("DELETE", "/v1/notices/email", "", nil, &got); resp.StatusCode != 200 || got.Email != "" {
		t.Fatalf("delete: %d %+v", resp.StatusCode, got)
	}
}
