package ledger

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"mpg/domain"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashAccounts = 20

// TestCrashChild is the child of TestCrashSIGKILL: it submits transfers from many goroutines
// and prints the id of each one the ledger acknowledged, until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("MPG_CRASH_DB")
	if path == "" {
		t.Skip("run by TestCrashSIGKILL")
	}
	l, err := Open(path, &Options{CheckpointEvery: 20 * time.Millisecond, CheckpointChunk: 4})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
			for {
				dr := 2 + rng.Uint64N(crashAccounts)
				cr := 2 + rng.Uint64N(crashAccounts)
				if cr == dr {
					cr = 1
				}
				job := domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: dr, Credit: cr, Amount: 1 + rng.Uint64N(50)}}}
				if rng.IntN(4) == 0 { // a linked chain now and then
					job.Transfers = append(job.Transfers, domain.Transfer{ID: domain.NewID(), Debit: cr, Credit: dr, Amount: 1})
				}
				res, err := l.Submit(context.Background(), job)
				if err != nil {
					continue
				}
				mu.Lock()
				for _, tr := range res.Transfers {
					fmt.Fprintln(out, "ok", tr.ID)
				}
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop is not short")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	l, err := Create(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs := []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"}}
	for i := range crashAccounts {
		specs = append(specs, domain.AccountSpec{Currency: "EUR", Kind: domain.KindPurse, Owner: fmt.Sprint("p", i)})
	}
	ctx := context.Background()
	if _, err := l.Submit(ctx, domain.Job{Open: specs}); err != nil {
		t.Fatal(err)
	}
	var fund []domain.Transfer
	for i := range crashAccounts {
		fund = append(fund, domain.Transfer{ID: domain.NewID(), Debit: 1, Credit: uint64(2 + i), Amount: 10_000})
	}
	if _, err := l.Submit(ctx, domain.Job{Transfers: fund}); err != nil {
		t.Fatal(err)
	}
	l.Close()

	acked := map[string]bool{}
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MPG_CRASH_DB="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill at a random moment once the child is working.
		killAfter := time.Duration(50+rand.IntN(400)) * time.Millisecond
		timer := time.AfterFunc(killAfter, func() { cmd.Process.Signal(syscall.SIGKILL) })
		n := 0
		for line := range lines {
			if id, ok := strings.CutPrefix(line, "ok "); ok {
				acked[id] = true
				n++
			} else {
				t.Logf("child: %s", line)
			}
		}
		timer.Stop()
		cmd.Wait()

		l, err := Open(path, nil)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		rep, err := l.Verify(ctx, nil)
		if err != nil || !rep.OK() {
			t.Fatalf("round %d: verify: %v %s", round, err, rep.Problem)
		}
		for id := range acked {
			tid, _ := domain.ParseID(id)
			if _, err := l.Transfer(tid); err != nil {
				t.Fatalf("round %d: acknowledged transfer %s lost: %v", round, id, err)
			}
		}
		t.Logf("round %d: killed after %s, %d acknowledged this round, %d transfers in the file", round, killAfter, n, rep.Transfers)
		l.Close()
	}
	if len(acked) == 0 {
		t.Fatal("the child never committed anything: the test proved nothing")
	}
}
