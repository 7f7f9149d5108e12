package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"mpg/config"
	"mpg/domain"
	"mpg/ledger"
)

// TestMigrateFileToPostgres: a file with a texted payment, its records and replies still to
// send is copied into an empty database; both sides verify to the same head; the books
// then serve from the database (balances, the payment list, the replies, adopted by the
// daemon that opens them); a second copy into the same database is refused.
func TestMigrateFileToPostgres(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "merchant", "add", "SHOP42", "--name", "Corner Shop", "--msisdn", "+33699000000")
	l, _ := alicePays(t, db, "PAY SHOP42 3 INV77 2468")
	unsent, err := l.Unsent()
	if err != nil || unsent == 0 {
		t.Fatalf("the file should have replies still to send: %d %v", unsent, err)
	}
	l.Close()
	before := mustRun(t, "--db", db, "ledger", "show", cliAlice)

	pg := newBooks(t, config.DriverPostgres)
	out := mustRun(t, pg.cli("--db", db, "ledger", "migrate", "--from", db)...)
	if !strings.Contains(out, "ledger migrate: ok") || strings.Count(out, " ok\n") != 2 {
		t.Fatalf("migrate: %s", out)
	}
	if _, err := run(t, pg.cli("ledger", "migrate", "--from", db)...); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a second copy into the same database: %v", err)
	}
	if after := mustRun(t, pg.cli("ledger", "show", cliAlice)...); after != before {
		t.Fatalf("alice on the file:\n%s\non the database:\n%s", before, after)
	}
	if got := mustRun(t, pg.cli("payment", "list", "SHOP42")...); !strings.Contains(got, "INV77") {
		t.Fatalf("payment list from the database: %s", got)
	}
	if got := mustRun(t, pg.cli("ledger", "verify")...); !strings.Contains(got, "ledger verify: ok") {
		t.Fatalf("verify on the database: %s", got)
	}

	// The replies the file still had to send belong to no daemon there: the first daemon on
	// the database sends them.
	cfg := config.Default()
	cfg.Ledger = pg.ledger
	shared := pg.open(t, cfg, func(o *ledger.Options) { o.Daemon, o.ExpiryEvery = "d1", 10*time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := 0
	for got < unsent {
		msgs, err := shared.NextMessages(ctx, 10)
		if err != nil {
			t.Fatalf("%d of %d replies taken over: %v", got, unsent, err)
		}
		for _, m := range msgs {
			if m.Status != domain.MsgQueued || m.To == "" {
				t.Fatalf("reply %+v", m)
			}
			if err := shared.MarkSent(ctx, m.ID, "smsc-"+m.To); err != nil {
				t.Fatal(err)
			}
			got++
		}
	}
}
