// Package engine turns one inbound SMS into one ledger job: it parses the text with
// commands, authenticates the subscriber (PIN as a keyed HMAC, lockout), applies limits and
// fees, and submits the transfers, every reply, the dedupe record and the audit entry as one
// job. Handle returns nil only when that job is durable.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"mpg/commands"
	"mpg/domain"
	"mpg/fraud"
	"mpg/loyalty"
)

// Ledger is what the engine needs of the books.
type Ledger interface {
	Submit(ctx context.Context, job domain.Job) (domain.Result, error)
	Account(id uint64) (domain.Account, error)
	AccountsOf(owner string) []domain.Account
	System(kind domain.Kind, currency string) (domain.Account, error)
	History(account uint64, limit int, before uint64) ([]domain.Transfer, error)
	Profile(owner string) ([]byte, uint64, error)
	Owner(owner string) (domain.OwnerState, error)
	HoldsFor(owner string) ([]domain.Transfer, error)
	TransferAt(seq uint64) (domain.Transfer, error)
	Transfer(id domain.ID) (domain.Transfer, error)
	ProfilesFrom(prefix, from string, limit int) ([]domain.Profile, error)
	// Erase destroys a person's key (see ledger.Erase): he becomes unreadable for good.
	Erase(ctx context.Context, number string, audit domain.Audit) (string, error)
	// SealFor seals a person's field (his bank account) in a record that is not his alone,
	// so that erasing him makes it unreadable; Unseal opens it ("" once he is erased).
	SealFor(number, field string) (string, error)
	Unseal(sealed string) string
	// Messages pages the outbox, newest first (state 0: any); privacy exports and dispute
	// evidence read the SMS sent with it.
	Messages(limit int, before uint64, state domain.MessageStatus) ([]domain.Message, error)
	// EntryHash and Head read the hash chain, for dispute evidence.
	EntryHash(seq uint64) (string, error)
	Head() (seq uint64, hash string, err error)
	// Journal reads the journal from a position for followers (statistics, fraud counters).
	Journal(from uint64, max int) ([]domain.JournalEntry, uint64, error)
}

// Inbound is one SMS from a subscriber. From is the canonical E.164 identity
// (commands.Sender derives it from the SMSC's address and TON before the engine).
type Inbound struct {
	From, To string
	Text     string
	Received time.Time
}

// Limits of one KYC tier, in minor units (0: no limit). The ledger enforces them all with
// the transfers; the engine reads them to answer BAL and to word a SEND refusal early.
type Limits struct {
	PerTx, Daily, MaxBalance uint64
	CanSend                  bool
}

// DefaultTiers are the tiers when the configuration names none.
func DefaultTiers() map[uint8]Limits {
	return map[uint8]Limits{
		1: {PerTx: 10000, Daily: 20000, MaxBalance: 50000},
		2: {PerTx: 50000, Daily: 100000, MaxBalance: 200000, CanSend: true},
		3: {PerTx: 200000, Daily: 500000, MaxBalance: 1000000, CanSend: true},
	}
}

// LedgerTiers are the tiers as the ledger writer enforces them.
func LedgerTiers(tiers map[uint8]Limits) map[uint8]domain.TierLimits {
	if tiers == nil {
		tiers = DefaultTiers()
	}
	out := make(map[uint8]domain.TierLimits, len(tiers))
	for k, v := range tiers {
		out[k] = domain.TierLimits{PerPayment: v.PerTx, Daily: v.Daily, MaxBalance: v.MaxBalance, MaySend: v.CanSend}
	}
	return out
}

// Band is one line of a fee table: amounts up to UpTo pay Fee.
type Band struct{ UpTo, Fee uint64 }

// Config is what the engine needs to know.
type Config struct {
	ShortCode  string
	Currency   string
	Exponent   uint8
	Region     string
	PINKey     []byte // from config or environment, never the ledger file
	ReceiptKey []byte
	LockAfter  int           // wrong PINs before lockout (default 3)
	LockFor    time.Duration // the first lockout (default 30m); each next one lasts twice as long
	// LockForever: after this many lockouts in a row the purse stays locked until an operator
	// unlocks it (default 5).
	LockForever int
	Dedupe      time.Duration // identical SMS inside this window are the same (default 6h)
	Tiers       map[uint8]Limits
	Fees        map[uint16][]Band // by transfer code; no table: no fee
	ClaimFor    time.Duration     // how long money sent to an unregistered number waits (default 7 days)
	// ConfirmAbove asks for YES <code> before paying more than this (minor units; 0: never).
	ConfirmAbove uint64
	ConfirmFor   time.Duration // how long a confirmation code lives (default 5 min)
	// ActivationFor is how long a one-time code to set a PIN lives (default 24h).
	ActivationFor time.Duration
	Location      *time.Location // for times in replies (default UTC)
	// MOPerMinute and MOBurst limit what one number may text (0: no limit); beyond them its
	// MO wait at the SMSC (a temporary error) and it is told once a minute.
	MOPerMinute, MOBurst int
	// Merchants' payments: how long a request to pay and a web checkout wait (default 15
	// min each), the most one checkout charges and one number pays by checkout in a calendar
	// month (minor units; 0: no cap), the checkout codes one number gets per hour (default
	// 5), and the public base URL of the checkout pages.
	RequestFor, CheckoutFor      time.Duration
	CheckoutMax, CheckoutMonthly uint64
	CodesPerHour                 int
	CheckoutURL                  string
	// HoldFor is how long an mCredit authorisation holds (default 7 days); CreditMinTier the
	// lowest tier granted a credit line (default 2).
	HoldFor       time.Duration
	CreditMinTier uint8
	// BankTries is how many attempts without a sure answer an mDebit gets before it is
	// reversed (default 5).
	BankTries int
	// BankConfigured: a bank connector is configured ([bank] addr), so RECEIVE BANK may be
	// chosen even where this engine does not dial it (the CLI; the daemon does).
	BankConfigured bool
	// WebhookRetry is the wait before each next attempt of a webhook delivery that failed
	// (default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 24 h: about three days).
	WebhookRetry []time.Duration
	// Privacy: how long records are kept after the relationship ends (years, for the DATA
	// reply and the export), how long a DATA link lives, DATA requests per number per day.
	RetentionYears int
	DataLinkFor    time.Duration
	DataPerDay     int
	// Disputes: return requests (REV) and dispute cases.
	Disputes DisputeConfig
	// Loyalty is the points programme; nil: none runs.
	Loyalty *loyalty.Programme
	// Marketing is how campaigns reach members who opted in.
	Marketing MarketingConfig
	// Mail is how merchants' e-mail notices and statements are queued and retried.
	Mail MailConfig
	// Fraud is how the fraud rules score payments (off by default).
	Fraud FraudConfig
	// Orders bounds saved bills and standing orders and says when the runs go.
	Orders OrdersConfig
	Now    func() time.Time

	// Settlement is how merchants are paid into their bank accounts.
	Settlement SettlementConfig
}

// Engine handles inbound SMS.
type Engine struct {
	cfg   Config
	l     Ledger
	locks [256]sync.Mutex // one subscriber's messages are handled one at a time
	flood floodGate
	// Keyed HMAC states, reused.
	pinMACs, receiptMACs *macPool
	bank                 Bank          // nil: DEBIT is not available
	bankWake             chan struct{} // a DEBIT was confirmed: the bank worker looks now
	bankStats            BankStats
	hooks                sync.Map // merchant account -> hookEntry
	hookGen, hookCount   atomic.Int64
	hookCursor           atomic.Uint64 // the endpoint the next look at the webhook queue starts from
	hookFailures         sync.Map      // merchant account -> *atomic.Int64: failed webhook attempts
	disputeMoves         disputeCounters
	promos               promoCache   // each merchant's promotions, by generation
	pointsAccounts       sync.Map     // number -> his points account's id
	pointsMissed         atomic.Int64 // payments that earned nothing for a fault (PointsMissed)
	// risk runs the fraud rules (nil: off); riskCache keeps payees' activities at hand.
	risk      *fraud.Engine
	riskCache riskCache
	decided   [fraud.Decline + 1]atomic.Int64 // decisions kept, by action
	unscored  atomic.Int64                    // payments that went on unscored: an activity unreadable
	// followedPos: the statistics follower's position as this engine last saw it, at
	// followedAt (unix nanos).
	followedPos atomic.Uint64
	followedAt  atomic.Int64
	// statsLag: journal entries the statistics follower had still to read after its last pass.
	statsLag atomic.Int64
	// voice: confirmation calls can be made (the [voice] worker runs); voiceWake: a call
	// was queued, the voice worker looks now.
	voice     atomic.Bool
	voiceWake chan struct{}
}

// New makes an engine for the daemon; the keys must be set.
func New(cfg Config, l Ledger) (*Engine, error) {
	if len(cfg.PINKey) < 16 || len(cfg.ReceiptKey) < 16 {
		return nil, errors.New("engine: PIN and receipt keys must be at least 16 bytes")
	}
	if cfg.Fraud.Rules.Enabled {
		if _, err := fraud.New(cfg.Fraud.Rules); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	return NewAdmin(cfg, l), nil
}

// NewAdmin makes an engine for operator commands run without the daemon, where the keys may
// be missing: the commands that need one say so.
func NewAdmin(cfg Config, l Ledger) *Engine {
	if cfg.LockAfter <= 0 {
		cfg.LockAfter = 3
	}
	if cfg.LockFor <= 0 {
		cfg.LockFor = 30 * time.Minute
	}
	if cfg.LockForever <= 0 {
		cfg.LockForever = 5
	}
	if cfg.Dedupe <= 0 {
		cfg.Dedupe = 6 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClaimFor <= 0 {
		cfg.ClaimFor = 7 * 24 * time.Hour
	}
	if cfg.ConfirmFor <= 0 {
		cfg.ConfirmFor = 5 * time.Minute
	}
	if cfg.ActivationFor <= 0 {
		cfg.ActivationFor = 24 * time.Hour
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Tiers == nil {
		cfg.Tiers = DefaultTiers()
	}
	if cfg.RequestFor <= 0 {
		cfg.RequestFor = 15 * time.Minute
	}
	if cfg.CheckoutFor <= 0 {
		cfg.CheckoutFor = 15 * time.Minute
	}
	if cfg.CodesPerHour == 0 {
		cfg.CodesPerHour = 5
	}
	if cfg.BankTries <= 0 {
		cfg.BankTries = 5
	}
	if cfg.HoldFor <= 0 {
		cfg.HoldFor = 7 * 24 * time.Hour
	}
	if len(cfg.WebhookRetry) == 0 {
		cfg.WebhookRetry = retrySchedule
	}
	cfg.Disputes.defaults()
	if cfg.CreditMinTier == 0 {
		cfg.CreditMinTier = 2
	}
	cfg = privacyDefaults(cfg)
	cfg.Marketing.defaults(cfg.Location)
	cfg.Orders.defaults()
	e := &Engine{cfg: cfg, l: l, pinMACs: newMACPool(cfg.PINKey), receiptMACs: newMACPool(cfg.ReceiptKey), bankWake: make(chan struct{}, 1), voiceWake: make(chan struct{}, 1)}
	if cfg.Fraud.Rules.Enabled {
		e.risk, _ = fraud.New(cfg.Fraud.Rules) // New refused a rule set that does not validate
	}
	return e
}

func (e *Engine) lock(msisdn string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(msisdn))
	return &e.locks[h.Sum32()%uint32(len(e.locks))]
}

// ErrBusy is a temporary failure: the SMSC should deliver the message again later.
var ErrBusy = errors.New("engine busy")

// ErrNotSubscriber is returned for an SMS whose sender is not a canonical phone number: it
// never owns money and gets no command run. The caller acknowledges it (redelivering it
// would change nothing) and counts it.
var ErrNotSubscriber = errors.New("sender is not a phone number")

// errConflict: the ledger refused a profile write computed from a read that is now stale
// (an operator or another daemon changed it); the turn is computed again.
var errConflict = errors.New("profile changed meanwhile")

// errFreshCode: a YES/NO <code> is the same text as one taken earlier, yet its code is one
// waiting now, so it cannot be a copy of that one (see turn.freshAnswer).
var errFreshCode = errors.New("the same text answers a new code")

// maxTurns bounds how often one SMS is computed again after a conflict.
const maxTurns = 4

// Handle runs one SMS. It returns nil only when its effect and replies are durable.
func (e *Engine) Handle(ctx context.Context, in Inbound) error {
	if !domain.IsMSISDN(in.From) {
		return fmt.Errorf("%w: %q", ErrNotSubscriber, in.From)
	}
	if len(e.cfg.PINKey) < 16 {
		return fmt.Errorf("%w: no PIN key", ErrBusy)
	}
	if ferr := e.admit(in.From); ferr != nil {
		if ferr.First {
			if err := e.floodNotice(ctx, in.From); err != nil {
				return fmt.Errorf("%w: %v", ErrBusy, err)
			}
		}
		return ferr
	}
	mu := e.lock(in.From)
	mu.Lock()
	defer mu.Unlock()
	key, salted := e.dedupeKey(in), false
	var t *turn
	for try := 0; ; try++ {
		t = &turn{e: e, in: in, dedupeKey: key, salted: salted}
		if err := t.load(); err != nil {
			return fmt.Errorf("%w: %v", ErrBusy, err)
		}
		job := t.run()
		err := t.submit(ctx, job)
		if errors.Is(err, errConflict) && try < maxTurns {
			e.promos.forget() // what was read stale may be a promotion: read them afresh
			continue
		}
		if errors.Is(err, errFreshCode) && !salted {
			key, salted = t.freshKey, true
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	if t.toBank {
		e.wakeBank()
	}
	if t.onCase != nil {
		e.counted(t.onCase, 0)
	}
	// Money held for this number goes to its purse once it has one. A claim that fails now
	// is tried again with the subscriber's next message; the SMS itself is already durable.
	if t.holds > 0 && (t.purse != nil || t.cmd.Kind == commands.Reg) {
		_ = e.claim(ctx, in.From, t.cmd.Kind == commands.Reg)
	}
	return nil
}

// dedupeKey identifies a message by sender, recipient and text with a keyed MAC: nothing in
// the file lets anyone recover a text (and the PIN in it) by trying candidates.
func (e *Engine) dedupeKey(in Inbound) string {
	sum := e.pinMACs.sum([]byte("dedupe\x00"), []byte(in.From), []byte{0}, []byte(in.To), []byte{0}, []byte(in.Text))
	return string(sum[:16]) // 16 raw bytes: the key is stored twice per message
}

// turn is the handling of one SMS.
type turn struct {
	e         *Engine
	in        Inbound
	dedupeKey string
	salted    bool   // dedupeKey names the code answered (errFreshCode)
	freshKey  string // the key to use when the text answers a new code
	purse     *domain.Account
	prof      profile
	profVer   uint64 // the version of the profile read: the write names it
	hasProf   bool
	lang      commands.Lang
	cmd       commands.Command
	replies   []domain.Message
	profDirty bool
	// onRefusal, when set, is the profile to write if the ledger refuses the job: the profile
	// as it was before the job recorded a confirmation.
	onRefusal *[]domain.Profile
	// onRefused, when set, takes the place of onRefusal and knows the ledger's reason (a
	// merchant's payment is refused with it).
	onRefused func(*domain.RefusedError) []domain.Profile
	audit     *domain.Audit
	// repeat is what a redelivered copy of this SMS will be told (the dedupe record).
	repeat repeatRecord
	// payee of a payment, for a refusal naming whose limit it is, and its account.
	payeeName string
	payee     uint64
	holds     int  // money held for this number when the SMS came
	toBank    bool // the job queues an mDebit: wake the bank worker once it is durable
	// payeeBank is the payee's bank account (masked) a SEND goes on to (RECEIVE BANK), and
	// sweep his profile as read, the guard of the transfer that takes it there.
	payeeBank string
	sweep     *domain.Profile
	// terms of the credit line as the rule book read them (ruleLine), at termsVer; termsRead
	// says they were.
	// discountAt is 1 + the index of the job's discount transfer (0: none): the budget
	// running out meanwhile makes the step computed again, without the discount.
	discountAt int
	credited   uint64 // what a discounted payment's merchant receives (the price), for its notice
	// rerun: the SMS sets a state or asks one (STOP, START, PROMO, LANG, POINTS, OFFERS, JOIN,
	// LEAVE), so the same text sent again later runs again: STOP after START after STOP
	// takes effect, and a copy redelivered does no harm.
	rerun bool
	// askDiscount is the discount of a payment asked to be confirmed (askConfirm keeps it).
	askDiscount *domain.PaymentDiscount
	terms       creditTerms
	termsVer    uint64
	termsRead   bool
	// retry: what the sender is told and whether a guess was counted, for whether a copy
	// of this SMS may run again (commit.go).
	retry retryState
	// onCase is a dispute case the job opens: counted once it is durable.
	onCase *domain.Dispute
	// scored: the payer's purse as the fraud rules scored it (the job's guard); decision:
	// what they decided, to keep; holdIt: a merchant's payment to hold for a review.
	scored   *domain.AccountAt
	decision *FraudDecision
	holdIt   bool
	// sOrder is the standing order this turn pays (no SMS: the scheduler), runID the id its
	// payment gets, derived from the order and its due date.
	sOrder *standingOrder
	runID  domain.ID
}

func (t *turn) load() error {
	st, err := t.e.l.Owner(t.in.From)
	if err != nil {
		return err
	}
	for _, a := range st.Accounts {
		if a.Kind == domain.KindPurse {
			t.purse = &a
			break
		}
	}
	t.holds = st.Holds
	b := st.Profile
	t.profVer = st.ProfileVersion
	if b != nil {
		if err := json.Unmarshal(b, &t.prof); err != nil {
			return fmt.Errorf("profile of %s: %w", domain.Mask(t.in.From), err)
		}
		t.hasProf = true
	}
	return nil
}

func (t *turn) money(v uint64) domain.Money {
	return domain.Money{Minor: v, Currency: t.e.cfg.Currency, Exponent: t.e.cfg.Exponent}
}

// reply queues a reply to the sender in their language.
func (t *turn) reply(r commands.Reply, a commands.Args) {
	t.replyTo(t.in.From, t.lang, r, a)
}

func (t *turn) replyTo(to string, l commands.Lang, r commands.Reply, a commands.Args) {
	if a.Currency == "" {
		a.Currency = t.e.cfg.Currency
	}
	t.retry.said = append(t.retry.said, r)
	text := commands.Render(l, r, a)
	if t.sOrder != nil && to == t.in.From {
		text = t.runHeading() + " " + text // a run nobody texted for: say which order it is
	}
	t.replies = append(t.replies, domain.Message{From: t.e.cfg.ShortCode, To: to, Text: text})
}

// run decides what the SMS does and returns the job that does it.
func (t *turn) run() domain.Job {
	if on, l, _, ok := commands.StopWord(t.in.Text); ok {
		t.rerun = true
		return t.stopWord(on, l)
	}
	c, err := commands.Parse(t.in.Text, commands.Options{Currency: t.e.cfg.Currency, Exponent: t.e.cfg.Exponent, Region: t.e.cfg.Region})
	t.lang = t.prof.Lang
	var pe *commands.ParseError
	if errors.As(err, &pe) {
		if !t.prof.LangSet && pe.Kind != 0 {
			t.lang = pe.Lang
		}
		r, a := commands.ForParseError(pe)
		t.reply(r, a)
		return domain.Job{}
	}
	t.cmd = c
	if !t.prof.LangSet {
		t.lang = c.Lang
	}
	switch c.Kind {
	case commands.Help:
		if c.Topic != 0 {
			t.reply(commands.RHelpTopic, commands.Args{Topic: c.Topic})
		} else {
			t.reply(commands.RHelp, commands.Args{})
		}
		return domain.Job{}
	case commands.Check:
		return t.check()
	case commands.Reg:
		return t.register()
	case commands.Capture, commands.Void:
		return t.merchantHold() // a merchant's phone, with no purse or PIN of its own
	}
	if t.purse == nil {
		t.reply(commands.RNotRegistered, commands.Args{})
		return domain.Job{}
	}
	if t.purse.Status == domain.StatusClosed {
		t.reply(commands.RAccountClosed, commands.Args{})
		return domain.Job{}
	}
	if c.Kind == commands.PIN && t.prof.Activation != nil {
		return t.activate()
	}
	if c.Kind == commands.Block { // no PIN: a stolen phone must be stoppable at once
		if t.purse.Status != domain.StatusBlocked {
			t.audit = &domain.Audit{Actor: t.in.From, Action: "subscriber block"}
			t.reply(commands.RBlocked, commands.Args{})
			return t.withProfile(domain.Job{Status: []domain.StatusChange{{Account: t.purse.ID, Status: domain.StatusBlocked}}})
		}
		t.reply(commands.RBlocked, commands.Args{})
		return domain.Job{}
	}
	switch c.Kind {
	case commands.Language, commands.Promo, commands.Points, commands.Offers, commands.Join, commands.Leave, commands.ConfirmBy, commands.Receive:
		t.rerun = true
	}
	if c.Kind == commands.Receive { // no PIN, as PROMO: the money stays his either way
		return t.receive()
	}
	if c.Kind == commands.Language {
		t.prof.Lang, t.prof.LangSet, t.profDirty = c.Target, true, true
		t.lang = c.Target
		t.reply(commands.RLangSet, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	if c.Kind == commands.Promo {
		if c.On {
			return t.promo(true, commands.RPromoOn)
		}
		return t.promo(false, commands.RPromoOff)
	}
	if c.Kind == commands.Yes || c.Kind == commands.No || c.Kind == commands.Ok {
		if job, ok := t.answerReturn(c.Kind != commands.No); ok {
			return job
		}
		if job, ok := t.answerErasure(c.Kind != commands.No); ok {
			return job
		}
		return t.confirm(c.Kind != commands.No)
	}
	if c.Kind == commands.Dispute { // no PIN, as the spec writes it: anyone may complain
		return t.openCaseBySMS()
	}
	if c.Kind == commands.Offers || c.Kind == commands.Join || c.Kind == commands.Leave { // no PIN: nothing moves
		switch {
		case t.purse == nil:
			t.reply(commands.RNotRegistered, commands.Args{})
			return domain.Job{}
		case c.Kind == commands.Offers:
			return t.offers()
		}
		return t.joinOrLeave(c.Kind == commands.Join)
	}
	if !t.authenticate() {
		return t.withProfile(domain.Job{})
	}
	switch c.Kind {
	case commands.Bal:
		t.repeat.Kind = repeatQuery
		return t.balance()
	case commands.Mini:
		t.repeat.Kind = repeatQuery
		return t.mini()
	case commands.PIN:
		return t.changePIN()
	case commands.Pay, commands.Bill:
		return t.guard(t.pay())
	case commands.Send:
		return t.guard(t.send())
	case commands.Debit:
		return t.guard(t.debit())
	case commands.Credit:
		return t.guard(t.authorise())
	case commands.Statement:
		t.repeat.Kind = repeatQuery
		return t.statement()
	case commands.Repay:
		return t.guard(t.repay())
	case commands.Data:
		return t.data()
	case commands.Points:
		return t.points()
	case commands.Stats:
		return t.spendStats()
	case commands.Settings:
		t.repeat.Kind = repeatQuery
		return t.settings()
	case commands.Erase:
		return t.askErasure()
	case commands.Rev:
		return t.askReturn()
	case commands.ConfirmBy:
		return t.confirmBy(c.On)
	case commands.Every:
		return t.guard(t.makeOrder())
	case commands.Orders:
		t.repeat.Kind = repeatQuery
		return t.listOrders()
	case commands.StopOrder:
		return t.stopOrder()
	}
	t.reply(commands.RHelp, commands.Args{})
	return domain.Job{}
}
