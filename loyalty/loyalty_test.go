package loyalty

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

var paris, _ = time.LoadLocation("Europe/Paris")

func programme() *Programme {
	return &Programme{
		Rules: []Rule{
			{Merchant: "SHOP42", PerUnit: 1, BonusDays: []time.Weekday{time.Sunday}, BonusTimes: 2},
			{PerUnit: 1, Products: []string{"pay", "bill"}},
		},
		Levels:       []Level{{Name: "silver", MinCount: 3, MinVolume: 5000, Percent: 150}, {Name: "gold", MinCount: 10, MinVolume: 50000, Percent: 200}},
		ExpiryMonths: 24, Notices: []time.Duration{720 * time.Hour, 48 * time.Hour},
		Exponent: 2, Location: paris, Rates: map[string]uint64{"SHOP42": 1},
	}
}

func TestEarnFollowsTheMostSpecificRuleItsDayAndTheLevel(t *testing.T) {
	p := programme()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	saturday := time.Date(2026, 12, 5, 12, 0, 0, 0, paris)
	sunday := saturday.AddDate(0, 0, 1)
	cases := []struct {
		merchant, product string
		amount            uint64
		at                time.Time
		level             Level
		want              uint64
	}{
		{"SHOP42", "pay", 1250, saturday, Base, 12},   // 1 point per 1.00, rounded down
		{"SHOP42", "pay", 1250, sunday, Base, 25},     // ×2 on Sundays at SHOP42
		{"CAFE", "pay", 1250, sunday, Base, 12},       // the general rule has no bonus
		{"CAFE", "send", 1250, saturday, Base, 0},     // P2P never earns
		{"CAFE", "topup", 100000, saturday, Base, 0},  // nor a cash-in
		{"CAFE", "debit", 1250, saturday, Base, 0},    // the general rule is for pay and bill
		{"SHOP42", "debit", 1250, saturday, Base, 12}, // SHOP42's rule is for every product
		{"SHOP42", "pay", 1250, sunday, p.Levels[1], 50},
		{"SHOP42", "pay", 99, saturday, p.Levels[1], 1}, // 0.99 × 2 = 1.98: one point
		{"SHOP42", "pay", 0, saturday, Base, 0},
		{"SHOP42", "pay", 1<<63 + 1, saturday, p.Levels[1], 184467440737095516}, // no overflow
	}
	for _, c := range cases {
		if got := p.Earn(c.merchant, c.product, c.amount, c.at, c.level); got != c.want {
			t.Errorf("%s %s %d on %s at %q: %d points, want %d", c.merchant, c.product, c.amount, c.at.Weekday(), c.level.Name, got, c.want)
		}
	}
}

func TestValidateNamesWhatIsWrong(t *testing.T) {
	for _, bad := range []func(*Programme){
		func(p *Programme) { p.Rules[0].PerUnit = MaxPerUnit + 1 },
		func(p *Programme) { p.Rules[1].Products = []string{"send"} },
		func(p *Programme) { p.Levels[1].MinCount = 1 },
		func(p *Programme) { p.Levels[0].Percent = 0 },
		func(p *Programme) { p.ExpiryMonths = 0 },
		func(p *Programme) { p.Notices = []time.Duration{time.Hour, 2 * time.Hour} },
		func(p *Programme) { p.Rates["CAFE"] = 0 },
	} {
		p := programme()
		bad(p)
		if err := p.Validate(); err == nil {
			t.Errorf("%+v: valid", p)
		}
	}
}

func TestLotsExpireAtTheEndOfTheirMonthInTheProgrammesZone(t *testing.T) {
	p := programme()
	month, expires := p.LotOf(time.Date(2026, 12, 31, 23, 30, 0, 0, paris))
	if month != 2026*12+11 {
		t.Errorf("month %d", month)
	}
	if want := time.Date(2029, 1, 1, 0, 0, 0, 0, paris); expires != want.UnixNano() {
		t.Errorf("expires %s, want %s", time.Unix(0, expires).In(paris), want)
	}
}

func TestLevelCountsTheLastThirteenWeeks(t *testing.T) {
	p := programme()
	var w Wallet
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, paris) // a Monday
	for i := range 10 {
		p.Record(&w, start.AddDate(0, 0, 7*i), 6000, "SHOP42")
	}
	now := start.AddDate(0, 0, 7*9)
	if l := p.LevelOf(&w, now); l.Name != "gold" {
		t.Errorf("10 payments of 60.00 in 10 weeks: level %q, want gold", l.Name)
	}
	if l := p.LevelOf(&w, now.AddDate(0, 0, 7*9)); l.Name != "silver" {
		t.Errorf("9 weeks later, 4 payments in the window: level %q, want silver", l.Name)
	}
	if l := p.LevelOf(&w, now.AddDate(0, 0, 7*13)); l.Name != "" {
		t.Errorf("13 weeks later, none in the window: level %q, want none", l.Name)
	}
	if len(w.Weeks) > weeksKept {
		t.Errorf("%d weeks kept", len(w.Weeks))
	}
	p.Record(&w, now.AddDate(0, 0, 7*30), 100, "CAFE")
	if len(w.Weeks) != 1 {
		t.Errorf("a payment 30 weeks later keeps %d weeks, want its own", len(w.Weeks))
	}
}

func TestNoticesComeOnceEachAndTheLaterOneWins(t *testing.T) {
	p := programme()
	var w Wallet
	month, expires := p.LotOf(time.Date(2026, 1, 10, 0, 0, 0, 0, paris))
	if err := w.Award(month, expires, 40); err != nil {
		t.Fatal(err)
	}
	exp := time.Unix(0, expires)
	if _, _, _, ok := p.Due(&w, exp.Add(-31*24*time.Hour)); ok {
		t.Error("a notice 31 days before")
	}
	i, left, n, ok := p.Due(&w, exp.Add(-29*24*time.Hour))
	if !ok || n != 1 || left != 40 {
		t.Fatalf("29 days before: %v notice %d of %d points", ok, n, left)
	}
	w.Told(i, n)
	if _, _, _, ok := p.Due(&w, exp.Add(-3*24*time.Hour)); ok {
		t.Error("the 30-day notice twice")
	}
	if _, _, n, ok := p.Due(&w, exp.Add(-time.Hour)); !ok || n != 2 {
		t.Errorf("an hour before: %v notice %d", ok, n)
	}
	var late Wallet
	_ = late.Award(month, expires, 5)
	if _, _, n, ok := p.Due(&late, exp.Add(-time.Hour)); !ok || n != 2 {
		t.Errorf("first seen an hour before: notice %d, want only the 48-hour one", n)
	}
	if _, _, _, ok := p.Due(&late, exp); ok {
		t.Error("a notice for an expired lot")
	}
}

func TestRedeemUsesWholePointsNeverWorthMoreThanTheAmount(t *testing.T) {
	p := programme()
	p.Rates["CAFE"] = 3
	for _, c := range []struct {
		merchant             string
		amount, balance      uint64
		points, worth, money uint64
		accepted             bool
	}{
		{"SHOP42", 1250, 340, 340, 340, 910, true},
		{"SHOP42", 1250, 5000, 1250, 1250, 0, true},
		{"CAFE", 1000, 5000, 333, 999, 1, true},
		{"NOPTS", 1000, 5000, 0, 0, 1000, false},
	} {
		pts, worth, money, ok := p.Redeem(c.merchant, c.amount, c.balance)
		if pts != c.points || worth != c.worth || money != c.money || ok != c.accepted {
			t.Errorf("%+v: got %d points worth %d, money %d, %v", c, pts, worth, money, ok)
		}
	}
}

// TestWalletAgainstItsModel: any sequence of awards, spends, refunds and sweeps keeps the
// wallet's balance equal to what went in minus what went out, never spends an expired lot
// nor a later lot before an earlier one, and gives back what a refund asks exactly once.
func TestWalletAgainstItsModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := programme()
		var w Wallet
		var in, out uint64
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, paris)
		type spent struct{ draws []Draw }
		var spends []spent
		for range rapid.IntRange(1, 60).Draw(t, "steps") {
			switch rapid.IntRange(0, 4).Draw(t, "op") {
			case 0:
				n := rapid.Uint64Range(0, 500).Draw(t, "award")
				month, exp := p.LotOf(now)
				if err := w.Award(month, exp, n); err != nil {
					t.Fatal(err)
				}
				in += n
			case 1:
				n := rapid.Uint64Range(0, 800).Draw(t, "spend")
				before := w.Spendable(now.UnixNano())
				lots := append([]Lot(nil), w.Lots...)
				draws, err := w.Spend(n, now.UnixNano())
				if (err != nil) != (n > before) {
					t.Fatalf("spend %d of %d spendable: %v", n, before, err)
				}
				if err != nil {
					continue
				}
				out += n
				spends = append(spends, spent{draws})
				checkEarliestFirst(t, lots, draws, now.UnixNano())
			case 2:
				if len(spends) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(spends)-1).Draw(t, "refund")
				n, err := w.Restore(spends[i].draws)
				if err != nil {
					t.Fatal(err)
				}
				in += n
				spends = append(spends[:i], spends[i+1:]...) // once
			case 3:
				n := rapid.Uint64Range(0, 600).Draw(t, "take back")
				short := w.Shortfall
				taken := w.TakeBack(int32(rapid.IntRange(24300, 24330).Draw(t, "month")), n)
				if taken+w.Shortfall-short != n {
					t.Fatalf("took %d of %d, shortfall grew by %d", taken, n, w.Shortfall-short)
				}
				out += taken
			case 4:
				now = now.Add(time.Duration(rapid.IntRange(1, 400).Draw(t, "days")) * 24 * time.Hour)
				out += w.Expire(now.UnixNano())
			}
			if w.Balance() != in-out {
				t.Fatalf("balance %d, in %d out %d", w.Balance(), in, out)
			}
			for i := 1; i < len(w.Lots); i++ {
				if w.Lots[i-1].Expires > w.Lots[i].Expires {
					t.Fatalf("lots out of expiry order: %+v", w.Lots)
				}
			}
		}
	})
}

func checkEarliestFirst(t *rapid.T, lots []Lot, draws []Draw, now int64) {
	drawn := map[int32]uint64{}
	for _, d := range draws {
		drawn[d.Month] += d.Points
	}
	for _, l := range lots {
		if l.Expires <= now && drawn[l.Month] > 0 {
			t.Fatalf("spent an expired lot %+v", l)
		}
	}
	// every lot before the last one drawn from was emptied, if unexpired
	last := -1
	for i, l := range lots {
		if drawn[l.Month] > 0 {
			last = i
		}
	}
	for i, l := range lots[:max(0, last)] {
		if l.Expires > now && drawn[l.Month] != l.Left {
			t.Fatalf("lot %d (%+v) not emptied before a later one: drew %d", i, l, drawn[l.Month])
		}
	}
}
