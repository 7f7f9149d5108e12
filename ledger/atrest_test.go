package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mpg/domain"

	bolt "go.etcd.io/bbolt"
)

func TestTokensInValues(t *testing.T) {
	named := func(s string) (string, error) { return "<" + s + ">", nil }
	for in, want := range map[string]string{
		`{"msisdn":"+33612345678","amount":300}`:  `{"msisdn":"<+33612345678>","amount":300}`,
		"Sent to +33612345678. Ref A1":            "Sent to <+33612345678>. Ref A1",
		"+33612345678":                            "<+33612345678>",
		"a+33612345678 b/+33612345678":            "a<+33612345678> b/<+33612345678>", // round trips exactly
		`"url":"https://x/?phone=+33612345678&y"`: `"url":"https://x/?phone=<+33612345678>&y"`,
		`"reason":"call me\n+33612345678"`:        `"reason":"call me\n<+33612345678>"`,
		"1+33612345678 ~+33612345678":             "1+33612345678 ~+33612345678",
		"+33612345678_x +33612345678Z":            "+33612345678_x +33612345678Z",
		"+33612345678x +3361234567812345678":      "+33612345678x +3361234567812345678",
		"+12345 and ++33612345678":                "+12345 and ++33612345678",
		"two: +33612345678,+33687654321":          "two: <+33612345678>,<+33687654321>",
		"no number here":                          "no number here",
	} {
		got, err := mapTokens([]byte(in), '+', numberToken, named)
		if err != nil || string(got) != want {
			t.Errorf("%q: got %q %v, want %q", in, got, err, want)
		}
	}
	roundTrip(t)
	if !partyToken("~0123456789abcdef") || partyToken("~0123456789ABCDEF") || partyToken("~0123456789abcde") {
		t.Error("party tokens")
	}
}

// TestRecordsAndMessagesSealedAtRest: a record's value names people by their parties and a
// person's own record and his SMS are sealed under his key; reads give them back whole,
// and after his erasure they read as nothing while the others' records stay readable.
func TestRecordsAndMessagesSealedAtRest(t *testing.T) {
	l, path := testLedger(t, peopleOptions())
	plant(t, l)
	ctx := context.Background()
	payment := `{"msisdn":"` + plantedNumber + `","payee":"` + heldNumber + `","amount":300}`
	res, err := l.Submit(ctx, domain.Job{
		Messages: []domain.Message{{From: "1234", To: plantedNumber, Text: "Welcome " + plantedName + "!"}},
		Profiles: []domain.Profile{{Owner: "@p:42", Data: []byte(payment)}, {Owner: plantedNumber, Data: []byte(`{"lang":"EN","bank_iban":"FR7630006000011234567890189"}`), Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	long := domain.PartWrite{Sender: plantedNumber, Msg: "9/2", Seq: 1, Data: []byte("SEND " + heldNumber + " 5 1234 for " + plantedName), TTL: time.Hour}
	if err := l.KeepPart(ctx, long); err != nil {
		t.Fatal(err)
	}
	if ps, err := l.Parts(plantedNumber, "9/2"); err != nil || len(ps) != 1 || string(ps[0].Data) != string(long.Data) {
		t.Fatalf("part read back: %+v %v", ps, err)
	}
	sealed, err := l.SealFor(plantedNumber, "FR7630006000011234567890189")
	if err != nil || strings.Contains(sealed, "FR76") || l.Unseal(sealed) != "FR7630006000011234567890189" || l.Unseal("plain") != "plain" {
		t.Fatalf("sealed field: %q %v", sealed, err)
	}
	if _, err := l.SealFor("+33600000000", "x"); !errors.Is(err, ErrNoPerson) {
		t.Fatalf("sealing for nobody: %v", err)
	}
	if p, _, _ := l.Profile("@p:42"); string(p) != payment {
		t.Fatalf("record read back: %q", p)
	}
	// A merchant's free text that only looks like a number makes nobody.
	if _, err := l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: "@p:43", Data: []byte(`{"description":"+1000000 points"}`)}}}); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := l.Profile("@p:43"); string(p) != `{"description":"+1000000 points"}` || l.SealForErr("+1000000") == nil {
		t.Fatalf("free text: %q", p)
	}
	if m, err := l.Message(res.Messages[0]); err != nil || m.To != plantedNumber || m.Text != "Welcome "+plantedName+"!" {
		t.Fatalf("message read back: %+v %v", m, err)
	}
	if next, _ := l.NextMessages(ctx, 10); len(next) != 1 || next[0].To != plantedNumber || next[0].Text != "Welcome "+plantedName+"!" {
		t.Fatalf("message to send: %+v", next)
	}
	l.Close()
	if found := readable(t, path, plantedNumber, plantedName, heldNumber, "FR7630006000011234567890189"); len(found) > 0 {
		t.Fatalf("the file holds %q in clear", found)
	}
	l, err = Open(path, peopleOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Erase(ctx, plantedNumber, domain.Audit{Actor: "op", Action: "subscriber erase"}); err != nil {
		t.Fatal(err)
	}
	p, _, _ := l.Profile("@p:42")
	if strings.Contains(string(p), plantedNumber) || !strings.Contains(string(p), `"payee":"`+heldNumber+`"`) || !strings.Contains(string(p), `"msisdn":"~`) {
		t.Fatalf("a record naming an erased person: %q", p)
	}
	if m, _ := l.Message(res.Messages[0]); !IsParty(m.To) || m.Text != "" || m.Status != domain.MsgFailed || m.Reason != "recipient erased" {
		t.Fatalf("an erased person's SMS: %+v", m)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond) // it waits for something to send
	defer cancel()
	if next, _ := l.NextMessages(short, 10); len(next) != 0 {
		t.Fatalf("an SMS to an erased person is still handed out: %+v", next)
	}
	if l.Unseal(sealed) != "" {
		t.Fatal("an erased person's field still opens")
	}
	if rs, _ := l.ProfilesFrom("@cl:", "", 10); len(rs) != 0 {
		t.Fatalf("an erased person's own record is still read: %+v", rs)
	}
	mustVerify(t, l)
}

// TestSchema2FileSealsRecordsAndMessages: a file written before values and messages were
// sealed is brought to schema 3 at its first open: every record and message reads as
// before, and the file no longer holds them in clear.
func TestSchema2FileSealsRecordsAndMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	gunzip(t, "testdata/schema2.db.gz", path)
	if found := readable(t, path, plantedNumber, plantedName, heldNumber, "+33699887766"); len(found) != 4 {
		t.Fatalf("the fixture should hold the people in clear, found %q", found)
	}
	l, err := Open(path, peopleOptions())
	if err != nil {
		t.Fatal(err)
	}
	if p, _, _ := l.Profile("@p:42"); string(p) != `{"msisdn":"`+plantedNumber+`","payee":"`+heldNumber+`","amount":300}` {
		t.Fatalf("record after the move: %q", p)
	}
	if p, _, _ := l.Profile(plantedNumber); string(p) != `{"lang":"FR"}` {
		t.Fatalf("profile after the move: %q", p)
	}
	if ms, _ := l.Messages(10, 0, 0); len(ms) != 1 || ms[0].To != plantedNumber || !strings.HasPrefix(ms[0].Text, "Welcome "+plantedName) {
		t.Fatalf("messages after the move: %+v", ms)
	}
	if ps, err := l.Parts(plantedNumber, "7/2"); err != nil || len(ps) != 1 || string(ps[0].Data) != "REG 739164 "+plantedName {
		t.Fatalf("the part of a long SMS after the move: %+v %v", ps, err)
	}
	if shop := l.AccountsOf("SHOP42"); len(shop) != 1 || shop[0].Phone != "+33699887766" {
		t.Fatalf("the merchant's phone after the move: %+v", shop)
	}
	mustVerify(t, l)
	if log, _ := l.AuditLog(1, 0); len(log) != 1 || log[0].Action != "ledger migrate" {
		t.Fatalf("the journal chained again without its audit entry: %+v", log)
	}
	l.Close()
	if found := readable(t, path, plantedNumber, plantedName, heldNumber, "+33699887766"); len(found) > 0 {
		t.Fatalf("after the move the file still holds %q in clear", found)
	}
}

// TestSchema1FileRefusedAfterErasures: a file from before party ids cannot have later
// erasures replayed on it: its open is refused, saying why and what to do, rather than
// bringing erased people back.
func TestSchema1FileRefusedAfterErasures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	gunzip(t, "testdata/schema1.db.gz", path)
	if err := os.WriteFile(path+".erasures", []byte("2026-12-01T10:00:00Z ~0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, peopleOptions())
	if err == nil || !strings.Contains(err.Error(), "predates party ids") || !strings.Contains(err.Error(), "1 erasure(s)") {
		t.Fatalf("open: %v", err)
	}
	os.Remove(path + ".erasures")
	l, err := Open(path, peopleOptions())
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

// roundTrip: numbers mapped to party ids and back give the text they came from, whatever
// stands around them (random bytes, JSON, base64), and no party id is left behind.
func roundTrip(t *testing.T) {
	t.Helper()
	toParty, toNumber := map[string]string{}, map[string]string{}
	forward := func(n string) (string, error) {
		if p, ok := toParty[n]; ok {
			return p, nil
		}
		p := fmt.Sprintf("~%016x", len(toParty)+1)
		toParty[n], toNumber[p] = p, n
		return p, nil
	}
	back := func(p string) (string, error) {
		if n, ok := toNumber[p]; ok {
			return n, nil
		}
		return p, nil
	}
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"+33612345678", "+4477009001", "+1", "~", "+", "_", "\\n", "=", "\"", "a", "Z", "9", "/", " ", "é", "~0123456789abcdef"}
	for range 20000 {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		in := b.String()
		disk, _ := mapTokens([]byte(in), '+', numberToken, forward)
		out, _ := mapTokens(disk, partyPrefix[0], partyToken, back)
		if string(out) != in {
			t.Fatalf("%q -> %q -> %q", in, disk, out)
		}
	}
}

// TestOldMessagesToNobodyAreNotBroughtBack: at the move to schema 3, an SMS already sent to a
// number that is nobody now (erased, or never registered) keeps its count but not the
// number, which would otherwise come back as a new person; one still to send is sealed.
func TestOldMessagesToNobodyAreNotBroughtBack(t *testing.T) {
	l, _ := testLedger(t, peopleOptions())
	// Created now: older than the outbox's retention, the writer's first sweep (which may run
	// after this write) would prune them.
	now := time.Now().UnixNano()
	sent := domain.Message{ID: 900, From: "1234", To: "+33655501234", Text: "Welcome Zoe", Status: domain.MsgDelivered, Created: now}
	queued := domain.Message{ID: 901, From: "1234", To: "+33655509876", Text: "Money is held for you", Status: domain.MsgQueued, Created: now}
	err := l.db.Update(func(tx *bolt.Tx) error {
		for _, m := range []domain.Message{sent, queued} {
			e := enc{}
			e.message(&m)
			if err := tx.Bucket(bktOutbox).Put(u64key(m.ID), e.b); err != nil {
				return err
			}
		}
		return l.sealMessages(&batchWriter{l: l, tx: boltTx{tx}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := l.Message(900); m.To != "-" || m.Text != "" || m.Status != domain.MsgDelivered {
		t.Fatalf("sent to nobody: %+v", m)
	}
	if m, _ := l.Message(901); m.To != queued.To || m.Text != queued.Text {
		t.Fatalf("still to send: %+v", m)
	}
	if got := l.AccountsOf("+33655501234"); len(got) != 0 {
		t.Fatal("a person came back")
	}
}

// SealForErr is SealFor's error: nil when the number is a person.
func (l *Ledger) SealForErr(number string) error {
	_, err := l.SealFor(number, "x")
	return err
}

// TestErasureDropsQueuedSMSFromTheSchedule: SMS still queued to an erased person leave the
// sender's schedule as well as the file's queue, so the counts of what waits are right.
func TestErasureDropsQueuedSMSFromTheSchedule(t *testing.T) {
	l, _ := testLedger(t, peopleOptions())
	plant(t, l)
	ctx := context.Background()
	if _, err := l.Submit(ctx, domain.Job{Messages: []domain.Message{{From: "1234", To: plantedNumber, Text: "later"}}}); err != nil {
		t.Fatal(err)
	}
	next, _ := l.NextMessages(ctx, 10)
	if len(next) != 1 {
		t.Fatalf("to send: %+v", next)
	}
	if err := l.MarkRetry(ctx, next[0].ID, Retry{Reason: "throttled", At: time.Now().Add(6 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if l.OutboxWaiting() != 1 {
		t.Fatalf("waiting before: %d", l.OutboxWaiting())
	}
	if _, err := l.Erase(ctx, plantedNumber, domain.Audit{Actor: "op", Action: "subscriber erase"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Unsent(); n != 0 || l.OutboxWaiting() != 0 || l.OutboxDue() != 0 {
		t.Fatalf("after the erasure: unsent %d, waiting %d, due %d", n, l.OutboxWaiting(), l.OutboxDue())
	}
}

// A binary record (domain.RawRecord first) is kept as it is: a valid number spelled in its
// bytes makes nobody a person, as it would in a JSON record; and one filed under a person
// is sealed under his key like any of his records.
func TestRawRecordsMakeNobody(t *testing.T) {
	l, path := testLedger(t, peopleOptions())
	plant(t, l)
	raw := append([]byte{domain.RawRecord, 7, ' '}, "+33699999999 \x00\xff"...)
	his := append([]byte{domain.RawRecord}, "RAWSECRET42"...)
	js := []byte(`{"n":"+33688888888"}`)
	if _, err := l.Submit(context.Background(), domain.Job{Profiles: []domain.Profile{{Owner: "@raw:1", Data: raw},
		{Owner: "@raw:" + plantedNumber, Data: his}, {Owner: "@json:1", Data: js}}}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := l.Profile("@raw:1"); string(got) != string(raw) {
		t.Fatalf("read back %q, wrote %q", got, raw)
	}
	if got, _, _ := l.Profile("@raw:" + plantedNumber); string(got) != string(his) {
		t.Fatalf("his record read back %q, wrote %q", got, his)
	}
	if !errors.Is(l.SealForErr("+33699999999"), ErrNoPerson) {
		t.Fatal("a number in a binary record made a person")
	}
	if l.SealForErr("+33688888888") != nil {
		t.Fatal("a number in a JSON record made nobody: the test proves nothing")
	}
	l.Close()
	if found := readable(t, path, "RAWSECRET42"); len(found) > 0 {
		t.Fatalf("a binary record filed under a person is in clear in the file: %q", found)
	}
}
