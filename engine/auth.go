package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"mpg/commands"
	"mpg/ledger"
)

func (e *Engine) pinMAC(msisdn, pin string) string {
	m := hmac.New(sha256.New, e.cfg.PINKey)
	m.Write([]byte(msisdn + ":" + pin))
	return hex.EncodeToString(m.Sum(nil))
}

// authenticate checks the PIN, counts failures and locks after LockAfter of them.
func (t *turn) authenticate() bool {
	now := t.e.cfg.Now().UnixNano()
	if t.prof.LockedUntil > now {
		t.reply(commands.RLocked, commands.Args{N: int(time.Duration(t.prof.LockedUntil-now).Minutes()) + 1})
		return false
	}
	if t.purse.Status == ledger.StatusBlocked && t.cmd.Kind != commands.Bal && t.cmd.Kind != commands.Mini {
		t.reply(commands.RAccountBlocked, commands.Args{})
		return false
	}
	want, _ := hex.DecodeString(t.prof.PINMAC)
	got, _ := hex.DecodeString(t.e.pinMAC(t.in.From, t.cmd.PIN))
	if len(want) > 0 && hmac.Equal(want, got) {
		if t.prof.Fails != 0 || t.prof.LockedUntil != 0 {
			t.prof.Fails, t.prof.LockedUntil, t.profDirty = 0, 0, true
		}
		return true
	}
	t.prof.Fails++
	t.profDirty = true
	if t.prof.Fails >= t.e.cfg.LockAfter {
		t.prof.Fails, t.prof.LockedUntil = 0, now+int64(t.e.cfg.LockFor)
		t.audit = &ledger.Audit{Actor: t.in.From, Action: "pin lockout", Detail: t.e.cfg.LockFor.String()}
		t.reply(commands.RLocked, commands.Args{N: int(t.e.cfg.LockFor.Minutes())})
		return false
	}
	t.reply(commands.RWrongPIN, commands.Args{N: t.e.cfg.LockAfter - t.prof.Fails})
	return false
}

func (t *turn) register() ledger.Job {
	if t.purse != nil {
		t.reply(commands.RAlreadyRegistered, commands.Args{})
		return ledger.Job{}
	}
	// A number that was sent money before registering keeps its holds: they are claimed next.
	t.prof = profile{PINMAC: t.e.pinMAC(t.in.From, t.cmd.PIN), Lang: t.lang, LangSet: t.hasProf && t.prof.LangSet, Holds: t.prof.Holds}
	t.profDirty = true
	t.reply(commands.RWelcome, commands.Args{Name: t.cmd.Name, Balance: t.money(0)})
	t.audit = &ledger.Audit{Actor: t.in.From, Action: "register"}
	return t.withProfile(ledger.Job{Open: []ledger.AccountSpec{{Currency: t.e.cfg.Currency, Kind: ledger.KindPurse,
		Owner: t.in.From, Name: t.cmd.Name, Tier: 1}}})
}
