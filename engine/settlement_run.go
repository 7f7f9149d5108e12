package engine

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"mpg/commands"
	"mpg/domain"
)

// SettleReport is what one settlement run did.
type SettleReport struct {
	Day     string   `json:"day"`
	Issued  []Payout `json:"issued"`
	Skipped []string `json:"skipped,omitempty"` // "SHOP42: owed 0.40 EUR, less than the minimum payout"
	Files   []string `json:"files,omitempty"`   // the paths written
	Errors  []string `json:"errors,omitempty"`
}

// Settle pays every merchant with a linked bank account what it is owed today, at most once
// a day each, then files the payouts issued and not yet in a file, and writes the files that
// are not yet on disk (those a crash left too). actor is who asked (an operator, "system").
func (e *Engine) Settle(ctx context.Context, actor string) (SettleReport, error) {
	if err := e.settlementReady(); err != nil {
		return SettleReport{}, err
	}
	now := e.cfg.Now()
	rep := SettleReport{Day: now.In(e.cfg.Location).Format("20060102")}
	settle, err := e.settlementAccount(ctx)
	if err != nil {
		return rep, err
	}
	banks, err := e.linkedBanks()
	if err != nil {
		return rep, err
	}
	e.payOutAll(ctx, actor, settle, banks, now, &rep)
	if err := e.settlePending(ctx, &rep); err != nil {
		return rep, err
	}
	for i, p := range rep.Issued {
		if p, _, err := e.PayoutByID(p.ID); err == nil {
			rep.Issued[i] = p // with the file it went into
		}
	}
	if len(rep.Errors) == 0 { // the day is done: the daily run does not start it again
		_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: keySettleDay + rep.Day, Data: indexEntry}}})
		if errors.Is(err, domain.ErrConflict) {
			err = nil // another run marked it
		}
	}
	return rep, err
}

// SettleDue runs the day's settlement once its time (settlement.at) has come, unless a run
// finished it already; in any case it files and writes what a crash left. ran says whether
// the day's run started.
func (e *Engine) SettleDue(ctx context.Context) (rep SettleReport, ran bool, err error) {
	if err := e.settlementReady(); err != nil {
		return rep, false, err
	}
	now := e.cfg.Now().In(e.cfg.Location)
	day := now.Format("20060102")
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, e.cfg.Location)
	_, done, err := e.record(keySettleDay+day, &struct{}{})
	if err != nil {
		return rep, false, err
	}
	if done || now.Before(midnight.Add(e.cfg.Settlement.At)) {
		err = e.settlePending(ctx, &rep)
		return rep, false, err
	}
	rep, err = e.Settle(ctx, "system")
	return rep, true, err
}

// RunSettlement runs the daily settlement when it is due, looking every so often, until ctx ends.
func (e *Engine) RunSettlement(ctx context.Context, every time.Duration, logf func(string, ...any)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rep, ran, err := e.SettleDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logf("settlement: %v", err)
		case ran:
			logf("settlement of %s: %d payouts issued, files %v, %d merchants left for later", rep.Day, len(rep.Issued), rep.Files, len(rep.Errors))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// settleWorkers bounds the payout jobs in flight at once: the ledger commits those that
// arrive together with one sync.
const settleWorkers = 16

// payOutAll issues the day's payouts of the merchants, several at a time, and reports each
// in the order of the merchants.
func (e *Engine) payOutAll(ctx context.Context, actor string, settle uint64, banks []PayoutBank, now time.Time, rep *SettleReport) {
	type outcome struct {
		p   *Payout
		why string
		err error
	}
	out := make([]outcome, len(banks))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(settleWorkers, len(banks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				o := &out[i]
				o.p, o.why, o.err = e.payOut(ctx, actor, rep.Day, settle, banks[i], now)
			}
		}()
	}
	for i := range banks {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, o := range out {
		switch {
		case o.err != nil:
			rep.Errors = append(rep.Errors, banks[i].Code+": "+o.err.Error())
		case o.p != nil:
			rep.Issued = append(rep.Issued, *o.p)
		default:
			rep.Skipped = append(rep.Skipped, banks[i].Code+": "+o.why)
		}
	}
}

// linkedBanks are the merchants with a linked bank account.
func (e *Engine) linkedBanks() ([]PayoutBank, error) {
	var out []PayoutBank
	capped, err := e.scan(keyPayoutBank, "", maxSettleScan, func(r domain.Profile) (bool, error) {
		var b PayoutBank
		if _, found, err := e.record(r.Owner, &b); err != nil || !found {
			return err == nil, err
		}
		out = append(out, b)
		return true, nil
	})
	if err == nil && capped {
		err = fmt.Errorf("settlement: more than %d merchants with a bank account", maxSettleScan)
	}
	return out, err
}

// payOut issues a merchant's payout of the day: what it is owed moves to the settlement
// account in the job that writes the payout, and only if the merchant's account has not
// moved since its balance and reserve were read (the ledger checks it as it commits). A
// payout already issued that day, or nothing owed, is no payout (why says which).
func (e *Engine) payOut(ctx context.Context, actor, day string, settle uint64, b PayoutBank, now time.Time) (*Payout, string, error) {
	id := "MPG" + day + "-" + b.Code
	for try := 0; try < 4*maxTurns; try++ {
		if _, found, err := e.record(keyPayout+id, &Payout{}); err != nil || found {
			return nil, "paid out today already (" + id + ")", err
		}
		m, err := e.l.Account(b.Merchant)
		if err != nil {
			return nil, "", err
		}
		if m.Currency != e.cfg.Currency {
			return nil, "", fmt.Errorf("account in %s: %w", m.Currency, domain.ErrNotEUR)
		}
		reserve, err := e.reserve(m, now)
		if err != nil {
			return nil, "", err
		}
		owed := m.Available() - int64(reserve)
		if owed <= 0 || uint64(owed) < max(1, e.cfg.Settlement.MinPayout) {
			return nil, fmt.Sprintf("owed %s (balance %s, reserve %s): less than the minimum payout",
				e.amount(uint64(max(0, owed))), e.amount(uint64(max(0, m.Available()))), e.amount(reserve)), nil
		}
		p := Payout{ID: id, Merchant: m.ID, Code: b.Code, Day: day, Amount: uint64(owed), Currency: m.Currency, IBAN: b.IBAN, BIC: b.BIC,
			Holder: b.Holder, State: PayoutIssued, Transfer: settleTransferID(id, 'i').String(), Cut: m.LastSeq, Available: m.Available(),
			Reserve: reserve, Created: now.UnixNano(), Updated: now.UnixNano()}
		if ids, err := e.payoutIDs(m.ID); err != nil {
			return nil, "", err
		} else if len(ids) > 0 {
			p.Prev = ids[len(ids)-1]
		}
		_, err = e.l.Submit(ctx, domain.Job{
			Transfers: []domain.Transfer{{ID: settleTransferID(id, 'i'), Debit: m.ID, Credit: settle, Amount: p.Amount, Code: domain.CodeSettle, Flags: domain.Exempt, Ref: id}},
			Untouched: []domain.AccountAt{{ID: m.ID, LastSeq: m.LastSeq}},
			Profiles:  []domain.Profile{write(keyPayout+id, p, 0), {Owner: payoutOfKey(m.ID, id), Data: indexEntry}, {Owner: keyUnfiled + id, Data: indexEntry}},
			Messages:  e.payoutNotice(m, commands.RPayoutIssued, p, ""),
			Audit:     &domain.Audit{Actor: actor, Action: "settlement payout", Detail: id + " " + e.amount(p.Amount)},
		})
		switch {
		case errors.Is(err, domain.ErrConflict):
			continue // a payment, a refund or another daemon came between: read again
		case errors.Is(err, domain.ErrAccountBlocked) || errors.Is(err, domain.ErrAccountClosed):
			return nil, "the account is blocked or closed: nothing paid out", nil
		case err != nil:
			return nil, "", err
		}
		return &p, "", nil
	}
	return nil, "", errors.New("the account kept moving while its payout was computed: the next run pays it")
}

// payoutNotice tells the merchant, on the number its payment notices go to (none: not told),
// of its payout (in English, as its other notices).
func (e *Engine) payoutNotice(m domain.Account, r commands.Reply, p Payout, why string) []domain.Message {
	if m.Phone == "" {
		return nil
	}
	msg := e.sms(m.Phone, commands.EN, r, commands.Args{Amount: e.money(p.Amount), Account: domain.MaskIBAN(p.IBAN), Ref: p.ID,
		Limit: e.money(p.Reserve), Arg: cmp.Or(why, "no reason given")})
	msg.Urgent = true
	return []domain.Message{msg}
}

// reserve is what is kept back of a merchant's balance for refunds and disputes: the
// configured share of what it was paid in the last days, at least the fixed minimum. Were
// its history too long to read, everything is kept back (no payout rather than a guess).
func (e *Engine) reserve(m domain.Account, now time.Time) (uint64, error) {
	c := e.cfg.Settlement
	since := now.Add(-time.Duration(c.ReserveDays) * 24 * time.Hour).UnixNano()
	var paid uint64
	before, read := uint64(0), 0
	for read < maxReserveScan {
		trs, err := e.l.History(m.ID, domain.MaxProfileScan, before)
		if err != nil {
			return 0, err
		}
		for _, t := range trs {
			read++
			if t.Timestamp < since {
				return max(c.ReserveMin, paid*uint64(c.ReservePercent)/100), nil
			}
			if t.Credit == m.ID && t.Code != domain.CodeSettleReturn && t.Flags&(domain.Pending|domain.VoidPending) == 0 {
				paid += t.Amount
			}
		}
		if len(trs) < domain.MaxProfileScan {
			return max(c.ReserveMin, paid*uint64(c.ReservePercent)/100), nil
		}
		before = trs[len(trs)-1].Seq
	}
	return uint64(max(0, m.Available())), nil
}

// settlePending files the payouts no file holds yet, then writes the files not yet on disk.
func (e *Engine) settlePending(ctx context.Context, rep *SettleReport) error {
	if err := e.filePayouts(ctx); err != nil {
		return err
	}
	return e.writeFiles(ctx, rep)
}

// payoutFile is a pain.001 file as the books keep it: which payouts it holds. The file on
// disk is written from it and the payouts' records, so it can be written again, the same.
type payoutFile struct {
	MsgID   string   `json:"msg_id"`
	Created int64    `json:"created"`
	Payouts []string `json:"payouts"`
	Sum     uint64   `json:"sum"`
	Path    string   `json:"path,omitempty"` // where it was written
}

// filePayouts puts the payouts no file holds yet into files of at most
// domain.MaxSEPATransfers each: one job per file names the file in every payout it holds.
func (e *Engine) filePayouts(ctx context.Context) error {
	for round := 0; round < maxSettleScan/domain.MaxSEPATransfers; round++ {
		recs, err := e.l.ProfilesFrom(keyUnfiled, "", domain.MaxSEPATransfers)
		if err != nil || len(recs) == 0 {
			return err
		}
		now := e.cfg.Now()
		f := payoutFile{Created: now.UnixNano()}
		var job domain.Job
		var ps []Payout
		var vers []uint64
		for _, r := range recs {
			job.Profiles = append(job.Profiles, domain.Profile{Owner: r.Owner, Version: r.Version, Delete: true})
			p, ver, err := e.PayoutByID(strings.TrimPrefix(r.Owner, keyUnfiled))
			if err != nil {
				return err
			}
			if p.File == "" {
				ps, vers = append(ps, p), append(vers, ver)
				f.Payouts, f.Sum = append(f.Payouts, p.ID), f.Sum+p.Amount
			}
		}
		if len(ps) > 0 {
			f.MsgID = fileMsgID(now, f.Payouts)
			for i := range ps {
				ps[i].File = f.MsgID
				job.Profiles = append(job.Profiles, write(keyPayout+ps[i].ID, ps[i], vers[i]))
			}
			job.Profiles = append(job.Profiles, write(keyPayoutFile+f.MsgID, f, 0), domain.Profile{Owner: keyUnwritten + f.MsgID, Data: indexEntry})
			job.Audit = &domain.Audit{Actor: "system", Action: "settlement file", Detail: fmt.Sprintf("%s %d payouts %s", f.MsgID, len(ps), e.amount(f.Sum))}
		}
		if _, err := e.l.Submit(ctx, job); err != nil && !errors.Is(err, domain.ErrConflict) {
			return err // a conflict: another run filed them; read again
		}
	}
	return nil
}

// fileMsgID names a file by its time and the payouts it holds: unique, and traceable back.
func fileMsgID(now time.Time, payouts []string) string {
	h := sha256.Sum256([]byte(strings.Join(payouts, ",")))
	return "MPG" + now.UTC().Format("20060102150405") + "-" + hex.EncodeToString(h[:4])
}

// writeFiles writes every file not yet on disk into settlement.dir, then records it written.
func (e *Engine) writeFiles(ctx context.Context, rep *SettleReport) error {
	recs, err := e.l.ProfilesFrom(keyUnwritten, "", domain.MaxProfileScan)
	if err != nil {
		return err
	}
	for _, r := range recs {
		msg := strings.TrimPrefix(r.Owner, keyUnwritten)
		var f payoutFile
		ver, _, err := e.record(keyPayoutFile+msg, &f)
		if err != nil {
			return err
		}
		sf, err := e.fileOf(f)
		if err != nil {
			return fmt.Errorf("settlement file %s: %w", msg, err)
		}
		if f.Path, err = e.cfg.Settlement.Files.WriteInitiation(e.cfg.Settlement.Dir, sf); err != nil {
			return fmt.Errorf("settlement file %s: %w", msg, err)
		}
		_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(keyPayoutFile+msg, f, ver), {Owner: r.Owner, Version: r.Version, Delete: true}}})
		if err != nil && !errors.Is(err, domain.ErrConflict) {
			return err
		}
		rep.Files = append(rep.Files, f.Path)
	}
	return nil
}

// fileOf is what a file says, from the books alone: written again, it is the same.
func (e *Engine) fileOf(f payoutFile) (domain.SEPAFile, error) {
	created := time.Unix(0, f.Created)
	out := domain.SEPAFile{MsgID: f.MsgID, Created: created, Execution: created.In(e.cfg.Location), Currency: e.cfg.Currency,
		Initiator: e.cfg.Settlement.Initiator, Debtor: e.cfg.Settlement.Debtor}
	for _, id := range f.Payouts {
		p, _, err := e.PayoutByID(id)
		if err != nil {
			return out, err
		}
		if p.Currency != "EUR" {
			return out, domain.ErrNotEUR
		}
		out.Transfers = append(out.Transfers, domain.SEPATransfer{EndToEndID: p.ID, AmountMinor: p.Amount, Name: p.Holder, IBAN: p.IBAN, BIC: p.BIC,
			Remittance: "Payout " + p.ID + " " + p.Code})
	}
	return out, nil
}

// PayoutFilePath is where a file was written ("" : not yet).
func (e *Engine) PayoutFilePath(msg string) (string, error) {
	var f payoutFile
	_, _, err := e.record(keyPayoutFile+msg, &f)
	return f.Path, err
}
