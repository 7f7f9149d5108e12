package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"mpg/domain"
	"mpg/engine"
)

// Cookies: the session, and before it the sign-in form's own token (login CSRF).
const (
	sessionCookie = "mpg_console"
	preCookie     = "mpg_console_pre"
)

// maxSessions bounds the sessions kept; expired ones are dropped first.
const maxSessions = 10000

// maxForm bounds a form's body.
const maxForm = 64 << 10

// session is one signed-in browser: an operator (User, Role) or a merchant (Merchant).
type session struct {
	id            string
	User          string
	Role          engine.ConsoleRole
	Merchant      uint64
	MerchantCode  string
	MerchantName  string
	Lang          string
	keyID         string // the API key a merchant signed in with (its id, never the key)
	created, seen time.Time
}

func (ss *session) operator() bool { return ss.User != "" }

// access is what a route needs.
type access int

const (
	public access = iota
	needViewer
	needOperator
	needAdmin
	needMerchant
	needSession // any signed-in person: an operator or a merchant
)

func (a access) role() engine.ConsoleRole {
	return map[access]engine.ConsoleRole{needViewer: engine.RoleViewer, needOperator: engine.RoleOperator, needAdmin: engine.RoleAdmin}[a]
}

// route is one page or action and what it needs.
type route struct {
	method, path string
	need         access
	h            func(w http.ResponseWriter, r *http.Request, ss *session)
}

// randomID is 256 random bits, URL-safe.
func randomID() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// token is the HMAC of a label and a value under the console's key.
func (s *Server) token(label, v string) string {
	m := hmac.New(sha256.New, s.cfg.Key)
	m.Write([]byte(label + "\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) csrf(ss *session) string { return s.token("csrf", ss.id) }

func sameToken(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteStrictMode}
}

// lookup finds the request's live session, ending it when it expired, its user was
// disabled or its merchant's key revoked. It returns a copy: handlers never share it.
func (s *Server) lookup(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	now := s.cfg.Now()
	s.mu.Lock()
	ss := s.sessions[c.Value]
	if ss != nil && (now.Sub(ss.seen) > s.cfg.SessionTTL || now.Sub(ss.created) > s.cfg.SessionMax) {
		delete(s.sessions, c.Value)
		ss = nil
	}
	var cp session
	if ss != nil {
		ss.seen = now
		cp = *ss
	}
	s.mu.Unlock()
	if ss == nil {
		return nil
	}
	if !s.stillAllowed(&cp) {
		s.end(cp.id)
		return nil
	}
	return &cp
}

// stillAllowed reads again who the session is: a disabled user, or a merchant whose key
// was revoked, is out at his next request; an operator's role is the record's.
func (s *Server) stillAllowed(ss *session) bool {
	if !ss.operator() {
		keys, err := s.e.APIKeys(ss.Merchant)
		for _, k := range keys {
			if k.ID == ss.keyID {
				return err == nil && k.Revoked == 0
			}
		}
		return false
	}
	u, found, err := s.e.ConsoleUserOf(ss.User)
	if err != nil || !found || u.Disabled != 0 {
		return false
	}
	ss.Role = u.Role
	return true
}

// setLang keeps the language a merchant chose for the rest of the session.
func (s *Server) setLang(id, lang string) {
	s.mu.Lock()
	if ss := s.sessions[id]; ss != nil {
		ss.Lang = lang
	}
	s.mu.Unlock()
}

// start opens a new session (a fresh id: one known before sign-in is never kept).
func (s *Server) start(w http.ResponseWriter, ss *session) {
	now := s.cfg.Now()
	ss.id, ss.created, ss.seen = randomID(), now, now
	s.mu.Lock()
	if len(s.sessions) >= maxSessions {
		s.sweep(now)
	}
	s.sessions[ss.id] = ss
	s.mu.Unlock()
	http.SetCookie(w, s.cookie(sessionCookie, ss.id, 0))
	http.SetCookie(w, s.cookie(preCookie, "", -1))
}

// sweep drops expired sessions, and the oldest if still full; s.mu is held.
func (s *Server) sweep(now time.Time) {
	var oldest *session
	for id, ss := range s.sessions {
		if now.Sub(ss.seen) > s.cfg.SessionTTL || now.Sub(ss.created) > s.cfg.SessionMax {
			delete(s.sessions, id)
		} else if oldest == nil || ss.seen.Before(oldest.seen) {
			oldest = ss
		}
	}
	if len(s.sessions) >= maxSessions && oldest != nil {
		delete(s.sessions, oldest.id)
	}
}

func (s *Server) end(id string) {
	s.mu.Lock()
	delete(s.sessions, id)
	s.mu.Unlock()
}

// guard wraps a route: security headers, then the session, the form's token and origin,
// and the role the route needs.
func (s *Server) guard(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if !sameOrigin(r, s.cfg.SecureCookies) {
				s.refuse(w, r, http.StatusForbidden, "This form was sent from another site.")
				return
			}
		}
		if rt.need == public {
			rt.h(w, r, nil)
			return
		}
		ss := s.lookup(r)
		if ss == nil {
			s.signIn(w, r, rt.need)
			return
		}
		if r.Method == http.MethodPost && !sameToken(r.PostFormValue("csrf"), s.csrf(ss)) {
			s.refuse(w, r, http.StatusForbidden, "This form has expired: go back, reload the page and send it again.")
			return
		}
		if !allowed(ss, rt.need) {
			s.refuse(w, r, http.StatusForbidden, "Your role does not allow this.")
			return
		}
		rt.h(w, r, ss)
	}
}

// allowed says whether a session may use a route that needs need.
func allowed(ss *session, need access) bool {
	switch need {
	case needMerchant:
		return !ss.operator() && ss.Merchant != 0
	case needSession:
		return true
	}
	return ss.operator() && ss.Role.Allows(need.role())
}

// signIn answers a request that has no session: a page goes to the sign-in form, an action
// is refused.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, need access) {
	if r.Method != http.MethodGet {
		s.refuse(w, r, http.StatusUnauthorized, "Sign in first.")
		return
	}
	to := "/login"
	if need == needMerchant {
		to = "/portal/login"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// headers are sent with every answer: no script, no framing, no caching of what a signed-in
// person saw.
func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// sameOrigin checks a form's Origin, or its Referer, when the browser sent one; behind a
// proxy that serves TLS (secure cookies), the site's scheme is https.
func sameOrigin(r *http.Request, https bool) bool {
	scheme := "http"
	if r.TLS != nil || https {
		scheme = "https"
	}
	want := scheme + "://" + r.Host
	if o := r.Header.Get("Origin"); o != "" {
		return o == want
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Scheme+"://"+u.Host == want
	}
	return true
}

// preToken is the sign-in form's token, bound to a cookie set before any session: a form
// on another site cannot sign a browser in to the attacker's account.
func (s *Server) preToken(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(preCookie)
	v := ""
	if err == nil && len(c.Value) == 43 {
		v = c.Value
	} else {
		v = randomID()
		http.SetCookie(w, s.cookie(preCookie, v, 3600))
	}
	return s.token("login", v)
}

func (s *Server) preTokenOK(r *http.Request) bool {
	c, err := r.Cookie(preCookie)
	return err == nil && c.Value != "" && sameToken(r.PostFormValue("csrf"), s.token("login", c.Value))
}

// maxLimiters bounds the addresses whose sign-in attempts are counted.
const maxLimiters = 10000

// loginAllowed spends one sign-in attempt of the request's address.
func (s *Server) loginAllowed(r *http.Request) bool {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.limiters[ip]
	if l == nil {
		if len(s.limiters) >= maxLimiters {
			clear(s.limiters)
		}
		l = rate.NewLimiter(rate.Limit(float64(s.cfg.LoginsPerMinute)/60), s.cfg.LoginsPerMinute)
		s.limiters[ip] = l
	}
	return l.AllowN(s.cfg.Now(), 1)
}

// login signs an operator in.
func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *session) {
	if r.Method == http.MethodGet {
		s.render(w, r, http.StatusOK, "login", page{Title: "Sign in", CSRF: s.preToken(w, r)})
		return
	}
	fail := func(code int, msg string) {
		s.render(w, r, code, "login", page{Title: "Sign in", CSRF: s.preToken(w, r), Error: msg})
	}
	if !s.preTokenOK(r) {
		fail(http.StatusForbidden, "This form has expired: send it again.")
		return
	}
	if !s.loginAllowed(r) {
		fail(http.StatusTooManyRequests, "Too many attempts from your address: wait a minute.")
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	u, err := s.e.ConsoleLogin(r.Context(), name, r.PostFormValue("password"))
	switch {
	case errors.Is(err, engine.ErrConsoleLogin), errors.Is(err, engine.ErrConsoleLocked):
		s.log.Info("console sign-in refused", zap.String("user", cut(name, 32)), zap.String("why", err.Error()))
		fail(http.StatusUnauthorized, capital(err.Error())+".")
		return
	case err != nil:
		s.log.Error("console sign-in", zap.Error(err))
		fail(http.StatusServiceUnavailable, "The console cannot sign you in now: try again.")
		return
	}
	s.start(w, &session{User: u.Name, Role: u.Role})
	s.log.Info("console sign-in", zap.String("user", u.Name), zap.String("role", string(u.Role)))
	http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
}

// portalLogin signs a merchant in with one of its API keys.
func (s *Server) portalLogin(w http.ResponseWriter, r *http.Request, _ *session) {
	lang := s.langOf(r, nil)
	p := page{Title: tr(lang, "portal"), Lang: lang, T: texts[lang]}
	if r.Method == http.MethodGet {
		p.CSRF = s.preToken(w, r)
		s.render(w, r, http.StatusOK, "portal_login", p)
		return
	}
	fail := func(code int, msg string) {
		p.CSRF, p.Error = s.preToken(w, r), msg
		s.render(w, r, code, "portal_login", p)
	}
	if !s.preTokenOK(r) {
		fail(http.StatusForbidden, tr(lang, "expired"))
		return
	}
	if !s.loginAllowed(r) {
		fail(http.StatusTooManyRequests, tr(lang, "too_many"))
		return
	}
	m, err := s.e.Authenticate(strings.TrimSpace(r.PostFormValue("key")))
	if err != nil || m.Kind != domain.KindMerchant || m.Status != domain.StatusActive {
		fail(http.StatusUnauthorized, tr(lang, "bad_key"))
		return
	}
	s.start(w, &session{Merchant: m.ID, MerchantCode: m.Owner, MerchantName: m.Name, Lang: lang, keyID: keyID(r.PostFormValue("key"))})
	s.log.Info("portal sign-in", zap.String("merchant", m.Owner))
	http.Redirect(w, r, "/portal", http.StatusSeeOther)
}

// keyID is the id part of an API key (mpg_<id>_<secret>).
func keyID(key string) string {
	parts := strings.Split(strings.TrimSpace(key), "_")
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}

// logout ends the session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, ss *session) {
	s.end(ss.id)
	http.SetCookie(w, s.cookie(sessionCookie, "", -1))
	to := "/login"
	if !ss.operator() {
		to = "/portal/login"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// cut clips a string for the log.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
