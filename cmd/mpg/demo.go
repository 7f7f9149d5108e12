package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"mpg/bank"
	"mpg/config"
	"mpg/domain"
	"mpg/engine"
	"mpg/ledger"
	"mpg/promo"
	"mpg/smpp"
	"mpg/voice"
)

// demoScript is what `mpg demo` shows when nobody is at the keyboard.
var demoScript = []struct{ from, text string }{
	{demoAlice, "BAL 1234"},
	{demoAlice, "PAY SHOP42 12.50 1234"},
	{demoAlice, "PAY SHOP4 3 1234"},
	{demoAlice, "SEND 0687654321 5 1234"},
	{demoAlice, "SEND 0687654321 5 1234"}, // the same SMS again: a repeat, nothing moves
	{demoBob, "SOLDE 5678"},
	{demoAlice, "SEND 0611223344 2 1234"}, // Carol has no e-purse yet: held, she is invited
	{demoCarol, "REG 4321 Carol"},         // she registers and the money is hers
	{demoAlice, "BAL 0000"},
	{demoAlice, "MINI 1234"},
	{demoBob, "LANG ZH"},
	{demoBob, "余额 5678"},
	{demoAlice, "HELP"},
	{demoAlice, "OFFERS"},                    // SHOP42's promotion WELCOME, with its code
	{demoAlice, "PAY SHOP42 8 WELCOME 1234"}, // 1.00 off, paid from its budget
	{demoAlice, "POINTS 1234"},
	{demoAlice, "PAY SHOP42 0.19 1234 PTS"}, // paid with points at SHOP42's rate
	{demoAlice, "RECEIVE BANK"},             // money sent to Alice goes on to her bank account
	{demoBob, "SEND 0612345678 3 5678"},     // credited to it by the bank worker
	{demoAlice, "SETTINGS 1234"},
}

const (
	demoIBAN = "FR7630006000011234567890189"
	// demoShopIBAN is where SHOP42's payouts go.
	demoShopIBAN = "FR1420041010050500013M02606"
	demoAlice    = "+33612345678"
	demoBob      = "+33687654321"
	demoShop     = "+33698765432"
	demoCarol    = "+33611223344"
)

func (a *app) demoCmd() *cobra.Command {
	var as string
	c := &cobra.Command{
		Use:   "demo",
		Short: "Try mpg on this machine: simulator, daemon, demo accounts and a phone prompt",
		Long: `demo starts the SMSC simulator and the daemon (bound to it over real SMPP on loopback) on a
temporary ledger, registers Alice (+33612345678, PIN 1234) and Bob (+33687654321, PIN 5678)
by SMS, tops them up, adds the merchant SHOP42 and the biller EDF, and opens a phone prompt
where you text the short code 1234 as Alice. At the prompt, /as bob (alice, carol, or a
number) takes another phone, an empty line is nothing, and /quit or Ctrl-D ends the demo,
deleting its temporary ledger. With no terminal it plays a short conversation.`,
		Example: "  mpg demo\n  mpg demo --as +33687654321",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.demo(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), as, isTerminal(cmd.InOrStdin()))
		},
	}
	c.Flags().StringVar(&as, "as", demoAlice, "the phone you text as")
	return c
}

// isTerminal says whether r is a terminal someone types at (not /dev/null, a pipe or a file).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func randomKey() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (a *app) demo(ctx context.Context, in io.Reader, out io.Writer, as string, interactive bool) error {
	dir, err := os.MkdirTemp("", "mpg-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := a.cfg
	cfg.Ledger.Currency = "EUR"
	cfg.Engine.ShortCode, cfg.Engine.Region = "1234", "FR"
	cfg.Engine.PINKey, cfg.Engine.ReceiptKey = randomKey(), randomKey()
	cfg.Engine.DedupeS = 3  // so that retyping a command in the demo is a new command
	cfg.Engine.MOBurst = 30 // the scripted conversation texts quickly
	cfg.Engine.Fees.Pay = []config.Band{{UpTo: 1000, Fee: 0}, {UpTo: 0, Fee: 10}}
	cfg.Loyalty.Enabled, cfg.Loyalty.Worth = true, map[string]uint64{"SHOP42": 1} // a point pays 0.01 EUR at SHOP42
	l, err := ledger.Create(filepath.Join(dir, "mpg.db"), a.daemonLedgerOptions(cfg))
	if err != nil {
		return err
	}
	defer l.Close()
	res, err := l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{
		{Currency: "EUR", Kind: domain.KindFloat, Owner: ownerFloat, Name: "Float"},
		{Currency: "EUR", Kind: domain.KindFees, Owner: ownerFees, Name: "Fees"},
		{Currency: "EUR", Kind: domain.KindEscrow, Owner: ownerEscrow, Name: "Escrow"},
		{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42", Name: "Corner Shop", Phone: demoShop},
		{Currency: "EUR", Kind: domain.KindBiller, Owner: "EDF", Name: "EDF"},
	}})
	if err != nil {
		return err
	}
	float := res.Accounts[0].ID
	password := randomKey()[:8]
	sim, err := smpp.NewSim("127.0.0.1:0", "mpg", password)
	if err != nil {
		return err
	}
	defer sim.Close()

	cfg.SMPP.Addr, cfg.SMPP.SystemID, cfg.SMPP.Password = sim.Addr(), "mpg", password
	// A bank with Alice's account, for DEBIT.
	bk, err := bank.NewSim("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer bk.Close()
	bk.Open(demoIBAN, bank.SimAccount{Balance: 50000})
	cfg.Bank.Addr, cfg.Bank.TimeoutMs, cfg.Bank.Tries = bk.Addr(), 2000, 3
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Merchant.Addr, cfg.Merchant.PublicURL = "127.0.0.1:0", ""
	cfg.Console.Addr = "127.0.0.1:0"
	var voicePhone *voice.Baresip // Alice's phone for confirmation calls, at the keyboard only
	if interactive {
		if voicePhone = startDemoVoice(dir); voicePhone != nil {
			defer voicePhone.Stop()
			cfg.Voice.Trunk, cfg.Voice.KeyS = voicePhone.Trunk(), 60
		}
	}
	cfg.Settlement.Dir, cfg.Settlement.DebtorName, cfg.Settlement.DebtorIBAN = filepath.Join(dir, "settlement"), "mpg demo operator", "DE89370400440532013000"
	d, metrics, stop, err := startDaemon(ctx, cfg, l, a.log.Named("daemon"))
	if err != nil {
		return err
	}
	defer stop()
	ph := &phone{sim: sim, out: out, quiet: true, watch: []string{demoCarol}}
	for _, u := range []struct{ msisdn, pin, name string }{{demoAlice, "1234", "Alice"}, {demoBob, "5678", "Bob"}} {
		if err := ph.text(ctx, u.msisdn, "REG "+u.pin+" "+u.name, false); err != nil {
			return err
		}
		acc := l.AccountsOf(u.msisdn)
		if len(acc) == 0 {
			return fmt.Errorf("demo: %s did not register", u.msisdn)
		}
		// An agent checked their ID (tier 2: they may SEND) and they cashed in 50.00.
		if _, err := l.Submit(ctx, domain.Job{Tiers: []domain.TierChange{{Account: acc[0].ID, Tier: 2}},
			Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: float, Credit: acc[0].ID, Amount: 5000, Code: domain.CodeTopup}}}); err != nil {
			return err
		}
	}
	if _, err := d.eng.LinkBank(ctx, "demo", demoAlice, demoIBAN); err != nil {
		return err
	}
	if err := demoPromotion(ctx, l, d.eng, float, res.Accounts[3].ID); err != nil {
		return err
	}
	if _, err := d.eng.GrantCredit(ctx, "demo", demoAlice, 10000, 2, 1); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond) // the link notice reaches Alice's phone before the prompt
	ph.show()
	ph.quiet = false
	shop := res.Accounts[3].ID
	key, _, err := d.eng.CreateAPIKey(ctx, "demo", shop)
	if err != nil {
		return err
	}
	co, _, err := d.eng.CreatePayment(ctx, engine.CreatePayment{Merchant: shop, Amount: 450, Reference: "order-1234",
		Description: "2 croissants and a coffee", ReturnURL: "https://shop.example/thanks", Actor: "demo"})
	if err != nil {
		return err
	}
	checkoutURL := d.eng.View(co).CheckoutURL
	api := "http://" + d.merchantAddr
	consolePassword := randomKey()[:12]
	hash, err := engine.HashPassword(consolePassword)
	if err != nil {
		return err
	}
	if _, err := d.eng.AddConsoleUser(ctx, "demo", "olga", engine.RoleAdmin, hash); err != nil {
		return err
	}
	fmt.Fprintf(out, `mpg demo: SMSC simulator on %s, daemon bound to it over SMPP, metrics on http://%s/metrics
Subscribers: Alice %s (PIN 1234), Bob %s (PIN 5678), tier 2, 50.00 EUR each.
Merchant SHOP42 "Corner Shop" (told on %s), biller EDF. Short code 1234.
Try: BAL 1234 | PAY SHOP42 12.50 1234 | SEND 0687654321 5 1234 | MINI 1234 | STATS 1234 | LANG FR | HELP
Points and offers: POINTS 1234 | PAY SHOP42 2 1234 PTS (a point pays 0.01 EUR there) | OFFERS |
  PAY SHOP42 8 WELCOME 1234 (SHOP42's promotion: 1.00 EUR off, once per member)
Alice's bank account FR76 **** 0189 (500.00 EUR at the simulated bank on %s) is linked:
  DEBIT SHOP42 20 1234, then YES <code> from the SMS; RECEIVE BANK, and what is sent to her goes
  on to that account (RECEIVE PURSE undoes it; SETTINGS 1234 shows it)
%sAlice has a 100.00 EUR credit line: CREDIT SHOP42 30 1234 (an authorisation SHOP42 captures
  with POST /v1/payments/<id>/capture), CREDIT 1234 (the statement), REPAY 10 1234

Web checkout: open %s in a browser, type Alice's number 06 12 34 56 78, then the code
texted to her (it shows here). Merchant API (key of SHOP42: %s):
  curl -s -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '{"msisdn":"0687654321","amount":"3.20","reference":"order-7"}' %s/v1/payments
  (Bob is texted a code: type /as bob, then YES <code>)
Operator console: http://%s/login (olga, password %s): figures, fraud queue, subscribers;
  merchant portal: http://%s/portal/login with SHOP42's key. Fraud rules run in shadow.
Settlement: /settle links SHOP42's bank account FR14 **** 2606, pays it what it is owed now
  and writes the pain.001 file for the bank (its path is printed).

`, sim.Addr(), metrics, demoAlice, demoBob, demoShop, bk.Addr(), demoVoiceHint(voicePhone, interactive), checkoutURL, key, key, api, d.consoleAddr, consolePassword, d.consoleAddr)
	if !interactive {
		for _, s := range demoScript {
			if err := ph.text(ctx, s.from, s.text, true); err != nil {
				return err
			}
		}
		if err := demoDebit(ctx, out, ph); err != nil {
			return err
		}
		if err := demoCredit(ctx, out, ph, d, shop); err != nil {
			return err
		}
		if err := demoCheckout(ctx, out, ph, checkoutURL); err != nil {
			return err
		}
		if err := demoSettle(ctx, out, d, shop); err != nil {
			return err
		}
		return demoOver(out, dir, "`mpg demo` at a terminal keeps them until /quit")
	}
	// Codes for the web checkout arrive while nobody types: show them as they come.
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	go func() {
		for range tick.C {
			ph.show()
		}
	}()
	demoPrompt(ctx, in, out, ph, as, voicePhone, func() {
		if err := demoSettle(ctx, out, d, shop); err != nil {
			ph.say("! " + err.Error() + "\n")
		}
	})
	return demoOver(out, dir, "`mpg demo` starts a new one")
}

// demoOver says the demo ended and its files go with it.
func demoOver(out io.Writer, dir, next string) error {
	fmt.Fprintf(out, "Demo over: its ledger, keys, settlement file and simulators (%s) are deleted now; %s.\n", dir, next)
	return nil
}

// demoPhones are the names the prompt's /as knows.
var demoPhones = map[string]string{"alice": demoAlice, "bob": demoBob, "carol": demoCarol}

// demoPrompt is the phone prompt: each line is an SMS to the short code from the phone in
// hand; a line starting with / is for the prompt itself: /as <alice|bob|carol|number> takes
// another phone, /quit ends the demo (as does Ctrl-D). An empty line is nothing.
func demoPrompt(ctx context.Context, in io.Reader, out io.Writer, ph *phone, as string, voicePhone *voice.Baresip, settle func()) {
	if m, err := domain.ParseMSISDN(as, "FR"); err == nil {
		as = m // --as 0687654321 is Bob, as the daemon reads him
	}
	ph.mu.Lock()
	fmt.Fprintf(out, "You are %s. Type a message and Enter; /as bob (or alice, carol, a number) to take another phone, /quit or Ctrl-D to end the demo.\n", as)
	ph.mu.Unlock()
	sc := bufio.NewScanner(in)
	for ph.say("> "); sc.Scan(); ph.say("> ") {
		text := strings.TrimSpace(sc.Text())
		cmd, arg, _ := strings.Cut(text, " ")
		switch {
		case text == "":
			continue
		case cmd == "/quit" || cmd == "/exit":
			return
		case cmd == "/settle":
			settle()
		case cmd == "/as":
			arg = strings.TrimSpace(arg)
			to, ok := demoPhones[strings.ToLower(arg)]
			if !ok {
				m, err := domain.ParseMSISDN(arg, "FR")
				if err != nil {
					ph.say("! /as alice, bob, carol or a phone number (+33… or 06…)\n")
					continue
				}
				to = m
			}
			as = to
			ph.say("You are " + as + ".\n")
		case cmd == "/key" && voicePhone != nil: // Alice keys digits in the confirmation call
			if err := voicePhone.Key(strings.TrimSpace(arg)); err != nil {
				ph.say("! " + err.Error() + "\n")
			}
		case strings.HasPrefix(cmd, "/"):
			ph.say("! " + cmd + ": the prompt knows /as <alice|bob|carol|number>, /settle and /quit\n")
		default:
			if err := ph.text(ctx, as, text, false); err != nil {
				ph.say("! " + err.Error() + "\n")
			}
		}
	}
}

// demoDebit plays Alice paying by DEBIT from her bank account: the ask, YES, the bank's answer.
func demoDebit(ctx context.Context, out io.Writer, ph *phone) error {
	before := len(ph.sim.MT(demoAlice))
	if err := ph.text(ctx, demoAlice, "DEBIT SHOP42 20 1234", true); err != nil {
		return err
	}
	code := regexp.MustCompile(`YES (\d{6})`).FindStringSubmatch(strings.Join(ph.sim.MT(demoAlice)[before:], " "))
	if code == nil {
		return fmt.Errorf("demo: no DEBIT code reached Alice")
	}
	before = len(ph.sim.MT(demoAlice))
	if err := ph.text(ctx, demoAlice, "YES "+code[1], true); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ph.sim.WaitMT(wctx, demoAlice, before+2) // "sent to your bank", then the bank's answer
	time.Sleep(100 * time.Millisecond)
	ph.show()
	return nil
}

// demoCredit plays an authorisation on Alice's credit line, its capture by the shop, her
// statement and a repayment.
func demoCredit(ctx context.Context, out io.Writer, ph *phone, d *daemon, shop uint64) error {
	if err := ph.text(ctx, demoAlice, "CREDIT SHOP42 30 1234", true); err != nil {
		return err
	}
	ps, _, err := d.eng.ListPayments(shop, engine.PaymentFilter{Limit: 1000})
	if err != nil || len(ps) == 0 {
		return fmt.Errorf("demo: no authorisation: %v", err)
	}
	fmt.Fprintln(out, "shop  > captures 25.00 EUR of it (POST /v1/payments/<id>/capture)")
	if _, err := d.eng.CaptureHold(ctx, "demo", shop, ps[len(ps)-1].ID, 2500); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	ph.show()
	for _, text := range []string{"CREDIT 1234", "REPAY 10 1234"} {
		if err := ph.text(ctx, demoAlice, text, true); err != nil {
			return err
		}
	}
	return nil
}

// demoCheckout plays a buyer on the checkout page without a browser: the page, his number,
// the code from his phone, the confirmation.
func demoCheckout(ctx context.Context, out io.Writer, ph *phone, page string) error {
	jar, _ := cookiejar.New(nil)
	buyer := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(method, u string, form url.Values) (string, error) {
		var resp *http.Response
		var err error
		if form == nil {
			resp, err = buyer.Get(u)
		} else {
			resp, err = buyer.PostForm(u, form)
		}
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return string(b), err
	}
	body, err := get("GET", page, nil)
	if err != nil {
		return err
	}
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	if m == nil {
		return fmt.Errorf("demo: the checkout page has no form")
	}
	fmt.Fprintf(out, "buyer > opens %s: Corner Shop asks 4.50 EUR\nbuyer > types 06 12 34 56 78\n", page)
	before := len(ph.sim.MT(demoAlice))
	if _, err := get("POST", page+"/phone", url.Values{"csrf": {m[1]}, "phone": {"06 12 34 56 78"}}); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ph.sim.WaitMT(wctx, demoAlice, before+1)
	ph.show()
	code := regexp.MustCompile(`Code (\d{6})`).FindStringSubmatch(strings.Join(ph.sim.MT(demoAlice)[before:], " "))
	if code == nil {
		return fmt.Errorf("demo: no code reached Alice's phone")
	}
	fmt.Fprintf(out, "buyer > types the code %s\n", code[1])
	body, err = get("POST", page+"/code", url.Values{"csrf": {m[1]}, "code": {code[1]}})
	if err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	ph.show()
	if !strings.Contains(body, "Paid. Thank you.") {
		return fmt.Errorf("demo: the checkout did not complete")
	}
	fmt.Fprintln(out, "page  : Paid. Thank you. (and a link back to the shop)")
	return nil
}

// phone texts the simulator and prints what comes back to every phone, each message once.
type phone struct {
	sim   *smpp.Sim
	out   io.Writer
	quiet bool     // texts without printing what comes back (the demo's own set-up)
	watch []string // more phones whose messages to print (a payee who has not texted yet)
	mu    sync.Mutex
	seen  map[string]int // messages already printed, per phone
}

// show prints what reached the phones since the last look (a checkout code texted while
// nobody was typing, too).
func (p *phone) show() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]int{}
	}
	phones := append([]string{demoAlice, demoBob, demoShop}, p.watch...)
	sort.Strings(phones) // a stable order: the golden conversation reads it
	for _, ph := range phones {
		msgs := p.sim.MT(ph)
		for _, m := range msgs[min(p.seen[ph], len(msgs)):] {
			if !p.quiet {
				fmt.Fprintf(p.out, "  %s < %s\n", ph, strings.ReplaceAll(m, "\n", "\n      "))
			}
		}
		p.seen[ph] = len(msgs)
	}
}

// say prints a line of the prompt's own, never in the middle of a message being shown.
func (p *phone) say(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.out, s)
}

// markSeen counts what reached the phones as printed (someone else printed it).
func (p *phone) markSeen() {
	quiet := p.quiet
	p.quiet = true
	p.show()
	p.quiet = quiet
}

func (p *phone) text(ctx context.Context, from, text string, echo bool) error {
	if echo {
		fmt.Fprintf(p.out, "%s > %s\n", from, text)
	}
	// Replies go to the sender's E.164 number whatever form the SMSC gave it in; a sender
	// that is no number (alphanumeric) gets none.
	to, _ := domain.ParseMSISDN(from, "FR")
	p.mu.Lock() // show reads watch, from the prompt's ticker too
	if to != "" && !slices.Contains(p.watch, to) && to != demoAlice && to != demoBob && to != demoShop {
		p.watch = append(p.watch, to)
	}
	p.mu.Unlock()
	p.show()
	before := len(p.sim.MT(to))
	st, err := p.sim.SendMO(ctx, from, "1234", text)
	if err != nil {
		return err
	}
	if st != smpp.StatusOK {
		return fmt.Errorf("the daemon answered %v", st)
	}
	// Replies leave the outbox right after the commit; give them a moment to arrive.
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if to != "" {
		p.sim.WaitMT(wctx, to, before+1)
	}
	time.Sleep(50 * time.Millisecond)
	p.show()
	return nil
}

func (a *app) phoneCmd() *cobra.Command {
	var as, smscHTTP string
	c := &cobra.Command{
		Use:     "phone",
		Short:   "Text the short code as a subscriber through a running simulator",
		Long:    "phone reads lines from the terminal, texts each through `mpg smsc`'s phone interface, and prints the replies as they arrive; empty lines are skipped, Ctrl-D ends.",
		Example: "  mpg phone --as +33612345678 --smsc-http 127.0.0.1:2776",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The number the daemon will see, read as every other: 0612345678 and
			// +33612345678 text from, and read the replies of, the same phone.
			msisdn, err := a.msisdn(as)
			if err != nil {
				return err
			}
			return phoneOverHTTP(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), "http://"+smscHTTP, msisdn)
		},
	}
	c.Flags().StringVar(&as, "as", demoAlice, "the phone number you text as (national numbers in --region)")
	c.Flags().StringVar(&a.regionFlag, "region", "", "country of national numbers (default engine.region)")
	c.Flags().StringVar(&smscHTTP, "smsc-http", "127.0.0.1:2776", "the simulator's phone interface (mpg smsc --http)")
	return c
}

func phoneOverHTTP(ctx context.Context, in io.Reader, out io.Writer, base, as string) error {
	mt := func() ([]string, error) {
		resp, err := http.Get(base + "/mt?phone=" + url.QueryEscape(as))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var texts []string
		return texts, json.NewDecoder(resp.Body).Decode(&texts)
	}
	sc := bufio.NewScanner(in)
	for fmt.Fprint(out, "> "); sc.Scan(); fmt.Fprint(out, "> ") {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue // an Enter too many is no SMS, and no reason to stop: Ctrl-D is
		}
		before, err := mt()
		if err != nil {
			return fmt.Errorf("simulator at %s: %w", base, err)
		}
		body, _ := json.Marshal(map[string]string{"from": as, "to": "1234", "text": text})
		resp, err := http.Post(base+"/mo", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintf(out, "! %s", msg)
			continue
		}
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			now, err := mt()
			if err == nil && len(now) > len(before) {
				for _, m := range now[len(before):] {
					fmt.Fprintf(out, "< %s\n", m)
				}
				break
			}
		}
	}
	return sc.Err()
}

// demoPromotion gives SHOP42 some takings and a promotion funded from them: WELCOME, 1.00
// EUR off a payment of 5.00 or more for a buyer who adds the code, once per member.
func demoPromotion(ctx context.Context, l *ledger.Ledger, eng *engine.Engine, float, shop uint64) error {
	if _, err := l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: float, Credit: shop, Amount: 2000, Code: domain.CodeTopup}}}); err != nil {
		return err
	}
	_, err := eng.CreatePromotion(ctx, shop, promo.Promotion{Code: "WELCOME", Name: "Welcome", Fixed: 100, MinAmount: 500, Budget: 1000,
		PerMember: 1, WithCode: true}, "demo")
	return err
}

// demoSettle pays SHOP42 what it is owed into its bank account and prints the pain.001
// file written for the bank, and how to check it against the ISO 20022 schema.
func demoSettle(ctx context.Context, out io.Writer, d *daemon, shop uint64) error {
	if _, err := d.eng.LinkPayoutBank(ctx, "demo", shop, demoShopIBAN, "AGRIFRPP", "Corner Shop SARL"); err != nil {
		return err
	}
	rep, err := d.eng.Settle(ctx, "demo")
	if err != nil {
		return err
	}
	for _, p := range rep.Issued {
		fmt.Fprintf(out, "settlement: payout %s of %s to SHOP42's bank account %s (%s kept back for refunds)\n",
			p.ID, domain.FormatAmount(p.Amount, p.Currency), domain.MaskIBAN(p.IBAN), domain.FormatAmount(p.Reserve, p.Currency))
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(out, "settlement: nothing paid: %s\n", s)
	}
	for _, f := range rep.Files {
		fmt.Fprintf(out, "settlement file (pain.001.001.03, SEPA): %s\n  check it: xmllint --noout --schema settlement/testdata/pain.001.001.03.xsd %s\n", f, f)
	}
	return nil
}
