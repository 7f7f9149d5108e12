package console

import (
	"net/http"
)

// routes are every page and action of the console and the portal, with what each needs.
func (s *Server) routes() []route {
	return []route{
		{"GET", "/login", public, s.login},
		{"POST", "/login", public, s.login},
		{"GET", "/portal/login", public, s.portalLogin},
		{"POST", "/portal/login", public, s.portalLogin},
		{"POST", "/logout", needSession, s.logout},

		{"GET", "/dashboard", needViewer, s.dashboard},
		{"GET", "/chart/{name}", needViewer, s.chart},
		{"GET", "/payment", needViewer, s.payment},
		{"POST", "/payment/reverse", needOperator, s.reverse},
		{"GET", "/fraud", needViewer, s.fraud},
		{"POST", "/fraud/decide", needOperator, s.fraudDecide},
		{"GET", "/subscriber", needViewer, s.subscriber},
		{"POST", "/subscriber/action", needOperator, s.subscriberAction},
		{"GET", "/users", needAdmin, s.users},
		{"POST", "/users/add", needAdmin, s.userAdd},
		{"POST", "/users/disable", needAdmin, s.userDisable},

		{"GET", "/portal", needMerchant, s.portal},
		{"GET", "/portal/chart/{name}", needMerchant, s.portalChart},
		{"GET", "/portal/payment", needMerchant, s.portalPayment},
		{"POST", "/portal/refund", needMerchant, s.portalRefund},
		{"GET", "/portal/promotions", needMerchant, s.portalPromotions},
		{"POST", "/portal/promotions/create", needMerchant, s.portalPromotionCreate},
		{"POST", "/portal/promotions/end", needMerchant, s.portalPromotionEnd},
	}
}

// Handler routes every page; anything else is 404 with the same headers.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.path, s.guard(rt))
	}
	mux.Handle("GET /{$}", s.guard(route{need: public, h: s.home}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		s.refuse(w, r, http.StatusNotFound, "There is no such page.")
	})
	return mux
}

// home sends a signed-in person to his first page, anyone else to the sign-in form.
func (s *Server) home(w http.ResponseWriter, r *http.Request, _ *session) {
	to := "/login"
	if ss := s.lookup(r); ss != nil && ss.operator() {
		to = "/dashboard"
	} else if ss != nil {
		to = "/portal"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
