package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"go.uber.org/zap"

	"mpg/domain"
)

// netsmppPeer is the SMSC of testdata/netsmpp_smsc.pl, built on Debian's libnet-smpp-perl:
// a second SMPP implementation we did not write, driven line by line.
type netsmppPeer struct {
	t     *testing.T
	in    io.WriteCloser
	lines chan string
	mu    sync.Mutex
	mts   []peerMT
	resp  map[string]string // deliver_sm seq -> status
}

// peerMT is one submit_sm as Net::SMPP decoded it.
type peerMT struct {
	id, addr      string
	ton, npi, esm int
	coding        int
	payload       []byte
}

func startNetSMPP(t *testing.T) (*netsmppPeer, string) {
	t.Helper()
	if err := exec.Command("perl", "-MNet::SMPP", "-e", "1").Run(); err != nil {
		if os.Getenv("MPG_REQUIRE_INTEROP") != "" {
			t.Fatalf("Net::SMPP is required (apt-get install libnet-smpp-perl): %v", err)
		}
		t.Skip("Net::SMPP not installed (apt-get install libnet-smpp-perl)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, "perl", "testdata/netsmpp_smsc.pl", "mpg", "pw")
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &netsmppPeer{t: t, in: in, lines: make(chan string, 1024), resp: map[string]string{}}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill() // our own child, by its handle
			<-done
		}
		cancel()
	})
	first := p.next(10 * time.Second)
	port, ok := strings.CutPrefix(first, "LISTEN ")
	if !ok {
		t.Fatalf("peer said %q", first)
	}
	return p, "127.0.0.1:" + port
}

// next returns the peer's next line, recording MT and deliver_sm_resp lines as they pass.
func (p *netsmppPeer) next(wait time.Duration) string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatal("the Net::SMPP peer exited")
		}
		p.record(l)
		return l
	case <-time.After(wait):
		p.t.Fatal("the Net::SMPP peer said nothing in time")
	}
	return ""
}

func (p *netsmppPeer) record(l string) {
	f := strings.Fields(l)
	{
		p.mu.Lock()
		defer p.mu.Unlock()
		switch f[0] {
		case "MT":
			n := func(s string) int { v, _ := strconv.Atoi(s); return v }
			payload, err := hex.DecodeString(f[7])
			if err != nil {
				p.t.Fatalf("MT line %q: %v", l, err)
			}
			p.mts = append(p.mts, peerMT{id: f[1], ton: n(f[2]), npi: n(f[3]), addr: f[4], esm: n(f[5]), coding: n(f[6]), payload: payload})
		case "RESP":
			p.resp[f[1]] = f[2]
		}
	}
}

// mo sends one deliver_sm and returns the status of its deliver_sm_resp.
func (p *netsmppPeer) mo(ton int, from string, esm int, payload []byte, sar ...int) string {
	p.t.Helper()
	line := fmt.Sprintf("MO %d %s %d %x", ton, from, esm, payload)
	for _, v := range sar {
		line += fmt.Sprintf(" %d", v)
	}
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		p.t.Fatal(err)
	}
	var seq string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		l := p.next(10 * time.Second)
		if s, ok := strings.CutPrefix(l, "SENT "); ok && seq == "" {
			seq = s
		}
		p.mu.Lock()
		st, answered := p.resp[seq]
		p.mu.Unlock()
		if seq != "" && answered {
			return st
		}
	}
	p.t.Fatalf("no deliver_sm_resp for %q", line)
	return ""
}

// texts reassembles the MT to addr as a phone would: parts joined by their UDH.
func (p *netsmppPeer) texts(addr string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	parts := map[byte][]string{}
	for _, m := range p.mts {
		if m.addr != addr {
			continue
		}
		if m.ton != 1 || m.npi != 1 || m.coding != 0 && m.coding != 8 {
			p.t.Fatalf("MT to %s with TON %d NPI %d coding %d", addr, m.ton, m.npi, m.coding)
		}
		body := m.payload
		if m.esm&0x40 == 0 {
			out = append(out, decodeBody(p.t, m.coding, body))
			continue
		}
		// UDH: length, then IE 00 (8-bit reference) of 3 octets: ref, total, seq.
		if len(body) < 6 || body[1] != 0x00 || body[2] != 3 {
			p.t.Fatalf("MT UDH %x", body[:min(6, len(body))])
		}
		ref, total, seq := body[3], int(body[4]), int(body[5])
		if parts[ref] == nil {
			parts[ref] = make([]string, total)
		}
		parts[ref][seq-1] = decodeBody(p.t, m.coding, body[int(body[0])+1:])
		if allSet(parts[ref]) {
			out = append(out, strings.Join(parts[ref], ""))
			delete(parts, ref)
		}
	}
	return out
}

func allSet(p []string) bool {
	for _, s := range p {
		if s == "" {
			return false
		}
	}
	return true
}

// decodeBody reads what this test's replies use: unpacked GSM 7-bit that is ASCII here, or UCS-2.
func decodeBody(t *testing.T, coding int, b []byte) string {
	if coding == 8 {
		var r []rune
		for i := 0; i+1 < len(b); i += 2 {
			r = append(r, rune(b[i])<<8|rune(b[i+1]))
		}
		return string(r)
	}
	for _, c := range b {
		if c >= 0x80 {
			t.Fatalf("GSM 7-bit octet %#x in %q", c, b)
		}
	}
	return string(pdutext.GSM7(b).Decode())
}

// waitText waits until addr has received n texts and returns the last.
func (p *netsmppPeer) waitText(addr string, n int) string {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := p.texts(addr); len(got) >= n {
			return got[n-1]
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: %d texts, want %d: %q", addr, len(p.texts(addr)), n, p.texts(addr))
		}
		p.poll(20 * time.Millisecond)
	}
}

// poll records the peer's next line if one comes within wait.
func (p *netsmppPeer) poll(wait time.Duration) {
	select {
	case l, ok := <-p.lines:
		if ok {
			p.record(l)
		}
	case <-time.After(wait):
	}
}

// TestNetSMPPPeer runs the daemon against an SMSC built on Net::SMPP: senders as digits with
// TON 1 and no '+' (and the same phone in national form with TON 2), long MO joined by UDH
// and by sar_* TLVs with a part redelivered, long replies split with UDH, delivery receipts
// in Net::SMPP's encoding; every MO answered ESME_ROK and every reply checked.
// TestNetSMPPPeer runs against an SMSC mpg did not write (Perl's Net::SMPP), on each ledger.
func TestNetSMPPPeer(t *testing.T) { onBothLedgers(t, netSMPPPeer) }

func netSMPPPeer(t *testing.T, bk testBooks) {
	peer, addr := startNetSMPP(t)
	mustRun(t, bk.cli("ledger", "init", "--currency", "EUR")...)
	mustRun(t, bk.cli("merchant", "add", "SHOP42", "--name", "Corner Shop", "--msisdn", "0699000000")...)
	cfg := testServeConfig(addr)
	cfg.Ledger = bk.ledger
	l := bk.open(t, cfg, nil)
	_, _, stop, err := startDaemon(context.Background(), cfg, l, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop() })
	if got := peer.next(10 * time.Second); got != "BIND mpg 0" {
		t.Fatalf("bind: %q", got)
	}
	const alice, shop = "33611110001", "33699000000"
	ok := func(st string) {
		t.Helper()
		if st != "0" {
			t.Fatalf("deliver_sm_resp status %s", st)
		}
	}

	ok(peer.mo(1, alice, 0, []byte("REG 2468 Alice")))
	if got := peer.waitText(alice, 1); !strings.Contains(got, "Welcome Alice") {
		t.Fatalf("REG: %q", got)
	}
	mustRun(t, bk.cli("account", "topup", "+"+alice, "50")...)
	if got := peer.waitText(alice, 2); !strings.Contains(got, "50.00 EUR") {
		t.Fatalf("top-up: %q", got)
	}

	// A PAY in two parts joined by a UDH (IE 00, reference 0x42).
	udh := func(seq int, s string) []byte { return append([]byte{5, 0, 3, 0x42, 2, byte(seq)}, s...) }
	ok(peer.mo(1, alice, 0x40, udh(1, "PAY SHOP42 1.5")))
	ok(peer.mo(1, alice, 0x40, udh(2, "0 UDH-1 2468")))
	if got := peer.waitText(alice, 3); !strings.Contains(got, "Paid 1.50 EUR to Corner Shop") {
		t.Fatalf("PAY by UDH: %q", got)
	}
	if got := peer.waitText(shop, 1); !strings.Contains(got, "1.50 EUR") {
		t.Fatalf("merchant notice: %q", got)
	}

	// A PAY in three parts joined by sar_* TLVs, its second part redelivered alone.
	ok(peer.mo(1, alice, 0, []byte("PAY SHOP42 "), 0x0101, 3, 1))
	ok(peer.mo(1, alice, 0, []byte("2.00 SAR-1"), 0x0101, 3, 2))
	ok(peer.mo(1, alice, 0, []byte("2.00 SAR-1"), 0x0101, 3, 2))
	ok(peer.mo(1, alice, 0, []byte(" 2468"), 0x0101, 3, 3))
	if got := peer.waitText(alice, 4); !strings.Contains(got, "Paid 2.00 EUR to Corner Shop") {
		t.Fatalf("PAY by SAR: %q", got)
	}

	// The same phone in national form: the same purse, the reply to the international number.
	ok(peer.mo(2, "0611110001", 0, []byte("BAL 2468")))
	if got := peer.waitText(alice, 5); !strings.Contains(got, "Balance 46.50 EUR") {
		t.Fatalf("BAL (TON 2): %q", got)
	}
	// A reply longer than one SMS comes in parts joined by a UDH.
	ok(peer.mo(1, alice, 0, []byte("HELP")))
	if got := peer.waitText(alice, 6); !strings.HasPrefix(got, "BAL pin; MINI pin") || !strings.HasSuffix(got, "HELP PAY: details.") || !strings.Contains(got, "CREDIT [shop amount] pin") {
		t.Fatalf("HELP in parts: %q", got)
	}

	// Each command ran once: two payments, nothing more.
	if got := peer.texts(alice); len(got) != 6 {
		t.Fatalf("alice got %d texts: %q", len(got), got)
	}
	if got := peer.texts(shop); len(got) != 2 {
		t.Fatalf("the merchant got %d texts: %q", len(got), got)
	}
	// Net::SMPP's receipts mark every reply delivered.
	waitFor(t, "receipts applied", func() bool {
		peer.poll(10 * time.Millisecond)
		n, _ := l.MessageCounts()
		return n[domain.MsgSent] == 0 && n[domain.MsgDelivered] == 8
	})
}
