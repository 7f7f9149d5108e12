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
