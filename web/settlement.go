package web

import (
	"net/http"
	"strconv"

	"mpg/domain"
	"mpg/engine"
)

// A merchant's settlement over the API: the bank account its payouts go to (GET and PUT
// /v1/settlement/bank-account), its payouts, and what each covers (GET /v1/payouts[/{id}]).

type bankAccountBody struct {
	IBAN   string `json:"iban"`
	BIC    string `json:"bic"`
	Holder string `json:"holder"`
}

// bankAccountView shows the IBAN masked: the key that reads it need not learn it whole.
type bankAccountView struct {
	Linked bool   `json:"linked"`
	IBAN   string `json:"iban,omitempty"`
	BIC    string `json:"bic,omitempty"`
	Holder string `json:"holder,omitempty"`
}

func (s *Server) putBankAccount(w http.ResponseWriter, r *http.Request, m domain.Account) {
	var req bankAccountBody
	if _, err := readBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.IBAN == "" {
		s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, "iban is required"))
		return
	}
	if _, err := s.e.LinkPayoutBank(r.Context(), actor(m), m.ID, req.IBAN, req.BIC, req.Holder); err != nil {
		s.fail(w, r, err) // a bad IBAN or BIC is the engine's invalid_request; the ledger's failures are 5xx
		return
	}
	s.getBankAccount(w, r, m)
}

func (s *Server) getBankAccount(w http.ResponseWriter, r *http.Request, m domain.Account) {
	b, found, err := s.e.PayoutBankOf(m.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := bankAccountView{Linked: found}
	if found {
		v.IBAN, v.BIC, v.Holder = domain.MaskIBAN(b.IBAN), b.BIC, b.Holder
	}
	writeJSON(w, http.StatusOK, v)
}

// payoutView is a payout as the API answers it, amounts as decimal strings.
type payoutView struct {
	ID            string         `json:"id"`
	Day           string         `json:"day"`
	Amount        string         `json:"amount"`
	Currency      string         `json:"currency"`
	State         string         `json:"state"`
	Reason        string         `json:"reason,omitempty"`
	IBAN          string         `json:"iban"`
	File          string         `json:"file,omitempty"`
	Reserve       string         `json:"reserve"`
	ReserveBefore string         `json:"reserve_before,omitempty"`
	Movements     []movementView `json:"movements,omitempty"`
	MovementsSum  string         `json:"movements_sum,omitempty"`
	Complete      *bool          `json:"complete,omitempty"`
}

type movementView struct {
	Transfer string `json:"transfer"`
	Payment  string `json:"payment,omitempty"`
	What     string `json:"what"`
	Amount   string `json:"amount"` // signed: what it did to the balance
	Time     int64  `json:"time"`
}

func (s *Server) decimal(v uint64) string { return domain.FormatMinor(v, s.cfg.Exponent) }

func (s *Server) signed(v int64) string {
	if v < 0 {
		return "-" + s.decimal(uint64(-v))
	}
	return s.decimal(uint64(v))
}

func (s *Server) payout(p engine.Payout) payoutView {
	return payoutView{ID: p.ID, Day: p.Day, Amount: s.decimal(p.Amount), Currency: p.Currency, State: p.State, Reason: p.Reason,
		IBAN: domain.MaskIBAN(p.IBAN), File: p.File, Reserve: s.decimal(p.Reserve)}
}

func (s *Server) listPayouts(w http.ResponseWriter, r *http.Request, m domain.Account) {
	limit := 30
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, "limit: 1..100"))
			return
		}
		limit = n
	}
	ps, err := s.e.PayoutsOf(m.ID, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Payouts []payoutView `json:"payouts"`
	}{Payouts: []payoutView{}}
	for _, p := range ps {
		out.Payouts = append(out.Payouts, s.payout(p))
	}
	writeJSON(w, http.StatusOK, out)
}

// getPayout answers a payout of the merchant's and the movements of its account it covers:
// their sum is the payout plus the change in the reserve kept back.
func (s *Server) getPayout(w http.ResponseWriter, r *http.Request, m domain.Account) {
	d, err := s.e.PayoutDetail(r.PathValue("id"))
	if err == nil && d.Merchant != m.ID {
		err = domain.PaymentErr(domain.CodeNotFound, "no payout "+r.PathValue("id")) // another's: as if none
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.payout(d.Payout)
	v.ReserveBefore, v.MovementsSum, v.Complete = s.decimal(d.ReserveBefore), s.signed(d.Sum), &d.Complete
	v.Movements = []movementView{}
	for _, mv := range d.Movements {
		v.Movements = append(v.Movements, movementView{Transfer: mv.Transfer, Payment: mv.Payment, What: mv.What, Amount: s.signed(mv.Effect), Time: mv.Time})
	}
	writeJSON(w, http.StatusOK, v)
}
