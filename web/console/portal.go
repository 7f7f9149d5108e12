package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"mpg/domain"
	"mpg/engine"
	"mpg/promo"
)

// The merchant portal: a merchant signed in with one of its API keys sees its own takings
// and figures, refunds, runs its promotions and reads its points rule and balance, in
// English or French.

// langOf is the page's language: ?lang= (kept for the session), else the session's, else
// Accept-Language.
func (s *Server) langOf(r *http.Request, ss *session) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "fr" {
		if ss != nil {
			s.setLang(ss.id, l)
		}
		return l
	}
	if ss != nil && ss.Lang != "" {
		return ss.Lang
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.Split(part, ";")[0]))
		switch {
		case strings.HasPrefix(tag, "fr"):
			return "fr"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "en"
}

func tr(lang, key string) string {
	if t, ok := texts[lang][key]; ok {
		return t
	}
	return texts["en"][key]
}

// merchantPage is a portal page in the session's language.
func (s *Server) merchantPage(r *http.Request, ss *session, title string) page {
	lang := s.langOf(r, ss)
	return page{Title: tr(lang, title), S: ss, Lang: lang, T: texts[lang]}
}

// takingRow is one payment as the portal lists it.
type takingRow struct {
	engine.PaymentView
	When       string
	Refundable bool
}

// portalView is the portal's first page.
type portalView struct {
	Figures    *figuresView
	FiguresErr string
	Balance    string
	Points     string
	Takings    []takingRow
	More       bool
}

// maxTakings bounds the payments the portal lists on a page.
const maxTakings = 100

func (s *Server) portal(w http.ResponseWriter, r *http.Request, ss *session) {
	p := s.merchantPage(r, ss, "portal")
	name, from, to := s.period(r)
	p.Period, p.Done = name, doneOf(r)
	var v portalView
	if f, err := s.figures(r.Context(), from, to, ss.Merchant); err != nil {
		v.FiguresErr = tr(p.Lang, "no_figures")
	} else {
		fv := s.viewFigures(f)
		v.Figures = &fv
	}
	if a, err := s.e.Account(ss.Merchant); err == nil {
		v.Balance = s.money(a.Available())
	}
	v.Points = s.pointsRule(p.Lang, ss.Merchant)
	v.Takings, v.More = s.takings(ss.Merchant, from)
	p.Data = v
	s.render(w, r, http.StatusOK, "portal", p)
}

// maxTakingsScan bounds the payments read to find the newest of a period.
const maxTakingsScan = 5000

// takings are the merchant's newest payments since from, newest first; more says that older
// ones of the period are not shown.
func (s *Server) takings(merchant uint64, from time.Time) (out []takingRow, more bool) {
	var last []domain.Payment
	f := engine.PaymentFilter{From: from.UnixNano(), Limit: 1000}
	for read := 0; read < maxTakingsScan; {
		list, next, err := s.e.ListPayments(merchant, f)
		if err != nil {
			s.log.Warn("portal takings", zap.Error(err))
			break
		}
		read += len(list)
		last = append(last, list...)
		if len(last) > maxTakings {
			more = true
			last = last[len(last)-maxTakings:]
		}
		if next == "" {
			break
		}
		f.After = next
	}
	for i := len(last) - 1; i >= 0; i-- {
		p := last[i]
		out = append(out, takingRow{PaymentView: s.e.View(p), When: s.when(p.Created),
			Refundable: p.State == domain.PaymentCompleted && p.Refunded < p.Amount})
	}
	return out, more
}

func (s *Server) pointsRule(lang string, merchant uint64) string {
	ml, found, err := s.e.MerchantLoyaltyOf(merchant)
	switch {
	case err != nil || !found:
		return tr(lang, "points_none")
	case ml.PointWorth == 0:
		return strconv.FormatUint(ml.PerUnit, 10) + " " + tr(lang, "points_per_unit")
	}
	return strconv.FormatUint(ml.PerUnit, 10) + " " + tr(lang, "points_per_unit") + "; " +
		tr(lang, "point_worth") + " " + s.money(int64(ml.PointWorth))
}

func (s *Server) portalChart(w http.ResponseWriter, r *http.Request, ss *session) {
	s.serveChart(w, r, ss.Merchant, s.langOf(r, ss))
}

func (s *Server) portalPayment(w http.ResponseWriter, r *http.Request, ss *session) {
	pg := s.merchantPage(r, ss, "payment")
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	p, err := s.e.GetPayment(ss.Merchant, id) // another merchant's payment is not found
	if err != nil {
		pg.Error = tr(pg.Lang, "no_payment")
		s.render(w, r, http.StatusNotFound, "portal_payment", pg)
		return
	}
	pg.Done = doneOf(r)
	pg.Data = takingRow{PaymentView: s.e.View(p), When: s.when(p.Created), Refundable: p.State == domain.PaymentCompleted && p.Refunded < p.Amount}
	s.render(w, r, http.StatusOK, "portal_payment", pg)
}

func (s *Server) portalRefund(w http.ResponseWriter, r *http.Request, ss *session) {
	var amount uint64
	if a := strings.TrimSpace(r.PostFormValue("amount")); a != "" {
		var err error
		if amount, err = domain.ParseAmountIn(a, s.cfg.Currency); err != nil {
			s.failed(w, r, err)
			return
		}
	}
	id := r.PostFormValue("id")
	_, _, _, err := s.e.RefundPayment(r.Context(), engine.RefundRequest{Merchant: ss.Merchant, PaymentID: id, Amount: amount,
		Actor: "merchant:" + ss.MerchantCode + " (portal)"})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	back(w, r, "/portal/payment?id="+url.QueryEscape(id), "refunded")
}

// promoRow is a promotion as the portal lists it.
type promoRow struct {
	promo.Promotion
	Discount, Budget, Left, Start, End, State string
}

func (s *Server) portalPromotions(w http.ResponseWriter, r *http.Request, ss *session) {
	p := s.merchantPage(r, ss, "promotions")
	p.Done = doneOf(r)
	list, err := s.e.Promotions(ss.MerchantCode)
	if err != nil {
		p.Error = err.Error()
	}
	now := s.cfg.Now().UnixNano()
	rows := make([]promoRow, len(list))
	for i, pr := range list {
		rows[i] = promoRow{Promotion: pr, Budget: s.money(int64(pr.Budget)), Left: s.money(int64(s.e.BudgetLeft(pr))),
			Start: s.when(pr.Start), End: s.when(max(pr.End, pr.Ended)), State: tr(p.Lang, "running")}
		rows[i].Discount = strconv.FormatUint(pr.Percent, 10) + " %"
		if pr.Fixed != 0 {
			rows[i].Discount = s.money(int64(pr.Fixed))
		}
		switch {
		case pr.Ended != 0 || (pr.End != 0 && pr.End <= now):
			rows[i].State = tr(p.Lang, "ended")
		case pr.Start > now:
			rows[i].State = tr(p.Lang, "scheduled")
		}
	}
	p.Data = rows
	s.render(w, r, http.StatusOK, "portal_promotions", p)
}

func (s *Server) portalPromotionCreate(w http.ResponseWriter, r *http.Request, ss *session) {
	pr := promo.Promotion{Code: strings.ToUpper(strings.TrimSpace(r.PostFormValue("code"))), Name: strings.TrimSpace(r.PostFormValue("name")),
		WithCode: r.PostFormValue("with_code") == "on", Start: s.cfg.Now().UnixNano()}
	money := map[string]*uint64{"budget": &pr.Budget, "fixed": &pr.Fixed, "min": &pr.MinAmount}
	for field, dst := range money {
		if v := strings.TrimSpace(r.PostFormValue(field)); v != "" {
			n, err := domain.ParseAmountIn(v, s.cfg.Currency)
			if err != nil {
				s.failed(w, r, err)
				return
			}
			*dst = n
		}
	}
	if v := strings.TrimSpace(r.PostFormValue("percent")); v != "" {
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			s.refuse(w, r, http.StatusUnprocessableEntity, "percent: 1-100")
			return
		}
		pr.Percent = n
	}
	if _, err := s.e.CreatePromotion(r.Context(), ss.Merchant, pr, "merchant:"+ss.MerchantCode+" (portal)"); err != nil {
		s.failed(w, r, err)
		return
	}
	back(w, r, "/portal/promotions", "promo-created")
}

func (s *Server) portalPromotionEnd(w http.ResponseWriter, r *http.Request, ss *session) {
	if _, err := s.e.EndPromotion(r.Context(), ss.Merchant, r.PostFormValue("code"), "merchant:"+ss.MerchantCode+" (portal)"); err != nil {
		s.failed(w, r, err)
		return
	}
	back(w, r, "/portal/promotions", "promo-ended")
}

// texts are the portal's words, in English and French.
var texts = map[string]map[string]string{
	"en": {
		"portal": "Merchant portal", "payment": "Payment", "promotions": "Promotions", "sign_in": "Sign in", "api_key": "API key",
		"key_help": "Sign in with one of your API keys (mpg_…). It is never stored by this page.",
		"expired":  "This form has expired: send it again.", "too_many": "Too many attempts from your address: wait a minute.",
		"bad_key": "This key is not valid.", "no_figures": "Figures are not available yet.", "no_payment": "No such payment.",
		"takings": "Takings", "figures": "Figures", "balance": "Balance", "settlement_note": "This is your account's balance. Settlement to your bank account comes later: this page will show it then.",
		"points": "Loyalty points", "points_none": "No points rule of your own: the service's applies.", "points_per_unit": "points per 1.00 paid",
		"point_worth": "a point is worth", "when": "When", "amount": "Amount", "state": "State", "reference": "Reference", "payer": "Payer",
		"refunded": "Refunded", "refund": "Refund", "refund_help": "Empty: all that is left.", "product": "Product", "channel": "Channel",
		"payments": "Payments", "refused": "Refused", "fees": "Fees", "success": "Success rate", "change": "Against the previous period",
		"today": "Today", "d7": "7 days", "d30": "30 days", "show": "Show", "sign_out": "Sign out", "more": "The newest 100 payments of the period are shown.",
		"code": "Code", "name": "Name", "discount": "Discount", "budget": "Budget", "left": "Left", "start": "Start", "end": "End",
		"new_promo": "New promotion", "percent": "Percent", "fixed": "or fixed amount", "min": "Minimum payment", "with_code": "Only with the code",
		"create": "Create", "end_now": "End", "running": "running", "ended": "ended", "scheduled": "scheduled", "none": "None.",
		"receipt": "Receipt", "back": "Back", "refusals": "Refusals", "lang": "Français", "lang_code": "fr", "open": "Open",
	},
	"fr": {
		"portal": "Espace commerçant", "payment": "Paiement", "promotions": "Promotions", "sign_in": "Se connecter", "api_key": "Clé d'API",
		"key_help": "Connectez-vous avec une de vos clés d'API (mpg_…). Cette page ne la garde pas.",
		"expired":  "Ce formulaire a expiré : envoyez-le à nouveau.", "too_many": "Trop d'essais depuis votre adresse : attendez une minute.",
		"bad_key": "Cette clé n'est pas valide.", "no_figures": "Les chiffres ne sont pas encore disponibles.", "no_payment": "Paiement introuvable.",
		"takings": "Encaissements", "figures": "Chiffres", "balance": "Solde", "settlement_note": "C'est le solde de votre compte. Le reversement sur votre compte bancaire viendra plus tard : cette page le montrera alors.",
		"points": "Points de fidélité", "points_none": "Pas de règle de points propre : celle du service s'applique.", "points_per_unit": "points par 1,00 payé",
		"point_worth": "un point vaut", "when": "Date", "amount": "Montant", "state": "État", "reference": "Référence", "payer": "Payeur",
		"refunded": "Remboursé", "refund": "Rembourser", "refund_help": "Vide : tout ce qui reste.", "product": "Produit", "channel": "Canal",
		"payments": "Paiements", "refused": "Refusés", "fees": "Frais", "success": "Taux de succès", "change": "Par rapport à la période précédente",
		"today": "Aujourd'hui", "d7": "7 jours", "d30": "30 jours", "show": "Afficher", "sign_out": "Se déconnecter", "more": "Les 100 paiements les plus récents de la période sont affichés.",
		"code": "Code", "name": "Nom", "discount": "Remise", "budget": "Budget", "left": "Restant", "start": "Début", "end": "Fin",
		"new_promo": "Nouvelle promotion", "percent": "Pourcentage", "fixed": "ou montant fixe", "min": "Paiement minimum", "with_code": "Seulement avec le code",
		"create": "Créer", "end_now": "Terminer", "running": "en cours", "ended": "terminée", "scheduled": "à venir", "none": "Aucune.",
		"receipt": "Reçu", "back": "Retour", "refusals": "Refus", "lang": "English", "lang_code": "en", "open": "Ouvrir",
	},
}
