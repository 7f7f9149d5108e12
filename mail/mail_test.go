package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"mpg/domain"
	"mpg/engine"
	"mpg/internal/pgtest"
	"mpg/internal/testbooks"
	"mpg/ledger"
)

// TestMain gives the tests a PostgreSQL cluster when they run on it (MPG_TEST_LEDGER=postgres).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const alice = "+33612345678"

// world is a ledger (a file, or PostgreSQL), an engine whose clock runs offset from the
// wall clock, a merchant with an address, and Alice with 50.00 EUR.
type world struct {
	t      testing.TB
	l      *ledger.Ledger
	e      *engine.Engine
	books  *testbooks.Books
	shop   uint64
	offset atomic.Int64
	seen   uint64
}

func newWorld(t testing.TB) *world { return newWorldAt(t, -1) }

// newWorldAt is a world whose statements are queued from hour (-1: none).
func newWorldAt(t testing.TB, hour int) *world {
	t.Helper()
	w := &world{t: t, books: testbooks.New(t)}
	now := func() time.Time { return time.Now().Add(time.Duration(w.offset.Load())) }
	w.l = w.books.Create(t, &ledger.Options{Tiers: engine.LedgerTiers(nil), Now: now})
	ctx := context.Background()
	res, err := w.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{
		{Currency: "EUR", Kind: domain.KindFloat, Owner: "@float"},
		{Currency: "EUR", Kind: domain.KindFees, Owner: "@fees"},
		{Currency: "EUR", Kind: domain.KindMerchant, Owner: "SHOP42", Name: "Corner Shop"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.shop = res.Accounts[2].ID
	w.e, err = engine.New(engine.Config{ShortCode: "1234", Currency: "EUR", Exponent: 2, Region: "FR",
		PINKey: []byte("pin-key-for-tests-only"), ReceiptKey: []byte("receipt-key-for-tests"), Now: now,
		Mail: engine.MailConfig{StatementHour: hour, Retry: []time.Duration{time.Second, time.Second, time.Second, time.Second}}}, w.l)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.e.SetMerchantEmail(ctx, "test", w.shop, "owner@shop.example"); err != nil {
		t.Fatal(err)
	}
	w.text("REG 739164 Alice")
	if _, err := w.l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: res.Accounts[0].ID,
		Credit: w.l.AccountsOf(alice)[0].ID, Amount: 5000, Code: domain.CodeTopup}}}); err != nil {
		t.Fatal(err)
	}
	return w
}

// text has Alice text the short code and returns the replies to her.
func (w *world) text(s string) []string {
	w.t.Helper()
	if err := w.e.Handle(context.Background(), engine.Inbound{From: alice, To: "1234", Text: s}); err != nil {
		w.t.Fatalf("%q: %v", s, err)
	}
	msgs, err := w.l.Messages(50, 0, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].ID > w.seen && msgs[i].To == alice {
			out = append(out, msgs[i].Text)
		}
		w.seen = max(w.seen, msgs[i].ID)
	}
	return out
}

// sender runs the mail room against srv until the test ends.
func (w *world) sender(srv *smtpServer, policy string) {
	w.t.Helper()
	host, port, _ := net.SplitHostPort(srv.Addr)
	p, _ := strconv.Atoi(port)
	cfg := Config{Host: host, Port: p, From: "mpg <notices@pay.example>", Username: testUser, Password: testPassword,
		TLSPolicy: policy, TLS: &tls.Config{RootCAs: srv.Pool, ServerName: host, MinVersion: tls.VersionTLS12},
		Timeout: 5 * time.Second, Workers: 2, Every: 20 * time.Millisecond, StatementsEvery: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Run(ctx, cfg, w.e, zaptest.NewLogger(w.t)) }()
	w.t.Cleanup(func() { cancel(); <-done })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s", what)
		}
	}
}

func (w *world) mails(state string) []engine.Mail {
	w.t.Helper()
	ms, err := w.e.Mails("", state, 0, 100)
	if err != nil {
		w.t.Fatal(err)
	}
	return ms
}

// The relay refuses (451), then drops the connection after DATA, then accepts: the payment
// went through at once with its SMS while it refused, and the notice arrives exactly once,
// over STARTTLS, logged in, with what was paid.
func TestNoticeSurvivesARefusingRelay(t *testing.T) {
	w := newWorld(t)
	srv := startServer(t, true, refuse, refuse, drop)
	w.sender(srv, TLSMandatory)
	start := time.Now()
	replies := w.text("PAY SHOP42 12.50 INV77 739164")
	if len(replies) != 1 || !strings.Contains(replies[0], "Paid 12.50 EUR to Corner Shop") {
		t.Fatalf("the payer's reply: %q", replies)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the payment took %v", took)
	}
	waitFor(t, "two refusals", func() bool { return srv.tries() >= 2 })
	if got := srv.messages(); len(got) != 0 {
		t.Fatalf("a refused message was kept: %d", len(got))
	}
	// Another payment while the relay still refuses goes through as well.
	if r := w.text("PAY SHOP42 1 SECOND 739164"); len(r) != 1 || !strings.Contains(r[0], "Paid 1.00 EUR") {
		t.Fatalf("second payment: %q", r)
	}
	waitFor(t, "both notices sent", func() bool { return len(w.mails(engine.MailSent)) == 2 })
	time.Sleep(300 * time.Millisecond) // time for a copy, if there were one
	got := srv.messages()
	if len(got) != 2 {
		t.Fatalf("%d messages arrived, want 2 (one per payment)", len(got))
	}
	var first letter
	for _, m := range got {
		if !m.TLS || m.User != testUser || m.To != "owner@shop.example" || m.From != "notices@pay.example" {
			t.Fatalf("session: TLS %v, user %q, %s -> %s", m.TLS, m.User, m.From, m.To)
		}
		if l := readLetter(t, m.Raw); strings.Contains(l.Header.Get("Subject"), "INV77") {
			first = l
		}
	}
	receipt := replies[0][strings.Index(replies[0], "Receipt ")+len("Receipt "):]
	receipt = strings.Fields(receipt)[0]
	for _, want := range []string{"12.50 EUR", "+336****678", "INV77", receipt} {
		if !strings.Contains(first.Text, want) {
			t.Errorf("the notice does not say %q:\n%s", want, first.Text)
		}
	}
	if subj := first.Header.Get("Subject"); subj != "Payment received: 12.50 EUR, Ref INV77" {
		t.Errorf("subject %q", subj)
	}
	// Three refused attempts (451, 451, dropped) and two accepted, over both mails.
	attempts, ids := 0, map[string]bool{}
	for _, m := range w.mails(engine.MailSent) {
		attempts += m.Attempts
		ids["<"+m.ID+"@mpg>"] = true
	}
	for _, m := range got {
		if id := readLetter(t, m.Raw).Header.Get("Message-Id"); !ids[id] {
			t.Fatalf("message %s is none of the mails %v", id, ids)
		}
		delete(ids, readLetter(t, m.Raw).Header.Get("Message-Id"))
	}
	if attempts != 5 || srv.tries() != 5 {
		t.Fatalf("%d attempts recorded, %d offered, want 5 and 5", attempts, srv.tries())
	}
	if bytes.Contains(w.books.Raw(t), []byte(testPassword)) {
		t.Fatal("the relay's password is in the books")
	}
}

// A permanent refusal (550 to RCPT) fails the mail after one attempt; it is listed failed.
func TestPermanentRefusalFailsTheMail(t *testing.T) {
	w := newWorld(t)
	srv := startServer(t, true, reject)
	w.sender(srv, TLSMandatory)
	w.text("PAY SHOP42 3 X1 739164")
	waitFor(t, "the mail failed", func() bool { return len(w.mails(engine.MailFailed)) == 1 })
	time.Sleep(1500 * time.Millisecond) // past the first retry's time: none comes
	m := w.mails(engine.MailFailed)[0]
	if m.Attempts != 1 || !strings.Contains(m.LastErr, "550") || srv.tries() != 1 || len(srv.messages()) != 0 {
		t.Fatalf("after a 550: %+v, %d tries, %d kept", m, srv.tries(), len(srv.messages()))
	}
}

// STARTTLS is mandatory: a relay that does not offer it gets nothing, and the mail waits.
func TestNoMailWithoutSTARTTLS(t *testing.T) {
	w := newWorld(t)
	srv := startServer(t, false)
	w.sender(srv, TLSMandatory)
	w.text("PAY SHOP42 3 X2 739164")
	waitFor(t, "an attempt", func() bool {
		ms := w.mails(engine.MailPending)
		return len(ms) == 1 && ms[0].Attempts > 0
	})
	m := w.mails(engine.MailPending)[0]
	if srv.tries() != 0 || !strings.Contains(m.LastErr, "STARTTLS") {
		t.Fatalf("plain relay: %d messages offered, %+v", srv.tries(), m)
	}
}

// The day's statement arrives once, from the statement hour, with the day's payments as the
// reconciliation CSV: the same rows GET /v1/payments?format=csv gives.
func TestStatementArrivesWithTheDaysCSV(t *testing.T) {
	w := newWorldAt(t, 6)
	for _, s := range []string{"PAY SHOP42 4 A 739164", "PAY SHOP42 2.50 B 739164", "PAY SHOP42 1 C 739164"} {
		w.text(s)
	}
	ps, _, err := w.e.ListPayments(w.shop, engine.PaymentFilter{Limit: 100})
	if err != nil || len(ps) != 3 {
		t.Fatalf("%v %d payments", err, len(ps))
	}
	if _, _, _, err := w.e.RefundPayment(context.Background(), engine.RefundRequest{Merchant: w.shop, PaymentID: ps[0].ID, Amount: 100, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	ps, _, _ = w.e.ListPayments(w.shop, engine.PaymentFilter{Limit: 100})
	views := make([]engine.PaymentView, len(ps))
	for i, p := range ps {
		views[i] = w.e.View(p)
	}
	var want bytes.Buffer
	engine.WriteReconciliationCSV(&want, views)
	day := time.Now().UTC()
	next := time.Date(day.Year(), day.Month(), day.Day()+1, 6, 0, 0, 0, time.UTC)
	w.offset.Store(int64(time.Until(next)))
	srv := startServer(t, true)
	w.sender(srv, TLSMandatory)
	var statement letter
	waitFor(t, "the statement", func() bool {
		for _, m := range srv.messages() {
			if l := readLetter(t, m.Raw); strings.HasPrefix(l.Header.Get("Subject"), "Statement") {
				statement = l
				return true
			}
		}
		return false
	})
	name := "statement-SHOP42-" + day.Format("2006-01-02") + ".csv"
	if got := statement.Attachments[name]; !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("attachment %q:\n%s\nwant:\n%s", name, got, want.Bytes())
	}
	for _, s := range []string{"Payments:  3", "Received:  7.50 EUR", "Refunded:  1.00 EUR", "Net:       6.50 EUR"} {
		if !strings.Contains(statement.Text, s) {
			t.Errorf("summary lacks %q:\n%s", s, statement.Text)
		}
	}
	waitFor(t, "every mail sent", func() bool { return len(w.mails(engine.MailSent)) == 5 }) // 3 payments, 1 refund, 1 statement
	time.Sleep(200 * time.Millisecond)
	if n := len(srv.messages()); n != 5 {
		t.Fatalf("%d messages, want 5", n)
	}
}

// The mail room stops with its context: every attempt it started has ended, no goroutine
// is left behind, and a mail it did not finish stays queued.
func TestRunStopsWithItsContext(t *testing.T) {
	w := newWorld(t)
	srv := startServer(t, true, refuse, refuse, refuse, refuse)
	host, port, _ := net.SplitHostPort(srv.Addr)
	p, _ := strconv.Atoi(port)
	cfg := Config{Host: host, Port: p, From: "mpg <notices@pay.example>", Username: testUser, Password: testPassword,
		TLS: &tls.Config{RootCAs: srv.Pool, ServerName: host, MinVersion: tls.VersionTLS12}, Every: 10 * time.Millisecond}
	w.text("PAY SHOP42 2 STOP 739164")
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Run(ctx, cfg, w.e, nil) }()
	waitFor(t, "an attempt", func() bool { return srv.tries() > 0 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if ms := w.mails(engine.MailPending); len(ms) != 1 {
		t.Fatalf("pending after the stop: %+v", ms)
	}
}
