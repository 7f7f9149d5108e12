package console

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"mpg/engine"
	"mpg/stats"
)

// EngineInsights are the console's figures and fraud queue, read from the engine: the
// statistics follower's roll-ups (the same as `mpg stats`), the payers' segments, and the
// fraud rules' queue.
func EngineInsights(e *engine.Engine) Insights { return &engineInsights{e: e} }

type engineInsights struct {
	e  *engine.Engine
	mu sync.Mutex
	// The segments' census reads every payer's record: kept for a minute.
	segments map[string]int64
	censusAt time.Time
}

// topMerchants is how many merchants the dashboard names.
const topMerchants = 5

func (in *engineInsights) Figures(ctx context.Context, from, to time.Time, merchant uint64) (Figures, error) {
	by := stats.ByDay
	if to.Sub(from) <= 48*time.Hour {
		by = stats.ByHour
	}
	a, err := in.e.Statistics(stats.Query{From: from, To: to, Merchant: merchant, By: by})
	if err != nil {
		return Figures{}, err
	}
	f := figuresOf(a.Totals.Cell)
	prev := figuresOf(a.Totals.Prev)
	f.Prev, f.DAU, f.MAU = &prev, a.Payers.DAU, a.Payers.MAU
	for _, r := range a.Rows {
		f.Series = append(f.Series, Point{Label: r.Label, Payments: r.Cell.Paid, Refused: r.Cell.RefusedCount(), Amount: int64(r.Cell.Amount)})
	}
	if merchant != 0 {
		return f, nil
	}
	if f.TopMerchants, err = in.top(from, to); err != nil {
		return f, err
	}
	f.Segments, err = in.census()
	return f, err
}

// figuresOf is one cell's totals as the dashboard shows them.
func figuresOf(c stats.Cell) Figures {
	f := Figures{Payments: c.Paid, Refused: c.RefusedCount(), Amount: int64(c.Amount), Fees: int64(c.Fees),
		Refunded: int64(c.Refunded), Refusals: c.Refused}
	pct, _ := c.SuccessRate()
	f.SuccessRate = pct / 100 // the console shows a fraction as a percentage
	return f
}

// top names the merchants that took the most in the period.
func (in *engineInsights) top(from, to time.Time) ([]Named, error) {
	a, err := in.e.Statistics(stats.Query{From: from, To: to, By: stats.ByMerchant})
	if err != nil {
		return nil, err
	}
	rows := slices.Clone(a.Rows)
	slices.SortFunc(rows, func(x, y stats.Row) int { return int(int64(y.Cell.Amount) - int64(x.Cell.Amount)) })
	var out []Named
	for _, r := range rows {
		id, _ := strconv.ParseUint(r.Label, 10, 64)
		if id == 0 || len(out) == topMerchants {
			continue // people paid: no merchant
		}
		out = append(out, Named{Name: in.e.PartyOf(id), Payments: r.Cell.Paid, Amount: int64(r.Cell.Amount)})
	}
	return out, nil
}

func (in *engineInsights) census() (map[string]int64, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.segments != nil && time.Since(in.censusAt) < time.Minute {
		return in.segments, nil
	}
	counts, _, err := in.e.Segments(time.Now())
	if err == nil {
		in.segments, in.censusAt = counts, time.Now()
	}
	return counts, err
}

func (in *engineInsights) FraudQueue(ctx context.Context, limit int) ([]FraudCase, error) {
	ds, err := in.e.FraudCases(ctx, limit)
	var out []FraudCase
	for _, d := range ds {
		c := FraudCase{ID: d.ID, Payment: d.Payment, State: d.State, Action: d.Action, Score: d.Score, Amount: int64(d.Amount),
			Payer: in.e.PartyOf(d.Payer), Payee: in.e.PartyOf(d.Payee), At: time.Unix(0, d.At)}
		for _, h := range d.Hits {
			c.Hits = append(c.Hits, h.Rule+"="+strconv.FormatFloat(h.Value, 'g', 4, 64)+" (+"+strconv.Itoa(h.Score)+")")
		}
		out = append(out, c)
	}
	return out, err
}

func (in *engineInsights) FraudDecide(ctx context.Context, actor, id string, release bool) error {
	_, err := in.e.DecideFraud(ctx, actor, id, release)
	return err
}
