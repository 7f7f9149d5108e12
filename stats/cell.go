package stats

import (
	"slices"
	"time"

	"mpg/domain"
)

// MaxCellBytes bounds a cell's JSON record in the ledger.
const MaxCellBytes = 4096

// Reasons are the refusal reasons a cell counts one by one; any other reason a fact gives
// is counted as domain.ReasonOther, so a cell's Refused map never holds more entries.
var Reasons = []string{
	domain.ReasonFunds, domain.ReasonPIN, domain.ReasonLimit, domain.ReasonBlocked,
	domain.ReasonFraud, domain.ReasonBank, domain.ReasonExpired, domain.ReasonDeclined,
	domain.ReasonOther,
}

// merchantProducts are the products whose payee is a merchant or a biller. The other
// products (send, topup, repay) pay a person's purse or a credit line: their cells have
// Merchant 0, so that money between people makes one cell per hour, not one per person.
var merchantProducts = []string{
	domain.ProductPay, domain.ProductBill, domain.ProductDebit, domain.ProductCredit,
}

// Key names one cell: one hour, one product, one channel, one merchant (0: none).
type Key struct {
	Hour     int64  `json:"h"` // unix seconds of the hour's start, UTC
	Product  string `json:"p,omitempty"`
	Channel  string `json:"c,omitempty"`
	Merchant uint64 `json:"m,omitempty"`
}

// Cell is what the payments of one key added up to. Counts are int64, money is in minor
// units, points are net (a refund takes back what its payment earned and gives back what
// it spent, so they may go below zero in the hour of a refund).
type Cell struct {
	Paid      int64            `json:"p,omitempty"`  // payments completed
	Amount    uint64           `json:"a,omitempty"`  // what they paid
	Fees      uint64           `json:"f,omitempty"`  // the fees they were charged
	Refunds   int64            `json:"r,omitempty"`  // refunds, reversals, returns
	Refunded  uint64           `json:"ra,omitempty"` // what they gave back
	Refused   map[string]int64 `json:"x,omitempty"`  // payments refused, by reason
	Held      int64            `json:"h,omitempty"`  // payments held for a fraud review
	WrongPINs int64            `json:"w,omitempty"`  // wrong PINs and codes typed
	Earned    int64            `json:"e,omitempty"`  // points earned, net of those taken back
	Spent     int64            `json:"s,omitempty"`  // points spent, net of those given back
	PromoUses int64            `json:"u,omitempty"`  // payments with a promotion's discount
	Discount  uint64           `json:"d,omitempty"`  // what promotions' budgets paid
	// The SMS mpg sent (replies, notices, marketing): taken by the SMSC, delivered to the
	// phone, undeliverable, or failed for good (refused by the SMSC or retries ran out).
	SMSSent          int64 `json:"ms,omitempty"`
	SMSDelivered     int64 `json:"md,omitempty"`
	SMSUndeliverable int64 `json:"mu,omitempty"`
	SMSFailed        int64 `json:"mf,omitempty"`
}

// MerchantOf is the merchant a fact counts for: its payee when the product pays a merchant
// or a biller, otherwise 0.
func MerchantOf(f domain.Fact) uint64 {
	if slices.Contains(merchantProducts, f.Product) {
		return f.Payee
	}
	return 0
}

// KeyOf is the cell a fact at t (unix nanoseconds, as the journal keeps time) counts in.
func KeyOf(f domain.Fact, t int64) Key {
	return Key{Hour: HourOf(t), Product: f.Product, Channel: f.Channel, Merchant: MerchantOf(f)}
}

// HourOf is the start of t's hour (t in unix nanoseconds) in unix seconds.
func HourOf(t int64) int64 {
	h := t / int64(time.Hour)
	if t%int64(time.Hour) < 0 {
		h-- // before 1970: round down, not towards zero
	}
	return h * 3600
}

// Reason is the reason a refusal is counted under: r itself when known, else "other".
func Reason(r string) string {
	if slices.Contains(Reasons, r) {
		return r
	}
	return domain.ReasonOther
}

// Counts says whether a cell counts facts of this kind at all (a PIN reset, or a kind this
// version does not know, touches no cell).
func Counts(f domain.Fact) bool {
	switch f.Kind {
	case domain.FactPaid, domain.FactRefused, domain.FactRefund, domain.FactHeld, domain.FactWrongPIN:
		return true
	case domain.FactReply:
		return slices.Contains(replyStates, f.Reason)
	}
	return false
}

// Fold adds one fact to a cell. A PIN reset is an operator's act, not a payment's: it is
// not counted. A refund's fee is not counted either (Fees are what payments were charged).
func Fold(c *Cell, f domain.Fact) {
	switch f.Kind {
	case domain.FactPaid:
		foldPaid(c, f)
	case domain.FactRefused:
		c.addRefused(Reason(f.Reason), 1)
	case domain.FactRefund:
		c.Refunds++
		c.Refunded += f.Amount
		c.Earned -= int64(f.Earned)
		c.Spent -= int64(f.Spent)
	case domain.FactHeld:
		c.Held++
	case domain.FactWrongPIN:
		c.WrongPINs++
	case domain.FactReply:
		foldReply(c, f.Reason)
	}
}

// replyStates are the states of an SMS a reply fact counts; a fact of another is skipped.
var replyStates = []string{domain.ReplySent, domain.ReplyDelivered, domain.ReplyUndeliverable, domain.ReplyFailed}

func foldReply(c *Cell, reason string) {
	switch reason {
	case domain.ReplySent:
		c.SMSSent++
	case domain.ReplyDelivered:
		c.SMSDelivered++
	case domain.ReplyUndeliverable:
		c.SMSUndeliverable++
	case domain.ReplyFailed:
		c.SMSFailed++
	}
}

func foldPaid(c *Cell, f domain.Fact) {
	c.Paid++
	c.Amount += f.Amount
	c.Fees += f.Fee
	c.Earned += int64(f.Earned)
	c.Spent += int64(f.Spent)
	if f.Promo != "" || f.Discount > 0 {
		c.PromoUses++
		c.Discount += f.Discount
	}
}

func (c *Cell) addRefused(reason string, n int64) {
	if n == 0 {
		return
	}
	if c.Refused == nil {
		c.Refused = make(map[string]int64, 2)
	}
	c.Refused[reason] += n
}

// Add adds another cell's counts to c: the one way cells are summed, by batches, merges
// and queries alike.
func (c *Cell) Add(o Cell) {
	c.Paid += o.Paid
	c.Amount += o.Amount
	c.Fees += o.Fees
	c.Refunds += o.Refunds
	c.Refunded += o.Refunded
	for r, n := range o.Refused {
		c.addRefused(Reason(r), n)
	}
	c.Held += o.Held
	c.WrongPINs += o.WrongPINs
	c.Earned += o.Earned
	c.Spent += o.Spent
	c.PromoUses += o.PromoUses
	c.Discount += o.Discount
	c.SMSSent += o.SMSSent
	c.SMSDelivered += o.SMSDelivered
	c.SMSUndeliverable += o.SMSUndeliverable
	c.SMSFailed += o.SMSFailed
}

// RefusedCount is how many payments were refused, whatever the reason.
func (c Cell) RefusedCount() int64 {
	var n int64
	for _, v := range c.Refused {
		n += v
	}
	return n
}

// SuccessRate is the share of payments that went through, Paid / (Paid + refused), in
// percent; ok is false when there was no payment at all.
func (c Cell) SuccessRate() (pct float64, ok bool) {
	tried := c.Paid + c.RefusedCount()
	if tried == 0 {
		return 0, false
	}
	return 100 * float64(c.Paid) / float64(tried), true
}

// Zero reports whether the cell counts nothing.
func (c Cell) Zero() bool {
	return c.Paid == 0 && c.Amount == 0 && c.Fees == 0 && c.Refunds == 0 && c.Refunded == 0 &&
		c.RefusedCount() == 0 && c.Held == 0 && c.WrongPINs == 0 && c.Earned == 0 &&
		c.Spent == 0 && c.PromoUses == 0 && c.Discount == 0 &&
		c.SMSSent == 0 && c.SMSDelivered == 0 && c.SMSUndeliverable == 0 && c.SMSFailed == 0
}
