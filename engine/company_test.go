package engine

import (
	"context"
	"strings"
	"sync"
	"testing"

	"mpg/domain"
)

// companyWorld adds the company ACME with 100.00 EUR and alice as its employee.
func companyWorld(t *testing.T, emp Employee) (*world, domain.Account) {
	w, _ := merchantWorld(t)
	ctx := context.Background()
	res, err := w.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindCompany, Owner: "ACME", Name: "Acme SA"}}})
	if err != nil {
		t.Fatal(err)
	}
	acme := res.Accounts[0]
	if _, err := w.l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: w.float, Credit: acme.ID, Amount: 10000, Code: domain.CodeTopup}}}); err != nil {
		t.Fatal(err)
	}
	emp.MSISDN = alice
	if _, err := w.e.SetEmployee(ctx, "test", acme.ID, emp); err != nil {
		t.Fatal(err)
	}
	return w, acme
}

func TestEmployeesPayOnTheCompanyAccountWithinTheirLimits(t *testing.T) {
	w, acme := companyWorld(t, Employee{PerPayment: 2000, Monthly: 3000, Merchants: []string{"SHOP42"}})
	w.expect(alice, "PAY SHOP42 12.50 ACME 739164", "Paid 12.50 EUR to Corner Shop on Acme SA's account")
	if w.available("ACME") != 10000-1250-10 || w.available(alice) != 5000 || w.available("SHOP42") != 1250 {
		t.Fatalf("acme %d alice %d shop %d", w.available("ACME"), w.available(alice), w.available("SHOP42"))
	}
	w.expect(alice, "PAY SHOP42 25 ACME 739164", "Above your limit on Acme SA's account: 20.00 EUR left")
	w.expect(alice, "PAY SHOP42 17.60 ACME 739164", "Above your limit on Acme SA's account: 17.50 EUR left")
	w.expect(alice, "BILL EDF 0042-77 5 739164", "Bill paid") // her own purse, as always
	// Not at a merchant the company did not allow.
	res, _ := w.l.Submit(context.Background(), domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindMerchant, Owner: "BAR7", Name: "Bar"}}})
	_ = res
	w.expect(alice, "PAY BAR7 5 ACME 739164", "You may not pay Bar on Acme SA's account")
	// Someone else naming ACME pays from his own purse with ACME as his reference.
	w.expect(bob, "REG 246810 Bob", "Welcome Bob")
	w.topup(bob, 1000, 1)
	w.expect(bob, "PAY SHOP42 1 ACME 246810", "Paid 1.00 EUR to Corner Shop. Fee")
	if w.available(bob) != 900 {
		t.Fatalf("bob %d", w.available(bob))
	}
	// Removed: stopped at once.
	if err := w.e.RemoveEmployee(context.Background(), "test", acme.ID, alice); err != nil {
		t.Fatal(err)
	}
	w.expect(alice, "PAY SHOP42 1 ACME 739164", "Paid 1.00 EUR to Corner Shop. Fee") // her own purse now
	ps, _, err := w.e.CompanyPayments(acme.ID, "", "", 100)
	if err != nil || len(ps) != 1 || ps[0].Employee != alice || ps[0].Amount != 1250 || ps[0].Merchant != "SHOP42" {
		t.Fatalf("company log %+v %v", ps, err)
	}
}

func TestRacingEmployeePaymentsStopAtTheMonthlyLimit(t *testing.T) {
	w, acme := companyWorld(t, Employee{Monthly: 2500})
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Distinct texts: each is a new SMS. 3 of 12 fit under 25.00.
			w.e.Handle(context.Background(), Inbound{From: alice, To: "1234", Text: "PAY SHOP42 8 ACME " + strings.Repeat(" ", i) + "739164"})
		}()
	}
	wg.Wait()
	emps, _ := w.e.Employees(acme.ID)
	ps, _, _ := w.e.CompanyPayments(acme.ID, alice, "", 100)
	if len(ps) != 3 || emps[0].Spent != 2400 || w.available("ACME") != 10000-2400 || w.available("SHOP42") != 2400 {
		t.Fatalf("%d payments, spent %d, acme %d", len(ps), emps[0].Spent, w.available("ACME"))
	}
}

func TestCheckoutOnTheCompanyAccount(t *testing.T) {
	w, acme := companyWorld(t, Employee{PerPayment: 500})
	ctx := context.Background()
	shop := w.l.AccountsOf("SHOP42")[0].ID
	p, _, _ := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 800, Reference: "pro-1"})
	_, err := w.e.CheckoutPhone(ctx, p.ID, alice, "ACME", "")
	wantCode(t, err, domain.CodeLimitExceeded) // told before any code is sent
	_, err = w.e.CheckoutPhone(ctx, p.ID, bob, "ACME", "")
	wantCode(t, err, domain.CodeNotAuthorised)
	q, _, _ := w.e.CreatePayment(ctx, CreatePayment{Merchant: shop, Amount: 400, Reference: "pro-2"})
	if _, err := w.e.CheckoutPhone(ctx, q.ID, alice, "acme", ""); err != nil {
		t.Fatal(err)
	}
	q, err = w.e.CheckoutCode(ctx, q.ID, payCode(t, w.outbox()[alice]), "")
	if err != nil || q.State != domain.PaymentCompleted || q.Debited != acme.ID {
		t.Fatalf("%+v %v", q, err)
	}
	if w.available("ACME") != 10000-400 || w.available(alice) != 5000 {
		t.Fatalf("acme %d alice %d", w.available("ACME"), w.available(alice))
	}
	if v := w.e.View(q); v.Company != "ACME" {
		t.Fatalf("view %+v", v)
	}
	// A refund goes back to the company.
	if _, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: shop, PaymentID: q.ID}); err != nil || w.available("ACME") != 10000 {
		t.Fatalf("refund: %v, acme %d", err, w.available("ACME"))
	}
}
