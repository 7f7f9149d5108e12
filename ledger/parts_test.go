package ledger

import (
	"context"
	"errors"
	"fmt"
	"mpg/domain"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestPartsOfLongMessagesAreDurableCappedAndSwept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	opt := &Options{Now: func() time.Time { return time.Unix(0, clock.Load()) }, ExpiryEvery: 5 * time.Millisecond}
	l, err := Create(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	part := func(sender, msg string, seq uint8) domain.PartWrite {
		return domain.PartWrite{Sender: sender, Msg: msg, Seq: seq, Coding: 8, Data: []byte{0, byte(seq)}, TTL: time.Hour}
	}
	for _, seq := range []uint8{2, 1, 2} { // the repeat of part 2 is kept once
		if err := l.KeepPart(ctx, part("+33611110001", "7/3", seq)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if l, err = Open(path, opt); err != nil { // a restart between parts loses nothing
		t.Fatal(err)
	}
	defer func() { l.Close() }()
	ps, err := l.Parts("+33611110001", "7/3")
	if err != nil || len(ps) != 2 || ps[0].Seq != 1 || ps[1].Seq != 2 || ps[1].Data[1] != 2 || ps[0].Coding != 8 {
		t.Fatalf("parts after reopen: %+v %v", ps, err)
	}
	if err := l.ReleaseParts(ctx, "+33611110001", "7/3"); err != nil {
		t.Fatal(err)
	}
	if ps, _ := l.Parts("+33611110001", "7/3"); len(ps) != 0 {
		t.Fatalf("released parts still there: %+v", ps)
	}
	// One sender cannot hold more than MaxPartsOfSender; others are not held up.
	for i := range MaxPartsOfSender {
		if err := l.KeepPart(ctx, part("+33611110002", fmt.Sprint(i, "/16"), 1)); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := l.KeepPart(ctx, part("+33611110002", "x/16", 1)); !errors.Is(err, domain.ErrLimitExceeded) {
		t.Fatalf("part beyond the sender's cap: %v", err)
	}
	if err := l.KeepPart(ctx, part("+33611110003", "1/2", 1)); err != nil {
		t.Fatal(err)
	}
	// Incomplete messages expire and are counted.
	clock.Add(int64(2 * time.Hour))
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().PartsExpired.Load() < MaxPartsOfSender+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d parts expired", l.Stats().PartsExpired.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := l.KeepPart(ctx, part("+33611110002", "y/16", 1)); err != nil {
		t.Fatalf("after the sweep: %v", err)
	}
}
