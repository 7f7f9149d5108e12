package ledger

import "mpg/domain"

// A store whose reads cost a round trip each (a database) is asked, before a batch is
// applied, for every key the batch's jobs will look up by name: their transfer ids (the
// idempotency check), pending ids, dedupe keys and records, and the messages and early
// receipts of its outbox updates. One query brings them all, and
// the rules then read them from the transaction's memory. A file reads from its own pages
// and is not asked.

// KeyRef names one key of one bucket.
type KeyRef struct {
	Bucket, Key []byte
}

// Prefetcher is a transaction that can read many keys at once, ahead of the Gets.
type Prefetcher interface {
	Prefetch(keys []KeyRef)
}

// prefetch asks the transaction for the keys the batch's jobs name.
func (w *batchWriter) prefetch(reqs []*jobReq) {
	p, ok := w.tx.(Prefetcher)
	if !ok {
		return
	}
	keys := w.prefetchKeys[:0]
	receipts := false
	for _, r := range reqs {
		switch {
		case r.job != nil:
			keys = w.jobKeys(keys, r.job)
		case r.upd != nil:
			keys = updateKeys(keys, r.upd)
			receipts = receipts || r.upd.id == 0
		}
	}
	if len(keys) > 0 {
		p.Prefetch(keys)
	}
	if receipts {
		// A receipt names the SMSC's id: its message is known once that index was read.
		keys = keys[:0]
		ids := w.tx.Bucket(bktSMSCIDs)
		for _, r := range reqs {
			if r.upd != nil && r.upd.id == 0 {
				if v := ids.Get([]byte(r.upd.smscID)); len(v) == 8 {
					keys = append(keys, KeyRef{bktOutbox, v})
				}
			}
		}
		p.Prefetch(keys)
	}
	clear(keys)
	w.prefetchKeys = keys[:0]
}

// updateKeys adds the keys an outbox update reads: its message (or the SMSC id that finds
// it) and the early receipts of its parts.
func updateKeys(keys []KeyRef, u *msgUpdate) []KeyRef {
	if u.id != 0 {
		keys = append(keys, KeyRef{bktOutbox, u64key(u.id)})
	} else {
		keys = append(keys, KeyRef{bktSMSCIDs, []byte(u.smscID)})
	}
	for _, part := range u.parts {
		keys = append(keys, KeyRef{bktEarly, []byte(part)})
	}
	return keys
}

// jobKeys adds the keys job reads by name.
func (w *batchWriter) jobKeys(keys []KeyRef, job *domain.Job) []KeyRef {
	for i := range job.Transfers {
		t := &job.Transfers[i]
		keys = append(keys, KeyRef{bktIDs, t.ID[:]})
		if !t.PendingID.IsZero() {
			keys = append(keys, KeyRef{bktIDs, t.PendingID[:]})
		}
	}
	if d := job.Dedupe; d != nil {
		keys = append(keys, KeyRef{bktDedupeIdx, []byte(d.Key)})
	}
	for _, p := range job.Profiles {
		keys = append(keys, KeyRef{bktProfiles, []byte(w.l.people.recordKey(w.tx, p.Owner))})
	}
	for _, r := range job.Reads {
		keys = append(keys, KeyRef{bktProfiles, []byte(w.l.people.recordKey(w.tx, r.Owner))})
	}
	return keys
}
