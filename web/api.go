package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"mpg/domain"
	"mpg/engine"
)

// merchant authenticates the request by a merchant's API key and applies its rate.
func (s *Server) merchant(h func(http.ResponseWriter, *http.Request, domain.Account)) http.Handler {
	return s.keyed(domain.KindMerchant, h)
}

// company authenticates the request by a company's own API key (Internet+ Pro).
func (s *Server) company(h func(http.ResponseWriter, *http.Request, domain.Account)) http.Handler {
	return s.keyed(domain.KindCompany, h)
}

// keyed authenticates the request by its API key, which must be of an account of kind, and
// applies that account's rate.
func (s *Server) keyed(kind domain.Kind, h func(http.ResponseWriter, *http.Request, domain.Account)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			s.fail(w, r, domain.PaymentErr(domain.CodeUnauthorized, "send the API key as Authorization: Bearer <key>"))
			return
		}
		m, err := s.e.Authenticate(strings.TrimSpace(key))
		if err != nil {
			if errors.Is(err, engine.ErrBadKey) {
				err = domain.PaymentErr(domain.CodeUnauthorized, "invalid or revoked API key")
			}
			s.fail(w, r, err)
			return
		}
		if m.Kind != kind {
			s.fail(w, r, domain.PaymentErr(domain.CodeUnauthorized, "this endpoint needs the key of a "+kind.String()))
			return
		}
		if !s.limiter(m.ID).Allow() {
			w.Header().Set("Retry-After", "1")
			s.fail(w, r, domain.PaymentErr(domain.CodeRateLimited, fmt.Sprintf("at most %d requests per second", s.cfg.RatePerS)))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		h(w, r, m)
	})
}

// maxLimiters bounds the rate limiters kept; beyond it they start again from full.
const maxLimiters = 100000

func (s *Server) limiter(m uint64) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.limiters[m]
	if !ok {
		if len(s.limiters) >= maxLimiters {
			clear(s.limiters)
		}
		l = rate.NewLimiter(rate.Limit(s.cfg.RatePerS), s.cfg.Burst)
		s.limiters[m] = l
	}
	return l
}

// apiError is the body of every refusal.
type apiError struct {
	Error struct {
		Code      domain.ErrorCode `json:"code"`
		Message   string           `json:"message"`
		TriesLeft *int             `json:"tries_left,omitempty"`
	} `json:"error"`
}

// statusOf is the HTTP status that fits a stable error code.
var statusOf = map[domain.ErrorCode]int{
	domain.CodeInvalidRequest:      http.StatusBadRequest,
	domain.CodeUnauthorized:        http.StatusUnauthorized,
	domain.CodeAccountBlocked:      http.StatusForbidden,
	domain.CodeNotFound:            http.StatusNotFound,
	domain.CodeSubscriberNotFound:  http.StatusNotFound,
	domain.CodeDuplicateRequest:    http.StatusConflict,
	domain.CodeInvalidState:        http.StatusConflict,
	domain.CodeAlreadyReversed:     http.StatusConflict,
	domain.CodeDisputeOpen:         http.StatusConflict,
	domain.CodeTooLate:             http.StatusUnprocessableEntity,
	domain.CodeAccountLocked:       http.StatusForbidden,
	domain.CodeCreditOverdue:       http.StatusUnprocessableEntity,
	domain.CodeIdempotencyMismatch: http.StatusUnprocessableEntity,
	domain.CodeInsufficientFunds:   http.StatusUnprocessableEntity,
	domain.CodeLimitExceeded:       http.StatusUnprocessableEntity,
	domain.CodeRefundTooLarge:      http.StatusUnprocessableEntity,
	domain.CodeWrongCode:           http.StatusUnprocessableEntity,
	domain.CodeDeclined:            http.StatusUnprocessableEntity,
	domain.CodeRateLimited:         http.StatusTooManyRequests,
	domain.CodeTooManyCodes:        http.StatusTooManyRequests,
	domain.CodeUnavailable:         http.StatusServiceUnavailable,
	codeMethodNotAllowed:           http.StatusMethodNotAllowed,
	codeUnsupportedMedia:           http.StatusUnsupportedMediaType,
}

// The API's own refusals of a request's form, before any merchant rule.
const (
	codeMethodNotAllowed domain.ErrorCode = "method_not_allowed"
	codeUnsupportedMedia domain.ErrorCode = "unsupported_media_type"
)

// fail answers an error as JSON with its stable code; anything that is not a refusal is a
// 503 (the engine was busy: retry) or a 500, logged without the request's body.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var body apiError
	code := domain.CodeOf(err)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		code, err = domain.CodeInvalidRequest, fmt.Errorf("the body is larger than %d bytes", s.cfg.MaxBodyBytes)
	case code == "" && errors.Is(err, engine.ErrBusy):
		code, err = domain.CodeUnavailable, errors.New("busy: try again")
		w.Header().Set("Retry-After", "1")
	case code == "":
		s.log.Error("merchant API", zap.String("route", r.Pattern), zap.Error(err))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":{"code":"internal","message":"internal error"}}` + "\n"))
		return
	}
	body.Error.Code = code
	body.Error.Message = err.Error()
	var pe *domain.PaymentError
	if errors.As(err, &pe) {
		body.Error.Message = pe.Detail
		if pe.Code == domain.CodeWrongCode {
			body.Error.TriesLeft = &pe.Left
		}
	}
	status := statusOf[code]
	if status == 0 {
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// amountField reads an amount written as a decimal string ("4.50"), as openapi.yaml and the
// GSMA API write it. A number, null or "" is refused: only leaving the field out means
// "not given" (all of it, for a refund or a capture).
type amountField struct {
	text string
	set  bool
}

func (a *amountField) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &a.text); err != nil || string(b) == "null" || a.text == "" {
		return errors.New("amount: a decimal string like \"4.50\" (leave the field out to mean all of it)")
	}
	a.set = true
	return nil
}

func (s *Server) amount(a amountField, currency string, required bool) (uint64, error) {
	if currency != "" && currency != s.cfg.Currency {
		return 0, domain.PaymentErr(domain.CodeInvalidRequest, "currency: only "+s.cfg.Currency+" is accepted")
	}
	if !a.set && !required {
		return 0, nil
	}
	v, err := domain.ParseAmount(a.text, s.cfg.Exponent)
	if err != nil {
		return 0, domain.PaymentErr(domain.CodeInvalidRequest, err.Error())
	}
	return v, nil
}

// readBody decodes a JSON body strictly (one JSON value, no unknown field, nothing after it),
// and returns its bytes for the idempotency hash. A body said to be anything but JSON is 415.
func readBody(r *http.Request, v any) ([]byte, error) {
	if err := jsonContent(r); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return b, nil // no body: every field absent
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return nil, domain.PaymentErr(domain.CodeInvalidRequest, "body: "+err.Error())
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, domain.PaymentErr(domain.CodeInvalidRequest, "body: one JSON object and nothing after it")
	}
	return b, nil
}

// jsonContent refuses a body whose Content-Type is not JSON; a body without one is read as JSON.
func jsonContent(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return domain.PaymentErr(codeUnsupportedMedia, "Content-Type: application/json")
	}
	return nil
}

// idempotency reads the client's key (Idempotency-Key, or X-Correlation-ID as the GSMA API
// names it) and marks it running; done must be called when the request ends. A second
// request with the key while the first runs is refused with 409.
func (s *Server) idempotency(r *http.Request, m uint64, body []byte) (engine.Idempotency, func(), error) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		key = r.Header.Get("X-Correlation-ID")
	}
	if key == "" {
		return engine.Idempotency{}, func() {}, nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.Path)
	h.Write(body)
	id := engine.Idempotency{Key: key, BodyHash: hex.EncodeToString(h.Sum(nil))}
	running := strconv.FormatUint(m, 10) + "\x00" + key
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[running] {
		return id, nil, domain.PaymentErr(domain.CodeDuplicateRequest, "a request with this idempotency key is still running")
	}
	s.inflight[running] = true
	return id, func() {
		s.mu.Lock()
		delete(s.inflight, running)
		s.mu.Unlock()
	}, nil
}

func actor(m domain.Account) string { return "merchant:" + m.Owner }

type createRequest struct {
	MSISDN      string      `json:"msisdn"`
	Amount      amountField `json:"amount"`
	Currency    string      `json:"currency"`
	Reference   string      `json:"reference"`
	Description string      `json:"description"`
	ReturnURL   string      `json:"return_url"`
	// Method "bank" asks the subscriber to pay from his linked bank account (mDebit).
	Method string `json:"method"`
}

func (s *Server) createPayment(w http.ResponseWriter, r *http.Request, m domain.Account) {
	s.create(w, r, m, false)
}

func (s *Server) createCheckout(w http.ResponseWriter, r *http.Request, m domain.Account) {
	s.create(w, r, m, true)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, m domain.Account, checkout bool) {
	var req createRequest
	body, err := readBody(r, &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case checkout && req.MSISDN != "":
		err = domain.PaymentErr(domain.CodeInvalidRequest, "a checkout has no msisdn: the buyer types it on the page")
	case !checkout && req.MSISDN == "":
		err = domain.PaymentErr(domain.CodeInvalidRequest, "msisdn: the subscriber to ask")
	case !checkout && req.ReturnURL != "":
		err = domain.PaymentErr(domain.CodeInvalidRequest, "return_url is for checkouts")
	case req.Method != "" && req.Method != "purse" && (checkout || (req.Method != "bank" && req.Method != "credit")):
		err = domain.PaymentErr(domain.CodeInvalidRequest, `method: "purse" (default), "bank" or "credit" for a request to pay`)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	amount, err := s.amount(req.Amount, req.Currency, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	idem, done, err := s.idempotency(r, m.ID, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer done()
	p, replay, err := s.e.CreatePayment(r.Context(), engine.CreatePayment{Merchant: m.ID, MSISDN: req.MSISDN, Amount: amount,
		Reference: req.Reference, Description: req.Description, ReturnURL: req.ReturnURL, Actor: actor(m), Bank: req.Method == "bank", Credit: req.Method == "credit", Idempotency: idem})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.answerPayment(w, p, replay, http.StatusCreated)
}

func (s *Server) answerPayment(w http.ResponseWriter, p domain.Payment, replay bool, status int) {
	if replay {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", "/v1/payments/"+p.ID)
	writeJSON(w, status, s.e.View(p))
}

// answer is a step's outcome: the payment as it is now, or the refusal.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, p domain.Payment, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.e.View(p))
}

func (s *Server) getPayment(w http.ResponseWriter, r *http.Request, m domain.Account) {
	p, err := s.e.GetPayment(m.ID, r.PathValue("id"))
	s.answer(w, r, p, err)
}

func (s *Server) cancelPayment(w http.ResponseWriter, r *http.Request, m domain.Account) {
	p, err := s.e.CancelPayment(r.Context(), actor(m), m.ID, r.PathValue("id"))
	s.answer(w, r, p, err)
}

// amountRequest is the body of a refund or a capture: absent amount, all of it.
type amountRequest struct {
	Amount   amountField `json:"amount"`
	Currency string      `json:"currency"`
}

func (s *Server) capturePayment(w http.ResponseWriter, r *http.Request, m domain.Account) {
	var req amountRequest
	if _, err := readBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	amount, err := s.amount(req.Amount, req.Currency, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.e.CaptureHold(r.Context(), actor(m), m.ID, r.PathValue("id"), amount)
	s.answer(w, r, p, err)
}

func (s *Server) voidPayment(w http.ResponseWriter, r *http.Request, m domain.Account) {
	p, err := s.e.VoidHold(r.Context(), actor(m), m.ID, r.PathValue("id"))
	s.answer(w, r, p, err)
}

func (s *Server) refundPayment(w http.ResponseWriter, r *http.Request, m domain.Account) {
	var req amountRequest
	body, err := readBody(r, &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	amount, err := s.amount(req.Amount, req.Currency, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	idem, done, err := s.idempotency(r, m.ID, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer done()
	p, refund, replay, err := s.e.RefundPayment(r.Context(), engine.RefundRequest{Merchant: m.ID, PaymentID: r.PathValue("id"),
		Amount: amount, Actor: actor(m), Idempotency: idem})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if replay {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	view := s.e.View(p)
	writeJSON(w, http.StatusCreated, struct {
		Refund  engine.RefundView  `json:"refund"`
		Payment engine.PaymentView `json:"payment"`
	}{view.Refunds[indexOf(p.Refunds, refund.ID)], view})
}

func indexOf(rs []domain.Refund, id string) int {
	for i, r := range rs {
		if r.ID == id {
			return i
		}
	}
	return len(rs) - 1
}

// listPayments is reconciliation: a merchant's payments by creation time and reference,
// paged by cursor, in JSON or CSV (format=csv or Accept: text/csv).
func (s *Server) listPayments(w http.ResponseWriter, r *http.Request, m domain.Account) {
	q := r.URL.Query()
	var f engine.PaymentFilter
	for name, dst := range map[string]*int64{"from": &f.From, "to": &f.To} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, name+": an RFC 3339 time like 2026-12-01T00:00:00Z"))
				return
			}
			*dst = t.UnixNano()
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.fail(w, r, domain.PaymentErr(domain.CodeInvalidRequest, "limit: 1 to 1000"))
			return
		}
		f.Limit = n
	}
	f.Reference, f.After = q.Get("reference"), q.Get("cursor")
	ps, next, err := s.e.ListPayments(m.ID, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	views := make([]engine.PaymentView, len(ps))
	for i, p := range ps {
		views[i] = s.e.View(p)
	}
	if next != "" {
		w.Header().Set("X-Next-Cursor", next)
	}
	if q.Get("format") == "csv" || strings.Contains(r.Header.Get("Accept"), "text/csv") {
		writeCSV(w, views)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Payments   []engine.PaymentView `json:"payments"`
		NextCursor string               `json:"next_cursor,omitempty"`
	}{views, next})
}

func writeCSV(w http.ResponseWriter, views []engine.PaymentView) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	engine.WriteReconciliationCSV(w, views)
}

func writeRows(w http.ResponseWriter, rows [][]string) {
	c := csv.NewWriter(w)
	c.WriteAll(rows)
}

// csvSafe keeps a merchant's reference from being read as a formula by a spreadsheet.
func csvSafe(s string) string { return engine.CSVSafe(s) }
