package engine

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mpg/bank"
)

// plantedName and the bank account below are a person only this test uses: a byte of them
// in the file is a leak.
const plantedName = "Zyxwvut Plantedname"

// TestANormalDayLeavesNoPersonInTheFile: a subscriber registers with a name, links a bank
// account, pays a merchant with a reference, sends to a friend and is sent to, pays by
// DEBIT, opens a dispute, asks for his data, and gets every reply delivered. Then the
// ledger file, free pages included, holds his number in none of its forms, nor his name,
// nor his IBAN: the books name a party id, and what is his is sealed under his key.
func TestANormalDayLeavesNoPersonInTheFile(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	sim, err := bank.NewSim("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sim.Open(aliceIBAN, bank.SimAccount{Balance: 100000})
	client := bank.NewClient(bank.Config{Addr: sim.Addr(), Timeout: 2 * time.Second})
	t.Cleanup(func() { client.Close(); sim.Close() })
	w.e.SetBank(client)

	w.expect(alice, "REG 739164 "+plantedName, "Welcome")
	if _, err := w.e.LinkBank(ctx, "ops", alice, "FR76 3000 6000 0112 3456 7890 189"); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	w.topup(alice, 20000, 2)
	w.expect(alice, "PROMO ON", "")
	ref := refRe.FindStringSubmatch(w.expect(alice, "PAY SHOP42 3 INV77 739164", "Paid 3.00 EUR"))[1]
	w.expect(bob, "REG 246810 Bob", "Welcome")
	w.topup(bob, 5000, 2)
	w.sms(bob, "SEND 0612345678 2 246810")
	w.sms(alice, "SEND +33687654321 1.50 739164")
	p := w.debitAndConfirm("5")
	if _, err := w.e.BankStep(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	w.expect(alice, "DISPUTE "+ref+" never got the goods", "Dispute case")
	w.expect(alice, "DATA 739164", "Your data")
	w.expect(alice, "BAL 739164", "")
	w.outbox()
	deliverAll(t, w)
	if err := w.l.Close(); err != nil {
		t.Fatal(err)
	}
	b := w.rawBooks(t)
	// The merchant's phone (+33698765432, a sole trader's own number) is a person's too.
	for _, planted := range []string{alice, strings.TrimPrefix(alice, "+"), "0612345678", plantedName, aliceIBAN, "30006000011234567890", "+33698765432"} {
		if i := bytes.Index(b, []byte(planted)); i >= 0 {
			t.Errorf("the file holds %q in clear: …%q…", planted, b[max(0, i-80):min(len(b), i+80)])
		}
	}
}

// deliverAll marks every message of the outbox delivered, as the SMSC's receipts would.
func deliverAll(t *testing.T, w *world) {
	t.Helper()
	msgs, err := w.l.NextMessages(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		id := fmt.Sprintf("smsc-%d", m.ID)
		if err := w.l.MarkSent(context.Background(), m.ID, id); err != nil {
			t.Fatal(err)
		}
		if err := w.l.MarkReceipt(context.Background(), id, true, "DELIVRD"); err != nil {
			t.Fatal(err)
		}
	}
}
