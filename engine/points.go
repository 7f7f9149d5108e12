package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"mpg/commands"
	"mpg/domain"
	"mpg/loyalty"
)

// Loyalty points are a second asset in the ledger (domain.PointsAsset). A member's points
// account holds them; his wallet record (keyWallet) holds the same points as lots, with his
// recent activity. Every step that moves points writes both in one job, the wallet at the
// version read: two racing steps on one member cannot both pass, and the ledger refuses a
// balance below zero whatever a wallet says. Awards come from the points float, spent points
// go back to it, expired ones to the expired account.
const (
	keyWallet = "@pw:" // + number: a member's lots and activity (loyalty.Wallet)
	// keyPointsDue + due (16 hex digits) + ":" + number: wallets in the order they need the
	// clock (a notice or an expiry), so the sweep reads only those due.
	keyPointsDue = "@pd:"
)

// member is a member's points as a step reads them.
type member struct {
	number  string
	account uint64
	wallet  loyalty.Wallet
	ver     uint64
}

func (e *Engine) loyal() bool { return e.cfg.Loyalty != nil }

// pointsSystem is the points float or the expired account, opened the first time.
func (e *Engine) pointsSystem(ctx context.Context, kind domain.Kind) (uint64, error) {
	if a, err := e.l.System(kind, domain.PointsAsset); err == nil {
		return a.ID, nil
	}
	owner, name := "@points", "Points issued"
	if kind == domain.KindPointsExpired {
		owner, name = "@points-expired", "Points expired"
	}
	_, err := e.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: domain.PointsAsset, Kind: kind, Owner: owner, Name: name}},
		Audit: &domain.Audit{Actor: "system", Action: "open " + kind.String(), Detail: domain.PointsAsset}})
	if err != nil && !errors.Is(err, domain.ErrAccountExists) {
		return 0, err
	}
	a, err := e.l.System(kind, domain.PointsAsset)
	return a.ID, err
}

// memberOf reads a member's points account (opened the first time) and wallet.
func (e *Engine) memberOf(ctx context.Context, number string) (*member, error) {
	m := &member{number: number}
	if id, ok := e.pointsAccounts.Load(number); ok { // an account, once opened, keeps its id
		m.account = id.(uint64)
	}
	find := func() {
		for _, a := range e.l.AccountsOf(number) {
			if a.Kind == domain.KindPoints && a.Currency == domain.PointsAsset {
				m.account = a.ID
				e.pointsAccounts.Store(number, a.ID)
			}
		}
	}
	if m.account == 0 {
		find()
	}
	if m.account == 0 {
		_, err := e.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: domain.PointsAsset, Kind: domain.KindPoints, Owner: number, Name: "Points"}}})
		if err != nil && !errors.Is(err, domain.ErrAccountExists) {
			return nil, err
		}
		if find(); m.account == 0 {
			return nil, errors.New("no points account")
		}
	}
	var err error
	m.ver, _, err = e.record(keyWallet+number, &m.wallet)
	return m, err
}

// pointsID derives the id of a payment's points transfer, so a retried step is the same
// transfer.
func pointsID(payment, what string) domain.ID {
	h := sha256.Sum256([]byte("mpg points " + what + " " + payment))
	var id domain.ID
	copy(id[:], h[:16])
	return id
}

// writeWallet adds the member's wallet to a job, refiling it in the due index when its next
// notice or expiry moved.
func (e *Engine) writeWallet(job *domain.Job, m *member) {
	due := e.cfg.Loyalty.NextDue(&m.wallet)
	if due != m.wallet.Filed {
		if m.wallet.Filed != 0 {
			job.Profiles = append(job.Profiles, domain.Profile{Owner: pointsDueKey(m.wallet.Filed, m.number), Version: 1, Delete: true})
		}
		if due != 0 {
			job.Profiles = append(job.Profiles, domain.Profile{Owner: pointsDueKey(due, m.number), Data: indexEntry})
		}
		m.wallet.Filed = due
	}
	job.Profiles = append(job.Profiles, write(keyWallet+m.number, m.wallet, m.ver))
}

func pointsDueKey(at int64, number string) string {
	return fmt.Sprintf("%s%016x:%s", keyPointsDue, at, number)
}

// earn adds to the job of a completed payment what it earns its payer, m (nil: read here):
// the award from the points float, the wallet's new lot and activity, and on p what was
// earned. The payer's reply then says "+n pts (total)". Nothing without a programme, on a
// company's account, or for a product that never earns (the wallet is still written when
// m was changed by the caller, a payment with points).
func (e *Engine) earn(ctx context.Context, job domain.Job, p *domain.Payment, m *member, merchantCode string, lang commands.Lang) (domain.Job, error) {
	if !e.loyal() || p.Payer != 0 || p.MSISDN == "" {
		return job, nil
	}
	spent := p.Points != nil && p.Points.Spent > 0
	if !loyalty.Earns(p.ProductOf()) && !spent {
		return job, nil
	}
	if m == nil {
		var err error
		if m, err = e.memberOf(ctx, p.MSISDN); err != nil {
			e.pointsMissed.Add(1) // the payment goes on; what it earns is not worth refusing it
			return job, nil
		}
	}
	now, prog := e.cfg.Now(), e.programmeAt(merchantCode)
	n := prog.Earn(merchantCode, p.ProductOf(), p.Amount, now, prog.LevelOf(&m.wallet, now))
	prog.Record(&m.wallet, now, p.Amount, merchantCode)
	if p.Points == nil {
		p.Points = &domain.PaymentPoints{}
	}
	float, err := e.pointsSystem(ctx, domain.KindFloat)
	if err != nil {
		n = 0
	}
	if n > 0 {
		month, expires := prog.LotOf(now)
		if err := m.wallet.Award(month, expires, n); err != nil {
			n = 0
			e.pointsMissed.Add(1)
		}
	}
	if n > 0 {
		month, _ := prog.LotOf(now)
		job.Transfers = append(job.Transfers, domain.Transfer{ID: pointsID(p.ID, "earn"), Debit: float, Credit: m.account,
			Amount: n, Code: domain.CodePointsAward})
		p.Points.Earned, p.Points.Lot = n, month
	}
	p.Points.Total = m.wallet.Balance()
	e.writeWallet(&job, m)
	job.Compose = e.withPointsLine(job.Compose, p.MSISDN, lang, *p.Points)
	return job, nil
}

// withPointsLine appends to the first message to the member what the payment did to his
// points.
func (e *Engine) withPointsLine(compose func(domain.View, *domain.Result) ([]domain.Message, error), to string, lang commands.Lang, pts domain.PaymentPoints) func(domain.View, *domain.Result) ([]domain.Message, error) {
	var line string
	if pts.Spent > 0 {
		line = commands.Render(lang, commands.RPointsUsed, commands.Args{Points: pts.Spent, Total: pts.Total - pts.Earned,
			Worth: domain.Money{Minor: pts.Worth, Currency: e.cfg.Currency, Exponent: e.cfg.Exponent}})
	}
	if pts.Earned > 0 {
		line += commands.Render(lang, commands.RPointsEarned, commands.Args{Points: pts.Earned, Total: pts.Total})
	}
	if line == "" {
		return compose
	}
	return appendLine(compose, to, line)
}

// points answers POINTS <pin>: the member's points and the next lot to expire.
func (t *turn) points() domain.Job {
	t.repeat.Kind = repeatQuery
	if !t.e.loyal() {
		t.reply(commands.RPointsOff, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	var w loyalty.Wallet
	if _, _, err := t.e.record(keyWallet+t.in.From, &w); err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	now := t.e.cfg.Now().UnixNano()
	total := w.Spendable(now)
	if n, at, ok := w.NextExpiry(now); ok {
		t.reply(commands.RPoints, commands.Args{Total: total, Points: n, Date: t.e.day(at)})
	} else {
		t.reply(commands.RPointsNoExpiry, commands.Args{Total: total})
	}
	return t.withProfile(domain.Job{})
}

// day writes a time as the date a subscriber reads: the last day before it, in the engine's
// zone (a lot expiring at midnight on the 1st expires "on" the last day of the month before).
func (e *Engine) day(at int64) string {
	return time.Unix(0, at-1).In(e.cfg.Location).Format("02/01/2006")
}

// earnOnCompletion is earn for a payment that completes in a later step (a confirmation, a
// bank's approval, a capture): the merchant's code and the payer's language read here.
func (e *Engine) earnOnCompletion(job domain.Job, p *domain.Payment) (domain.Job, error) {
	if !loyalty.Earns(p.ProductOf()) || p.Payer != 0 || p.MSISDN == "" {
		return job, nil
	}
	payee, err := e.l.Account(p.Merchant)
	if err != nil {
		return job, err
	}
	return e.earn(context.Background(), job, p, nil, payee.Owner, e.langOf(p.MSISDN))
}

// payWithPoints pays a merchant with the member's points first, at the merchant's rate, and
// the rest from his purse, in one job: the points back to the points float, the money and
// its fee to the merchant, one payment record with both. Earned points count the money only.
func (t *turn) payWithPoints(code uint16, payee *domain.Account, amount uint64, ref string) domain.Job {
	e, ctx := t.e, context.Background()
	refuse := func(r commands.Reply, a commands.Args) domain.Job {
		t.reply(r, a)
		return t.withProfile(domain.Job{})
	}
	if !e.loyal() {
		return refuse(commands.RPointsOff, commands.Args{})
	}
	if r, _ := t.riskGate(productOf(code), domain.ChannelSMS, payee.ID, amount, false); r != nil {
		return t.refuseBy(r)
	}
	m, err := e.memberOf(ctx, t.in.From)
	if err != nil {
		return refuse(commands.RBusy, commands.Args{})
	}
	now := e.cfg.Now().UnixNano()
	pts, worth, money, ok := e.programmeAt(payee.Owner).Redeem(payee.Owner, amount, m.wallet.Spendable(now))
	switch {
	case !ok:
		return refuse(commands.RPointsNotHere, commands.Args{Party: payee.Name})
	case pts == 0: // asked to pay with points, he has none (or none worth a unit here)
		return refuse(commands.RPointsNone, commands.Args{Party: payee.Name})
	case e.cfg.ConfirmAbove > 0 && money > e.cfg.ConfirmAbove:
		return refuse(commands.RPointsConfirm, commands.Args{Amount: t.money(e.cfg.ConfirmAbove)})
	}
	draws, err := m.wallet.Spend(pts, now)
	float, err2 := e.pointsSystem(ctx, domain.KindFloat)
	if err != nil || err2 != nil {
		return refuse(commands.RBusy, commands.Args{})
	}
	id := domain.NewID()
	var ts []domain.Transfer
	if money > 0 {
		ts = append(ts, domain.Transfer{ID: id, Debit: t.purse.ID, Credit: payee.ID, Amount: money, Code: code, Ref: ref})
	}
	if pts > 0 {
		pid := pointsID(id.String(), "spend")
		if money == 0 {
			pid = id // all in points: its transfer is the payment's, as the receipt and reversals find it
		}
		ts = append(ts, domain.Transfer{ID: pid, Debit: m.account, Credit: float, Amount: pts, Code: domain.CodePointsRedeem})
	}
	ts, fee, ok := t.withFee(ts, code, money)
	if !ok {
		return t.busy()
	}
	t.repeat = t.paidRecord(code, payee, amount, ts[0])
	p := t.smsPayment(productOf(code), id, payee, t.purse.ID, money, fee, ref)
	p.Points = &domain.PaymentPoints{Spent: pts, Worth: worth, Draws: draws}
	job := t.withProfile(domain.Job{Transfers: ts, Compose: t.notices(code, payee, money, fee, ref, t.payeeLang(payee))})
	if job, err = e.earn(ctx, job, p, m, payee.Owner, t.lang); err == nil {
		job, err = e.paymentJob(p, 0, "", job, t.in.From, false)
	}
	if err != nil {
		return refuse(commands.RBusy, commands.Args{})
	}
	return job
}

// pointsPart is the part number of giveBackID for a refund's points transfers.
const pointsPart = 10

// pointsOnly says whether a payment was paid all in points, none of them given back yet.
func pointsOnly(p *domain.Payment) bool {
	return p.Amount == 0 && p.Points != nil && p.Points.Restored < p.Points.Spent
}

// givePointsBack adds to a refund's job what it does to the payment's points, as the refunds
// so far stand against the money paid: that share of what it spent given back to the lots it
// came from, then that share of what it earned taken back (capped at what the member holds,
// the points just given back included; the rest recorded as short). All of both once everything is given back; each once,
// as the record's counts and version see to it.
func (e *Engine) givePointsBack(p *domain.Payment, n int, job *domain.Job) (back, taken uint64, err error) {
	pts := p.Points
	if pts == nil || !e.loyal() {
		return 0, 0, nil
	}
	take := loyalty.Share(pts.Earned, p.Refunded, p.Amount) - min(pts.TakenBack+pts.Short, loyalty.Share(pts.Earned, p.Refunded, p.Amount))
	give := loyalty.Share(pts.Spent, p.Refunded, p.Amount) - min(pts.Restored, loyalty.Share(pts.Spent, p.Refunded, p.Amount))
	if take == 0 && give == 0 {
		return 0, 0, nil
	}
	ctx := context.Background()
	m, err := e.memberOf(ctx, p.MSISDN)
	if err != nil {
		return 0, 0, err
	}
	float, err := e.pointsSystem(ctx, domain.KindFloat)
	if err != nil {
		return 0, 0, err
	}
	if give > 0 {
		back, err = m.wallet.Restore(loyalty.Part(pts.Draws, pts.Restored, give))
		if err != nil {
			return 0, 0, err
		}
		pts.Restored += back
		job.Transfers = append(job.Transfers, domain.Transfer{ID: giveBackID(p.ID, n, pointsPart), Debit: float, Credit: m.account,
			Amount: back, Code: domain.CodePointsRestore})
	}
	if take > 0 {
		got := m.wallet.TakeBack(pts.Lot, take)
		taken = got
		pts.TakenBack, pts.Short = pts.TakenBack+got, pts.Short+take-got
		if got > 0 {
			job.Transfers = append(job.Transfers, domain.Transfer{ID: giveBackID(p.ID, n, pointsPart+1), Debit: m.account, Credit: float,
				Amount: got, Code: domain.CodePointsTakeBack})
		}
	}
	pts.Total = m.wallet.Balance()
	e.writeWallet(job, m)
	return back, taken, nil
}

// ExpirePoints tells members of points about to expire and moves what is left of expired
// lots to the expired account, each member in one job (his wallet at the version read). The
// due index is in time order: it reads only the wallets due, at most 1000 a call. It returns
// how many wallets it changed.
func (e *Engine) ExpirePoints(ctx context.Context) (int, error) {
	if !e.loyal() {
		return 0, nil
	}
	recs, err := e.l.ProfilesFrom(keyPointsDue, "", 1000)
	if err != nil {
		return 0, err
	}
	now := e.cfg.Now()
	done := 0
	for _, r := range recs {
		rest := strings.TrimPrefix(r.Owner, keyPointsDue)
		hexAt, number, ok := strings.Cut(rest, ":")
		var at int64
		if _, err := fmt.Sscanf(hexAt, "%x", &at); err != nil || !ok {
			continue
		}
		if at > now.UnixNano() {
			break // the rest are due later
		}
		err := e.sweepWallet(ctx, number, now)
		if errors.Is(err, domain.ErrConflict) {
			continue // the member moved meanwhile: his wallet is due again next time
		}
		if err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// sweepWallet expires a member's lots due at now and sends the notice he is owed.
func (e *Engine) sweepWallet(ctx context.Context, number string, now time.Time) error {
	m, err := e.memberOf(ctx, number)
	if err != nil {
		return err
	}
	prog := e.cfg.Loyalty
	var job domain.Job
	if moved := m.wallet.Expire(now.UnixNano()); moved > 0 {
		expired, err := e.pointsSystem(ctx, domain.KindPointsExpired)
		if err != nil {
			return err
		}
		job.Transfers = append(job.Transfers, domain.Transfer{ID: domain.NewID(), Debit: m.account, Credit: expired, Amount: moved,
			Code: domain.CodePointsExpire})
	}
	if i, left, n, ok := prog.Due(&m.wallet, now); ok {
		m.wallet.Told(i, n)
		lang := e.langOf(number)
		job.Messages = append(job.Messages, domain.Message{From: e.cfg.ShortCode, To: number, Text: commands.Render(lang, commands.RPointsExpiring,
			commands.Args{Points: left, Total: m.wallet.Spendable(now.UnixNano()), Date: e.day(m.wallet.Lots[i].Expires)})})
	}
	e.writeWallet(&job, m)
	job.Audit = &domain.Audit{Actor: "system", Action: "points due", Detail: domain.Mask(number)}
	_, err = e.l.Submit(ctx, job)
	return err
}

// withPointsHeld appends a member's points to the last reply (BAL), when he holds any.
func (t *turn) withPointsHeld() {
	if !t.e.loyal() || len(t.replies) == 0 {
		return
	}
	var w loyalty.Wallet
	if _, found, err := t.e.record(keyWallet+t.in.From, &w); err != nil || !found {
		return
	}
	if n := w.Spendable(t.e.cfg.Now().UnixNano()); n > 0 {
		last := &t.replies[len(t.replies)-1]
		last.Text += commands.Render(t.lang, commands.RPointsHeld, commands.Args{Total: n})
	}
}

// PointsMissed counts the completed payments that earned no points for a fault (the
// points account could not be opened, the wallet held too many lots): /metrics shows it.
func (e *Engine) PointsMissed() int64 { return e.pointsMissed.Load() }
