package web

import (
	"net/http"
	"strconv"

	"mpg/domain"
	"mpg/engine"
)

// The company's side of Internet+ Pro, with the company's own API key: who may pay on its
// account and within what, and every payment by employee.

// employeeView is an employee as the company sees it: amounts as decimal strings.
type employeeView struct {
	MSISDN     string   `json:"msisdn"`
	PerPayment string   `json:"per_payment"`
	Monthly    string   `json:"monthly"`
	Merchants  []string `json:"merchants,omitempty"`
	Month      string   `json:"month,omitempty"`
	Spent      string   `json:"spent"`
}

func (s *Server) employeeView(e engine.Employee) employeeView {
	f := func(v uint64) string { return domain.FormatMinor(v, s.cfg.Exponent) }
	return employeeView{MSISDN: e.MSISDN, PerPayment: f(e.PerPayment), Monthly: f(e.Monthly), Merchants: e.Merchants, Month: e.Month, Spent: f(e.Spent)}
}

func (s *Server) listEmployees(w http.ResponseWriter, r *http.Request, c domain.Account) {
	emps, err := s.e.Employees(c.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]employeeView, len(emps))
	for i, e := range emps {
		out[i] = s.employeeView(e)
	}
	writeJSON(w, http.StatusOK, struct {
		Employees []employeeView `json:"employees"`
	}{out})
}

type employeeRequest struct {
	PerPayment amountField `json:"per_payment"` // absent: no limit
	Monthly    amountField `json:"monthly"`
	Merchants  []string    `json:"merchants"`
}

func (s *Server) putEmployee(w http.ResponseWriter, r *http.Request, c domain.Account) {
	var req employeeRequest
	if _, err := readBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	per, err := s.amount(req.PerPayment, "", false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	monthly, err := s.amount(req.Monthly, "", false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	emp, err := s.e.SetEmployee(r.Context(), "company:"+c.Owner, c.ID, engine.Employee{MSISDN: r.PathValue("msisdn"),
		PerPayment: per, Monthly: monthly, Merchants: req.Merchants})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.employeeView(emp))
}

func (s *Server) deleteEmployee(w http.ResponseWriter, r *http.Request, c domain.Account) {
	if err := s.e.RemoveEmployee(r.Context(), "company:"+c.Owner, c.ID, r.PathValue("msisdn")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// companyPayments is every payment on the company's account, by employee if asked, paged,
// in JSON or CSV.
func (s *Server) companyPayments(w http.ResponseWriter, r *http.Request, c domain.Account) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, "limit: 1 to 1000"))
			return
		}
		limit = n
	}
	employee := q.Get("employee")
	if employee != "" {
		m, err := domain.ParseMSISDN(employee, "")
		if err != nil {
			s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, "employee: an E.164 number like +33612345678"))
			return
		}
		employee = m
	}
	ps, next, err := s.e.CompanyPayments(c.ID, employee, q.Get("cursor"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if next != "" {
		w.Header().Set("X-Next-Cursor", next)
	}
	type line struct {
		Transfer string `json:"transfer"`
		At       string `json:"at"`
		Employee string `json:"employee"`
		Merchant string `json:"merchant"`
		Amount   string `json:"amount"`
		Fee      string `json:"fee"`
		Ref      string `json:"reference,omitempty"`
		Channel  string `json:"channel"`
		Payment  string `json:"payment,omitempty"`
	}
	out := make([]line, len(ps))
	for i, p := range ps {
		out[i] = line{p.Transfer, domain.FormatTime(p.At), p.Employee, p.Merchant, domain.FormatMinor(p.Amount, s.cfg.Exponent),
			domain.FormatMinor(p.Fee, s.cfg.Exponent), p.Ref, p.Channel, p.Payment}
	}
	if q.Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		rows := [][]string{{"transfer", "at", "employee", "merchant", "amount", "fee", "currency", "reference", "channel", "payment"}}
		for _, l := range out {
			rows = append(rows, []string{l.Transfer, l.At, l.Employee, l.Merchant, l.Amount, l.Fee, s.cfg.Currency, csvSafe(l.Ref), l.Channel, l.Payment})
		}
		writeRows(w, rows)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Payments   []line `json:"payments"`
		NextCursor string `json:"next_cursor,omitempty"`
	}{out, next})
}
