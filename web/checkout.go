package web

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
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

func (s *Server) checkoutPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, r.PathValue("id"), "", http.StatusOK)
}

// render shows the checkout as its payment now is, with an error line if any.
func (s *Server) render(w http.ResponseWriter, r *http.Request, id, errText string, status int) {
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
		Amount: s.money(p.Amount, l), Reference: p.Reference, Desc: p.Description, Error: errText,
		CSRF: s.csrfToken(w, r), ReturnURL: returnURL(p), Receipt: v.Receipt}
	if fee := s.e.FeeOf(domain.CodePay, p.Amount); fee > 0 {
		d.Fee = s.money(fee, l)
	}
	switch p.State {
	case domain.PaymentCreated:
		d.Step = "phone"
	case domain.PaymentAwaiting:
		d.Step, d.Masked, d.CanRetype = "code", domain.Mask(p.MSISDN), p.CodesSent < domain.MaxPaymentTries
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
	s.post(w, r, func(id string) error {
		_, err := s.e.CheckoutPhone(r.Context(), id, r.PostFormValue("phone"), r.PostFormValue("company"))
		return err
	})
}

func (s *Server) checkoutCode(w http.ResponseWriter, r *http.Request) {
	s.post(w, r, func(id string) error {
		_, err := s.e.CheckoutCode(r.Context(), id, strings.TrimSpace(r.PostFormValue("code")))
		return err
	})
}

// post runs one step of the page: a refusal is shown on the page; success goes back to
// the page by a redirect, so that reloading it never submits twice.
func (s *Server) post(w http.ResponseWriter, r *http.Request, step func(id string) error) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil || !s.csrfOK(r) {
		s.setPageHeaders(w)
		w.WriteHeader(http.StatusForbidden)
		t := texts[lang(r)]
		checkoutTmpl.Execute(w, pageData{T: t, Lang: lang(r), Step: "closed", StateText: t["csrf"]})
		return
	}
	if err := step(id); err != nil {
		t := texts[lang(r)]
		var pe *domain.PaymentError
		msg := t["busy"]
		status := http.StatusServiceUnavailable
		if errors.As(err, &pe) {
			msg, status = t["err_"+string(pe.Code)], statusOf[pe.Code]
			if msg == "" {
				msg = t["err_other"]
			}
			if pe.Code == domain.CodeWrongCode {
				msg = strings.ReplaceAll(msg, "{n}", string(rune('0'+max(0, pe.Left))))
			}
		} else {
			s.log.Sugar().Warnw("checkout step", "payment", id, "error", err)
		}
		s.render(w, r, id, msg, max(status, 400))
		return
	}
	http.Redirect(w, r, "/checkout/"+id+"?lang="+lang(r), http.StatusSeeOther)
}
