package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mpg/domain"
	"mpg/marketing"
	"mpg/promo"
)

const wang = "+8613800138000" // a member in Shanghai

// campaignWorld is a world whose marketing rules know Paris (with French holidays) and
// Shanghai: 08:00 to 20:00 local, one SMS a day and three a week per member.
func campaignWorld(t *testing.T) *world {
	w := newWorld(t)
	paris, err1 := time.LoadLocation("Europe/Paris")
	shanghai, err2 := time.LoadLocation("Asia/Shanghai")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	w.e.cfg.Marketing.Rules = marketing.Rules{FromHour: 8, UntilHour: 20, PerDay: 1, PerWeek: 3, Default: time.UTC,
		Zones: map[string]*time.Location{"33": paris, "86": shanghai}, Calendars: map[string]string{"33": "FR"}}
	return w
}

// queued returns the messages queued since the last look, by recipient.
func (w *world) queued() map[string][]string {
	w.t.Helper()
	msgs, err := w.l.Messages(1000, 0, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string][]string{}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].ID > w.seen {
			out[msgs[i].To] = append(out[msgs[i].To], msgs[i].Text)
			w.seen = msgs[i].ID
		}
	}
	return out
}

// runCampaigns runs the sweep once and checks what it queued, by recipient.
func (w *world) runCampaigns(want map[string]string) {
	w.t.Helper()
	w.queued()
	n, err := w.e.RunCampaigns(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	got := w.queued()
	if n != len(got) || len(got) != len(want) {
		w.t.Fatalf("at %s the sweep queued %d: %q, want %d", w.now.Format(time.RFC3339), n, got, len(want))
	}
	for to, text := range want {
		if len(got[to]) != 1 || got[to][0] != text {
			w.t.Errorf("at %s %s got %q, want %q", w.now.Format(time.RFC3339), to, got[to], text)
		}
	}
}

func (w *world) campaign(code, text, audience string) Campaign {
	w.t.Helper()
	ctx := context.Background()
	if _, _, err := w.e.promotion(code); err != nil { // the promotion the campaign sends, funded by SHOP42
		shop := w.l.AccountsOf("SHOP42")[0].ID
		if _, err := w.l.Submit(ctx, domain.Job{Transfers: []domain.Transfer{{ID: domain.NewID(), Debit: w.float, Credit: shop, Amount: 10000, Code: domain.CodeTopup}}}); err != nil {
			w.t.Fatal(err)
		}
		if _, err := w.e.CreatePromotion(ctx, shop, promo.Promotion{Code: code, Name: code, Percent: 10, Budget: 10000, WithCode: true}, "ops"); err != nil {
			w.t.Fatal(err)
		}
	}
	c, err := w.e.CreateCampaign(ctx, code, text, audience, "ops")
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// The clock starts on Wednesday 2026-11-25 12:00 UTC: 13:00 in Paris, 20:00 in Shanghai.
func TestCampaignQuietHoursAndCapsInTwoZones(t *testing.T) {
	w := campaignWorld(t)
	w.expect(alice, "REG 1234 Alice", "Welcome")
	w.expect(alice, "PROMO ON", "You will receive offers")
	w.expect(wang, "注册 739164 Wang", "")
	w.expect(wang, "订阅", "您将收到优惠信息")
	first := w.campaign("SUMMER", "Summer sale: -20% at Corner Shop", "")
	w.runCampaigns(map[string]string{alice: "Summer sale: -20% at Corner Shop (STOP to end)"})
	w.runCampaigns(nil) // the next round waits a while
	w.advance(roundWait)
	w.runCampaigns(nil) // 20:15 in Shanghai: still quiet
	w.advance(12*time.Hour + 15*time.Minute)
	w.runCampaigns(map[string]string{wang: "Summer sale: -20% at Corner Shop(回复退订停止)"}) // 08:30 Thursday in Shanghai
	if c, _, _ := w.e.CampaignByID(first.ID); c.State != CampaignDone || c.Sent != 2 || c.Matched != 2 {
		t.Fatalf("first campaign %+v, want done with 2 sent to 2 matched", c)
	}
	// A second campaign at 00:30 UTC: 01:30 in Paris (quiet), and Wang had his one for today.
	w.campaign("WINTER", "Winter sale", "")
	w.runCampaigns(nil)
	w.advance(7 * time.Hour) // 08:30 in Paris, 15:30 in Shanghai: Wang is at his daily cap
	w.runCampaigns(map[string]string{alice: "Winter sale (STOP to end)"})
	w.advance(17 * time.Hour) // Friday 08:30 in Shanghai
	w.runCampaigns(map[string]string{wang: "Winter sale(回复退订停止)"})
	// A third and a fourth: the week's cap (three) stops the fourth for both until their
	// first SMS is a week old.
	w.advance(31*time.Hour + 30*time.Minute) // Saturday 09:00 in Paris, 16:00 in Shanghai
	w.campaign("AUTUMN", "Autumn sale", "")
	w.runCampaigns(map[string]string{alice: "Autumn sale (STOP to end)", wang: "Autumn sale(回复退订停止)"})
	w.advance(24 * time.Hour) // Sunday: Paris rests, Shanghai is at its week's cap
	w.campaign("SPRING", "Spring sale", "")
	w.runCampaigns(nil)
	w.advance(48*time.Hour + roundWait) // Tuesday 1 December 09:15 in Paris: both still at three
	w.runCampaigns(nil)
	w.advance(28 * time.Hour) // Wednesday 13:15 in Paris: Alice's first is a week old; 20:15 in Shanghai
	w.runCampaigns(map[string]string{alice: "Spring sale (STOP to end)"})
	w.advance(12*time.Hour + 30*time.Minute) // Thursday 08:45 in Shanghai: Wang's first is a week old
	w.runCampaigns(map[string]string{wang: "Spring sale(回复退订停止)"})
}

func TestCampaignReachesOnlyOptedInMembersOfItsAudience(t *testing.T) {
	w := campaignWorld(t)
	const carol, dave, stranger = "+33611112222", "+33611113333", "+33611114444"
	for i, n := range []string{alice, bob, carol, dave} {
		w.expect(n, fmt.Sprintf("REG %d Member", 246800+i), "Welcome")
	}
	w.expect(alice, "PROMO ON", "You will receive offers")
	w.expect(carol, "START", "You will receive offers")
	w.expect(carol, "QUIT", "You will not receive offers")
	w.expect(dave, "LANGUE FR", "")
	w.expect(dave, "PROMO ON", "Vous recevrez des offres")
	w.expect(stranger, "START", "")
	c := w.campaign("SHOP42A", "Two for one at Corner Shop", `language == "EN"`)
	w.runCampaigns(map[string]string{alice: "Two for one at Corner Shop (STOP to end)"})
	rep, err := w.e.ReportCampaign(c.ID)
	if err != nil || rep.Matched != 1 || rep.Sent != 1 || rep.Recipients != 1 || rep.Delivered != 0 || rep.OptedOut != 0 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	// Where the sweep is names a member: the campaign's record keeps it sealed.
	if b, _, err := w.l.Profile(keyCampaign + c.ID); err != nil || strings.Contains(string(b), "+336") || strings.Contains(string(b), "336111") {
		t.Errorf("a number in clear in the campaign's record: %s %v", b, err)
	}
	// The SMSC takes everything and reports alice's campaign SMS delivered; then she stops.
	ctx := context.Background()
	msgs, err := w.l.NextMessages(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		id := fmt.Sprintf("smsc-%d", m.ID)
		if err := w.l.MarkSent(ctx, m.ID, id); err != nil {
			t.Fatal(err)
		}
		if err := w.l.MarkReceipt(ctx, id, true, "DELIVRD"); err != nil {
			t.Fatal(err)
		}
	}
	w.advance(time.Minute)
	w.expect(alice, "UNSUBSCRIBE", "You will not receive offers")
	if rep, err = w.e.ReportCampaign(c.ID); err != nil || rep.Delivered != 1 || rep.OptedOut != 1 {
		t.Fatalf("report after delivery and STOP %+v, %v", rep, err)
	}
	w.e.StopCampaign(ctx, c.ID, "ops")
	if list, err := w.e.Campaigns(); err != nil || len(list) != 1 || list[0].State != CampaignDone {
		t.Errorf("campaigns %+v, %v: the one is done (stopping it changed nothing)", list, err)
	}
}

func TestCampaignStoppedSendsNothing(t *testing.T) {
	w := campaignWorld(t)
	w.expect(alice, "REG 1234 Alice", "Welcome")
	w.expect(alice, "PROMO ON", "You will receive offers")
	c := w.campaign("SUMMER", "Summer sale", "")
	if got, err := w.e.StopCampaign(context.Background(), c.ID, "ops"); err != nil || got.State != CampaignStopped {
		t.Fatalf("stop: %+v, %v", got, err)
	}
	w.runCampaigns(nil)
	if _, err := w.e.CreateCampaign(context.Background(), "x", "text", "", "ops"); err != ErrPromoCode {
		t.Errorf("a bad promotion code: %v", err)
	}
	if _, err := w.e.CreateCampaign(context.Background(), "SUMMER", strings.Repeat("a", MaxCampaignText+1), "", "ops"); err != ErrCampaignText {
		t.Errorf("a text too long: %v", err)
	}
	if _, err := w.e.CreateCampaign(context.Background(), "SUMMER", "text", "level ==", "ops"); err == nil {
		t.Error("a rule that does not parse was saved")
	}
}

// A STOP and the campaign sweep race many times: an SMS queued to a member after his STOP
// committed would have a larger outbox id than the STOP's reply. Never.
func TestCampaignRacingStopNeverSendsAfterTheStop(t *testing.T) {
	w := campaignWorld(t)
	ctx := context.Background()
	rounds, before := 30, 0
	for i := range rounds {
		m := fmt.Sprintf("+336100%05d", i)
		w.expect(m, "REG 1234", "Welcome")
		w.expect(m, "START", "You will receive offers")
		w.campaign("RACE", fmt.Sprintf("Race sale %d", i), "") // a new campaign of one promotion each round
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			if err := w.e.Handle(ctx, Inbound{From: m, To: "1234", Text: "STOP"}); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			if _, err := w.e.RunCampaigns(ctx); err != nil {
				t.Error(err)
			}
		}()
		close(start)
		wg.Wait()
		stopID, saleID := uint64(0), uint64(0)
		msgs, err := w.l.Messages(10, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range msgs {
			switch {
			case msg.To == m && strings.HasPrefix(msg.Text, "Race sale"):
				saleID = msg.ID
			case msg.To == m && strings.Contains(msg.Text, "will not receive offers"):
				stopID = msg.ID
			}
		}
		if stopID == 0 {
			t.Fatalf("round %d: no reply to STOP", i)
		}
		if saleID > stopID {
			t.Fatalf("round %d: campaign SMS %d queued after the STOP's reply %d", i, saleID, stopID)
		}
		if saleID != 0 {
			before++
		}
		w.runCampaigns(nil) // after the STOP nothing more, ever
	}
	t.Logf("the campaign won %d of %d races", before, rounds)
}

// Payment replies first: a campaign larger than the outbox may hold stops queueing when the
// outbox is behind, a PAY is answered at once, and its reply leaves before the campaign's.
func TestCampaignNeverDelaysPaymentReplies(t *testing.T) {
	w := campaignWorld(t)
	w.e.cfg.Marketing.MaxOutbox, w.e.cfg.Marketing.PerSecond = 10, 1000
	ctx := context.Background()
	w.expect(alice, "REG 1234 Alice", "Welcome")
	w.topup(alice, 10000, 1)
	for i := range 40 {
		m := fmt.Sprintf("+336200%05d", i)
		w.expect(m, "REG 1234", "Welcome")
		w.expect(m, "PROMO ON", "You will receive offers")
	}
	drain := func() {
		for w.l.OutboxDue() > 0 {
			msgs, err := w.l.NextMessages(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if err := w.l.MarkSent(ctx, m.ID, fmt.Sprintf("smsc-%d", m.ID)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	drain()
	c := w.campaign("SUMMER", "Summer sale", "")
	n, err := w.e.RunCampaigns(ctx)
	if err != nil || n != 11 {
		t.Fatalf("queued %d (%v): the campaign stops once the outbox holds more than 10", n, err)
	}
	if n, err = w.e.RunCampaigns(ctx); err != nil || n != 0 {
		t.Fatalf("queued %d more (%v) while the outbox is behind", n, err)
	}
	w.queued()
	w.expect(alice, "PAY SHOP42 5 1234", "Paid 5.00 EUR to Corner Shop")
	next, err := w.l.NextMessages(ctx, 1)
	if err != nil || len(next) != 1 || next[0].To != alice {
		t.Fatalf("next message to leave %+v (%v), want the PAY reply before the campaign's", next, err)
	}
	w.l.Requeue(next[0].ID)
	for sent := 11; sent < 40; {
		drain()
		n, err := w.e.RunCampaigns(ctx)
		if err != nil || n == 0 {
			t.Fatalf("after %d, queued %d (%v)", sent, n, err)
		}
		sent += n
	}
	if rep, err := w.e.ReportCampaign(c.ID); err != nil || rep.Sent != 40 || rep.Recipients != 40 {
		t.Fatalf("report %+v, %v", rep, err)
	}
}
