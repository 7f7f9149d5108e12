package bank

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"mpg/domain"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sim is a bank's back end for tests and the demo: accounts with balances, debits by RRN
// (the same RRN is never debited twice), reversals, and the faults real back ends have.
type Sim struct {
	ln net.Listener

	mu       sync.Mutex
	accounts map[string]*SimAccount
	done     map[string]*debitRecord // by RRN
	faults   map[Fault]int           // how many more requests each fault hits (-1: all)
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
	closed   bool

	// Late is how long FaultLate waits (longer than the client's timeout); Slow how long
	// FaultSlow waits (shorter).
	Late, Slow time.Duration
	// Requests counts the messages taken, Debits the accounts debited.
	Requests, Debits, Reversals atomic.Int64
}

// SimAccount is one account at the simulated bank.
type SimAccount struct {
	Balance    int64  // minor units
	PerPayment uint64 // 0: no limit
	Closed     bool
}

type debitRecord struct {
	resp     msg // the first answer, given again to every repeat
	account  string
	amount   uint64
	currency string
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
)

// Faults lists every fault, for the command line.
var Faults = []Fault{FaultNoAnswer, FaultLate, FaultApproveThenDrop, FaultDuplicate, FaultRefuse, FaultSlow, FaultDeclineReversal}

// NewSim listens on addr.
func NewSim(addr string) (*Sim, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Sim{ln: ln, accounts: map[string]*SimAccount{}, done: map[string]*debitRecord{}, faults: map[Fault]int{},
		conns: map[net.Conn]bool{}, Late: 8 * time.Second, Slow: 300 * time.Millisecond}
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
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *Sim) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReader(c)
	w := &writer{w: c}
	var answers sync.WaitGroup
	defer answers.Wait()
	for {
		m, err := read(r)
		if err != nil {
			return
		}
		s.Requests.Add(1)
		// A fault set for the next n requests is meant for debits and reversals: an echo
		// does not use it up. A fault set for all (-1) hits echoes too: the bank is down so.
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

// handle applies one request and returns its answer.
func (s *Sim) handle(m *msg) *msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := *m
	switch m.MTI {
	case mtiNetwork:
		resp.MTI, resp.Response = mtiNetworkResp, CodeApproved
		return &resp
	case mtiFinancial, mtiFinancialRepeat:
		if rec, ok := s.done[m.RRN]; ok {
			first := rec.resp // the same RRN: the first answer, nothing applied again
			first.Trace = m.Trace
			return &first
		}
		resp.MTI = mtiFinancialResp
		resp.Response = s.debit(m)
		if resp.Response == CodeApproved {
			resp.AuthCode = fmt.Sprintf("%06d", s.Debits.Add(1)%1000000)
		}
		amount, _ := parseAmount(m.Amount)
		s.done[m.RRN] = &debitRecord{resp: resp, account: m.AccountID, amount: amount, currency: m.Currency, at: time.Now()}
		return &resp
	case mtiReversal, mtiReversalAdvice:
		resp.MTI = mtiReversalResp
		if m.MTI == mtiReversalAdvice {
			resp.MTI = mtiAdviceResp
		}
		rec, ok := s.done[m.RRN]
		switch {
		case s.takeLocked(FaultDeclineReversal):
			resp.Response = CodeReversalDeclined
		case !ok:
			// Never seen: remember it, so that the original arriving late is refused.
			declined := *m
			declined.MTI, declined.Response = mtiFinancialResp, CodeReversalDeclined
			s.done[m.RRN] = &debitRecord{resp: declined, reversed: true, at: time.Now()}
			resp.Response = CodeNotFound
		case rec.resp.Response != CodeApproved || rec.reversed:
			resp.Response = CodeApproved // nothing taken, or already given back
		default:
			if a := s.accounts[rec.account]; a != nil {
				a.Balance += int64(rec.amount)
			}
			rec.reversed = true
			s.Reversals.Add(1)
			resp.Response = CodeApproved
		}
		return &resp
	}
	resp.MTI = fmt.Sprintf("%04d", atoi(m.MTI)+10)
	resp.Response = CodeSystemError
	return &resp
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// debit applies a new debit and returns its response code.
func (s *Sim) debit(m *msg) string {
	a, ok := s.accounts[m.AccountID]
	amount, err := parseAmount(m.Amount)
	switch {
	case !ok:
		return CodeInvalidAccount
	case err != nil || amount == 0:
		return CodeSystemError
	case a.Closed:
		return CodeAccountClosed
	case a.PerPayment > 0 && amount > a.PerPayment:
		return CodeLimitExceeded
	case a.Balance < int64(amount):
		return CodeInsufficientFunds
	}
	a.Balance -= int64(amount)
	return CodeApproved
}

// SettlementHeader is the first line of a settlement file.
var SettlementHeader = []string{"rrn", "account", "amount_minor", "currency", "status", "auth_code", "time"}

// WriteSettlement writes the bank's settlement file: every debit it approved, as CSV
// (SettlementHeader), oldest first; status is "settled" or "reversed".
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
		rows = append(rows, []string{rrn, r.account, strconv.FormatUint(r.amount, 10), r.currency, status, r.resp.AuthCode, r.at.UTC().Format(time.RFC3339Nano)})
	}
	s.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i][6] < rows[j][6] })
	cw := csv.NewWriter(w)
	cw.Write(SettlementHeader)
	cw.WriteAll(rows)
	return cw.Error()
}

// ReadSettlement reads a settlement file as WriteSettlement writes it.
func ReadSettlement(r io.Reader) ([]domain.BankSettled, error) {
	rows, err := csv.NewReader(io.LimitReader(r, 1<<30)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != strings.Join(SettlementHeader, ",") {
		return nil, fmt.Errorf("not a settlement file (first line %s)", strings.Join(SettlementHeader, ","))
	}
	var out []domain.BankSettled
	for i, row := range rows[1:] {
		if len(row) != len(SettlementHeader) {
			return nil, fmt.Errorf("line %d: %d fields, want %d", i+2, len(row), len(SettlementHeader))
		}
		amount, err := strconv.ParseUint(row[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: amount %q", i+2, row[2])
		}
		out = append(out, domain.BankSettled{Key: row[0], Account: row[1], Amount: amount, Currency: alphaCurrency(row[3]),
			Reversed: row[4] == "reversed"})
	}
	return out, nil
}
