// Package engine turns one inbound SMS into one ledger job: it parses the text with
// commands, authenticates the subscriber (PIN as a keyed HMAC, lockout), applies limits and
// fees, and submits the transfers, every reply, the dedupe record and the audit entry as one
// job. Handle returns nil only when that job is durable.
package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"mpg/commands"
	"mpg/ledger"
)

// Ledger is what the engine needs of the books.
type Ledger interface {
	Submit(ctx context.Context, job ledger.Job) (ledger.Result, error)
	Account(id uint64) (ledger.Account, error)
	AccountsOf(owner string) []ledger.Account
	History(account uint64, limit int, before uint64) ([]ledger.Transfer, error)
	Profile(owner string) ([]byte, error)
	TransferAt(seq uint64) (ledger.Transfer, error)
	Transfer(id ledger.ID) (ledger.Transfer, error)
}

// Inbound is one SMS from a subscriber.
type Inbound struct {
	From, To string
	Text     string
	Received time.Time
}

// Transfer codes the engine writes (the CLI's top-up is 1).
const (
	CodeTopup uint16 = 1
	CodePay   uint16 = 2
	CodeBill  uint16 = 3
	CodeSend  uint16 = 4
	CodeFee   uint16 = 5
	CodeHold  uint16 = 6 // SEND to a number with no purse: pending to escrow until claimed
	CodeClaim uint16 = 7 // escrow to the new purse when the payee registers
)

// Limits of one KYC tier, in minor units.
type Limits struct {
	PerTx, Daily, MaxBalance uint64
	CanSend                  bool
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
	LockFor    time.Duration // (default 30m)
	Dedupe     time.Duration // identical SMS inside this window are the same (default 2m)
	Tiers      map[uint8]Limits
	Fees       map[uint16][]Band // by transfer code; no table: no fee
	ClaimFor   time.Duration     // how long money sent to an unregistered number waits (default 7 days)
	// ConfirmAbove asks for YES <code> before paying more than this (minor units; 0: never).
	ConfirmAbove uint64
	ConfirmFor   time.Duration // how long a confirmation code lives (default 5 min)
	Now          func() time.Time
}

// Engine handles inbound SMS.
type Engine struct {
	cfg   Config
	l     Ledger
	locks [256]sync.Mutex // one subscriber's messages are handled one at a time
}

// New makes an engine; keys must be set.
func New(cfg Config, l Ledger) (*Engine, error) {
	if len(cfg.PINKey) < 16 || len(cfg.ReceiptKey) < 16 {
		return nil, errors.New("engine: PIN and receipt keys must be at least 16 bytes")
	}
	if cfg.LockAfter <= 0 {
		cfg.LockAfter = 3
	}
	if cfg.LockFor <= 0 {
		cfg.LockFor = 30 * time.Minute
	}
	if cfg.Dedupe <= 0 {
		cfg.Dedupe = 2 * time.Minute
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
	if cfg.Tiers == nil {
		cfg.Tiers = map[uint8]Limits{
			1: {PerTx: 10000, Daily: 20000, MaxBalance: 50000},
			2: {PerTx: 50000, Daily: 100000, MaxBalance: 200000, CanSend: true},
			3: {PerTx: 200000, Daily: 500000, MaxBalance: 1000000, CanSend: true},
		}
	}
	return &Engine{cfg: cfg, l: l}, nil
}

// profile is the engine's per-subscriber record, kept in the ledger file.
type profile struct {
	PINMAC      string        `json:"pin_mac"`
	Lang        commands.Lang `json:"lang"`
	LangSet     bool          `json:"lang_set"`
	Promo       bool          `json:"promo"`
	Fails       int           `json:"fails"`
	LockedUntil int64         `json:"locked_until"`
	// Spent is what the purse paid out in each of the last 24 hours (Spent[h%24] for unix
	// hour h), SpentHour the hour of the newest entry: the rolling 24-hour limit without
	// reading the history.
	Spent     [24]uint64 `json:"spent"`
	SpentHour int64      `json:"spent_hour"`
	// Holds are payments waiting for this number to register (pending transfer ids).
	Holds []string `json:"holds,omitempty"`
	// Confirm is the payment waiting for YES <code> from this number.
	Confirm *confirmation `json:"confirm,omitempty"`
}

// maxHolds bounds the payments one unregistered number can be waiting for.
const maxHolds = 8

// roll forgets the hours that left the 24-hour window ending at hour now.
func (p *profile) roll(now int64) {
	if now-p.SpentHour >= 24 {
		p.Spent = [24]uint64{}
	} else {
		for h := p.SpentHour + 1; h <= now; h++ {
			p.Spent[h%24] = 0
		}
	}
	if now > p.SpentHour {
		p.SpentHour = now
	}
}

func (p *profile) spent(now int64) uint64 {
	q := *p
	q.roll(now)
	var sum uint64
	for _, v := range q.Spent {
		sum += v
	}
	return sum
}

func (p *profile) addSpend(now int64, amount uint64) {
	p.roll(now)
	p.Spent[now%24] += amount
}

func (e *Engine) lock(msisdn string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(msisdn))
	return &e.locks[h.Sum32()%uint32(len(e.locks))]
}

// ErrBusy is a temporary failure: the SMSC should deliver the message again later.
var ErrBusy = errors.New("engine busy")

// Handle runs one SMS. It returns nil only when its effect and replies are durable.
func (e *Engine) Handle(ctx context.Context, in Inbound) error {
	mu := e.lock(in.From)
	mu.Lock()
	defer mu.Unlock()
	sum := sha256.Sum256([]byte(in.Text))
	t := &turn{e: e, in: in, dedupeKey: in.From + "|" + in.To + "|" + hex.EncodeToString(sum[:12])}
	if err := t.load(); err != nil {
		return fmt.Errorf("%w: %v", ErrBusy, err)
	}
	job := t.run()
	if err := t.submit(ctx, job); err != nil {
		return err
	}
	// Money held for this number goes to its purse once it has one. A claim that fails now
	// is retried with the subscriber's next message; the SMS itself is already durable.
	if t.purse != nil || t.cmd.Kind == commands.Reg {
		_ = e.claim(ctx, in.From)
	}
	return nil
}

// turn is the handling of one SMS.
type turn struct {
	e         *Engine
	in        Inbound
	dedupeKey string
	purse     *ledger.Account
	prof      profile
	hasProf   bool
	lang      commands.Lang
	cmd       commands.Command
	replies   []ledger.Message
	profDirty bool
	// onRefusal, when set, is the profile to write if the ledger refuses the job: the profile
	// as it was before the job counted a spend or recorded a confirmation.
	onRefusal *[]ledger.Profile
	audit     *ledger.Audit
}

// keepForRefusal remembers the profile as it is now, for the refusal path.
func (t *turn) keepForRefusal() {
	p := t.withProfile(ledger.Job{}).Profiles
	t.onRefusal = &p
}

func (t *turn) load() error {
	for _, a := range t.e.l.AccountsOf(t.in.From) {
		if a.Kind == ledger.KindPurse {
			t.purse = &a
			break
		}
	}
	b, err := t.e.l.Profile(t.in.From)
	if err != nil {
		return err
	}
	if b != nil {
		if err := json.Unmarshal(b, &t.prof); err != nil {
			return fmt.Errorf("profile of %s: %w", t.in.From, err)
		}
		t.hasProf = true
	}
	return nil
}

func (t *turn) money(v uint64) commands.Money {
	return commands.Money{Minor: v, Currency: t.e.cfg.Currency, Exponent: t.e.cfg.Exponent}
}

// reply queues a reply to the sender in their language.
func (t *turn) reply(r commands.Reply, a commands.Args) {
	t.replyTo(t.in.From, t.lang, r, a)
}

func (t *turn) replyTo(to string, l commands.Lang, r commands.Reply, a commands.Args) {
	if a.Currency == "" {
		a.Currency = t.e.cfg.Currency
	}
	t.replies = append(t.replies, ledger.Message{From: t.e.cfg.ShortCode, To: to, Text: commands.Render(l, r, a)})
}

// run decides what the SMS does and returns the job that does it.
func (t *turn) run() ledger.Job {
	c, err := commands.Parse(t.in.Text, commands.Options{Currency: t.e.cfg.Currency, Exponent: t.e.cfg.Exponent, Region: t.e.cfg.Region})
	t.lang = t.prof.Lang
	var pe *commands.ParseError
	if errors.As(err, &pe) {
		if !t.prof.LangSet && pe.Kind != 0 {
			t.lang = pe.Lang
		}
		r, a := commands.ForParseError(pe)
		t.reply(r, a)
		return ledger.Job{}
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
		return ledger.Job{}
	case commands.Check:
		return t.check()
	case commands.Reg:
		return t.register()
	case commands.Debit, commands.Credit, commands.Statement, commands.Repay:
		t.reply(commands.RNotAvailable, commands.Args{Arg: c.Kind.String()})
		return ledger.Job{}
	}
	if t.purse == nil {
		t.reply(commands.RNotRegistered, commands.Args{})
		return ledger.Job{}
	}
	if c.Kind == commands.Block { // no PIN: a stolen phone must be stoppable at once
		if t.purse.Status != ledger.StatusBlocked {
			t.audit = &ledger.Audit{Actor: t.in.From, Action: "subscriber block"}
			t.reply(commands.RBlocked, commands.Args{})
			return t.withProfile(ledger.Job{Status: []ledger.StatusChange{{Account: t.purse.ID, Status: ledger.StatusBlocked}}})
		}
		t.reply(commands.RBlocked, commands.Args{})
		return ledger.Job{}
	}
	if c.Kind == commands.Language {
		t.prof.Lang, t.prof.LangSet, t.profDirty = c.Target, true, true
		t.lang = c.Target
		t.reply(commands.RLangSet, commands.Args{})
		return t.withProfile(ledger.Job{})
	}
	if c.Kind == commands.Promo {
		t.prof.Promo, t.profDirty = c.On, true
		if c.On {
			t.reply(commands.RPromoOn, commands.Args{})
		} else {
			t.reply(commands.RPromoOff, commands.Args{})
		}
		return t.withProfile(ledger.Job{})
	}
	if c.Kind == commands.Yes || c.Kind == commands.No {
		return t.confirm(c.Kind == commands.Yes)
	}
	if !t.authenticate() {
		return t.withProfile(ledger.Job{})
	}
	switch c.Kind {
	case commands.Bal:
		return t.balance()
	case commands.Mini:
		return t.mini()
	case commands.PIN:
		t.prof.PINMAC, t.profDirty = t.e.pinMAC(t.in.From, c.NewPIN), true
		t.audit = &ledger.Audit{Actor: t.in.From, Action: "pin change"}
		t.reply(commands.RPINChanged, commands.Args{})
		return t.withProfile(ledger.Job{})
	case commands.Pay, commands.Bill:
		return t.pay()
	case commands.Send:
		return t.send()
	}
	t.reply(commands.RHelp, commands.Args{})
	return ledger.Job{}
}

func (t *turn) withProfile(j ledger.Job) ledger.Job {
	if t.profDirty {
		b, _ := json.Marshal(t.prof)
		j.Profiles = append(j.Profiles, ledger.Profile{Owner: t.in.From, Data: b})
	}
	return j
}

func (e *Engine) pinMAC(msisdn, pin string) string {
	m := hmac.New(sha256.New, e.cfg.PINKey)
	m.Write([]byte(msisdn + ":" + pin))
	return hex.EncodeToString(m.Sum(nil))
}

// authenticate checks the PIN, counts failures and locks after LockAfter of them.
func (t *turn) authenticate() bool {
	now := t.e.cfg.Now().UnixNano()
	if t.prof.LockedUntil > now {
		t.reply(commands.RLocked, commands.Args{N: int(time.Duration(t.prof.LockedUntil-now).Minutes()) + 1})
		return false
	}
	if t.purse.Status == ledger.StatusBlocked && t.cmd.Kind != commands.Bal && t.cmd.Kind != commands.Mini {
		t.reply(commands.RAccountBlocked, commands.Args{})
		return false
	}
	want, _ := hex.DecodeString(t.prof.PINMAC)
	got, _ := hex.DecodeString(t.e.pinMAC(t.in.From, t.cmd.PIN))
	if len(want) > 0 && hmac.Equal(want, got) {
		if t.prof.Fails != 0 || t.prof.LockedUntil != 0 {
			t.prof.Fails, t.prof.LockedUntil, t.profDirty = 0, 0, true
		}
		return true
	}
	t.prof.Fails++
	t.profDirty = true
	if t.prof.Fails >= t.e.cfg.LockAfter {
		t.prof.Fails, t.prof.LockedUntil = 0, now+int64(t.e.cfg.LockFor)
		t.audit = &ledger.Audit{Actor: t.in.From, Action: "pin lockout", Detail: t.e.cfg.LockFor.String()}
		t.reply(commands.RLocked, commands.Args{N: int(t.e.cfg.LockFor.Minutes())})
		return false
	}
	t.reply(commands.RWrongPIN, commands.Args{N: t.e.cfg.LockAfter - t.prof.Fails})
	return false
}

func (t *turn) register() ledger.Job {
	if t.purse != nil {
		t.reply(commands.RAlreadyRegistered, commands.Args{})
		return ledger.Job{}
	}
	// A number that was sent money before registering keeps its holds: they are claimed next.
	t.prof = profile{PINMAC: t.e.pinMAC(t.in.From, t.cmd.PIN), Lang: t.lang, LangSet: t.hasProf && t.prof.LangSet, Holds: t.prof.Holds}
	t.profDirty = true
	t.reply(commands.RWelcome, commands.Args{Name: t.cmd.Name, Balance: t.money(0)})
	t.audit = &ledger.Audit{Actor: t.in.From, Action: "register"}
	return t.withProfile(ledger.Job{Open: []ledger.AccountSpec{{Currency: t.e.cfg.Currency, Kind: ledger.KindPurse,
		Owner: t.in.From, Name: t.cmd.Name, Tier: 1}}})
}

func (t *turn) balance() ledger.Job {
	lim := t.e.cfg.Tiers[t.purse.Tier]
	spent, _ := t.spentToday()
	left := uint64(0)
	if lim.Daily > spent {
		left = lim.Daily - spent
	}
	t.reply(commands.RBalance, commands.Args{Balance: t.money(uint64(max(0, t.purse.Available()))), Limit: t.money(left)})
	return t.withProfile(ledger.Job{})
}

func (t *turn) mini() ledger.Job {
	h, err := t.e.l.History(t.purse.ID, 5, 0)
	if err != nil || len(h) == 0 {
		t.reply(commands.RMiniEmpty, commands.Args{Balance: t.money(uint64(max(0, t.purse.Available())))})
		return t.withProfile(ledger.Job{})
	}
	var lines []string
	for _, tr := range h {
		sign := "+"
		if tr.Debit == t.purse.ID {
			sign = "-"
		}
		amt := t.money(tr.Amount).Format(t.lang)
		lines = append(lines, fmt.Sprintf("%s %s%s", time.Unix(0, tr.Timestamp).UTC().Format("02/01"), sign, amt))
	}
	t.reply(commands.RMini, commands.Args{Lines: lines, Balance: t.money(uint64(max(0, t.purse.Available())))})
	return t.withProfile(ledger.Job{})
}

// spentToday is what the purse paid out over the last 24 hours (fees not counted).
func (t *turn) spentToday() (uint64, error) {
	return t.prof.spent(t.hour()), nil
}

func (t *turn) hour() int64 { return t.e.cfg.Now().Unix() / 3600 }

func (t *turn) fee(code uint16, amount uint64) uint64 {
	for _, b := range t.e.cfg.Fees[code] {
		if amount <= b.UpTo {
			return b.Fee
		}
	}
	return 0
}

// limitsOK applies the payer's tier; it queues the refusal reply when not.
func (t *turn) limitsOK(amount uint64) bool {
	lim, ok := t.e.cfg.Tiers[t.purse.Tier]
	if !ok {
		t.reply(commands.RLimitExceeded, commands.Args{Amount: t.money(0)})
		return false
	}
	spent, err := t.spentToday()
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return false
	}
	if amount > lim.PerTx || spent+amount > lim.Daily {
		left := uint64(0)
		if lim.Daily > spent {
			left = min(lim.Daily-spent, lim.PerTx)
		}
		t.reply(commands.RLimitExceeded, commands.Args{Amount: t.money(left)})
		return false
	}
	return true
}

func (t *turn) system(owner string) *ledger.Account {
	for _, a := range t.e.l.AccountsOf(owner) {
		if a.Currency == t.e.cfg.Currency {
			return &a
		}
	}
	return nil
}

func (t *turn) pay() ledger.Job {
	c := t.cmd
	kind, code, unknown := ledger.KindMerchant, CodePay, commands.RUnknownMerchant
	if c.Kind == commands.Bill {
		kind, code, unknown = ledger.KindBiller, CodeBill, commands.RUnknownBiller
	}
	var payee *ledger.Account
	for _, a := range t.e.l.AccountsOf(c.Merchant) {
		if a.Kind == kind && a.Currency == t.e.cfg.Currency {
			payee = &a
		}
	}
	if payee == nil || payee.Status != ledger.StatusActive {
		t.reply(unknown, commands.Args{Arg: c.Merchant})
		return t.withProfile(ledger.Job{})
	}
	if !t.limitsOK(c.Amount) {
		return t.withProfile(ledger.Job{})
	}
	ref := c.Ref
	if c.Kind == commands.Bill {
		ref = c.Account
	}
	return t.move(code, payee, c.Amount, ref)
}

func (t *turn) send() ledger.Job {
	c := t.cmd
	if c.Phone == t.in.From {
		t.reply(commands.RSelfTransfer, commands.Args{})
		return t.withProfile(ledger.Job{})
	}
	if lim := t.e.cfg.Tiers[t.purse.Tier]; !lim.CanSend {
		t.reply(commands.RTierCannotSend, commands.Args{})
		return t.withProfile(ledger.Job{})
	}
	var payee *ledger.Account
	for _, a := range t.e.l.AccountsOf(c.Phone) {
		if a.Kind == ledger.KindPurse && a.Currency == t.e.cfg.Currency {
			payee = &a
		}
	}
	if payee == nil {
		return t.hold(c.Phone, c.Amount)
	}
	if !t.limitsOK(c.Amount) {
		return t.withProfile(ledger.Job{})
	}
	if lim := t.e.cfg.Tiers[payee.Tier]; lim.MaxBalance > 0 && uint64(max(0, payee.Available()))+c.Amount > lim.MaxBalance {
		t.reply(commands.RLimitExceeded, commands.Args{Amount: t.money(lim.MaxBalance - min(lim.MaxBalance, uint64(max(0, payee.Available()))))})
		return t.withProfile(ledger.Job{})
	}
	return t.move(CodeSend, payee, c.Amount, "")
}

// hold sends to a number with no purse: the amount waits in escrow as a pending transfer
// that times out after ClaimFor (the ledger then voids it, the money is the payer's again and
// both are told); the payee is invited to register and claim it.
func (t *turn) hold(payeeNumber string, amount uint64) ledger.Job {
	escrow := t.system("@escrow")
	var payeeProf profile
	if b, err := t.e.l.Profile(payeeNumber); err == nil && b != nil {
		json.Unmarshal(b, &payeeProf)
	}
	if escrow == nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(ledger.Job{})
	}
	if len(payeeProf.Holds) >= maxHolds {
		t.reply(commands.RLimitExceeded, commands.Args{Amount: t.money(0)})
		return t.withProfile(ledger.Job{})
	}
	if !t.limitsOK(amount) {
		return t.withProfile(ledger.Job{})
	}
	fee := t.fee(CodeSend, amount)
	id := ledger.NewID()
	ts := []ledger.Transfer{{ID: id, Debit: t.purse.ID, Credit: escrow.ID, Amount: amount, Code: CodeHold,
		Flags: ledger.Pending, Timeout: t.e.cfg.ClaimFor, Ref: payeeNumber + " " + t.lang.String()}}
	if fee > 0 {
		fees := t.system("@fees")
		if fees == nil {
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(ledger.Job{})
		}
		ts = append(ts, ledger.Transfer{ID: ledger.NewID(), Debit: t.purse.ID, Credit: fees.ID, Amount: fee, Code: CodeFee})
	}
	t.keepForRefusal()
	t.prof.addSpend(t.hour(), amount)
	t.profDirty = true
	job := t.withProfile(ledger.Job{Transfers: ts})
	payeeProf.Holds = append(payeeProf.Holds, id.String())
	pb, _ := json.Marshal(payeeProf)
	job.Profiles = append(job.Profiles, ledger.Profile{Owner: payeeNumber, Data: pb})
	e, lang, days := t.e, t.lang, int(t.e.cfg.ClaimFor.Hours()/24)
	purse, from := t.purse.ID, t.in.From
	job.Compose = func(v ledger.View, r *ledger.Result) ([]ledger.Message, error) {
		payer, _ := v.Account(purse)
		a := commands.Args{Amount: t.money(amount), Fee: t.money(fee), Balance: t.money(uint64(max(0, payer.Available()))),
			Party: mask(payeeNumber), Ref: shortRef(r.Transfers[0]), N: max(1, days)}
		return []ledger.Message{
			{From: e.cfg.ShortCode, To: from, Text: commands.Render(lang, commands.RSentHeld, a)},
			{From: e.cfg.ShortCode, To: payeeNumber, Text: commands.Render(lang, commands.RInvite, commands.Args{Amount: a.Amount, Party: mask(from), N: a.N})},
		}, nil
	}
	return job
}

// claim moves every payment held for this new subscriber into their purse, each as a
// linked post of the hold and a transfer from escrow, and tells them. A hold that lapsed
// (the ledger voided it) is dropped.
func (e *Engine) claim(ctx context.Context, msisdn string) error {
	b, err := e.l.Profile(msisdn)
	if err != nil || b == nil {
		return err
	}
	var p profile
	if err := json.Unmarshal(b, &p); err != nil || len(p.Holds) == 0 {
		return err
	}
	var purse *ledger.Account
	for _, a := range e.l.AccountsOf(msisdn) {
		if a.Kind == ledger.KindPurse {
			purse = &a
		}
	}
	if purse == nil {
		return nil
	}
	holds := p.Holds
	p.Holds = nil
	pb, _ := json.Marshal(p)
	for _, h := range holds {
		pid, err := ledger.ParseID(h)
		if err != nil {
			continue
		}
		held, err := e.l.Transfer(pid)
		if err != nil {
			continue
		}
		payer, _ := e.l.Account(held.Debit)
		money := commands.Money{Minor: held.Amount, Currency: e.cfg.Currency, Exponent: e.cfg.Exponent}
		job := ledger.Job{Transfers: []ledger.Transfer{
			{ID: claimID(pid, 0), PendingID: pid, Flags: ledger.PostPending},
			{ID: claimID(pid, 1), Debit: held.Credit, Credit: purse.ID, Amount: held.Amount, Code: CodeClaim, Ref: h[:16]},
		}, Profiles: []ledger.Profile{{Owner: msisdn, Data: pb}}}
		job.Compose = func(v ledger.View, r *ledger.Result) ([]ledger.Message, error) {
			after, _ := v.Account(purse.ID)
			return []ledger.Message{{From: e.cfg.ShortCode, To: msisdn, Text: commands.Render(p.Lang, commands.RClaimed,
				commands.Args{Amount: money, Party: mask(payer.Owner), Balance: commands.Money{Minor: uint64(max(0, after.Available())),
					Currency: e.cfg.Currency, Exponent: e.cfg.Exponent}, Ref: shortRef(r.Transfers[1])})}}, nil
		}
		_, err = e.l.Submit(ctx, job)
		var ref *ledger.RefusedError
		if err != nil && !errors.As(err, &ref) {
			return err // the hold stays listed; the next message from this number claims it
		}
	}
	if len(holds) > 0 {
		_, err = e.l.Submit(ctx, ledger.Job{Profiles: []ledger.Profile{{Owner: msisdn, Data: pb}}})
	}
	return err
}

// claimID derives the ids of a claim from the hold, so a claim retried after a crash is the
// same transfers (the ledger answers them as already done).
func claimID(pending ledger.ID, n byte) ledger.ID {
	h := sha256.Sum256(append([]byte{'c', n}, pending[:]...))
	var id ledger.ID
	copy(id[:], h[:16])
	return id
}

// ExpiryNotices is the ledger's expiry hook: when a hold lapses, the payer is told the money
// is back and the would-be payee that it is gone. It needs nothing but the configuration,
// so the ledger can have it from the moment it opens.
func ExpiryNotices(cfg Config) ledger.ExpiryHook {
	return func(p ledger.Transfer, v ledger.View) []ledger.Message {
		if p.Code != CodeHold {
			return nil
		}
		payee, lang, _ := strings.Cut(p.Ref, " ")
		l := commands.EN
		switch lang {
		case "FR":
			l = commands.FR
		case "ZH":
			l = commands.ZH
		}
		payer, ok := v.Account(p.Debit)
		if !ok {
			return nil
		}
		m := func(v uint64) commands.Money {
			return commands.Money{Minor: v, Currency: cfg.Currency, Exponent: cfg.Exponent}
		}
		return []ledger.Message{
			{From: cfg.ShortCode, To: payer.Owner, Text: commands.Render(l, commands.RRefunded, commands.Args{Amount: m(p.Amount),
				Party: mask(payee), Balance: m(uint64(max(0, payer.Available()))), Ref: shortRef(p)})},
			{From: cfg.ShortCode, To: payee, Text: commands.Render(l, commands.RLapsed, commands.Args{Amount: m(p.Amount), Party: mask(payer.Owner)})},
		}
	}
}

// mask hides the middle of a number: +336****678.
func mask(msisdn string) string {
	if len(msisdn) < 8 {
		return msisdn
	}
	return msisdn[:4] + "****" + msisdn[len(msisdn)-3:]
}

// move builds the job of a payment: the amount to the payee and the fee to the fees
// account as one chain, with the payer's and the payee's replies composed after the money
// moved (so they carry the new balances) and a receipt code derived from the transfer.
func (t *turn) move(code uint16, payee *ledger.Account, amount uint64, ref string) ledger.Job {
	fee := t.fee(code, amount)
	ts := []ledger.Transfer{{ID: ledger.NewID(), Debit: t.purse.ID, Credit: payee.ID, Amount: amount, Code: code, Ref: ref}}
	if fee > 0 {
		fees := t.system("@fees")
		if fees == nil {
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(ledger.Job{})
		}
		ts = append(ts, ledger.Transfer{ID: ledger.NewID(), Debit: t.purse.ID, Credit: fees.ID, Amount: fee, Code: CodeFee})
	}
	if above := t.e.cfg.ConfirmAbove; above > 0 && amount > above {
		return t.askConfirm(code, payee, amount, fee, ref, ts)
	}
	// If the ledger refuses the payment, the profile is written as it was before the spend.
	t.keepForRefusal()
	t.prof.addSpend(t.hour(), amount)
	t.profDirty = true
	job := t.withProfile(ledger.Job{Transfers: ts})
	job.Compose = t.notices(code, payee, amount, fee, ref)
	return job
}

// notices composes, after the money moved, the payer's reply and the payee's or merchant's
// notice, with the new balances and a receipt derived from the first transfer.
func (t *turn) notices(code uint16, payee *ledger.Account, amount, fee uint64, ref string) func(ledger.View, *ledger.Result) ([]ledger.Message, error) {
	payerLang, e := t.lang, t.e
	from := t.in.From
	return func(v ledger.View, r *ledger.Result) ([]ledger.Message, error) {
		main := r.Transfers[0]
		payer, _ := v.Account(t.purse.ID)
		after, _ := v.Account(payee.ID)
		rc := e.receipt(main)
		args := commands.Args{Amount: t.money(amount), Fee: t.money(fee), Balance: t.money(uint64(max(0, payer.Available()))),
			Ref: shortRef(main), Receipt: rc, Party: payee.Name, Account: ref, Name: payee.Name, Currency: e.cfg.Currency}
		var msgs []ledger.Message
		add := func(to string, l commands.Lang, rep commands.Reply, a commands.Args) {
			msgs = append(msgs, ledger.Message{From: e.cfg.ShortCode, To: to, Text: commands.Render(l, rep, a)})
		}
		switch code {
		case CodePay:
			add(from, payerLang, commands.RPaid, args)
			if payee.Phone != "" {
				add(payee.Phone, commands.EN, commands.RMerchantPaid, commands.Args{Amount: args.Amount, Party: mask(from), Ref: args.Ref, Receipt: rc})
			}
		case CodeBill:
			add(from, payerLang, commands.RBillPaid, args)
		case CodeSend:
			args.Party = mask(payee.Owner)
			add(from, payerLang, commands.RSent, args)
			payeeLang := commands.EN
			if b, err := e.l.Profile(payee.Owner); err == nil && b != nil {
				var p profile
				if json.Unmarshal(b, &p) == nil {
					payeeLang = p.Lang
				}
			}
			add(payee.Owner, payeeLang, commands.RReceived, commands.Args{Amount: args.Amount, Party: mask(from), Name: t.purse.Name,
				Balance: t.money(uint64(max(0, after.Available()))), Ref: args.Ref, Receipt: rc})
		}
		return msgs, nil
	}
}

// receipt is the code CHECK verifies: the transfer's journal position and a MAC over it,
// its id and amount, with the server's receipt key. A forged or altered code fails.
func (e *Engine) receipt(tr ledger.Transfer) string {
	pos := strings.TrimLeft(strings.ToUpper(fmt.Sprintf("%x", tr.Seq)), "0")
	return pos + "-" + e.receiptMAC(tr)
}

func (e *Engine) receiptMAC(tr ledger.Transfer) string {
	m := hmac.New(sha256.New, e.cfg.ReceiptKey)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], tr.Seq)
	m.Write(b[:])
	m.Write(tr.ID[:])
	binary.BigEndian.PutUint64(b[:], tr.Amount)
	m.Write(b[:])
	return base32.StdEncoding.EncodeToString(m.Sum(nil))[:8]
}

func shortRef(tr ledger.Transfer) string { return strings.ToUpper(tr.ID.String()[26:]) }

func (t *turn) check() ledger.Job {
	pos, mac, ok := strings.Cut(t.cmd.Code, "-")
	var seq uint64
	if _, err := fmt.Sscanf(pos, "%X", &seq); !ok || err != nil {
		t.reply(commands.RReceiptInvalid, commands.Args{Receipt: t.cmd.Code})
		return ledger.Job{}
	}
	tr, err := t.e.l.TransferAt(seq)
	if err != nil || !hmac.Equal([]byte(t.e.receiptMAC(tr)), []byte(mac)) || tr.Code == CodeFee {
		t.reply(commands.RReceiptInvalid, commands.Args{Receipt: t.cmd.Code})
		return ledger.Job{}
	}
	t.reply(commands.RReceiptValid, commands.Args{Receipt: t.cmd.Code, Amount: t.money(tr.Amount), Party: t.nameOf(tr.Credit), Ref: shortRef(tr)})
	return ledger.Job{}
}

func (t *turn) nameOf(id uint64) string {
	acc, err := t.e.l.Account(id)
	switch {
	case err != nil:
		return fmt.Sprintf("account %d", id)
	case acc.Kind == ledger.KindPurse:
		return mask(acc.Owner)
	}
	return acc.Name
}

// submit commits the job with the SMS's dedupe record and replies. A refused transfer turns
// into its refusal reply, committed the same way; a duplicate SMS gets the first replies again
// and moves nothing.
func (t *turn) submit(ctx context.Context, job ledger.Job) error {
	job.Audit = t.audit
	job.Messages = append(job.Messages, t.replies...)
	job.Dedupe = &ledger.Dedupe{Key: t.dedupeKey, TTL: t.e.cfg.Dedupe, StoreMessages: true}
	_, err := t.e.l.Submit(ctx, job)
	var ref *ledger.RefusedError
	if errors.As(err, &ref) && ref.Reason != ledger.ErrInvalid && ref.Reason != ledger.ErrJobTooLarge {
		t.replies = nil
		t.refusal(ref)
		profiles := job.Profiles
		if t.onRefusal != nil {
			profiles = *t.onRefusal
		}
		job = ledger.Job{Messages: t.replies, Profiles: profiles, Dedupe: job.Dedupe}
		_, err = t.e.l.Submit(ctx, job)
	}
	var dup *ledger.DuplicateError
	if errors.As(err, &dup) {
		if len(dup.Messages) == 0 {
			return nil
		}
		for i := range dup.Messages {
			dup.Messages[i].ID = 0
		}
		_, err = t.e.l.Submit(ctx, ledger.Job{Messages: dup.Messages})
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBusy, err)
	}
	return nil
}

func (t *turn) refusal(ref *ledger.RefusedError) {
	bal := t.money(0)
	if t.purse != nil {
		bal = t.money(uint64(max(0, t.purse.Available())))
	}
	switch ref.Reason {
	case ledger.ErrPendingExpired, ledger.ErrPendingResolved, ledger.ErrPendingNotFound:
		t.reply(commands.RConfirmExpired, commands.Args{Code: t.cmd.Code})
	case ledger.ErrInsufficientFunds:
		t.reply(commands.RInsufficient, commands.Args{Balance: bal, Amount: t.money(t.cmd.Amount + t.fee(codeOf(t.cmd.Kind), t.cmd.Amount))})
	case ledger.ErrAccountBlocked, ledger.ErrAccountClosed:
		t.reply(commands.RAccountBlocked, commands.Args{})
	case ledger.ErrAccountExists:
		t.reply(commands.RAlreadyRegistered, commands.Args{})
	case ledger.ErrLimitExceeded:
		t.reply(commands.RLimitExceeded, commands.Args{Amount: t.money(0)})
	default:
		t.reply(commands.RBusy, commands.Args{})
	}
}

func codeOf(k commands.Kind) uint16 {
	switch k {
	case commands.Pay:
		return CodePay
	case commands.Bill:
		return CodeBill
	case commands.Send:
		return CodeSend
	}
	return 0
}
