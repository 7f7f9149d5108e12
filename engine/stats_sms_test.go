package engine

import (
	"context"
	"testing"
	"time"
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
