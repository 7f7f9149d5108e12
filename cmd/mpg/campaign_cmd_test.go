package main

import (
	"encoding/json"
	"strings"
	"testing"

	"mpg/engine"
)

// TestCampaignCLI: an operator creates a campaign on the file ledger, lists it, reads its
// report and stops it; a bad code or rule is refused and saves nothing.
func TestCampaignCLI(t *testing.T) {
	db := cliLedger(t)
	if _, err := run(t, "--db", db, "campaign", "create", "--promo", "x", "--text", "Hello"); err == nil {
		t.Fatal("a bad promotion code was taken")
	}
	if _, err := run(t, "--db", db, "campaign", "create", "--promo", "SUMMER", "--text", "Hello", "--audience", "level =="); err == nil {
		t.Fatal("a rule that does not parse was taken")
	}
	if _, err := run(t, "--db", db, "campaign", "create", "--promo", "SUMMER", "--text", "Hello"); err == nil {
		t.Fatal("a campaign for a promotion that does not exist")
	}
	mustRun(t, "--db", db, "merchant", "add", "shop42", "--name", "Corner Shop", "--msisdn", "+33698765432")
	l, _ := alicePays(t, db, "PAY SHOP42 15 2468") // takings to fund the promotion
	l.Close()
	mustRun(t, "--db", db, "promo", "create", "SHOP42", "SUMMER", "--name", "Summer", "--percent", "20", "--budget", "10", "--with-code")
	out := mustRun(t, "--db", db, "campaign", "create", "--promo", "summer", "--text", "Summer at Corner Shop: -20%", "--audience", `language == "FR"`)
	fields := strings.Fields(out)
	if len(fields) < 3 || fields[0] != "campaign" || fields[2] != "created:" {
		t.Fatalf("create: %s", out)
	}
	id := fields[1]
	var list []engine.Campaign
	if err := json.Unmarshal([]byte(mustRun(t, "--db", db, "campaign", "list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != id || list[0].Promo != "SUMMER" || list[0].State != engine.CampaignRunning || list[0].Audience != `language == "FR"` {
		t.Fatalf("list: %+v", list)
	}
	if out := mustRun(t, "--db", db, "campaign", "list"); !strings.Contains(out, id) || !strings.Contains(out, "running") {
		t.Fatalf("list table: %s", out)
	}
	var rep engine.CampaignReport
	if err := json.Unmarshal([]byte(mustRun(t, "--db", db, "campaign", "report", id, "-o", "json")), &rep); err != nil || rep.ID != id || rep.Sent != 0 || rep.Budget != 1000 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	if out := mustRun(t, "--db", db, "campaign", "report", id); !strings.Contains(out, "budget 10.00 EUR, 10.00 EUR left") || !strings.Contains(out, "(SUMMER), running") {
		t.Fatalf("report as read: %s", out)
	}
	if out := mustRun(t, "--db", db, "campaign", "stop", id); !strings.Contains(out, "stopped") {
		t.Fatalf("stop: %s", out)
	}
	if _, err := run(t, "--db", db, "campaign", "report", "0000000000000000"); err == nil {
		t.Fatal("a report of no campaign")
	}
}
