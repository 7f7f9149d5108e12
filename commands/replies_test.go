package commands

import (
	"flag"
	"fmt"
	"mpg/domain"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRepliesGolden(t *testing.T) {
	var b strings.Builder
	for _, x := range Catalogue() {
		if x.Text == "" || strings.ContainsAny(x.Text, "{}") {
			t.Errorf("reply %d %s: empty or with an unfilled blank: %q", x.Reply, x.Lang, x.Text)
		}
		fmt.Fprintf(&b, "== %d %s\n%s\n", x.Reply, x.Lang, x.Text)
	}
	path := filepath.Join("testdata", "replies.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./commands -update)", err)
	}
	if string(want) != b.String() {
		t.Fatalf("replies differ from %s; review and run go test ./commands -update", path)
	}
}

func TestEveryParseErrorHasAReply(t *testing.T) {
	for p := Empty; p <= TooLong; p++ {
		r, a := ForParseError(&ParseError{Problem: p, Kind: Pay, Arg: "X"})
		if text := Render(FR, r, a); text == "" || strings.Contains(text, "{") {
			t.Errorf("problem %d: %q", p, text)
		}
	}
	if got := (domain.Money{Minor: 1250, Currency: "EUR", Exponent: 2}).Format(FR.DecimalMark()); got != "12,50 EUR" {
		t.Errorf("FR money: %q", got)
	}
	if got := (domain.Money{Minor: 5, Currency: "EUR", Exponent: 2}).Format(EN.DecimalMark()); got != "0.05 EUR" {
		t.Errorf("EN money: %q", got)
	}
	if got := (domain.Money{Minor: 1500, Currency: "XOF"}).Format(FR.DecimalMark()); got != "1500 XOF" {
		t.Errorf("XOF money: %q", got)
	}
}

// Tries left are counted in words that agree with the number.
func TestTriesLeftAgreeWithTheNumber(t *testing.T) {
	for _, c := range []struct {
		l    Lang
		r    Reply
		n    int
		want string
	}{
		{EN, RWrongPIN, 1, "Wrong PIN. 1 try left before"}, {EN, RWrongPIN, 2, "Wrong PIN. 2 tries left"},
		{FR, RWrongPIN, 1, "Encore 1 essai avant"}, {FR, RWrongPIN, 2, "Encore 2 essais avant"},
		{ZH, RWrongPIN, 1, "还可尝试1次"}, {EN, RConfirmWrong, 1, "Code not recognised. 1 try left."},
		{FR, RConfirmWrong, 1, "Encore 1 essai."}, {FR, RConfirmWrong, 2, "Encore 2 essais."},
	} {
		if got := Render(c.l, c.r, Args{N: c.n}); !strings.Contains(got, c.want) {
			t.Errorf("%s %d n=%d: %q, want %q", c.l, c.r, c.n, got, c.want)
		}
	}
}

// Every reply names a receipt with one word per language.
func TestOneWordForReceipt(t *testing.T) {
	other := map[Lang][]string{EN: {"Proof", "receipt {"}, FR: {"Recu", "Reçu"}, ZH: {"收据"}}
	for _, x := range Catalogue() {
		for _, w := range other[x.Lang] {
			if strings.Contains(x.Text, w) {
				t.Errorf("reply %d %s says %q: %q", x.Reply, x.Lang, w, x.Text)
			}
		}
	}
}

// HELP <cmd> says what every command does, with its syntax, in one GSM-7 SMS for EN and FR.
func TestHelpTopicForEveryCommand(t *testing.T) {
	for k := range usage {
		for _, l := range []Lang{EN, FR, ZH} {
			text := Render(l, RHelpTopic, Args{Topic: k})
			if about[k][l] == "" || !strings.Contains(text, Usage(k, l)) {
				t.Errorf("HELP %s %s: %q", k, l, text)
			}
			if l != ZH && len([]rune(text)) > 160 {
				t.Errorf("HELP %s %s takes more than one SMS: %q", k, l, text)
			}
			if l != ZH && strings.ContainsAny(text, "çêâîôû") {
				t.Errorf("HELP %s %s is not GSM-7: %q", k, l, text)
			}
		}
	}
}
