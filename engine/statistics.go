package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mpg/domain"
	"mpg/stats"
)

// The statistics follower. It reads the journal's facts from where it stopped and folds
// them into records kept in the books: roll-up cells per hour × product × channel ×
// merchant (stats.Cell), one record per payer (stats.Member: his days, months, spend and
// so his RFM scores), and active and new payers per day and month. Each pass writes what it
// folded and its new position in ONE job, guarded by the position's version, so a crash
// loses nothing and counts nothing twice, and on shared books only one daemon's pass of a
// stretch lands (the others' are refused and read on). Payments never wait for it: it
// runs beside them and catches up after a restart. It can be rebuilt from scratch
// (RebuildStatistics): the journal holds every fact.
const (
	keyStatsPos    = "@sx:pos" // the follower's position
	keyStatsCell   = "@sc:"    // + hour (hex) : product : channel : merchant (hex): a cell
	keyStatsMember = "@sp:"    // + the payer's purse (hex): his record
	keyStatsDay    = "@sd:"    // + day (days since 1970, hex): active and new payers that day
	keyStatsMonth  = "@sn:"    // + month (months since 1970, hex): active payers that month

	statsEntries   = 2000 // journal entries one pass reads
	statsMaxWrites = 1000 // records one pass writes (then it stops early; the next goes on)
)

// statsPos is where the follower stands: the next journal position to read. Rebuild set
// while a rebuild deletes the old records: no pass folds meanwhile.
type statsPos struct {
	Next    uint64 `json:"n"`
	Rebuild bool   `json:"r,omitempty"`
}

// payersCount is one day's or month's payers: active (paid at least once), new (first
// payment ever).
type payersCount struct {
	Active int64 `json:"a,omitempty"`
	New    int64 `json:"n,omitempty"`
}

// statsPass is the records one pass touched, read at their versions.
type statsPass struct {
	e      *Engine
	batch  *stats.Batch
	payers map[uint64]*versioned[payerRecord] // each payer's one record (payer_record.go)
	counts map[string]*versioned[payersCount]
	risk   *riskPass // the fraud rules' activities (nil: the rules are off)
	writes int
}

type versioned[T any] struct {
	v   T
	ver uint64
}

// FollowStatistics runs one pass: it folds what the journal holds past the follower's
// position (at most statsEntries entries) and reports how many entries it read. A pass
// that lost the race to another daemon's reads 0 and changes nothing.
func (e *Engine) FollowStatistics(ctx context.Context) (int, error) {
	var pos statsPos
	posVer, _, err := e.record(keyStatsPos, &pos)
	if err != nil || pos.Rebuild {
		return 0, err
	}
	entries, next, err := e.l.Journal(max(pos.Next, 1), statsEntries)
	if err != nil || len(entries) == 0 && next <= pos.Next {
		return 0, err
	}
	p := &statsPass{e: e, batch: stats.NewBatch(), payers: map[uint64]*versioned[payerRecord]{}, counts: map[string]*versioned[payersCount]{}}
	if e.risk != nil {
		p.risk = &riskPass{e: e, acts: map[string]*versioned[riskRecord]{}, payer: p.payer}
	}
	read := 0
	for _, en := range entries {
		if p.writes >= statsMaxWrites {
			next = en.Seq // stop before it: the next pass starts there
			break
		}
		read++
		if en.Fact != nil {
			if err := p.fold(*en.Fact, en.Time); err != nil {
				return 0, err
			}
		}
		if p.risk != nil {
			n, err := p.risk.fold(en)
			if err != nil {
				return 0, err
			}
			p.writes += n
		}
	}
	job, err := p.job(next)
	if err != nil {
		return 0, err
	}
	job.Profiles = append(job.Profiles, write(keyStatsPos, statsPos{Next: next}, posVer))
	_, err = e.l.Submit(ctx, job)
	if errors.Is(err, domain.ErrConflict) {
		return 0, nil // another daemon's pass landed first; read on from its position
	}
	if err == nil {
		e.statsLag.Store(int64(e.headSeq()) - int64(next) + 1)
		e.sawFollowed(next)
	}
	return read, err
}

// fold adds one fact to the pass: its cell, its payer's record and the day's and month's
// payers.
func (p *statsPass) fold(f domain.Fact, t int64) error {
	if stats.Counts(f) {
		k := stats.KeyOf(f, t)
		if _, seen := p.batch.Cells[k]; !seen {
			p.writes++
		}
		p.batch.Add(f, t)
	}
	if f.Payer != 0 && (f.Kind == domain.FactPaid || f.Kind == domain.FactRefund) {
		if err := p.member(f, t); err != nil {
			return err
		}
	}
	return nil
}

// member folds a payment or refund into its payer's record, counting him active (and new)
// on his first payment of the day and of the month.
func (p *statsPass) member(f domain.Fact, t int64) error {
	m, err := p.payer(f.Payer)
	if err != nil {
		return err
	}
	loc := p.e.cfg.Location
	newDay, newMonth, first := m.v.Member.Observe(f, t, loc)
	at := time.Unix(0, t).In(loc)
	if newDay {
		c, err := p.count(keyStatsDay + hex16(uint64(stats.DayOf(at))))
		if err != nil {
			return err
		}
		c.v.Active++
		if first {
			c.v.New++
		}
	}
	if newMonth {
		c, err := p.count(keyStatsMonth + hex16(uint64(stats.MonthOf(at))))
		if err != nil {
			return err
		}
		c.v.Active++
		if first {
			c.v.New++
		}
	}
	return nil
}

// payer reads a payer's record into the pass once.
func (p *statsPass) payer(purse uint64) (*versioned[payerRecord], error) {
	if m, ok := p.payers[purse]; ok {
		return m, nil
	}
	m := &versioned[payerRecord]{}
	var err error
	m.v, m.ver, err = p.e.readPayer(purse)
	p.payers[purse], p.writes = m, p.writes+1
	return m, err
}

func (p *statsPass) count(key string) (*versioned[payersCount], error) {
	if c, ok := p.counts[key]; ok {
		return c, nil
	}
	c := &versioned[payersCount]{}
	var err error
	c.ver, _, err = p.e.record(key, &c.v)
	p.counts[key], p.writes = c, p.writes+1
	return c, err
}

// job is the pass's writes: every touched cell merged into its stored record, the payers'
// records and counts, each at the version read.
func (p *statsPass) job(next uint64) (domain.Job, error) {
	job := domain.Job{}
	for _, k := range p.batch.Keys() {
		var stored stats.Cell
		ver, _, err := p.e.record(cellKey(k), &stored)
		if err != nil {
			return job, err
		}
		stats.Merge(&stored, p.batch.Cells[k])
		job.Profiles = append(job.Profiles, write(cellKey(k), stored, ver))
	}
	for id, m := range p.payers {
		if p.risk != nil {
			m.v.Risk.Seq = next // his activity is folded up to here
		}
		job.Profiles = append(job.Profiles, domain.Profile{Owner: memberKey(id), Data: m.v.encode(), Version: m.ver})
	}
	for key, c := range p.counts {
		job.Profiles = append(job.Profiles, write(key, c.v, c.ver))
	}
	if p.risk != nil {
		job = p.risk.writes(job, next)
	}
	return job, nil
}

func memberKey(purse uint64) string { return keyStatsMember + hex16(purse) }

// cellKey files a cell under its hour first, so that a period is one range of keys.
func cellKey(k stats.Key) string {
	return keyStatsCell + hex16(uint64(k.Hour)) + ":" + k.Product + ":" + k.Channel + ":" + hex16(k.Merchant)
}

// parseCellKey reads a cell's key back.
func parseCellKey(s string) (stats.Key, bool) {
	parts := strings.Split(strings.TrimPrefix(s, keyStatsCell), ":")
	if len(parts) != 4 {
		return stats.Key{}, false
	}
	hour, err1 := strconv.ParseUint(parts[0], 16, 64)
	merchant, err2 := strconv.ParseUint(parts[3], 16, 64)
	return stats.Key{Hour: int64(hour), Product: parts[1], Channel: parts[2], Merchant: merchant}, err1 == nil && err2 == nil
}

// headSeq is the journal's newest position (0 if unreadable).
func (e *Engine) headSeq() uint64 {
	seq, _, _ := e.l.Head()
	return seq
}

// StatisticsLag is how many journal entries the follower had still to read after its last
// pass (a metric: near 0 when it keeps up).
func (e *Engine) StatisticsLag() int64 { return e.statsLag.Load() }

// RunStatistics follows the journal until ctx ends: a pass every every, at once again
// while there is more to read.
func (e *Engine) RunStatistics(ctx context.Context, every time.Duration, logf func(string, ...any)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := e.FollowStatistics(ctx)
		if err != nil && ctx.Err() == nil {
			logf("statistics: %v", err)
		}
		if n > 0 && err == nil && e.statsLag.Load() > 0 {
			continue // more is waiting: read on at once
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ErrStatsRebuilding: a rebuild is deleting the statistics (or one was cut short, and
// RebuildStatistics must run again): the follower folds nothing meanwhile.
var ErrStatsRebuilding = errors.New("statistics: a rebuild is under way (if none runs, one was cut short: run mpg stats rebuild)")

// CatchUpStatistics runs passes until the follower has read the whole journal (at most
// maxPasses), for tools and tests.
func (e *Engine) CatchUpStatistics(ctx context.Context, maxPasses int) error {
	for range maxPasses {
		var pos statsPos
		if _, _, err := e.record(keyStatsPos, &pos); err != nil {
			return err
		}
		if pos.Rebuild {
			return ErrStatsRebuilding
		}
		if pos.Next > e.headSeq() {
			return nil
		}
		if _, err := e.FollowStatistics(ctx); err != nil {
			return err
		}
	}
	return fmt.Errorf("statistics: not caught up after %d passes", maxPasses)
}
