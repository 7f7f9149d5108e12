package domain

import "time"

// TierLimits are the rules of one KYC tier, in minor units (0: no limit).
type TierLimits struct {
	PerPayment uint64 // one debit from the purse
	Daily      uint64 // debits over any rolling 24 hours, reservations included
	MaxBalance uint64 // what the purse may hold, money on its way in included
	// MaySend lets the purse pay other people: another purse, or a hold for someone
	// (Transfer.For). Without it only merchants, billers and the like may be paid.
	MaySend bool
}

// Spend is a debit counted against the rolling 24-hour limit: its time and amount.
type Spend struct {
	At     int64  `json:"at_unix_nano"`
	Amount uint64 `json:"amount"`
}

// SpendWindow is how long a debit counts against the daily limit.
const SpendWindow = 24 * time.Hour

// AddSpend returns a new slice (the old one may be published to readers or kept for undo)
// without entries that left the window, with the debit added: in the last entry if that is
// less than a minute old, and beyond max entries the two oldest merged into the later one, so
// money counts a little longer than 24 hours, never less.
func AddSpend(spends []Spend, now int64, amount uint64, max int) []Spend {
	from := now - int64(SpendWindow)
	out := make([]Spend, 0, len(spends)+1)
	for _, s := range spends {
		if s.At > from {
			out = append(out, s)
		}
	}
	if n := len(out); n > 0 && now-out[n-1].At < int64(time.Minute) && out[n-1].At <= now {
		out[n-1].Amount += amount // same minute: one entry
		out[n-1].At = now
		return out
	}
	out = append(out, Spend{At: now, Amount: amount})
	for len(out) > max {
		out[1].Amount += out[0].Amount
		out = out[1:]
	}
	return out
}

// SpentSince sums the debits in the window ending at now.
func SpentSince(spends []Spend, now int64) uint64 {
	var sum uint64
	from := now - int64(SpendWindow)
	for _, s := range spends {
		if s.At > from {
			sum += s.Amount
		}
	}
	return sum
}

// LimitChange sets how far a credit line may go: never below what it already owes and holds.
type LimitChange struct {
	Account uint64
	Limit   uint64
}

// TierChange moves a purse to another KYC tier.
type TierChange struct {
	Account uint64
	Tier    uint8
}
