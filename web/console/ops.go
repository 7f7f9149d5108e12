package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"mpg/domain"
	"mpg/engine"
)

// The operator console's pages besides the dashboard: a payment, the fraud queue, a
// subscriber and the console's users. Every action names its author in the audit trail as
// console:<name>.

func actorOf(ss *session) string { return "console:" + ss.User }

// done is the fixed text an action's redirect shows (never text from the request).
var done = map[string]string{
	"reversed": "The payment was reversed.", "released": "The payment was released.", "declined": "The payment was declined.",
	"reset-pin": "The PIN was reset: the subscriber was texted a one-time code.", "unlock": "The PIN lockout was ended.",
	"block": "The purse is blocked: no payment out until it is unblocked.", "unblock": "The purse is unblocked.",
	"tier": "The tier was changed.", "topup": "The purse was topped up.", "user-added": "The console user was added.",
	"user-disabled": "The console user was disabled.", "refunded": "Le remboursement est fait. / The refund is done.",
	"promo-created": "✓", "promo-ended": "✓",
}

// back redirects after an action to a page saying what was done.
func back(w http.ResponseWriter, r *http.Request, to, what string) {
	u, _ := url.Parse(to)
	q := u.Query()
	q.Set("done", what)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func doneOf(r *http.Request) string { return done[r.URL.Query().Get("done")] }

// failed answers an action the engine refused, with its reason.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Info("console action refused", zap.String("path", r.URL.Path), zap.Error(err))
	status := http.StatusUnprocessableEntity
	if domain.CodeOf(err) == domain.CodeNotFound {
		status = http.StatusNotFound
	}
	s.refuse(w, r, status, err.Error())
}

// paymentView is a payment as the console shows it.
type paymentView struct {
	engine.PaymentView
	Fee      string
	Messages []engine.MessageFact
	Scanned  int
}

func (s *Server) payment(w http.ResponseWriter, r *http.Request, ss *session) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	if id == "" {
		s.render(w, r, http.StatusOK, "payment", page{Title: "Payment", S: ss})
		return
	}
	p, err := s.e.GetPayment(0, id)
	if err != nil {
		s.render(w, r, http.StatusNotFound, "payment", page{Title: "Payment", S: ss, Error: "No payment " + id + "."})
		return
	}
	masked := !ss.Role.Allows(engine.RoleOperator)
	v := paymentView{PaymentView: s.e.View(p), Fee: s.money(int64(p.Fee))}
	v.MSISDN = p.MSISDN
	if masked {
		v.MSISDN = domain.Mask(p.MSISDN)
	}
	v.Messages, v.Scanned, err = s.e.PaymentMessages(p, masked, 5000)
	if err != nil {
		s.log.Warn("console payment messages", zap.Error(err))
	}
	s.render(w, r, http.StatusOK, "payment", page{Title: "Payment " + id, S: ss, Data: v, Done: doneOf(r)})
}

func (s *Server) reverse(w http.ResponseWriter, r *http.Request, ss *session) {
	id := r.PostFormValue("id")
	if _, err := s.e.ReversePayment(r.Context(), actorOf(ss), id); err != nil {
		s.failed(w, r, err)
		return
	}
	back(w, r, "/payment?id="+url.QueryEscape(id), "reversed")
}

func (s *Server) fraud(w http.ResponseWriter, r *http.Request, ss *session) {
	p := page{Title: "Fraud queue", S: ss, Done: doneOf(r)}
	if s.in == nil {
		p.Error = "The fraud queue is not available yet."
	} else if q, err := s.in.FraudQueue(r.Context(), maxFraudShown); err != nil {
		s.log.Warn("console fraud queue", zap.Error(err))
		p.Error = "The fraud queue could not be read now."
	} else {
		p.Data = s.fraudRows(q)
	}
	s.render(w, r, http.StatusOK, "fraud", p)
}

// fraudRow is one case as the queue shows it.
type fraudRow struct {
	FraudCase
	Money, When string
}

func (s *Server) fraudRows(q []FraudCase) []fraudRow {
	out := make([]fraudRow, len(q))
	for i, c := range q {
		out[i] = fraudRow{FraudCase: c, Money: s.money(c.Amount), When: s.when(c.At.UnixNano())}
	}
	return out
}

func (s *Server) fraudDecide(w http.ResponseWriter, r *http.Request, ss *session) {
	release := r.PostFormValue("decision") == "release"
	if !release && r.PostFormValue("decision") != "decline" {
		s.refuse(w, r, http.StatusBadRequest, "Release or decline.")
		return
	}
	if s.in == nil {
		s.refuse(w, r, http.StatusServiceUnavailable, "The fraud queue is not available yet.")
		return
	}
	if err := s.in.FraudDecide(r.Context(), actorOf(ss), r.PostFormValue("id"), release); err != nil {
		s.failed(w, r, err)
		return
	}
	what := "declined"
	if release {
		what = "released"
	}
	back(w, r, "/fraud", what)
}

// subscriberView is a subscriber as the console shows him: never his PIN or its MAC.
type subscriberView struct {
	MSISDN, Shown string
	State         engine.State
	Registered    bool
	Accounts      []accountRow
	Locked        string
}

type accountRow struct {
	ID                    uint64
	Kind, Status, Balance string
	Tier                  uint8
}

func (s *Server) subscriber(w http.ResponseWriter, r *http.Request, ss *session) {
	p := page{Title: "Subscriber", S: ss, Done: doneOf(r)}
	raw := strings.TrimSpace(r.URL.Query().Get("msisdn"))
	if raw != "" {
		v, err := s.subscriberOf(raw, !ss.Role.Allows(engine.RoleOperator))
		if err != nil {
			p.Error = err.Error()
		} else {
			p.Data = v
		}
	}
	s.render(w, r, http.StatusOK, "subscriber", p)
}

func (s *Server) subscriberOf(raw string, masked bool) (subscriberView, error) {
	n, err := domain.ParseMSISDN(raw, s.e.Region())
	if err != nil {
		return subscriberView{}, errors.New("That is not a phone number.")
	}
	v := subscriberView{MSISDN: n, Shown: n}
	if masked {
		v.Shown = domain.Mask(n)
	}
	if v.State, v.Registered, err = s.e.StateOf(n); err != nil {
		return v, err
	}
	if v.State.LockedForever {
		v.Locked = "until an operator unlocks"
	} else if v.State.LockedUntil != 0 {
		v.Locked = "until " + s.when(v.State.LockedUntil)
	}
	for _, a := range s.e.AccountsOf(n) {
		v.Accounts = append(v.Accounts, accountRow{ID: a.ID, Kind: a.Kind.String(), Status: a.Status.String(), Tier: a.Tier,
			Balance: s.money(a.Available())})
	}
	return v, nil
}

func (s *Server) subscriberAction(w http.ResponseWriter, r *http.Request, ss *session) {
	n, err := domain.ParseMSISDN(r.PostFormValue("msisdn"), s.e.Region())
	if err != nil {
		s.refuse(w, r, http.StatusBadRequest, "That is not a phone number.")
		return
	}
	action, ctx, actor := r.PostFormValue("action"), r.Context(), actorOf(ss)
	switch action {
	case "reset-pin":
		err = s.e.ResetPIN(ctx, actor, n)
	case "unlock":
		err = s.e.Unlock(ctx, actor, n)
	case "block":
		err = s.e.SetPurseStatus(ctx, actor, n, domain.StatusBlocked)
	case "unblock":
		err = s.e.SetPurseStatus(ctx, actor, n, domain.StatusActive)
	case "tier":
		var t uint64
		if t, err = strconv.ParseUint(r.PostFormValue("tier"), 10, 8); err == nil {
			err = s.e.SetTier(ctx, actor, n, uint8(t))
		}
	case "topup":
		var amount uint64
		if amount, err = domain.ParseAmountIn(r.PostFormValue("amount"), s.cfg.Currency); err == nil {
			_, err = s.e.Topup(ctx, actor, n, amount, strings.TrimSpace(r.PostFormValue("ref")))
		}
	default:
		s.refuse(w, r, http.StatusBadRequest, "No such action.")
		return
	}
	if err != nil {
		s.failed(w, r, err)
		return
	}
	back(w, r, "/subscriber?msisdn="+url.QueryEscape(n), action)
}

// userRow is a console user as listed.
type userRow struct {
	engine.ConsoleUser
	Since, Last, Off, Locked string
}

func (s *Server) users(w http.ResponseWriter, r *http.Request, ss *session) {
	list, err := s.e.ConsoleUsers()
	p := page{Title: "Console users", S: ss, Done: doneOf(r)}
	if err != nil {
		p.Error = "The users could not be read now."
	}
	rows := make([]userRow, len(list))
	for i, u := range list {
		rows[i] = userRow{ConsoleUser: u, Since: s.when(u.Created), Last: s.when(u.LastLogin), Off: s.when(u.Disabled)}
		if u.LockedUntil > s.cfg.Now().UnixNano() {
			rows[i].Locked = s.when(u.LockedUntil)
		}
	}
	p.Data = rows
	s.render(w, r, http.StatusOK, "users", p)
}

func (s *Server) userAdd(w http.ResponseWriter, r *http.Request, ss *session) {
	role, err := engine.ParseConsoleRole(r.PostFormValue("role"))
	if err != nil {
		s.failed(w, r, err)
		return
	}
	hash, err := engine.HashPassword(r.PostFormValue("password"))
	if err != nil {
		s.failed(w, r, err)
		return
	}
	if _, err := s.e.AddConsoleUser(r.Context(), actorOf(ss), r.PostFormValue("name"), role, hash); err != nil {
		s.failed(w, r, err)
		return
	}
	back(w, r, "/users", "user-added")
}

func (s *Server) userDisable(w http.ResponseWriter, r *http.Request, ss *session) {
	name := r.PostFormValue("name")
	if strings.EqualFold(name, ss.User) {
		s.refuse(w, r, http.StatusUnprocessableEntity, "You cannot disable yourself.")
		return
	}
	if err := s.e.DisableConsoleUser(r.Context(), actorOf(ss), name); err != nil {
		s.failed(w, r, err)
		return
	}
	back(w, r, "/users", "user-disabled")
}
