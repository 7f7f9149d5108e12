package ledger

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mpg/domain"

	bolt "go.etcd.io/bbolt"
)

// The planted person: a number and a name that must never be on disk in clear.
const (
	plantedNumber = "+33612345678"
	plantedName   = "Alice Planted"
	heldNumber    = "+33611112222" // money held for a number that never registered
)

// readable reports which of the planted strings the file holds in clear, anywhere in it
// (free pages included).
func readable(t *testing.T, path string, planted ...string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, p := range planted {
		if bytes.Contains(b, []byte(p)) || bytes.Contains(b, []byte(strings.TrimPrefix(p, "+"))) {
			found = append(found, p)
		}
	}
	return found
}

// plant opens the planted person's purse with money, a profile and a hold for another
// number, as a day of mpg would.
func plant(t *testing.T, l *Ledger) (purse uint64) {
	t.Helper()
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindEscrow, Owner: "@escrow"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: plantedNumber, Name: plantedName, Tier: 1},
	)
	ctx := context.Background()
	jobs := []domain.Job{
		{Transfers: []domain.Transfer{transfer(acc[0].ID, acc[2].ID, 5000)}},
		{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: acc[2].ID, Credit: acc[1].ID, Amount: 300, Flags: domain.Pending, Timeout: time.Hour, For: heldNumber}}},
		{Profiles: []domain.Profile{{Owner: plantedNumber, Data: []byte(`{"lang":"FR"}`)}, {Owner: "@cl:" + plantedNumber, Data: []byte(`{}`)}}},
		{Audit: &domain.Audit{Actor: plantedNumber, Action: "pin change", Detail: "for " + plantedNumber + " by " + heldNumber}},
	}
	for _, j := range jobs {
		if _, err := l.Submit(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	return acc[2].ID
}

func peopleOptions() *Options {
	return &Options{Tiers: map[uint8]domain.TierLimits{1: {MaySend: true}}, CheckpointEvery: time.Millisecond}
}

func TestPeopleAreNeverOnDiskInClear(t *testing.T) {
	l, path := testLedger(t, peopleOptions())
	purse := plant(t, l)
	check := func(l *Ledger) {
		t.Helper()
		a, err := l.Account(purse)
		if err != nil || a.Owner != plantedNumber || a.Name != plantedName {
			t.Fatalf("account as its users see it: %+v %v", a, err)
		}
		if got := l.AccountsOf(plantedNumber); len(got) != 1 || got[0].ID != purse {
			t.Fatalf("accounts of the number: %+v", got)
		}
		if p, _, _ := l.Profile(plantedNumber); string(p) != `{"lang":"FR"}` {
			t.Fatalf("profile: %q", p)
		}
		if rs, _ := l.ProfilesFrom("@cl:", "", 10); len(rs) != 1 || rs[0].Owner != "@cl:"+plantedNumber || rs[0].Version != 1 {
			t.Fatalf("records keyed by the number: %+v", rs)
		}
		if p, v, _ := l.Profile("@cl:" + plantedNumber); string(p) != `{}` || v != 1 {
			t.Fatalf("record keyed by the number: %q %d", p, v)
		}
		if h, _ := l.HoldsFor(heldNumber); len(h) != 1 || h[0].For != heldNumber {
			t.Fatalf("holds: %+v", h)
		}
		log, _ := l.AuditLog(1, 0)
		if len(log) != 1 || log[0].Actor != plantedNumber || log[0].Detail != "for "+plantedNumber+" by "+heldNumber {
			t.Fatalf("audit as operators read it: %+v", log)
		}
		mustVerify(t, l)
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if found := readable(t, path, plantedNumber, plantedName, heldNumber); len(found) > 0 {
		t.Fatalf("the file holds %q in clear", found)
	}
	l2, err := Open(path, peopleOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	check(l2)
}

func TestErasureIsForGoodAndSurvivesARestore(t *testing.T) {
	l, path := testLedger(t, peopleOptions())
	purse := plant(t, l)
	ctx := context.Background()
	backup := filepath.Join(t.TempDir(), "before.db")
	if _, err := l.BackupFile(backup); err != nil {
		t.Fatal(err)
	}
	before, _ := l.Account(purse)
	party, err := l.Erase(ctx, plantedNumber, domain.Audit{Actor: "op", Action: "subscriber erase"})
	if err != nil || !IsParty(party) {
		t.Fatalf("erase: %q %v", party, err)
	}
	if _, err := l.Erase(ctx, plantedNumber, domain.Audit{Actor: "op", Action: "subscriber erase"}); !errors.Is(err, ErrNoPerson) {
		t.Fatalf("second erase: %v", err)
	}
	erased := func(l *Ledger) {
		t.Helper()
		a, err := l.Account(purse)
		if err != nil || a.Owner != party || a.Name != "" || a.Balances != before.Balances {
			t.Fatalf("erased account: %+v %v (before %+v)", a, err, before)
		}
		if got := l.AccountsOf(plantedNumber); len(got) != 0 {
			t.Fatalf("the number still finds %+v", got)
		}
		if p, v, _ := l.Profile(plantedNumber); p != nil || v != 0 {
			t.Fatalf("profile kept: %q", p)
		}
		mustVerify(t, l)
	}
	erased(l)
	log, err := l.AuditLog(5, 0)
	if err != nil || len(log) < 2 || log[0].Action != "subscriber erase" || !strings.Contains(log[0].Detail, party) {
		t.Fatalf("audit: %+v %v", log, err)
	}
	if log[1].Actor != party || strings.Contains(log[1].Detail, plantedNumber) {
		t.Fatalf("an erased person's audit entries still name him: %+v", log[1])
	}
	l.Close()
	l2, err := Open(path, peopleOptions())
	if err != nil {
		t.Fatal(err)
	}
	erased(l2)
	l2.Close()
	// An operator restores the backup taken before the erasure: the log erases him again.
	b, _ := os.ReadFile(backup)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	l3, err := Open(path, peopleOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	erased(l3)
}

func TestIdentityKeyMovesOutOfTheFileAndIsChecked(t *testing.T) {
	l, path := testLedger(t, peopleOptions())
	purse := plant(t, l)
	l.Close()
	key := bytes.Repeat([]byte{7}, 32)
	opt := peopleOptions()
	opt.IdentityKey = key
	l2, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := l2.Account(purse); a.Owner != plantedNumber || a.Name != plantedName {
		t.Fatalf("after the key moved: %+v", a)
	}
	l2.Close()
	// The file no longer opens without the key, nor with another one.
	for _, k := range [][]byte{nil, bytes.Repeat([]byte{8}, 32)} {
		opt := peopleOptions()
		opt.IdentityKey = k
		if l3, err := Open(path, opt); err == nil {
			l3.Close()
			t.Fatalf("opened with key %x", k)
		}
	}
}

func TestSchema1FileMovesToPartyIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	gunzip(t, "testdata/schema1.db.gz", path)
	if found := readable(t, path, plantedNumber, plantedName); len(found) != 2 {
		t.Fatalf("the fixture should name the person in clear, found %q", found)
	}
	l, err := Open(path, peopleOptions())
	if err != nil {
		t.Fatal(err)
	}
	accs := l.AccountsOf(plantedNumber)
	if len(accs) != 1 || accs[0].Name != plantedName || accs[0].Available() != 5000-1250-700-300 {
		t.Fatalf("after the move: %+v", accs)
	}
	if bob := l.AccountsOf("+33698765432"); len(bob) != 1 || bob[0].Available() != 700 || bob[0].Name != "Bob Other" {
		t.Fatalf("the other person: %+v", bob)
	}
	if h, _ := l.HoldsFor(heldNumber); len(h) != 1 || h[0].Amount != 300 {
		t.Fatalf("holds: %+v", h)
	}
	if p, _, _ := l.Profile(plantedNumber); string(p) != `{"lang":"FR"}` {
		t.Fatalf("profile: %q", p)
	}
	mustVerify(t, l)
	log, _ := l.AuditLog(1, 0)
	if len(log) != 1 || log[0].Action != "ledger migrate" || !strings.Contains(log[0].Detail, "previous head") {
		t.Fatalf("the move is not in the chain: %+v", log)
	}
	l.Close()
	if found := readable(t, path, plantedNumber, plantedName, heldNumber); len(found) > 0 {
		t.Fatalf("after the move the file still holds %q in clear", found)
	}
}

func gunzip(t *testing.T, from, to string) {
	t.Helper()
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, z); err != nil {
		t.Fatal(err)
	}
}

// TestRecordsKeyedByNumbersPage: a scan of records keyed by numbers, page by page as the
// engine reads them (the next page from the last key and a NUL), sees each record once.
func TestRecordsKeyedByNumbersPage(t *testing.T) {
	l, _ := testLedger(t, peopleOptions())
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		n := fmt.Sprintf("+336000000%02d", i)
		if _, err := l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: "@cl:" + n, Data: []byte(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	from := ""
	for page := 0; page < 10; page++ {
		rs, err := l.ProfilesFrom("@cl:", from, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if seen[r.Owner] || !strings.HasPrefix(r.Owner, "@cl:+336") {
				t.Fatalf("page %d: %q again or not a number", page, r.Owner)
			}
			seen[r.Owner] = true
		}
		if len(rs) < 10 {
			break
		}
		from = rs[len(rs)-1].Owner + "\x00"
	}
	if len(seen) != 30 {
		t.Fatalf("saw %d records of 30", len(seen))
	}
}

// TestHoldForAnErasedNumberEndsClean: money held for a number erased meanwhile goes back
// to the payer when the hold is voided, and the hold index keeps nothing of it.
func TestHoldForAnErasedNumberEndsClean(t *testing.T) {
	l, _ := testLedger(t, peopleOptions())
	ctx := context.Background()
	purse := plant(t, l)
	h, _ := l.HoldsFor(heldNumber)
	if _, err := l.Erase(ctx, heldNumber, domain.Audit{Actor: "op", Action: "subscriber erase"}); err != nil {
		t.Fatal(err)
	}
	void := domain.Transfer{ID: domain.NewID(), PendingID: h[0].ID, Flags: domain.VoidPending}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{void}}); err != nil {
		t.Fatal(err)
	}
	if a, _ := l.Account(purse); a.Available() != 5000 {
		t.Fatalf("the payer's money: %d", a.Available())
	}
	var n int
	l.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bktHolds).Stats().KeyN; return nil })
	if n != 0 {
		t.Fatalf("%d hold index entries left", n)
	}
	mustVerify(t, l)
}

// TestPeopleReadWhenAsked: with room for three people at hand, forty are opened, paid,
// named in records and erased one by one; every read finds the right person, an erased
// one is never brought back by a read, and a reopened file finds them all again without
// reading any at its open.
func TestPeopleReadWhenAsked(t *testing.T) {
	opt := peopleOptions()
	opt.PeopleCache = 3
	l, path := testLedger(t, opt)
	ctx := context.Background()
	specs := []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"}}
	number := func(i int) string { return fmt.Sprintf("+336100%05d", i) }
	for i := range 40 {
		specs = append(specs, domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: number(i), Name: fmt.Sprintf("Person %d", i), Tier: 1})
	}
	res, err := l.Submit(ctx, domain.Job{Open: specs[:1]})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs[1:] {
		if _, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{s},
			Profiles: []domain.Profile{{Owner: "@p:" + s.Owner[1:], Data: []byte(`{"msisdn":"` + s.Owner + `"}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	_ = res
	check := func(l *Ledger, erased map[int]bool) {
		t.Helper()
		for i := range 40 {
			accs := l.AccountsOf(number(i))
			p, _, _ := l.Profile("@p:" + number(i)[1:])
			if erased[i] {
				if len(accs) != 0 || strings.Contains(string(p), number(i)) {
					t.Fatalf("erased %d found again: %+v %q", i, accs, p)
				}
				continue
			}
			if len(accs) != 1 || accs[0].Owner != number(i) || accs[0].Name != fmt.Sprintf("Person %d", i) || string(p) != `{"msisdn":"`+number(i)+`"}` {
				t.Fatalf("person %d: %+v %q", i, accs, p)
			}
		}
	}
	check(l, nil)
	erased := map[int]bool{}
	for _, i := range []int{3, 17, 39} {
		if _, err := l.Erase(ctx, number(i), domain.Audit{Actor: "op", Action: "subscriber erase"}); err != nil {
			t.Fatal(err)
		}
		erased[i] = true
		check(l, erased)
	}
	if n := len(l.people.byParty) + len(l.people.byNumber); n > 2*3 {
		t.Fatalf("%d people kept at hand, room for 3", n)
	}
	mustVerify(t, l)
	l.Close()
	l2, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if n := len(l2.people.byParty); n > 1 {
		t.Fatalf("the open read %d people", n)
	}
	check(l2, erased)
}

// TestErasedKeyIsGoneFromTheFile: after an erasure and the next open (which compacts), the
// erased person's wrapped key and sealed number are nowhere in the file, freed pages
// included: what the journal holds of him can never be opened again. The same after a
// backup from before the erasure is restored and the erasure log replayed on it.
func TestErasedKeyIsGoneFromTheFile(t *testing.T) {
	l, path := testLedger(t, peopleOptions())
	plant(t, l)
	ctx := context.Background()
	backup := filepath.Join(t.TempDir(), "before.db")
	if _, err := l.BackupFile(backup); err != nil {
		t.Fatal(err)
	}
	var party string
	var wrapped, sealed []byte
	l.db.View(func(tx *bolt.Tx) error {
		party, _ = l.people.party(boltTx{tx}, plantedNumber)
		wrapped = bytes.Clone(tx.Bucket(bktPartyKeys).Get([]byte(party)))
		sealed = bytes.Clone(tx.Bucket(bktParties).Get([]byte(party)))
		return nil
	})
	if len(wrapped) == 0 || len(sealed) == 0 {
		t.Fatal("no key to erase")
	}
	if _, err := l.Erase(ctx, plantedNumber, domain.Audit{Actor: "op", Action: "subscriber erase"}); err != nil {
		t.Fatal(err)
	}
	gone := func() {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, wrapped) || bytes.Contains(b, sealed) {
			t.Fatal("the erased person's key is still in the file")
		}
	}
	l.Close()
	reopen := func() {
		t.Helper()
		l2, err := Open(path, peopleOptions())
		if err != nil {
			t.Fatal(err)
		}
		mustVerify(t, l2)
		l2.Close()
	}
	reopen()
	gone()
	b, _ := os.ReadFile(backup)
	if !bytes.Contains(b, wrapped) {
		t.Fatal("the backup should hold the key until restored")
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	reopen() // replays the erasure log
	reopen() // compacts what the replay freed
	gone()
}
