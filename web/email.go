package web

import (
	"net/http"

	"mpg/domain"
)

// A merchant's e-mail notices over the API: the address its payment and refund notices and
// its daily statement go to (GET, PUT and DELETE /v1/notices/email), beside SMS and webhooks.

// emailBody is the address as the API reads and answers it.
type emailBody struct {
	Email string `json:"email"` // "" for none
}

func (s *Server) getEmail(w http.ResponseWriter, r *http.Request, m domain.Account) {
	address, err := s.e.MerchantEmail(m.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, emailBody{Email: address})
}

func (s *Server) putEmail(w http.ResponseWriter, r *http.Request, m domain.Account) {
	var req emailBody
	if _, err := readBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Email == "" {
		s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, "email is required (DELETE /v1/notices/email stops the e-mails)"))
		return
	}
	s.setEmail(w, r, m, req.Email)
}

func (s *Server) deleteEmail(w http.ResponseWriter, r *http.Request, m domain.Account) {
	s.setEmail(w, r, m, "")
}

func (s *Server) setEmail(w http.ResponseWriter, r *http.Request, m domain.Account, address string) {
	if err := s.e.SetMerchantEmail(r.Context(), actor(m), m.ID, address); err != nil {
		s.fail(w, r, err)
		return
	}
	s.getEmail(w, r, m)
}
