package bank

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"mpg/domain"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sim is a bank's back end for tests and the demo, written to answer as ISO 8583:1987
// says a bank does: accounts with balances, debits and refund credits by RRN (an RRN is
// applied once: a second 0200 is a duplicate transmission, a repeat is answered with the
// first outcome, or processed as the original if that never arrived), reversals matched on
// the original data elements of field 90, its own network management messages, and the
// faults real back ends have.
type Sim struct {
	ln net.Listener

	mu       sync.Mutex
	accounts map[string]*SimAccount
	done     map[string]*record // by RRN
	seen     map[string][]string
	faults   map[Fault]int // how many more requests each fault hits (-1: all)
	conns    map[net.Conn]*writer
	network  map[string]chan string // the sim's own 0800 waiting for an answer, by trace
	wg       sync.WaitGroup
	closed   bool
	trace    int

	// Late is how long FaultLate waits (longer than the client's timeout); Slow how long
	// FaultSlow waits (shorter).
	Late, Slow time.Duration
	// Requests counts the messages taken, Debits the accounts debited, Credits the refunds
	// credited, Duplicates the second originals (0200) of one RRN, which mpg never sends.
	Requests, Debits, Reversals, Credits, Duplicates atomic.Int64
}

// SimAccount is one account at the simulated bank.
type SimAccount struct {
	Balance    int64  // minor units
	PerPayment uint64 // 0: no limit
	Closed     bool
}

// record is what the bank did with one RRN.
type record struct {
	resp     msg // the first answer, given again to every repeat
	orig     msg // the request as it first arrived: what a reversal's field 90 must name
	account  string
	amount   uint64
	currency string
	credit   bool
	reversed bool
	at       time.Time
}

// Fault is a way the bank misbehaves on demand.
type Fault string

const (
	FaultNoAnswer        Fault = "no-answer"         // take the request, never answer (it is not applied)
	FaultLate            Fault = "late"              // apply it, answer after Late (past the client's timeout)
	FaultApproveThenDrop Fault = "approve-then-drop" // apply it, then close the connection without answering
	FaultDuplicate       Fault = "duplicate"         // answer twice
	FaultRefuse          Fault = "refuse"            // close every new connection at once
	FaultSlow            Fault = "slow"              // answer after Slow (within the timeout)
	FaultDeclineReversal Fault = "decline-reversal"  // answer a reversal with "12": the debit stands
	FaultMalfunction     Fault = "malfunction"       // answer "96" (system malfunction), applying nothing
	FaultGarbage         Fault = "garbage"           // answer with a message no reader can parse
)

// Faults lists every fault, for the command line.
var Faults = []Fault{FaultNoAnswer, FaultLate, FaultApproveThenDrop, FaultDuplicate, FaultRefuse, FaultSlow, FaultDeclineReversal,
	FaultMalfunction, FaultGarbage}

// NewSim listens on addr.
func NewSim(addr string) (*Sim, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Sim{ln: ln, accounts: map[string]*SimAccount{}, done: map[string]*record{}, seen: map[string][]string{}, faults: map[Fault]int{},
		conns: map[net.Conn]*writer{}, network: map[string]chan string{}, Late: 8 * time.Second, Slow: 300 * time.Millisecond}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is where the simulator listens.
func (s *Sim) Addr() string { return s.ln.Addr().String() }

// Open sets an account's balance (opening it if new).
func (s *Sim) Open(iban string, a SimAccount) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := a
	s.accounts[iban] = &c
}

// Balance is an account's balance now.
func (s *Sim) Balance(iban string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[iban]; ok {
		return a.Balance
	}
	return 0
}

// Inject makes the next n requests (-1: all until cleared, 0: none) meet the fault.
func (s *Sim) Inject(f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == 0 {
		delete(s.faults, f)
		return
	}
	s.faults[f] = n
}

// take reports whether the fault hits this request, and counts it.
func (s *Sim) take(f Fault) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.takeLocked(f)
}

// always reports whether the fault is set for every request until cleared.
func (s *Sim) always(f Fault) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults[f] < 0
}

func (s *Sim) takeLocked(f Fault) bool {
	n, ok := s.faults[f]
	if !ok {
		return false
	}
	if n > 0 {
		if n == 1 {
			delete(s.faults, f)
		} else {
			s.faults[f] = n - 1
		}
	}
	return true
}

// Close stops the simulator and drops every connection.
func (s *Sim) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Sim) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if s.take(FaultRefuse) {
			c.Close()
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = &writer{w: c}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *Sim) serve(c net.Conn) {
	defer s.wg.Done()
	s.mu.Lock()
	w := s.conns[c]
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReader(c)
	var answers sync.WaitGroup
	defer answers.Wait()
	for {
		m, err := read(r)
		if err != nil {
			return
		}
		if m.MTI == mtiNetworkResp {
			s.answered(m)
			continue
		}
		s.Requests.Add(1)
		s.note(m)
		// A fault set for the next n requests is meant for debits, credits and reversals: an
		// echo does not use it up. A fault set for all (-1) hits echoes too: the bank is down so.
		take := s.take
		if m.MTI == mtiNetwork {
			take = s.always
		}
		if take(FaultNoAnswer) {
			continue
		}
		resp := s.handle(m)
		switch {
		case take(FaultApproveThenDrop):
			return // applied, never answered
		case take(FaultGarbage):
			w.sendRaw(garbled(resp))
		case take(FaultLate):
			answers.Add(1)
			go func() { defer answers.Done(); time.Sleep(s.Late); w.send(resp) }()
		case take(FaultSlow):
			answers.Add(1)
			go func() { defer answers.Done(); time.Sleep(s.Slow); w.send(resp) }()
		case take(FaultDuplicate):
			w.send(resp)
			w.send(resp)
		default:
			w.send(resp)
		}
	}
}

// note remembers what arrived for an RRN.
func (s *Sim) note(m *msg) {
	if m.RRN == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen[m.RRN]) < 100 {
		s.seen[m.RRN] = append(s.seen[m.RRN], m.MTI)
	}
}

// Messages lists the message types the bank received for an RRN, in order.
func (s *Sim) Messages(rrn string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen[rrn]...)
}

// handle applies one request and returns its answer.
func (s *Sim) handle(m *msg) *msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.MTI != mtiNetwork && s.takeLocked(FaultMalfunction) {
		resp := *m
		resp.MTI, resp.Response = respMTI(m.MTI), CodeSystemError
		return &resp
	}
	switch m.MTI {
	case mtiNetwork, mtiNetworkAdvice:
		resp := *m
		resp.MTI, resp.Response = respMTI(m.MTI), CodeApproved
		return &resp
	case mtiFinancial, mtiFinancialRepeat:
		return s.financial(m)
	case mtiReversal, mtiReversalRepeat, mtiReversalAdvice, mtiAdviceRepeat:
		return s.reversal(m)
	}
	resp := *m
	resp.MTI, resp.Response = respMTI(m.MTI), CodeReversalDeclined
	return &resp
}

// respMTI is the message type answering mti: 0200 and 0201 → 0210, 0400 and 0401 → 0410.
func respMTI(mti string) string {
	return fmt.Sprintf("%04d", atoi(mti)/10*10+10)
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// financial applies a debit or a credit, once per RRN.
func (s *Sim) financial(m *msg) *msg {
	if rec, ok := s.done[m.RRN]; ok {
		if m.MTI == mtiFinancial && !rec.tombstone() {
			s.Duplicates.Add(1)
			dup := *m // a second original of one RRN: a duplicate transmission, nothing applied
			dup.MTI, dup.Response = mtiFinancialResp, CodeDuplicate
			return &dup
		}
		first := rec.resp // a repeat: the first answer, nothing applied again
		first.Trace = m.Trace
		return &first
	}
	resp := *m
	resp.MTI = mtiFinancialResp
	credit := m.Process == procCredit
	resp.Response = s.apply(m, credit)
	if resp.Response == CodeApproved {
		n := &s.Debits
		if credit {
			n = &s.Credits
		}
		resp.AuthCode = fmt.Sprintf("%06d", n.Add(1)%1000000)
	}
	amount, _ := parseAmount(m.Amount)
	s.done[m.RRN] = &record{resp: resp, orig: *m, account: m.AccountID, amount: amount, currency: m.Currency, credit: credit, at: time.Now()}
	return &resp
}

// tombstone reports whether the record is a reversal that came before its original.
func (r *record) tombstone() bool { return r.orig.MTI == "" }

// reversal undoes what an RRN did, if field 90 names it as it was sent.
func (s *Sim) reversal(m *msg) *msg {
	resp := *m
	resp.MTI = respMTI(m.MTI)
	rec, ok := s.done[m.RRN]
	switch {
	case s.takeLocked(FaultDeclineReversal):
		resp.Response = CodeReversalDeclined
	case !ok:
		// Never seen: remember it, so that the original arriving late is refused.
		declined := *m
		declined.MTI, declined.Response = mtiFinancialResp, CodeReversalDeclined
		s.done[m.RRN] = &record{resp: declined, reversed: true, at: time.Now()}
		resp.Response = CodeNotFound
	case rec.tombstone() || rec.resp.Response != CodeApproved || rec.reversed:
		resp.Response = CodeApproved // nothing done, or already undone
	case m.Original != originalOf(&rec.orig):
		resp.Response = CodeNotFound // field 90 names no request this bank got
	default:
		if a := s.accounts[rec.account]; a != nil && rec.credit {
			a.Balance -= int64(rec.amount)
		} else if a != nil {
			a.Balance += int64(rec.amount)
		}
		rec.reversed = true
		s.Reversals.Add(1)
		resp.Response = CodeApproved
	}
	return &resp
}

// originalOf is the field 90 that names a request as it arrived.
func originalOf(m *msg) string {
	return originalData(domain.BankSent{MTI: mtiFinancial, Trace: m.Trace, Time: m.Sent, Acquirer: m.Acquirer})
}

// apply applies a new debit or credit and returns its response code.
func (s *Sim) apply(m *msg, credit bool) string {
	a, ok := s.accounts[m.AccountID]
	amount, err := parseAmount(m.Amount)
	switch {
	case !ok:
		return CodeInvalidAccount
	case err != nil || amount == 0:
		return "13" // invalid amount
	case a.Closed:
		return CodeAccountClosed
	case credit:
		a.Balance += int64(amount)
		return CodeApproved
	case a.PerPayment > 0 && amount > a.PerPayment:
		return CodeLimitExceeded
	case a.Balance < int64(amount):
		return CodeInsufficientFunds
	}
	a.Balance -= int64(amount)
	return CodeApproved
}

// Network sends the bank's own network management request (0800, field 70 code: 001
// sign-on, 301 echo, 161 key change) on every link, and returns how many answered it with
// 0810 "00" within wait.
func (s *Sim) Network(code string, wait time.Duration) int {
	ch := make(chan string, 64)
	sent := map[string]*writer{}
	s.mu.Lock()
	for _, w := range s.conns {
		s.trace++
		t := fmt.Sprintf("%06d", 900000+s.trace%100000)
		s.network[t] = ch
		sent[t] = w
		if len(sent) == cap(ch) {
			break
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		for t := range sent {
			delete(s.network, t)
		}
		s.mu.Unlock()
	}()
	for t, w := range sent {
		w.send(&msg{MTI: mtiNetwork, Sent: transmitted(time.Now()), Trace: t, Network: code})
	}
	ok := 0
	deadline := time.After(wait)
	for range sent {
		select {
		case rc := <-ch:
			if rc == CodeApproved {
				ok++
			}
		case <-deadline:
			return ok
		}
	}
	return ok
}

// answered takes the answer to one of the sim's own network messages.
func (s *Sim) answered(m *msg) {
	s.mu.Lock()
	ch := s.network[m.Trace]
	delete(s.network, m.Trace)
	s.mu.Unlock()
	if ch != nil {
		ch <- m.Response
	}
}

// SettlementHeader is the first line of a settlement file.
var SettlementHeader = []string{"rrn", "account", "amount_minor", "currency", "status", "auth_code", "time", "type"}

// settlementHeaderV1 is the header of files written before refund credits: every line a
// debit.
var settlementHeaderV1 = SettlementHeader[:7]

// WriteSettlement writes the bank's settlement file: every debit and refund credit it
// approved, as CSV (SettlementHeader), oldest first; status is "settled" or "reversed",
// type "debit" or "credit".
func (s *Sim) WriteSettlement(w io.Writer) error {
	s.mu.Lock()
	var rows [][]string
	for rrn, r := range s.done {
		if r.resp.Response != CodeApproved {
			continue
		}
		status := "settled"
		if r.reversed {
			status = "reversed"
		}
		kind := "debit"
		if r.credit {
			kind = "credit"
		}
		rows = append(rows, []string{rrn, r.account, strconv.FormatUint(r.amount, 10), r.currency, status, r.resp.AuthCode,
			r.at.UTC().Format(time.RFC3339Nano), kind})
	}
	s.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i][6] < rows[j][6] })
	cw := csv.NewWriter(w)
	cw.Write(SettlementHeader)
	cw.WriteAll(rows)
	return cw.Error()
}

// ReadSettlement reads a settlement file as WriteSettlement writes it (or as it did before
// refund credits, without the type column: every line a debit).
func ReadSettlement(r io.Reader) ([]domain.BankSettled, error) {
	cr := csv.NewReader(io.LimitReader(r, 1<<30))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || (!slices.Equal(rows[0], SettlementHeader) && !slices.Equal(rows[0], settlementHeaderV1)) {
		return nil, fmt.Errorf("not a settlement file (first line %s)", strings.Join(SettlementHeader, ","))
	}
	width := len(rows[0])
	var out []domain.BankSettled
	for i, row := range rows[1:] {
		if len(row) != width {
			return nil, fmt.Errorf("line %d: %d fields, want %d", i+2, len(row), width)
		}
		amount, err := strconv.ParseUint(row[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: amount %q", i+2, row[2])
		}
		s := domain.BankSettled{Key: row[0], Account: row[1], Amount: amount, Currency: alphaCurrency(row[3]), Reversed: row[4] == "reversed"}
		if width == len(SettlementHeader) {
			switch row[7] {
			case "credit":
				s.Credit = true
			case "debit":
			default:
				return nil, fmt.Errorf("line %d: type %q, want debit or credit", i+2, row[7])
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// garbled is an answer whose primary bitmap announces a field (2) that is not there: a
// reader that follows the bitmap loses its place, and must not show what the bytes carry.
func garbled(m *msg) []byte {
	b, err := encode(m)
	if err != nil || len(b) < 5 {
		return []byte("0000")
	}
	const digits = "0123456789ABCDEF"
	b[4] = digits[strings.IndexByte(digits, b[4])|4]
	return b
}
