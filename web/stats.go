package web

import (
	"net/http"
	"strings"

	"mpg/domain"
	"mpg/engine"
	"mpg/stats"
)

// statsAnswer is what GET /v1/stats answers: the merchant's own figures by row, with the
// previous equal period beside them, and how far behind the journal the figures are.
type statsAnswer struct {
	stats.ReadableReport
	Currency string `json:"currency"`
	Lag      int64  `json:"lag_entries"`
}

// getStats answers the authenticated merchant's figures of a period: days from and to
// (YYYY-MM-DD, both included; default the last 7 days), rows by day, hour, product,
// channel or total; JSON, or CSV with format=csv or Accept: text/csv.
func (s *Server) getStats(w http.ResponseWriter, r *http.Request, m domain.Account) {
	q := r.URL.Query()
	by := q.Get("by")
	if by == "" {
		by = stats.ByDay
	}
	if by == stats.ByMerchant {
		s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, "by: day, hour, product, channel or total (the figures are your own)"))
		return
	}
	from, to, err := s.e.StatsDays(q.Get("from"), q.Get("to"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ans, err := s.e.Statistics(stats.Query{From: from, To: to, By: by, Merchant: m.ID, Product: q.Get("product"), Channel: q.Get("channel")})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if q.Get("format") == "csv" || strings.Contains(r.Header.Get("Accept"), "text/csv") {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		stats.WriteCSV(w, ans.Rows)
		return
	}
	writeJSON(w, http.StatusOK, s.readable(ans))
}

func (s *Server) readable(ans engine.StatsAnswer) statsAnswer {
	money := func(v uint64) string { return domain.FormatMinor(v, s.cfg.Exponent) }
	return statsAnswer{ReadableReport: stats.Readable(ans.Report, money), Currency: s.cfg.Currency, Lag: ans.Lag}
}
