package stats

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"time"
)

// Groupings a query's rows are made by.
const (
	ByDay      = "day"
	ByHour     = "hour"
	ByProduct  = "product"
	ByChannel  = "channel"
	ByMerchant = "merchant"
	ByTotal    = "total"
)

// MaxRows bounds the rows of one answer (a year by day is 366, a fortnight by hour 336).
const MaxRows = 1000

// Errors of a query.
var (
	ErrPeriod = errors.New("stats: a period ends after it starts")
	ErrBy     = errors.New("stats: rows are by day, hour, product, channel, merchant or total")
)

// Query asks for the cells of a period, [From, To), filtered, in rows. A cell counts when
// its hour starts in the period. Days are calendar days in From's location (in a zone
// whose offset is not whole hours, an hour counts in the day it starts in). Check a
// query before answering it: rows by an unknown grouping come out as one total.
type Query struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Merchant uint64    `json:"merchant,omitempty"` // 0: all
	Product  string    `json:"product,omitempty"`  // "": all
	Channel  string    `json:"channel,omitempty"`  // "": all
	By       string    `json:"by"`
}

// Check says whether a query can be answered.
func (q Query) Check() error {
	if !q.To.After(q.From) {
		return ErrPeriod
	}
	switch q.By {
	case ByDay, ByHour, ByProduct, ByChannel, ByMerchant, ByTotal:
		return nil
	}
	return ErrBy
}

// Row is one line of an answer: this period's cell and the previous period's.
type Row struct {
	Label string `json:"label"`
	Cell  Cell   `json:"cell"`
	Prev  Cell   `json:"prev"` // the same label in the previous equal period
}

// Report is a whole answer, as programs read it (JSON).
type Report struct {
	Query  Query `json:"query"`
	Rows   []Row `json:"rows"`
	Totals Row   `json:"totals"`
}

// KeyedCell is a cell with its key, as records are read from the ledger.
type KeyedCell struct {
	Key  Key  `json:"k"`
	Cell Cell `json:"c"`
}

// Keyed lists a map's cells in key order.
func Keyed(cells map[Key]Cell) []KeyedCell {
	out := make([]KeyedCell, 0, len(cells))
	for k, c := range cells {
		out = append(out, KeyedCell{k, c})
	}
	slices.SortFunc(out, func(a, b KeyedCell) int { return CompareKeys(a.Key, b.Key) })
	return out
}

// Previous is the period of the same length just before q's.
func Previous(q Query) Query {
	p := q
	d := q.To.Sub(q.From)
	p.From, p.To = q.From.Add(-d), q.From
	return p
}

// Change is now against prev in percent; ok is false when prev is 0 (no change to say).
func Change(now, prev int64) (pct float64, ok bool) {
	if prev == 0 {
		return 0, false
	}
	return 100 * float64(now-prev) / float64(prev), true
}

// Aggregate answers a query: one row per label seen in the period or the previous one,
// days and hours in time order, products, channels and merchants by amount (largest
// first). A previous period's cell is put on the label it would have had one period later,
// so the row for 5 December by day over a week compares with 28 November.
func Aggregate(cells []KeyedCell, q Query) []Row {
	rows := make(map[string]*Row)
	prev := Previous(q)
	shift := int64(q.To.Sub(q.From) / time.Second)
	for _, kc := range cells {
		if q.matches(kc.Key) {
			row(rows, q.label(kc.Key.Hour, kc.Key)).Cell.Add(kc.Cell)
		} else if prev.matches(kc.Key) {
			row(rows, q.label(kc.Key.Hour+shift, kc.Key)).Prev.Add(kc.Cell)
		}
	}
	return q.sorted(rows)
}

func row(rows map[string]*Row, label string) *Row {
	r, ok := rows[label]
	if !ok {
		r = &Row{Label: label}
		rows[label] = r
	}
	return r
}

// matches says whether a cell's key is in the query's period and filters.
func (q Query) matches(k Key) bool {
	return k.Hour >= q.From.Unix() && k.Hour < q.To.Unix() &&
		(q.Merchant == 0 || q.Merchant == k.Merchant) &&
		(q.Product == "" || q.Product == k.Product) &&
		(q.Channel == "" || q.Channel == k.Channel)
}

// label is the row a cell of hour (unix seconds) and key counts in.
func (q Query) label(hour int64, k Key) string {
	t := time.Unix(hour, 0).In(q.From.Location())
	switch q.By {
	case ByDay:
		return t.Format(time.DateOnly)
	case ByHour:
		return t.Format("2006-01-02 15:04")
	case ByProduct:
		return k.Product
	case ByChannel:
		return k.Channel
	case ByMerchant:
		return strconv.FormatUint(k.Merchant, 10)
	}
	return ByTotal
}

func (q Query) sorted(m map[string]*Row) []Row {
	rows := make([]Row, 0, len(m))
	for _, r := range m {
		rows = append(rows, *r)
	}
	byTime := q.By == ByDay || q.By == ByHour
	slices.SortFunc(rows, func(a, b Row) int {
		if byTime {
			return cmp.Compare(a.Label, b.Label)
		}
		return cmp.Or(cmp.Compare(b.Cell.Amount, a.Cell.Amount), cmp.Compare(a.Label, b.Label))
	})
	if len(rows) > MaxRows {
		rows = rows[:MaxRows]
	}
	return rows
}

// Total adds rows up into one, labelled "total".
func Total(rows []Row) Row {
	t := Row{Label: ByTotal}
	for _, r := range rows {
		t.Cell.Add(r.Cell)
		t.Prev.Add(r.Prev)
	}
	return t
}

// NewReport answers a query with its rows and their total (of every cell, even when the
// rows stop at MaxRows).
func NewReport(cells []KeyedCell, q Query) Report {
	all := q
	all.By = ByTotal
	return Report{Query: q, Rows: Aggregate(cells, q), Totals: Total(Aggregate(cells, all))}
}
