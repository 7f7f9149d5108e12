package ledgertest

import (
	"context"
	"errors"
	"math/bits"
	"mpg/domain"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// model is the ledger as a plain in-memory reference: the property test checks that the real
// ledger, through random operations and reopens, agrees with it on every outcome and balance.
type model struct {
	accts   []*modelAcct // index = id
	pending map[domain.ID]*modelPending
	done    map[domain.ID]domain.Transfer // committed transfers as submitted
	now     time.Time
	clock   atomic.Int64 // m.now for the ledger's writer goroutine
}

func (m *model) advance(d time.Duration) {
	m.now = m.now.Add(d)
	m.clock.Store(m.now.UnixNano())
}

type modelAcct struct {
	currency string
	kind     domain.Kind
	status   domain.Status
	bal      domain.Balances
}

type modelPending struct {
	dr, cr  uint64
	amount  uint64
	expires time.Time
}

func (m *model) acct(id uint64) *modelAcct {
	if id == 0 || id >= uint64(len(m.accts)) {
		return nil
	}
	return m.accts[id]
}

// check predicts the refusal of a new single or pending transfer, or 0.
// debits holds the chain's earlier debits (posted and pending) per account, credits its
// posted credits, pendingIn its pending credits.
func (m *model) check(t domain.Transfer, debits, credits, pendingIn map[uint64]uint64) domain.Reason {
	dr, cr := m.acct(t.Debit), m.acct(t.Credit)
	switch {
	case dr == nil || cr == nil:
		return domain.ErrAccountNotFound
	case t.Debit == t.Credit:
		return domain.ErrSameAccount
	case t.Amount == 0:
		return domain.ErrZeroAmount
	case dr.currency != cr.currency:
		return domain.ErrCurrencyMismatch
	case dr.status == domain.StatusBlocked:
		return domain.ErrAccountBlocked
	}
	// Every sum is checked, including the chain's earlier amounts, as the ledger's are.
	dPosted, ok0 := add3(dr.bal.DebitsPosted, debits[t.Debit], 0)
	cPosted, ok3 := add3(cr.bal.CreditsPosted, credits[t.Credit], 0)
	d, ok1 := add3(dPosted, dr.bal.DebitsPending, t.Amount)
	cPending, ok4 := add3(cr.bal.CreditsPending, pendingIn[t.Credit], 0)
	_, ok2 := add3(cPosted, cPending, t.Amount)
	if !ok0 || !ok1 || !ok2 || !ok3 || !ok4 {
		return domain.ErrOverflow
	}
	if domain.DefaultFlags(dr.kind)&domain.DebitsMustNotExceedCredits != 0 && d > dr.bal.CreditsPosted+credits[t.Debit] {
		return domain.ErrInsufficientFunds
	}
	return 0
}

// PropertyLedgerAgreesWithModel: through random opens, transfers (linked, pending), posts,
// voids, retries, status changes, clock moves and restarts, the ledger agrees with a plain
// model on every outcome and balance, and verifies.
func PropertyLedgerAgreesWithModel(t *testing.T, open Opener) {
	rapid.Check(t, func(rt *rapid.T) {
		m := &model{accts: []*modelAcct{nil}, pending: map[domain.ID]*modelPending{}, done: map[domain.ID]domain.Transfer{}, now: time.Unix(1_800_000_000, 0)}
		m.advance(0)
		clock := func() time.Time { return time.Unix(0, m.clock.Load()) }
		cfg := Config{Now: clock, ExpiryEvery: time.Hour, Tuning: Tuning{NoSync: true, CheckpointEvery: time.Millisecond, CheckpointChunk: 3}}
		l, store := open(t, cfg)
		defer func() { l.Close() }()
		ctx := context.Background()
		var ids []domain.ID

		anyAccount := func(rt *rapid.T) uint64 { return rapid.Uint64Range(0, uint64(len(m.accts))).Draw(rt, "account") }
		amount := func(rt *rapid.T) uint64 {
			return rapid.OneOf(rapid.Uint64Range(0, 2000), rapid.Just(^uint64(0)-5)).Draw(rt, "amount")
		}
		expect := func(rt *rapid.T, what string, err error, want domain.Reason) {
			if want == 0 && err != nil {
				rt.Fatalf("%s: unexpected refusal %v", what, err)
			}
			if want != 0 && !errors.Is(err, want) {
				rt.Fatalf("%s: got %v, want %v", what, err, want)
			}
		}
		apply := func(t domain.Transfer) {
			m.accts[t.Debit].bal.Debit(&t)
			m.accts[t.Credit].bal.Credit(&t)
		}

		rt.Repeat(map[string]func(*rapid.T){
			"open": func(rt *rapid.T) {
				kind := rapid.SampledFrom([]domain.Kind{domain.KindPurse, domain.KindMerchant, domain.KindFloat}).Draw(rt, "kind")
				cur := rapid.SampledFrom([]string{"EUR", "XOF"}).Draw(rt, "currency")
				owner := ""
				if kind == domain.KindFloat {
					owner = "@float"
					for _, a := range m.accts[1:] {
						if a.kind == domain.KindFloat && a.currency == cur {
							// One float per currency: system accounts are found by kind.
							if _, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: cur, Kind: kind, Owner: owner}}}); !errors.Is(err, domain.ErrAccountExists) {
								rt.Fatalf("second %s float: %v", cur, err)
							}
							return
						}
					}
				}
				res, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: cur, Kind: kind, Owner: owner}}})
				if err != nil || res.Accounts[0].ID != uint64(len(m.accts)) {
					rt.Fatalf("open: %v %+v", err, res)
				}
				m.accts = append(m.accts, &modelAcct{currency: cur, kind: kind, status: domain.StatusActive})
			},
			"transfer": func(rt *rapid.T) {
				n := rapid.IntRange(1, 3).Draw(rt, "chain")
				var ts []domain.Transfer
				debits, credits, pendingIn := map[uint64]uint64{}, map[uint64]uint64{}, map[uint64]uint64{}
				var want domain.Reason
				for range n {
					tr := domain.Transfer{ID: domain.NewID(), Debit: anyAccount(rt), Credit: anyAccount(rt), Amount: amount(rt)}
					if rapid.Bool().Draw(rt, "pending") {
						tr.Flags = domain.Pending
						tr.Timeout = time.Duration(rapid.IntRange(0, 3).Draw(rt, "timeout_min")) * time.Minute
					}
					if want == 0 {
						want = m.check(tr, debits, credits, pendingIn)
						if want == 0 {
							if tr.Flags&domain.Pending == 0 {
								debits[tr.Debit] += tr.Amount
								credits[tr.Credit] += tr.Amount
							} else {
								// Pending amounts count against the debit side at once.
								debits[tr.Debit] += tr.Amount
								pendingIn[tr.Credit] += tr.Amount
							}
						}
					}
					ts = append(ts, tr)
				}
				_, err := l.Submit(ctx, domain.Job{Transfers: ts})
				expect(rt, "transfer", err, want)
				if want != 0 {
					return
				}
				for _, tr := range ts {
					apply(tr)
					m.done[tr.ID] = tr
					ids = append(ids, tr.ID)
					if tr.Flags&domain.Pending != 0 {
						p := &modelPending{dr: tr.Debit, cr: tr.Credit, amount: tr.Amount}
						if tr.Timeout > 0 {
							p.expires = m.now.Add(tr.Timeout)
						}
						m.pending[tr.ID] = p
					}
				}
			},
			"resolve": func(rt *rapid.T) {
				if len(ids) == 0 {
					rt.Skip("nothing to resolve")
				}
				pid := rapid.SampledFrom(ids).Draw(rt, "pending")
				void := rapid.Bool().Draw(rt, "void")
				tr := domain.Transfer{ID: domain.NewID(), PendingID: pid, Flags: domain.PostPending}
				if void {
					tr.Flags = domain.VoidPending
				} else {
					tr.Amount = rapid.Uint64Range(0, 1200).Draw(rt, "post_amount")
				}
				p := m.pending[pid]
				var want domain.Reason
				switch {
				case p == nil:
					want = domain.ErrPendingResolved
				case !p.expires.IsZero() && !m.now.Before(p.expires):
					want = domain.ErrPendingExpired
				case !void && tr.Amount > p.amount:
					want = domain.ErrAmountExceedsPending
				case !void && m.accts[p.dr].status == domain.StatusClosed:
					want = domain.ErrAccountClosed
				case !void && m.accts[p.dr].status == domain.StatusBlocked: // a reservation is posted only from a purse that may pay
					want = domain.ErrAccountBlocked
				case !void && m.accts[p.cr].status == domain.StatusClosed:
					want = domain.ErrAccountClosed
				}
				_, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{tr}})
				expect(rt, "resolve", err, want)
				if want != 0 {
					return
				}
				tr.Debit, tr.Credit, tr.PendingAmount = p.dr, p.cr, p.amount
				if void {
					tr.Amount = 0
				} else if tr.Amount == 0 {
					tr.Amount = p.amount
				}
				apply(tr)
				delete(m.pending, pid)
				m.done[tr.ID] = tr
				ids = append(ids, tr.ID)
			},
			"retry": func(rt *rapid.T) {
				if len(ids) == 0 {
					rt.Skip("nothing to retry")
				}
				id := rapid.SampledFrom(ids).Draw(rt, "id")
				tr := m.done[id]
				if tr.Flags&(domain.PostPending|domain.VoidPending) != 0 {
					tr.Debit, tr.Credit = 0, 0 // as submitted
				}
				changed := rapid.Bool().Draw(rt, "changed")
				if changed {
					tr.Code++
				}
				res, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{tr}})
				if changed {
					expect(rt, "retry changed", err, domain.ErrIDReused)
				} else if err != nil || !res.Existed[0] {
					rt.Fatalf("retry: %v %+v", err, res)
				}
			},
			"status": func(rt *rapid.T) {
				id := anyAccount(rt)
				s := rapid.SampledFrom([]domain.Status{domain.StatusActive, domain.StatusBlocked}).Draw(rt, "status")
				_, err := l.Submit(ctx, domain.Job{Status: []domain.StatusChange{{Account: id, Status: s}}, Audit: &domain.Audit{Action: "status"}})
				if m.acct(id) == nil {
					expect(rt, "status", err, domain.ErrAccountNotFound)
					return
				}
				expect(rt, "status", err, 0)
				m.accts[id].status = s
			},
			"time": func(rt *rapid.T) {
				m.advance(time.Duration(rapid.IntRange(1, 90).Draw(rt, "seconds")) * time.Second)
			},
			"reopen": func(rt *rapid.T) {
				if err := l.Close(); err != nil {
					rt.Fatal(err)
				}
				l = store.Reopen(t, cfg)
				// Opening scans for expired pending transfers and voids them.
				for id, p := range m.pending {
					if !p.expires.IsZero() && !m.now.Before(p.expires) {
						apply(domain.Transfer{Debit: p.dr, Credit: p.cr, PendingAmount: p.amount, Flags: domain.VoidPending})
						delete(m.pending, id)
					}
				}
				// The writer's start-up scan commits before any job; wait for it.
				if _, err := l.Submit(ctx, domain.Job{}); err != nil {
					rt.Fatal(err)
				}
			},
			"": func(rt *rapid.T) {
				for id := uint64(1); id < uint64(len(m.accts)); id++ {
					a, err := l.Account(id)
					if err != nil || a.Balances != m.accts[id].bal || a.Status != m.accts[id].status {
						rt.Fatalf("account %d: ledger %+v %v, model %+v %v", id, a.Balances, err, m.accts[id].bal, m.accts[id].status)
					}
				}
				rep, err := l.Verify(ctx, nil)
				if err != nil || !rep.OK() {
					rt.Fatalf("verify: %v %s", err, rep.Problem)
				}
			},
		})
	})
}

// add3 is a+b+c, and false if the sum overflows: the model's own arithmetic.
func add3(a, b, c uint64) (uint64, bool) {
	s, c1 := bits.Add64(a, b, 0)
	s, c2 := bits.Add64(s, c, 0)
	return s, c1|c2 == 0
}
