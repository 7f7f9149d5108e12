package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"mpg/domain"
	"mpg/promo"
	"mpg/stats"
)

// STATS answers a payer's spend this month against last month's, from the statistics the
// follower counted after real payments: merchants by code, the rest (people paid) as
// others; in English and in French; before any payment it says there is none yet. A copy
// of the SMS is answered with the state at that moment, as BAL is.
func TestStatsSMS(t *testing.T) {
	w := newWorldTiers(t, map[uint8]Limits{2: {PerTx: 5000, Daily: 20000, MaxBalance: 100000, CanSend: true}})
	w.payers(2, 20000)
	en, fr := payer(0), payer(1)
	w.expect(en, "STATS 739164", "No payments yet this month.")
	w.expect(fr, "LANG FR", "français")
	w.expect(en, "PAY SHOP42 10 739164", "Paid")
	w.expect(en, "BILL EDF A1 5 739164", "EDF")
	w.expect(fr, "PAYER SHOP42 8 739164", "Payé")
	w.catchUp()
	w.advance(7 * 24 * time.Hour) // 2 December
	w.expect(en, "STATS 739164", "No payments yet this month.")
	w.expect(en, "PAY SHOP42 20 R1 739164", "Paid")
	w.sms(en, "SEND "+fr+" 3 739164")
	w.expect(fr, "PAYER SHOP42 4 739164", "Payé")
	w.catchUp()
	w.expect(en, "STATS  739164", "Dec: 23.00 EUR in 2 payments (Nov 15.00, +53%). SHOP42 20.00, others 3.00.")
	w.expect(fr, "STATS 739164", "Déc: 4,00 EUR en 1 paiement (Nov 8,00, -50%). SHOP42 4,00.")
	w.expect(en, "PAY SHOP42 1 R2 739164", "Paid")
	w.catchUp()
	w.expect(en, "STATS  739164", "Dec: 24.00 EUR in 3 payments (Nov 15.00, +60%). SHOP42 21.00, others 3.00.")
	w.expect(en, "STATS 000000", "Wrong PIN")
}

// catchUp lets the statistics follower read the whole journal.
func (w *world) catchUp() {
	w.t.Helper()
	if err := w.e.CatchUpStatistics(context.Background(), 100); err != nil {
		w.t.Fatal(err)
	}
}

// A promotion for champions is offered to a payer whose payments made him one (paid
// lately, often and much, for more than NewDays), and not to a new payer.
func TestPromotionForChampionsByTheirPayments(t *testing.T) {
	w := newWorldTiers(t, map[uint8]Limits{2: {PerTx: 5000, Daily: 20000, MaxBalance: 100000, CanSend: true}})
	w.payers(2, 100000)
	shop := w.l.AccountsOf("SHOP42")[0].ID
	if _, err := w.l.Submit(context.Background(), domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: w.float, Credit: shop, Amount: 20000, Code: domain.CodeTopup}}}); err != nil {
		t.Fatal(err)
	}
	champ, newcomer := payer(0), payer(1)
	w.expect(champ, "PAY SHOP42 20 R0 739164", "Paid")
	w.advance(31 * 24 * time.Hour)
	for i := 1; i < 12; i++ {
		if i == 6 {
			w.advance(25 * time.Hour) // the daily limit
		}
		w.expect(champ, fmt.Sprintf("PAY SHOP42 20 R%d 739164", i), "Paid")
	}
	w.expect(newcomer, "PAY SHOP42 5 739164", "Paid")
	w.promotion(shop, promo.Promotion{Code: "CHAMPS", Percent: 10, Budget: 1000, Audience: `segment == "champions" && rfm_f >= 4`})
	w.expect(champ, "OFFERS", "No offers for you now.") // the follower has not counted his payments yet
	w.catchUp()
	if m, err := w.e.MemberOf(champ); err != nil || m.Segment != stats.SegmentChampions || m.Recency != 5 || m.Frequency != 4 || m.Monetary != 4 {
		t.Fatalf("the champion is %+v (%v)", m, err)
	}
	if m, _ := w.e.MemberOf(newcomer); m.Segment != stats.SegmentNew {
		t.Fatalf("the newcomer is %+v", m)
	}
	w.expect(champ, "OFFERS ", "Offers for you: CHAMPS -10% Corner Shop.")
	w.expect(newcomer, "OFFERS", "No offers for you now.")
	w.expect(champ, "PAY SHOP42 20 R12 739164", "2.00") // the promotion's part
}
