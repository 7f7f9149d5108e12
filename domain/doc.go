// Package domain is the one home of mpg's domain facts, shared by every room: the books'
// types (accounts and their kinds, transfers and their codes, jobs, outbound messages,
// refusal reasons), currencies and amount rules, money formatting, and what a subscriber's
// phone number is (E.164, read from SMPP addresses). It depends on no storage: the engine
// and the HTTP side speak to the books in these types, and the bbolt ledger is one
// implementation of them.
package domain
