package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"mpg/domain"
	"mpg/engine"
)

// exchange is one API request of the walk below and the key it is sent with.
type exchange struct {
	method, path, body string
	key                string
	ctype              string // of the body; application/json if empty
}

// TestAnswersFollowOpenAPI sends every documented route its usual requests and its refusals,
// and checks each request and answer against openapi.yaml with pb33f's libopenapi-validator
// (OpenAPI 3.1, JSON Schema 2020-12), a validator mpg did not write.
func TestAnswersFollowOpenAPI(t *testing.T) {
	f := newFixture(t, Config{RatePerS: 1000})
	v := openAPIValidator(t)
	company := f.companyKey()
	f.payOnCompany("1.00")
	var req, chk, done, bad engine.PaymentView
	f.call("POST", "/v1/payments", `{"msisdn":"`+alice+`","amount":"2.00","reference":"oa-1"}`, nil, &req)
	f.call("POST", "/v1/checkouts", `{"amount":"3.00","reference":"oa-2"}`, nil, &chk)
	f.call("POST", "/v1/payments", `{"msisdn":"`+alice+`","amount":"1.00","reference":"oa-3"}`, nil, &done)
	f.call("POST", "/v1/payments", `{"msisdn":"`+alice+`","amount":"1.00","reference":"oa-4"}`, nil, &bad)
	if err := f.e.Handle(context.Background(), engine.Inbound{From: alice, To: "1234", Text: "YES " + f.lastCode()}); err != nil {
		t.Fatal(err)
	}
	if err := f.e.CatchUpStatistics(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	missing := strings.Repeat("0", 32)
	emp := "/v1/company/employees/%2B33612345678"
	walk := []exchange{
		{"POST", "/v1/payments", `{"msisdn":"` + alice + `","amount":"1.50","reference":"oa-5","method":"purse"}`, f.key, ""},
		{"POST", "/v1/payments", `{"msisdn":"` + alice + `","amount":1.50,"reference":"oa-6"}`, f.key, ""},
		{"POST", "/v1/payments", `{"amount":"1.50","reference":"oa-7"}`, "mpg_nothing", ""},
		{"POST", "/v1/checkouts", `{"amount":"4.50","reference":"oa-8","return_url":"https://shop.example/done"}`, f.key, ""},
		{"POST", "/v1/checkouts", `{"amount":"4.50","reference":"oa-9"}`, f.key, "text/plain"},
		{"GET", "/v1/payments?limit=2", "", f.key, ""},
		{"GET", "/v1/payments?format=csv", "", f.key, ""},
		{"GET", "/v1/payments?limit=0", "", f.key, ""},
		{"GET", "/v1/payments/" + req.ID, "", f.key, ""},
		{"GET", "/v1/payments/" + missing, "", f.key, ""},
		{"POST", "/v1/payments/" + chk.ID + "/cancel", "", f.key, ""},
		{"POST", "/v1/payments/" + done.ID + "/refunds", `{"amount":"0.40"}`, f.key, ""},
		{"POST", "/v1/payments/" + done.ID + "/refunds", `{"amount":"9.00"}`, f.key, ""},
		{"POST", "/v1/disputes", `{"payment_id":"` + bad.ID + `","reason":"never delivered"}`, f.key, ""},
		{"POST", "/v1/disputes", `{"payment_id":"` + bad.ID + `","reason":"again"}`, f.key, ""},
		{"POST", "/v1/payments/" + done.ID + "/refunds", ``, f.key, ""},
		{"POST", "/v1/payments/" + req.ID + "/capture", `{}`, f.key, ""},
		{"POST", "/v1/payments/" + req.ID + "/void", "", f.key, ""},
		{"PUT", emp, `{"per_payment":"20.00","monthly":"100.00","merchants":["SHOP42"]}`, company, ""},
		{"PUT", emp, `{"per_payment":20}`, company, ""},
		{"GET", "/v1/company/employees", "", company, ""},
		{"GET", "/v1/company/employees", "", f.key, ""},
		{"GET", "/v1/company/payments?limit=10", "", company, ""},
		{"GET", "/v1/company/payments?format=csv", "", company, ""},
		{"DELETE", emp, "", company, ""},
		{"GET", "/v1/disputes?limit=10", "", f.key, ""},
		{"POST", "/v1/promotions", `{"code":"SUMMER","name":"Summer","percent":10,"budget":"0.50","days":["mon","sat"],"audience":"level == \"gold\""}`, f.key, ""},
		{"POST", "/v1/promotions", `{"code":"BAD","name":"Bad","percent":10,"budget":"0.50","audience":"age > 3"}`, f.key, ""},
		{"POST", "/v1/promotions", `{"code":"HUGE","name":"Huge","fixed":"1.00","budget":"900.00"}`, f.key, ""},
		{"GET", "/v1/promotions", "", f.key, ""},
		{"GET", "/v1/loyalty", "", f.key, ""},
		{"PUT", "/v1/loyalty", `{"per_unit":2,"bonus_days":["sun"],"bonus_times":3,"point_worth":"0.02"}`, f.key, ""},
		{"PUT", "/v1/loyalty", `{"per_unit":2000}`, f.key, ""},
		{"PUT", "/v1/loyalty", `{}`, f.key, ""},
		{"DELETE", "/v1/loyalty", "", f.key, ""},
		{"PUT", "/v1/notices/email", `{"email":"owner@shop.example"}`, f.key, ""},
		{"PUT", "/v1/notices/email", `{"email":"not an address"}`, f.key, ""},
		{"GET", "/v1/notices/email", "", f.key, ""},
		{"DELETE", "/v1/notices/email", "", f.key, ""},
		{"POST", "/v1/promotions/SUMMER/end", "", f.key, ""},
		{"POST", "/v1/promotions/NOSUCH/end", "", f.key, ""},
		{"GET", "/v1/stats", "", f.key, ""},
		{"GET", "/v1/stats?by=product&format=csv", "", f.key, ""},
		{"GET", "/v1/stats?by=merchant", "", f.key, ""},
		{"GET", "/v1/stats?from=yesterday", "", company, ""},
	}
	covered := map[string]bool{}
	for _, x := range walk {
		covered[f.validate(v, x)] = true
	}
	// The case just opened: read, answered with evidence, then accepted by the merchant.
	cs, _, err := f.e.ListDisputes(f.shop, "", 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("cases %+v %v", cs, err)
	}
	for _, x := range []exchange{
		{"GET", "/v1/disputes/" + cs[0].ID, "", f.key, ""},
		{"GET", "/v1/disputes/" + missing, "", f.key, ""},
		{"POST", "/v1/disputes/" + cs[0].ID + "/evidence", `{"text":"delivered on 26/11"}`, f.key, ""},
		{"POST", "/v1/disputes/" + cs[0].ID + "/accept", "", f.key, ""},
		{"POST", "/v1/disputes/" + cs[0].ID + "/accept", "", f.key, ""},
	} {
		covered[f.validate(v, x)] = true
	}
	for _, op := range f.settlementWalk(v) {
		covered[op] = true
	}
	if p, _ := f.e.GetPayment(f.shop, bad.ID); p.State != domain.PaymentRefunded || p.Dispute != "" {
		t.Fatalf("after the case: %+v", p)
	}
	for _, op := range documentedOperations(t) {
		if !covered[op] {
			t.Errorf("%s is documented but not tried", op)
		}
	}
}

// openAPIValidator reads openapi.yaml, checks it against the OpenAPI schema, and makes its validator.
func openAPIValidator(t *testing.T) validator.Validator {
	doc, err := libopenapi.NewDocument(openAPIDoc)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("openapi.yaml: %s: %s", e.Message, e.Reason)
		}
		t.FailNow()
	}
	return v
}

// documentedOperations are "METHOD /path/{param}" of every operation in openapi.yaml.
func documentedOperations(t *testing.T) []string {
	doc, _ := libopenapi.NewDocument(openAPIDoc)
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for path, item := range m.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			ops = append(ops, strings.ToUpper(method)+" "+path)
		}
	}
	return ops
}

// validate sends x, checks the request and its answer against the description, and returns
// the documented operation it was ("METHOD /path/{param}"), or "" if the path is not documented.
func (f *fixture) validate(v validator.Validator, x exchange) string {
	f.t.Helper()
	build := func() *http.Request {
		r, _ := http.NewRequest(x.method, f.srv.URL+x.path, strings.NewReader(x.body))
		r.Header.Set("Authorization", "Bearer "+x.key)
		if x.body != "" {
			r.Header.Set("Content-Type", cmp(x.ctype, "application/json"))
		}
		return r
	}
	resp, err := http.DefaultClient.Do(build())
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	ok, errs := true, []string(nil)
	if resp.StatusCode < 300 {
		okv, verrs := v.ValidateHttpRequestResponse(build(), resp)
		ok, errs = okv, messages(verrs)
	} else {
		okv, verrs := v.ValidateHttpResponse(build(), resp) // the request may be wrong on purpose
		ok, errs = okv, messages(verrs)
	}
	if !ok {
		for _, e := range errs {
			f.t.Errorf("%s %s -> %d %s: %s", x.method, x.path, resp.StatusCode, b, e)
		}
	}
	return operationOf(x)
}

func messages[E interface{ Error() string }](es []E) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// operationOf names the documented operation a request of the walk is.
func operationOf(x exchange) string {
	p, _, _ := strings.Cut(x.path, "?")
	parts := strings.Split(p, "/")
	switch {
	case len(parts) >= 4 && (parts[2] == "payments" || parts[2] == "disputes" || parts[2] == "payouts"):
		parts[3] = "{id}"
	case len(parts) == 5 && parts[3] == "employees":
		parts[4] = "{msisdn}"
	case len(parts) == 5 && parts[2] == "promotions":
		parts[3] = "{code}"
	}
	return x.method + " " + strings.Join(parts, "/")
}

// companyKey opens the company ACME with alice as its employee and returns its API key.
func (f *fixture) companyKey() string {
	f.t.Helper()
	ctx := context.Background()
	res, err := f.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindCompany, Owner: "ACME", Name: "Acme SA"}}})
	if err != nil {
		f.t.Fatal(err)
	}
	acme := res.Accounts[0].ID
	float := f.l.AccountsOf("@float")[0].ID
	if _, err := f.l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: float, Credit: acme,
		Amount: 10000, Code: domain.CodeTopup}}}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.e.SetEmployee(ctx, "test", acme, engine.Employee{MSISDN: alice}); err != nil {
		f.t.Fatal(err)
	}
	key, _, err := f.e.CreateAPIKey(ctx, "test", acme)
	if err != nil {
		f.t.Fatal(err)
	}
	return key
}

// payOnCompany has alice pay a checkout of amount on ACME's account.
func (f *fixture) payOnCompany(amount string) {
	f.t.Helper()
	var v engine.PaymentView
	f.call("POST", "/v1/checkouts", `{"amount":"`+amount+`","reference":"pro-`+amount+`"}`, nil, &v)
	ctx := context.Background()
	if _, err := f.e.CheckoutPhone(ctx, v.ID, alice, "ACME", ""); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.e.CheckoutCode(ctx, v.ID, f.lastCode(), ""); err != nil {
		f.t.Fatal(err)
	}
}

// A company's payments are listed oldest first, and the last page has no next_cursor.
func TestCompanyPaymentsOldestFirst(t *testing.T) {
	f := newFixture(t, Config{RatePerS: 1000})
	key := f.companyKey()
	for _, a := range []string{"1.00", "2.00", "3.00"} {
		f.payOnCompany(a)
	}
	var got []string
	cursor := ""
	for pages := 0; pages < 3; pages++ {
		var out struct {
			Payments []struct {
				Amount string `json:"amount"`
			} `json:"payments"`
			NextCursor *string `json:"next_cursor"`
		}
		f.call("GET", "/v1/company/payments?limit=1&cursor="+cursor, "", map[string]string{"Authorization": "Bearer " + key}, &out)
		for _, p := range out.Payments {
			got = append(got, p.Amount)
		}
		if (out.NextCursor == nil) != (pages == 2) {
			t.Fatalf("page %d: cursor %v", pages, out.NextCursor)
		}
		if out.NextCursor != nil {
			cursor = *out.NextCursor
		}
	}
	if strings.Join(got, " ") != "1.00 2.00 3.00" {
		t.Fatalf("order %v", got)
	}
}

// settlementWalk links the shop's IBAN (a wrong one refused), settles, and reads the payout
// back, and another merchant's id as none.
func (f *fixture) settlementWalk(v validator.Validator) []string {
	var ops []string
	for _, x := range []exchange{
		{"GET", "/v1/settlement/bank-account", "", f.key, ""},
		{"PUT", "/v1/settlement/bank-account", `{"iban":"FR7630006000011234567890188"}`, f.key, ""},
		{"PUT", "/v1/settlement/bank-account", `{"iban":"FR76 3000 6000 0112 3456 7890 189","bic":"AGRIFRPP"}`, f.key, ""},
	} {
		ops = append(ops, f.validate(v, x))
	}
	rep, err := f.e.Settle(context.Background(), "test")
	if err != nil || len(rep.Issued) != 1 {
		f.t.Fatalf("settle: %+v %v", rep, err)
	}
	for _, x := range []exchange{
		{"GET", "/v1/payouts?limit=5", "", f.key, ""},
		{"GET", "/v1/payouts/" + rep.Issued[0].ID, "", f.key, ""},
		{"GET", "/v1/payouts/MPG20260101-NOPE", "", f.key, ""},
	} {
		ops = append(ops, f.validate(v, x))
	}
	return ops
}
