package pgledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Leases share among several daemons the work that must run once (outbox sending, the bank
// worker, webhooks, expiries, statements): one row of the leases table per kind of work. A
// daemon takes the lease with Acquire, keeps it with Renew well before it expires, and gives
// it up with Release when it stops; if it dies, the lease expires and another daemon's
// Acquire takes it over. No advisory locks and no LISTEN/NOTIFY: plain rows, so the same
// statements run on PostgreSQL, CockroachDB and YugabyteDB.
//
// Time is the database's: every statement reads clock_timestamp() once and compares the
// row's expiry with it, so the daemons' clocks need not agree. (clock_timestamp() is not
// SQL-standard, but PostgreSQL, CockroachDB and YugabyteDB all have it; the standard
// current_timestamp is the transaction's start, stale inside a longer transaction. On
// CockroachDB each node reads its own clock, which may be off by up to the cluster's maximum
// offset, 500 ms by default: a TTL should be seconds.)
//
// Fencing. A lease's expiry alone cannot stop a daemon that was paused (a long GC, a frozen
// VM, a lost network) from finishing work after another daemon took its lease over. So every
// new tenure (a lease taken from another holder, or taken again after it expired or was
// released) raises the row's token by one, and the token only grows (rows are never deleted).
// Work guarded by a lease calls Fence in the same transaction that writes its result: Fence
// locks the lease row for share and refuses (ErrLeaseLost) unless it still holds the token
// the work began under, so the work of a lost lease is rolled back, never committed, and a
// takeover waits for a guarded transaction in flight to end.

// ErrLeaseLost is Fence's answer when the lease is no longer the caller's: another holder
// took it (a higher token), or it was released.
var ErrLeaseLost = errors.New("lease lost: another holder has taken it, or it was released")

// Lease is a holder's tenure of a lease, as the database granted it. Its times are the
// database's clock.
type Lease struct {
	Name     string        // the work the lease guards
	Holder   string        // who holds it: unique per process (host, pid, start time)
	Token    int64         // the fencing token: grows with every new tenure
	TTL      time.Duration // how long each grant lasts
	Acquired time.Time     // when this tenure began
	Renewed  time.Time     // the database's clock at the last grant
	Expires  time.Time     // the lease is free for others from then, unless renewed
}

// acquireSQL takes the lease when it is free (no row, expired or released), or renews it
// when the holder has it already. The WHERE of DO UPDATE is checked on the newest committed
// row, with the row locked, so of two daemons taking an expired lease at once one gets it
// and the other finds it live. A new tenure raises the token; a renewal keeps it; the expiry
// never moves back (GREATEST), so two concurrent grants of one holder cannot shorten it.
const acquireSQL = `INSERT INTO leases AS l (name, holder, token, acquired, renewed, expires)
SELECT $1::text, $2::text, 1, t.now, t.now, t.now + $3::interval
FROM (SELECT clock_timestamp() AS now) AS t
ON CONFLICT (name) DO UPDATE SET
    token    = CASE WHEN l.holder = excluded.holder AND l.expires > excluded.renewed THEN l.token ELSE l.token + 1 END,
    acquired = CASE WHEN l.holder = excluded.holder AND l.expires > excluded.renewed THEN l.acquired ELSE excluded.renewed END,
    holder   = excluded.holder,
    renewed  = excluded.renewed,
    expires  = GREATEST(l.expires, excluded.expires)
WHERE l.expires <= excluded.renewed OR l.holder = excluded.holder
RETURNING token, acquired, renewed, expires`

// renewSQL extends the tenure the token names, if the row still carries it. A lease that
// expired but nobody took still has the token, and may be renewed: no one else can have held
// it meanwhile, since taking it raises the token.
const renewSQL = `UPDATE leases AS l SET renewed = t.now, expires = GREATEST(l.expires, t.now + $4::interval)
FROM (SELECT clock_timestamp() AS now) AS t
WHERE l.name = $1 AND l.holder = $2 AND l.token = $3
RETURNING l.renewed, l.expires`

// releaseSQL frees the lease at once if it is still this tenure's: an empty holder matches no
// one, so the next Acquire (even by the same holder) starts a new tenure with a new token.
const releaseSQL = `UPDATE leases SET holder = '', expires = LEAST(expires, clock_timestamp())
WHERE name = $1 AND holder = $2 AND token = $3`

func checkLease(name, holder string, ttl time.Duration) error {
	switch {
	case name == "":
		return errors.New("pgledger: lease: no name")
	case holder == "":
		return errors.New("pgledger: lease: no holder")
	case ttl < time.Millisecond:
		return fmt.Errorf("pgledger: lease %s: ttl %v is under a millisecond", name, ttl)
	}
	return nil
}

func interval(d time.Duration) pgtype.Interval {
	return pgtype.Interval{Microseconds: d.Microseconds(), Valid: true}
}

// Acquire takes the lease name for holder for ttl, in one statement: when nobody has it,
// when its holder's grant has expired (on the database's clock) or it was released, or when
// holder has it already, which renews it (same token). It answers false, with no error, when
// another holder's lease is live. The grant's times are read as the statement begins: one
// that waited for the row lock (a guarded transaction in flight) lasts less than ttl, and may
// even have expired when it returns. Work under it is guarded by Fence all the same.
func (db *DB) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (Lease, bool, error) {
	if err := checkLease(name, holder, ttl); err != nil {
		return Lease{}, false, err
	}
	l := Lease{Name: name, Holder: holder, TTL: ttl}
	err := db.pool.QueryRow(ctx, acquireSQL, name, holder, interval(ttl)).Scan(&l.Token, &l.Acquired, &l.Renewed, &l.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return Lease{Name: name, Holder: holder, TTL: ttl}, false, nil
	}
	if err != nil {
		return Lease{}, false, fmt.Errorf("pgledger: acquire lease %s: %w", name, err)
	}
	return l, true, nil
}

// Renew extends l by its TTL from now (the database's clock) and updates l.Renewed and
// l.Expires. It answers false when l is lost: another holder took the lease over after it
// expired (a higher token), or l was released. A lost lease stays lost; the holder stops its
// work and may Acquire again, for a new token.
func (db *DB) Renew(ctx context.Context, l *Lease) (bool, error) {
	if err := checkLease(l.Name, l.Holder, l.TTL); err != nil {
		return false, err
	}
	var renewed, expires time.Time
	err := db.pool.QueryRow(ctx, renewSQL, l.Name, l.Holder, l.Token, interval(l.TTL)).Scan(&renewed, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pgledger: renew lease %s: %w", l.Name, err)
	}
	l.Renewed, l.Expires = renewed, expires
	return true, nil
}

// Release gives l up at once, so another daemon may take it without waiting for it to
// expire. It does nothing when l is no longer the holder's.
func (db *DB) Release(ctx context.Context, l Lease) error {
	if _, err := db.pool.Exec(ctx, releaseSQL, l.Name, l.Holder, l.Token); err != nil {
		return fmt.Errorf("pgledger: release lease %s: %w", l.Name, err)
	}
	return nil
}

// Fence checks, inside the transaction tx that writes the work l guards, that l's tenure
// still holds the lease: the row still names l's holder and token. It locks the row for
// share until tx ends, so a takeover waits for tx, and tx's work is committed only if
// nobody took the lease before; otherwise it answers ErrLeaseLost and the caller rolls tx
// back. An expired lease nobody has taken still passes: nobody else can have worked under it.
// (Where CockroachDB takes no lock for FOR SHARE, as under serializable isolation by default,
// that isolation still aborts one of a fenced transaction and a takeover of the row it read.)
// The holder's own Renew waits for tx too: keep fenced transactions far shorter than the TTL.
func Fence(ctx context.Context, tx pgx.Tx, l Lease) error {
	var holder string
	var token int64
	err := tx.QueryRow(ctx, "SELECT holder, token FROM leases WHERE name = $1 FOR SHARE", l.Name).Scan(&holder, &token)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgledger: lease %s: %w", l.Name, ErrLeaseLost)
	}
	if err != nil {
		return fmt.Errorf("pgledger: fence lease %s: %w", l.Name, err)
	}
	if holder != l.Holder || token != l.Token {
		return fmt.Errorf("pgledger: lease %s token %d: %w (token %d now)", l.Name, l.Token, ErrLeaseLost, token)
	}
	return nil
}
