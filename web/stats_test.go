package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"mpg/domain"
	"mpg/engine"
)

// TestStatsAPI: a merchant reads its own figures only (Alice's top-up, in the service's
// figures, is not in the shop's), in the readable JSON and in CSV; rows by merchant and
// days not understood are refused.
func TestStatsAPI(t *testing.T) {
	f := newFixture(t, Config{RatePerS: 1000})
	var p engine.PaymentView
	f.call("POST", "/v1/payments", `{"msisdn":"`+alice+`","amount":"2.50","reference":"st-1"}`, nil, &p)
	if err := f.e.Handle(context.Background(), engine.Inbound{From: alice, To: "1234", Text: "YES " + f.lastCode()}); err != nil {
		t.Fatal(err)
	}
	if err := f.e.CatchUpStatistics(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Rows []struct {
			Label      string
			Payments   int64
			Amount     string
			SuccessPct *float64 `json:"success_pct"`
		}
		Totals struct {
			Payments int64
			Amount   string
		}
		Currency string
	}
	if resp := f.call("GET", "/v1/stats?by=product", "", nil, &ans); resp.StatusCode != http.StatusOK ||
		len(ans.Rows) != 1 || ans.Rows[0].Label != "pay" || ans.Rows[0].Payments != 1 || ans.Rows[0].Amount != "2.50" ||
		ans.Totals.Amount != "2.50" || ans.Currency != "EUR" || ans.Rows[0].SuccessPct == nil || *ans.Rows[0].SuccessPct != 100 {
		t.Fatalf("by product: %d %+v", resp.StatusCode, ans)
	}
	resp := f.call("GET", "/v1/stats?by=total", "", map[string]string{"Accept": "text/csv"}, nil)
	req, _ := http.NewRequest("GET", f.srv.URL+"/v1/stats?by=total&format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+f.key)
	csvResp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer csvResp.Body.Close()
	body, _ := io.ReadAll(csvResp.Body)
	if resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.Contains(string(body), "\ntotal,1,0,,250,0,") {
		t.Fatalf("csv: %q %s", resp.Header.Get("Content-Type"), body)
	}
	for _, bad := range []string{"by=merchant", "by=week", "from=yesterday", "from=2026-12-05&to=2026-12-01"} {
		var e apiError
		f.errorCode(f.call("GET", "/v1/stats?"+bad, "", nil, &e), e, http.StatusBadRequest, domain.CodeInvalidRequest)
	}
}
