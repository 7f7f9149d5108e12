package domain

import "fmt"

// IsSystem says whether a kind is a system account (found by kind, never by owner).
func IsSystem(k Kind) bool {
	return k == KindFloat || k == KindFees || k == KindEscrow || k == KindBankClearing || k == KindPointsExpired || k == KindSettlement
}

// DefaultFlags are the balance constraints an account of a kind always has.
func DefaultFlags(k Kind) AccountFlags {
	switch k {
	case KindFloat, KindBankClearing:
		return 0 // money enters the books here: these go negative by design
	default:
		return DebitsMustNotExceedCredits
	}
}

// ErrTransferNotFound is returned for an id the ledger does not hold.
var ErrTransferNotFound = fmt.Errorf("transfer not found")

// OwnerState is what the engine reads of one owner before handling their SMS, in one read
// transaction: their accounts, their profile and its version, and whether money is held
// for them.
type OwnerState struct {
	Accounts       []Account
	Profile        []byte
	ProfileVersion uint64
	Holds          int // open holds for this owner
}
