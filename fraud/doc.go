// Package fraud is mpg's fraud and anomaly rule engine: before a payment (on SMS, the
// web checkout, the bank link, a credit line or the operator's console) goes through, the
// engine asks Decide whether to allow it, put it before an operator (review), keep the
// money aside until an operator looks (hold), or refuse it (decline).
//
// # The model: value, bands, score, thresholds
//
// Each rule computes one number, its value, from the payment and from the recent history
// of the payer, the payee and the service as a whole: "payments by this payer in the last
// hour", "this amount is 8 times what he usually pays". Bands turn the value into a score:
// a value at or above a band's Min scores that band's Score, the highest band reached
// winning. The scores of all rules add up, and the total against three thresholds gives
// the action: at or above Review it is reviewed, at or above Hold held, at or above
// Decline declined. In Default, one weak signal (25) reviews, a strong one (60) holds, and
// a very strong one (100), or several together, declines.
//
// A decision keeps every rule's value and score (Values) and the rules that scored (Hits);
// Explain writes the hits for an operator: "payer_count_hour=14 (+60), new_payee_large=8.2x
// (+25): decline". Decide is pure: it reads the clock from Input.Now, never from the
// machine, and changes nothing. So a stored Input, with the rule set it was decided under
// (Config.Version, and each rule's Version, both in the decision), is enough to explain
// a decision later and to replay it, under the same rules or under new ones.
//
// # Histories and their windows
//
// An Activity is one subject's recent history: a subscriber as payer, a merchant, biller
// or subscriber as payee, or the service as a whole. The engine keeps it in a ledger
// record and a journal follower folds each event in with Observe. Its JSON never passes
// MaxActivityJSON (3500) bytes, whatever it observed, because everything in it is bounded:
//
//   - the last hour in twelve five-minute buckets (payments, payments at night);
//   - the last day in 24 one-hour buckets (payments and their amounts);
//   - the last week in seven one-day buckets (amounts paid and refunded);
//   - the 32 most recently seen counterparties with the minute each was last seen, and
//     whether that last payment came through the web checkout;
//   - the 16 most recent numbers that typed a wrong PIN or code, with the minute;
//   - the 8 latest payments with their amounts;
//   - the usual amount (a moving average, each payment moving it a quarter of the way),
//     the times of the last payment and of the last PIN reset or tier change.
//
// A window's edge is as fine as its bucket: "the last hour" is the current five-minute
// bucket and the eleven before it. Counting distinct counterparties saturates at 32 (or 16
// for wrong codes): when a 33rd comes, the one seen longest ago is forgotten, so "known
// payee" means "among the last 32 paid". Amounts in a bucket stop at 10 billion euros and
// counts at 65535. An event older than a window is left out of it; an event far in the
// future empties the windows it moves past (the record goes on from there).
//
// The decision counts the payment being decided as if it had been observed: the tenth
// payment in an hour is decided with a count of ten.
//
// # The rules
//
// Amounts are in minor units (euro cents in Default). For a refund (Input.Refund) only
// merchant_refund_ratio looks; the others look at payments only, and a rule given
// Products looks only at those products.
//
//   - payer_count_hour: payments by the payer in the last hour. Bands 6, 12, 25.
//   - payer_amount_day: what the payer paid in the last 24 hours. Bands 1000, 3000,
//     10000 EUR.
//   - payer_count_day: payments by the payer in the last 24 hours. Bands 20, 40, 80.
//   - payee_fan_in: distinct payers who paid this payee in the last hour, sends only: a
//     purse collecting from many people is a money mule. Bands 5, 10, 20.
//   - payer_fan_out: distinct payees of this payer in the last hour: a purse spreading
//     money to many. Bands 6, 12, 24.
//   - new_payee_large: a payee the payer never paid (among his last 32), and the amount
//     is many times his usual (or, with fewer than min_history payments, than floor,
//     100 EUR); amounts under min_amount (20 EUR) are not scored. Bands 5x, 10x, 20x
//     (at most a hold on its own).
//   - dormant_then_pay: whole days since the payer's previous payment, scored only for an
//     amount of at least min_amount (200 EUR): a sleeping account suddenly spending.
//     Bands 30, 90 days.
//   - send_after_reset: a send within `hours` (24) of a PIN reset or tier change, scored
//     by its amount: a stolen phone or a taken-over account being emptied. Bands 50, 200,
//     500 EUR.
//   - wrong_codes_across: distinct numbers that typed a wrong PIN or code in the last ten
//     minutes, on this payee (someone trying stolen numbers at one merchant) or across
//     the service times service_weight (0.5; credential stuffing), whichever is more.
//     Bands 5, 10, 16.
//   - just_under_limit: an amount within `within` (10%) below the payer's per-payment
//     limit, counted with such payments of his in the last 24 hours (among his last 8):
//     splitting a large sum to stay under the limit. Bands 2, 3, 5.
//   - checkout_burst: distinct payers who paid this payee through the web checkout in the
//     last ten minutes (card testing, a leaked checkout link). Bands 5, 10, 20.
//   - merchant_refund_ratio: what the payee merchant refunded over what he was paid in
//     the last seven days, once the two together reach min_paid (500 EUR): a merchant
//     paying out more than he takes in. Bands 30%, 60%, 100%.
//   - night_burst: the payer's payments in his local night (00:00 to 05:00) in the last
//     hour. Bands 3, 6, 10.
//
// In Default the first band of each rule scores 25 (review), the second 60 (hold) and the
// third 100 (decline), except new_payee_large (25, 40, 60) and dormant_then_pay (25, 60).
package fraud
