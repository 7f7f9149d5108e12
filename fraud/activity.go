package fraud

import (
	"encoding/json"
	"strconv"
	"time"
)

// EventKind is what happened to a subject.
type EventKind uint8

// The kinds of event an Activity folds in.
const (
	Paid       EventKind = iota + 1 // a payment went through (from the payer to the payee)
	Refused                         // a payment was refused (kept for the journal; no rule reads it yet)
	Refund                          // a merchant gave money back to a customer
	WrongPIN                        // a wrong PIN or confirmation code was typed
	PINReset                        // the subscriber's PIN was reset
	TierChange                      // the subscriber's tier (and so limits) changed
	Held                            // a payment was held for review (kept for the journal)
)

var kindNames = [...]string{"", "paid", "refused", "refund", "wrong_pin", "pin_reset", "tier_change", "held"}

func (k EventKind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one thing the journal follower saw, as seen by one subject.
type Event struct {
	Time   int64 // unix nanos
	Kind   EventKind
	Amount uint64 // minor units
	// Counterparty is the other side's account id: the payee in a payer's activity, the
	// payer in a payee's, the subscriber who typed a wrong code in the service's; 0 unknown.
	Counterparty uint64
	Product      string // "pay", "bill", "send", "debit", "credit", "repay", "topup"
	Channel      string // "sms", "web", "bank", "credit", "operator"
	Local        uint8  // the payer's local hour 0-23, 255 unknown
}

// Limits on what an Activity keeps. They bound its JSON (see MaxActivityJSON).
const (
	MaxPeers   = 32                // counterparties of payments remembered, the most recent first to stay
	MaxFailed  = 16                // numbers with wrong codes remembered
	MaxRecent  = 8                 // latest payments remembered with their amounts
	maxAmount  = 1_000_000_000_000 // an amount kept in any counter saturates here (10 billion EUR)
	maxCount   = 65_535            // a count kept in any counter saturates here
	usualShift = 2                 // the usual amount moves a quarter of the way to each new payment
)

// MaxActivityJSON is the most bytes an Activity's JSON takes, whatever it observed.
const MaxActivityJSON = 3500

// Window sizes. Windows are rings of fixed buckets, so a window's edge is as fine as its
// bucket: "the last hour" is the current five-minute bucket and the eleven before it.
const (
	hourBucket = 5 * time.Minute
	hourSlots  = 12
	dayBucket  = time.Hour
	daySlots   = 24
	weekBucket = 24 * time.Hour
	weekSlots  = 7
	nightEnd   = 5 // local hours 0 to 4 are the night
)

// Activity is one subject's recent history: a payer (a purse), a payee (a merchant, a biller
// or a purse), or the service as a whole. The engine keeps it as JSON in a ledger record;
// every list is bounded and every window is a fixed ring, so the JSON never passes
// MaxActivityJSON bytes. An account that both pays and is paid has one Activity per side.
// The fields are exported for encoding only: change them through Observe.
type Activity struct {
	LastPaid  int64  `json:"p,omitempty"` // unix nanos of the newest payment, 0 none
	LastReset int64  `json:"r,omitempty"` // unix nanos of the newest PIN reset or tier change, 0 none
	Usual     uint64 `json:"u,omitempty"` // the usual payment amount (a moving average)
	Payments  uint64 `json:"n,omitempty"` // payments observed, saturating at 65535

	Hour HourRing `json:"h"` // the last hour in five-minute buckets
	Day  DayRing  `json:"d"` // the last day in one-hour buckets
	Week WeekRing `json:"w"` // the last week in one-day buckets

	Peers  []Peer   `json:"c,omitempty"` // counterparties of payments, at most MaxPeers
	Failed []Peer   `json:"f,omitempty"` // numbers with wrong codes, at most MaxFailed
	Recent []Recent `json:"a,omitempty"` // the latest payments, at most MaxRecent
}

// HourRing counts payments, and payments made in the payer's local night, per five minutes.
type HourRing struct {
	Base  int64             `json:"b"` // the newest bucket's number (time / bucket width)
	Count [hourSlots]uint64 `json:"n"`
	Night [hourSlots]uint64 `json:"z"`
}

// DayRing counts payments and their amounts per hour.
type DayRing struct {
	Base   int64            `json:"b"`
	Count  [daySlots]uint64 `json:"n"`
	Amount [daySlots]uint64 `json:"m"`
}

// WeekRing sums paid and refunded amounts per day.
type WeekRing struct {
	Base     int64             `json:"b"`
	Paid     [weekSlots]uint64 `json:"m"`
	Refunded [weekSlots]uint64 `json:"x"`
}

// Peer is one counterparty (or one number with wrong codes) and when it was last seen.
// Its JSON is [id, unix minute, web].
type Peer struct {
	ID     uint64
	Minute int64 // unix minutes of the newest event with it
	Web    bool  // that newest payment came through the web checkout
}

// Recent is one payment: [unix minute, amount].
type Recent [2]int64

// Observe folds one event into the activity. Events mostly come in time order; an event
// older than a window is left out of that window, and a far-future one empties the
// windows it moves past. Nothing it is given makes it panic or break a bound.
func (a *Activity) Observe(ev Event) {
	a.bound()
	switch ev.Kind {
	case Paid:
		a.observePaid(ev)
	case Refund:
		if s := a.Week.slot(ev.Time); s >= 0 {
			a.Week.Refunded[s] = addCap(a.Week.Refunded[s], ev.Amount, maxAmount)
		}
	case WrongPIN:
		a.Failed = touch(a.Failed, MaxFailed, ev.Counterparty, minuteOf(ev.Time), false)
	case PINReset, TierChange:
		a.LastReset = max(a.LastReset, ev.Time)
	}
}

func (a *Activity) observePaid(ev Event) {
	amount := min(ev.Amount, maxAmount)
	if s := a.Hour.slot(ev.Time); s >= 0 {
		a.Hour.Count[s] = addCap(a.Hour.Count[s], 1, maxCount)
		if ev.Local < nightEnd {
			a.Hour.Night[s] = addCap(a.Hour.Night[s], 1, maxCount)
		}
	}
	if s := a.Day.slot(ev.Time); s >= 0 {
		a.Day.Count[s] = addCap(a.Day.Count[s], 1, maxCount)
		a.Day.Amount[s] = addCap(a.Day.Amount[s], amount, maxAmount)
	}
	if s := a.Week.slot(ev.Time); s >= 0 {
		a.Week.Paid[s] = addCap(a.Week.Paid[s], amount, maxAmount)
	}
	a.LastPaid = max(a.LastPaid, ev.Time)
	a.Usual = moveUsual(a.Usual, amount, a.Payments == 0)
	a.Payments = addCap(a.Payments, 1, maxCount)
	minute := minuteOf(ev.Time)
	a.Peers = touch(a.Peers, MaxPeers, ev.Counterparty, minute, ev.Channel == "web")
	a.Recent = remember(a.Recent, minute, amount)
}

// moveUsual is an exponential moving average kept in whole minor units.
func moveUsual(usual, amount uint64, first bool) uint64 {
	if first {
		return amount
	}
	u, x := int64(usual), int64(amount) // both at most maxAmount
	return uint64(u + (x-u)>>usualShift)
}

// bound trims lists a foreign or damaged record may have made too long.
func (a *Activity) bound() {
	a.Peers = a.Peers[:min(len(a.Peers), MaxPeers)]
	a.Failed = a.Failed[:min(len(a.Failed), MaxFailed)]
	a.Recent = a.Recent[:min(len(a.Recent), MaxRecent)]
	a.Usual = min(a.Usual, maxAmount)
}

// UnmarshalJSON reads an activity and trims it to its bounds.
func (a *Activity) UnmarshalJSON(b []byte) error {
	type plain Activity
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*a = Activity(p)
	a.bound()
	a.clamp()
	return nil
}

// clamp brings the numbers of a foreign or damaged record within their limits.
func (a *Activity) clamp() {
	a.Payments = min(a.Payments, maxCount)
	for i, r := range a.Recent {
		a.Recent[i][1] = min(max(r[1], 0), maxAmount)
	}
	for _, col := range [][]uint64{a.Hour.Count[:], a.Hour.Night[:], a.Day.Count[:]} {
		clampAll(col, maxCount)
	}
	for _, col := range [][]uint64{a.Day.Amount[:], a.Week.Paid[:], a.Week.Refunded[:]} {
		clampAll(col, maxAmount)
	}
}

func clampAll(col []uint64, limit uint64) {
	for i := range col {
		col[i] = min(col[i], limit)
	}
}

// touch records id as seen at minute: an entry already there moves forward; a new one takes
// a free place or the place of the least recently seen, if it is older. An id of 0 (unknown)
// is not kept.
func touch(peers []Peer, limit int, id uint64, minute int64, web bool) []Peer {
	if id == 0 {
		return peers
	}
	oldest := -1
	for i := range peers {
		p := &peers[i]
		if p.ID == id {
			if minute >= p.Minute {
				p.Minute, p.Web = minute, web
			}
			return peers
		}
		if oldest < 0 || p.Minute < peers[oldest].Minute {
			oldest = i
		}
	}
	if len(peers) < limit {
		return append(peers, Peer{ID: id, Minute: minute, Web: web})
	}
	if oldest >= 0 && minute > peers[oldest].Minute {
		peers[oldest] = Peer{ID: id, Minute: minute, Web: web}
	}
	return peers
}

// remember keeps the latest MaxRecent payments, the oldest giving way.
func remember(recent []Recent, minute int64, amount uint64) []Recent {
	r := Recent{minute, int64(amount)}
	if len(recent) < MaxRecent {
		return append(recent, r)
	}
	oldest := 0
	for i := range recent {
		if recent[i][0] < recent[oldest][0] {
			oldest = i
		}
	}
	if minute > recent[oldest][0] {
		recent[oldest] = r
	}
	return recent
}

// MarshalJSON writes a peer as [id, minute, web] (web as 0 or 1).
func (p Peer) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 40)
	b = append(b, '[')
	b = strconv.AppendUint(b, p.ID, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, p.Minute, 10)
	if p.Web {
		b = append(b, ",1]"...)
	} else {
		b = append(b, ",0]"...)
	}
	return b, nil
}

// UnmarshalJSON reads [id, minute, web].
func (p *Peer) UnmarshalJSON(b []byte) error {
	var f [3]json.Number
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	id, err := strconv.ParseUint(string(f[0]), 10, 64)
	if err != nil {
		return err
	}
	minute, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return err
	}
	*p = Peer{ID: id, Minute: minute, Web: f[2] == "1"}
	return nil
}

// addCap adds y to x, stopping at limit.
func addCap(x, y, limit uint64) uint64 {
	if y >= limit || x >= limit-y {
		return limit
	}
	return x + y
}

// floorDiv divides rounding towards minus infinity, so times before 1970 fall in the right
// bucket too.
func floorDiv(t, d int64) int64 {
	q := t / d
	if t%d != 0 && t < 0 {
		q--
	}
	return q
}

func minuteOf(t int64) int64 { return floorDiv(t, int64(time.Minute)) }

// ring places bucket idx in a ring of n slots whose newest bucket is *base, clearing the
// slots it moves past in cols, and returns idx's slot, or -1 when idx fell out of the ring.
// A zero base is an empty ring.
func ring(base *int64, idx int64, n int, cols ...[]uint64) int {
	switch {
	case *base == 0 || idx-*base >= int64(n):
		for _, c := range cols {
			clear(c)
		}
		*base = idx
	case idx > *base:
		for b := *base + 1; b <= idx; b++ {
			for _, c := range cols {
				c[slotOf(b, n)] = 0
			}
		}
		*base = idx
	case idx <= *base-int64(n):
		return -1
	}
	return slotOf(idx, n)
}

func slotOf(idx int64, n int) int {
	m := idx % int64(n)
	if m < 0 {
		m += int64(n)
	}
	return int(m)
}

// sumRing adds the buckets of col within the n buckets ending at nowIdx.
func sumRing(base, nowIdx int64, n int, col []uint64) uint64 {
	if base == 0 {
		return 0
	}
	var s uint64
	// Buckets after both base-n and nowIdx-n, up to the older of the two.
	for b := max(base, nowIdx) - int64(n) + 1; b <= min(base, nowIdx); b++ {
		s = addCap(s, col[slotOf(b, n)], maxAmount)
	}
	return s
}

func (r *HourRing) slot(t int64) int {
	return ring(&r.Base, floorDiv(t, int64(hourBucket)), hourSlots, r.Count[:], r.Night[:])
}

func (r *DayRing) slot(t int64) int {
	return ring(&r.Base, floorDiv(t, int64(dayBucket)), daySlots, r.Count[:], r.Amount[:])
}

func (r *WeekRing) slot(t int64) int {
	return ring(&r.Base, floorDiv(t, int64(weekBucket)), weekSlots, r.Paid[:], r.Refunded[:])
}

// In the window queries below, now is the decision's time.

func (r *HourRing) count(now int64) uint64 {
	return sumRing(r.Base, floorDiv(now, int64(hourBucket)), hourSlots, r.Count[:])
}

func (r *HourRing) night(now int64) uint64 {
	return sumRing(r.Base, floorDiv(now, int64(hourBucket)), hourSlots, r.Night[:])
}

func (r *DayRing) count(now int64) uint64 {
	return sumRing(r.Base, floorDiv(now, int64(dayBucket)), daySlots, r.Count[:])
}

func (r *DayRing) amount(now int64) uint64 {
	return sumRing(r.Base, floorDiv(now, int64(dayBucket)), daySlots, r.Amount[:])
}

func (r *WeekRing) paid(now int64) uint64 {
	return sumRing(r.Base, floorDiv(now, int64(weekBucket)), weekSlots, r.Paid[:])
}

func (r *WeekRing) refunded(now int64) uint64 {
	return sumRing(r.Base, floorDiv(now, int64(weekBucket)), weekSlots, r.Refunded[:])
}

// distinct counts the peers seen in the window (nowMin-windowMin, nowMin], webOnly keeping
// those whose newest payment came through the web, and says whether id is among them.
func distinct(peers []Peer, nowMin, windowMin int64, webOnly bool, id uint64) (n int, found bool) {
	for _, p := range peers {
		if p.Minute <= nowMin-windowMin || p.Minute > nowMin || (webOnly && !p.Web) {
			continue
		}
		n++
		found = found || p.ID == id
	}
	return n, found
}

// known says whether id is among the peers, at any time.
func known(peers []Peer, id uint64) bool {
	for _, p := range peers {
		if p.ID == id {
			return true
		}
	}
	return false
}
