package engine

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// The reconciliation CSV: a merchant's payments as GET /v1/payments?format=csv gives them
// and as the daily e-mail statement attaches them, one writer for both.

// ReconciliationHeader: the columns of a reconciliation, the promotion's part and the points
// last (a discount is paid to the merchant from the promotion's budget beside amount).
var ReconciliationHeader = []string{"id", "created", "updated", "state", "reason", "channel", "msisdn", "amount", "currency", "refunded", "reference", "receipt", "product",
	"promotion", "discount", "points_spent", "points_worth", "points_earned"}

// WriteReconciliationCSV writes the header and one row per payment.
func WriteReconciliationCSV(w io.Writer, views []PaymentView) error {
	rows := [][]string{ReconciliationHeader}
	for _, v := range views {
		var promo, discount, spent, worth, earned string
		if d := v.Discount; d != nil {
			promo, discount = d.Promotion, d.Amount
		}
		if p := v.Points; p != nil {
			spent, worth, earned = strconv.FormatUint(p.Spent, 10), p.Worth, strconv.FormatUint(p.Earned, 10)
		}
		rows = append(rows, []string{v.ID, v.Created, v.Updated, v.State, v.Reason, v.Channel, v.MSISDN, v.Amount, v.Currency, v.Refunded,
			CSVSafe(v.Reference), v.Receipt, v.Product, promo, discount, spent, worth, earned})
	}
	c := csv.NewWriter(w)
	return c.WriteAll(rows)
}

// CSVSafe keeps a merchant's reference from being read as a formula by a spreadsheet.
func CSVSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
