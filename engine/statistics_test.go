package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"mpg/domain"
	"mpg/ledger"
	"mpg/stats"
)

// storedCells reads every roll-up cell the follower wrote.
func (w *world) storedCells() map[stats.Key]stats.Cell {
	w.t.Helper()
	cells, err := w.e.statsCells(time.Unix(0, 0), time.Unix(1<<40, 0))
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[stats.Key]stats.Cell{}
	for _, c := range cells {
		out[c.Key] = c.Cell
	}
	return out
}

// journal reads every entry a follower reads.
func (w *world) journal() []domain.JournalEntry {
	w.t.Helper()
	var all []domain.JournalEntry
	for next := uint64(1); ; {
		page, n, err := w.l.Journal(next, 1000)
		if err != nil {
			w.t.Fatal(err)
		}
		all = append(all, page...)
		if n == next {
			return all
		}
		next = n
	}
}

// randomTraffic sends n random commands from the payers: payments that pass, refusals of
// every kind, refunds, across days.
func (w *world) randomTraffic(r *rand.Rand, e *Engine, n int) {
	shop := w.l.AccountsOf("SHOP42")[0].ID
	for i := range n {
		from := payer(r.IntN(6))
		switch r.IntN(8) {
		case 0, 1, 2:
			w.handleOn(e, from, fmt.Sprintf("PAY SHOP42 %d.%02d 739164", r.IntN(30), r.IntN(100)))
		case 3:
			w.handleOn(e, from, fmt.Sprintf("BILL EDF A%d %d 739164", i, 1+r.IntN(5)))
		case 4:
			w.handleOn(e, from, fmt.Sprintf("SEND %s %d 739164", payer(r.IntN(6)), 1+r.IntN(9)))
		case 5:
			w.handleOn(e, from, "PAY SHOP42 1 000000") // a wrong PIN
		case 6:
			ps, _, _ := e.ListPayments(shop, PaymentFilter{Limit: 50})
			if len(ps) > 0 {
				p := ps[r.IntN(len(ps))]
				e.RefundPayment(context.Background(), RefundRequest{Merchant: shop, PaymentID: p.ID, Amount: 1 + uint64(r.IntN(200)), Actor: "test"})
			}
		case 7:
			w.advance(time.Duration(r.IntN(5)) * time.Hour)
		}
	}
}

func (w *world) handleOn(e *Engine, from, text string) {
	for range 5 {
		if e.Handle(context.Background(), Inbound{From: from, To: "1234", Text: text}) == nil {
			return
		}
	}
}

// The roll-ups equal a recount of the journal from scratch: after random traffic through
// two engines on the same books while both follow the journal at once (each pass racing
// the other's), and after a restart in the middle of it, every cell is what folding every
// fact once gives, every payer's record agrees, and nothing was counted twice.
func TestStatisticsEqualARecountAfterRacesAndARestart(t *testing.T) {
	w := newWorldTiers(t, map[uint8]Limits{2: {PerTx: 5000, Daily: 20000, MaxBalance: 100000, CanSend: true}})
	w.payers(6, 20000)
	r := rand.New(rand.NewPCG(7, 19))
	other := w.secondDaemon().e
	ctx, cancel := context.WithCancel(context.Background())
	follow := func(e *Engine, wg *sync.WaitGroup) {
		defer wg.Done()
		for ctx.Err() == nil {
			if _, err := e.FollowStatistics(ctx); err != nil && ctx.Err() == nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go follow(w.e, &wg)
	go follow(other, &wg)
	w.randomTraffic(r, w.e, 150)
	w.randomTraffic(r, other, 150)
	cancel()
	wg.Wait()

	// A restart: the books are closed and opened again; the follower goes on from its
	// position as the books hold it.
	cfg := w.e.cfg
	if err := w.l.Close(); err != nil {
		t.Fatal(err)
	}
	w.l = w.books.Open(t, &ledger.Options{Now: cfg.Now, ExpiryEvery: 10 * time.Millisecond, Tiers: LedgerTiers(cfg.Tiers)})
	var err error
	if w.e, err = New(cfg, w.l); err != nil {
		t.Fatal(err)
	}
	w.randomTraffic(r, w.e, 100)
	if err := w.e.CatchUpStatistics(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	entries := w.journal()
	want := stats.Recount(entries)
	if got := w.storedCells(); !reflect.DeepEqual(got, want) {
		t.Fatalf("the roll-ups differ from a recount:\n got %d cells %+v\nwant %d cells %+v", len(got), got, len(want), want)
	}
	var paid, refused int64
	for _, c := range want {
		paid, refused = paid+c.Paid, refused+c.RefusedCount()
	}
	if paid < 50 || refused < 10 {
		t.Fatalf("the traffic paid %d times and was refused %d times: too little to prove anything", paid, refused)
	}
	w.checkMembers(entries)
	w.verify()
}

// checkMembers: each payer's record and the day counts agree with a fold of the journal.
func (w *world) checkMembers(entries []domain.JournalEntry) {
	w.t.Helper()
	members := map[uint64]*stats.Member{}
	days := map[int32]int64{}
	for _, en := range entries {
		f := en.Fact
		if f == nil || f.Payer == 0 || f.Kind != domain.FactPaid && f.Kind != domain.FactRefund {
			continue
		}
		if members[f.Payer] == nil {
			members[f.Payer] = &stats.Member{}
		}
		if newDay, _, _ := members[f.Payer].Observe(*f, en.Time, w.e.cfg.Location); newDay {
			days[stats.DayOf(time.Unix(0, en.Time).In(w.e.cfg.Location))]++
		}
	}
	for id, m := range members {
		got, err := w.e.MemberStatsOf(id, w.now)
		if err != nil || !got.Found || !reflect.DeepEqual(got.Member, *m) {
			w.t.Fatalf("payer %d: record %+v (%v), a fold of the journal gives %+v", id, got.Member, err, *m)
		}
	}
	for d, n := range days {
		var c payersCount
		if _, _, err := w.e.record(keyStatsDay+hex16(uint64(d)), &c); err != nil || c.Active != n {
			w.t.Fatalf("day %d: %d active payers recorded, %d in the journal (%v)", d, c.Active, n, err)
		}
	}
}

// A rebuild deletes every figure and the follower refolds the journal: the cells are
// exactly those of before and of a recount, the payers' records too.
func TestStatisticsRebuildGivesTheSameCells(t *testing.T) {
	w := newWorldTiers(t, map[uint8]Limits{2: {PerTx: 5000, Daily: 20000, MaxBalance: 100000, CanSend: true}})
	w.fraudRules(oneRule("payer_count_hour", 1000, 25, nil)) // the follower keeps activities too; none scores
	w.payers(6, 20000)
	w.randomTraffic(rand.New(rand.NewPCG(3, 5)), w.e, 200)
	ctx := context.Background()
	if err := w.e.CatchUpStatistics(ctx, 100); err != nil {
		t.Fatal(err)
	}
	before, activities := w.storedCells(), w.activities()
	if len(activities) == 0 {
		t.Fatal("no fraud activity was folded")
	}
	var seen int
	if err := w.e.RebuildStatistics(ctx, "test", func(done int) { seen = done }); err != nil {
		t.Fatal(err)
	}
	if seen < len(before) {
		t.Fatalf("the rebuild deleted %d records, there were %d cells", seen, len(before))
	}
	if got := w.storedCells(); len(got) != 0 {
		t.Fatalf("%d cells left after the rebuild", len(got))
	}
	if err := w.e.CatchUpStatistics(ctx, 100); err != nil {
		t.Fatal(err)
	}
	entries := w.journal()
	got := w.storedCells()
	if !reflect.DeepEqual(got, before) || !reflect.DeepEqual(got, stats.Recount(entries)) {
		t.Fatalf("after the rebuild %d cells, before %d", len(got), len(before))
	}
	if after := w.activities(); !reflect.DeepEqual(after, activities) {
		t.Fatalf("the fraud activities differ after the rebuild:\n got %+v\nwant %+v", after, activities)
	}
	w.checkMembers(entries)
	w.verify()
}

// While a rebuild runs, no pass folds: a pass that read the position before the rebuild
// began is refused, and one that reads it during the rebuild does nothing.
func TestStatisticsPassDuringRebuildFoldsNothing(t *testing.T) {
	w := newWorldTiers(t, map[uint8]Limits{2: {PerTx: 5000, Daily: 20000, MaxBalance: 100000, CanSend: true}})
	w.payers(2, 20000)
	w.handleOn(w.e, payer(0), "PAY SHOP42 3 739164")
	var pos statsPos
	ver, _, err := w.e.record(keyStatsPos, &pos)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.l.Submit(context.Background(), domain.Job{Profiles: []domain.Profile{write(keyStatsPos, statsPos{Next: pos.Next, Rebuild: true}, ver)}}); err != nil {
		t.Fatal(err)
	}
	if n, err := w.e.FollowStatistics(context.Background()); n != 0 || err != nil {
		t.Fatalf("a pass during a rebuild read %d entries (%v)", n, err)
	}
	if got := w.storedCells(); len(got) != 0 {
		t.Fatalf("a pass during a rebuild wrote %d cells", len(got))
	}
	if err := w.e.CatchUpStatistics(context.Background(), 10); !errors.Is(err, ErrStatsRebuilding) {
		t.Fatalf("catching up during a rebuild: %v", err)
	}
	// A rebuild cut short is run again, and the follower goes on.
	if err := w.e.RebuildStatistics(context.Background(), "test", nil); err != nil {
		t.Fatal(err)
	}
	if err := w.e.CatchUpStatistics(context.Background(), 10); err != nil || len(w.storedCells()) == 0 {
		t.Fatalf("after the rebuild ran again: %v, %d cells", err, len(w.storedCells()))
	}
}

// An answer says how far behind the journal the follower's position is, whichever engine
// follows: some entries after payments, none once caught up.
func TestStatisticsAnswerSaysTheLag(t *testing.T) {
	w := newWorldTiers(t, map[uint8]Limits{2: {PerTx: 5000, Daily: 20000, MaxBalance: 100000, CanSend: true}})
	w.payers(1, 20000)
	w.handleOn(w.e, payer(0), "PAY SHOP42 3 739164")
	q := stats.Query{From: w.now.Add(-time.Hour), To: w.now.Add(time.Hour), By: stats.ByTotal}
	if a, err := w.e.Statistics(q); err != nil || a.Lag == 0 || a.Totals.Cell.Paid != 0 {
		t.Fatalf("before the follower: lag %d, %d paid (%v)", a.Lag, a.Totals.Cell.Paid, err)
	}
	w.catchUp()
	if a, err := w.e.Statistics(q); err != nil || a.Lag != 0 || a.Totals.Cell.Paid != 1 {
		t.Fatalf("caught up: lag %d, %d paid (%v)", a.Lag, a.Totals.Cell.Paid, err)
	}
}

// activities reads every fraud activity the follower folded, without the position it was
// folded to (passes of a rebuild end elsewhere).
func (w *world) activities() map[string]riskRecord {
	w.t.Helper()
	out := map[string]riskRecord{}
	_, err := w.e.scan("@fa:", "", 100000, func(r domain.Profile) (bool, error) {
		var rec riskRecord
		err := rec.decode(r.Data)
		rec.Seq = 0
		out[r.Owner] = rec
		return true, err
	})
	if err == nil { // what purses paid, in their payers' records
		_, err = w.e.scan(keyStatsMember, "", 100000, func(r domain.Profile) (bool, error) {
			var p payerRecord
			err := p.decode(r.Data)
			p.Risk.Seq = 0
			out[r.Owner] = p.Risk
			return true, err
		})
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// A period that ends now counts the hour in progress: today's figures include the payment
// made a minute ago; a period that ends on the hour does not count the hour it begins.
func TestStatisticsIncludeTheHourInProgress(t *testing.T) {
	w, _ := merchantWorld(t)
	w.advance(30 * time.Minute) // 12:30
	w.expect(alice, "PAY SHOP42 2 739164", "Paid")
	if err := w.e.CatchUpStatistics(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	day := time.Date(w.now.Year(), w.now.Month(), w.now.Day(), 0, 0, 0, 0, time.UTC)
	now, err := w.e.Statistics(stats.Query{From: day, To: w.now.Add(time.Minute), By: stats.ByTotal})
	if err != nil || now.Totals.Cell.Paid != 1 || now.Totals.Cell.Amount != 200 {
		t.Fatalf("today until now: %+v, %v", now.Totals, err)
	}
	onTheHour, err := w.e.Statistics(stats.Query{From: day, To: w.now.Truncate(time.Hour), By: stats.ByTotal})
	if err != nil || onTheHour.Totals.Cell.Paid != 0 {
		t.Fatalf("until 12:00: %+v, %v", onTheHour.Totals, err)
	}
}

// The SMS mpg sends count in the roll-ups as the SMSC tells of them: taken, delivered,
// undeliverable, failed, each once, whichever daemon marks it and however the answers and
// receipts race (a receipt before its submit's answer, a receipt twice, a late answer after
// a failure).
func TestStatisticsCountTheSMSAsTheSMSCTellsOfThem(t *testing.T) {
	w, _ := merchantWorld(t)
	for i := range 12 {
		w.expect(alice, fmt.Sprintf("PAY SHOP42 1 R%d 739164", i), "Paid")
	}
	msgs, err := w.l.NextMessages(context.Background(), 1000)
	if err != nil || len(msgs) < 12 {
		t.Fatalf("%d messages to send, %v", len(msgs), err)
	}
	var want stats.Cell
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	count := func(f func(c *stats.Cell)) { mu.Lock(); f(&want); mu.Unlock() }
	for i, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("smsc-%d", m.ID)
			var err error
			switch i % 4 {
			case 0: // taken, delivered, and the receipt comes twice
				err = errors.Join(w.l.MarkSent(ctx, m.ID, id), w.l.MarkReceipt(ctx, id, true, "DELIVRD"), w.l.MarkReceipt(ctx, id, true, "DELIVRD"))
				count(func(c *stats.Cell) { c.SMSSent++; c.SMSDelivered++ })
			case 1: // the receipt before the submit's answer is recorded
				err = errors.Join(w.l.MarkReceipt(ctx, id, false, "UNDELIV"), w.l.MarkSent(ctx, m.ID, id))
				count(func(c *stats.Cell) { c.SMSSent++; c.SMSUndeliverable++ })
			case 2: // refused for good, then a late answer says nothing more
				err = errors.Join(w.l.MarkFailed(ctx, m.ID, "0x00000045"), w.l.MarkFailed(ctx, m.ID, "0x00000045"))
				count(func(c *stats.Cell) { c.SMSFailed++ })
			case 3: // taken, no receipt (yet)
				err = w.l.MarkSent(ctx, m.ID, id)
				count(func(c *stats.Cell) { c.SMSSent++ })
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	other := w.secondDaemon().e
	if _, err := other.FollowStatistics(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.e.CatchUpStatistics(ctx, 10); err != nil {
		t.Fatal(err)
	}
	got, err := w.e.Statistics(stats.Query{From: w.now.Add(-time.Hour), To: w.now.Add(time.Hour), By: stats.ByProduct})
	if err != nil {
		t.Fatal(err)
	}
	sms := stats.Cell{SMSSent: got.Totals.Cell.SMSSent, SMSDelivered: got.Totals.Cell.SMSDelivered,
		SMSUndeliverable: got.Totals.Cell.SMSUndeliverable, SMSFailed: got.Totals.Cell.SMSFailed}
	if !reflect.DeepEqual(sms, want) || got.Totals.Cell.Paid != 12 {
		t.Fatalf("the roll-ups count %+v and %d payments, the SMSC told %+v of 12", sms, got.Totals.Cell.Paid, want)
	}
	if cells, recount := w.storedCells(), stats.Recount(w.journal()); !reflect.DeepEqual(cells, recount) {
		t.Fatalf("the roll-ups differ from a recount:\n got %+v\nwant %+v", cells, recount)
	}
	w.verify()
}
