package ledger

import (
	"context"
	"errors"
	"mpg/domain"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// testLedger creates a ledger in a temporary directory with a float, a purse and a merchant.
func testLedger(t *testing.T, opt *Options) (*Ledger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mpg.db")
	l, err := Create(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func mustOpen(t *testing.T, l *Ledger, specs ...domain.AccountSpec) []domain.Account {
	t.Helper()
	res, err := l.Submit(context.Background(), domain.Job{Open: specs})
	if err != nil {
		t.Fatal(err)
	}
	return res.Accounts
}

func mustVerify(t *testing.T, l *Ledger) *Report {
	t.Helper()
	rep, err := l.Verify(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %s", rep.Problem)
	}
	return rep
}

func transfer(dr, cr, amount uint64) domain.Transfer {
	return domain.Transfer{ID: domain.NewID(), Debit: dr, Credit: cr, Amount: amount}
}

func TestTransferRulesAndRefusals(t *testing.T) {
	l, _ := testLedger(t, nil)
	ctx := context.Background()
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "+33612345678", Name: "Alice"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42", Name: "Shop"},
		domain.AccountSpec{Currency: "XOF", Kind: domain.KindPurse, Owner: "+221770000000"},
	)
	float, alice, shop, xof := acc[0].ID, acc[1].ID, acc[2].ID, acc[3].ID
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(float, alice, 10_000)}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tr   domain.Transfer
		want domain.Reason
	}{
		{"insufficient", transfer(alice, shop, 10_001), domain.ErrInsufficientFunds},
		{"same account", transfer(alice, alice, 1), domain.ErrSameAccount},
		{"zero", transfer(alice, shop, 0), domain.ErrZeroAmount},
		{"currency", transfer(alice, xof, 1), domain.ErrCurrencyMismatch},
		{"unknown", transfer(alice, 999, 1), domain.ErrAccountNotFound},
		{"zero id", domain.Transfer{Debit: alice, Credit: shop, Amount: 1}, domain.ErrZeroID},
		{"overflow", transfer(float, alice, ^uint64(0)), domain.ErrOverflow},
	}
	for _, c := range cases {
		_, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{c.tr}})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// Idempotency: same id and body returns the first result; another body is refused.
	tr := transfer(alice, shop, 1250)
	r1, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{tr}})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{tr}})
	if err != nil || !r2.Existed[0] || r2.Transfers[0].Seq != r1.Transfers[0].Seq {
		t.Fatalf("retry: %v %+v", err, r2)
	}
	tr.Amount = 1
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{tr}}); !errors.Is(err, domain.ErrIDReused) {
		t.Fatalf("reuse: %v", err)
	}
	a, _ := l.Account(alice)
	if a.Available() != 10_000-1250 {
		t.Fatalf("alice: %+v", a)
	}
	// Blocked: no debits, credits still arrive.
	if _, err := l.Submit(ctx, domain.Job{Status: []domain.StatusChange{{Account: alice, Status: domain.StatusBlocked}}, Audit: &domain.Audit{Actor: "test", Action: "block"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(alice, shop, 1)}}); !errors.Is(err, domain.ErrAccountBlocked) {
		t.Fatalf("blocked debit: %v", err)
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(float, alice, 1)}}); err != nil {
		t.Fatalf("blocked credit: %v", err)
	}
	mustVerify(t, l)
}

func TestLinkedChainAllOrNothing(t *testing.T) {
	l, _ := testLedger(t, nil)
	ctx := context.Background()
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "a"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindMerchant, Owner: "m"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFees, Owner: "@fees"},
	)
	float, a, m, fees := acc[0].ID, acc[1].ID, acc[2].ID, acc[3].ID
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(float, a, 100)}}); err != nil {
		t.Fatal(err)
	}
	// Payment 90 plus fee 20 exceeds 100: the first transfer must not stay.
	_, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(a, m, 90), transfer(a, fees, 20)},
		Messages: []domain.Message{{To: "a", Text: "paid"}}})
	var re *domain.RefusedError
	if !errors.As(err, &re) || re.Reason != domain.ErrInsufficientFunds || re.Index != 1 {
		t.Fatalf("chain: %v", err)
	}
	for _, id := range []uint64{a, m, fees} {
		acct, _ := l.Account(id)
		if acct.DebitsPosted+acct.DebitsPending+acct.CreditsPending != 0 && id != a {
			t.Fatalf("account %d moved: %+v", id, acct)
		}
	}
	if acct, _ := l.Account(a); acct.Available() != 100 {
		t.Fatalf("payer moved: %+v", acct)
	}
	if msgs, _ := l.Messages(10, 0, 0); len(msgs) != 0 {
		t.Fatalf("refused job left messages: %+v", msgs)
	}
	res, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(a, m, 80), transfer(a, fees, 20)}})
	if err != nil || res.Transfers[0].Flags&domain.Linked == 0 || res.Transfers[1].Flags&domain.Linked != 0 {
		t.Fatalf("chain ok: %v %+v", err, res)
	}
	mustVerify(t, l)
}

func TestPendingPostVoidExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var clock = func() time.Time { return now }
	l, path := testLedger(t, &Options{Now: func() time.Time { return clock() }, ExpiryEvery: time.Hour})
	ctx := context.Background()
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "a"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindMerchant, Owner: "m"},
	)
	float, a, m := acc[0].ID, acc[1].ID, acc[2].ID
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(float, a, 1000)}}); err != nil {
		t.Fatal(err)
	}
	p1 := domain.Transfer{ID: domain.NewID(), Debit: a, Credit: m, Amount: 600, Flags: domain.Pending, Timeout: time.Minute}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{p1}}); err != nil {
		t.Fatal(err)
	}
	// The reservation counts: 600 pending leaves 400.
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(a, m, 401)}}); !errors.Is(err, domain.ErrInsufficientFunds) {
		t.Fatalf("pending not reserved: %v", err)
	}
	post := domain.Transfer{ID: domain.NewID(), PendingID: p1.ID, Amount: 500, Flags: domain.PostPending}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: p1.ID, Amount: 601, Flags: domain.PostPending}}}); !errors.Is(err, domain.ErrAmountExceedsPending) {
		t.Fatalf("over-post: %v", err)
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{post}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: p1.ID, Flags: domain.VoidPending}}}); !errors.Is(err, domain.ErrPendingResolved) {
		t.Fatalf("void after post: %v", err)
	}
	if acct, _ := l.Account(a); acct.Available() != 500 || acct.DebitsPending != 0 {
		t.Fatalf("after partial post: %+v", acct)
	}
	// A second pending expires; after reopen the expiry runs at start.
	p2 := domain.Transfer{ID: domain.NewID(), Debit: a, Credit: m, Amount: 300, Flags: domain.Pending, Timeout: time.Minute}
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{p2}}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	now = now.Add(2 * time.Minute)
	l2, err := Open(path, &Options{Now: clock, ExpiryEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if _, err := l2.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), PendingID: p2.ID, Flags: domain.PostPending}}}); !errors.Is(err, domain.ErrPendingResolved) {
		t.Fatalf("post after expiry: %v", err)
	}
	if acct, _ := l2.Account(a); acct.Available() != 500 || acct.DebitsPending != 0 {
		t.Fatalf("after expiry: %+v", acct)
	}
	if t2, err := l2.Transfer(expiryID(p2.ID)); err != nil || t2.Flags&domain.Expired == 0 {
		t.Fatalf("expiry transfer: %v %+v", err, t2)
	}
	mustVerify(t, l2)
}

func TestDedupeAndOutbox(t *testing.T) {
	l, _ := testLedger(t, nil)
	ctx := context.Background()
	job := domain.Job{
		Messages: []domain.Message{{From: "1234", To: "+33612345678", Text: "hello"}},
		Dedupe:   &domain.Dedupe{Key: "+33612345678|abc", TTL: time.Minute, Result: []byte("first reply")},
	}
	res, err := l.Submit(ctx, job)
	if err != nil || len(res.Messages) != 1 {
		t.Fatal(err, res)
	}
	_, err = l.Submit(ctx, job)
	var dup *domain.DuplicateError
	if !errors.As(err, &dup) || string(dup.Result) != "first reply" {
		t.Fatalf("duplicate: %v", err)
	}
	msgs, err := l.NextMessages(ctx, 10)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "hello" || msgs[0].Status != domain.MsgQueued {
		t.Fatalf("next: %v %+v", err, msgs)
	}
	if err := l.MarkSent(ctx, msgs[0].ID, "abc123"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkReceipt(ctx, "abc123", true, "DELIVRD"); err != nil {
		t.Fatal(err)
	}
	m, err := l.Message(msgs[0].ID)
	if err != nil || m.Status != domain.MsgDelivered || m.SMSCID != "abc123" || m.Attempts != 1 {
		t.Fatalf("message: %v %+v", err, m)
	}
	if err := l.MarkSent(ctx, 999, "x"); !errors.Is(err, domain.ErrMessageNotFound) {
		t.Fatalf("unknown message: %v", err)
	}
}

func TestHistoryAndReopen(t *testing.T) {
	l, path := testLedger(t, &Options{CheckpointEvery: time.Millisecond, CheckpointChunk: 2})
	ctx := context.Background()
	acc := mustOpen(t, l,
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "a"},
		domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "b"},
	)
	float, a, b := acc[0].ID, acc[1].ID, acc[2].ID
	for i := range 20 {
		if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(float, a, 100), transfer(a, b, uint64(i+1))}}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := l.History(b, 5, 0)
	if err != nil || len(h) != 5 || h[0].Amount != 20 || h[4].Amount != 16 {
		t.Fatalf("history: %v %+v", err, h)
	}
	older, err := l.History(b, 100, h[4].Seq)
	if err != nil || len(older) != 15 || older[0].Amount != 15 {
		t.Fatalf("older: %v %d", err, len(older))
	}
	before, _ := l.Account(a)
	l.Close()
	l2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	after, _ := l2.Account(a)
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("reopen: %+v != %+v", after, before)
	}
	mustVerify(t, l2)
}

func TestSecondOpenerIsToldWho(t *testing.T) {
	_, path := testLedger(t, nil)
	_, err := Open(path, &Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second open: %v", err)
	}
}

func TestUnknownSchemaIsAClearError(t *testing.T) {
	l, path := testLedger(t, nil)
	l.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktMeta).Put(keySchema, u64key(99)) })
	db.Close()
	if _, err := Open(path, nil); !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "99") {
		t.Fatalf("open v99: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none.db"), nil); err == nil {
		t.Fatal("opening a missing file must fail, not create it")
	}
}

func TestMessagesPageNewestFirst(t *testing.T) {
	l, _ := testLedger(t, nil)
	var ids []uint64
	for i := range 5 {
		res, err := l.Submit(context.Background(), domain.Job{Messages: []domain.Message{{To: "+33612345678", Text: string(rune('a' + i))}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Messages[0])
	}
	page, err := l.Messages(2, 0, 0)
	if err != nil || len(page) != 2 || page[0].ID != ids[4] || page[1].ID != ids[3] {
		t.Fatalf("first page: %v %+v", err, page)
	}
	page, err = l.Messages(10, page[1].ID, 0)
	if err != nil || len(page) != 3 || page[0].ID != ids[2] || page[2].ID != ids[0] {
		t.Fatalf("next page: %v %+v", err, page)
	}
	if page, _ := l.Messages(10, ids[4]+100, 0); len(page) != 5 {
		t.Fatalf("before beyond the newest: %d", len(page))
	}
}

func TestProfilesAndTransferAt(t *testing.T) {
	l, path := testLedger(t, nil)
	ctx := context.Background()
	acc := mustOpen(t, l, domain.AccountSpec{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"}, domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: "+331"})
	res, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(acc[0].ID, acc[1].ID, 10)}, Profiles: []domain.Profile{{Owner: "+331", Data: []byte("v1")}}})
	if err != nil {
		t.Fatal(err)
	}
	// A refused job leaves the profile as it was.
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{transfer(acc[1].ID, acc[0].ID, 11)}, Profiles: []domain.Profile{{Owner: "+331", Data: []byte("v2"), Version: 1}}}); !errors.Is(err, domain.ErrInsufficientFunds) {
		t.Fatal(err)
	}
	if p, v, _ := l.Profile("+331"); string(p) != "v1" || v != 1 {
		t.Fatalf("profile %q version %d", p, v)
	}
	// A write computed from an older read is refused: nothing overwrites what it did not see.
	if _, err := l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: "+331", Data: []byte("stale"), Version: 0}}}); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("stale profile write: %v", err)
	}
	if _, err := l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: "+331", Data: []byte("v1"), Version: 1}}}); err != nil {
		t.Fatal(err)
	}
	if tr, err := l.TransferAt(res.Transfers[0].Seq); err != nil || tr.ID != res.Transfers[0].ID {
		t.Fatalf("TransferAt: %v %+v", err, tr)
	}
	if _, err := l.TransferAt(1); !errors.Is(err, domain.ErrTransferNotFound) {
		t.Fatalf("TransferAt of an account entry: %v", err)
	}
	l.Close()
	l2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if p, v, _ := l2.Profile("+331"); string(p) != "v1" || v != 2 {
		t.Fatalf("profile after reopen %q", p)
	}
}

func TestDedupeOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	opt := &Options{Now: func() time.Time { return time.Unix(0, clock.Load()) }, ExpiryEvery: 5 * time.Millisecond}
	l, err := Create(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	job := domain.Job{Dedupe: &domain.Dedupe{Key: "k", TTL: 6 * time.Hour, Result: []byte("first")}}
	if _, err := l.Submit(ctx, job); err != nil {
		t.Fatal(err)
	}
	// Copies in one batch: the second sees the first's record in the transaction.
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := l.Submit(ctx, domain.Job{Dedupe: &domain.Dedupe{Key: "same-batch", TTL: time.Hour}})
			errs <- err
		}()
	}
	ok := 0
	for range 8 {
		if <-errs == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 8 concurrent copies taken, want 1", ok)
	}
	l.Close()
	// Five hours later, after a restart, the copy is still a duplicate, with the first result.
	clock.Add(int64(5 * time.Hour))
	if l, err = Open(path, opt); err != nil {
		t.Fatal(err)
	}
	defer func() { l.Close() }()
	var dup *domain.DuplicateError
	if _, err := l.Submit(ctx, job); !errors.As(err, &dup) || string(dup.Result) != "first" || dup.At == 0 {
		t.Fatalf("copy after 5 h and a restart: %v %+v", err, dup)
	}
	// Past its window the key is new again, and the swept record leaves no index entry.
	clock.Add(int64(2 * time.Hour))
	time.Sleep(50 * time.Millisecond)
	if _, err := l.Submit(ctx, job); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	mustVerify(t, l)
}
