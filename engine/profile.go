package engine

import (
	"encoding/json"

	"mpg/commands"
	"mpg/domain"
)

// profile is the engine's per-subscriber record, kept in the ledger file. It is written only
// by its own subscriber's turns and by operator commands, each naming the version it read,
// so no write is ever based on a stale read. Money rules are not here: the ledger enforces
// them with the transfers.
type profile struct {
	PINMAC      string        `json:"pin_mac"`
	Lang        commands.Lang `json:"lang"`
	LangSet     bool          `json:"lang_set"`
	Promo       bool          `json:"promo"`
	Fails       int           `json:"fails"`
	LockedUntil int64         `json:"locked_until"`
	// Lockouts counts lockouts since the last right PIN: each lasts twice as long as the one
	// before, and after Config.LockForever of them only an operator unlocks.
	Lockouts int `json:"lockouts,omitempty"`
	// Confirm is the payment waiting for YES <code> from this number.
	Confirm *confirmation `json:"confirm,omitempty"`
	// Activation is a one-time code to set a PIN (purse opened by an agent, or PIN reset).
	Activation *activation `json:"activation,omitempty"`
	// Requests are merchants' payments waiting for this number's YES <code>.
	Requests []string `json:"requests,omitempty"`
	// WebSpent is what web checkouts took in WebMonth (YYYY-MM), for the monthly cap.
	WebMonth string `json:"web_month,omitempty"`
	WebSpent uint64 `json:"web_spent,omitempty"`
	// CodesInHour counts checkout codes texted in the hour starting at CodeHour (unix nanos).
	CodeHour    int64 `json:"code_hour,omitempty"`
	CodesInHour int   `json:"codes_in_hour,omitempty"`
	// BankIBAN is the bank account DEBIT pays from (linked by an operator).
	BankIBAN string `json:"bank_iban,omitempty"`
	// Receive is where money sent to him lands: commands.ReceiveBank, or "" for his purse.
	Receive string `json:"receive,omitempty"`
	// BankSpends are the DEBITs confirmed in the last 24 hours, for the tier's daily limit:
	// bank money never passes through the purse, whose window the ledger keeps.
	BankSpends []domain.Spend `json:"bank_spends,omitempty"`
	// DataDay (YYYY-MM-DD) and DataCount: DATA requests that day, for privacy.data_per_day.
	DataDay   string `json:"data_day,omitempty"`
	DataCount int    `json:"data_count,omitempty"`
	// DataLinks are the DATA links texted and not yet swept: each next DATA deletes the
	// records of those that expired unused (a used one deleted itself).
	DataLinks []sentLink `json:"data_links,omitempty"`
	// Consents counts the consent records written: the next one's sequence in its key.
	Consents int `json:"consents,omitempty"`
	// EraseAsk is the ERASE waiting for YES <code>.
	EraseAsk *erasureAsk `json:"erase_ask,omitempty"`
	// ErasureDue is when the erasure asked is filed for (unix nanos; 0: none asked).
	ErasureDue int64 `json:"erasure_due,omitempty"`
	// ConfirmBy is how payments waiting for his YES are confirmed: "voice" (a call keyed
	// with his PIN), or "" (a code texted).
	ConfirmBy string `json:"confirm_by,omitempty"`
	// Call is the confirmation call queued, under way, or the last one's outcome.
	Call *voiceCall `json:"call,omitempty"`
	// Bills are the bill accounts saved per biller (BILL without an account), at most
	// Config.Orders.SavedBills, the least recently changed dropped first.
	Bills []savedBill `json:"bills,omitempty"`
	// Orders are the ids of his standing orders, in the order ORDERS numbers them.
	Orders []string `json:"orders,omitempty"`
}

// activation is a one-time code, kept only as an HMAC, that lets the subscriber set a PIN
// with `PIN <code> <new pin>`.
type activation struct {
	CodeMAC string `json:"code_mac"`
	Expires int64  `json:"expires"`
	Reset   bool   `json:"reset,omitempty"` // an operator reset a PIN the subscriber had
}

// lockedForever marks a lockout only an operator lifts.
const lockedForever = int64(^uint64(0) >> 1)

// keepForRefusal remembers the profile as it is now, for the refusal path.
func (t *turn) keepForRefusal() {
	p := t.withProfile(domain.Job{}).Profiles
	if p == nil {
		p = []domain.Profile{}
	}
	t.onRefusal = &p
}

func (t *turn) withProfile(j domain.Job) domain.Job {
	if t.profDirty {
		b, _ := json.Marshal(t.prof)
		j.Profiles = append(j.Profiles, domain.Profile{Owner: t.in.From, Data: b, Version: t.profVer})
	}
	return j
}
