package engine

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"mpg/commands"
)

// Every marketing switch by SMS is a record with its time, channel, command and the reply
// that confirmed it; a switch that changes nothing records nothing.
func TestConsentsRecordedForEverySMSSwitch(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	steps := []struct{ text, reply string }{
		{"PROMO ON", "You will receive offers"}, {"promo on", "You will receive offers"}, // no change: no record
		{"STOP", "Send START"}, {"START", "Send STOP"}, {"ARRET", "Vous ne recevrez plus"},
		{"订阅", "您将收到优惠信息"}, {"promo off", "You will not receive"}, {"STOP", "You will not receive"},
	}
	for _, s := range steps {
		w.advance(time.Second)
		w.expect(alice, s.text, s.reply)
	}
	cs, err := w.e.Consents(alice)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		cmd     string
		granted bool
		text    string
	}{{"PROMO ON", true, "You will receive offers. Send PROMO OFF"}, {"STOP", false, "Send START to receive them again"},
		{"START", true, "Send STOP to stop them"}, {"ARRET", false, "Envoyez START"}, {"订阅", true, "随时发送 退订"},
		{"promo off", false, "You will not receive offers any more."}}
	if len(cs) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(cs), len(want), cs)
	}
	for i, c := range cs {
		if c.Command != want[i].cmd || c.Granted != want[i].granted || !strings.Contains(c.Text, want[i].text) || c.Channel != ConsentSMS || c.TextID == "" || c.Time == 0 {
			t.Errorf("record %d: %+v, want %+v", i, c, want[i])
		}
		if i > 0 && c.Time <= cs[i-1].Time {
			t.Errorf("record %d is not after the one before", i)
		}
	}
	// A number with no purse is told STOP is done, and nothing is written for it.
	w.expect(bob, "STOP", "You will not receive")
	if cs, _ := w.e.Consents(bob); len(cs) != 0 {
		t.Fatalf("records for a number with no purse: %+v", cs)
	}
}

// A consent from another channel (the checkout page) is recorded with its wording.
func TestConsentFromCheckout(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	c := Consent{Granted: true, Channel: ConsentCheckout, Command: "box ticked", Text: "Send me offers", TextID: "checkout-optin-v1:EN"}
	for i, wantChanged := range []bool{true, false} {
		changed, err := w.e.RecordConsent(context.Background(), alice, c)
		if err != nil || changed != wantChanged {
			t.Fatalf("call %d: changed %v, %v", i, changed, err)
		}
	}
	cs, _ := w.e.Consents(alice)
	if len(cs) != 1 || cs[0].Text != "Send me offers" || cs[0].Channel != ConsentCheckout {
		t.Fatalf("%+v", cs)
	}
	w.expect(alice, "PROMO OFF", "You will not receive")
}

// The export holds exactly the person's data: his profile, accounts, payments made and
// received, the SMS sent to him, his consents; another person's number, name and IBAN
// never (a counterpart's number only masked). The SMS mpg texted him are kept as sent: one
// names Carol as the payer, as it did on his phone; nothing else does.
func TestExportHoldsExactlyThePerson(t *testing.T) {
	w := newWorld(t)
	const carol = "+33611223344"
	w.expect(alice, "REG 739164 Alice Martin", "Welcome")
	w.expect(bob, "REG 246810 Bob", "Welcome")
	w.expect(carol, "REG 135790 Carol Zed", "Welcome")
	for _, n := range []string{alice, carol} {
		w.topup(n, 10000, 2)
	}
	if _, err := w.e.LinkBank(context.Background(), "op", alice, "FR7630006000011234567890189"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.e.LinkBank(context.Background(), "op", carol, "DE89370400440532013000"); err != nil {
		t.Fatal(err)
	}
	w.sms(alice, "PROMO ON")
	w.expect(alice, "PAY SHOP42 12.50 739164", "Paid")
	w.expect(alice, "SEND 0687654321 5 739164", "Sent")
	w.expect(carol, "PAY SHOP42 7 135790", "Paid")
	w.expect(carol, "SEND "+alice+" 3 135790", "Sent")

	x, err := w.e.ExportFor(context.Background(), "op", alice)
	if err != nil {
		t.Fatal(err)
	}
	if x.Profile.BankAccount != "FR7630006000011234567890189" || !x.Profile.Offers || !x.Profile.PINSet || len(x.Accounts) != 1 || x.Accounts[0].Name != "Alice Martin" {
		t.Fatalf("profile %+v accounts %+v", x.Profile, x.Accounts)
	}
	roles := map[string]int{}
	for _, p := range x.Payments {
		roles[p.Role+" "+p.Product]++
	}
	if len(x.Payments) != 3 || roles["payer pay"] != 1 || roles["payer send"] != 1 || roles["payee send"] != 1 {
		t.Fatalf("payments %+v", x.Payments)
	}
	if len(x.Transfers) != 5 || len(x.Consents) != 1 || len(x.Messages) != 6 { // welcome, bank, promo, paid, sent, received
		t.Fatalf("%d transfers, %d consents, %d messages: %+v", len(x.Transfers), len(x.Consents), len(x.Messages), x.Messages)
	}
	_, files, err := ExportFiles(x)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for name, b := range files {
		all.Write(b)
		for _, bad := range []string{carol, "Carol", "Zed", "DE89370400440532013000", bob, "pin_mac", "739164"} {
			texted := (name == "messages.csv" || name == "export.json") && (bad == "Carol" || bad == "Zed")
			if strings.Contains(string(b), bad) && !texted {
				t.Errorf("%s of Alice's export holds %q", name, bad)
			}
		}
	}
	noSMS := x
	noSMS.Messages = nil
	if b, _ := json.Marshal(noSMS); strings.Contains(string(b), "Carol") {
		t.Error("Carol's name is in Alice's export outside the SMS texted to Alice")
	}
	for _, good := range []string{alice, "Alice Martin", "FR7630006000011234567890189", "Corner Shop", "+336****321", "+336****344"} {
		if !strings.Contains(all.String(), good) {
			t.Errorf("the export of Alice lacks %q", good)
		}
	}
	if a, _ := w.l.AuditLog(1, 0); len(a) != 1 || a[0].Action != "subscriber export" || strings.Contains(a[0].Detail, alice) {
		t.Fatalf("audit: %+v", a)
	}
}

var linkRe = regexp.MustCompile(`/data/([A-Za-z0-9_-]{43})`)

// DATA texts a summary and a link used once, before it expires, by that number's data only;
// a wrong token is refused like a used one; a fourth request a day is refused.
func TestDataLink(t *testing.T) {
	w := newWorld(t)
	w.e.SetCheckoutURL("https://pay.example.com")
	w.expect(alice, "REG 739164 Alice", "Welcome")
	w.topup(alice, 10000, 2)
	w.expect(alice, "PAY SHOP42 12.50 739164", "Paid")
	text := w.expect(alice, "DATA 739164", "Your data: balance 87.40 EUR, 3 operations, offers off. Payments are kept 5 years after you leave.")
	m := linkRe.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no link in %q", text)
	}
	token := m[1]
	if stored, _ := w.l.Messages(1, 0, 0); strings.Contains(stored[0].Text, token) {
		t.Fatal("the outbox keeps the token in clear")
	}
	wrong := []byte(token)
	wrong[0] ^= 1
	if _, err := w.e.OpenDataLink(context.Background(), "web", string(wrong)); !errors.Is(err, ErrDataLink) {
		t.Fatalf("wrong token: %v", err)
	}
	if err := w.e.CheckDataLink(token); err != nil {
		t.Fatal(err)
	}
	x, err := w.e.OpenDataLink(context.Background(), "web", token)
	if err != nil || x.Number != alice || len(x.Payments) != 1 {
		t.Fatalf("%+v %v", x, err)
	}
	if _, err := w.e.OpenDataLink(context.Background(), "web", token); !errors.Is(err, ErrDataLink) {
		t.Fatalf("second use: %v", err)
	}
	late := linkRe.FindStringSubmatch(w.expect(alice, "DONNEES 739164", "Vos donnees"))[1]
	w.advance(15*time.Minute + time.Second)
	if _, err := w.e.OpenDataLink(context.Background(), "web", late); !errors.Is(err, ErrDataLink) {
		t.Fatalf("expired: %v", err)
	}
	w.expect(alice, "数据 739164", "您的数据")
	w.expect(alice, "data 739164", "3 times today")
	w.advance(24 * time.Hour)
	w.expect(alice, "DATA 739164", "Your data")
	// The links that expired unused were swept by that DATA: only its own is left.
	if recs, _ := w.l.ProfilesFrom(keyDataLink, "", 100); len(recs) != 1 {
		t.Fatalf("%d link records left", len(recs))
	}
	b, _ := json.Marshal(x)
	if strings.Contains(string(b), "pin_mac") {
		t.Fatal("PIN hash exported")
	}
	_ = commands.EN
}

// Two downloads racing for one link: exactly one gets the data.
func TestDataLinkRace(t *testing.T) {
	w := newWorld(t)
	w.expect(alice, "REG 739164 Alice", "Welcome")
	token := linkRe.FindStringSubmatch(w.expect(alice, "DATA 739164", "Your data"))[1]
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := w.e.OpenDataLink(context.Background(), "web", token)
			errs <- err
		}()
	}
	ok := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, ErrDataLink):
			t.Fatal(err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d downloads got the data", ok)
	}
	a, _ := w.l.AuditLog(20, 0)
	exports := 0
	for _, e := range a {
		if e.Action == "subscriber export" {
			exports++
		}
	}
	if exports != 1 {
		t.Fatalf("%d exports audited: %+v", exports, a)
	}
}
