package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"mpg/ledger"
	"mpg/smpp"
)

// Long MO are durable part by part: a restart between parts, a temporary failure on the last
// part redelivered alone, and a part redelivered after the message was taken each end in
// exactly one command.
func TestLongMOSurvivesRestartsAndSinglePartRedelivery(t *testing.T) {
	db, sim, cfg := testSetup(t)
	cfg.Engine.MOPerMinute, cfg.Engine.MOBurst = 60, 1 // one token a second, no burst
	open := func() (*ledger.Ledger, func() error) {
		l, err := ledger.Open(db, (&app{cfg: cfg}).daemonLedgerOptions(cfg))
		if err != nil {
			t.Fatal(err)
		}
		_, _, stop, err := startDaemon(context.Background(), cfg, l, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		return l, func() error { err := stop(); l.Close(); return err }
	}
	ctx := context.Background()
	long := func(name string) string { return "REG 739164 " + name + strings.Repeat(" x", 90) } // two parts
	send := func(from, text string, ref byte, parts ...int) {
		t.Helper()
		st, err := sim.SendParts(ctx, from, "1234", text, ref, parts...)
		if err != nil || st != smpp.StatusOK {
			t.Fatalf("%s parts %v: %v %v", from, parts, st, err)
		}
	}
	purses := func(l *ledger.Ledger, msisdn string) int { return len(l.AccountsOf(msisdn)) }

	// 1. A restart between the parts.
	const ann = "+33611112001"
	l, stop := open()
	send(ann, long("Ann"), 1, 1)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	l, stop = open()
	send(ann, long("Ann"), 1, 2)
	if purses(l, ann) != 1 {
		t.Fatal("the long REG split by a restart did not run")
	}

	// 2. The last part refused for now (the number's rate), redelivered alone later.
	const ben = "+33611112002"
	send(ben, "HELP", 0) // takes the number's only token
	send(ben, long("Ben"), 2, 1)
	st, err := sim.SendParts(ctx, ben, "1234", long("Ben"), 2, 2)
	if err != nil || st != smpp.StatusTempAppErr {
		t.Fatalf("last part while over the rate: %v %v", st, err)
	}
	if purses(l, ben) != 0 {
		t.Fatal("ran although the last part was refused")
	}
	time.Sleep(1100 * time.Millisecond)
	send(ben, long("Ben"), 2, 2)
	if purses(l, ben) != 1 {
		t.Fatal("the redelivered last part did not complete the message")
	}

	// 3. A part redelivered after the message was taken: nothing runs twice.
	time.Sleep(1100 * time.Millisecond)
	send(ann, long("Ann"), 1, 1)
	time.Sleep(1100 * time.Millisecond)
	send(ann, long("Ann"), 1, 2)
	welcomes := 0
	for _, m := range sim.MT(ann) {
		if strings.HasPrefix(m, "Welcome") {
			welcomes++
		}
	}
	if welcomes != 1 || purses(l, ann) != 1 {
		t.Fatalf("%d welcomes, %d purses: %q", welcomes, purses(l, ann), sim.MT(ann))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
