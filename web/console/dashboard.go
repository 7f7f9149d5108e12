package console

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"go.uber.org/zap"

	"mpg/domain"
)

// periods are the dashboard's choices.
var periods = map[string]time.Duration{"today": 0, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// period reads ?period= (today by default) into its name and bounds.
func (s *Server) period(r *http.Request) (name string, from, to time.Time) {
	name = r.URL.Query().Get("period")
	d, ok := periods[name]
	if !ok {
		name, d = "today", 0
	}
	to = s.cfg.Now().In(s.cfg.Location)
	if d == 0 {
		return name, time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, s.cfg.Location), to
	}
	return name, to.Add(-d), to
}

// kv is one row of a two-column table.
type kv struct {
	K string
	V string
}

// figuresView is a period's figures as the pages show them.
type figuresView struct {
	Payments, Refused, Amount, Fees, Refunded, Success string
	Change                                             string // payments against the previous period
	DAU, MAU                                           string
	Refusals, Segments                                 []kv
	Top                                                []namedRow
}

// namedRow is one merchant's line of the top merchants.
type namedRow struct{ Name, Payments, Amount string }

func (s *Server) viewFigures(f Figures) figuresView {
	v := figuresView{Payments: strconv.FormatInt(f.Payments, 10), Refused: strconv.FormatInt(f.Refused, 10),
		Amount: s.money(f.Amount), Fees: s.money(f.Fees), Refunded: s.money(f.Refunded), Success: trimFloat(f.SuccessRate*100) + " %",
		DAU: strconv.FormatInt(f.DAU, 10), MAU: strconv.FormatInt(f.MAU, 10), Refusals: sortedCounts(f.Refusals), Segments: sortedCounts(f.Segments)}
	for _, n := range f.TopMerchants {
		v.Top = append(v.Top, namedRow{n.Name, strconv.FormatInt(n.Payments, 10), s.money(n.Amount)})
	}
	if f.Prev != nil && f.Prev.Payments > 0 {
		v.Change = fmt.Sprintf("%+.1f %%", 100*float64(f.Payments-f.Prev.Payments)/float64(f.Prev.Payments))
	}
	return v
}

// sortedCounts lists counts by name, the largest first.
func sortedCounts(m map[string]int64) []kv {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	out := make([]kv, len(keys))
	for i, k := range keys {
		out[i] = kv{k, strconv.FormatInt(m[k], 10)}
	}
	return out
}

// dashboardView is the dashboard's content.
type dashboardView struct {
	Figures        *figuresView
	FiguresErr     string
	FraudQueue     string
	Outbox         []kv
	OutboxErr      string
	WebhookPending int
	WebhookFailing int64
	WebhookOldest  string
	WebhookErr     string
}

// maxFraudShown bounds the fraud queue one page reads.
const maxFraudShown = 200

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, ss *session) {
	name, from, to := s.period(r)
	var d dashboardView
	if f, err := s.figures(r.Context(), from, to, 0); err != nil {
		d.FiguresErr = err.Error()
	} else {
		v := s.viewFigures(f)
		d.Figures = &v
	}
	d.FraudQueue = s.fraudSize(r.Context())
	s.outboxHealth(&d)
	s.webhookHealth(&d)
	s.render(w, r, http.StatusOK, "dashboard", page{Title: "Dashboard", S: ss, Period: name, Data: d})
}

// errNoInsights: the figures are not available on this daemon.
var errNoInsights = fmt.Errorf("figures are not available yet")

func (s *Server) figures(ctx context.Context, from, to time.Time, merchant uint64) (Figures, error) {
	if s.in == nil {
		return Figures{}, errNoInsights
	}
	f, err := s.in.Figures(ctx, from, to, merchant)
	if err != nil {
		s.log.Warn("console figures", zap.Error(err))
		return f, fmt.Errorf("figures could not be read now")
	}
	return f, nil
}

func (s *Server) fraudSize(ctx context.Context) string {
	if s.in == nil {
		return "not available"
	}
	q, err := s.in.FraudQueue(ctx, maxFraudShown)
	if err != nil {
		return "could not be read"
	}
	if len(q) >= maxFraudShown {
		return strconv.Itoa(maxFraudShown) + "+"
	}
	return strconv.Itoa(len(q))
}

func (s *Server) outboxHealth(d *dashboardView) {
	if s.cfg.Outbox == nil {
		d.OutboxErr = "not available"
		return
	}
	counts, err := s.outboxCounts()
	if err != nil {
		d.OutboxErr = "could not be read"
		return
	}
	m := map[string]int64{}
	for st, n := range counts {
		m[st.String()] = int64(n)
	}
	d.Outbox = sortedCounts(m)
}

func (s *Server) webhookHealth(d *dashboardView) {
	backlog, err := s.e.WebhookBacklog()
	if err != nil {
		d.WebhookErr = "could not be read"
		return
	}
	var oldest int64
	for _, b := range backlog {
		d.WebhookPending += b.Pending
		d.WebhookFailing += b.Failures
		if b.OldestDue != 0 && (oldest == 0 || b.OldestDue < oldest) {
			oldest = b.OldestDue
		}
	}
	if age := s.cfg.Now().Sub(time.Unix(0, oldest)); oldest != 0 && age > 0 {
		d.WebhookOldest = age.Round(time.Second).String()
	}
}

// chart serves a dashboard chart as SVG: ?period= as the dashboard.
func (s *Server) chart(w http.ResponseWriter, r *http.Request, _ *session) {
	s.serveChart(w, r, 0, "en")
}

func (s *Server) serveChart(w http.ResponseWriter, r *http.Request, merchant uint64, lang string) {
	_, from, to := s.period(r)
	f, err := s.figures(r.Context(), from, to, merchant)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	var svg []byte
	switch r.PathValue("name") {
	case "activity.svg":
		svg, err = seriesChart(tr(lang, "payments"), tr(lang, "refused"), f.Series)
	case "refusals.svg":
		svg, err = countsChart(tr(lang, "refusals"), f.Refusals)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.log.Error("console chart", zap.Error(err))
		http.Error(w, "chart", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Write(svg)
}

// outboxEvery is how long the outbox's counts are kept: counting reads the whole outbox.
const outboxEvery = 10 * time.Second

// outboxCounts are the outbox's counts by state, read at most every outboxEvery.
func (s *Server) outboxCounts() (map[domain.MessageStatus]int, error) {
	s.outbox.Lock()
	defer s.outbox.Unlock()
	if s.outbox.counts != nil && s.cfg.Now().Sub(s.outbox.at) < outboxEvery {
		return s.outbox.counts, nil
	}
	counts, err := s.cfg.Outbox.MessageCounts()
	if err == nil {
		s.outbox.counts, s.outbox.at = counts, s.cfg.Now()
	}
	return counts, err
}
