package engine

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
	"mpg/settlement"
	"mpg/settlement/settlementtest"
)

const shopIBAN = "FR7630006000011234567890189"

// settling turns settlement on (files into a fresh directory, 10% of 7 days' payments kept
// back, payouts from 1.00 EUR) and links SHOP42's bank account; it returns SHOP42's account.
func (w *world) settling() domain.Account {
	w.t.Helper()
	w.e.cfg.Settlement = SettlementConfig{Files: settlement.Files{}, Dir: w.t.TempDir(), ReservePercent: 10, ReserveDays: 7, MinPayout: 100,
		Debtor: domain.SEPAParty{Name: "Opérateur Mobile SA", IBAN: "DE89370400440532013000", BIC: "COBADEFFXXX"}}
	shop := w.l.AccountsOf("SHOP42")[0]
	if _, err := w.e.LinkPayoutBank(context.Background(), "test", shop.ID, "fr76 3000 6000 0112 3456 7890 189", "AGRIFRPP", "Crêperie Zoé"); err != nil {
		w.t.Fatal(err)
	}
	return shop
}

func (w *world) settleNow() SettleReport {
	w.t.Helper()
	rep, err := w.e.Settle(context.Background(), "test")
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

func (w *world) systemBalance(k domain.Kind) int64 {
	a, err := w.l.System(k, "EUR")
	if err != nil {
		return 0
	}
	return int64(a.CreditsPosted) - int64(a.DebitsPosted)
}

// fileTotal reads a written pain.001 (after xmllint checked it): its control sum in cents
// and its EndToEndIds.
func fileTotal(t *testing.T, path string) (uint64, []string) {
	t.Helper()
	settlementtest.Validate(t, path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Sum string   `xml:"CstmrCdtTrfInitn>GrpHdr>CtrlSum"`
		IDs []string `xml:"CstmrCdtTrfInitn>PmtInf>CdtTrfTxInf>PmtId>EndToEndId"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	amount, err := domain.ParseAmount(doc.Sum, 2)
	if err != nil {
		t.Fatal(err)
	}
	return amount, doc.IDs
}

// A day's payments, less the reserve, move to the settlement account in one payout, and the
// file written for it validates against the ISO 20022 schema and asks for exactly what moved.
// A second run that day pays nothing again; the next day pays only what came since, and its
// reconciliation adds up.
func TestSettlementPaysWhatIsOwedOnce(t *testing.T) {
	w := newWorld(t)
	shop := w.settling()
	w.payers(2, 50000)
	w.expect(payer(0), "PAY SHOP42 120 739164", "Paid 120.00 EUR")
	w.expect(payer(1), "PAY SHOP42 80 739164", "Paid 80.00 EUR")
	w.refund(w.lastPayment(shop.ID), 3000)

	rep := w.settleNow()
	if len(rep.Issued) != 1 || len(rep.Files) != 1 {
		t.Fatalf("run: %+v", rep)
	}
	po := rep.Issued[0]
	// Paid 200.00, refunded 30.00: 170.00 held; the reserve is 10% of the 200.00 paid.
	if po.Amount != 15000 || po.Reserve != 2000 || w.available("SHOP42") != 2000 || w.systemBalance(domain.KindSettlement) != 15000 {
		t.Fatalf("payout %+v, shop %d, in transit %d", po, w.available("SHOP42"), w.systemBalance(domain.KindSettlement))
	}
	sum, ids := fileTotal(t, rep.Files[0])
	if sum != 15000 || len(ids) != 1 || ids[0] != "MPG20261125-SHOP42" {
		t.Fatalf("file asks for %d in %v", sum, ids)
	}
	if told := w.outbox()["+33698765432"]; len(told) != 1 || told[0] != "Payout of 150.00 EUR on its way to your bank account FR76 **** 0189. Ref MPG20261125-SHOP42. Kept for refunds: 20.00 EUR." {
		t.Fatalf("the merchant is told %q", told)
	}
	if again := w.settleNow(); len(again.Issued) != 0 || len(again.Files) != 0 || !strings.Contains(strings.Join(again.Skipped, ";"), "already") {
		t.Fatalf("second run the same day: %+v", again)
	}

	w.advance(24 * time.Hour)
	w.expect(payer(0), "PAY SHOP42 40 next 739164", "Paid 40.00 EUR")
	next := w.settleNow()
	// 240.00 paid in the 7 days: 24.00 kept back; 20.00 + 40.00 held: 36.00 paid out.
	if len(next.Issued) != 1 || next.Issued[0].Amount != 3600 || next.Issued[0].Prev != po.ID {
		t.Fatalf("next day: %+v", next)
	}
	v, err := w.e.PayoutDetail(next.Issued[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Complete || len(v.Movements) != 1 || v.Movements[0].Payment == "" || v.Sum != int64(v.Amount+v.Reserve)-int64(v.ReserveBefore) {
		t.Fatalf("reconciliation: %+v", v)
	}
	first, err := w.e.PayoutDetail(po.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The first payout covers both payments and the refund: 200.00 - 30.00 = 150.00 + 20.00.
	if len(first.Movements) != 3 || first.Sum != 17000 || first.Sum != int64(first.Amount+first.Reserve-first.ReserveBefore) {
		t.Fatalf("first reconciliation: %+v", first)
	}
	if list, _ := w.e.PayoutsOf(shop.ID, 10); len(list) != 2 || list[0].ID != next.Issued[0].ID {
		t.Fatalf("payouts of the shop: %+v", list)
	}
	w.verify()
}

// A payout whose job committed but whose file was never written (the daemon died between
// them, here: the directory could not be written) gets its file from its record on the next
// run, by any daemon, and is never issued twice.
func TestSettlementFileWrittenAfterACrash(t *testing.T) {
	w := newWorld(t)
	w.settling()
	w.payers(1, 50000)
	w.expect(payer(0), "PAY SHOP42 100 739164", "Paid 100.00 EUR")
	good := w.e.cfg.Settlement.Dir
	blocked := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(blocked, []byte("x"), 0o600)
	w.e.cfg.Settlement.Dir = blocked
	if _, err := w.e.Settle(context.Background(), "test"); err == nil {
		t.Fatal("a run that could not write its file said nothing")
	}
	if w.systemBalance(domain.KindSettlement) != 9000 {
		t.Fatalf("in transit: %d", w.systemBalance(domain.KindSettlement))
	}
	other := w.secondDaemon()
	other.e.cfg.Settlement.Dir = good
	rep, ran, err := other.e.SettleDue(context.Background())
	if err != nil || !ran || len(rep.Issued) != 0 || len(rep.Files) != 1 {
		t.Fatalf("the next run: %+v ran %v: %v", rep, ran, err)
	}
	sum, ids := fileTotal(t, rep.Files[0])
	if sum != 9000 || len(ids) != 1 || w.systemBalance(domain.KindSettlement) != 9000 {
		t.Fatalf("file %d %v, in transit %d", sum, ids, w.systemBalance(domain.KindSettlement))
	}
	if rep, ran, _ := other.e.SettleDue(context.Background()); ran || len(rep.Files) != 0 {
		t.Fatalf("the day ran again: %+v", rep)
	}
	w.verify()
}

// statusReport writes the bank's pain.002 for one payout of a file.
func statusReport(file, payout, status string) string {
	code, reason, _ := strings.Cut(status, " ")
	rsn := ""
	if reason != "" {
		rsn = "<StsRsnInf><Rsn><Cd>" + reason + "</Cd></Rsn></StsRsnInf>"
	}
	return `<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>` +
		`<GrpHdr><MsgId>RPT1</MsgId><CreDtTm>2026-11-26T08:00:00</CreDtTm></GrpHdr>` +
		`<OrgnlGrpInfAndSts><OrgnlMsgId>` + file + `</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId></OrgnlGrpInfAndSts>` +
		`<OrgnlPmtInfAndSts><OrgnlPmtInfId>` + file + `-1</OrgnlPmtInfId><TxInfAndSts><OrgnlEndToEndId>` + payout +
		`</OrgnlEndToEndId><TxSts>` + code + `</TxSts>` + rsn + `</TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>`
}

// The bank's answer decides a payout: still accepted only, it stays issued; rejected, the
// money goes back to the merchant with the bank's reason, once; settled, it leaves the
// settlement account for bank clearing.
func TestSettlementConfirmAndReject(t *testing.T) {
	w := newWorld(t)
	w.settling()
	w.payers(1, 50000)
	w.expect(payer(0), "PAY SHOP42 100 739164", "Paid 100.00 EUR")
	po := w.settleNow().Issued[0]
	po, _, _ = w.e.PayoutByID(po.ID)
	confirm := func(status string) ConfirmReport {
		rep, err := w.e.ConfirmPayouts(context.Background(), "test", strings.NewReader(statusReport(po.File, po.ID, status)))
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := confirm("ACCP"); rep.Lines[0].State != PayoutIssued {
		t.Fatalf("accepted only: %+v", rep)
	}
	rep := confirm("RJCT AC04")
	if rep.Lines[0].State != PayoutRejected || rep.Lines[0].Reason != "AC04 account closed" {
		t.Fatalf("rejected: %+v", rep)
	}
	if w.available("SHOP42") != 10000 || w.systemBalance(domain.KindSettlement) != 0 {
		t.Fatalf("money not back: shop %d, in transit %d", w.available("SHOP42"), w.systemBalance(domain.KindSettlement))
	}
	if told := w.outbox()["+33698765432"]; len(told) != 2 || !strings.Contains(told[1], "Your bank refused the payout MPG20261125-SHOP42 of 90.00 EUR (AC04 account closed). The money is back") {
		t.Fatalf("the merchant is told %q", told)
	}
	if again := confirm("RJCT AC04"); again.Lines[0].Note == "" || w.available("SHOP42") != 10000 {
		t.Fatalf("a second rejection moved money: %+v", again)
	}
	if late := confirm("ACSC"); late.Lines[0].State != PayoutRejected || w.systemBalance(domain.KindBankClearing) != 0 {
		t.Fatalf("a settlement after the rejection: %+v", late)
	}

	w.advance(24 * time.Hour)
	po = w.settleNow().Issued[0]
	po, _, _ = w.e.PayoutByID(po.ID)
	// The money the bank sent back is paid out again the next day, and the payout says so.
	if v, err := w.e.PayoutDetail(po.ID); err != nil || po.Amount != 9000 || len(v.Movements) != 1 || v.Movements[0].What != "returned payout" ||
		v.Sum != int64(v.Amount+v.Reserve)-int64(v.ReserveBefore) {
		t.Fatalf("the next payout: %+v %v", v, err)
	}
	if rep := confirm("ACSC"); rep.Lines[0].State != PayoutPaid || w.systemBalance(domain.KindSettlement) != 0 || w.systemBalance(domain.KindBankClearing) != int64(po.Amount) {
		t.Fatalf("settled: %+v, clearing %d", rep, w.systemBalance(domain.KindBankClearing))
	}
	if _, err := w.e.ConfirmPayouts(context.Background(), "test", strings.NewReader(statusReport("NOTOURS", po.ID, "ACSC"))); err == nil {
		t.Fatal("a report of a file mpg never sent was taken")
	}
	w.verify()
}

// Settlement is in euros only: a ledger in another currency is refused, and says why.
func TestSettlementRefusesOtherCurrencies(t *testing.T) {
	w := newWorld(t)
	w.settling()
	w.e.cfg.Currency = "XOF"
	if _, err := w.e.Settle(context.Background(), "test"); !errors.Is(err, settlement.ErrNotEUR) {
		t.Fatalf("XOF: %v", err)
	}
}

// Payments made while settlement runs, from several daemons, are never lost nor paid out
// twice: what the merchant was paid is what was paid out plus what it holds.
func TestSettlementRacesPayments(t *testing.T) {
	w := newWorld(t)
	shop := w.settling()
	const payers, days, each = 6, 3, 5
	w.payers(payers, 100000)
	second := w.secondDaemon()
	var mu sync.Mutex
	var issued []Payout
	for d := range days {
		var acts []func()
		for i := range payers {
			acts = append(acts, func() {
				for n := range each {
					in := Inbound{From: payer(i), To: "1234", Text: fmt.Sprintf("PAY SHOP42 %d d%dn%d 739164", 5+n, d, n)}
					if err := w.e.Handle(context.Background(), in); err != nil {
						t.Error(err)
					}
				}
			})
		}
		for k, e := range []*Engine{w.e, second.e, w.e} {
			acts = append(acts, func() {
				time.Sleep(time.Duration(k) * 5 * time.Millisecond) // some amid the payments
				rep, err := e.Settle(context.Background(), "test")
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				issued = append(issued, rep.Issued...)
				mu.Unlock()
			})
		}
		atOnce(acts)
		w.advance(24 * time.Hour)
	}
	var out uint64
	seen := map[string]bool{}
	for _, p := range issued {
		if seen[p.ID] {
			t.Fatalf("payout %s issued twice", p.ID)
		}
		seen[p.ID] = true
		out += p.Amount
	}
	m, _ := w.l.Account(shop.ID)
	var spent uint64
	for i := range payers {
		spent += 100000 - uint64(w.available(payer(i)))
	}
	paid := spent - uint64(w.available("@fees"))
	if m.CreditsPosted != days*payers*(5+6+7+8+9)*100 || m.CreditsPosted != paid || int64(out)+m.Available() != int64(paid) || w.systemBalance(domain.KindSettlement) != int64(out) {
		t.Fatalf("paid %d, credited %d, paid out %d, held %d", paid, m.CreditsPosted, out, m.Available())
	}
	if len(issued) == 0 {
		t.Fatal("nothing was paid out")
	}
	w.verify()
}

// A blocked merchant is not paid out (its account refuses the debit in the payout's job),
// and the day is done all the same: the daily run does not start again every minute.
func TestSettlementSkipsABlockedMerchant(t *testing.T) {
	w := newWorld(t)
	w.settling()
	w.payers(1, 50000)
	w.expect(payer(0), "PAY SHOP42 100 739164", "Paid 100.00 EUR")
	w.setStatus("SHOP42", domain.StatusBlocked)
	rep, ran, err := w.e.SettleDue(context.Background())
	if err != nil || !ran || len(rep.Issued) != 0 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "blocked") {
		t.Fatalf("run: %+v ran %v: %v", rep, ran, err)
	}
	if _, ran, _ := w.e.SettleDue(context.Background()); ran || w.available("SHOP42") != 10000 {
		t.Fatalf("ran again %v, shop %d", ran, w.available("SHOP42"))
	}
}

// The daily run starts at its time of day by the engine's clock, once: before it nothing
// is paid; the daemon's loop pays and writes the file by itself.
func TestSettlementDailyRunAtItsTime(t *testing.T) {
	w := newWorld(t) // 12:00 UTC
	w.settling()
	w.e.cfg.Settlement.At = 18 * time.Hour
	w.payers(1, 50000)
	w.expect(payer(0), "PAY SHOP42 100 739164", "Paid 100.00 EUR")
	if rep, ran, err := w.e.SettleDue(context.Background()); err != nil || ran || len(rep.Issued) != 0 {
		t.Fatalf("before its time: %+v %v %v", rep, ran, err)
	}
	w.advance(6*time.Hour + time.Minute)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.e.RunSettlement(ctx, 10*time.Millisecond, t.Logf) }()
	defer func() { stop(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if names, _ := os.ReadDir(w.e.cfg.Settlement.Dir); len(names) == 1 && w.systemBalance(domain.KindSettlement) == 9000 {
			return
		}
	}
	t.Fatal("the daily run wrote no file")
}
