package engine

import (
	"context"
	"fmt"
	"testing"

	"mpg/domain"
)

// A merchant cannot text a number an unlimited stream of codes by creating and cancelling
// requests to pay: each request's code counts against codes_per_hour for that number.
func TestRequestsToPayCountAgainstCodesPerHour(t *testing.T) {
	w, shop := merchantWorld(t)
	ctx := context.Background()
	for i := 0; i < w.e.cfg.CodesPerHour; i++ {
		p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: fmt.Sprint("r", i)})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if _, err := w.e.CancelPayment(ctx, "test", shop, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: "one-more"})
	if domain.CodeOf(err) != domain.CodeTooManyCodes {
		t.Fatalf("request beyond codes_per_hour: %v", err)
	}
	w.clock.Add(61 * 60e9) // the next hour
	if _, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: "next-hour"}); err != nil {
		t.Fatalf("next hour: %v", err)
	}
}

// Open requests per number stay bounded, and a cancelled one frees its place only.
func TestOpenRequestsPerNumberStayBounded(t *testing.T) {
	w, shop := merchantWorld(t)
	w.e.cfg.CodesPerHour = 100
	ctx := context.Background()
	var first domain.Payment
	for i := 0; i < maxOpenRequests; i++ {
		p, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: fmt.Sprint("o", i)})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if i == 0 {
			first = p
		}
	}
	create := func(ref string) error {
		_, _, err := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, MSISDN: alice, Amount: 100, Reference: ref})
		return err
	}
	if err := create("extra"); domain.CodeOf(err) != domain.CodeLimitExceeded {
		t.Fatalf("beyond the open bound: %v", err)
	}
	if _, err := w.e.CancelPayment(ctx, "test", shop, first.ID); err != nil {
		t.Fatal(err)
	}
	if err := create("instead"); err != nil {
		t.Fatalf("after a cancel: %v", err)
	}
	if err := create("again"); domain.CodeOf(err) != domain.CodeLimitExceeded {
		t.Fatalf("bound after a cancel: %v", err)
	}
}
