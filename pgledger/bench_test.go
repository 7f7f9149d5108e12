package pgledger

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
	"mpg/ledger/ledgertest"
)

// BenchmarkSharedPay measures payment jobs (a transfer, a dedupe record and a reply, as a
// texted PAY makes) committed by 1 and 3 ledgers on one database, 256 submitters at once,
// from 1000 purses to one merchant (a hot account, credited by every job) or spread over
// 100: the figures are the same, since nothing is locked per account. The test cluster
// runs without fsync: `mpg bench --ledger postgres` measures the durable figure.
func BenchmarkSharedPay(b *testing.B) {
	for _, daemons := range []int{1, 3} {
		for _, merchants := range []int{1, 100} {
			b.Run(fmt.Sprintf("daemons=%d/merchants=%d", daemons, merchants), func(b *testing.B) { benchSharedPay(b, daemons, merchants) })
		}
	}
}

func benchSharedPay(b *testing.B, daemons, merchants int) {
	first, store := pgOpener(b, ledgertest.Config{})
	ls := []ledgertest.Ledger{first}
	for range daemons - 1 {
		ls = append(ls, store.Another(b, ledgertest.Config{}))
	}
	ctx := context.Background()
	specs := []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"}}
	for i := range merchants {
		specs = append(specs, domain.AccountSpec{Currency: "EUR", Kind: domain.KindMerchant, Owner: fmt.Sprintf("SHOP%d", i)})
	}
	for i := range 1000 {
		specs = append(specs, domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: fmt.Sprintf("+336%08d", i)})
	}
	var accts []domain.Account
	for i := 0; i < len(specs); i += domain.MaxJobAccounts {
		res, err := first.Submit(ctx, domain.Job{Open: specs[i:min(i+domain.MaxJobAccounts, len(specs))]})
		if err != nil {
			b.Fatal(err)
		}
		accts = append(accts, res.Accounts...)
	}
	float, shops, purses := accts[0].ID, accts[1:1+merchants], accts[1+merchants:]
	var fund []domain.Transfer
	for _, a := range purses {
		fund = append(fund, domain.Transfer{ID: domain.NewID(), Debit: float, Credit: a.ID, Amount: 1 << 40})
		if len(fund) == domain.MaxJobTransfers {
			if _, err := first.Submit(ctx, domain.Job{Transfers: fund}); err != nil {
				b.Fatal(err)
			}
			fund = nil
		}
	}
	if _, err := first.Submit(ctx, domain.Job{Transfers: fund}); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for g := range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := ls[g%daemons]
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				purse, shop := purses[int(i)%1000].ID, shops[int(i)%merchants].ID
				_, err := l.Submit(ctx, domain.Job{
					Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: purse, Credit: shop, Amount: 1}},
					Dedupe:    &domain.Dedupe{Key: fmt.Sprintf("mo-%d", i), TTL: time.Hour, Result: []byte("ok")},
					Messages:  []domain.Message{{From: "1234", To: fmt.Sprintf("+336%08d", int(i)%1000), Text: "Paid 0.01 EUR to Corner Shop"}},
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}
