package commands

import (
	"errors"
	"strings"
	"testing"
)

var eur = Options{Currency: "EUR", Exponent: 2, Region: "FR"}

func TestParseCommands(t *testing.T) {
	cases := []struct {
		text string
		want Command
	}{
		{"PAY SHOP42 12.50 1234", Command{Kind: Pay, Lang: EN, Merchant: "SHOP42", Amount: 1250, PIN: "1234"}},
		{"pay shop42 12,5 1234", Command{Kind: Pay, Lang: EN, Merchant: "SHOP42", Amount: 1250, PIN: "1234"}},
		{"PAY SHOP42 EUR 12.50 1234", Command{Kind: Pay, Lang: EN, Merchant: "SHOP42", Amount: 1250, PIN: "1234"}},
		{"PAY SHOP42 12.50€ INV-77 1234", Command{Kind: Pay, Lang: EN, Merchant: "SHOP42", Amount: 1250, Ref: "INV-77", PIN: "1234"}},
		{"PAY*SHOP42*12*1234", Command{Kind: Pay, Lang: EN, Merchant: "SHOP42", Amount: 1200, PIN: "1234"}},
		{"PAYER SHOP42 3 EUR 123456", Command{Kind: Pay, Lang: FR, Merchant: "SHOP42", Amount: 300, PIN: "123456"}},
		{"付款 SHOP42 12.50 1234", Command{Kind: Pay, Lang: ZH, Merchant: "SHOP42", Amount: 1250, PIN: "1234"}},
		{"BILL EDF 0042-77 60 1234", Command{Kind: Bill, Lang: EN, Merchant: "EDF", Account: "0042-77", Amount: 6000, PIN: "1234"}},
		{"SEND 0612345678 5 1234", Command{Kind: Send, Lang: EN, Phone: "+33612345678", Amount: 500, PIN: "1234"}},
		{"ENVOYER +33 6 12 34 56 78 5 1234", Command{}}, // spaces inside a number split it: an arity error
		{"转账 +8613812345678 100 1234", Command{Kind: Send, Lang: ZH, Phone: "+8613812345678", Amount: 10000, PIN: "1234"}},
		{"BAL 1234", Command{Kind: Bal, Lang: EN, PIN: "1234"}},
		{"solde 1234", Command{Kind: Bal, Lang: FR, PIN: "1234"}},
		{"余额 1234", Command{Kind: Bal, Lang: ZH, PIN: "1234"}},
		{"MINI 1234", Command{Kind: Mini, Lang: EN, PIN: "1234"}},
		{"RELEVÉ 1234", Command{Kind: Mini, Lang: FR, PIN: "1234"}},
		{"REG 1234 Alice Martin", Command{Kind: Reg, Lang: EN, PIN: "1234", Name: "Alice Martin"}},
		{"INSCRIRE 1234", Command{Kind: Reg, Lang: FR, PIN: "1234"}},
		{"YES k4p9", Command{Kind: Yes, Lang: EN, Code: "K4P9"}},
		{"NON K4P9", Command{Kind: No, Lang: FR, Code: "K4P9"}},
		{"PIN 1234 5678", Command{Kind: PIN, Lang: EN, PIN: "1234", NewPIN: "5678"}},
		{"CONFIRM VOICE 1234", Command{Kind: ConfirmBy, Lang: EN, On: true, PIN: "1234"}},
		{"confirm sms 1234", Command{Kind: ConfirmBy, Lang: EN, PIN: "1234"}},
		{"CONFIRMER APPEL 1234", Command{Kind: ConfirmBy, Lang: FR, On: true, PIN: "1234"}},
		{"确认方式 语音 1234", Command{Kind: ConfirmBy, Lang: ZH, On: true, PIN: "1234"}},
		{"确认方式 短信 1234", Command{Kind: ConfirmBy, Lang: ZH, PIN: "1234"}},
		{"CONFIRM FAX 1234", Command{}}, // neither VOICE nor SMS: the syntax is shown
		{"CONFIRM VOICE", Command{}},
		{"REV 7qx2k9 1234", Command{Kind: Rev, Lang: EN, Code: "7QX2K9", PIN: "1234"}},
		{"RETOUR 1A-ABCDEFGH 1234", Command{Kind: Rev, Lang: FR, Code: "1A-ABCDEFGH", PIN: "1234"}},
		{"撤回 7QX2K9 1234", Command{Kind: Rev, Lang: ZH, Code: "7QX2K9", PIN: "1234"}},
		{"DISPUTE 7qx2k9 never  delivered", Command{Kind: Dispute, Lang: EN, Code: "7QX2K9", Reason: "never delivered"}},
		{"LITIGE 7QX2K9 colis 1234 absent", Command{Kind: Dispute, Lang: FR, Code: "7QX2K9", Reason: "colis **** absent"}},
		{"争议 7QX2K9 未收到货", Command{Kind: Dispute, Lang: ZH, Code: "7QX2K9", Reason: "未收到货"}},
		{"OK 483920", Command{Kind: Ok, Lang: EN, Code: "483920"}},
		{"同意 483920", Command{Kind: Ok, Lang: ZH, Code: "483920"}},
		{"LANG fr", Command{Kind: Language, Lang: EN, Target: FR}},
		{"语言 中文", Command{Kind: Language, Lang: ZH, Target: ZH}},
		{"BLOCK", Command{Kind: Block, Lang: EN}},
		{"冻结", Command{Kind: Block, Lang: ZH}},
		{"CHECK 7QX2-K4P9M", Command{Kind: Check, Lang: EN, Code: "7QX2-K4P9M"}},
		{"VERIFIER 7QX2-K4P9M", Command{Kind: Check, Lang: FR, Code: "7QX2-K4P9M"}},
		{"PROMO off", Command{Kind: Promo, Lang: EN}},
		{"POINTS 1234", Command{Kind: Points, Lang: EN, PIN: "1234"}},
		{"积分 1234", Command{Kind: Points, Lang: ZH, PIN: "1234"}},
		{"STATS 1234", Command{Kind: Stats, Lang: EN, PIN: "1234"}},
		{"stats 1234", Command{Kind: Stats, Lang: EN, PIN: "1234"}},
		{"统计 1234", Command{Kind: Stats, Lang: ZH, PIN: "1234"}},
		{"PAY SHOP42 12.50 1234 PTS", Command{Kind: Pay, Lang: EN, Merchant: "SHOP42", Amount: 1250, PIN: "1234", WithPoints: true}},
		{"payer shop42 12,50 MARDI 1234 points", Command{Kind: Pay, Lang: FR, Merchant: "SHOP42", Amount: 1250, Ref: "MARDI", PIN: "1234", WithPoints: true}},
		{"REDEEM SHOP42 12.50 1234", Command{Kind: Pay, Lang: EN, Merchant: "SHOP42", Amount: 1250, PIN: "1234", WithPoints: true}},
		{"兑换 SHOP42 12.50 1234", Command{Kind: Pay, Lang: ZH, Merchant: "SHOP42", Amount: 1250, PIN: "1234", WithPoints: true}},
		{"PROMO OUI", Command{Kind: Promo, Lang: EN, On: true}},
		{"HELP", Command{Kind: Help, Lang: EN}},
		{"AIDE payer", Command{Kind: Help, Lang: FR, Topic: Pay}},
		{"DEBIT SHOP42 20 1234", Command{Kind: Debit, Lang: EN, Merchant: "SHOP42", Amount: 2000, PIN: "1234"}},
		{"CREDIT SHOP42 20 1234", Command{Kind: Credit, Lang: EN, Merchant: "SHOP42", Amount: 2000, PIN: "1234"}},
		{"CREDIT 1234", Command{Kind: Statement, Lang: EN, PIN: "1234"}},
		{"REMBOURSER 20 1234", Command{Kind: Repay, Lang: FR, Amount: 2000, PIN: "1234"}},
	}
	for _, c := range cases {
		got, err := Parse(c.text, eur)
		if c.want.Kind == 0 {
			if err == nil {
				t.Errorf("%q: parsed as %+v, want an error", c.text, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q:\n got %+v %v\nwant %+v", c.text, got, err, c.want)
		}
	}
}

func TestParseErrorsArePrecise(t *testing.T) {
	cases := []struct {
		text    string
		problem Problem
		arg     string
	}{
		{"", Empty, ""},
		{"   ", Empty, ""},
		{"PAYY SHOP42 12 1234", UnknownKeyword, "PAYY"},
		{"PAY SHOP42 12", Arity, ""},
		{"PAY SHOP42 12.505 1234", BadAmount, "12.505"},
		{"PAY SHOP42 -5 1234", BadAmount, "-5"},
		{"PAY SHOP42 0 1234", BadAmount, "0"},
		{"PAY SHOP42 99999999999999999999 1234", BadAmount, "99999999999999999999"},
		{"PAY SHOP42 USD 12 1234", BadCurrency, "USD"},
		{"PAY SHOP42 12USD 1234", BadCurrency, "12USD"},
		{"PAY SHOP-42 12 1234", BadMerchant, "SHOP-42"},
		{"PAY SHOP42 12 12a4", BadPIN, ""},
		{"SEND 12 5 1234", BadPhone, "12"},
		{"BAL", Arity, ""},
		{"BAL 12", BadPIN, ""},
		{"LANG DE", BadLanguage, "DE"},
		{"PROMO MAYBE", BadSwitch, "MAYBE"},
		{"YES !", BadCode, "!"},
		{"BLOCK now", Arity, ""},
		{strings.Repeat("PAY ", 200), TooLong, ""},
	}
	for _, c := range cases {
		_, err := Parse(c.text, eur)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Problem != c.problem || pe.Arg != c.arg {
			t.Errorf("%q: got %v (%+v), want problem %d arg %q", c.text, err, pe, c.problem, c.arg)
		}
	}
	// A XOF purse has no decimals.
	xof := Options{Currency: "XOF", Exponent: 0, Region: "SN"}
	if c, err := Parse("PAY SHOP42 1500 FCFA 1234", xof); err != nil || c.Amount != 1500 {
		t.Errorf("XOF: %+v %v", c, err)
	}
	if _, err := Parse("PAY SHOP42 1500.5 1234", xof); err == nil {
		t.Error("XOF with decimals accepted")
	}
}

func TestRedactMasksEveryPIN(t *testing.T) {
	cases := map[string]string{
		"PAY SHOP42 12.50 1234":     "PAY SHOP42 12.50 ****",
		"PAY*SHOP42*12.50*9876":     "PAY*SHOP42*12.50*****",
		"PIN 1234 567890":           "PIN **** ****",
		"REG 4321 Alice":            "REG **** Alice",
		"BAL 12":                    "BAL ****", // a malformed PIN is still masked
		"bal 1234 extra":            "bal **** ****",
		"PAY SHOP42 1500 FCFA 1234": "PAY SHOP42 **** FCFA ****", // over-masking is the safe side
		"SEND +33612345678 5 1234":  "SEND +33612345678 5 ****",
		"HELLO 5555":                "HELLO ****",
		"STATS 12a4":                "STATS ****",
		"CONFIRM VOICE 12a4":        "CONFIRM VOICE ****",
		"BLOCK":                     "BLOCK",
		"":                          "",
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"PAY SHOP42 12.50 1234", "SEND 0612345678 5 1234", "PIN 1234 5678", "REG 1234 Zoé",
		"付款 SHOP42 12.50 1234", "BILL EDF 0042 60 1234", "PAY SHOP42 EUR 1,5 1234", "LANG ZH", "PROMO ON", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(text, eur)
		red := Redact(text)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		for _, pin := range []string{c.PIN, c.NewPIN} {
			if pin == "" {
				continue
			}
			for _, tok := range tokens(red) {
				if tok == pin {
					t.Fatalf("Redact(%q) = %q still holds the PIN", text, red)
				}
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Parse("PAY SHOP42 12.50 INV-77 1234", eur); err != nil {
			b.Fatal(err)
		}
	}
}

func TestGluedPINsAndByteLimits(t *testing.T) {
	opt := Options{Currency: "EUR", Exponent: 2, Region: "FR"}
	for text, want := range map[string]Command{
		"REG1234 Alice":                {Kind: Reg, PIN: "1234", Name: "Alice"},
		"BAL:1234":                     {Kind: Bal, PIN: "1234"},
		"bal1234":                      {Kind: Bal, PIN: "1234"},
		"SEND 0611110001 5 GIFT2 1234": {Kind: Send, Phone: "+33611110001", Amount: 500, Ref: "GIFT2", PIN: "1234"},
	} {
		c, err := Parse(text, opt)
		if err != nil || c.Kind != want.Kind || c.PIN != want.PIN || c.Name != want.Name || c.Phone != want.Phone || c.Ref != want.Ref {
			t.Errorf("Parse(%q) = %+v, %v", text, c, err)
		}
	}
	// 22 Chinese characters are 66 bytes: refused by the parser, never by the ledger.
	_, err := Parse("PAY SHOP42 4 "+strings.Repeat("订", 22)+" 1234", opt)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Problem != BadRef {
		t.Fatalf("long reference: %v", err)
	}
	if c, err := Parse("REG 1234 Alice 1234", opt); err != nil || c.Name != "Alice ****" {
		t.Fatalf("a PIN in the name: %q %v", c.Name, err)
	}
	c, err := Parse("REG 1234 "+strings.Repeat("名", 30), opt)
	if err != nil || len(c.Name) > MaxNameBytes {
		t.Fatalf("long name: %d bytes, %v", len(c.Name), err)
	}
	for in, want := range map[string]string{
		"REG1234 Alice":         "REG**** Alice",
		"BAL:1234":              "BAL:****",
		"PIN 1234 98765":        "PIN **** ****",
		"SEND +33611110001 5 1": "SEND +33611110001 5 ****",
		"HELLO 0042":            "HELLO ****",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	// No reply echoes a 4-6 digit token the subscriber typed.
	_, err = Parse("REG12a4X9876", opt)
	errors.As(err, &pe)
	r, a := ForParseError(pe)
	if got := Render(EN, r, a); strings.Contains(got, "9876") {
		t.Fatalf("reply echoes digits: %q", got)
	}
}

// Saved bills and standing orders, in the three languages.
func TestParseSavedBillsAndOrders(t *testing.T) {
	cases := []struct {
		text string
		want Command
	}{
		{"BILL EDF 30 1234", Command{Kind: Bill, Lang: EN, Merchant: "EDF", Amount: 3000, PIN: "1234"}},
		{"FACTURE EDF 30 EUR 1234", Command{Kind: Bill, Lang: FR, Merchant: "EDF", Amount: 3000, PIN: "1234"}},
		{"EVERY 31 BILL EDF 30 1234", Command{Kind: Every, Lang: EN, Then: Bill, Day: 31, Merchant: "EDF", Amount: 3000, PIN: "1234"}},
		{"every mon send 0687654321 5 RENT 1234", Command{Kind: Every, Lang: EN, Then: Send, Weekly: true, Day: 1, Phone: "+33687654321", Amount: 500, Ref: "RENT", PIN: "1234"}},
		{"CHAQUE DIM FACTURE EDF 0042-77 12,50 1234", Command{Kind: Every, Lang: FR, Then: Bill, Weekly: true, Day: 0, Merchant: "EDF", Account: "0042-77", Amount: 1250, PIN: "1234"}},
		{"CHAQUE 5 ENVOYER 0687654321 5 1234", Command{Kind: Every, Lang: FR, Then: Send, Day: 5, Phone: "+33687654321", Amount: 500, PIN: "1234"}},
		{"每 周五 缴费 EDF 30 1234", Command{Kind: Every, Lang: ZH, Then: Bill, Weekly: true, Day: 5, Merchant: "EDF", Amount: 3000, PIN: "1234"}},
		{"每 15日 转账 0687654321 5 1234", Command{Kind: Every, Lang: ZH, Then: Send, Day: 15, Phone: "+33687654321", Amount: 500, PIN: "1234"}},
		{"ORDERS 1234", Command{Kind: Orders, Lang: EN, PIN: "1234"}},
		{"ORDRES 1234", Command{Kind: Orders, Lang: FR, PIN: "1234"}},
		{"定期 1234", Command{Kind: Orders, Lang: ZH, PIN: "1234"}},
		{"STOPORDER 2 1234", Command{Kind: StopOrder, Lang: EN, N: 2, PIN: "1234"}},
		{"ARRETORDRE 1 1234", Command{Kind: StopOrder, Lang: FR, N: 1, PIN: "1234"}},
		{"取消定期 3 1234", Command{Kind: StopOrder, Lang: ZH, N: 3, PIN: "1234"}},
	}
	for _, c := range cases {
		got, err := Parse(c.text, eur)
		if err != nil || got != c.want {
			t.Errorf("%q: got %+v, %v; want %+v", c.text, got, err, c.want)
		}
	}
	bad := []struct {
		text string
		p    Problem
	}{
		{"EVERY 32 BILL EDF 30 1234", BadDay},
		{"EVERY FUNDAY BILL EDF 30 1234", BadDay},
		{"EVERY 0 SEND 0687654321 5 1234", BadDay},
		{"EVERY MON PAY SHOP42 5 1234", Arity}, // only bills and SENDs repeat
		{"EVERY MON BILL EDF 30", Arity},
		{"EVERY MON SEND 0687654321 5 12", BadPIN},
		{"EVERY MON SEND 0687654321 -5 1234", BadAmount},
		{"STOPORDER 0 1234", BadCode},
		{"STOPORDER 1", Arity},
		{"BILL EDF 1234", Arity},
	}
	for _, c := range bad {
		_, err := Parse(c.text, eur)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Problem != c.p {
			t.Errorf("%q: got %v, want problem %d", c.text, err, c.p)
		}
	}
}
