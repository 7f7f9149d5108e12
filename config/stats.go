package config

import "time"

// Stats configures the statistics follower: the daemon folds the journal's facts into the
// figures `mpg stats`, the merchant API and the STATS SMS read.
type Stats struct {
	Enabled       bool `toml:"enabled"`         // false: this daemon does not follow (the figures stand still)
	FollowEveryMs int  `toml:"follow_every_ms"` // a pass this often, at once again while more waits
}

func defaultStats() Stats { return Stats{Enabled: true, FollowEveryMs: 200} }

// FollowEvery is the time between two passes.
func (s Stats) FollowEvery() time.Duration { return time.Duration(s.FollowEveryMs) * time.Millisecond }

func (s Stats) validate(r *rules) {
	r.between("stats.follow_every_ms", s.FollowEveryMs, 10, 600000)
}
