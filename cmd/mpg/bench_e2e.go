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
	"mpg/engine"
	"mpg/pgledger"
	"mpg/promo"
	"mpg/smpp"
)

// benchE2EOptions shape one end-to-end run.
type benchE2EOptions struct {
	subscribers, merchants, commands, outstanding int
	binds, window                                 int
	rate                                          float64
	mix, profile                                  string
	bankLatency                                   time.Duration
	// ledger is "bbolt" (a fresh file, one daemon) or "postgres" (the empty database dsn
	// names, shared by daemons daemons).
	ledger, dsn string
	daemons     int
	// amount is each PAY's; loyalty turns the points programme on and gives every merchant
	// an automatic promotion (5% off, from a budget), so every PAY earns and is discounted.
	amount  string
	loyalty bool
	fraud   string // the fraud rules' mode ("": the configuration's)
}

// benchE2E measures mpg from outside: this process is the SMSC (the simulator, driving the
// load over real SMPP on loopback) and `mpg serve` runs as its own process on a fresh ledger
// file with fsync on, exactly as in production. Subscribers register by SMS and are topped
// up through the daemon's admin socket; then opt.outstanding phones each text a command and
// wait for its reply, so that many MO are outstanding at any time. With opt.ledger
// "postgres", opt.daemons daemons share the books in the database opt.dsn names, each bound
// to the simulator, which hands every MO to one of the bound links.
func (a *app) benchE2E(cmd *cobra.Command, opt benchE2EOptions) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	pg := opt.ledger == config.DriverPostgres
	n := 1
	if pg {
		n = opt.daemons
	}
	dir, err := os.MkdirTemp("", "mpg-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "mpg.db")
	books := *a // the bench's view of the books: a new file, or the database
	books.dbPath, books.cfg.Ledger.Path, books.cfg.Ledger.Currency = db, db, "EUR"
	if pg {
		if err := emptyDatabase(ctx, opt.dsn); err != nil {
			return err
		}
		books.cfg.Ledger.Driver, books.cfg.Ledger.DSN, books.cfg.Ledger.DSNFile = config.DriverPostgres, opt.dsn, ""
		books.cfg.Ledger.Daemon = "bench-setup"
	}
	if err := books.benchBooks(ctx, opt.merchants); err != nil {
		return err
	}
	if opt.loyalty {
		if err := books.benchPromotions(ctx, opt.merchants); err != nil {
			return err
		}
	}
	password := randomKey()[:8]
	sim, err := smpp.NewSim("127.0.0.1:0", "mpg", password)
	if err != nil {
		return err
	}
	defer sim.Close()
	cfg := a.cfg
	cfg.Ledger.Path, cfg.Ledger.Currency = db, "EUR"
	cfg.Engine.PINKey, cfg.Engine.ReceiptKey = "", "" // in the daemon's environment, not the file
	cfg.Engine.PINKeyFile, cfg.Engine.ReceiptKeyFile = "", ""
	cfg.Engine.MOPerMinute = 0 // bench phones text as fast as they are answered
	if opt.loyalty {
		cfg.Loyalty.Enabled = true
	}
	if opt.fraud != "" {
		if opt.fraud != config.FraudOff && opt.fraud != config.FraudShadow && opt.fraud != config.FraudEnforce {
			return fmt.Errorf("--fraud %q: off, shadow or enforce", opt.fraud)
		}
		cfg.Fraud.Mode = opt.fraud
	}
	cfg.SMPP.Addr, cfg.SMPP.SystemID, cfg.SMPP.Password = sim.Addr(), "mpg", ""
	cfg.SMPP.Window, cfg.SMPP.RatePerS, cfg.SMPP.Binds = opt.window, 100000, opt.binds
	if opt.mix == "http" {
		cfg.Merchant.RatePerS, cfg.Merchant.Burst = 10000, 10000
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
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// Fresh keys for fresh books, the same for every daemon on them; no systemd credential
	// of this shell's may set others.
	env := append(os.Environ(), "MPG_PIN_KEY="+randomKey(), "MPG_RECEIPT_KEY="+randomKey(), "MPG_SMPP_PASSWORD="+password, config.CredentialsDirEnv+"=")
	if pg {
		env = append(env, config.DSNEnv+"="+opt.dsn) // the DSN may hold a password: never in a file
	}
	daemons := make([]*benchDaemon, n)
	defer func() {
		for _, d := range daemons {
			if d != nil {
				d.kill()
			}
		}
	}()
	fail := func(err error) error {
		for _, d := range daemons {
			if d != nil {
				b, _ := os.ReadFile(d.log)
				err = fmt.Errorf("%w\n%s log:\n%s", err, d.what, tail(string(b), 20))
			}
		}
		return err
	}
	for i := range n {
		d := &benchDaemon{what: "daemon"}
		if d.httpAddr, err = freeLoopbackAddr(); err != nil {
			return err
		}
		dc := cfg
		dc.HTTP.Addr = d.httpAddr
		if opt.mix == "http" {
			if d.apiAddr, err = freeLoopbackAddr(); err != nil {
				return err
			}
			dc.Merchant.Addr = d.apiAddr
		}
		confPath, logPath := filepath.Join(dir, "mpg.toml"), filepath.Join(dir, "daemon.log")
		d.sock = socketPath(db)
		if pg {
			d.what = fmt.Sprintf("daemon bench%d", i+1)
			d.sock = filepath.Join(dir, fmt.Sprintf("bench%d.sock", i+1))
			dc.Ledger.Driver, dc.Ledger.DSN, dc.Ledger.DSNFile = config.DriverPostgres, "", ""
			dc.Ledger.Daemon, dc.Ledger.AdminSocket = fmt.Sprintf("bench%d", i+1), d.sock
			confPath, logPath = filepath.Join(dir, fmt.Sprintf("bench%d.toml", i+1)), filepath.Join(dir, fmt.Sprintf("bench%d.log", i+1))
		}
		conf, err := toml.Marshal(dc)
		if err != nil {
			return err
		}
		if err := os.WriteFile(confPath, conf, 0o600); err != nil {
			return err
		}
		args := []string{"serve", "--config", confPath, "--log-level", "warn"}
		if opt.profile != "" && i == 0 {
			args = append(args, "--cpuprofile", opt.profile)
		}
		if err := d.start(exe, args, env, logPath); err != nil {
			return err
		}
		daemons[i] = d
	}
	for _, d := range daemons {
		if err := waitReady(ctx, d.url("/readyz"), d.exited); err != nil {
			if pg {
				err = fmt.Errorf("%s: %w", d.what, err)
			}
			return fail(err)
		}
	}
	if pg {
		// Every link bound, so that the simulator spreads the MO over every daemon.
		for deadline := time.Now().Add(10 * time.Second); sim.Bound() < n*opt.binds && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		}
		if got := sim.Bound(); got < n*opt.binds {
			return fail(fmt.Errorf("%d of %d SMPP links bound after 10 s", got, n*opt.binds))
		}
		pids := make([]string, n)
		for i, d := range daemons {
			pids[i] = strconv.Itoa(d.cmd.Process.Pid)
		}
		fmt.Fprintf(out, "daemons: %d (pids %s), each %d binds of window %d, ledger %s (shared)\n", n, strings.Join(pids, " "), opt.binds, opt.window, pgledger.Describe(opt.dsn))
	} else {
		fmt.Fprintf(out, "daemon: pid %d, %d binds of window %d, ledger %s (fsync on)\n", daemons[0].cmd.Process.Pid, opt.binds, opt.window, db)
	}
	// sock is the admin socket that serves subscriber i: the daemons take turns.
	sock := func(i int) string { return daemons[i%n].sock }
	scrapeAll := func() (map[string]float64, []map[string]float64, error) {
		sum, each := map[string]float64{}, make([]map[string]float64, n)
		for i, d := range daemons {
			m, err := scrape(d.url("/metrics"))
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", d.what, err)
			}
			for k, v := range m {
				sum[k] += v
			}
			each[i] = m
		}
		return sum, each, nil
	}
	drained := func() {
		for _, d := range daemons {
			waitOutboxDrained(d.url("/metrics"))
		}
	}

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
	if err := eachSubscriber(opt.subscribers, 32, func(i int) error {
		if err := adminCall(sock(i), "account", "topup", phoneOf(i), "200"); err != nil {
			return fmt.Errorf("top-up of %s: %w", phoneOf(i), err)
		}
		return nil
	}); err != nil {
		return fail(err)
	}
	// Let the setup's replies leave before the load starts.
	drained()
	through := "the admin socket"
	if n > 1 {
		through = fmt.Sprintf("the %d daemons' admin sockets", n)
	}
	fmt.Fprintf(out, "setup: %d subscribers registered by SMS and topped up through %s, %d merchants, in %s\n",
		opt.subscribers, through, opt.merchants, time.Since(start).Round(time.Millisecond))

	var pay flow
	switch opt.mix {
	case "http":
		out, err := adminOutput(sock(0), "merchant", "key", "create", "SHOP42")
		if err != nil {
			return fail(err)
		}
		var each spreadFlow // the requests take turns over the daemons' merchant APIs
		for _, d := range daemons {
			each = append(each, newRequestToPay("http://"+d.apiAddr, strings.Fields(out)[0], opt.outstanding, sim))
		}
		pay = each
		if n == 1 {
			pay = each[0]
		}
	case "debit":
		if err := eachSubscriber(opt.subscribers, 32, func(i int) error {
			// Tier 3: DEBITs count against the 24-hour limit, 5000.00 EUR there.
			if err := adminCall(sock(i), "account", "tier", phoneOf(i), "3"); err != nil {
				return err
			}
			if err := adminCall(sock(i), "account", "bank", "link", phoneOf(i), benchIBAN); err != nil {
				return fmt.Errorf("bank link of %s: %w", phoneOf(i), err)
			}
			return nil
		}); err != nil {
			return fail(err)
		}
		pay = debitFlow{sim: sim}
	case "credit":
		if err := eachSubscriber(opt.subscribers, 32, func(i int) error {
			if err := adminCall(sock(i), "account", "tier", phoneOf(i), "2"); err != nil {
				return err
			}
			if err := adminCall(sock(i), "credit", "grant", phoneOf(i), "100000"); err != nil {
				return fmt.Errorf("credit grant of %s: %w", phoneOf(i), err)
			}
			return nil
		}); err != nil {
			return fail(err)
		}
		drained()
		pay = creditFlow{sim: sim}
	}
	before, eachBefore, err := scrapeAll()
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
	cpuOf := func() []float64 {
		c := make([]float64, n)
		for i, d := range daemons {
			c[i] = procCPU(d.cmd.Process.Pid)
		}
		return c
	}
	var server *pgServer // the PostgreSQL server, when its processes are this machine's
	if pg {
		server = localServer(opt.dsn)
	}
	cpu0, self0, pg0 := cpuOf(), selfCPU(), server.cpu()
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
			text := fmt.Sprintf("PAY SHOP%d %s R%d 1234", 42+int(k)%opt.merchants, opt.amount, k)
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
	cpu1, self1, pg1 := cpuOf(), selfCPU(), server.cpu()
	if err != nil {
		return fail(err)
	}
	after, eachAfter, err := scrapeAll()
	if err != nil {
		return fail(err)
	}
	rss := make([]int64, n)
	for i, d := range daemons {
		rss[i] = procRSSMB(d.cmd.Process.Pid)
		d.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, d := range daemons {
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			return fail(fmt.Errorf("the %s did not stop within 30 s of SIGTERM", d.what))
		}
	}
	verify := "ok"
	l, err := books.openBooks(books.ledgerOptions())
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
	if pg {
		cores, sum := make([]string, n), 0.0
		for i := range n {
			cores[i] = fmt.Sprintf("%.2f", (cpu1[i]-cpu0[i])/secs)
			sum += (cpu1[i] - cpu0[i]) / secs
		}
		pgCores := "not_measured"
		if server != nil && pg0 >= 0 && pg1 >= 0 {
			pgCores = fmt.Sprintf("%.2f", (pg1-pg0)/secs)
		}
		fmt.Fprintf(out, "outstanding=%d rate=%s elapsed=%s commits=%.0f cmds_per_commit=%.1f cpu_daemon=%.2f cpu_daemons=%s cpu_postgres=%s cpu_driver=%.2f (cores) rss_daemons_mb=%s\n",
			opt.outstanding, rateName(opt.rate), elapsed.Round(time.Millisecond), fsyncs, float64(sent.Load())/max(1, fsyncs),
			sum, strings.Join(cores, "+"), pgCores, (self1-self0)/secs, joinInts(rss, "+"))
		if server == nil {
			fmt.Fprintf(out, "postgres: CPU not measured (the DSN names no local cluster's socket directory this process can read)\n")
		} else {
			fmt.Fprintf(out, "postgres: postmaster pid %d and its children, CPU from /proc\n", server.pid)
		}
		spread := make([]string, n)
		for i, d := range daemons {
			spread[i] = fmt.Sprintf("%s=%.0f/%.0f", strings.TrimPrefix(d.what, "daemon "),
				eachAfter[i]["mpg_smpp_mo_total"]-eachBefore[i]["mpg_smpp_mo_total"], eachAfter[i]["mpg_ledger_jobs_total"]-eachBefore[i]["mpg_ledger_jobs_total"])
		}
		fmt.Fprintf(out, "per daemon (MO taken/ledger jobs): %s\n", strings.Join(spread, " "))
	} else {
		fmt.Fprintf(out, "outstanding=%d rate=%s elapsed=%s fsyncs=%.0f cmds_per_fsync=%.1f cpu_daemon=%.2f cpu_driver=%.2f (cores) rss_daemon_mb=%d\n",
			opt.outstanding, rateName(opt.rate), elapsed.Round(time.Millisecond), fsyncs, float64(sent.Load())/max(1, fsyncs),
			(cpu1[0]-cpu0[0])/secs, (self1-self0)/secs, rss[0])
	}
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
	suffix := ""
	if pg {
		suffix = fmt.Sprintf(" ledger=postgres daemons=%d", n)
	}
	fmt.Fprintf(out, first+"=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f answered=%d/%d verify=%s%s\n",
		float64(len(all))/secs, ms2(pct(all, 0.5)), ms2(pct(all, 0.99)), ms2(pct(all, 0.999)), answered.Load(), sent.Load(), verify, suffix)
	if verify != "ok" {
		return &exitError{code: 2, msg: "ledger verify FAILED after the run"}
	}
	return nil
}

// benchBooks makes new books as `mpg ledger init` does (a file, or the schema and the
// system accounts in an empty database), with merchants SHOP42, SHOP43, …
func (a *app) benchBooks(ctx context.Context, merchants int) error {
	l, err := a.createBooks(ctx, a.ledgerOptions())
	if err != nil {
		return err
	}
	defer l.Close()
	specs := []domain.AccountSpec{{Currency: "EUR", Kind: domain.KindFloat, Owner: ownerFloat, Name: "Float"}, {Currency: "EUR", Kind: domain.KindFees, Owner: ownerFees, Name: "Fees"},
		{Currency: "EUR", Kind: domain.KindEscrow, Owner: ownerEscrow, Name: "Escrow"}}
	for m := range merchants {
		specs = append(specs, domain.AccountSpec{Currency: "EUR", Kind: domain.KindMerchant, Owner: fmt.Sprintf("SHOP%d", 42+m), Name: fmt.Sprintf("Shop %d", 42+m)})
	}
	for i := 0; i < len(specs); i += domain.MaxJobAccounts {
		job := domain.Job{Open: specs[i:min(i+domain.MaxJobAccounts, len(specs))]}
		if i == 0 {
			job.Audit = &domain.Audit{Actor: "mpg bench", Action: "ledger init", Detail: "EUR"}
		}
		if _, err := l.Submit(ctx, job); err != nil {
			return err
		}
	}
	return nil
}

// benchPromotions gives each merchant takings from the float and an automatic promotion
// funded from them: 5% off every payment, for everybody, a budget no bench spends.
func (a *app) benchPromotions(ctx context.Context, merchants int) error {
	l, err := a.openBooks(a.ledgerOptions())
	if err != nil {
		return err
	}
	defer l.Close()
	float, err := l.System(domain.KindFloat, "EUR")
	if err != nil {
		return err
	}
	eng := engine.NewAdmin(engineConfig(a.cfg), l)
	for m := range merchants {
		shop, err := l.Find(fmt.Sprintf("SHOP%d", 42+m))
		if err != nil {
			return err
		}
		if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: float.ID, Credit: shop.ID, Amount: 1 << 40, Code: domain.CodeTopup}}}); err != nil {
			return err
		}
		if _, err := eng.CreatePromotion(ctx, shop.ID, promo.Promotion{Code: fmt.Sprintf("BENCH%d", 42+m), Name: "Bench", Percent: 5, Budget: 1 << 40}, "mpg bench"); err != nil {
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
