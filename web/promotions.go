package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"mpg/domain"
	"mpg/promo"
)

// A merchant's promotions over the API: create (funded from its own account), list, end.

// promotionRequest is a new promotion as a merchant writes it.
type promotionRequest struct {
	Code      string      `json:"code"`
	Name      string      `json:"name"`
	Percent   uint64      `json:"percent,omitempty"`
	Fixed     amountField `json:"fixed"`
	Budget    amountField `json:"budget"`
	MinAmount amountField `json:"min_amount"`
	Start     string      `json:"start,omitempty"` // RFC 3339
	End       string      `json:"end,omitempty"`
	Days      []string    `json:"days,omitempty"` // mon..sun
	FromHour  int         `json:"from_hour,omitempty"`
	ToHour    int         `json:"to_hour,omitempty"`
	PerDay    int         `json:"per_day,omitempty"`
	PerMember int         `json:"per_member,omitempty"`
	WithCode  bool        `json:"with_code,omitempty"`
	Audience  string      `json:"audience,omitempty"`
}

// promotionView is a promotion as the API answers it.
type promotionView struct {
	Code       string   `json:"code"`
	Name       string   `json:"name"`
	State      string   `json:"state"` // running, scheduled, ended
	Percent    uint64   `json:"percent,omitempty"`
	Fixed      string   `json:"fixed,omitempty"`
	MinAmount  string   `json:"min_amount,omitempty"`
	Budget     string   `json:"budget"`
	BudgetLeft string   `json:"budget_left"`
	Start      string   `json:"start"`
	End        string   `json:"end,omitempty"`
	Days       []string `json:"days,omitempty"`
	FromHour   int      `json:"from_hour,omitempty"`
	ToHour     int      `json:"to_hour,omitempty"`
	PerDay     int      `json:"per_day,omitempty"`
	PerMember  int      `json:"per_member,omitempty"`
	WithCode   bool     `json:"with_code,omitempty"`
	Audience   string   `json:"audience,omitempty"`
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func (s *Server) createPromotion(w http.ResponseWriter, r *http.Request, m domain.Account) {
	var req promotionRequest
	if _, err := readBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.promotionOf(req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p, err = s.e.CreatePromotion(r.Context(), m.ID, p, actor(m)); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.viewPromotion(p))
}

// promotionOf reads a request into a promotion: amounts in the API's currency, times in
// RFC 3339, days by name. The rest is checked by the engine when it saves it.
func (s *Server) promotionOf(req promotionRequest) (promo.Promotion, error) {
	p := promo.Promotion{Code: req.Code, Name: req.Name, Percent: req.Percent, FromHour: req.FromHour, ToHour: req.ToHour,
		PerDay: req.PerDay, PerMember: req.PerMember, WithCode: req.WithCode, Audience: req.Audience}
	var err error
	if p.Budget, err = s.amount(req.Budget, "", true); err != nil {
		return p, err
	}
	if p.Fixed, err = s.amount(req.Fixed, "", false); err != nil {
		return p, err
	}
	if p.MinAmount, err = s.amount(req.MinAmount, "", false); err != nil {
		return p, err
	}
	for name, t := range map[string]*int64{req.Start: &p.Start, req.End: &p.End} {
		if name == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, name)
		if err != nil {
			return p, domain.PaymentErr(domain.CodeInvalidRequest, "start and end: RFC 3339 times")
		}
		*t = at.UnixNano()
	}
	for _, d := range req.Days {
		i := slices.Index(dayNames, strings.ToLower(d))
		if i < 0 {
			return p, domain.PaymentErr(domain.CodeInvalidRequest, "days: mon, tue, wed, thu, fri, sat, sun")
		}
		p.Days = append(p.Days, i)
	}
	return p, nil
}

func (s *Server) listPromotions(w http.ResponseWriter, r *http.Request, m domain.Account) {
	ps, err := s.e.Promotions(m.Owner)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Data []promotionView `json:"data"`
	}{Data: []promotionView{}}
	for _, p := range ps {
		out.Data = append(out.Data, s.viewPromotion(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) endPromotion(w http.ResponseWriter, r *http.Request, m domain.Account) {
	p, err := s.e.EndPromotion(r.Context(), m.ID, r.PathValue("code"), actor(m))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewPromotion(p))
}

func (s *Server) viewPromotion(p promo.Promotion) promotionView {
	f := func(v uint64) string { return domain.FormatMinor(v, s.cfg.Exponent) }
	t := func(ns int64) string {
		if ns == 0 {
			return ""
		}
		return domain.FormatTime(ns)
	}
	v := promotionView{Code: p.Code, Name: p.Name, Percent: p.Percent, Budget: f(p.Budget), Start: t(p.Start), End: t(p.End),
		FromHour: p.FromHour, ToHour: p.ToHour, PerDay: p.PerDay, PerMember: p.PerMember, WithCode: p.WithCode, Audience: p.Audience,
		State: "running"}
	if p.Fixed > 0 {
		v.Fixed = f(p.Fixed)
	}
	if p.MinAmount > 0 {
		v.MinAmount = f(p.MinAmount)
	}
	for _, d := range p.Days {
		v.Days = append(v.Days, dayNames[d])
	}
	now := time.Now().UnixNano()
	switch {
	case p.Ended != 0 || (p.End != 0 && now >= p.End):
		v.State = "ended"
	case now < p.Start:
		v.State = "scheduled"
	}
	v.BudgetLeft = f(s.e.BudgetLeft(p))
	return v
}
