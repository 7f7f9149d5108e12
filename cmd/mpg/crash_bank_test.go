package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"mpg/bank"
	"mpg/domain"
	"mpg/engine"
	"mpg/ledger"
	"mpg/smpp"
)

// TestCrashBankChild is the daemon TestCrashDuringBankCalls kills.
func TestCrashBankChild(t *testing.T) {
	db, smsc, bankAddr := os.Getenv("MPG_CRASH_DB"), os.Getenv("MPG_CRASH_SMSC"), os.Getenv("MPG_CRASH_BANK")
	if bankAddr == "" {
		t.Skip("run by TestCrashDuringBankCalls")
	}
	cfg := crashConfig(smsc)
	cfg.Bank.Addr, cfg.Bank.TimeoutMs, cfg.Bank.Tries = bankAddr, 400, 3
	cfg.Merchant.Addr, cfg.Merchant.RatePerS, cfg.Merchant.Burst = os.Getenv("MPG_CRASH_HTTP"), 10000, 10000
	serveUntilKilled(db, cfg)
}

// TestCrashDuringBankCalls kills the daemon with SIGKILL at random moments, 6 times, while
// subscribers pay by DEBIT against a bank that answers slowly and now and then drops an
// approved answer, the merchant refunds paid DEBITs by the API (retrying with the same
// idempotency key when the daemon is gone) and an operator reverses some of those refunded
// (what is left goes back under the same cap, by a credit to the bank account too). Phones redeliver what was not acknowledged, as an
// SMSC does. At the end every DEBIT has ended (paid, or reversed with nothing taken) and
// every refund's credit too (credited, or in the purse), the bank moved exactly what the
// ledger says and never got a second original (0200) of one RRN, bank clearing matches,
// reconcile finds no difference, and verify is clean.
func TestCrashDuringBankCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop is not short")
	}
	db, sim, _ := testSetup(t, []string{"merchant", "add", "SHOP42", "--name", "Corner Shop"})
	bk, err := bank.NewSim("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	bk.Slow = 150 * time.Millisecond
	bk.Open(e2eIBAN, bank.SimAccount{Balance: 1 << 40})
	bk.Inject(bank.FaultSlow, -1)

	httpAddr, _ := freeLoopbackAddr()
	key := strings.Fields(mustRun(t, "--db", db, "merchant", "key", "create", "SHOP42"))[0]
	start := func() *exec.Cmd {
		return startChild(t, "TestCrashBankChild", sim, "MPG_CRASH_DB="+db, "MPG_CRASH_SMSC="+sim.Addr(), "MPG_CRASH_BANK="+bk.Addr(),
			"MPG_CRASH_HTTP="+httpAddr)
	}
	kill := func(cmd *exec.Cmd) { killChild(cmd, sim) }
	phones := []string{"+33630000001", "+33630000002", "+33630000003", "+33630000004"}
	cmd := start()
	ctx := context.Background()
	for _, p := range phones {
		if st, err := sim.SendMO(ctx, p, "1234", "REG 1234"); err != nil || st != smpp.StatusOK {
			t.Fatalf("REG %s: %v %v", p, st, err)
		}
		mustRun(t, "--db", db, "account", "bank", "link", p, e2eIBAN)
	}

	var stop atomic.Bool
	var mu sync.Mutex
	outcome := map[string]string{} // phone/amount -> paid | reversed
	paidMinor := int64(0)
	var wg sync.WaitGroup
	for i, phone := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// DEBIT takes no reference: each of a phone's debits has its own amount, so that
			// its text is new (a same text is a redelivery, answered once).
			for cents := 1; !stop.Load(); cents++ {
				got, err := debitByPhone(sim, phone, cents)
				if err != nil {
					t.Errorf("%s %d: %v", phone, cents, err)
					return
				}
				mu.Lock()
				outcome[fmt.Sprintf("%d/%d", i, cents)] = got
				if got == "paid" {
					paidMinor += int64(cents)
				}
				mu.Unlock()
			}
		}()
	}
	refunds := &debitRefunder{api: "http://" + httpAddr, key: key, done: map[string]bool{}, reversed: map[string]bool{}}
	wg.Add(2)
	go func() { defer wg.Done(); refunds.run(t, &stop) }()
	go func() { defer wg.Done(); refunds.reverse(t, db, &stop) }()
	for round := range 6 {
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		if round%2 == 1 {
			bk.Inject(bank.FaultApproveThenDrop, 1)
		}
		kill(cmd)
		mu.Lock()
		t.Logf("round %d: %d debits ended so far", round, len(outcome))
		mu.Unlock()
		cmd = start()
	}
	stop.Store(true)
	wg.Wait()
	refunds.waitEnded(t) // every refund's credit ends, as the merchant sees it
	kill(cmd)

	a := &app{cfg: crashConfig(sim.Addr()), log: zap.NewNop()}
	l, err := ledger.Open(db, a.daemonLedgerOptions(a.cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if rep, err := l.Verify(ctx, nil); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %s", err, rep.Problem)
	}
	paid := 0
	for _, o := range outcome {
		if o == "paid" {
			paid++
		}
	}
	shop := l.AccountsOf("SHOP42")[0].Available()
	clr, _ := l.System(domain.KindBankClearing, "EUR")
	taken := (1 << 40) - bk.Balance(e2eIBAN)
	refunded, toPurse := refundsIn(t, engine.NewAdmin(engineConfig(a.cfg), l), refunds.ids(), l, phones)
	if shop != paidMinor-refunded || -clr.Available() != taken || taken != paidMinor-(refunded-toPurse) {
		t.Fatalf("bank took %d net, merchant has %d, clearing %d; %d paid in %d debits, %d refunded, %d of it to purses",
			taken, shop, clr.Available(), paidMinor, paid, refunded, toPurse)
	}
	// After every kill, what may have left went again as a repeat (0201), never as a second 0200.
	if n := bk.Duplicates.Load(); n != 0 {
		t.Fatalf("the bank got %d second originals (0200) of one RRN", n)
	}
	var settlement bytes.Buffer
	bk.WriteSettlement(&settlement)
	settled, err := bank.ReadSettlement(&settlement)
	if err != nil {
		t.Fatal(err)
	}
	diffs, checked, err := engine.NewAdmin(engineConfig(a.cfg), l).ReconcileBank(settled)
	if err != nil || len(diffs) != 0 {
		t.Fatalf("reconcile: %v %+v", err, diffs)
	}
	if len(outcome) < 8 {
		t.Fatalf("only %d debits ended: the test proved little", len(outcome))
	}
	if refunds.reversals() == 0 {
		t.Fatal("no operator's reversal got through: the test proved little")
	}
	t.Logf("%d debits ended (%d paid), %d refunded, %d of them then reversed (%d to purses), %d requests checked against the bank: no difference; verify clean",
		len(outcome), paid, refunds.count(), refunds.reversals(), toPurse, checked)
}

var debitCode = regexp.MustCompile(`Reply YES (\d{6})`)

// debitByPhone pays cents by DEBIT and YES as a phone whose SMSC redelivers what the
// daemon did not acknowledge; it returns how the payment ended.
func debitByPhone(sim *smpp.Sim, phone string, cents int) (string, error) {
	amount := fmt.Sprintf("%d.%02d", cents/100, cents%100)
	ctx := context.Background()
	send := func(text string) error {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if st, err := sim.SendMO(ctx, phone, "1234", text); err == nil && st == smpp.StatusOK {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%q never acknowledged", text)
			}
		}
	}
	wait := func(from int, re *regexp.Regexp) ([]string, int, error) {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			msgs := sim.MT(phone)
			for i := from; i < len(msgs); i++ {
				if m := re.FindStringSubmatch(msgs[i]); m != nil {
					return m, i, nil
				}
			}
			if time.Now().After(deadline) {
				return nil, 0, fmt.Errorf("no %s after message %d: %q", re, from, msgs[min(from, len(msgs)):])
			}
		}
	}
	n := len(sim.MT(phone))
	if err := send("DEBIT SHOP42 " + amount + " 1234"); err != nil {
		return "", err
	}
	m, at, err := wait(n, debitCode)
	if err != nil {
		return "", err
	}
	if err := send("YES " + m[1]); err != nil {
		return "", err
	}
	end, _, err := wait(at+1, regexp.MustCompile(`(Paid `+regexp.QuoteMeta(amount)+` EUR to Corner Shop from your bank)|(DEBIT of `+regexp.QuoteMeta(amount)+` EUR to Corner Shop is cancelled)`))
	if err != nil {
		return "", err
	}
	if end[1] != "" {
		return "paid", nil
	}
	return "reversed", nil
}

// debitRefunder refunds paid DEBITs through the merchant API, one cent each, as a merchant
// would while the daemon is killed and restarted: a refund that got no answer is sent again
// with the same idempotency key.
type debitRefunder struct {
	api, key string
	mu       sync.Mutex
	done     map[string]bool // payment ids refunded
	reversed map[string]bool // of those, the ones an operator reversed
}

// reverse has an operator reverse, by its receipt, a DEBIT the merchant refunded a cent of
// (what is left goes back, under the same cap), every so often while the daemon is killed
// and restarted: through the daemon's socket, or on the file when the daemon is down. A
// reversal that got no answer is asked again; "reversed already" means it went through.
func (r *debitRefunder) reverse(t *testing.T, db string, stop *atomic.Bool) {
	for !stop.Load() {
		time.Sleep(150 * time.Millisecond)
		for _, id := range r.ids() {
			var p engine.PaymentView
			if r.isReversed(id) || r.call("GET", "/v1/payments/"+id, "", &p) != http.StatusOK || p.Receipt == "" {
				continue
			}
			out, err := run(t, "--db", db, "ledger", "reverse", p.Receipt)
			if err == nil || strings.Contains(out+err.Error(), "reversed already") {
				r.mu.Lock()
				r.reversed[id] = true
				r.mu.Unlock()
			}
			break // one at a time, so that they spread over the kills
		}
	}
}

func (r *debitRefunder) isReversed(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reversed[id] || len(r.reversed) >= maxCrashRefunds/2
}

func (r *debitRefunder) reversals() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reversed)
}

// maxCrashRefunds bounds the refunds of the crash loop.
const maxCrashRefunds = 16

func (r *debitRefunder) run(t *testing.T, stop *atomic.Bool) {
	for !stop.Load() && r.count() < maxCrashRefunds {
		time.Sleep(100 * time.Millisecond)
		var list struct{ Payments []engine.PaymentView }
		if r.call("GET", "/v1/payments?limit=1000", "", &list) != http.StatusOK {
			continue // the daemon is down: try later
		}
		for _, p := range list.Payments {
			if p.State != "completed" || p.Amount == "0.01" || r.refunded(p.ID) {
				continue
			}
			for !stop.Load() {
				st := r.call("POST", "/v1/payments/"+p.ID+"/refunds", `{"amount":"0.01"}`, nil)
				if st == http.StatusCreated {
					r.mu.Lock()
					r.done[p.ID] = true
					r.mu.Unlock()
					break
				}
				if st >= 400 && st < 500 && st != http.StatusConflict && st != http.StatusTooManyRequests {
					t.Errorf("refund %s: HTTP %d", p.ID, st)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			break // one refund per look, so that they spread over the kills
		}
	}
}

// call makes one API call (0: no answer) and decodes a 200's body into out.
func (r *debitRefunder) call(method, path, body string, out any) int {
	req, _ := http.NewRequest(method, r.api+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.key)
	if method == "POST" {
		req.Header.Set("Idempotency-Key", "crash-refund-"+path)
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (r *debitRefunder) refunded(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done[id]
}

func (r *debitRefunder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.done)
}

func (r *debitRefunder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id := range r.done {
		out = append(out, id)
	}
	return out
}

// waitEnded waits until the API shows every refund's credit ended (credited or to_purse).
func (r *debitRefunder) waitEnded(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		pending := 0
		for _, id := range r.ids() {
			var p engine.PaymentView
			if r.call("GET", "/v1/payments/"+id, "", &p) != http.StatusOK || len(p.Refunds) == 0 {
				pending++
				continue
			}
			for _, g := range p.Refunds {
				if g.State == string(domain.RefundSentToBank) {
					pending++
				}
			}
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d refunds still at the bank", pending)
		}
	}
}

// refundsIn checks that every refund's credit ended, and returns what was refunded and what
// of it went to the purses (which must hold exactly that).
func refundsIn(t *testing.T, e *engine.Engine, ids []string, l *ledger.Ledger, phones []string) (refunded, toPurse int64) {
	t.Helper()
	for _, id := range ids {
		p, err := e.GetPayment(0, id)
		if err != nil || len(p.Refunds) == 0 || len(p.Refunds) > 2 {
			t.Fatalf("%s: %v, %d refunds", id, err, len(p.Refunds))
		}
		back := uint64(0)
		for i, r := range p.Refunds {
			switch r.State {
			case domain.RefundCredited:
			case domain.RefundToPurse:
				toPurse += int64(r.Amount)
			default:
				t.Fatalf("refund %d of %s is %q", i, id, r.State)
			}
			if (i == 1) != (r.Kind == domain.Reversal) {
				t.Fatalf("%s: money given back %d is a %q", id, i, r.Kind)
			}
			back += r.Amount
		}
		// One cap: the merchant's refund and the operator's reversal, never above what was paid.
		if back != p.Refunded || back > p.Amount || (len(p.Refunds) == 2 && back != p.Amount) {
			t.Fatalf("%s: %d given back of %d (record says %d)", id, back, p.Amount, p.Refunded)
		}
		refunded += int64(back)
	}
	var purses int64
	for _, phone := range phones {
		for _, a := range l.AccountsOf(phone) {
			purses += a.Available()
		}
	}
	if purses != toPurse {
		t.Fatalf("purses hold %d, %d refunded to them", purses, toPurse)
	}
	return refunded, toPurse
}
