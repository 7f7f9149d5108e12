package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"mpg/bank"
	"mpg/config"
	"mpg/domain"
	"mpg/ledger"
	"mpg/smpp"
)

// benchE2EOptions shape one end-to-end run.
type benchE2EOptions struct {
	subscribers, merchants, commands, outstanding int
	binds, window                                 int
	rate                                          float64
	mix, profile                                  string
	bankLatency                                   time.Duration
}

// benchE2E measures mpg from outside: this process is the SMSC (the simulator, driving the
// load over real SMPP on loopback) and `mpg serve` runs as its own process on a fresh ledger
// file with fsync on, exactly as in production. Subscribers register by SMS and are topped
// up through the daemon's admin socket; then opt.outstanding phones each text a command and
// wait for its reply, so that many MO are outstanding at any time.
func (a *app) benchE2E(cmd *cobra.Command, opt benchE2EOptions) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	dir, err := os.MkdirTemp("", "mpg-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "mpg.db")
	if err := a.benchBooks(ctx, db, opt.merchants); err != nil {
		return err
	}
	password := randomKey()[:8]
	sim, err := smpp.NewSim("127.0.0.1:0", "mpg", password)
	if err != nil {
		return err
	}
	defer sim.Close()
	httpAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	cfg := a.cfg
	cfg.Ledger.Path, cfg.Ledger.Currency = db, "EUR"
	cfg.Engine.PINKey, cfg.Engine.ReceiptKey = "", "" // in the daemon's environment, not the file
	cfg.Engine.PINKeyFile, cfg.Engine.ReceiptKeyFile = "", ""
	cfg.Engine.MOPerMinute = 0 // bench phones text as fast as they are answered
	cfg.SMPP.Addr, cfg.SMPP.SystemID, cfg.SMPP.Password = sim.Addr(), "mpg", ""
	cfg.SMPP.Window, cfg.SMPP.RatePerS, cfg.SMPP.Binds = opt.window, 100000, opt.binds
	cfg.HTTP.Addr = httpAddr
	apiAddr := ""
	if opt.mix == "http" {
		if apiAddr, err = freeLoopbackAddr(); err != nil {
			return err
		}
		cfg.Merchant.Addr, cfg.Merchant.RatePerS, cfg.Merchant.Burst = apiAddr, 10000, 10000
		// Each request texts a code, counted per phone and hour: the bench's phones get the
		// most the config allows (25 requests each by default).
		cfg.Merchant.CodesPerHour = 100
	}
	var bk *bank.Sim
	if opt.mix == "debit" {
		// This process is the bank too, answering after --bank-latency.
		if bk, err = bank.NewSim("127.0.0.1:0"); err != nil {
			return err
		}
		defer bk.Close()
		bk.Open(benchIBAN, bank.SimAccount{Balance: 1 << 50})
		if opt.bankLatency > 0 {
			bk.Slow = opt.bankLatency
			bk.Inject(bank.FaultSlow, -1)
		}
		cfg.Bank.Addr = bk.Addr()
		cfg.Engine.DedupeS = 1 // DEBIT has no reference: a phone's next DEBIT is the same text
	}
	if opt.mix == "credit" {
		cfg.Engine.DedupeS = 1 // CREDIT has no reference either
	}
	conf, err := toml.Marshal(cfg)
	if err != nil {
		return err
	}
	confPath := filepath.Join(dir, "mpg.toml")
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"serve", "--config", confPath, "--log-level", "warn"}
	if opt.profile != "" {
		args = append(args, "--cpuprofile", opt.profile)
	}
	logf, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	daemon := exec.Command(exe, args...)
	// Fresh keys for a fresh file; no systemd credential of this shell's may set others.
	daemon.Env = append(os.Environ(), "MPG_PIN_KEY="+randomKey(), "MPG_RECEIPT_KEY="+randomKey(), "MPG_SMPP_PASSWORD="+password, config.CredentialsDirEnv+"=")
	daemon.Stdout, daemon.Stderr = logf, logf
	if err := daemon.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	defer func() {
		if daemon.ProcessState == nil {
			daemon.Process.Kill() // our own child, by its handle
			<-exited
		}
	}()
	fail := func(err error) error {
		b, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("%w\ndaemon log:\n%s", err, tail(string(b), 20))
	}
	metricsURL := "http://" + httpAddr + "/metrics"
	if err := waitReady(ctx, "http://"+httpAddr+"/readyz", exited); err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "daemon: pid %d, %d binds of window %d, ledger %s (fsync on)\n", daemon.Process.Pid, opt.binds, opt.window, db)

	phoneOf := func(i int) string { return fmt.Sprintf("+336%08d", i) }
	start := time.Now()
	if err := eachSubscriber(opt.subscribers, 64, func(i int) error {
		if st, err := sim.SendMO(ctx, phoneOf(i), "1234", "REG 1234"); err != nil || st != smpp.StatusOK {
			return fmt.Errorf("REG from %s: %v %v", phoneOf(i), st, err)
		}
		return nil
	}); err != nil {
		return fail(err)
	}
	sock := socketPath(db)
	if err := eachSubscriber(opt.subscribers, 32, func(i int) error {
		if err := adminCall(sock, "account", "topup", phoneOf(i), "200"); err != nil {
			return fmt.Errorf("top-up of %s: %w", phoneOf(i), err)
		}
		return nil
	}); err != nil {
		return fail(err)
	}
	// Let the setup's replies leave before the load starts.
	waitOutboxDrained(metricsURL)
	fmt.Fprintf(out, "setup: %d subscribers registered by SMS and topped up through the admin socket, %d merchants, in %s\n",
		opt.subscribers, opt.merchants, time.Since(start).Round(time.Millisecond))

	var pay flow
	switch opt.mix {
	case "http":
		out, err := adminOutput(sock, "merchant", "key", "create", "SHOP42")
		if err != nil {
			return fail(err)
		}
		pay = newRequestToPay("http://"+apiAddr, strings.Fields(out)[0], opt.outstanding, sim)
	case "debit":
		if err := eachSubscriber(opt.subscribers, 32, func(i int) error {
			// Tier 3: DEBITs count against the 24-hour limit, 5000.00 EUR there.
			if err := adminCall(sock, "account", "tier", phoneOf(i), "3"); err != nil {
				return err
			}
			if err := adminCall(sock, "account", "bank", "link", phoneOf(i), benchIBAN); err != nil {
				return fmt.Errorf("bank link of %s: %w", phoneOf(i), err)
			}
			return nil
		}); err != nil {
			return fail(err)
		}
		pay = debitFlow{sim: sim}
	case "credit":
		if err := eachSubscriber(opt.subscribers, 32, func(i int) error {
			if err := adminCall(sock, "account", "tier", phoneOf(i), "2"); err != nil {
				return err
			}
			if err := adminCall(sock, "credit", "grant", phoneOf(i), "100000"); err != nil {
				return fmt.Errorf("credit grant of %s: %w", phoneOf(i), err)
			}
			return nil
		}); err != nil {
			return fail(err)
		}
		waitOutboxDrained(metricsURL)
		pay = creditFlow{sim: sim}
	}
	before, err := scrape(metricsURL)
	if err != nil {
		return fail(err)
	}
	refused0 := sim.MORefusals()
	var pace *rate.Limiter
	if opt.rate > 0 {
		pace = rate.NewLimiter(rate.Limit(opt.rate), max(1, int(opt.rate/100)))
	}
	lat := make([][]time.Duration, opt.outstanding)
	var answered, sent, lost atomic.Int64
	var firstLost atomic.Pointer[string] // why the first unanswered command went unanswered
	unanswered := func(me string, err error) {
		lost.Add(1)
		why := me + ": " + err.Error()
		firstLost.CompareAndSwap(nil, &why)
	}
	var next atomic.Int64
	cpu0, self0 := procCPU(daemon.Process.Pid), selfCPU()
	stopProgress := reportProgress(out, &answered, opt.commands, "answered", 2*time.Second)
	start = time.Now()
	// Phones below texters text; with SEND in the mix the others only receive, so that a
	// payee's notice never lands on a phone that waits for its own reply.
	texters := opt.subscribers
	if opt.mix == "mixed" {
		texters = max(opt.outstanding, opt.subscribers*9/10)
	}
	err = parallelN(opt.outstanding, func(c int) error {
		turn := 0
		for k := next.Add(1); k <= int64(opt.commands); k = next.Add(1) {
			// Client c owns phones c, c+outstanding, …: one MO outstanding per phone at most.
			me := phoneOf(c + opt.outstanding*(turn%max(1, texters/opt.outstanding)))
			turn++
			text := fmt.Sprintf("PAY SHOP%d 0.01 R%d 1234", 42+int(k)%opt.merchants, k)
			if opt.mix == "mixed" {
				switch k % 10 {
				case 7, 8:
					text = fmt.Sprintf("SEND %s 0.01 R%d 1234", phoneOf(texters+int(k)%max(1, opt.subscribers-texters)), k)
				case 9:
					text = "BAL 1234"
				}
			}
			if pace != nil {
				if err := pace.Wait(ctx); err != nil {
					return err
				}
			}
			if pay != nil {
				t0 := time.Now()
				sent.Add(1)
				if err := pay.run(ctx, me, k); err != nil {
					unanswered(me, err)
					continue
				}
				answered.Add(1)
				lat[c] = append(lat[c], time.Since(t0))
				continue
			}
			have := len(sim.MT(me))
			t0 := time.Now()
			sent.Add(1)
			if _, err := sim.SendMO(ctx, me, "1234", text); err != nil {
				return err
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := sim.WaitMT(wctx, me, have+1)
			cancel()
			if err != nil {
				unanswered(me, err)
				continue
			}
			answered.Add(1)
			lat[c] = append(lat[c], time.Since(t0))
		}
		return nil
	})
	elapsed := time.Since(start)
	stopProgress()
	cpu1, self1 := procCPU(daemon.Process.Pid), selfCPU()
	if err != nil {
		return fail(err)
	}
	after, err := scrape(metricsURL)
	if err != nil {
		return fail(err)
	}
	daemonRSS := procRSSMB(daemon.Process.Pid)
	daemon.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		return fail(fmt.Errorf("the daemon did not stop within 30 s of SIGTERM"))
	}
	verify := "ok"
	l, err := ledger.Open(db, a.ledgerOptions())
	if err != nil {
		return err
	}
	rep, err := l.Verify(ctx, nil)
	l.Close()
	if err != nil || !rep.OK() {
		verify = "FAILED"
	}

	all := slices.Concat(lat...)
	slices.Sort(all)
	fsyncs := after["mpg_ledger_commits_total"] - before["mpg_ledger_commits_total"]
	secs := elapsed.Seconds()
	fmt.Fprintf(out, "outstanding=%d rate=%s elapsed=%s fsyncs=%.0f cmds_per_fsync=%.1f cpu_daemon=%.2f cpu_driver=%.2f (cores) rss_daemon_mb=%d\n",
		opt.outstanding, rateName(opt.rate), elapsed.Round(time.Millisecond), fsyncs, float64(sent.Load())/max(1, fsyncs),
		(cpu1-cpu0)/secs, (self1-self0)/secs, daemonRSS)
	fmt.Fprintf(out, "refused: %s\n", refusals(refused0, sim.MORefusals(), before, after))
	if why := firstLost.Load(); why != nil {
		fmt.Fprintf(out, "unanswered: %d, the first %s\n", lost.Load(), *why)
	}
	first := "mo_mt_per_s"
	if pay != nil {
		first = "paid_per_s"
	}
	if bk != nil {
		fmt.Fprintf(out, "bank: %d debits, latency %s\n", bk.Debits.Load(), opt.bankLatency)
	}
	fmt.Fprintf(out, first+"=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f answered=%d/%d verify=%s\n",
		float64(len(all))/secs, ms2(pct(all, 0.5)), ms2(pct(all, 0.99)), ms2(pct(all, 0.999)), answered.Load(), sent.Load(), verify)
	if verify != "ok" {
		return &exitError{code: 2, msg: "ledger verify FAILED after the run"}
	}
	return nil
}

// benchBooks makes the ledger file: system accounts and merchants SHOP42, SHOP43, …
func (a *app) benchBooks(ctx context.Context, db string, merchants int) error {
	l, err := ledger.Create(db, a.ledgerOptions())
	if err != nil {
		return err
	}
	defer l.Close()
	specs := []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindFloat, Owner: ownerFloat}, {Currency: "EUR", Kind: domain.KindFees, Owner: ownerFees},
		{Currency: "EUR", Kind: domain.KindEscrow, Owner: ownerEscrow}}
	for m := range merchants {
		specs = append(specs, domain.AccountSpec{Currency: "EUR", Kind: domain.KindMerchant, Owner: fmt.Sprintf("SHOP%d", 42+m), Name: fmt.Sprintf("Shop %d", 42+m)})
	}
	for i := 0; i < len(specs); i += domain.MaxJobAccounts {
		if _, err := l.Submit(ctx, domain.Job{Open: specs[i:min(i+domain.MaxJobAccounts, len(specs))]}); err != nil {
			return err
		}
	}
	return nil
}

// adminCall runs one CLI command through the daemon's admin socket.
func adminCall(sock string, args ...string) error {
	_, err := adminOutput(sock, args...)
	return err
}

// adminOutput runs an admin command through the daemon's socket and returns its output.
func adminOutput(sock string, args ...string) (string, error) {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := json.NewEncoder(c).Encode(adminRequest{Args: args}); err != nil {
		return "", err
	}
	var resp adminResponse
	if err := json.NewDecoder(io.LimitReader(c, 1<<20)).Decode(&resp); err != nil {
		return "", err
	}
	if resp.Code != 0 {
		return resp.Output, fmt.Errorf("%s", resp.Error)
	}
	return resp.Output, nil
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls /readyz until it answers 200, the daemon exits, or 30 s pass.
func waitReady(ctx context.Context, url string, exited <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the daemon exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("the daemon was not ready within 30 s")
}

// scrape reads the daemon's counters and gauges (label-less ones) from /metrics.
func scrape(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				m[f[0]] = v
			}
		}
	}
	return m, sc.Err()
}

// procCPU is a process's user+system CPU seconds, from /proc (Linux; clock ticks of 1/100 s).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// procRSSMB reads a process's resident set size from /proc (Linux); pid is a number or "self".
func procRSSMB[P int | string](pid P) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%v/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb >> 10
		}
	}
	return -1
}

// refusals lists the MO the daemon refused during the run, by SMPP status, and the daemon's
// own reasons (its metrics).
func refusals(before, after map[pdu.Status]int64, mBefore, mAfter map[string]float64) string {
	var parts []string
	for st, n := range after {
		if d := n - before[st]; d > 0 {
			parts = append(parts, fmt.Sprintf("status_0x%02X=%d", uint32(st), d))
		}
	}
	for _, name := range []string{"mpg_smpp_mo_rejected_total", "mpg_mo_flood_refused_total", "mpg_mo_not_taken_total"} {
		if d := mAfter[name] - mBefore[name]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s=%.0f", strings.TrimPrefix(name, "mpg_"), d))
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

func rateName(r float64) string {
	if r <= 0 {
		return "max"
	}
	return fmt.Sprintf("%.0f/s", r)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// eachSubscriber runs f for every bench subscriber, on workers goroutines.
func eachSubscriber(n, workers int, f func(i int) error) error {
	var next atomic.Int64
	return parallelN(workers, func(int) error {
		for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	})
}

// waitOutboxDrained waits (up to 30 s) until the daemon has no reply left to send.
func waitOutboxDrained(metricsURL string) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m, err := scrape(metricsURL); err == nil && m["mpg_outbox_due"] == 0 {
			return
		}
	}
}

// flow is one paid payment of a mix that takes more than one message.
type flow interface {
	run(ctx context.Context, msisdn string, k int64) error
}

// benchIBAN is the bench subscribers' (shared) account at the simulated bank.
const benchIBAN = "FR7630006000011234567890189"

// debitFlow is a phone paying by DEBIT: the ask, YES <code>, the bank's answer.
type debitFlow struct{ sim *smpp.Sim }

var debitAsk = regexp.MustCompile(`Reply YES (\d{6})`)

func (f debitFlow) run(ctx context.Context, msisdn string, k int64) error {
	have := len(f.sim.MT(msisdn))
	c := 1 + k%9999 // a phone's DEBITs inside the dedupe window differ by their amount
	amount := fmt.Sprintf("%d.%02d", c/100, c%100)
	if _, err := f.sim.SendMO(ctx, msisdn, "1234", "DEBIT SHOP42 "+amount+" 1234"); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msgs, err := f.sim.WaitMT(wctx, msisdn, have+1)
	if err != nil {
		return err
	}
	m := debitAsk.FindStringSubmatch(msgs[len(msgs)-1])
	if m == nil {
		return fmt.Errorf("no code in %q", msgs[len(msgs)-1])
	}
	if _, err := f.sim.SendMO(ctx, msisdn, "1234", "YES "+m[1]); err != nil {
		return err
	}
	for {
		n := len(msgs)
		if msgs, err = f.sim.WaitMT(wctx, msisdn, n+1); err != nil {
			return err
		}
		last := msgs[len(msgs)-1]
		if strings.HasPrefix(last, "Paid") {
			return nil
		}
		if !strings.HasPrefix(last, "Sent to your bank") {
			return fmt.Errorf("after YES: %q", last)
		}
	}
}

// creditFlow is a phone authorising on its credit line: CREDIT and its "Authorised" reply.
type creditFlow struct{ sim *smpp.Sim }

func (f creditFlow) run(ctx context.Context, msisdn string, k int64) error {
	have := len(f.sim.MT(msisdn))
	c := 1 + k%9999 // a phone's CREDITs inside the dedupe window differ by their amount
	if _, err := f.sim.SendMO(ctx, msisdn, "1234", fmt.Sprintf("CREDIT SHOP42 %d.%02d 1234", c/100, c%100)); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msgs, err := f.sim.WaitMT(wctx, msisdn, have+1)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(msgs[len(msgs)-1], "Authorised") {
		return fmt.Errorf("CREDIT: %q", msgs[len(msgs)-1])
	}
	return nil
}

// requestToPay is one bench client of the merchant API: it asks a subscriber to pay, reads
// the code on his phone, answers YES <code> by SMS and waits for the "Paid" reply.
type requestToPay struct {
	api, key string
	client   *http.Client
	sim      *smpp.Sim
}

func newRequestToPay(api, key string, conns int, sim *smpp.Sim) *requestToPay {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	return &requestToPay{api: api, key: key, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, sim: sim}
}

var yesCode = regexp.MustCompile(`reply YES (\d{6})`)

func (r *requestToPay) run(ctx context.Context, msisdn string, k int64) error {
	ref := fmt.Sprintf("R%d", k)
	have := len(r.sim.MT(msisdn))
	req, _ := http.NewRequestWithContext(ctx, "POST", r.api+"/v1/payments",
		strings.NewReader(`{"msisdn":"`+msisdn+`","amount":"0.01","reference":"`+ref+`"}`))
	req.Header.Set("Authorization", "Bearer "+r.key)
	req.Header.Set("Idempotency-Key", ref)
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create: HTTP %d", resp.StatusCode)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msgs, err := r.sim.WaitMT(wctx, msisdn, have+1)
	if err != nil {
		return err
	}
	m := yesCode.FindStringSubmatch(msgs[len(msgs)-1])
	if m == nil {
		return fmt.Errorf("no code in %q", msgs[len(msgs)-1])
	}
	if st, err := r.sim.SendMO(ctx, msisdn, "1234", "YES "+m[1]); err != nil || st != smpp.StatusOK {
		return fmt.Errorf("YES: %v %v", st, err)
	}
	msgs, err = r.sim.WaitMT(wctx, msisdn, len(msgs)+1)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(msgs[len(msgs)-1], "Paid") {
		return fmt.Errorf("after YES: %q", msgs[len(msgs)-1])
	}
	return nil
}
