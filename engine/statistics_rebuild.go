package engine

import (
	"context"
	"strconv"

	"mpg/domain"
)

// rebuildDeletes bounds the records one job of a rebuild deletes.
const rebuildDeletes = 256

// statsPrefixes are the follower's records a rebuild deletes: the statistics, and the
// fraud rules' activities it folds from the same position (else they would count twice).
var statsPrefixes = []string{keyStatsCell, keyStatsMember, keyStatsDay, keyStatsMonth, keyRiskPaid, keyRiskAll}

// RebuildStatistics starts the statistics again from the journal's first entry. It marks
// the follower's position as rebuilding (so a pass in flight is refused and no pass folds
// meanwhile), deletes every cell, payer's record and payers' count in jobs of at most
// rebuildDeletes, then sets the position back to the start: the follower refolds the
// whole journal. progress is told how many records are deleted so far.
func (e *Engine) RebuildStatistics(ctx context.Context, actor string, progress func(done int)) error {
	var pos statsPos
	ver, _, err := e.record(keyStatsPos, &pos)
	if err != nil {
		return err
	}
	job := domain.Job{Profiles: []domain.Profile{write(keyStatsPos, statsPos{Next: pos.Next, Rebuild: true}, ver)}}
	if _, err := e.l.Submit(ctx, job); err != nil {
		return err
	}
	done := 0
	for _, prefix := range statsPrefixes {
		if err := e.deleteAll(ctx, prefix, &done, progress); err != nil {
			return err
		}
	}
	ver, _, err = e.record(keyStatsPos, &pos)
	if err != nil {
		return err
	}
	job = domain.Job{
		Profiles: []domain.Profile{write(keyStatsPos, statsPos{Next: 1}, ver)},
		Audit:    &domain.Audit{Actor: actor, Action: "statistics rebuild", Detail: strconv.Itoa(done) + " records deleted"},
	}
	_, err = e.l.Submit(ctx, job)
	e.statsLag.Store(int64(e.headSeq()))
	return err
}

// deleteAll deletes every record under prefix, rebuildDeletes a job.
func (e *Engine) deleteAll(ctx context.Context, prefix string, done *int, progress func(int)) error {
	for {
		recs, err := e.l.ProfilesFrom(prefix, "", rebuildDeletes)
		if err != nil || len(recs) == 0 {
			return err
		}
		job := domain.Job{Profiles: make([]domain.Profile, 0, len(recs))}
		for _, r := range recs {
			job.Profiles = append(job.Profiles, domain.Profile{Owner: r.Owner, Version: r.Version, Delete: true})
		}
		if _, err := e.l.Submit(ctx, job); err != nil {
			return err
		}
		*done += len(recs)
		if progress != nil {
			progress(*done)
		}
	}
}
