package bank

// A bank host written from ISO 8583:1987 and the interface page (docs/bank-interface.md),
// not from mpg's code: it reads and writes bytes by hand, with its own field table, and
// uses nothing of this package but the Client it talks to. It frames messages with a
// 2-byte big-endian length, reads the message type, the primary bitmap (16 hex characters),
// the secondary bitmap only when bit 1 says one follows, and the fields in order, checking
// each against its format; anything else is a problem it records. It debits and credits
// accounts once per RRN, answers a second original 94 (duplicate transmission), a repeat
// with the original's outcome (or as an original if that never arrived), matches reversals
// on field 90, answers network management, sends its own 0800, and can answer a repeat
// 96, answer a code the standard does not list, drop an answer, or send what no reader can
// parse.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"mpg/domain"
)

// hostField is a data element as the interface table gives it.
type hostField struct {
	format string // n, an, ans
	length int    // fixed length, or the maximum
	ll     bool   // LLVAR: two length digits first
}

// hostFields are the elements of the interface, and those this host adds to its answers
// as banks do (12, 13 local time and date, 15 settlement date, 44 additional response
// data): mpg must read past them.
var hostFields = map[int]hostField{
	3: {"n", 6, false}, 4: {"n", 12, false}, 7: {"n", 10, false}, 11: {"n", 6, false},
	12: {"n", 6, false}, 13: {"n", 4, false}, 15: {"n", 4, false},
	32: {"n", 11, true}, 37: {"an", 12, false}, 38: {"an", 6, false}, 39: {"an", 2, false},
	42: {"ans", 15, false}, 44: {"an", 25, true}, 49: {"n", 3, false},
	70: {"n", 3, false}, 90: {"n", 42, false}, 102: {"ans", 28, true},
}

// hostMsg is one message as the host reads it.
type hostMsg struct {
	mti       string
	fields    map[int]string
	secondary bool // a secondary bitmap was present
}

func charsetOK(format, v string) bool {
	for _, c := range v {
		switch {
		case format == "n" && (c < '0' || c > '9'):
			return false
		case format == "an" && !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == ' '):
			return false
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return true
}

// hostBitmap reads one bitmap of 16 hex characters.
func hostBitmap(b []byte) (uint64, error) {
	if len(b) < 16 {
		return 0, errors.New("bitmap cut short")
	}
	raw, err := hex.DecodeString(string(b[:16]))
	if err != nil {
		return 0, errors.New("bitmap is not hexadecimal")
	}
	return binary.BigEndian.Uint64(raw), nil
}

// hostParse reads a message by the standard and the interface table.
func hostParse(b []byte) (hostMsg, error) {
	m := hostMsg{fields: map[int]string{}}
	if len(b) < 4 || !charsetOK("n", string(b[:4])) {
		return m, errors.New("no message type")
	}
	m.mti, b = string(b[:4]), b[4:]
	primary, err := hostBitmap(b)
	if err != nil {
		return m, err
	}
	b = b[16:]
	var secondary uint64
	if m.secondary = primary>>63 == 1; m.secondary {
		if secondary, err = hostBitmap(b); err != nil {
			return m, err
		}
		b = b[16:]
		if secondary == 0 {
			return m, errors.New("bit 1 set, but no field above 64 present")
		}
		if secondary>>63 == 1 {
			return m, errors.New("field 65 (a third bitmap) is not in the interface")
		}
	}
	for n := 2; n <= 128; n++ {
		bits, pos := primary, n
		if n > 64 {
			bits, pos = secondary, n-64
		}
		if bits>>(64-pos)&1 == 0 {
			continue
		}
		if b, err = hostField1(m, n, b); err != nil {
			return m, err
		}
	}
	if len(b) != 0 {
		return m, fmt.Errorf("%d bytes after the last field", len(b))
	}
	return m, nil
}

// hostField1 reads field n from b into m and returns the rest.
func hostField1(m hostMsg, n int, b []byte) ([]byte, error) {
	f, ok := hostFields[n]
	if !ok {
		return nil, fmt.Errorf("field %d is not in the interface", n)
	}
	size := f.length
	if f.ll {
		if len(b) < 2 || !charsetOK("n", string(b[:2])) {
			return nil, fmt.Errorf("field %d: no length", n)
		}
		size, _ = strconv.Atoi(string(b[:2]))
		if size > f.length {
			return nil, fmt.Errorf("field %d: %d characters, at most %d", n, size, f.length)
		}
		b = b[2:]
	}
	if len(b) < size {
		return nil, fmt.Errorf("field %d cut short", n)
	}
	v := string(b[:size])
	if !charsetOK(f.format, v) {
		return nil, fmt.Errorf("field %d is not %s", n, f.format)
	}
	m.fields[n] = v
	return b[size:], nil
}

// hostPack writes a message by the standard: a secondary bitmap (and bit 1) only when a
// field above 64 is present.
func hostPack(mti string, fields map[int]string) []byte {
	var nums []int
	var bitmaps [2]uint64
	for n := range fields {
		nums = append(nums, n)
		bitmaps[(n-1)/64] |= 1 << (63 - (n-1)%64)
	}
	sort.Ints(nums)
	if bitmaps[1] != 0 {
		bitmaps[0] |= 1 << 63
	}
	out := []byte(mti + fmt.Sprintf("%016X", bitmaps[0]))
	if bitmaps[1] != 0 {
		out = append(out, fmt.Sprintf("%016X", bitmaps[1])...)
	}
	for _, n := range nums {
		if hostFields[n].ll {
			out = append(out, fmt.Sprintf("%02d", len(fields[n]))...)
		}
		out = append(out, fields[n]...)
	}
	return out
}

// hostTxn is what the host did with one RRN.
type hostTxn struct {
	first    hostMsg // the request as it first arrived
	answer   map[int]string
	credit   bool
	reversed bool
}

// host1987 is the bank.
type host1987 struct {
	t  *testing.T
	ln net.Listener
	wg sync.WaitGroup

	mu       sync.Mutex
	accounts map[string]int64
	txns     map[string]*hostTxn
	seen     map[string][]string // message types by RRN
	problems []string
	conns    []net.Conn
	netResp  chan hostMsg
	// Faults: repeats to answer 96, the next first request's code, answers to drop.
	repeat96 int
	unlisted string
	drop     int
}

func newHost(t *testing.T) *host1987 {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &host1987{t: t, ln: ln, accounts: map[string]int64{iban: 10000}, txns: map[string]*hostTxn{}, seen: map[string][]string{},
		netResp: make(chan hostMsg, 4)}
	h.wg.Add(1)
	go h.accept()
	t.Cleanup(h.close)
	return h
}

func (h *host1987) close() {
	h.ln.Close()
	h.mu.Lock()
	for _, c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *host1987) accept() {
	defer h.wg.Done()
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.conns = append(h.conns, c)
		h.mu.Unlock()
		h.wg.Add(1)
		go h.serve(c)
	}
}

func (h *host1987) problem(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problems = append(h.problems, fmt.Sprintf(format, args...))
}

func hostWrite(c net.Conn, b []byte) error {
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(b)))
	_, err := c.Write(append(frame, b...))
	return err
}

func (h *host1987) serve(c net.Conn) {
	defer h.wg.Done()
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		var size uint16
		if binary.Read(r, binary.BigEndian, &size) != nil {
			return
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return
		}
		m, err := hostParse(b)
		if err != nil {
			h.problem("unreadable %q: %v", b, err)
			continue
		}
		if m.mti == "0810" {
			h.netResp <- m
			continue
		}
		if answer := h.handle(m); answer != nil {
			hostWrite(c, answer)
		}
	}
}

// handle answers one request (nil: no answer).
func (h *host1987) handle(m hostMsg) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rrn := m.fields[37]; rrn != "" {
		h.seen[rrn] = append(h.seen[rrn], m.mti)
	}
	var mti string
	var answer map[int]string
	switch m.mti {
	case "0800":
		mti, answer = "0810", map[int]string{7: m.fields[7], 11: m.fields[11], 39: "00", 70: m.fields[70]}
	case "0200", "0201":
		mti, answer = "0210", h.financial(m)
	case "0400", "0401":
		mti, answer = "0410", h.reversal(m)
	default:
		h.problems = append(h.problems, "message type "+m.mti+" is not in the interface")
		return nil
	}
	if h.drop > 0 {
		h.drop--
		return nil
	}
	return hostPack(mti, answer)
}

// required checks that a request carries the fields the interface page requires.
func (h *host1987) required(m hostMsg, fields ...int) bool {
	for _, n := range fields {
		if _, ok := m.fields[n]; !ok {
			h.problems = append(h.problems, fmt.Sprintf("%s without field %d", m.mti, n))
			return false
		}
	}
	if _, err := time.Parse("0102150405", m.fields[7]); err != nil {
		h.problems = append(h.problems, m.mti+": field 7 is no MMDDhhmmss")
		return false
	}
	return true
}

// answerTo is the answer to a request: its identifying fields, and what the host adds.
func answerTo(m hostMsg, code string) map[int]string {
	a := map[int]string{39: code, 12: "101112", 13: "0102", 15: "0102", 44: "ADDITIONAL DATA"}
	for _, n := range []int{3, 4, 7, 11, 32, 37, 42, 49, 102} {
		if v, ok := m.fields[n]; ok {
			a[n] = v
		}
	}
	return a
}

func (h *host1987) financial(m hostMsg) map[int]string {
	if !h.required(m, 3, 4, 7, 11, 37, 42, 49, 102) {
		return answerTo(m, "30")
	}
	txn, known := h.txns[m.fields[37]]
	switch {
	case m.mti == "0201" && h.repeat96 > 0:
		h.repeat96--
		return answerTo(m, "96")
	case m.mti == "0200" && known:
		return answerTo(m, "94")
	case known:
		for _, n := range []int{3, 4, 7, 11, 32, 102} {
			if m.fields[n] != txn.first.fields[n] {
				h.problems = append(h.problems, fmt.Sprintf("the repeat's field %d differs from the original's", n))
			}
		}
		a := answerTo(m, txn.answer[39])
		if code, ok := txn.answer[38]; ok {
			a[38] = code
		}
		return a
	}
	return h.original(m)
}

// original applies a debit (processing code 00) or a credit (20) once.
func (h *host1987) original(m hostMsg) map[int]string {
	amount, _ := strconv.ParseInt(m.fields[4], 10, 64)
	account := strings.TrimSpace(m.fields[102])
	balance, open := h.accounts[account]
	credit := strings.HasPrefix(m.fields[3], "20")
	code := "00"
	switch {
	case !open:
		code = "14"
	case credit:
		h.accounts[account] = balance + amount
	case balance < amount:
		code = "51"
	default:
		h.accounts[account] = balance - amount
	}
	a := answerTo(m, code)
	if code == "00" {
		a[38] = fmt.Sprintf("A%05d", len(h.txns)+1)
	}
	h.txns[m.fields[37]] = &hostTxn{first: m, answer: a, credit: credit}
	if h.unlisted != "" {
		code, h.unlisted = h.unlisted, ""
		a = answerTo(m, code)
	}
	return a
}

// reversal undoes the request field 90 names: its type, trace, transmission time and
// acquirer must be those of the request as it arrived.
func (h *host1987) reversal(m hostMsg) map[int]string {
	if !h.required(m, 3, 4, 7, 11, 37, 90) {
		return answerTo(m, "30")
	}
	a := answerTo(m, "25")
	a[90] = m.fields[90]
	txn, ok := h.txns[m.fields[37]]
	if !ok || txn.answer[39] != "00" {
		return a
	}
	o, f := m.fields[90], txn.first.fields
	acquirer := strings.Repeat("0", 11-len(f[32])) + f[32]
	if o[:4] != "0200" || o[4:10] != f[11] || o[10:20] != f[7] || o[20:31] != acquirer {
		return a
	}
	if !txn.reversed {
		amount, _ := strconv.ParseInt(f[4], 10, 64)
		if txn.credit {
			amount = -amount
		}
		h.accounts[strings.TrimSpace(f[102])] += amount
		txn.reversed = true
	}
	a[39] = "00"
	return a
}

// network sends the host's own 0800 on the newest link and returns the answer.
func (h *host1987) network(code string) (hostMsg, error) {
	h.mu.Lock()
	c := h.conns[len(h.conns)-1]
	h.mu.Unlock()
	if err := hostWrite(c, hostPack("0800", map[int]string{7: time.Now().UTC().Format("0102150405"), 11: "777001", 70: code})); err != nil {
		return hostMsg{}, err
	}
	select {
	case m := <-h.netResp:
		return m, nil
	case <-time.After(2 * time.Second):
		return hostMsg{}, errors.New("no 0810")
	}
}

// send writes raw bytes to the newest link as one message.
func (h *host1987) send(b []byte) {
	h.mu.Lock()
	c := h.conns[len(h.conns)-1]
	h.mu.Unlock()
	hostWrite(c, b)
}

func (h *host1987) balance() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.accounts[iban]
}

func (h *host1987) messages(rrn string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.seen[rrn], " ")
}

// TestAgainstABankWrittenFromTheStandard drives the client against the host above: every
// message mpg sends must read as the standard says, and mpg must read the host's.
func TestAgainstABankWrittenFromTheStandard(t *testing.T) {
	h := newHost(t)
	var logs []string
	var logMu sync.Mutex
	c := NewClient(Config{Addr: h.ln.Addr().String(), Timeout: 300 * time.Millisecond, Acquirer: "4711",
		Log: func(f string, args ...any) {
			logMu.Lock()
			logs = append(logs, fmt.Sprintf(f, args...))
			logMu.Unlock()
		}})
	defer c.Close()
	ctx := context.Background()
	req := func(rrn string, amount uint64) domain.BankDebit {
		d := domain.BankDebit{Key: rrn, Trace: rrn[6:], Account: iban, Amount: amount, Currency: "EUR", Merchant: "SHOP42"}
		d.Sent = c.Stamp(d, false, time.Now().Add(-90*time.Minute))
		return d
	}
	t.Run("echo, debit, decline", func(t *testing.T) {
		if err := c.Echo(ctx); err != nil {
			t.Fatal(err)
		}
		if a, err := c.Debit(ctx, req("H00000000001", 2500)); err != nil || a.Outcome != domain.BankApproved || a.AuthCode == "" || h.balance() != 7500 {
			t.Fatalf("%+v %v, balance %d", a, err, h.balance())
		}
		if a, err := c.Debit(ctx, req("H00000000002", 90000)); err != nil || a.Outcome != domain.BankDeclined || a.Code != "51" {
			t.Fatalf("%+v %v", a, err)
		}
	})
	t.Run("a 96 answering the repeat is no decline", func(t *testing.T) {
		d := req("H00000000003", 1000)
		h.mu.Lock()
		h.drop, h.repeat96 = 1, 1
		h.mu.Unlock()
		if _, err := c.Debit(ctx, d); !errors.Is(err, domain.ErrBankUnknown) {
			t.Fatalf("dropped: %v", err)
		}
		if a, err := c.Status(ctx, d); !errors.Is(err, domain.ErrBankUnknown) || a.Outcome == domain.BankDeclined {
			t.Fatalf("96: %+v %v", a, err)
		}
		if a, err := c.Status(ctx, d); err != nil || a.Outcome != domain.BankApproved || h.balance() != 6500 {
			t.Fatalf("repeat: %+v %v, balance %d", a, err, h.balance())
		}
		if got := h.messages(d.Key); got != "0200 0201 0201" {
			t.Fatalf("the bank got %s", got)
		}
	})
	t.Run("a code the standard does not list is unknown", func(t *testing.T) {
		d := req("H00000000004", 500)
		h.mu.Lock()
		h.unlisted = "Q7"
		h.mu.Unlock()
		if a, err := c.Debit(ctx, d); !errors.Is(err, domain.ErrBankUnknown) || a.Outcome != 0 {
			t.Fatalf("Q7: %+v %v", a, err)
		}
		if a, err := c.Status(ctx, d); err != nil || a.Outcome != domain.BankApproved || h.balance() != 6000 {
			t.Fatalf("repeat: %+v %v", a, err)
		}
	})
	t.Run("a reversal names the request as sent", func(t *testing.T) {
		d := req("H00000000005", 700)
		h.mu.Lock()
		h.drop = 1
		h.mu.Unlock()
		c.Debit(ctx, d)
		d.Reversal = c.Stamp(d, true, time.Now())
		if a, err := c.Reverse(ctx, d, false); err != nil || a.Code != "00" || h.balance() != 6000 {
			t.Fatalf("reversal: %+v %v, balance %d", a, err, h.balance())
		}
		if a, err := c.Reverse(ctx, d, true); err != nil || a.Outcome != domain.BankApproved || h.balance() != 6000 {
			t.Fatalf("its repeat: %+v %v, balance %d", a, err, h.balance())
		}
		if got := h.messages(d.Key); got != "0200 0400 0401" {
			t.Fatalf("the bank got %s", got)
		}
	})
	t.Run("a refund credit", func(t *testing.T) {
		if a, err := c.Credit(ctx, req("H00000000006", 300)); err != nil || a.Outcome != domain.BankApproved || h.balance() != 6300 {
			t.Fatalf("%+v %v, balance %d", a, err, h.balance())
		}
	})
	t.Run("the bank's own network messages", func(t *testing.T) {
		for _, code := range []string{"001", "301", "161"} {
			m, err := h.network(code)
			if err != nil || m.fields[39] != "00" || m.fields[70] != code || m.fields[11] != "777001" || !m.secondary {
				t.Fatalf("%s: %+v %v", code, m, err)
			}
		}
	})
	t.Run("an unreadable message is logged by its shape, the link stays", func(t *testing.T) {
		// Field 102 announces 40 characters: more than the 28 the standard allows.
		h.send([]byte("0210" + "A000000000000000" + "0000000004000000" + "000000" + "40" + iban + "1234567890123"))
		time.Sleep(50 * time.Millisecond)
		if a, err := c.Debit(ctx, req("H00000000007", 100)); err != nil || a.Outcome != domain.BankApproved {
			t.Fatalf("after it: %+v %v", a, err)
		}
		logMu.Lock()
		defer logMu.Unlock()
		all := strings.Join(logs, "\n")
		if !strings.Contains(all, "MTI 0210, bitmap 1 A000000000000000, bitmap 2 0000000004000000, fields 3 102") || strings.Contains(all, iban[4:]) {
			t.Fatalf("log: %s", all)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.conns) != 1 {
			t.Fatalf("%d links: the link was dropped", len(h.conns))
		}
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.problems) > 0 {
		t.Fatalf("mpg's messages break the standard:\n%s", strings.Join(h.problems, "\n"))
	}
}
