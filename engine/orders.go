package engine

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// Saved bills and standing orders. A subscriber who paid a bill once pays it again with
// `BILL EDF 30 1234`: the account he typed last for that biller is kept in his profile. A
// standing order (`EVERY 31 BILL EDF 30 1234`, `EVERY MON SEND 0687654321 5 1234`) is a
// record of its own plus an entry in an index by its next due date; the scheduler reads
// only the entries due, and runs each as the payer's own texted BILL or SEND would run,
// through the same rule book and ledger job. The job that pays (or the one that answers
// its refusal) moves the order to its next due date, at the version of the order read:
// of two daemons running one order's due date at once, one commits and the other, told
// the order changed, reads it again and finds it done. A run pays nothing more than a
// texted payment would: no YES is asked (the payer is not at his phone when it runs), so
// an order is capped at the amount that needs none (confirm_above_minor), at creation and
// at each run.

// OrdersConfig bounds saved bills and standing orders and says when the day's runs go.
type OrdersConfig struct {
	Max        int // standing orders per subscriber (default 5)
	SavedBills int // billers whose account is saved per subscriber (default 10)
	RunHour    int // the hour of the day (Config.Location) from which the day's orders run (default 8)
	PerPass    int // orders one pass of the scheduler reads at most (default 200)
}

func (c *OrdersConfig) defaults() {
	if c.Max <= 0 {
		c.Max = 5
	}
	if c.SavedBills <= 0 {
		c.SavedBills = 10
	}
	if c.PerPass <= 0 {
		c.PerPass = 200
	}
	c.RunHour = min(max(c.RunHour, 0), 23)
}

const (
	keyOrder    = "@so:" // + order id (payer + ":" + 16 hex digits): a standing order, sealed as the payer's
	keyOrderDue = "@sd:" // + due date YYYYMMDD + ":" + order id: orders by their next due date
)

// savedBill is the account a subscriber pays a biller's bills for.
type savedBill struct {
	Biller  string `json:"b"`
	Account string `json:"a"`
}

// standingOrder is one standing order: a BILL or SEND paid on a weekday or a day of the
// month (the month's last day when it has fewer days).
type standingOrder struct {
	ID      string        `json:"id"`
	Payer   string        `json:"payer"`
	Product string        `json:"product"` // domain.ProductBill or domain.ProductSend
	Payee   string        `json:"payee"`   // the biller's code, or the payee's number
	Name    string        `json:"name"`    // the biller's name, or the payee's masked number
	Account string        `json:"account,omitempty"`
	Ref     string        `json:"ref,omitempty"`
	Amount  uint64        `json:"amount"`
	Weekly  bool          `json:"weekly,omitempty"`
	Day     int           `json:"day"` // a time.Weekday when weekly, else 1..31
	Lang    commands.Lang `json:"lang"`
	Next    string        `json:"next"`           // the due date, YYYY-MM-DD
	Last    string        `json:"last,omitempty"` // the last due date run, paid or told why not
	Created int64         `json:"created"`
}

// Order is a standing order as operators see it.
type Order struct {
	N       int    `json:"n"` // its number in the payer's ORDERS
	ID      string `json:"id"`
	Product string `json:"product"`
	Payee   string `json:"payee"`
	Account string `json:"account,omitempty"`
	Amount  string `json:"amount"`
	Every   string `json:"every"`
	Next    string `json:"next"`
	Last    string `json:"last,omitempty"`
}

// calendar date d, as midnight UTC: dates are counted in whole days.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// nextDue is the order's first due date on or after from: its weekday, or its day of the
// month, the month's last day when the month is shorter.
func (o *standingOrder) nextDue(from time.Time) time.Time {
	if o.Weekly {
		return from.AddDate(0, 0, (o.Day-int(from.Weekday())+7)%7)
	}
	for i := 0; ; i++ {
		first := time.Date(from.Year(), from.Month()+time.Month(i), 1, 0, 0, 0, 0, time.UTC)
		last := first.AddDate(0, 1, -1).Day()
		if d := first.AddDate(0, 0, min(o.Day, last)-1); !d.Before(from) {
			return d
		}
	}
}

func orderDueKey(due, id string) string {
	return keyOrderDue + strings.ReplaceAll(due, "-", "") + ":" + id
}

// orderRunID is the id of a run's payment: the same order and due date always make the
// same id (its first 8 bytes the due date, as every id begins with its time).
func (e *Engine) orderRunID(id, due string) domain.ID {
	var out domain.ID
	d, _ := time.ParseInLocation(time.DateOnly, due, e.cfg.Location)
	binary.BigEndian.PutUint64(out[:8], uint64(d.UnixNano()))
	h := sha256.Sum256([]byte("standing order run\x00" + id + "\x00" + due))
	copy(out[8:], h[:8])
	return out
}

// newID is the id of the turn's payment: derived for a standing order's run, else fresh.
func (t *turn) newID() domain.ID {
	if !t.runID.IsZero() {
		return t.runID
	}
	return domain.NewID()
}

func (e *Engine) order(id string) (standingOrder, uint64, bool, error) {
	var o standingOrder
	ver, found, err := e.record(keyOrder+id, &o)
	return o, ver, found, err
}

// today is the engine's date in its time zone.
func (e *Engine) today() time.Time { return dateOf(e.cfg.Now().In(e.cfg.Location)) }

// billAccount completes a BILL: the account typed is saved for the biller (the least
// recently changed dropped beyond the bound), none typed takes the saved one. false: none
// typed and none saved, answered.
func (t *turn) billAccount() bool {
	c := &t.cmd
	i := slices.IndexFunc(t.prof.Bills, func(b savedBill) bool { return b.Biller == c.Merchant })
	switch {
	case c.Account == "" && i < 0:
		t.reply(commands.RBillNoAccount, commands.Args{Arg: c.Merchant})
		return false
	case c.Account == "":
		c.Account = t.prof.Bills[i].Account
	case t.sOrder == nil && (i < 0 || t.prof.Bills[i].Account != c.Account):
		if i >= 0 {
			t.prof.Bills = slices.Delete(t.prof.Bills, i, i+1)
		}
		t.prof.Bills = append(t.prof.Bills, savedBill{Biller: c.Merchant, Account: c.Account})
		if n := len(t.prof.Bills) - t.e.cfg.Orders.SavedBills; n > 0 {
			t.prof.Bills = slices.Delete(t.prof.Bills, 0, n)
		}
		t.profDirty = true
	}
	return true
}

// makeOrder sets a standing order from EVERY: the payee, biller and amount checked now, its
// record and due entry written with the profile listing it (at the version read: the
// bound holds against a racing EVERY).
func (t *turn) makeOrder() domain.Job {
	c, e := t.cmd, t.e
	if n := len(t.prof.Orders); n >= e.cfg.Orders.Max {
		t.reply(commands.ROrdersFull, commands.Args{N: n})
		return t.withProfile(domain.Job{})
	}
	if above := e.cfg.ConfirmAbove; above > 0 && c.Amount > above {
		t.reply(commands.ROrderTooLarge, commands.Args{Limit: t.money(above)})
		return t.withProfile(domain.Job{})
	}
	if lim := e.cfg.Tiers[t.purse.Tier].PerTx; lim > 0 && c.Amount > lim {
		t.reply(commands.RLimitPerPayment, commands.Args{Limit: t.money(lim)})
		return t.withProfile(domain.Job{})
	}
	o := standingOrder{ID: t.in.From + ":" + domain.NewID().String()[16:], Payer: t.in.From, Amount: c.Amount, Weekly: c.Weekly, Day: c.Day,
		Lang: t.lang, Created: e.cfg.Now().UnixNano(), Ref: c.Ref}
	if !t.orderPayee(&o) {
		return t.withProfile(domain.Job{})
	}
	next := o.nextDue(e.today().AddDate(0, 0, 1))
	o.Next = next.Format(time.DateOnly)
	t.prof.Orders = append(t.prof.Orders, o.ID)
	t.profDirty = true
	t.reply(commands.ROrderMade, commands.Args{N: len(t.prof.Orders), Amount: t.money(o.Amount), Party: o.Name,
		Weekly: o.Weekly, Day: o.Day, Date: next.Format("02/01/2006")})
	return t.withProfile(domain.Job{Profiles: []domain.Profile{write(keyOrder+o.ID, o, 0), write(orderDueKey(o.Next, o.ID), struct{}{}, 0)}})
}

// orderPayee checks the order's biller (and its account, typed or saved) or payee as a
// texted BILL or SEND would; false: answered why not.
func (t *turn) orderPayee(o *standingOrder) bool {
	c := t.cmd
	if c.Then == commands.Bill {
		biller := t.e.activeOf(c.Merchant, domain.KindBiller)
		if biller == nil {
			t.reply(commands.RUnknownBiller, commands.Args{Arg: c.Merchant})
			return false
		}
		t.cmd.Kind = commands.Bill // billAccount reads and fills the command
		ok := t.billAccount()
		t.cmd.Kind = commands.Every
		o.Product, o.Payee, o.Name, o.Account = domain.ProductBill, c.Merchant, biller.Name, t.cmd.Account
		return ok
	}
	if _, ok := t.sendPayee(c.Phone); !ok {
		return false
	}
	o.Product, o.Payee, o.Name = domain.ProductSend, c.Phone, domain.Mask(c.Phone)
	return true
}

// listOrders answers ORDERS: each order, numbered, with its next due date.
func (t *turn) listOrders() domain.Job {
	var lines []string
	for i, id := range t.prof.Orders {
		o, _, found, err := t.e.order(id)
		if err != nil {
			return t.busy()
		}
		if found {
			next, _ := time.Parse(time.DateOnly, o.Next)
			lines = append(lines, fmt.Sprintf("%d) %s %s %s, %s", i+1, o.Name, t.money(o.Amount).Format(t.lang.DecimalMark()),
				commands.DayName(t.lang, o.Weekly, o.Day), next.Format("02/01/2006")))
		}
	}
	if len(lines) == 0 {
		t.reply(commands.ROrdersNone, commands.Args{})
	} else {
		t.reply(commands.ROrders, commands.Args{Lines: lines})
	}
	return t.withProfile(domain.Job{})
}

// stopOrder answers STOPORDER <n>: the order's record and due entry deleted at the
// versions read, in the job that takes it off the profile.
func (t *turn) stopOrder() domain.Job {
	n := t.cmd.N
	if n > len(t.prof.Orders) {
		t.reply(commands.ROrderNotFound, commands.Args{N: n})
		return t.withProfile(domain.Job{})
	}
	o, ver, found, err := t.e.order(t.prof.Orders[n-1])
	if err != nil {
		return t.busy()
	}
	var gone []domain.Profile
	if found {
		if gone, err = t.e.orderGone(&o, ver); err != nil {
			return t.busy()
		}
		t.reply(commands.ROrderStopped, commands.Args{N: n, Amount: t.money(o.Amount), Party: o.Name, Weekly: o.Weekly, Day: o.Day})
	} else {
		t.reply(commands.ROrderNotFound, commands.Args{N: n})
	}
	t.prof.Orders = slices.Delete(t.prof.Orders, n-1, n)
	t.profDirty = true
	return t.withProfile(domain.Job{Profiles: gone})
}

// orderGone deletes an order's record and its due entry, at the versions read.
func (e *Engine) orderGone(o *standingOrder, ver uint64) ([]domain.Profile, error) {
	out := []domain.Profile{{Owner: keyOrder + o.ID, Version: ver, Delete: true}}
	key := orderDueKey(o.Next, o.ID)
	_, iv, err := e.l.Profile(key)
	if err != nil {
		return nil, err
	}
	if iv != 0 {
		out = append(out, domain.Profile{Owner: key, Version: iv, Delete: true})
	}
	return out, nil
}

// orderDeletes ends every standing order of a profile (an erasure): the deletes, and the
// profile's list emptied. An order that cannot be read is left to the run, which finds
// the purse closed and ends it.
func (e *Engine) orderDeletes(p *profile) []domain.Profile {
	var out []domain.Profile
	for _, id := range p.Orders {
		if o, ver, found, err := e.order(id); err == nil && found {
			if gone, err := e.orderGone(&o, ver); err == nil {
				out = append(out, gone...)
			}
		}
	}
	p.Orders = nil
	return out
}

// RunOrders runs the standing orders due, every `every`, until ctx ends; the daemon starts
// it (one daemon at a time holds it, but two at once run each due date once all the same).
func (e *Engine) RunOrders(ctx context.Context, every time.Duration, logf func(string, ...any)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := e.RunDueOrders(ctx); err != nil && ctx.Err() == nil {
				logf("standing orders: %v", err)
			}
		}
	}
}

// RunDueOrders runs the standing orders due today or earlier (a daemon that was stopped
// runs a missed due date once, late), at most Orders.PerPass a call, from the hour
// Orders.RunHour. It returns how many ran, paid or told why not; the first error is
// returned after the others were tried.
func (e *Engine) RunDueOrders(ctx context.Context) (int, error) {
	now := e.cfg.Now().In(e.cfg.Location)
	if now.Hour() < e.cfg.Orders.RunHour {
		return 0, nil
	}
	end := keyOrderDue + dateOf(now).Format("20060102") + ":\xff"
	var due []domain.Profile
	_, err := e.scan(keyOrderDue, "", e.cfg.Orders.PerPass, func(r domain.Profile) (bool, error) {
		if r.Owner > end {
			return false, nil
		}
		due = append(due, r)
		return true, nil
	})
	n, rerr := e.runOrders(ctx, due)
	return n, cmp.Or(err, rerr)
}

// runOrders runs the orders of due entries, those of different payers side by side so that
// the ledger commits many in one write (one payer's wait on his lock, as his SMS do); it
// returns how many ran and the first error.
func (e *Engine) runOrders(ctx context.Context, due []domain.Profile) (n int, err error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		slot = make(chan struct{}, orderWorkers)
	)
	for _, r := range due {
		if ctx.Err() != nil {
			break
		}
		slot <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ran, rerr := e.runOrder(ctx, r.Owner)
			<-slot
			mu.Lock()
			defer mu.Unlock()
			if ran {
				n++
			}
			err = cmp.Or(err, rerr)
		}()
	}
	wg.Wait()
	return n, err
}

// orderWorkers bounds the orders one pass runs at once.
const orderWorkers = 32

// runOrder runs the order of a due entry once for that due date, again while another step
// (another daemon's run, a STOPORDER) changed it in between.
func (e *Engine) runOrder(ctx context.Context, dueKey string) (bool, error) {
	due, id, _ := strings.Cut(strings.TrimPrefix(dueKey, keyOrderDue), ":")
	for try := 0; ; try++ {
		_, iv, err := e.l.Profile(dueKey)
		if err != nil || iv == 0 {
			return false, err // gone: run or stopped meanwhile
		}
		o, ver, found, err := e.order(id)
		if err != nil {
			return false, err
		}
		if !found || strings.ReplaceAll(o.Next, "-", "") != due {
			// An entry its order no longer names (ended or moved on): dropped.
			_, err := e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: dueKey, Version: iv, Delete: true}}})
			if errors.Is(err, domain.ErrConflict) {
				err = nil
			}
			return false, err
		}
		err = e.payOrder(ctx, &o, ver, iv)
		if errors.Is(err, errConflict) && try < maxTurns {
			continue
		}
		return err == nil, err
	}
}

// payOrder runs one due date of an order as the payer's texted BILL or SEND: the same
// rule book, the same job, its replies to him (and the payee); its job, or the one that
// answers its refusal, moves the order on to its next due date at the version read.
func (e *Engine) payOrder(ctx context.Context, o *standingOrder, ver, dueVer uint64) error {
	mu := e.lock(o.Payer)
	mu.Lock()
	defer mu.Unlock()
	t := &turn{e: e, in: Inbound{From: o.Payer, To: e.cfg.ShortCode, Received: e.cfg.Now()}, sOrder: o}
	if err := t.load(); err != nil {
		return err
	}
	t.lang = o.Lang
	if t.prof.LangSet {
		t.lang = t.prof.Lang
	}
	moved := e.orderMoved(o, ver, dueVer)
	var job domain.Job
	// A closed purse pays no more, and nobody pays a payee erased since (his number reads as
	// nothing): the order ends, told.
	erased := o.Product == domain.ProductSend && !domain.IsMSISDN(o.Payee)
	if t.purse == nil || t.purse.Status == domain.StatusClosed || erased {
		gone, err := e.orderGone(o, ver)
		if err != nil {
			return err
		}
		switch {
		case t.purse != nil && erased:
			t.reply(commands.RPayeeClosed, commands.Args{Party: o.Name})
		case t.purse != nil:
			t.reply(commands.RAccountClosed, commands.Args{})
		}
		moved, job = gone, t.withProfile(domain.Job{})
	} else {
		job = t.runJob()
	}
	job.Profiles = append(job.Profiles, moved...)
	t.alsoOnRefusal(moved)
	return t.submit(ctx, job)
}

// orderMoved is the order after its due date ran: its record at the version read, its due
// entry moved to the next due date (the day after the later of the due date and today).
func (e *Engine) orderMoved(o *standingOrder, ver, dueVer uint64) []domain.Profile {
	next := *o
	due, _ := time.Parse(time.DateOnly, o.Next)
	next.Last = o.Next
	next.Next = next.nextDue(maxTime(due, e.today()).AddDate(0, 0, 1)).Format(time.DateOnly)
	return []domain.Profile{write(keyOrder+o.ID, next, ver), {Owner: orderDueKey(o.Next, o.ID), Version: dueVer, Delete: true},
		write(orderDueKey(next.Next, o.ID), struct{}{}, 0)}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// runJob is the payment of a run, as the payer's BILL or SEND: refused by the rule book
// (blocked, locked), or above the amount that needs a YES, it is told and pays nothing.
func (t *turn) runJob() domain.Job {
	o := t.sOrder
	t.cmd = commands.Command{Kind: commands.Send, Lang: t.lang, Phone: o.Payee, Amount: o.Amount, Ref: o.Ref}
	if o.Product == domain.ProductBill {
		t.cmd = commands.Command{Kind: commands.Bill, Lang: t.lang, Merchant: o.Payee, Account: o.Account, Amount: o.Amount}
	}
	if r := t.payerRefusal(fromPurse, nil); r != nil {
		return t.refuseBy(r)
	}
	if above := t.e.cfg.ConfirmAbove; above > 0 && o.Amount > above {
		t.reply(commands.ROrderNeedsYes, commands.Args{Limit: t.money(above)})
		return t.withProfile(domain.Job{})
	}
	t.runID = t.e.orderRunID(o.ID, o.Next)
	if o.Product == domain.ProductBill {
		return t.guard(t.pay())
	}
	return t.guard(t.send())
}

// runHeading heads what a run that did not pay tells the payer.
func (t *turn) runHeading() string {
	due, _ := time.Parse(time.DateOnly, t.sOrder.Next)
	return commands.Render(t.lang, commands.ROrderDue, commands.Args{Amount: t.money(t.sOrder.Amount), Party: t.sOrder.Name,
		Date: due.Format("02/01/2006"), Currency: t.e.cfg.Currency})
}

// alsoOnRefusal adds writes to what the job answering a refusal commits.
func (t *turn) alsoOnRefusal(w []domain.Profile) {
	switch {
	case t.onRefused != nil:
		f := t.onRefused
		t.onRefused = func(r *domain.RefusedError) []domain.Profile { return append(f(r), w...) }
	case t.onRefusal != nil:
		p := append(slices.Clone(*t.onRefusal), w...)
		t.onRefusal = &p
	default:
		t.onRefusal = &w
	}
}

// Orders lists a subscriber's standing orders, numbered as his ORDERS numbers them.
func (e *Engine) Orders(number string) ([]Order, error) {
	b, _, err := e.l.Profile(number)
	if err != nil {
		return nil, err
	}
	var p profile
	if b != nil {
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, err
		}
	}
	out := []Order{}
	for i, id := range p.Orders {
		o, _, found, err := e.order(id)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, Order{N: i + 1, ID: o.ID, Product: o.Product, Payee: o.Name, Account: o.Account,
				Amount: e.money(o.Amount).Format('.'), Every: commands.DayName(commands.EN, o.Weekly, o.Day), Next: o.Next, Last: o.Last})
		}
	}
	return out, nil
}

// StopOrder ends a subscriber's standing order n (as Orders numbers it) for an operator:
// audited, and the subscriber told.
func (e *Engine) StopOrder(ctx context.Context, actor, number string, n int) (Order, error) {
	var stopped Order
	_, err := e.opTurn(ctx, number, func(_ *domain.Account, p *profile, ver uint64) (domain.Job, error) {
		if n < 1 || n > len(p.Orders) {
			return domain.Job{}, fmt.Errorf("%s has no standing order %d", domain.Mask(number), n)
		}
		o, over, found, err := e.order(p.Orders[n-1])
		if err != nil {
			return domain.Job{}, err
		}
		job := domain.Job{Audit: &domain.Audit{Actor: actor, Action: "standing order stop", Detail: fmt.Sprintf("%s order %d", number, n)}}
		if found {
			gone, err := e.orderGone(&o, over)
			if err != nil {
				return domain.Job{}, err
			}
			job.Profiles = gone
			job.Messages = []domain.Message{e.sms(number, p.Lang, commands.ROrderEnded,
				commands.Args{Amount: e.money(o.Amount), Party: o.Name, Weekly: o.Weekly, Day: o.Day})}
			stopped = Order{N: n, ID: o.ID, Product: o.Product, Payee: o.Name, Amount: e.money(o.Amount).Format('.'), Next: o.Next}
		}
		p.Orders = slices.Delete(p.Orders, n-1, n)
		job.Profiles = append(job.Profiles, e.profileWrite(number, p, ver))
		return job, nil
	})
	return stopped, err
}
