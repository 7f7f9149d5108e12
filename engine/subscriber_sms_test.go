package engine

import (
	"strings"
	"testing"

	"mpg/smpp"
)

// HELP lists every command a subscriber has, in each language, within the 3-part cap.
func TestHelpListsEveryCommand(t *testing.T) {
	w := newWorld(t)
	want := map[string][]string{
		"HELP": {"BAL", "MINI", "PAY", "BILL", "SEND", "DEBIT", "CREDIT", "REPAY", "YES", "NO", "CHECK", "PIN", "LANG", "PROMO", "BLOCK"},
		"AIDE": {"SOLDE", "RELEVE", "PAYER", "FACTURE", "ENVOYER", "DEBIT", "CREDIT", "REMBOURSER", "OUI", "NON", "VERIFIER", "PIN", "LANGUE", "PROMO", "BLOQUER"},
		"帮助":   {"余额", "明细", "付款", "缴费", "转账", "借记", "信用", "还款", "是", "否", "验证", "密码", "语言", "促销", "冻结"},
	}
	for kw, words := range want {
		got := w.sms(alice, kw)[alice]
		if len(got) != 1 {
			t.Fatalf("%s: %q", kw, got)
		}
		for _, word := range words {
			if !strings.Contains(got[0], word) {
				t.Errorf("%s does not list %s: %q", kw, word, got[0])
			}
		}
		if parts, err := smpp.Split(got[0], 1, 3); err != nil || len(parts) > 3 {
			t.Errorf("%s: %d parts, %v", kw, len(parts), err)
		}
	}
}
