package engine

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
)

// shopMail gives SHOP42 an address and returns its account.
func (w *world) shopMail(address string) uint64 {
	w.t.Helper()
	shop := w.l.AccountsOf("SHOP42")[0].ID
	if err := w.e.SetMerchantEmail(context.Background(), "test", shop, address); err != nil {
		w.t.Fatal(err)
	}
	return shop
}

// mails lists every mail in the state given ("" for any).
func (w *world) mails(state string) []Mail {
	w.t.Helper()
	ms, err := w.e.Mails("", state, 0, 1000)
	if err != nil {
		w.t.Fatal(err)
	}
	return ms
}

// A payment and a refund each write their notice in their own job: amount, masked payer,
// reference, receipt (the one the payer was texted), time.
func TestMailNoticesAreWrittenWithThePaymentAndTheRefund(t *testing.T) {
	w := newWorld(t)
	shop := w.shopMail("owner@shop.example")
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 1)
	reply := w.expect(alice, "PAY SHOP42 12.50 INV77 739164", "Paid 12.50 EUR")
	ms := w.mails(MailPending)
	if len(ms) != 1 {
		t.Fatalf("%d mails after one payment, want 1: %+v", len(ms), ms)
	}
	m := ms[0]
	if m.Kind != MailPayment || m.To != "owner@shop.example" || m.Amount != 1250 || m.Payer != "+336****678" || m.Ref != "INV77" || m.Merchant != shop {
		t.Fatalf("notice %+v", m)
	}
	due, err := w.e.DueMails(context.Background(), 10, nil)
	if err != nil || len(due) != 1 {
		t.Fatalf("due %v %+v", err, due)
	}
	l := due[0]
	receipt := receiptIn(t, reply)
	for _, want := range []string{"12.50 EUR", "+336****678", "INV77", receipt, "2026-11-25 12:00:00 UTC", m.Payment} {
		if !strings.Contains(l.Text, want) {
			t.Errorf("the notice does not say %q:\n%s", want, l.Text)
		}
	}
	if strings.Contains(l.Text, alice) || strings.Contains(l.Text, "739164") {
		t.Fatalf("the notice shows the number or the PIN:\n%s", l.Text)
	}
	if _, _, _, err := w.e.RefundPayment(context.Background(), RefundRequest{Merchant: shop, PaymentID: m.Payment, Amount: 250, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	ms = w.mails(MailPending)
	if len(ms) != 2 || ms[1].Kind != MailRefund || ms[1].Amount != 250 {
		t.Fatalf("after a refund: %+v", ms)
	}
	// Without an address nothing is written, and what waits is failed, not sent.
	w.shopMail("")
	if due, err := w.e.DueMails(context.Background(), 10, nil); err != nil || len(due) != 0 {
		t.Fatalf("due once the address is removed: %v %+v", err, due)
	}
	if failed := w.mails(MailFailed); len(failed) != 2 || !strings.Contains(failed[0].LastErr, "stopped e-mail") {
		t.Fatalf("waiting mails once the address is removed: %+v", failed)
	}
	w.sms(alice, "PAY SHOP42 1 NOMAIL 739164")
	if n := len(w.mails("")); n != 2 {
		t.Fatalf("%d mails, want still 2 once the address is removed", n)
	}
}

// receiptIn reads the receipt code in a payer's reply.
func receiptIn(t *testing.T, reply string) string {
	t.Helper()
	i := strings.Index(reply, "Receipt ")
	if i < 0 {
		t.Fatalf("no receipt in %q", reply)
	}
	return strings.Fields(reply[i+len("Receipt "):])[0]
}

// A payment the ledger refuses writes no mail: the notice is in the payment's job. Racing
// payments against the daily limit leave exactly one notice per payment that went through.
func TestMailOnlyForPaymentsThatCommitted(t *testing.T) {
	w := newWorldTiers(t, map[uint8]Limits{1: {PerTx: 1000, Daily: 3000, MaxBalance: 100000}})
	shop := w.shopMail("owner@shop.example")
	w.expect(alice, "REG 739164", "Welcome")
	w.topup(alice, 50000, 1)
	w.expect(alice, "PAY SHOP42 10.01 X 739164", "Above your limit")
	if n := len(w.mails("")); n != 0 {
		t.Fatalf("a refused payment wrote %d mails", n)
	}
	var sms [][2]string
	for i := range 16 {
		sms = append(sms, [2]string{alice, fmt.Sprintf("PAY SHOP42 10 R%d 739164", i)})
	}
	w.texts(sms...)
	paid := map[string]bool{}
	for _, p := range w.payments(shop) {
		if p.State == domain.PaymentCompleted {
			paid[p.ID] = true
		}
	}
	ms := w.mails("")
	if len(paid) != 3 || len(ms) != 3 {
		t.Fatalf("%d payments went through, %d mails; want 3 and 3", len(paid), len(ms))
	}
	for _, m := range ms {
		if !paid[m.Payment] {
			t.Fatalf("a mail for %s, which did not go through", m.Payment)
		}
	}
}

// A temporary failure waits its turn in the schedule; after the last it is failed; a
// permanent one is failed at once; an accepted one leaves the queue.
func TestMailRetriesThenFails(t *testing.T) {
	w := newWorld(t)
	w.e.cfg.Mail.Retry = []time.Duration{time.Minute, time.Hour}
	w.shopMail("owner@shop.example")
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 1)
	ctx := context.Background()
	due := func(want int) []Letter {
		t.Helper()
		ls, err := w.e.DueMails(ctx, 10, nil)
		if err != nil || len(ls) != want {
			t.Fatalf("due: %v, %d letters, want %d", err, len(ls), want)
		}
		return ls
	}
	w.expect(alice, "PAY SHOP42 1 A 739164", "Paid")
	id := due(1)[0].ID
	for i, wait := range w.e.cfg.Mail.Retry {
		if err := w.e.MailAttempt(ctx, id, Outcome{Error: "451 try later"}); err != nil {
			t.Fatal(err)
		}
		due(0)
		w.advance(wait)
		if got := due(1); got[0].ID != id {
			t.Fatalf("round %d: %s due", i, got[0].ID)
		}
	}
	w.e.MailAttempt(ctx, id, Outcome{Error: "451 try later"})
	m, _, _ := w.e.MailRecord(id)
	if m.State != MailFailed || m.Attempts != 3 || m.LastErr != "451 try later" {
		t.Fatalf("after the schedule: %+v", m)
	}
	due(0)
	// An operator queues it again: it goes.
	if err := w.e.ReplayMail(ctx, "test", id); err != nil {
		t.Fatal(err)
	}
	w.e.MailAttempt(ctx, due(1)[0].ID, Outcome{Accepted: true})
	if m, _, _ = w.e.MailRecord(id); m.State != MailSent || m.Attempts != 4 {
		t.Fatalf("after replay: %+v", m)
	}
	w.expect(alice, "PAY SHOP42 1 B 739164", "Paid")
	id = due(1)[0].ID
	w.e.MailAttempt(ctx, id, Outcome{Permanent: true, Error: "550 no such user"})
	if m, _, _ = w.e.MailRecord(id); m.State != MailFailed || m.Attempts != 1 {
		t.Fatalf("after a 5xx: %+v", m)
	}
	due(0)
	if got := w.mails(MailFailed); len(got) != 1 || got[0].ID != id {
		t.Fatalf("failed list: %+v", got)
	}
}

// Retries shorter than a second (a relay that answers 451 at once, a schedule in
// milliseconds) keep the mail's queue entry when its next due second is the same: each
// attempt is recorded, none refused as a record written twice.
func TestMailRetriesWithinOneSecondAreRecorded(t *testing.T) {
	w := newWorld(t)
	w.e.cfg.Mail.Retry = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	w.shopMail("owner@shop.example")
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 1)
	ctx := context.Background()
	w.expect(alice, "PAY SHOP42 1 A 739164", "Paid")
	ls, err := w.e.DueMails(ctx, 10, nil)
	if err != nil || len(ls) != 1 {
		t.Fatalf("due: %d, %v", len(ls), err)
	}
	for i := range 3 {
		if err := w.e.MailAttempt(ctx, ls[0].ID, Outcome{Error: "451 try later"}); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if m, _, _ := w.e.MailRecord(ls[0].ID); m.Attempts != 3 || m.State != MailPending {
		t.Fatalf("after 3 quick failures: %+v", m)
	}
	w.advance(time.Second)
	if ls, err := w.e.DueMails(ctx, 10, nil); err != nil || len(ls) != 1 {
		t.Fatalf("due again: %d, %v", len(ls), err)
	}
}

// The statement of a day is queued once per merchant, from the statement hour, however many
// daemons try at once, and again the next day; its CSV lists the day's payments.
func TestStatementOncePerDayAcrossDaemons(t *testing.T) {
	w := newWorld(t)
	// Payments' ids carry the wall clock: the world's clock follows it for this test.
	w.now = time.Now().UTC()
	w.clock.Store(w.now.UnixNano())
	w.e.cfg.Mail.StatementHour = 6
	shop := w.shopMail("owner@shop.example")
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 1)
	for i := range 3 {
		w.expect(alice, fmt.Sprintf("PAY SHOP42 %d S%d 739164", i+1, i), "Paid")
	}
	day := w.now.Format("2006-01-02")
	y, mo, d := w.now.Date()
	w.now = time.Date(y, mo, d+1, 5, 59, 0, 0, time.UTC)
	w.clock.Store(w.now.UnixNano())
	if n, err := w.e.QueueStatements(context.Background()); n != 0 || err != nil {
		t.Fatalf("before the hour: %d %v", n, err)
	}
	w.advance(time.Minute)
	other := w.secondDaemon()
	var wg sync.WaitGroup
	var mu sync.Mutex
	queued := 0
	for _, e := range []*Engine{w.e, other.e, w.e, other.e} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := e.QueueStatements(context.Background())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			queued += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	var statements []Mail
	for _, m := range w.mails("") {
		if m.Kind == MailStatement {
			statements = append(statements, m)
		}
	}
	if queued != 1 || len(statements) != 1 || statements[0].Day != day {
		t.Fatalf("queued %d, statements %+v; want one for %s", queued, statements, day)
	}
	letter, err := w.e.compose(statements[0])
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(letter.Attachment))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	ps := w.payments(shop)
	if len(rows) != len(ps)+1 || len(ps) != 3 {
		t.Fatalf("%d rows for %d payments", len(rows)-1, len(ps))
	}
	for i, p := range ps {
		if rows[i+1][0] != p.ID || rows[i+1][7] != domain.FormatMinor(p.Amount, 2) || rows[i+1][10] != p.Reference {
			t.Fatalf("row %d %q, payment %+v", i, rows[i+1], p)
		}
	}
	if !strings.Contains(letter.Text, "Payments:  3 (3 completed)") || !strings.Contains(letter.Text, "Received:  6.00 EUR") {
		t.Fatalf("summary:\n%s", letter.Text)
	}
	w.advance(12 * time.Hour)
	if n, _ := w.e.QueueStatements(context.Background()); n != 0 {
		t.Fatalf("a second statement the same day: %d", n)
	}
	w.advance(12 * time.Hour)
	if n, _ := other.e.QueueStatements(context.Background()); n != 1 {
		t.Fatalf("the next day: %d statements", n)
	}
}

// An address is one address, bounded.
func TestMerchantEmailIsChecked(t *testing.T) {
	w := newWorld(t)
	shop := w.l.AccountsOf("SHOP42")[0].ID
	for _, bad := range []string{"nope", "a@b.example, c@d.example", "Shop <a@b.example>", "a@b.example\r\nBcc: x@y.example",
		strings.Repeat("a", 250) + "@b.example"} {
		if err := w.e.SetMerchantEmail(context.Background(), "test", shop, bad); err == nil {
			t.Errorf("%q taken", bad)
		}
	}
	if err := w.e.SetMerchantEmail(context.Background(), "test", shop, "owner@shop.example"); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.e.MerchantEmail(shop); got != "owner@shop.example" {
		t.Fatalf("address %q", got)
	}
}
