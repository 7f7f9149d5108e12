package web

import (
	"net/http"
	"slices"
	"strings"

	"mpg/domain"
	"mpg/engine"
)

// A merchant's own points rule over the API: what its payments earn, and what a point pays
// at it (GET and PUT /v1/loyalty).

// loyaltyBody is the rule as the API writes it.
type loyaltyBody struct {
	PerUnit    *uint64     `json:"per_unit"` // required: a rule says what it earns
	Products   []string    `json:"products,omitempty"`
	BonusDays  []string    `json:"bonus_days,omitempty"`
	BonusTimes uint64      `json:"bonus_times,omitempty"`
	PointWorth amountField `json:"point_worth"`
}

// loyaltyView is the rule as the API answers it.
type loyaltyView struct {
	PerUnit    uint64   `json:"per_unit"`
	Products   []string `json:"products,omitempty"`
	BonusDays  []string `json:"bonus_days,omitempty"`
	BonusTimes uint64   `json:"bonus_times,omitempty"`
	PointWorth string   `json:"point_worth"`
	Own        bool     `json:"own"` // false: the service's rules apply, none of the merchant's own
}

func (s *Server) putLoyalty(w http.ResponseWriter, r *http.Request, m domain.Account) {
	var req loyaltyBody
	if _, err := readBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.PerUnit == nil {
		s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, "per_unit is required (DELETE /v1/loyalty goes back to the service's rule)"))
		return
	}
	ml := engine.MerchantLoyalty{PerUnit: *req.PerUnit, Products: req.Products, BonusTimes: req.BonusTimes}
	var err error
	if ml.PointWorth, err = s.amount(req.PointWorth, "", false); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, d := range req.BonusDays {
		i := slices.Index(dayNames, strings.ToLower(d))
		if i < 0 {
			s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, "bonus_days: mon, tue, wed, thu, fri, sat, sun"))
			return
		}
		ml.BonusDays = append(ml.BonusDays, i)
	}
	if err := s.e.SetMerchantLoyalty(r.Context(), m.ID, ml, actor(m)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.answerLoyalty(w, r, m)
}

func (s *Server) getLoyalty(w http.ResponseWriter, r *http.Request, m domain.Account) {
	s.answerLoyalty(w, r, m)
}

// deleteLoyalty drops the merchant's own rule: the service's applies again.
func (s *Server) deleteLoyalty(w http.ResponseWriter, r *http.Request, m domain.Account) {
	if err := s.e.DropMerchantLoyalty(r.Context(), m.ID, actor(m)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.answerLoyalty(w, r, m)
}

func (s *Server) answerLoyalty(w http.ResponseWriter, r *http.Request, m domain.Account) {
	ml, own, err := s.e.MerchantLoyaltyOf(m.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := loyaltyView{PerUnit: ml.PerUnit, Products: ml.Products, BonusTimes: ml.BonusTimes, PointWorth: domain.FormatMinor(ml.PointWorth, s.cfg.Exponent), Own: own}
	for _, d := range ml.BonusDays {
		v.BonusDays = append(v.BonusDays, dayNames[d])
	}
	writeJSON(w, http.StatusOK, v)
}
