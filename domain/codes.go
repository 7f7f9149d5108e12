package domain

// Transfer codes the engine writes.
const (
	CodeTopup    uint16 = 1
	CodePay      uint16 = 2
	CodeBill     uint16 = 3
	CodeSend     uint16 = 4
	CodeFee      uint16 = 5
	CodeHold     uint16 = 6 // SEND to a number with no purse: pending to escrow until claimed
	CodeClaim    uint16 = 7 // escrow to the new purse when the payee registers
	CodeReversal uint16 = 8 // an operator's compensating transfer
	CodePayout   uint16 = 9 // the balance paid out when a purse is closed
)

// CodeRefund is a merchant's refund of a payment (merchant to purse): a new transfer that
// never exceeds what is left of the payment.
const CodeRefund uint16 = 10

// CodeCompanyPay is an employee's payment on his company's account (Internet+ Pro).
const CodeCompanyPay uint16 = 11

// CodeDebit is an mDebit the bank approved: bank clearing to the merchant.
const CodeDebit uint16 = 12

// CodeCreditAuth is an mCredit authorisation: a pending transfer from the credit line to
// the merchant, posted by a capture, voided by a void or by its timeout.
const CodeCreditAuth uint16 = 13

// CodeRepay is a repayment of a credit line from the purse.
const CodeRepay uint16 = 14

// CodeReturnHold is the hold a REV places on the payee's purse (pending to escrow) until he
// answers: voided by his answer or the deadline, never posted.
const CodeReturnHold uint16 = 15

// Loyalty points (currency PointsAsset) move with these codes.
const (
	CodePointsAward    uint16 = 16 // earned by a payment: the points float to the member
	CodePointsRedeem   uint16 = 17 // spent on a payment: the member back to the points float
	CodePointsExpire   uint16 = 18 // what is left of an expired lot: the member to the expired account
	CodePointsTakeBack uint16 = 19 // a refund takes back what its payment earned
	CodePointsRestore  uint16 = 20 // a refund gives back what its payment spent
)

// CodeDiscount is a promotion's discount: its budget to the merchant, beside what the buyer
// paid; CodeBudget funds a budget, or gives back what is left when the promotion ends.
const (
	CodeDiscount uint16 = 21
	CodeBudget   uint16 = 22
)

// CodeToBank moves a SEND's amount on from its payee's purse to bank clearing, when he chose
// to receive money on his bank account (RECEIVE BANK), and back to his purse when his bank
// did not take it.
const CodeToBank uint16 = 30

// A merchant's settlement (numbers fixed apart from the others): CodeSettle issues a payout
// (merchant to the settlement account), CodeSettlePaid clears it when the bank confirms it
// (settlement to bank clearing), CodeSettleReturn gives it back when the bank rejects it
// (settlement to the merchant).
const (
	CodeSettle       uint16 = 40
	CodeSettlePaid   uint16 = 41
	CodeSettleReturn uint16 = 42
)
