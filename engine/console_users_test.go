package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestConsolePasswordHashes: argon2id in a PHC string naming its parameters, a salt of its
// own per hash, checked against the right password only.
func TestConsolePasswordHashes(t *testing.T) {
	a, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := HashPassword("correct horse battery")
	if !strings.HasPrefix(a, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not record argon2id and its parameters", a)
	}
	if a == b {
		t.Fatal("the same password hashed twice gave the same hash: no per-hash salt")
	}
	if !CheckPassword(a, "correct horse battery") || !CheckPassword(b, "correct horse battery") {
		t.Fatal("the right password is refused")
	}
	if CheckPassword(a, "correct horse batterY") || CheckPassword("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$"+strings.Repeat("A", 43), "x") {
		t.Fatal("a wrong password or a weak hash passes")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("a 5-character password was taken")
	}
}

// TestConsoleUsersLockoutAndDisable: two users with one password have different hashes in
// the books; five wrong passwords lock for 15 minutes (the right one too); a disabled user
// cannot sign in; each change is audited.
func TestConsoleUsersLockoutAndDisable(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, n := range []string{"ann", "bob"} {
		h, _ := HashPassword("same password here")
		if _, err := w.e.AddConsoleUser(ctx, "cli:root", n, RoleOperator, h); err != nil {
			t.Fatal(err)
		}
	}
	ra, _, _, _ := w.e.consoleUser("ann")
	rb, _, _, _ := w.e.consoleUser("bob")
	if ra.Hash == rb.Hash {
		t.Fatal("two users with the same password have the same hash")
	}
	if _, err := w.e.AddConsoleUser(ctx, "cli:root", "ann", RoleAdmin, ra.Hash); err == nil {
		t.Fatal("a second ann")
	}
	if u, err := w.e.ConsoleLogin(ctx, "ann", "same password here"); err != nil || u.Role != RoleOperator {
		t.Fatalf("login: %+v %v", u, err)
	}
	for i := range 5 {
		if _, err := w.e.ConsoleLogin(ctx, "ann", "wrong password"); i < 4 && !errors.Is(err, ErrConsoleLogin) || i == 4 && !errors.Is(err, ErrConsoleLocked) {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	if _, err := w.e.ConsoleLogin(ctx, "ann", "same password here"); !errors.Is(err, ErrConsoleLocked) {
		t.Fatalf("the right password while locked: %v", err)
	}
	w.advance(16 * time.Minute)
	if _, err := w.e.ConsoleLogin(ctx, "ann", "same password here"); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	if _, err := w.e.ConsoleLogin(ctx, "nobody", "same password here"); !errors.Is(err, ErrConsoleLogin) {
		t.Fatalf("unknown user: %v", err)
	}
	if err := w.e.DisableConsoleUser(ctx, "cli:root", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.e.ConsoleLogin(ctx, "bob", "same password here"); !errors.Is(err, ErrConsoleLogin) {
		t.Fatalf("disabled user: %v", err)
	}
	users, err := w.e.ConsoleUsers()
	if err != nil || len(users) != 2 || users[1].Disabled == 0 {
		t.Fatalf("%+v %v", users, err)
	}
}

// TestConsoleLoginTakesAsLongForAnUnknownName: a name that has no user still costs an
// argon2id computation, so a sign-in's time does not tell which names exist.
func TestConsoleLoginTakesAsLongForAnUnknownName(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	h, _ := HashPassword("same password here")
	if _, err := w.e.AddConsoleUser(ctx, "cli:root", "ann", RoleViewer, h); err != nil {
		t.Fatal(err)
	}
	runs := func(name string) int64 {
		before := argonRuns.Load()
		w.e.ConsoleLogin(ctx, name, "wrong password")
		return argonRuns.Load() - before
	}
	// The decoy has the users' own parameters: one computation costs as much as another.
	d, err1 := parsePHC(decoyHash)
	a, err2 := parsePHC(h)
	if err1 != nil || err2 != nil || d.t != a.t || d.m != a.m || d.p != a.p {
		t.Fatalf("the decoy's parameters %+v differ from a user's %+v (%v %v)", d, a, err1, err2)
	}
	if known, unknown, bad := runs("ann"), runs("nobody"), runs("Not a name!"); known != 1 || unknown != 1 || bad != 1 {
		t.Fatalf("argon2id computations: %d for a known name, %d for an unknown one, %d for a malformed one", known, unknown, bad)
	}
}
