package engine

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"mpg/domain"
)

// Console users are the people who sign in to the operator console. Each is a versioned
// record holding the name, the role and an argon2id hash of the password (a PHC string with
// its own random salt and the parameters it was made with), never the password. Every
// change is a ledger job with an audit entry; five wrong passwords in a row lock the user
// out for fifteen minutes.

const keyConsoleUser = "@cu:" // + name: a console user

// ConsoleRole is what a console user may do: each role may do what the ones below it may.
type ConsoleRole string

// The console roles, from the least to the most allowed.
const (
	RoleViewer   ConsoleRole = "viewer"   // dashboards and drill-down, numbers masked
	RoleOperator ConsoleRole = "operator" // also operator actions and fraud decisions
	RoleAdmin    ConsoleRole = "admin"    // also console users
)

// rank orders the roles; 0 is no role.
func (r ConsoleRole) rank() int {
	return map[ConsoleRole]int{RoleViewer: 1, RoleOperator: 2, RoleAdmin: 3}[r]
}

// Allows says whether a user of role r may do what needs role need.
func (r ConsoleRole) Allows(need ConsoleRole) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// ParseConsoleRole reads a role's name.
func ParseConsoleRole(s string) (ConsoleRole, error) {
	r := ConsoleRole(strings.ToLower(strings.TrimSpace(s)))
	if r.rank() == 0 {
		return "", fmt.Errorf("role %q: want viewer, operator or admin", s)
	}
	return r, nil
}

// Console login limits: consoleLockAfter wrong passwords in a row lock the user for
// consoleLockFor.
const (
	consoleLockAfter = 5
	consoleLockFor   = 15 * time.Minute
)

// ConsoleUser is a console user as listed: never the password's hash.
type ConsoleUser struct {
	Name        string      `json:"name"`
	Role        ConsoleRole `json:"role"`
	Created     int64       `json:"created"`
	Disabled    int64       `json:"disabled,omitempty"`
	Fails       int         `json:"fails,omitempty"`
	LockedUntil int64       `json:"locked_until,omitempty"`
	LastLogin   int64       `json:"last_login,omitempty"`
}

// consoleUserRecord is a console user as stored.
type consoleUserRecord struct {
	ConsoleUser
	Hash string `json:"hash"`
}

// Console user errors.
var (
	// ErrConsoleLogin is any sign-in that fails: unknown name, wrong password, disabled.
	ErrConsoleLogin = errors.New("wrong name or password")
	// ErrConsoleLocked: too many wrong passwords in a row; the user waits.
	ErrConsoleLocked = errors.New("too many wrong passwords: try again in 15 minutes")
)

var consoleName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,31}$`)

// The argon2id parameters new hashes are made with (OWASP's: 19 MiB, 2 passes, 1 lane).
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// HashPassword makes an argon2id hash of a password as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, with a fresh random salt.
func HashPassword(password string) (string, error) {
	if len(password) < 10 || len(password) > 256 {
		return "", errors.New("a console password has 10 to 256 characters")
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return phc(argonParams{m: argonMemoryKiB, t: argonTime, p: argonThreads, salt: salt}, password), nil
}

type argonParams struct {
	m, t uint32
	p    uint8
	salt []byte
	hash []byte
}

func phc(a argonParams, password string) string {
	sum := argon2.IDKey([]byte(password), a.salt, a.t, a.m, a.p, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, a.m, a.t, a.p, b64.EncodeToString(a.salt), b64.EncodeToString(sum))
}

// parsePHC reads an argon2id PHC string; parameters weaker than the ones mpg makes, or
// absurdly costly, are refused.
func parsePHC(s string) (argonParams, error) {
	var a argonParams
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return a, errors.New("not an argon2id hash")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &a.m, &a.t, &a.p); err != nil {
		return a, errors.New("argon2id hash: bad parameters")
	}
	if a.m < argonMemoryKiB || a.m > 1<<20 || a.t < 1 || a.t > 10 || a.p < 1 || a.p > 16 || a.m*a.t < argonMemoryKiB*argonTime {
		return a, errors.New("argon2id hash: parameters out of bounds")
	}
	var err1, err2 error
	a.salt, err1 = base64.RawStdEncoding.DecodeString(parts[4])
	a.hash, err2 = base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(a.salt) < argonSaltLen || len(a.hash) != argonKeyLen {
		return a, errors.New("argon2id hash: bad salt or hash")
	}
	return a, nil
}

// CheckPassword says whether password is the one hash was made from, comparing in
// constant time.
func CheckPassword(hash, password string) bool {
	a, err := parsePHC(hash)
	if err != nil {
		return false
	}
	sum := argon2.IDKey([]byte(password), a.salt, a.t, a.m, a.p, argonKeyLen)
	argonRuns.Add(1)
	return subtle.ConstantTimeCompare(sum, a.hash) == 1
}

// argonRuns counts the argon2id computations made, so a test can see that a sign-in costs
// one whether its name exists or not (a count, not a time a loaded machine would blur).
var argonRuns atomic.Int64

// decoyHash is checked for a name that has no user, so that a sign-in takes as long
// whether the name exists or not.
var decoyHash = phc(argonParams{m: argonMemoryKiB, t: argonTime, p: argonThreads, salt: make([]byte, argonSaltLen)}, "mpg decoy")

func (e *Engine) consoleUser(name string) (consoleUserRecord, uint64, bool, error) {
	var r consoleUserRecord
	ver, found, err := e.record(keyConsoleUser+name, &r)
	return r, ver, found, err
}

// AddConsoleUser adds a console user with a password hash made by HashPassword.
func (e *Engine) AddConsoleUser(ctx context.Context, actor, name string, role ConsoleRole, hash string) (ConsoleUser, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if !consoleName.MatchString(name) {
		return ConsoleUser{}, fmt.Errorf("console user name %q: 2 to 32 of a-z, 0-9, '.', '_', '-'", name)
	}
	if role.rank() == 0 {
		return ConsoleUser{}, fmt.Errorf("role %q: want viewer, operator or admin", role)
	}
	if _, err := parsePHC(hash); err != nil {
		return ConsoleUser{}, err
	}
	if _, _, found, err := e.consoleUser(name); err != nil || found {
		if err == nil {
			err = fmt.Errorf("console user %s exists", name)
		}
		return ConsoleUser{}, err
	}
	r := consoleUserRecord{ConsoleUser: ConsoleUser{Name: name, Role: role, Created: e.cfg.Now().UnixNano()}, Hash: hash}
	_, err := e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(keyConsoleUser+name, r, 0)},
		Audit: &domain.Audit{Actor: actor, Action: "console user add", Detail: name + " " + string(role)}})
	if errors.Is(err, domain.ErrConflict) {
		err = fmt.Errorf("console user %s exists", name)
	}
	return r.ConsoleUser, err
}

// maxConsoleUsers bounds the users listed.
const maxConsoleUsers = 1000

// ConsoleUsers lists the console users by name.
func (e *Engine) ConsoleUsers() ([]ConsoleUser, error) {
	recs, err := e.l.ProfilesFrom(keyConsoleUser, "", maxConsoleUsers)
	if err != nil {
		return nil, err
	}
	out := make([]ConsoleUser, 0, len(recs))
	for _, rec := range recs {
		if u, _, found, err := e.consoleUser(strings.TrimPrefix(rec.Owner, keyConsoleUser)); err == nil && found {
			out = append(out, u.ConsoleUser)
		}
	}
	return out, nil
}

// ConsoleUserOf reads one console user; found is false when there is none.
func (e *Engine) ConsoleUserOf(name string) (ConsoleUser, bool, error) {
	r, _, found, err := e.consoleUser(strings.ToLower(name))
	return r.ConsoleUser, found, err
}

// DisableConsoleUser stops a console user for good: the next request of any of his
// sessions is refused.
func (e *Engine) DisableConsoleUser(ctx context.Context, actor, name string) error {
	name = strings.ToLower(name)
	return e.consoleTurn(ctx, name, func(r *consoleUserRecord) (*domain.Audit, error) {
		if r.Disabled != 0 {
			return nil, nil
		}
		r.Disabled = e.cfg.Now().UnixNano()
		return &domain.Audit{Actor: actor, Action: "console user disable", Detail: name}, nil
	})
}

// consoleTurn changes a console user with f, again if the record changed meanwhile; f
// returning no audit entry changes nothing.
func (e *Engine) consoleTurn(ctx context.Context, name string, f func(r *consoleUserRecord) (*domain.Audit, error)) error {
	for try := 0; ; try++ {
		r, ver, found, err := e.consoleUser(name)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("no console user %s", name)
		}
		audit, err := f(&r)
		if err != nil || audit == nil {
			return err
		}
		_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(keyConsoleUser+name, r, ver)}, Audit: audit})
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

// ConsoleLogin checks a console user's password. A wrong one counts toward the lockout;
// the right one, not locked and not disabled, resets the count. Every failure reads as
// ErrConsoleLogin (or ErrConsoleLocked), whatever its cause.
func (e *Engine) ConsoleLogin(ctx context.Context, name, password string) (ConsoleUser, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	r, _, found, err := e.consoleUser(name)
	if err != nil {
		return ConsoleUser{}, err
	}
	if !found || !consoleName.MatchString(name) {
		CheckPassword(decoyHash, password)
		return ConsoleUser{}, ErrConsoleLogin
	}
	ok := CheckPassword(r.Hash, password)
	now := e.cfg.Now().UnixNano()
	if r.LockedUntil > now {
		return ConsoleUser{}, ErrConsoleLocked
	}
	if r.Disabled != 0 {
		return ConsoleUser{}, ErrConsoleLogin
	}
	var out ConsoleUser
	locked := false
	err = e.consoleTurn(ctx, name, func(r *consoleUserRecord) (*domain.Audit, error) {
		if ok {
			r.Fails, r.LockedUntil, r.LastLogin = 0, 0, now
			out = r.ConsoleUser
			return &domain.Audit{Actor: "console:" + name, Action: "console login", Detail: name}, nil
		}
		r.Fails++
		if r.Fails >= consoleLockAfter {
			r.Fails, r.LockedUntil, locked = 0, now+int64(consoleLockFor), true
			return &domain.Audit{Actor: "console:" + name, Action: "console lockout", Detail: name}, nil
		}
		return &domain.Audit{Actor: "console:" + name, Action: "console login failed", Detail: name}, nil
	})
	switch {
	case err != nil:
		return ConsoleUser{}, err
	case locked:
		return ConsoleUser{}, ErrConsoleLocked
	case !ok:
		return ConsoleUser{}, ErrConsoleLogin
	}
	return out, nil
}
