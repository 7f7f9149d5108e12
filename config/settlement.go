package config

import (
	"fmt"
	"time"
)

// Settlement configures how merchants are paid into their bank accounts: when the daily
// run starts, where its pain.001 files go, what is kept back, and the operator's account
// the transfers are paid from.
type Settlement struct {
	Enabled         bool   `toml:"enabled"`           // the daemon settles by itself each day at At
	At              string `toml:"at"`                // HH:MM, in engine.timezone
	Dir             string `toml:"dir"`               // where pain.001 files are written
	ReservePercent  int    `toml:"reserve_percent"`   // kept back: this share of the last ReserveDays' payments…
	ReserveDays     int    `toml:"reserve_days"`      //
	ReserveMinMinor uint64 `toml:"reserve_min_minor"` // …and at least this much
	MinPayoutMinor  uint64 `toml:"min_payout_minor"`  // a merchant owed less is paid on a later day
	DebtorName      string `toml:"debtor_name"`       // the operator's account (required to settle)
	DebtorIBAN      string `toml:"debtor_iban"`
	DebtorBIC       string `toml:"debtor_bic"` // optional
	Initiator       string `toml:"initiator"`  // the name the bank knows the files' sender by ("": debtor_name)
}

func defaultSettlement() Settlement {
	return Settlement{At: "18:00", Dir: "settlement", ReservePercent: 10, ReserveDays: 7, MinPayoutMinor: 100}
}

// AtOffset is the time of day the daily run starts, from midnight.
func (s Settlement) AtOffset() time.Duration {
	t, err := time.Parse("15:04", s.At)
	if err != nil {
		return 18 * time.Hour // validated when the configuration was read
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
}

func (s Settlement) validate(r *rules) {
	if _, err := time.Parse("15:04", s.At); err != nil {
		r.bad("settlement.at", fmt.Sprintf("%q", s.At), "must be a time of day as HH:MM")
	}
	r.between("settlement.reserve_percent", s.ReservePercent, 0, 100)
	r.between("settlement.reserve_days", s.ReserveDays, 1, 366)
	if s.Dir == "" {
		r.bad("settlement.dir", `""`, "must not be empty")
	}
	if s.Enabled && (s.DebtorName == "" || s.DebtorIBAN == "") {
		r.bad("settlement.enabled", "true", "needs settlement.debtor_name and settlement.debtor_iban, the operator's account")
	}
}
