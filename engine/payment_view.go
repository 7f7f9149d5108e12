package engine

import (
	"mpg/domain"
)

// PaymentView is a payment as merchants see it, in the API and in webhooks: amounts as
// decimal strings in the currency's digits, times in RFC 3339, no code or MAC. A buyer's
// number on a web checkout is masked: the merchant never needed it.
type PaymentView struct {
	ID          string       `json:"id"`
	State       string       `json:"state"`
	Reason      string       `json:"reason,omitempty"`
	Product     string       `json:"product"`
	Channel     string       `json:"channel"`
	Requested   bool         `json:"requested,omitempty"`
	Merchant    string       `json:"merchant"`
	MSISDN      string       `json:"msisdn,omitempty"`
	Amount      string       `json:"amount"`
	Currency    string       `json:"currency"`
	Reference   string       `json:"reference"`
	Description string       `json:"description,omitempty"`
	Refunded    string       `json:"refunded"`
	Refunds     []RefundView `json:"refunds,omitempty"`
	Receipt     string       `json:"receipt,omitempty"`
	CheckoutURL string       `json:"checkout_url,omitempty"`
	ReturnURL   string       `json:"return_url,omitempty"`
	Created     string       `json:"created"`
	Updated     string       `json:"updated"`
	Expires     string       `json:"expires"`
	Company     string       `json:"company,omitempty"` // the company that paid (Internet+ Pro)
	Dispute     string       `json:"dispute,omitempty"` // the case open on the payment: nothing else is given back meanwhile
	// Discount is a promotion's part of the price, paid to the merchant from its budget
	// beside Amount, which is what the buyer paid.
	Discount *DiscountView `json:"discount,omitempty"`
	// Points are the loyalty points the buyer spent (paying Worth of the price) and earned.
	Points *PointsView `json:"points,omitempty"`
}

// DiscountView is a promotion's part of a payment.
type DiscountView struct {
	Promotion string `json:"promotion"`
	Amount    string `json:"amount"`
	Price     string `json:"price"`
}

// PointsView is a payment's loyalty points as the merchant sees them.
type PointsView struct {
	Spent  uint64 `json:"spent,omitempty"`
	Worth  string `json:"worth,omitempty"`
	Earned uint64 `json:"earned,omitempty"`
}

// RefundView is one refund as merchants see it.
type RefundView struct {
	ID     string `json:"id"`
	Amount string `json:"amount"`
	At     string `json:"at"`
	Kind   string `json:"kind"`
	// State is where the credit of a refunded mDebit is: sent_to_bank, credited, to_purse.
	State string `json:"state,omitempty"`
}

// View renders a payment for merchants.
func (e *Engine) View(p domain.Payment) PaymentView {
	f := func(v uint64) string { return domain.FormatMinor(v, e.cfg.Exponent) }
	v := PaymentView{ID: p.ID, State: string(p.State), Reason: p.Reason, Product: p.ProductOf(), Channel: p.Channel, Requested: p.Requested,
		Merchant: p.MerchantName, MSISDN: maskedFor(p), Amount: f(p.Amount), Currency: p.Currency, Reference: p.Reference, Description: p.Description,
		Refunded: f(p.Refunded), ReturnURL: p.ReturnURL, Dispute: p.Dispute,
		Created: domain.FormatTime(p.Created), Updated: domain.FormatTime(p.Updated), Expires: domain.FormatTime(p.Expires)}
	if p.Channel == domain.ChannelWeb {
		if e.cfg.CheckoutURL != "" {
			v.CheckoutURL = e.cfg.CheckoutURL + "/checkout/" + p.ID
		}
	}
	if id, err := domain.ParseID(p.Transfer); err == nil && e.l != nil {
		if tr, err := e.l.Transfer(id); err == nil {
			v.Receipt = e.receipt(tr)
		}
	}
	if p.Payer != 0 && e.l != nil {
		if c, err := e.l.Account(p.Payer); err == nil {
			v.Company = c.Owner
		}
	}
	if d := p.Discount; d != nil {
		v.Discount = &DiscountView{Promotion: d.Promotion, Amount: f(d.Amount), Price: f(d.Price)}
	}
	if pts := p.Points; pts != nil && pts.Spent+pts.Earned > 0 {
		v.Points = &PointsView{Spent: pts.Spent, Earned: pts.Earned}
		if pts.Worth > 0 {
			v.Points.Worth = f(pts.Worth)
		}
	}
	for _, r := range p.Refunds {
		kind := r.Kind
		if kind == "" {
			kind = domain.RefundByMerchant
		}
		v.Refunds = append(v.Refunds, RefundView{ID: r.ID, Amount: f(r.Amount), At: domain.FormatTime(r.At), Kind: kind, State: string(r.State)})
	}
	return v
}

// maskedFor is the payer's number as merchants see it, in the API, webhooks, exports and the
// CLI alike: whole only where the merchant gave it (a request to pay that number), masked as
// in the merchant's SMS everywhere else (a texted payment, a checkout, a DEBIT or CREDIT).
func maskedFor(p domain.Payment) string {
	if p.MSISDN == "" || p.Requested {
		return p.MSISDN
	}
	return domain.Mask(p.MSISDN)
}
