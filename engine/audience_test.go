package engine

import (
	"fmt"
	"testing"
	"time"

	"mpg/promo"
)

func TestMemberAttributesFollowHisPayments(t *testing.T) {
	w, _ := pointsWorld(t)
	w.expect(alice, "LANG FR", "français")
	for i := range 5 {
		w.expect(alice, fmt.Sprintf("PAYER SHOP42 30 R%d 1234", i), "pts") // a reference each: not a repeat
		w.advance(time.Hour)
	}
	w.sms(alice, "BILL EDF 778899 10 1234")
	w.advance(3 * 24 * time.Hour)
	m, err := w.e.MemberOf(alice)
	if err != nil {
		t.Fatal(err)
	}
	want := promo.Member{Points: 160, Days: 3, Payments: 6, Paid: []string{"SHOP42", "EDF"}, Language: "FR"}
	if m.Level != "" || m.Points != want.Points || m.Days != want.Days || m.Payments != want.Payments ||
		len(m.Paid) != 2 || m.Paid[1] != "EDF" || m.Language != "FR" {
		t.Errorf("got %+v, want %+v", m, want)
	}
	a, err := promo.Compile(`"EDF" in merchants_paid && payments > 5 && days_since_last_payment < 7 && language == "FR"`)
	if err != nil || !a.Match(m) {
		t.Errorf("the rule does not match %+v: %v", m, err)
	}
	if b, _ := w.e.MemberOf(bob); b.Days != -1 || b.Payments != 0 {
		t.Errorf("bob never paid: %+v", b)
	}
}
