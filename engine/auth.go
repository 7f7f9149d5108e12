package engine

import (
	"crypto/hmac"
	"encoding/hex"
	"time"

	"mpg/commands"
	"mpg/domain"
)

func (e *Engine) pinMAC(msisdn, pin string) string {
	return hex.EncodeToString(e.pinMACs.sum([]byte(msisdn), []byte{':'}, []byte(pin)))
}

func (e *Engine) macEqual(want, msisdn, secret string) bool {
	w, _ := hex.DecodeString(want)
	g, _ := hex.DecodeString(e.pinMAC(msisdn, secret))
	return len(w) > 0 && hmac.Equal(w, g)
}

// lockFor is how long the n-th lockout in a row lasts: twice the one before.
func (e *Engine) lockFor(n int) time.Duration {
	d := e.cfg.LockFor
	for i := 1; i < n && d < 30*24*time.Hour; i++ {
		d *= 2
	}
	return d
}

// authenticate checks the PIN, counts failures and locks after LockAfter of them.
func (t *turn) authenticate() bool {
	now := t.e.cfg.Now().UnixNano()
	if t.prof.LockedUntil > now {
		t.lockedReply(now)
		return false
	}
	if t.purse.Status == domain.StatusBlocked && t.cmd.Kind != commands.Bal && t.cmd.Kind != commands.Mini {
		t.reply(commands.RAccountBlocked, commands.Args{})
		return false
	}
	if t.e.macEqual(t.prof.PINMAC, t.in.From, t.cmd.PIN) {
		if t.prof.Fails != 0 || t.prof.LockedUntil != 0 || t.prof.Lockouts != 0 {
			t.prof.Fails, t.prof.LockedUntil, t.prof.Lockouts, t.profDirty = 0, 0, 0, true
		}
		return true
	}
	if t.awaitsResetCode(now) {
		t.reply(commands.RPINWasReset, commands.Args{})
		return false
	}
	t.wrongPIN(now)
	return false
}

// awaitsResetCode is true after an operator reset the PIN, until the code is used or
// expires: the old PIN then is no guess and never counts as a wrong one.
func (t *turn) awaitsResetCode(now int64) bool {
	act := t.prof.Activation
	return t.prof.PINMAC == "" && act != nil && act.Reset && act.Expires > now
}

// wrongPIN counts a failure; the LockAfter-th locks the purse, for longer each time.
func (t *turn) wrongPIN(now int64) {
	t.prof.Fails++
	t.profDirty, t.retry.final = true, true // a guess counted: its copy must never count again
	if t.prof.Fails < t.e.cfg.LockAfter {
		t.reply(commands.RWrongPIN, commands.Args{N: t.e.cfg.LockAfter - t.prof.Fails})
		return
	}
	t.prof.Fails = 0
	t.prof.Lockouts++
	if t.prof.Lockouts >= t.e.cfg.LockForever {
		t.prof.LockedUntil = lockedForever
		t.audit = &domain.Audit{Actor: t.in.From, Action: "pin lockout", Detail: "until an operator unlocks"}
	} else {
		d := t.e.lockFor(t.prof.Lockouts)
		t.prof.LockedUntil = now + int64(d)
		t.audit = &domain.Audit{Actor: t.in.From, Action: "pin lockout", Detail: d.String()}
	}
	t.lockedReply(now)
}

func (t *turn) lockedReply(now int64) {
	if t.prof.LockedUntil == lockedForever {
		t.reply(commands.RLockedAdmin, commands.Args{})
		return
	}
	t.reply(commands.RLocked, commands.Args{N: int(time.Duration(t.prof.LockedUntil-now).Minutes() + 0.999)})
}

func (t *turn) register() domain.Job {
	if t.purse != nil {
		if t.prof.PINMAC == "" && t.purse.Status == domain.StatusActive {
			t.reply(commands.RNotActivated, commands.Args{})
		} else {
			t.reply(commands.RAlreadyRegistered, commands.Args{})
		}
		return domain.Job{}
	}
	// Only this number's own record is written; money held for it stays in the ledger's
	// holds and is claimed after the purse exists.
	t.prof = profile{PINMAC: t.e.pinMAC(t.in.From, t.cmd.PIN), Lang: t.lang, LangSet: t.hasProf && t.prof.LangSet, Promo: t.prof.Promo}
	t.profDirty = true
	t.reply(commands.RWelcome, commands.Args{Name: t.cmd.Name, Balance: t.money(0)})
	t.audit = &domain.Audit{Actor: t.in.From, Action: "register"}
	return t.withProfile(domain.Job{Open: []domain.AccountSpec{{Currency: t.e.cfg.Currency, Kind: domain.KindPurse,
		Owner: t.in.From, Name: t.cmd.Name, Tier: 1}}})
}

// activate sets the PIN with the one-time code an operator had sent (`PIN <code> <new>`).
// A wrong code counts as a wrong PIN; an expired one is refused.
func (t *turn) activate() domain.Job {
	now := t.e.cfg.Now().UnixNano()
	if t.prof.LockedUntil > now {
		t.lockedReply(now)
		return domain.Job{}
	}
	act := t.prof.Activation
	if act.Expires <= now {
		if t.prof.PINMAC != "" { // a reset nobody used: the old PIN works again
			t.prof.Activation, t.profDirty = nil, true
			if t.authenticate() {
				return t.changePIN()
			}
			return t.withProfile(domain.Job{})
		}
		t.reply(commands.RNotActivated, commands.Args{})
		return domain.Job{}
	}
	if !t.e.macEqual(act.CodeMAC, t.in.From, "activate:"+t.cmd.PIN) {
		t.wrongPIN(now)
		return t.withProfile(domain.Job{})
	}
	t.prof.PINMAC, t.prof.Activation, t.prof.Fails, t.prof.Lockouts, t.prof.LockedUntil = t.e.pinMAC(t.in.From, t.cmd.NewPIN), nil, 0, 0, 0
	t.profDirty = true
	t.audit = &domain.Audit{Actor: t.in.From, Action: "pin set with a one-time code"}
	t.reply(commands.RActivated, commands.Args{Balance: t.money(uint64(max(0, t.purse.Available())))})
	return t.withProfile(domain.Job{})
}

func (t *turn) changePIN() domain.Job {
	t.prof.PINMAC, t.profDirty = t.e.pinMAC(t.in.From, t.cmd.NewPIN), true
	t.audit = &domain.Audit{Actor: t.in.From, Action: "pin change"}
	t.reply(commands.RPINChanged, commands.Args{})
	return t.withProfile(domain.Job{})
}
