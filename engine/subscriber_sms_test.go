package engine

import (
	"context"
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

// After an operator's PIN reset, the old PIN is answered with how to set a new one, in the
// subscriber's language, and never counts as a wrong PIN.
func TestOldPINAfterResetIsNoWrongPIN(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164", "Welcome")
	if err := w.e.ResetPIN(context.Background(), "care:1", alice); err != nil {
		t.Fatal(err)
	}
	code := codeIn(t, w.inbox()[alice])
	w.expect(alice, "BAL 739164", "Your PIN was reset: use the code we texted you to set a new one (PIN <code> <new pin>)")
	w.expect(alice, "SOLDE 739164", "Votre PIN a été réinitialisé: utilisez le code envoyé par SMS")
	w.expect(alice, "余额 739164", "您的密码已重置")
	w.expect(alice, "MINI 739164", "Your PIN was reset")
	w.expect(alice, "PIN "+code+" 246802", "Your PIN is set")
	w.expect(alice, "BAL 246802", "Balance")
}

// A reversal that takes money from a merchant tells its phone "your account", not "e-purse".
func TestReversalTellsTheMerchantItsAccount(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 1)
	reply := w.expect(alice, "PAY SHOP42 4.50 739164", "Paid 4.50 EUR")
	found, err := w.e.Find(reply[strings.LastIndex(reply, " ")+1:], "")
	if err != nil || len(found) != 1 {
		t.Fatalf("find: %v %d", err, len(found))
	}
	w.outbox()
	if _, err := w.e.Reverse(context.Background(), "care:1", found[0].Transfer); err != nil {
		t.Fatal(err)
	}
	out := w.outbox()
	if got := out["+33698765432"]; len(got) != 1 || !strings.Contains(got[0], "4.50 EUR was taken back from your account") {
		t.Fatalf("merchant: %q", got)
	}
	if got := out[alice]; len(got) != 1 || !strings.Contains(got[0], "back in your e-purse") {
		t.Fatalf("payer: %q", got)
	}
}

// REPAY with nothing owed says so; REPAY and CREDIT show the same available amount.
func TestRepayNothingOwedAndTheSameAvailable(t *testing.T) {
	w, shop := creditWorld(t)
	w.expect(alice, "REPAY 10 739164", "You owe nothing on your credit line: nothing was repaid. Available 200.00 EUR.")
	w.expect(alice, "CREDIT SHOP42 50 739164", "Available 150.00 EUR")
	w.expect(alice, "REPAY 11 739164", "You owe nothing on your credit line: nothing was repaid. Available 150.00 EUR.")
	w.expect(alice, "REMBOURSER 12 739164", "Vous ne devez rien sur votre ligne de crédit: rien n'a été remboursé. Disponible 150,00 EUR.")
	w.expect(alice, "还款 13 739164", "您的信用额度没有欠款,未还款。可用 150.00 EUR。")
	if _, err := w.e.CaptureHold(context.Background(), "merchant:SHOP42", shop, w.lastPayment(shop).ID, 3000); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	w.expect(alice, "REPAY 10.00 739164", "Repaid 10.00 EUR on your credit line: 20.00 EUR still owed, available 180.00 EUR.")
	w.expect(alice, "CREDIT 739164", "available 180.00 EUR")
	w.expect(alice, "CREDIT SHOP42 5 739164", "Available 175.00 EUR")
}
