package engine

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"mpg/domain"
)

// Settlement pays merchants what they are owed into their bank accounts: a payout moves the
// money from the merchant's account to the settlement (in transit) account in one job with
// its record, a pain.001 file asks the operator's bank to make the transfers, and the bank's
// pain.002 status report marks each payout paid (in transit to bank clearing) or rejected
// (back to the merchant).

// SettlementFiles writes the credit transfer files the operator's bank takes and reads its
// status reports (the settlement room: pain.001 out, pain.002 in).
type SettlementFiles interface {
	// WriteInitiation writes f into dir, whole or not at all, and returns its path.
	WriteInitiation(dir string, f domain.SEPAFile) (string, error)
	ReadStatus(in io.Reader) (domain.StatusReport, error)
}

// SettlementConfig is how merchants are settled.
type SettlementConfig struct {
	// Files writes and reads the files (nil: settlement is off).
	Files SettlementFiles
	// Enabled: the daemon runs the day's settlement by itself at At.
	Enabled bool
	// At is the time of day (in Location) the daily run starts.
	At time.Duration
	// Dir is where pain.001 files are written.
	Dir string
	// The reserve kept back for refunds and disputes: ReservePercent of what the merchant was
	// paid in the last ReserveDays days, at least ReserveMin (minor units).
	ReservePercent int
	ReserveDays    int
	ReserveMin     uint64
	// MinPayout: a merchant owed less waits for a later day (minor units).
	MinPayout uint64
	// Debtor is the operator's account the transfers are paid from; Initiator the name the
	// bank knows the sender of the files by ("" : the debtor's).
	Debtor    domain.SEPAParty
	Initiator string
}

// The settlement's records.
const (
	keyPayoutBank  = "@stb:" // + merchant %016x: the merchant's linked bank account
	keyPayout      = "@sto:" // + payout id: the payout
	keyPayoutOf    = "@stm:" // + merchant %016x + ":" + payout id: a merchant's payouts, oldest first
	keyUnfiled     = "@stu:" // + payout id: issued payouts no file holds yet
	keyPayoutFile  = "@stf:" // + message id: a pain.001 file and the payouts it holds
	keyUnwritten   = "@stw:" // + message id: files not yet on disk
	keySettleDay   = "@str:" // + day: the day's run is done
	maxSettleScan  = 10000   // merchants one run settles
	maxReserveScan = 20000   // history entries the reserve is computed from
	maxPayoutShow  = 2000    // movements a payout's reconciliation lists
)

// PayoutBank is the bank account a merchant is paid into.
type PayoutBank struct {
	Merchant uint64 `json:"merchant"`
	Code     string `json:"code"`
	IBAN     string `json:"iban"`
	BIC      string `json:"bic,omitempty"`
	Holder   string `json:"holder"`
	Linked   int64  `json:"linked_unix_nano"`
}

// Payout states.
const (
	PayoutIssued   = "issued"   // the money is in transit: in a file, or about to be
	PayoutPaid     = "paid"     // the bank settled it
	PayoutRejected = "rejected" // the bank refused it: the money is back with the merchant
)

// Payout is one merchant's payout of one day.
type Payout struct {
	ID       string `json:"id"` // also the transfer's EndToEndId
	Merchant uint64 `json:"merchant"`
	Code     string `json:"code"`
	Day      string `json:"day"` // YYYYMMDD, in the engine's location
	Amount   uint64 `json:"amount"`
	Currency string `json:"currency"`
	IBAN     string `json:"iban"`
	BIC      string `json:"bic,omitempty"`
	Holder   string `json:"holder"`
	State    string `json:"state"`
	Reason   string `json:"reason,omitempty"` // the bank's, for a rejection
	File     string `json:"file,omitempty"`   // the message id of the pain.001 holding it
	Transfer string `json:"transfer"`
	// Cut is the journal position of the merchant's newest entry the payout was computed
	// from (no entry came between it and the payout); Available the balance then, Reserve
	// what was kept back; Prev the merchant's previous payout.
	Cut       uint64 `json:"cut"`
	Available int64  `json:"available"`
	Reserve   uint64 `json:"reserve"`
	Prev      string `json:"prev,omitempty"`
	Created   int64  `json:"created"`
	Updated   int64  `json:"updated"`
}

func payoutBankKey(m uint64) string          { return keyPayoutBank + hex16(m) }
func payoutOfKey(m uint64, id string) string { return keyPayoutOf + hex16(m) + ":" + id }

// settlementReady says why settlement cannot run, if it cannot: SEPA is in euros, and the
// files need the operator's account.
func (e *Engine) settlementReady() error {
	if e.cfg.Currency != "EUR" {
		return fmt.Errorf("%w; this ledger is in %s", domain.ErrNotEUR, e.cfg.Currency)
	}
	d := e.cfg.Settlement.Debtor
	if d.Name == "" || d.IBAN == "" {
		return errors.New("settlement: settlement.debtor_name and settlement.debtor_iban (the operator's account) are not set")
	}
	if _, err := domain.ParseIBAN(d.IBAN); err != nil {
		return fmt.Errorf("settlement.debtor_iban: %w", err)
	}
	if _, err := domain.ParseBIC(d.BIC); d.BIC != "" && err != nil {
		return fmt.Errorf("settlement.debtor_bic: %w", err)
	}
	if e.cfg.Settlement.Files == nil {
		return errors.New("settlement: no file writer (the daemon wires the settlement room)")
	}
	if e.cfg.Settlement.Dir == "" {
		return errors.New("settlement: settlement.dir (where files go) is not set")
	}
	return nil
}

// LinkPayoutBank links (or changes) the bank account a merchant is paid into; iban "" unlinks.
func (e *Engine) LinkPayoutBank(ctx context.Context, actor string, merchant uint64, iban, bic, holder string) (PayoutBank, error) {
	m, err := e.l.Account(merchant)
	if err != nil || m.Kind != domain.KindMerchant {
		return PayoutBank{}, fmt.Errorf("no merchant account %d", merchant)
	}
	_, ver, err := e.payoutBank(merchant)
	if err != nil {
		return PayoutBank{}, err
	}
	if iban == "" {
		_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{{Owner: payoutBankKey(merchant), Version: ver, Delete: true}},
			Audit: &domain.Audit{Actor: actor, Action: "merchant iban", Detail: m.Owner + " unlinked"}})
		return PayoutBank{}, err
	}
	b := PayoutBank{Merchant: merchant, Code: m.Owner, Linked: e.cfg.Now().UnixNano()}
	if b.IBAN, err = domain.ParseIBAN(iban); err != nil {
		return PayoutBank{}, domain.PaymentErr(domain.CodeInvalidRequest, err.Error())
	}
	if strings.TrimSpace(bic) != "" {
		if b.BIC, err = domain.ParseBIC(bic); err != nil {
			return PayoutBank{}, domain.PaymentErr(domain.CodeInvalidRequest, err.Error())
		}
	}
	if b.Holder = domain.SEPAText(cmp.Or(holder, m.Name, m.Owner), 70); b.Holder == "" {
		b.Holder = m.Owner // a name of Chinese characters only: the code stands for it
	}
	_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{write(payoutBankKey(merchant), b, ver)},
		Audit: &domain.Audit{Actor: actor, Action: "merchant iban", Detail: m.Owner + " " + domain.MaskIBAN(b.IBAN)}})
	return b, err
}

// PayoutBankOf reads a merchant's linked bank account (found false: none).
func (e *Engine) PayoutBankOf(merchant uint64) (PayoutBank, bool, error) {
	b, ver, err := e.payoutBank(merchant)
	return b, ver != 0, err
}

func (e *Engine) payoutBank(merchant uint64) (PayoutBank, uint64, error) {
	var b PayoutBank
	ver, _, err := e.record(payoutBankKey(merchant), &b)
	return b, ver, err
}

// PayoutByID reads a payout.
func (e *Engine) PayoutByID(id string) (Payout, uint64, error) {
	var p Payout
	ver, found, err := e.record(keyPayout+id, &p)
	if err == nil && !found {
		err = domain.PaymentErr(domain.CodeNotFound, "no payout "+id)
	}
	return p, ver, err
}

// PayoutsOf lists a merchant's payouts, newest first, at most limit.
func (e *Engine) PayoutsOf(merchant uint64, limit int) ([]Payout, error) {
	ids, err := e.payoutIDs(merchant)
	if err != nil {
		return nil, err
	}
	var out []Payout
	for i := len(ids) - 1; i >= 0 && len(out) < limit; i-- {
		p, _, err := e.PayoutByID(ids[i])
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// payoutIDs are a merchant's payouts, oldest first (ids begin with their day).
func (e *Engine) payoutIDs(merchant uint64) ([]string, error) {
	prefix := payoutOfKey(merchant, "")
	var ids []string
	_, err := e.scan(prefix, "", maxSettleScan, func(r domain.Profile) (bool, error) {
		ids = append(ids, strings.TrimPrefix(r.Owner, prefix))
		return true, nil
	})
	return ids, err
}

// settlementAccount is the system account payouts wait in, opened the first time.
func (e *Engine) settlementAccount(ctx context.Context) (uint64, error) {
	if a, err := e.l.System(domain.KindSettlement, e.cfg.Currency); err == nil {
		return a.ID, nil
	}
	_, err := e.l.Submit(ctx, domain.Job{Open: []domain.AccountSpec{{Currency: e.cfg.Currency, Kind: domain.KindSettlement, Owner: "@settlement", Name: "Settlement (in transit)"}},
		Audit: &domain.Audit{Actor: "system", Action: "open settlement", Detail: e.cfg.Currency}})
	if err != nil && !errors.Is(err, domain.ErrAccountExists) {
		return 0, err
	}
	a, err := e.l.System(domain.KindSettlement, e.cfg.Currency)
	return a.ID, err
}

// settleTransferID is the id of a payout's transfer of a kind ('i' issued, 'p' paid, 'r'
// returned): derived from the payout, so a step taken again is the same transfer.
func settleTransferID(payout string, kind byte) domain.ID {
	h := sha256.Sum256([]byte("mpg-settle:" + string(kind) + ":" + payout))
	var id domain.ID
	copy(id[:], h[:16])
	return id
}

// amount writes minor units for operators: "12.50 EUR".
func (e *Engine) amount(v uint64) string { return e.money(v).Format('.') }
