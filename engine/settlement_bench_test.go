package engine

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
	"mpg/internal/testbooks"
	"mpg/ledger"
	"mpg/settlement"
)

// BenchmarkSettleRun measures one day's run for 1,000 merchants with linked bank accounts,
// each owed money: 1,000 payout jobs, 20 files of 50 transfers written and synced.
// go test ./engine -run '^$' -bench SettleRun -benchtime 5x
func BenchmarkSettleRun(b *testing.B) {
	const merchants = 1000
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	l := testbooks.New(b).Create(b, &ledger.Options{Now: now})
	res, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"}}})
	if err != nil {
		b.Fatal(err)
	}
	float := res.Accounts[0].ID
	e, err := New(Config{Currency: "EUR", Exponent: 2, PINKey: []byte("pin-key-for-tests-only"), ReceiptKey: []byte("receipt-key-for-tests"), Now: now,
		Settlement: SettlementConfig{Files: settlement.Files{}, Dir: b.TempDir(), ReservePercent: 10, ReserveDays: 7, MinPayout: 100,
			Debtor: domain.SEPAParty{Name: "Operator", IBAN: "DE89370400440532013000"}}}, l)
	if err != nil {
		b.Fatal(err)
	}
	var ids []uint64
	for i := range merchants {
		res, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindMerchant, Owner: fmt.Sprintf("M%04d", i), Name: "Shop"}}})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, res.Accounts[0].ID)
		if _, err := e.LinkPayoutBank(ctx, "bench", res.Accounts[0].ID, "FR7630006000011234567890189", "", ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		clock.Add(int64(24 * time.Hour))
		for _, id := range ids {
			if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: float, Credit: id, Amount: 2000, Code: domain.CodePay}}}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		rep, err := e.Settle(ctx, "bench")
		if err != nil || len(rep.Issued) != merchants || len(rep.Files) != merchants/50 {
			b.Fatalf("%d issued, %d files: %v", len(rep.Issued), len(rep.Files), err)
		}
	}
}
