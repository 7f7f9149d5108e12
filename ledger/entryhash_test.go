package ledger

import (
	"context"
	"testing"

	"mpg/domain"
)

// A dispute's evidence names each transfer's chained hash and the journal's head: the hash
// read at a position is the transfer's, it changes with every entry, and a position past
// the end or zero is an error.
func TestEntryHashAndHead(t *testing.T) {
	l, _ := testLedger(t, nil)
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33612345678"},
	)
	seq1, h1, err := l.Head()
	if err != nil || seq1 == 0 || len(h1) != 64 {
		t.Fatalf("head after opening: %d %q %v", seq1, h1, err)
	}
	seen := map[string]bool{h1: true}
	for i := 0; i < 3; i++ {
		tr := transfer(acc[0].ID, acc[1].ID, 100)
		if _, err := l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{tr}}); err != nil {
			t.Fatal(err)
		}
		got, err := l.Transfer(tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		seq, h, err := l.Head()
		if err != nil || seq != got.Seq || seen[h] {
			t.Fatalf("head after transfer %d: %d %q %v (transfer at %d)", i, seq, h, err, got.Seq)
		}
		seen[h] = true
		if eh, err := l.EntryHash(got.Seq); err != nil || eh != h {
			t.Fatalf("EntryHash(%d) = %q %v, head %q", got.Seq, eh, err, h)
		}
	}
	if eh, err := l.EntryHash(seq1); err != nil || eh != h1 {
		t.Fatalf("an older entry's hash changed: %q %v, was %q", eh, err, h1)
	}
	last, _, _ := l.Head()
	for _, seq := range []uint64{0, last + 1} {
		if h, err := l.EntryHash(seq); err == nil {
			t.Fatalf("EntryHash(%d) = %q, want an error", seq, h)
		}
	}
	mustVerify(t, l)
}
