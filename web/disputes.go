package web

import (
	"net/http"
	"strconv"

	"mpg/domain"
	"mpg/engine"
)

// Disputes in the merchant API: the merchant lists and reads the cases on its payments,
// opens one, and answers one by accepting it (a refund of the disputed amount) or with
// evidence (an operator then decides). Every answer is the case as the merchant may see it.

type disputeRequest struct {
	PaymentID string `json:"payment_id"`
	Reason    string `json:"reason"`
}

type evidenceRequest struct {
	Text string `json:"text"`
}

func (s *Server) answerDispute(w http.ResponseWriter, r *http.Request, c domain.Dispute, err error, status int) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, status, s.disputeView(c))
}

// disputeView is the case with its payment, as the merchant may see it.
func (s *Server) disputeView(c domain.Dispute) engine.DisputeView {
	v := s.e.ViewDispute(c)
	if p, err := s.e.GetPayment(c.Merchant, c.Payment); err == nil {
		pv := s.e.View(p)
		v.Payment = &pv
	}
	return v
}

func (s *Server) openDispute(w http.ResponseWriter, r *http.Request, m domain.Account) {
	var req disputeRequest
	if _, err := readBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.PaymentID == "" {
		s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, "payment_id is required"))
		return
	}
	c, err := s.e.OpenDispute(r.Context(), engine.OpenDispute{Merchant: m.ID, PaymentID: req.PaymentID, Reason: req.Reason,
		Opener: domain.OpenerMerchant, Actor: actor(m)})
	s.answerDispute(w, r, c, err, http.StatusCreated)
}

func (s *Server) getDispute(w http.ResponseWriter, r *http.Request, m domain.Account) {
	c, err := s.e.GetDispute(m.ID, r.PathValue("id"))
	s.answerDispute(w, r, c, err, http.StatusOK)
}

func (s *Server) acceptDispute(w http.ResponseWriter, r *http.Request, m domain.Account) {
	c, err := s.e.AcceptDispute(r.Context(), m.ID, r.PathValue("id"), actor(m))
	s.answerDispute(w, r, c, err, http.StatusOK)
}

func (s *Server) disputeEvidence(w http.ResponseWriter, r *http.Request, m domain.Account) {
	var req evidenceRequest
	if _, err := readBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.e.DisputeEvidence(r.Context(), m.ID, r.PathValue("id"), req.Text, actor(m))
	s.answerDispute(w, r, c, err, http.StatusOK)
}

func (s *Server) listDisputes(w http.ResponseWriter, r *http.Request, m domain.Account) {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, "limit: 1..100"))
			return
		}
		limit = n
	}
	cs, next, err := s.e.ListDisputes(m.ID, q.Get("after"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Data []engine.DisputeView `json:"data"`
		Next string               `json:"next,omitempty"`
	}{Data: []engine.DisputeView{}, Next: next}
	for _, c := range cs {
		out.Data = append(out.Data, s.e.ViewDispute(c))
	}
	writeJSON(w, http.StatusOK, out)
}
