// Package stats is what mpg counts about payments: the roll-ups merchants and operators
// read (how many payments, how much, how many refused and why), the members' records
// behind daily and monthly active payers, RFM scores and segments, and the spend summary a
// subscriber asks for by SMS.
//
// It is pure: no ledger, no engine, no clock. Every payment step journals a domain.Fact; a
// follower in the engine reads the journal and gives the facts to this package, which says
// what to write. So the figures can always be rebuilt from the journal and agree with it.
//
// # Roll-up cells
//
// A Cell counts the facts of one Key: one hour (UTC), one product, one channel and one
// merchant. The merchant is the payee for products that pay a merchant or a biller (pay,
// bill, debit, credit) and 0 for send, topup and repay, whose payee is a person's purse
// or a credit line: otherwise one person sending to a thousand friends would make a
// thousand cells, and the roll-ups would name people. Refusals are counted by reason, the
// known reasons only (Reasons); any other reason counts as "other". A cell's JSON uses
// one- and two-letter names and leaves zeros out, so it stays far under MaxCellBytes.
//
// Fold adds one fact to a cell and Cell.Add adds two cells: these are the only two
// definitions. A follower's pass folds its facts into a Batch (one delta per touched key)
// and merges each delta into the stored record with Merge, one write per key. Recount
// folds a whole journal the same way from scratch; since adding is associative and
// commutative, a follower that writes a pass's records together with its place in the
// journal, and so never folds an entry twice or skips one after a crash, has the same cells
// as Recount.
//
// # Members
//
// A Member is kept per payer (his purse's account id), in his local calendar: the day of
// his first and last payment, the count and amount of each of the last 13 months, and his
// spend by merchant this month and last (the 8 largest merchants, then "others"). Observe
// says whether a payment was his first of the day, of the month, or ever, so that the
// follower counts daily and monthly active payers and new payers exactly once. Refunds
// take their amount off the month they happen in.
//
// RFM scores a member 1 to 5 on Recency (days since his last payment), Frequency and
// Monetary value (payments and amount over the twelve months ending with the as-of month)
// with the thresholds of Bands; Segment names him new, champions, loyal, at_risk, lost or
// regular. Summary is this month against last month, and the top merchants, as data: the
// engine writes the SMS.
//
// # Queries
//
// A Query asks for a period [From, To), optionally one merchant, product or channel, in
// rows by day, hour, product, channel, merchant or one total. Each Row carries the same
// label's cell in the previous period of equal length (Previous), so that Change can say
// "+12% vs previous". WriteTable writes rows for people, WriteCSV for spreadsheets, and a
// Report marshals to JSON for programs.
package stats
