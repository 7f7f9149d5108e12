package ledgertest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"mpg/domain"
)

// JournalForFollowers: the facts a job carries are journaled with its transfers, in
// order, and read back whole by Journal, which pages by position, skips what a follower
// does not read, never names a person, survives a restart, and is the same on a second
// daemon; Verify accepts the facts in the chain, and a job with too many is refused whole.
func JournalForFollowers(t *testing.T, open Opener) {
	w := newRulesWorld(t, open)
	l := w.l
	mustSubmit(t, l, domain.Job{Transfers: []domain.Transfer{transfer(w.float, w.a, 5000)}})
	paid := domain.Fact{Kind: domain.FactPaid, Product: domain.ProductPay, Channel: domain.ChannelSMS, Payer: w.a, Payee: w.shop,
		Amount: 750, Fee: 10, Earned: 12, Promo: "WELCOME", Discount: 100, Local: 23}
	refused := domain.Fact{Kind: domain.FactRefused, Product: domain.ProductSend, Channel: domain.ChannelSMS, Payer: w.b,
		Payee: w.a, Amount: 999999, Reason: domain.ReasonFunds, Local: 255}
	start, _, _ := l.Head()
	tr := transfer(w.a, w.shop, 750)
	mustSubmit(t, l, domain.Job{Transfers: []domain.Transfer{tr}, Facts: []domain.Fact{paid},
		Audit: &domain.Audit{Actor: "+33611110001", Action: "pay", Detail: "skipped by followers"}})
	mustSubmit(t, l, domain.Job{Facts: []domain.Fact{refused}})
	mustSubmit(t, l, domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33611110003", Tier: 1}}})
	if _, err := l.Submit(context.Background(), domain.Job{Facts: make([]domain.Fact, domain.MaxFacts+1)}); err == nil {
		t.Fatal("a job with too many facts was taken")
	}
	if _, err := l.Submit(context.Background(), domain.Job{Facts: []domain.Fact{{Product: "pay"}}}); err == nil {
		t.Fatal("a fact without a kind was taken")
	}
	check := func(l Ledger) {
		t.Helper()
		var got []domain.JournalEntry
		next := start + 1
		for range 10 { // one entry a page: paging must lose nothing
			page, n, err := l.(Follower).Journal(next, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 && n == next {
				break
			}
			got, next = append(got, page...), n
		}
		if len(got) != 4 {
			t.Fatalf("followers read %d entries after %d, want the transfer, two facts and an account: %+v", len(got), start, got)
		}
		if got[0].Transfer == nil || got[0].Transfer.ID != tr.ID || got[0].Transfer.Amount != 750 {
			t.Fatalf("first entry %+v, want the payment's transfer", got[0])
		}
		if got[1].Fact == nil || !reflect.DeepEqual(*got[1].Fact, paid) || got[1].Seq != got[0].Seq+2 {
			t.Fatalf("second entry %+v, want the paid fact after its transfer and the audit entry skipped", got[1])
		}
		if got[2].Fact == nil || !reflect.DeepEqual(*got[2].Fact, refused) {
			t.Fatalf("third entry %+v, want the refused fact", got[2])
		}
		if o := got[3].Opened; o == nil || o.Owner != "" || o.Kind != domain.KindPurse {
			t.Fatalf("fourth entry %+v, want a purse opened, its owner left out", got[3])
		}
		for _, e := range got {
			if e.Time == 0 {
				t.Fatalf("entry %d has no time", e.Seq)
			}
		}
		if page, _, err := l.(Follower).Journal(next, 100); err != nil || len(page) != 0 {
			t.Fatalf("past the head: %d entries, %v", len(page), err)
		}
	}
	check(l)
	mustVerify(t, l)
	if w.store.Another != nil {
		b := w.store.Another(t, w.cfg)
		waitCaughtUp(t, l, b)
		check(b)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	check(w.store.Reopen(t, w.cfg))
}

// Follower reads the journal (ledger.Ledger.Journal).
type Follower interface {
	Journal(from uint64, max int) ([]domain.JournalEntry, uint64, error)
}

// waitCaughtUp waits (at most 5 s) until b has followed every entry a committed.
func waitCaughtUp(t *testing.T, a, b Ledger) {
	t.Helper()
	want := a.Stats().LastSeq.Load()
	for end := time.Now().Add(5 * time.Second); b.Stats().LastSeq.Load() < want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the second daemon followed to %d, want %d", b.Stats().LastSeq.Load(), want)
		}
	}
}

// RawRecordsKeptAsTheyAre: a record whose value begins with domain.RawRecord is binary
// (NUL and 0xff bytes among its own) and every store gives it back byte for byte, even where
// its bytes spell a phone number. That no person is made of such a number is checked inside
// the ledger package (TestRawRecordsMakeNobody): this suite cannot see the people.
func RawRecordsKeptAsTheyAre(t *testing.T, open Opener) {
	w := newRulesWorld(t, open)
	raw := append([]byte{domain.RawRecord, 7, ' '}, "+33611110001 and +33699999999 \x00\xff"...)
	mustSubmit(t, w.l, domain.Job{Profiles: []domain.Profile{{Owner: "@raw:1", Data: raw}}})
	got, ver, err := w.l.Profile("@raw:1")
	if err != nil || ver != 1 || string(got) != string(raw) {
		t.Fatalf("read back %q (version %d, %v), wrote %q", got, ver, err, raw)
	}
}
