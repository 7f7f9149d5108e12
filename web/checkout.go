package web

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"

	"mpg/domain"
)

// The hosted checkout (Internet+ / MPME): the buyer sees who asks how much before anything
// happens, types his number, gets a code by SMS, types it, and is sent back to the merchant.
// Plain server-rendered HTML that works without JavaScript, one stylesheet of our own, no
// third-party assets. Forms carry a token that must match a SameSite=Strict cookie (CSRF);
// the pages refuse to be framed (clickjacking); a number is only ever shown masked.

//go:embed checkout/*.html checkout/style.css
var checkoutFiles embed.FS

var checkoutTmpl = template.Must(template.ParseFS(checkoutFiles, "checkout/page.html"))

const csrfCookie = "mpg_csrf"

// pageData is what the page shows.
type pageData struct {
	T          map[string]string
	Lang       string
	OtherLang  string
	ID         string
	Merchant   string
	Amount     string
	PayAmount  string // what the buyer pays: the amount less a promotion's discount
	Offer      string // the promotion's code and its discount, shown before the code is typed
	Discount   string
	Fee        string
	Reference  string
	Desc       string
	Step       string // phone, code, done, closed
	Masked     string // the number the code went to, masked
	Error      string
	Receipt    string
	ReturnURL  string
	CSRF       string
	StateText  string
	CanRetype  bool
	ExpiresMin int
}

func (s *Server) setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func (s *Server) checkoutStyle(w http.ResponseWriter, r *http.Request) {
	b, _ := checkoutFiles.ReadFile("checkout/style.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(b)
}

// lang is the page's language: ?lang=, the form's, or the browser's first choice of ours.
func lang(r *http.Request) string {
	for _, v := range []string{r.FormValue("lang"), r.URL.Query().Get("lang")} {
		if v == "fr" || v == "en" {
			return v
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		if strings.HasPrefix(tag, "fr") {
			return "fr"
		}
		if strings.HasPrefix(tag, "en") {
			return "en"
		}
	}
	return "en"
}

// csrfToken returns the request's token, or sets a new one.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	var b [16]byte
	rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/checkout/", HttpOnly: true,
		Secure: s.cfg.TLSCert != "" || strings.HasPrefix(s.cfg.PublicURL, "https://"), SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	return tok
}

// csrfOK checks a form post: its token equals the cookie's, and it comes from our origin.
func (s *Server) csrfOK(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) != 32 || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// checkoutSession is what one browser did on one checkout: the number it typed (so that only
// it sees that number, masked) and the refusal its last post met, shown once on the next GET.
type checkoutSession struct {
	msisdn  string
	refusal string
	offers  bool // the marketing box was ticked with the number: recorded once the code proves it
}

// maxSessions bounds the browser sessions kept; beyond it they start again empty (the
// number then shows as "the number typed", never to another browser).
const maxSessions = 100000

// session is the browser's record for checkout id, made if needed; nil without a session cookie.
// Call with s.mu held.
func (s *Server) session(r *http.Request, id string) *checkoutSession {
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) != 32 {
		return nil
	}
	k := c.Value + "/" + id
	cs, ok := s.sessions[k]
	if !ok {
		if len(s.sessions) >= maxSessions {
			clear(s.sessions)
		}
		cs = &checkoutSession{}
		s.sessions[k] = cs
	}
	return cs
}

// seen reads the browser's record for the page: the number it typed, and its last refusal
// (which it forgets, so that a reload shows the page as it is).
func (s *Server) seen(r *http.Request, id string) (msisdn, refusal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.session(r, id)
	if cs == nil {
		return "", ""
	}
	refusal, cs.refusal = cs.refusal, ""
	return cs.msisdn, refusal
}

// note records what a post of this browser did: the number it typed, or a refusal.
func (s *Server) note(r *http.Request, id, msisdn, refusal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.session(r, id); cs != nil {
		if msisdn != "" {
			cs.msisdn = msisdn
		}
		cs.refusal = refusal
	}
}

func (s *Server) checkoutPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	typed, refusal := s.seen(r, id)
	s.render(w, r, id, typed, refusal, http.StatusOK)
}

// render shows the checkout as its payment now is, with an error line if any; the number
// the code went to only to the browser that typed it (typed).
func (s *Server) render(w http.ResponseWriter, r *http.Request, id, typed, errText string, status int) {
	s.setPageHeaders(w)
	l := lang(r)
	t := texts[l]
	p, err := s.e.GetPayment(0, id)
	if err != nil || p.Channel != domain.ChannelWeb {
		w.WriteHeader(http.StatusNotFound)
		checkoutTmpl.Execute(w, pageData{T: t, Lang: l, Step: "closed", StateText: t["notfound"]})
		return
	}
	v := s.e.View(p)
	d := pageData{T: t, Lang: l, OtherLang: map[string]string{"en": "fr", "fr": "en"}[l], ID: p.ID, Merchant: p.MerchantName,
		Amount: s.money(p.Amount, l), PayAmount: s.money(p.Amount, l), Reference: p.Reference, Desc: p.Description, Error: errText,
		CSRF: s.csrfToken(w, r), ReturnURL: returnURL(p), Receipt: v.Receipt}
	if fee := s.e.FeeOf(domain.CodePay, p.Amount); fee > 0 {
		d.Fee = s.money(fee, l)
	}
	switch p.State {
	case domain.PaymentCreated:
		d.Step = "phone"
	case domain.PaymentAwaiting:
		d.Step, d.CanRetype = "code", p.CodesSent < domain.MaxPaymentTries
		if typed != "" && typed == p.MSISDN {
			d.Masked = domain.Mask(p.MSISDN)
			if code, off, ok := s.e.OfferFor(p); ok { // what confirming would pay now, shown to him only
				d.Offer, d.Discount, d.PayAmount = code, s.money(off, l), s.money(p.Amount-off, l)
			}
		}
	case domain.PaymentCompleted, domain.PaymentPartiallyRefunded, domain.PaymentRefunded:
		d.Step, d.StateText = "done", t["paid"]
	default:
		d.Step, d.StateText = "closed", t["state_"+string(p.State)]
	}
	if r.URL.Query().Get("retype") == "1" && p.State == domain.PaymentAwaiting && d.CanRetype {
		d.Step = "phone"
	}
	w.WriteHeader(status)
	if err := checkoutTmpl.Execute(w, d); err != nil {
		s.log.Sugar().Warnw("checkout page", "error", err)
	}
}

// returnURL is where the buyer goes back to, told which payment and how it ended.
func returnURL(p domain.Payment) string {
	if p.ReturnURL == "" {
		return ""
	}
	u, err := url.Parse(p.ReturnURL)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("payment", p.ID)
	q.Set("state", string(p.State))
	u.RawQuery = q.Encode()
	return u.String()
}

// money writes an amount as the page's language does: 4.50 EUR, 4,50 EUR.
func (s *Server) money(minor uint64, l string) string {
	mark := byte('.')
	if l == "fr" {
		mark = ','
	}
	return domain.Money{Minor: minor, Currency: s.cfg.Currency, Exponent: s.cfg.Exponent}.Format(mark)
}

func (s *Server) checkoutPhone(w http.ResponseWriter, r *http.Request) {
	s.post(w, r, func(id string) (string, error) {
		p, err := s.e.CheckoutPhone(r.Context(), id, r.PostFormValue("phone"), r.PostFormValue("company"), browserIP(r))
		if err == nil {
			s.noteOffers(r, id, r.PostFormValue("offers") == "yes")
		}
		return p.MSISDN, err
	})
}

func (s *Server) checkoutCode(w http.ResponseWriter, r *http.Request) {
	s.post(w, r, func(id string) (string, error) {
		p, err := s.e.CheckoutCode(r.Context(), id, strings.TrimSpace(r.PostFormValue("code")), browserIP(r))
		if err == nil {
			s.offersConsent(r, id, p.MSISDN)
		}
		return "", err
	})
}

// browserIP is the address a checkout step came from, kept (sealed for the payer) as dispute
// evidence: the host part of the connection's RemoteAddr. X-Forwarded-For and Forwarded are
// ignored on purpose: anyone can send them, and the web config has no trusted-proxy setting
// that would say which hop may be believed. Behind a reverse proxy this is the proxy's
// address until such a setting exists.
func browserIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr // no port: the address alone, or text the engine drops
	}
	return host
}

// post runs one step of the page (which returns the number typed, if any) and answers with
// a redirect to the page, a refusal too (kept in the browser's session and shown on the
// next GET), so that reloading the page never submits a number or a code again. Only a
// forged post (no session cookie or token) is answered 403 at once.
func (s *Server) post(w http.ResponseWriter, r *http.Request, step func(id string) (string, error)) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil || !s.csrfOK(r) {
		s.setPageHeaders(w)
		w.WriteHeader(http.StatusForbidden)
		t := texts[lang(r)]
		checkoutTmpl.Execute(w, pageData{T: t, Lang: lang(r), Step: "closed", StateText: t["csrf"]})
		return
	}
	msisdn, err := step(id)
	refusal := ""
	if err != nil {
		msisdn, refusal = "", s.refusalText(r, id, err)
	}
	s.note(r, id, msisdn, refusal)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/checkout/"+id+"?lang="+lang(r), http.StatusSeeOther)
}

// refusalText is the page's line for a step the engine refused.
func (s *Server) refusalText(r *http.Request, id string, err error) string {
	t := texts[lang(r)]
	var pe *domain.PaymentError
	if !errors.As(err, &pe) {
		s.log.Sugar().Warnw("checkout step", "payment", id, "error", err)
		return t["busy"]
	}
	msg := t["err_"+string(pe.Code)]
	if msg == "" {
		msg = t["err_other"]
	}
	if pe.Code == domain.CodeWrongCode {
		msg = strings.ReplaceAll(msg, "{n}", string(rune('0'+max(0, pe.Left))))
	}
	return msg
}
