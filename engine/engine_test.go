package engine

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mpg/domain"
	"mpg/internal/testbooks"
	"mpg/ledger"
)

type world struct {
	t     *testing.T
	l     *ledger.Ledger
	e     *Engine
	books *testbooks.Books // a file, or a database (MPG_TEST_LEDGER=postgres)
	seen  uint64           // last outbox id read
	now   time.Time
	clock *atomic.Int64
	float uint64
}

func newWorld(t *testing.T) *world { return newWorldTiers(t, nil) }

func newWorldTiers(t *testing.T, tiers map[uint8]Limits) *world { return newWorldWith(t, tiers, 0) }

func newWorldWith(t *testing.T, tiers map[uint8]Limits, confirmAbove uint64) *world {
	return newWorldLag(t, tiers, confirmAbove, new(atomic.Int64))
}

// newWorldLag is a world whose ledger commits lag after the engine read the clock (the
// latency of a batch commit).
func newWorldLag(t *testing.T, tiers map[uint8]Limits, confirmAbove uint64, lag *atomic.Int64) *world {
	w := &world{t: t, books: testbooks.New(t), now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	var clock atomic.Int64
	clock.Store(w.now.UnixNano())
	w.clock = &clock
	cfg := Config{ShortCode: "1234", Currency: "EUR", Exponent: 2, Region: "FR",
		PINKey: []byte("pin-key-for-tests-only"), ReceiptKey: []byte("receipt-key-for-tests"),
		Fees:  map[uint16][]Band{domain.CodePay: {{UpTo: 1000, Fee: 0}, {UpTo: 1 << 62, Fee: 10}}},
		Tiers: tiers, ClaimFor: 48 * time.Hour, ConfirmAbove: confirmAbove,
		Now: func() time.Time { return time.Unix(0, clock.Load()) }}
	l := w.books.Create(t, &ledger.Options{Now: func() time.Time { return time.Unix(0, clock.Load()+lag.Load()) }, ExpiryEvery: 10 * time.Millisecond, ExpiryHook: ExpiryNotices(cfg),
		Tiers: LedgerTiers(tiers)})
	w.l = l
	res, err := l.Submit(context.Background(), domain.Job{Open: []domain.AccountSpec{
		{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		{Currency: "EUR", Kind: domain.KindFees, Owner: "@fees"},
		{Currency: "EUR", Kind: domain.KindEscrow, Owner: "@escrow"},
		{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42", Name: "Corner Shop", Phone: "+33698765432"},
		{Currency: "EUR", Kind: domain.KindBiller, Owner: "EDF", Name: "EDF"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.float = res.Accounts[0].ID
	if w.e, err = New(cfg, l); err != nil {
		t.Fatal(err)
	}
	return w
}

// advance moves the clock the engine and the ledger share.
func (w *world) advance(d time.Duration) {
	w.now = w.now.Add(d)
	w.clock.Store(w.now.UnixNano())
}

// sms texts the short code and returns the replies it caused, by recipient.
func (w *world) sms(from, text string) map[string][]string {
	w.t.Helper()
	if err := w.e.Handle(context.Background(), Inbound{From: from, To: "1234", Text: text}); err != nil {
		w.t.Fatalf("%s %q: %v", from, text, err)
	}
	msgs, err := w.l.Messages(100, 0, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string][]string{}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].ID > w.seen {
			text, err := w.e.DeliverText(msgs[i]) // what the phone reads: a sealed code opened
			if err != nil {
				w.t.Fatal(err)
			}
			out[msgs[i].To] = append(out[msgs[i].To], text)
			w.seen = msgs[i].ID
		}
	}
	return out
}

func (w *world) expect(from, text, contains string) string {
	w.t.Helper()
	got := w.sms(from, text)[from]
	if len(got) != 1 || !strings.Contains(got[0], contains) {
		w.t.Fatalf("%s %q: replies %q, want one containing %q", from, text, got, contains)
	}
	return got[0]
}

func (w *world) topup(msisdn string, minor uint64, tier uint8) {
	acc := w.l.AccountsOf(msisdn)
	if acc[0].Tier != tier {
		if _, err := w.l.Submit(context.Background(), domain.Job{Tiers: []domain.TierChange{{Account: acc[0].ID, Tier: tier}}}); err != nil {
			w.t.Fatal(err)
		}
	}
	if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: w.float, Credit: acc[0].ID, Amount: minor, Code: domain.CodeTopup}}}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) available(owner string) int64 {
	return w.l.AccountsOf(owner)[0].Available()
}

const alice, bob = "+33612345678", "+33687654321"

func TestConversation(t *testing.T) {
	w := newWorld(t)
	// Identical SMS within the dedupe window are one message, so each step below texts
	// something new (case and spacing count).
	w.expect(alice, "bal 739164", "No e-purse")
	w.expect(alice, "REG 739164 Alice", "Welcome Alice")
	w.expect(alice, "REG 739164 Alice again", "already has an e-purse")
	w.topup(alice, 5000, 1)
	w.expect(alice, "BAL 739164", "Balance 50.00 EUR")

	// A payment moves the money and the fee in one commit, and tells the merchant.
	got := w.sms(alice, "PAY SHOP42 12.50 739164")
	if len(got[alice]) != 1 || !strings.Contains(got[alice][0], "Paid 12.50 EUR to Corner Shop. Fee 0.10 EUR. Balance 37.40 EUR") {
		t.Fatalf("payer: %q", got[alice])
	}
	if len(got["+33698765432"]) != 1 || !strings.Contains(got["+33698765432"][0], "Payment received: 12.50 EUR from +336****678") {
		t.Fatalf("merchant: %q", got)
	}
	if w.available("SHOP42") != 1250 || w.available("@fees") != 10 || w.available(alice) != 3740 {
		t.Fatal("balances after PAY")
	}
	receipt := got[alice][0][strings.LastIndex(got[alice][0], " ")+1:]

	// The same SMS again (a redelivery) is answered to the sender only, as a repeat, and
	// moves nothing; the merchant is not told again.
	again := w.sms(alice, "PAY SHOP42 12.50 739164")
	if len(again) != 1 || len(again[alice]) != 1 || !strings.Contains(again[alice][0], "You already paid 12.50 EUR to Corner Shop at 12:00") ||
		!strings.Contains(again[alice][0], "Nothing moved again") || strings.Contains(again[alice][0], receipt) || w.available(alice) != 3740 {
		t.Fatalf("duplicate: %q, balance %d", again, w.available(alice))
	}

	// Receipts: genuine for the payer, genuine but not theirs for anyone else, then altered.
	w.expect(alice, "CHECK "+receipt, "is genuine: 12.50 EUR from you to Corner Shop")
	w.expect(bob, "CHECK "+receipt, "genuine but NOT for your number")
	altered := receipt[:len(receipt)-1] + map[bool]string{true: "A", false: "B"}[receipt[len(receipt)-1] != 'A']
	w.expect(bob, "CHECK "+altered, "is NOT genuine")

	// Refusals: a precise reply, no money moved.
	w.expect(alice, "PAY SHOP4 1 739164", "Unknown merchant SHOP4")
	w.expect(alice, "PAY SHOP42 101 739164", "Above your limit of 100.00 EUR per payment") // tier 1
	w.expect(alice, "PAY SHOP42 1.234 739164", "Amount 1.234 not understood")
	w.expect(alice, "BILL EDF 0042-77 30 739164", "Bill paid: 30.00 EUR to EDF, account 0042-77")
	w.expect(alice, "PAY SHOP42 7.41 739164", "Not enough money")
	if w.available(alice) != 740 {
		t.Fatalf("alice %d", w.available(alice))
	}
	w.expect(alice, "DEBIT SHOP42 5 739164", "DEBIT is not available yet")
	w.expect(alice, "BLAH", "BAL pin; MINI pin")

	// Tier 1 may not SEND; a registered payee at tier 2 is paid and told.
	w.expect(bob, "REG 246810 Bob", "Welcome Bob")
	w.expect(alice, "SEND 0687654321 1 739164", "cannot send money")
	w.expect(alice, "MINI 739164", "-12.50 EUR")

	// LANG switches the replies; French amounts use a comma.
	w.expect(alice, "LANG FR", "Les réponses seront désormais en français")
	w.expect(alice, "BAL *739164", "Solde 7,40 EUR")

	// Three wrong PINs lock the purse; then even the right PIN is refused.
	w.expect(alice, "BAL 000000", "Encore 2 essais")
	w.expect(alice, "BAL 000001", "Encore 1 essai avant")
	w.expect(alice, "BAL 000002", "bloqué 30 min")
	w.expect(alice, "Bal 739164", "bloqué")
	w.advance(31 * time.Minute)
	w.expect(alice, "SOLDE 739164", "Solde 7,40 EUR")

	// PIN change, then BLOCK without a PIN.
	w.expect(alice, "PIN 739164 582047", "code PIN a été changé")
	w.expect(alice, "BAL  739164", "Encore 2 essais")
	w.expect(alice, "BLOQUER", "bloqué")
	w.expect(alice, "PAY SHOP42 1 582047", "bloqué")

	// No PIN ever reaches the file.
	w.l.Close()
	b := w.rawBooks(t)
	for _, pin := range []string{"739164", "246810", "582047", "000001"} {
		if bytes.Contains(b, []byte(pin)) {
			t.Errorf("PIN %s found in the ledger file", pin)
		}
	}
}

func TestSendBetweenSubscribers(t *testing.T) {
	w := newWorldTiers(t, map[uint8]Limits{1: {PerTx: 10000, Daily: 20000, MaxBalance: 5000, CanSend: true},
		2: {PerTx: 10000, Daily: 20000, MaxBalance: 50000, CanSend: true}})
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.expect(bob, "REG 246810 Bob", "Welcome")
	w.expect(bob, "LANG ZH", "中文")
	w.topup(alice, 10000, 2)
	got := w.sms(alice, "SEND 0687654321 25 739164")
	if len(got[alice]) != 1 || !strings.Contains(got[alice][0], "Sent 25.00 EUR to Bob +336****321. Fee 0.00 EUR. Balance 75.00 EUR") {
		t.Fatalf("payer: %q", got)
	}
	if len(got[bob]) != 1 || !strings.Contains(got[bob][0], "您收到Alice +336****678转账 25.00 EUR。余额 25.00 EUR") {
		t.Fatalf("payee: %q", got[bob])
	}
	w.expect(alice, "SEND "+alice+" 1 739164", "yourself")
	// The payee's maximum balance (50.00 here) caps what may be sent, and the refusal says so.
	w.expect(alice, "SEND 0687654321 26 739164", "The e-purse of +336****321 cannot hold that much: it can receive 25.00 EUR more")
}

func TestRollingDailyLimit(t *testing.T) {
	w := newWorldTiers(t, map[uint8]Limits{1: {PerTx: 10000, Daily: 15000, MaxBalance: 100000}})
	w.expect(alice, "REG 739164", "Welcome")
	w.topup(alice, 30000, 1)
	w.advance(59 * time.Minute) // 12:59: late in its hour
	w.expect(alice, "PAY SHOP42 100 739164", "Paid 100.00 EUR")
	w.expect(alice, "BAL 739164", "You can pay up to 50.00 EUR now; 50.00 EUR left of your 24-hour limit")
	w.expect(alice, "PAY SHOP42 60 739164", "Over your 24-hour limit: you can still spend 50.00 EUR now")
	// A refused payment does not count against the limit.
	w.expect(alice, "PAY SHOP4 50 739164", "Unknown merchant")
	w.advance(23 * time.Hour)
	w.expect(alice, "PAY SHOP42 50 739164", "Paid 50.00 EUR")
	w.expect(alice, "PAY SHOP42 0.01 739164", "you can still spend 0.00 EUR now")
	// 23 h 30 min after the first payment it still counts (the window is 24 hours, not the
	// hours a clock shows).
	w.advance(30 * time.Minute)
	w.expect(alice, "PAY SHOP42 0.02 739164", "you can still spend 0.00 EUR now")
	// The first 100.00 leaves the window 24 hours after it was paid.
	w.advance(31 * time.Minute)
	w.expect(alice, "PAY SHOP42 99.99 739164", "Paid 99.99 EUR")
}

func TestSendToUnregisteredIsHeldThenClaimedOrRefunded(t *testing.T) {
	w := newWorldTiers(t, map[uint8]Limits{1: {PerTx: 10000, Daily: 20000, MaxBalance: 50000, CanSend: true}})
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 10000, 1)
	const carol, dave = "+33611111111", "+33622222222"

	got := w.sms(alice, "SEND 0611111111 20 739164")
	if len(got[alice]) != 1 || !strings.Contains(got[alice][0], "20.00 EUR held for +336****111") || !strings.Contains(got[alice][0], "Balance 80.00 EUR") {
		t.Fatalf("payer: %q", got)
	}
	if len(got[carol]) != 1 || !strings.Contains(got[carol][0], "+336****678 sent you 20.00 EUR. Reply REG pin name within 2 days") {
		t.Fatalf("invite: %q", got[carol])
	}
	// Carol registers: the held money arrives, in one claim, and is hers.
	got = w.sms(carol, "REG 135790 Carol")
	if len(got[carol]) != 2 || !strings.Contains(got[carol][1], "20.00 EUR from +336****678 is now in your e-purse. Balance 20.00 EUR") {
		t.Fatalf("claim: %q", got[carol])
	}
	if w.available(carol) != 2000 || w.available("@escrow") != 0 || w.available(alice) != 8000 {
		t.Fatalf("after claim: carol %d escrow %d alice %d", w.available(carol), w.available("@escrow"), w.available(alice))
	}

	// Dave never registers: after the claim window the ledger voids the hold and both hear.
	w.expect(alice, "SEND 0622222222 30 739164", "30.00 EUR held")
	if w.available(alice) != 5000 {
		t.Fatalf("held money still counts as the payer's? %d", w.available(alice))
	}
	w.advance(49 * time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	var notices map[string][]string
	for time.Now().Before(deadline) {
		if notices = w.sms(bob, "HELP"); len(notices[alice]) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(notices[alice]) != 1 || !strings.Contains(notices[alice][0], "+336****222 did not claim 30.00 EUR: it is back in your e-purse. Balance 80.00 EUR") {
		t.Fatalf("refund notice: %q", notices)
	}
	if len(notices[dave]) != 1 || !strings.Contains(notices[dave][0], "went back to them") {
		t.Fatalf("lapse notice: %q", notices[dave])
	}
	if w.available(alice) != 8000 {
		t.Fatalf("after refund: %d", w.available(alice))
	}
	rep, err := w.l.Verify(context.Background(), nil)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %s", err, rep.Problem)
	}
}

func TestTwoStepConfirmation(t *testing.T) {
	w := newWorldWith(t, nil, 5000)
	w.expect(alice, "REG 739164", "Welcome")
	w.expect(bob, "REG 246810", "Welcome")
	w.topup(alice, 10000, 1)
	codeOf := func(reply string) string {
		i := strings.Index(reply, "YES ")
		return reply[i+4 : i+10]
	}
	ask := w.expect(alice, "PAY SHOP42 60 739164", "Confirm PAY of 60.10 EUR to Corner Shop: reply YES")
	code := codeOf(ask)
	if w.available(alice) != 10000-6010 || w.available("SHOP42") != 0 {
		t.Fatalf("reserved: alice %d shop %d", w.available(alice), w.available("SHOP42"))
	}
	w.expect(bob, "YES "+code, "No payment is waiting") // bound to Alice's number
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	w.expect(alice, "YES "+wrong, "2 tries left")
	got := w.sms(alice, "YES "+code)
	if !strings.Contains(got[alice][0], "Paid 60.00 EUR to Corner Shop. Fee 0.10 EUR. Balance 39.90 EUR") || len(got["+33698765432"]) != 1 {
		t.Fatalf("confirmed: %q", got)
	}
	w.expect(alice, "YES  "+code, "No payment is waiting") // single use
	if w.available("SHOP42") != 6000 {
		t.Fatalf("shop %d", w.available("SHOP42"))
	}

	// NO releases the reservation.
	w.topup(alice, 5000, 1)
	code = codeOf(w.expect(alice, "PAY SHOP42 51 739164", "Confirm PAY"))
	w.expect(alice, "NO "+code, "Cancelled")
	if w.available(alice) != 8990 {
		t.Fatalf("after NO: %d", w.available(alice))
	}
	// Three wrong codes cancel too.
	w.expect(alice, "PAY SHOP42 52 739164", "Confirm PAY")
	w.expect(alice, "YES 111111", "2 tries left")
	w.expect(alice, "YES 222222", "1 try left")
	w.expect(alice, "YES 333333", "Cancelled")
	if w.available(alice) != 8990 {
		t.Fatalf("after 3 wrong codes: %d", w.available(alice))
	}
	// A code that outlives its window is refused, and the reservation ends.
	code = codeOf(w.expect(alice, "PAY SHOP42 53 739164", "Confirm PAY"))
	w.advance(6 * time.Minute)
	w.expect(alice, "YES "+code, "No payment is waiting")
	for deadline := time.Now().Add(5 * time.Second); w.available(alice) != 8990 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if w.available(alice) != 8990 {
		t.Fatalf("after expiry: %d", w.available(alice))
	}
	rep, err := w.l.Verify(context.Background(), nil)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %s", err, rep.Problem)
	}
}
