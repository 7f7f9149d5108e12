package engine

import (
	"context"
	"strings"
	"testing"

	"mpg/commands"
	"mpg/domain"
	"mpg/smpp"
)

// HELP lists every command a subscriber has, in each language, in 2 SMS (the cap is 3).
func TestHelpListsEveryCommand(t *testing.T) {
	w := newWorld(t)
	want := map[string][]string{
		"HELP": {"BAL", "MINI", "PAY", "BILL", "SEND", "DEBIT", "CREDIT", "REPAY", "YES", "NO", "CHECK", "PIN", "LANG", "PROMO", "BLOCK", "REV", "DISPUTE"},
		"AIDE": {"SOLDE", "RELEVE", "PAYER", "FACTURE", "ENVOYER", "DEBIT", "CREDIT", "REMBOURSER", "OUI", "NON", "VERIFIER", "PIN", "LANGUE", "PROMO", "BLOQUER", "RETOUR", "LITIGE"},
		"帮助":   {"余额", "明细", "付款", "缴费", "转账", "借记", "信用", "还款", "是", "否", "验证", "密码", "语言", "促销", "冻结", "撤回", "争议"},
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
		if parts, err := smpp.Split(got[0], 1, 3); err != nil || len(parts) > 2 {
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

// MINI says what each line was: merchant or payee, fee, refund, reversal, cash-in.
func TestMiniSaysWhatEachLineWas(t *testing.T) {
	w := newWorldTiers(t, sendTiers)
	ctx := context.Background()
	w.expect(bob, "REG 246810 Bob", "Welcome")
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 5000, 2)
	w.expect(alice, "PAY SHOP42 12.50 739164", "Paid")
	p := w.paymentsOf("SHOP42", domain.KindMerchant)[0]
	if _, _, _, err := w.e.RefundPayment(ctx, RefundRequest{Merchant: w.l.AccountsOf("SHOP42")[0].ID, PaymentID: p.ID, Amount: 150, Actor: "key:1"}); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	reply := w.expect(alice, "SEND 0687654321 2 739164", "Sent")
	found, err := w.e.Find(reply[strings.LastIndex(reply, " ")+1:], "")
	if err != nil || len(found) != 1 {
		t.Fatalf("find: %v %d", err, len(found))
	}
	if _, err := w.e.Reverse(ctx, "care:1", found[0].Transfer); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	got := w.expect(alice, "MINI 739164", "Last operations")
	for _, line := range []string{"+2.00 EUR reversal", "-2.00 EUR +336****321", "+1.50 EUR refund Corner Shop",
		"-0.10 EUR fee", "-12.50 EUR Corner Shop"} {
		if !strings.Contains(got, line) {
			t.Errorf("MINI has no %q: %q", line, got)
		}
	}
	fr := w.expect(alice, "RELEVE 739164", "Dernières")
	for _, line := range []string{"+2,00 EUR annulation", "+1,50 EUR remboursement Corner Shop"} {
		if !strings.Contains(fr, line) {
			t.Errorf("RELEVE has no %q: %q", line, fr)
		}
	}
	zh := w.expect(alice, "明细 739164", "最近交易")
	if !strings.Contains(zh, "撤销") || !strings.Contains(zh, "退款 Corner Shop") {
		t.Errorf("明细: %q", zh)
	}
	w.expect(bob, "MINI 246810", "+336****678")
}

// A cash-in is named on MINI.
func TestMiniNamesACashIn(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	if _, err := w.e.Topup(context.Background(), "care:1", alice, 500, "cash"); err != nil {
		t.Fatal(err)
	}
	w.outbox()
	w.expect(alice, "MINI 739164", "+5.00 EUR cash-in")
}

// Long MINI lines are cut to the newest that fit, so the reply stays within 3 SMS.
func TestMiniFitsThreeParts(t *testing.T) {
	line := "24/11 -1250.50 EUR 退款 Boulangerie du C"
	lines := []string{line, line, line, line, line}
	for _, l := range []commands.Lang{commands.EN, commands.FR, commands.ZH} {
		text := commands.Render(l, commands.RMini, commands.Args{Lines: fitLines(lines, l), Balance: domain.Money{Minor: 1234567, Currency: "EUR", Exponent: 2}})
		if _, err := smpp.Split(text, 1, 3); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
}

// CHECK on one's own DEBIT receipt says it is one's own: the transfer is bank clearing to the
// merchant, and the payment record names the payer.
func TestCheckOwnDebitReceipt(t *testing.T) {
	w, _ := debitWorld(t)
	p := w.debitAndConfirm("20")
	if end := w.settle(p.ID); end.State != domain.PaymentCompleted {
		t.Fatalf("%+v", end)
	}
	var paid string
	for _, m := range w.outbox()[alice] {
		if strings.Contains(m, "Paid 20.00 EUR") {
			paid = m
		}
	}
	if paid == "" {
		t.Fatal("no DEBIT receipt")
	}
	receipt := paid[strings.LastIndex(paid, " ")+1:]
	w.expect(alice, "CHECK "+receipt, "is genuine: 20.00 EUR from you to Corner Shop")
	w.expect(alice, "VERIFIER "+receipt, "authentique: 20,00 EUR de vous à Corner Shop")
	w.expect(bob, "CHECK "+receipt, "genuine but NOT for your number")
}

// HELP <cmd> says what the command does, in the keyword's language.
func TestHelpTopicSaysWhatItDoes(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "HELP DEBIT", "Pay a shop from your linked bank account after YES code; irreversible: DEBIT merchant amount pin")
	w.expect(alice, "AIDE OUI", "Confirmer le paiement du code envoyé par SMS: OUI code")
	w.expect(alice, "帮助 还款", "用钱包余额偿还信用额度:还款 金额 密码")
}
