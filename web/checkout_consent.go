package web

import (
	"net/http"

	"go.uber.org/zap"

	"mpg/domain"
	"mpg/engine"
)

// The checkout page asks, unticked, whether the buyer wants offers by SMS, beside the
// number he types. A ticked box is a consent only once the number is proven: it is
// recorded, with the box's wording in the page's language, when the code texted to that
// number is typed; a number typed by someone else never gets offers.

// offersTextID names the wording of the box and its version.
const offersTextID = "checkout-offers-v1"

func (s *Server) noteOffers(r *http.Request, id string, ticked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.session(r, id); cs != nil {
		cs.offers = ticked
	}
}

// offersConsent records the box ticked on this browser's page for the number that paid.
func (s *Server) offersConsent(r *http.Request, id, msisdn string) {
	s.mu.Lock()
	cs := s.session(r, id)
	ticked := cs != nil && cs.offers
	if ticked {
		cs.offers = false
	}
	s.mu.Unlock()
	if !ticked || msisdn == "" {
		return
	}
	l := lang(r)
	c := engine.Consent{Granted: true, Channel: engine.ConsentCheckout, Command: "box ticked on checkout " + domain.Clip(id),
		Text: texts[l]["offers_label"], TextID: offersTextID + ":" + l}
	if _, err := s.e.RecordConsent(r.Context(), msisdn, c); err != nil {
		s.log.Warn("checkout: the offers consent was not recorded", zap.String("to", domain.Mask(msisdn)), zap.Error(err))
	}
}
