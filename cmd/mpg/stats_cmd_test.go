package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStatsCLI: without a daemon, mpg stats catches the follower up and shows a payment by
// merchant (named by its code), as a table, JSON and CSV (the total counts the top-up too);
// a rebuild counts the same again.
func TestStatsCLI(t *testing.T) {
	db := cliLedger(t)
	mustRun(t, "--db", db, "merchant", "add", "shop42", "--name", "Corner Shop", "--msisdn", "+33698765432")
	l, _ := alicePays(t, db, "PAY SHOP42 15 2468")
	l.Close()
	table := mustRun(t, "--db", db, "stats", "--by", "merchant")
	for _, want := range []string{"SHOP42 Corner Shop", "15.00", "payers: 1 new", "0 journal entries behind"} {
		if !strings.Contains(table, want) {
			t.Fatalf("the table lacks %q:\n%s", want, table)
		}
	}
	var rep struct {
		Rows []struct {
			Label    string `json:"label"`
			Payments int64  `json:"payments"`
			Amount   string `json:"amount"`
		} `json:"rows"`
		Payers struct{ New int64 } `json:"payers"`
	}
	out := mustRun(t, "--db", db, "stats", "--by", "merchant", "--merchant", "SHOP42", "-o", "json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Rows) != 1 || rep.Rows[0].Payments != 1 ||
		rep.Rows[0].Amount != "15.00" || rep.Rows[0].Label != "SHOP42 Corner Shop" {
		t.Fatalf("json (%v): %s", err, out)
	}
	if out := mustRun(t, "--db", db, "stats", "--by", "total", "-o", "csv"); !strings.HasPrefix(out, "label,payments,payments_prev") || !strings.Contains(out, "total,2,0,,3500,0,") {
		t.Fatalf("csv: %s", out)
	}
	if out := mustRun(t, "--db", db, "stats", "rebuild"); !strings.Contains(out, "deleted ") || !strings.Contains(out, "statistics rebuilt") {
		t.Fatalf("rebuild: %s", out)
	}
	if again := mustRun(t, "--db", db, "stats", "--by", "merchant"); again != table {
		t.Fatalf("after the rebuild:\n%s\nbefore:\n%s", again, table)
	}
	for _, bad := range [][]string{{"--by", "week"}, {"--from", "2026-12-05", "--to", "2026-12-01"}, {"--merchant", "NOPE"}, {"-o", "xml"}, {"--to", "5 Dec"}} {
		if _, err := run(t, append([]string{"--db", db, "stats"}, bad...)...); err == nil {
			t.Errorf("mpg stats %v: accepted", bad)
		}
	}
}
