package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"mpg/bank"
	"mpg/commands"
	"mpg/config"
	"mpg/domain"
	"mpg/engine"
	"mpg/fraud"
	"mpg/ledger"
	"mpg/loyalty"
	"mpg/mail"
	"mpg/smpp"
	"mpg/web"
	"mpg/web/console"
)

func (a *app) serveCmd() *cobra.Command {
	var cpuprofile string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: bound to the SMSC, answering SMS commands",
		Long: `serve opens the ledger, binds to the SMSC over SMPP, turns every SMS into a ledger job and
sends the replies from the outbox. It serves /metrics, /healthz and /readyz on http.addr.
SIGINT or SIGTERM stops it gracefully: no new MO, handlers finish, replies drain, unbind.
The PIN and receipt keys come from engine.pin_key_file and engine.receipt_key_file, systemd
credentials (mpg-pin-key, mpg-receipt-key) or MPG_PIN_KEY and MPG_RECEIPT_KEY; the SMPP
password from MPG_SMPP_PASSWORD. A ledger file used with other keys is refused.`,
		Example: "  mpg serve --config /etc/mpg/mpg.toml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.cfg.Secrets(); err != nil {
				return err
			}
			if os.Getenv("GOGC") == "" {
				// Each SMS allocates briefly (PDUs, texts, the job); collecting at 4× the live
				// heap instead of 2× spends a quarter of the CPU on GC for some tens of MB more.
				// GOGC and GOMEMLIMIT still rule when set.
				debug.SetGCPercent(400)
			}
			stopProfile, err := startCPUProfile(cpuprofile)
			if err != nil {
				return err
			}
			defer stopProfile()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			l, err := a.openBooks(a.daemonLedgerOptions(a.cfg))
			if err != nil {
				return keyAdvice(err, keysAtHand(a.cfg))
			}
			d, err := newDaemon(a.cfg, l, a.log)
			if err != nil {
				l.Close()
				return err
			}
			if a.pg != nil {
				d.leases = &leases{db: a.pg, holder: l.Daemon(), log: a.log.Named("lease")}
			}
			err = d.run(ctx, nil)
			if cerr := l.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	c.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file until the daemon stops")
	return c
}

// engineConfig is the engine's part of the configuration.
func engineConfig(cfg config.Config) engine.Config {
	e := cfg.Engine
	exp, _ := domain.Exponent(cfg.Ledger.Currency)
	bands := func(in []config.Band) []engine.Band {
		var out []engine.Band
		for _, b := range in {
			up := b.UpTo
			if up == 0 {
				up = ^uint64(0)
			}
			out = append(out, engine.Band{UpTo: up, Fee: b.Fee})
		}
		return out
	}
	fees := map[uint16][]engine.Band{domain.CodePay: bands(e.Fees.Pay), domain.CodeBill: bands(e.Fees.Bill), domain.CodeSend: bands(e.Fees.Send),
		domain.CodeDebit: bands(e.Fees.Debit), domain.CodeCreditAuth: bands(e.Fees.Credit)}
	tiers := map[uint8]engine.Limits{}
	for _, t := range e.Tiers {
		tiers[t.Tier] = engine.Limits{PerTx: t.PerPayment, Daily: t.Daily, MaxBalance: t.MaxBalance, CanSend: t.CanSend}
	}
	loc, err := time.LoadLocation(e.TimeZone)
	if err != nil {
		loc = time.UTC // validated when the configuration was read
	}
	return engine.Config{ShortCode: e.ShortCode, Currency: cfg.Ledger.Currency, Exponent: exp,
		Region: e.Region, PINKey: []byte(e.PINKey), ReceiptKey: []byte(e.ReceiptKey),
		LockAfter: e.LockAfter, LockFor: time.Duration(e.LockMinutes) * time.Minute, LockForever: e.LockForever,
		Dedupe: time.Duration(e.DedupeS) * time.Second, Fees: fees, Tiers: tiers,
		ClaimFor:     time.Duration(e.ClaimDays) * 24 * time.Hour,
		ConfirmAbove: uint64(e.ConfirmAbove), ConfirmFor: time.Duration(e.ConfirmMin) * time.Minute,
		ActivationFor: time.Duration(e.ActivationH) * time.Hour, Location: loc, MOPerMinute: e.MOPerMinute, MOBurst: e.MOBurst,
		RequestFor: time.Duration(cfg.Merchant.RequestMin) * time.Minute, CheckoutFor: time.Duration(cfg.Merchant.CheckoutMin) * time.Minute,
		CheckoutMax: cfg.Merchant.CheckoutMax, CheckoutMonthly: cfg.Merchant.CheckoutMonthly, CodesPerHour: cfg.Merchant.CodesPerHour,
		CheckoutURL: publicURL(cfg.Merchant), BankTries: cfg.Bank.Tries, BankConfigured: cfg.Bank.Addr != "",
		HoldFor: time.Duration(e.CreditHoldDays) * 24 * time.Hour, CreditMinTier: uint8(e.CreditMinTier),
		WebhookRetry:   seconds(cfg.Merchant.WebhookRetryS),
		RetentionYears: cfg.Privacy.RetentionYears, DataLinkFor: time.Duration(cfg.Privacy.ExportLinkMin) * time.Minute,
		DataPerDay: cfg.Privacy.DataPerDay, Disputes: disputeConfig(cfg.Disputes), Loyalty: programme(cfg, exp, loc),
		Marketing: marketingConfig(cfg.Marketing, loc), Fraud: fraudConfig(cfg.Fraud),
		Mail:       engine.MailConfig{StatementHour: cfg.Mail.StatementHour, Retry: seconds(cfg.Mail.RetryS), MaxRows: cfg.Mail.MaxRows},
		Orders:     engine.OrdersConfig{Max: cfg.Orders.MaxPerSubscriber, SavedBills: cfg.Orders.SavedBills, RunHour: cfg.Orders.RunHour, PerPass: cfg.Orders.PerPass},
		Settlement: settlementConfig(cfg.Settlement)}
}

// marketingConfig is the [marketing] section as the engine takes it, other numbers in loc.
func marketingConfig(m config.Marketing, loc *time.Location) engine.MarketingConfig {
	rules, err := m.Rules(loc)
	if err != nil {
		return engine.MarketingConfig{} // validated when the configuration was read: defaults
	}
	return engine.MarketingConfig{Rules: rules, MaxOutbox: m.MaxOutbox, PerSecond: m.PerSecond,
		Lasts: time.Duration(m.Days) * 24 * time.Hour}
}

// programme is the [loyalty] section as the engine takes it: nil when off.
func programme(cfg config.Config, exp uint8, loc *time.Location) *loyalty.Programme {
	p, err := cfg.Loyalty.Programme(exp, loc)
	if err != nil {
		return nil // validated when the configuration was read
	}
	return p
}

// disputeConfig is the [disputes] section as the engine takes it.
func disputeConfig(d config.Disputes) engine.DisputeConfig {
	closeAfter := time.Duration(d.CloseHours) * time.Hour
	if closeAfter == 0 {
		closeAfter = -1 // close_hours = 0: a decided case closes at once
	}
	return engine.DisputeConfig{SelfService: time.Duration(d.SelfServiceHours) * time.Hour, AnswerFor: time.Duration(d.AnswerHours) * time.Hour,
		OpenFor: time.Duration(d.OpenDays) * 24 * time.Hour, MerchantFor: time.Duration(d.MerchantDays) * 24 * time.Hour,
		CloseAfter: closeAfter, AutoRefundMax: d.AutoRefundMax}
}

// seconds turns waits in seconds into durations (nil for none).
func seconds(in []int) []time.Duration {
	var out []time.Duration
	for _, s := range in {
		out = append(out, time.Duration(s)*time.Second)
	}
	return out
}

// publicURL is where buyers reach the checkout pages.
func publicURL(m config.Merchant) string {
	switch {
	case m.PublicURL != "":
		return strings.TrimRight(m.PublicURL, "/")
	case m.Addr == "":
		return ""
	case m.TLSCert != "":
		return "https://" + m.Addr
	}
	return "http://" + m.Addr
}

// serveMerchants starts the merchant API and the checkout pages, if configured; they stop
// when ctx ends and done is closed then.
func (d *daemon) serveMerchants(ctx context.Context) (done <-chan struct{}, err error) {
	c := make(chan struct{})
	m := d.cfg.Merchant
	if m.Addr == "" {
		close(c)
		return c, nil
	}
	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return nil, fmt.Errorf("merchant.addr: %w", err)
	}
	d.merchantAddr = ln.Addr().String()
	// The public URL is known only now: with port 0 (a test's, the demo's) it is the port
	// the listener got, never ":0".
	public := publicURL(m)
	if m.PublicURL == "" && strings.HasSuffix(m.Addr, ":0") {
		public = strings.Replace(public, m.Addr, d.merchantAddr, 1)
		d.eng.SetCheckoutURL(public)
	}
	exp, _ := domain.Exponent(d.cfg.Ledger.Currency)
	srv := web.New(web.Config{PublicURL: public, TLSCert: m.TLSCert, TLSKey: m.TLSKey, RatePerS: m.RatePerS,
		Burst: m.Burst, Currency: d.cfg.Ledger.Currency, Exponent: exp, Once: d.leases.once}, d.eng, d.log.Named("web"))
	go func() {
		defer close(c)
		if err := srv.Serve(ctx, ln); err != nil {
			d.log.Error("merchant API stopped", zap.Error(err))
		}
	}()
	d.log.Info("merchant API and checkout pages", zap.String("addr", d.merchantAddr), zap.String("public_url", public))
	return c, nil
}

// serveConsole starts the operator console and the merchant portal, if configured; they
// stop when ctx ends and done is closed then.
func (d *daemon) serveConsole(ctx context.Context) (done <-chan struct{}, err error) {
	c := make(chan struct{})
	if d.cfg.Console.Addr == "" {
		close(c)
		return c, nil
	}
	ln, err := net.Listen("tcp", d.cfg.Console.Addr)
	if err != nil {
		return nil, fmt.Errorf("console.addr: %w", err)
	}
	d.consoleAddr = ln.Addr().String()
	cfg := console.FromConfig(d.cfg)
	cfg.Outbox = d.l
	insights := d.insights
	if insights == nil {
		insights = console.EngineInsights(d.eng)
	}
	srv := console.New(d.eng, insights, cfg, d.log.Named("console"))
	go func() {
		defer close(c)
		if err := srv.Serve(ctx, ln); err != nil {
			d.log.Error("console stopped", zap.Error(err))
		}
	}()
	d.log.Info("operator console and merchant portal", zap.String("addr", d.consoleAddr), zap.Bool("tls", cfg.TLSCert != ""))
	return c, nil
}

// daemonLedgerOptions are the ledger options of a daemon: the app's, plus the engine's
// expiry notices, present from the moment the file opens (the first expiry scan runs then),
// and the check values of its keys: a file used with other keys is refused before that.
func (a *app) daemonLedgerOptions(cfg config.Config) *ledger.Options {
	o := a.ledgerOptions()
	o.ExpiryHook = engine.ExpiryNotices(engineConfig(cfg))
	o.KeyChecks = ledgerChecks(keysAtHand(cfg))
	if a.postgres() {
		o.Daemon = a.daemonName()
	}
	return o
}

// daemon wires the ledger, the engine and the SMPP session.
type daemon struct {
	cfg config.Config
	l   store
	eng *engine.Engine
	cl  *smpp.Client
	log *zap.Logger
	// notSubscriber counts MO from senders that are no phone number.
	notSubscriber atomic.Int64
	ledgerDown    atomic.Bool  // the ledger's stop was logged
	flooded       atomic.Int64 // MO refused for now: their number texted too fast
	notTaken      atomic.Int64 // MO refused for now for any other reason (ledger busy or stopped)
	merchantAddr  string       // where the merchant API listens, once it does
	consoleAddr   string       // where the console listens, once it does
	// insights are the console's figures and fraud queue (nil: the engine's, as `mpg stats`
	// and `mpg fraud` read them; tests may set others).
	insights   console.Insights
	httpAddr   string       // where the operator endpoints listen, once they do
	bankClient *bank.Client // the link to the bank for mDebit (nil: bank.addr unset)
	// leases give work that must run once to one of the daemons sharing a database (nil:
	// the books are a file, and this daemon runs it all).
	leases *leases
	// mailMetrics count the mail room's attempts.
	mailMetrics mail.Metrics
}

func newDaemon(cfg config.Config, l store, log *zap.Logger) (*daemon, error) {
	if _, err := l.System(domain.KindFloat, cfg.Ledger.Currency); err != nil {
		if fs := l.Accounts(ledger.Filter{Kind: domain.KindFloat, Limit: 1}); len(fs) > 0 {
			return nil, fmt.Errorf("ledger.currency is %s but %s keeps %s: set ledger.currency = %q", cfg.Ledger.Currency, where(l), fs[0].Currency, fs[0].Currency)
		}
		return nil, fmt.Errorf("%s has no float account: run `mpg ledger init` first", where(l))
	}
	eng, err := engine.New(engineConfig(cfg), l)
	if err != nil {
		return nil, err
	}
	d := &daemon{cfg: cfg, l: l, eng: eng, log: log}
	s := cfg.SMPP
	sc := smpp.Config{Addr: s.Addr, Bind: smpp.Bind{SystemID: s.SystemID, Password: s.Password, SystemType: s.SystemType,
		AddrTON: s.SourceTON, AddrNPI: s.SourceNPI, AddressRange: s.AddressRange},
		SourceTON: s.SourceTON, SourceNPI: s.SourceNPI, Transceiver: s.Transceiver, Binds: s.Binds, Window: s.Window, MaxInflight: s.MaxInflight,
		EnquireLink: time.Duration(s.EnquireLinkS) * time.Second, RespTimeout: time.Duration(s.RespTimeoutS) * time.Second,
		Rate: float64(s.RatePerS), RetryUnknown: s.RetryUnknown, AuthRetry: time.Duration(s.AuthRetryS) * time.Second,
		Validity: time.Duration(s.ValidityS) * time.Second, RetryBackoff: time.Duration(s.RetryMs) * time.Millisecond, Logf: smppLogf(log.Named("smpp"))}
	if s.RetryUnknown == 0 {
		sc.RetryUnknown = -1
	}
	if s.TLS {
		host, _, _ := net.SplitHostPort(s.Addr)
		sc.TLS = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	sc.Parts = partStore{l: l, ttl: time.Duration(cfg.Engine.DedupeS) * time.Second}
	d.cl = smpp.NewClient(sc, d.handleMO, d.handleReceipt)
	return d, nil
}

// smppLogf logs the session's lines with the caller in the smpp package (not this file), at
// the level their words call for: a failure that needs an operator is an error, a link bound
// again is news, the rest a warning.
func smppLogf(log *zap.Logger) func(string, ...any) {
	log = log.WithOptions(zap.AddCallerSkip(1))
	return func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		switch {
		case strings.Contains(msg, "ERROR"):
			log.Error(msg)
		case strings.Contains(msg, " bound to "):
			log.Info(msg)
		default:
			log.Warn(msg)
		}
	}
}

// startDaemon runs a daemon in the background and returns once it is bound to the SMSC;
// stop ends it gracefully and returns what run returned.
func startDaemon(ctx context.Context, cfg config.Config, l store, log *zap.Logger) (d *daemon, httpAddr string, stop func() error, err error) {
	if d, err = newDaemon(cfg, l, log); err != nil {
		return nil, "", nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	addr := make(chan string, 1)
	go func() { done <- d.run(rctx, addr) }()
	var once sync.Once
	var stopErr error
	stop = func() error { // safe to call more than once: the first call stops the daemon
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	select {
	case httpAddr = <-addr:
	case err = <-done:
		cancel()
		return nil, "", nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); !d.cl.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			return nil, "", nil, fmt.Errorf("the daemon did not bind to %s", cfg.SMPP.Addr)
		}
	}
	return d, httpAddr, stop, nil
}

// handleMO derives the subscriber's identity from the SMSC's address and its TON, in this
// one place, and hands the SMS to the engine. A sender that is no phone number (an
// alphanumeric sender, an empty or overlong address) gets no command run and no reply (it
// cannot receive one); the SMSC gets ESME_ROK, since delivering it again changes nothing.
func (d *daemon) handleMO(ctx context.Context, mo smpp.MO) error {
	from, err := domain.Sender(mo.From, mo.FromTON, d.cfg.Engine.Region)
	if err == nil {
		err = d.eng.Handle(ctx, engine.Inbound{From: from, To: mo.To, Text: mo.Text, Received: mo.Received})
	}
	if errors.Is(err, domain.ErrNotMSISDN) || errors.Is(err, engine.ErrNotSubscriber) {
		d.notSubscriber.Add(1)
		d.log.Info("MO from a sender that is no phone number: taken, not run", zap.String("from", domain.Mask(commands.MaskDigits(mo.From))),
			zap.Uint8("ton", mo.FromTON), zap.String("command", keyword(mo.Text)))
		return nil
	}
	var flood *engine.FloodError
	if errors.As(err, &flood) {
		d.flooded.Add(1)
		if flood.First {
			d.log.Warn("MO refused for now: the number texts faster than engine.mo_per_minute; told once a minute, the SMSC redelivers",
				zap.String("from", domain.Mask(from)))
		}
		return err
	}
	if errors.Is(err, ledger.ErrFailed) && d.ledgerDown.CompareAndSwap(false, true) {
		d.log.Error("the ledger stopped itself after a write error: no MO is taken until mpg is restarted (check the disk)", zap.Error(err))
	}
	// The text is logged only with its PINs masked.
	if err != nil {
		d.notTaken.Add(1)
		d.log.Warn("MO not taken, the SMSC will redeliver", zap.String("from", domain.Mask(mo.From)), zap.String("command", keyword(mo.Text)), zap.Error(err))
		return err
	}
	d.log.Debug("MO", zap.String("from", domain.Mask(mo.From)), zap.String("command", keyword(mo.Text)))
	return nil
}

func (d *daemon) handleReceipt(ctx context.Context, r smpp.Receipt) error {
	if !r.Final {
		return nil
	}
	err := d.l.MarkReceipt(ctx, r.ID, r.Delivered, r.State)
	if errors.Is(err, domain.ErrMessageNotFound) {
		return nil // a receipt for something we do not track: taken, nothing to do
	}
	return err
}

// run serves until ctx ends; ready, if set, is closed once the HTTP endpoints listen.
func (d *daemon) run(ctx context.Context, ready chan<- string) error {
	if b := d.cfg.Bank; b.Addr != "" {
		bc := bank.Config{Addr: b.Addr, Timeout: time.Duration(b.TimeoutMs) * time.Millisecond, Acquirer: b.Acquirer,
			Log: d.log.Named("bank").WithOptions(zap.AddCallerSkip(1)).Sugar().Warnf}
		if b.TLS {
			host, _, _ := net.SplitHostPort(b.Addr)
			bc.TLS = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		d.bankClient = bank.NewClient(bc)
		d.eng.SetBank(d.bankClient)
	}
	reg := prometheus.NewRegistry()
	d.register(reg)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := d.l.Err(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable) // a file stopped, or the database away
			return
		}
		if !d.cl.Ready() {
			http.Error(w, "not bound to the SMSC", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	ln, err := net.Listen("tcp", d.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http.addr: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	workCtx, stopWork := context.WithCancel(context.Background())
	var work sync.WaitGroup
	defer func() { stopWork(); work.Wait() }()
	work.Add(1)
	go func() {
		defer work.Done()
		d.leases.once(workCtx, "expiry", func(ctx context.Context) { d.eng.RunExpiry(ctx, time.Second, d.log.Sugar().Warnf) })
	}()
	work.Add(1)
	go func() { // standing orders: each due date runs once even if two daemons ran this at once
		defer work.Done()
		every := time.Duration(d.cfg.Orders.EveryS) * time.Second
		d.leases.once(workCtx, "orders", func(ctx context.Context) { d.eng.RunOrders(ctx, every, d.log.Sugar().Warnf) })
	}()
	if st := d.cfg.Stats; st.Enabled {
		work.Add(1)
		go func() {
			defer work.Done()
			d.leases.once(workCtx, "statistics", func(ctx context.Context) {
				d.eng.RunStatistics(ctx, st.FollowEvery(), d.log.Sugar().Warnf)
			})
		}()
	}
	if err := d.startMail(workCtx, &work); err != nil {
		ln.Close()
		return err
	}
	if d.cfg.Settlement.Enabled {
		work.Add(1)
		go func() {
			defer work.Done()
			d.leases.once(workCtx, "settlement", func(ctx context.Context) { d.eng.RunSettlement(ctx, time.Minute, d.log.Sugar().Warnf) })
		}()
	}
	if client, b := d.bankClient, d.cfg.Bank; client != nil {
		work.Add(1)
		go func() {
			defer work.Done()
			defer client.Close()
			d.leases.once(workCtx, "bank", func(ctx context.Context) { d.eng.RunBank(ctx, 200*time.Millisecond, b.MaxInflight) })
		}()
		if b.EchoS > 0 {
			work.Add(1)
			go func() {
				defer work.Done()
				client.KeepAlive(workCtx, time.Duration(b.EchoS)*time.Second, d.log.Sugar().Warnf)
			}()
		}
		d.log.Info("bank connector", zap.String("addr", b.Addr), zap.Int("echo_s", b.EchoS))
	}
	d.startVoice(workCtx, &work, reg)
	webCtx, stopWeb := context.WithCancel(context.Background())
	defer stopWeb()
	webDone, err := d.serveMerchants(webCtx)
	if err != nil {
		ln.Close()
		return err
	}
	consoleDone, err := d.serveConsole(webCtx)
	if err != nil {
		stopWeb()
		<-webDone
		ln.Close()
		return err
	}
	// The page at "/" names every listener: the operator endpoints start serving once the
	// merchant API listens (connections wait in the listener's backlog until then).
	d.httpAddr = ln.Addr().String()
	mux.HandleFunc("GET /{$}", d.home(d.httpAddr))
	go srv.Serve(ln)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	d.log.Info("mpg serving", zap.String("smsc", d.cfg.SMPP.Addr), zap.String("http", ln.Addr().String()), zap.String("db", where(d.l)))

	closeAdmin, err := serveAdmin(ctx, d.cfg, d.l, d.eng, d.log)
	if err != nil {
		srv.Close()
		return err
	}
	defer closeAdmin()
	sendCtx, stopSend := context.WithCancel(context.Background())
	sent := make(chan error, 1)
	go func() { sent <- d.cl.RunSender(sendCtx, outbox{d.l, d.eng, d.log.Named("outbox")}) }()
	// A graceful stop: no new MO, handlers finish, then the replies still in the outbox get
	// up to smpp.drain_s to leave while the links are bound; only then the links unbind.
	linkCtx, unbind := context.WithCancel(context.Background())
	go func() {
		<-ctx.Done()
		stopWeb() // no new payments while the replies drain
		d.drain()
		unbind()
	}()
	runErr := d.cl.Run(linkCtx) // returns after the unbind
	unbind()
	stopWeb()
	<-webDone
	<-consoleDone
	stopSend()
	<-sent
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	d.log.Info("mpg stopped")
	return runErr
}

// drain waits, bounded by smpp.drain_s, for MO handlers in flight and then for the outbox to
// empty, logging what was left for the next start.
func (d *daemon) drain() {
	dctx, cancel := context.WithTimeout(context.Background(), time.Duration(d.cfg.SMPP.DrainS)*time.Second)
	defer cancel()
	d.cl.Quiesce(dctx)
	for {
		n := d.l.OutboxDue() // replies waiting for a retry time are not waited for
		if n == 0 {
			return
		}
		select {
		case <-dctx.Done():
			d.log.Warn("stopping with replies not yet sent: they go out after the next start", zap.Int("unsent", n))
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// webhookCollector reports, at each scrape, what waits at each merchant's webhook endpoint.
type webhookCollector struct {
	e                         *engine.Engine
	l                         store
	pending, oldest, failures *prometheus.Desc
}

func newWebhookCollector(e *engine.Engine, l store) *webhookCollector {
	label := []string{"merchant"}
	return &webhookCollector{e: e, l: l,
		pending:  prometheus.NewDesc("mpg_webhook_pending", "Webhook deliveries queued for the merchant's endpoint.", label, nil),
		oldest:   prometheus.NewDesc("mpg_webhook_oldest_due_age_seconds", "How long the delivery due first has been due (0: none due yet).", label, nil),
		failures: prometheus.NewDesc("mpg_webhook_failures_total", "Failed attempts at the merchant's endpoint since the daemon started.", label, nil)}
}

func (c *webhookCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.oldest
	ch <- c.failures
}

func (c *webhookCollector) Collect(ch chan<- prometheus.Metric) {
	backlog, _ := c.e.WebhookBacklog()
	for _, b := range backlog {
		code := strconv.FormatUint(b.Merchant, 10)
		if a, err := c.l.Account(b.Merchant); err == nil {
			code = a.Owner
		}
		age := max(0, time.Since(time.Unix(0, b.OldestDue)).Seconds())
		if b.Pending == 0 {
			age = 0
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(b.Pending), code)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, code)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(b.Failures), code)
	}
}

func (d *daemon) register(reg *prometheus.Registry) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if d.eng != nil {
		reg.MustRegister(newWebhookCollector(d.eng, d.l))
		d.registerMail(reg)
	}
	m := &d.cl.Metrics
	counter := func(name, help string, f func() int64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f()) }))
	}
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter("mpg_smpp_binds_total", "Successful binds.", m.Binds.Load)
	counter("mpg_smpp_reconnects_total", "Links lost and rebound.", m.Reconnects.Load)
	counter("mpg_smpp_auth_failures_total", "Binds refused for credentials.", m.AuthFailures.Load)
	counter("mpg_smpp_mo_total", "MO taken.", m.MOIn.Load)
	counter("mpg_smpp_mo_rejected_total", "MO answered ESME_RX_T_APPN because too many were in flight.", m.MORejected.Load)
	counter("mpg_smpp_mt_total", "submit_sm accepted by the SMSC.", m.MTOut.Load)
	counter("mpg_smpp_throttles_total", "ESME_RTHROTTLED answers.", m.Throttles.Load)
	counter("mpg_smpp_receipts_total", "Delivery receipts.", m.Receipts.Load)
	counter("mpg_outbox_failed_total", "Replies failed for good: a permanent submit_sm status (see the README's list) or too long.", m.SubmitFailed.Load)
	counter("mpg_outbox_refused_total", "Submits refused temporarily and scheduled again with backoff.", m.SubmitLater.Load)
	counter("mpg_outbox_unanswered_total", "Submits that got no response in time: the message became unknown.", m.SubmitUnknown.Load)
	counter("mpg_outbox_late_answers_total", "Responses that came after the timeout and settled their message as sent.", m.LateAnswers.Load)
	counter("mpg_outbox_validity_ended_total", "Replies failed because smpp.validity_s ended while they were refused.", m.ValidityEnded.Load)
	gauge("mpg_outbox_due", "Replies that could leave now or are being submitted.", func() float64 { return float64(d.l.OutboxDue()) })
	gauge("mpg_outbox_waiting", "Replies waiting for a retry time.", func() float64 { return float64(d.l.OutboxWaiting()) })
	counter("mpg_smpp_mo_undecodable_total", "MO whose text did not match its coding (read leniently, answered).", m.MOUndecodable.Load)
	counter("mpg_mo_flood_refused_total", "MO answered ESME_RX_T_APPN because their number texted faster than engine.mo_per_minute.", d.flooded.Load)
	counter("mpg_mo_not_taken_total", "MO answered ESME_RX_T_APPN because the engine or the ledger could not take them now (logged with the reason).", d.notTaken.Load)
	counter("mpg_mo_not_subscriber_total", "MO from senders that are no phone number (alphanumeric, empty, too long): taken, not run.", d.notSubscriber.Load)
	gauge("mpg_smpp_window_in_use", "Requests awaiting a response.", func() float64 { return float64(m.WindowInUse.Load()) })
	gauge("mpg_smpp_links", "Bound connections.", func() float64 { return float64(len(d.cl.Links())) })
	for _, st := range []string{"opened", "awaiting_merchant", "under_review", "decided", "closed"} {
		st := st
		counter("mpg_dispute_"+st+"_total", "Dispute cases that entered "+st+" (by this daemon).", func() int64 { return d.eng.DisputeTransitions()[st] })
	}
	gauge("mpg_statistics_lag_entries", "Journal entries the statistics follower had still to read after its last pass.", func() float64 { return float64(d.eng.StatisticsLag()) })
	for _, a := range []fraud.Action{fraud.Allow, fraud.Review, fraud.Hold, fraud.Decline} {
		counter("mpg_fraud_"+a.String()+"_total", "Payments the fraud rules scored and decided "+a.String()+" (in shadow mode: would have), by this daemon.",
			func() int64 { return d.eng.FraudDecided(a) })
	}
	counter("mpg_fraud_unscored_total", "Payments that went on without the fraud rules: an activity record could not be read (see the logs of mpg stats rebuild).", d.eng.FraudUnscored)
	counter("mpg_points_missed_total", "Completed payments that earned no loyalty points for a fault (the payment went on).", d.eng.PointsMissed)
	bs := d.eng.BankStats()
	counter("mpg_bank_approved_total", "mDebits and refund credits the bank approved.", bs.Approved.Load)
	counter("mpg_bank_declined_total", "mDebits and refund credits the bank surely declined.", bs.Declined.Load)
	counter("mpg_bank_unknown_total", "Bank attempts without a sure answer: none in time, unreadable, or a code such as 96, 91, 68 (asked again as a repeat).", bs.Unknown.Load)
	counter("mpg_bank_reversed_total", "mDebits and refund credits reversed after bank.tries unsure attempts.", bs.Reversed.Load)
	counter("mpg_bank_reversal_declined_total", "Reversals the bank declined (the request stood and was settled).", bs.ReversalDeclined.Load)
	if bc := d.bankClient; bc != nil {
		counter("mpg_bank_echo_failed_total", "Network echoes (0800) the bank did not answer in time: each closed the link.", bc.EchoesFailed.Load)
		gauge("mpg_bank_link_up", "1 when the bank answered the last echo or request.", func() float64 {
			if bc.Up() {
				return 1
			}
			return 0
		})
	}
	st := d.l.Stats()
	counter("mpg_ledger_commits_total", "Ledger commits (one fsync each).", func() int64 { return int64(st.Commits.Load()) })
	counter("mpg_ledger_jobs_total", "Ledger jobs committed.", func() int64 { return int64(st.Jobs.Load()) })
	counter("mpg_ledger_refused_total", "Ledger jobs refused.", func() int64 { return int64(st.Refused.Load()) })
	counter("mpg_ledger_transfers_total", "Transfers committed.", func() int64 { return int64(st.Transfers.Load()) })
	counter("mpg_outbox_pruned_total", "Settled outbox messages deleted after ledger.outbox_retention_days.", func() int64 { return int64(st.OutboxPruned.Load()) })
	counter("mpg_outbox_early_receipts_total", "Delivery receipts that came before their submit was recorded (kept, then applied).", func() int64 { return int64(st.EarlyReceipts.Load()) })
	counter("mpg_mo_parts_expired_total", "Parts of long MO dropped because their message never completed.", func() int64 { return int64(st.PartsExpired.Load()) })
	gauge("mpg_ledger_stopped", "1 when the ledger stopped itself after a write error (restart the daemon).", func() float64 {
		if d.l.Err() != nil {
			return 1
		}
		return 0
	})
}

// partStore keeps the parts of long MO in the ledger file, for the dedupe window (the SMSC's
// redelivery period): a part is acknowledged only once it is there.
type partStore struct {
	l   store
	ttl time.Duration
}

func (p partStore) Keep(ctx context.Context, sender, msg string, seq uint8, coding smpp.Coding, payload []byte) ([]smpp.StoredPart, error) {
	if err := p.l.KeepPart(ctx, domain.PartWrite{Sender: sender, Msg: msg, Seq: seq, Coding: uint8(coding), Data: payload, TTL: p.ttl}); err != nil {
		return nil, err
	}
	parts, err := p.l.Parts(sender, msg)
	out := make([]smpp.StoredPart, len(parts))
	for i, x := range parts {
		out[i] = smpp.StoredPart{Seq: x.Seq, Coding: smpp.Coding(x.Coding), Payload: x.Data}
	}
	return out, err
}

func (p partStore) Release(ctx context.Context, sender, msg string) error {
	return p.l.ReleaseParts(ctx, sender, msg)
}

// outbox adapts the ledger's outbox to the SMPP sender; a one-time code sealed in a message
// is opened by the engine just before the SMS leaves.
type outbox struct {
	l   store
	eng *engine.Engine
	log *zap.Logger
}

func (o outbox) Next(ctx context.Context, max int) ([]smpp.Outgoing, error) {
	msgs, err := o.l.NextMessages(ctx, max)
	out := make([]smpp.Outgoing, 0, len(msgs))
	for _, m := range msgs {
		text, uerr := o.eng.DeliverText(m)
		if uerr != nil {
			o.log.Warn("outbox message cannot be sent", zap.Uint64("id", m.ID), zap.Error(uerr))
			o.l.MarkFailed(ctx, m.ID, uerr.Error())
			continue
		}
		out = append(out, smpp.Outgoing{ID: m.ID, From: m.From, To: m.To, Text: text, Receipt: true,
			Created: time.Unix(0, m.Created), Attempts: int(m.Attempts), Unknowns: int(m.Unknowns)})
	}
	return out, err
}

func (o outbox) Sent(ctx context.Context, id uint64, ids []string) error {
	return o.l.MarkSent(ctx, id, ids...)
}

func (o outbox) Failed(ctx context.Context, id uint64, reason string) error {
	return o.l.MarkFailed(ctx, id, reason)
}

func (o outbox) Later(ctx context.Context, id uint64, unknown bool, reason string, at time.Time) error {
	return o.l.MarkRetry(ctx, id, ledger.Retry{Unknown: unknown, Reason: reason, At: at})
}

func (o outbox) Retry(id uint64) { o.l.Requeue(id) }

// fraudConfig is the fraud section as the engine takes it (validated when read).
func fraudConfig(f config.Fraud) engine.FraudConfig {
	rules, _ := f.RuleSet()
	return engine.FraudConfig{Rules: rules, ReviewFor: time.Duration(f.ReviewHours) * time.Hour, Shadow: f.Mode == config.FraudShadow}
}
