package bank

// Response codes (field 39) of ISO 8583:1987, and what mpg makes of each answer. A code
// is "approved" or "declined" only when it says for sure what the bank did with the money;
// every other code, a code the standard does not list, and no answer at all are unknown:
// the bank may hold the money, so mpg asks again with a repeat of the same message, and
// after bank.tries reverses it. Never "declined" while the bank may have the money.

// Class is what an answer means for the money.
type Class uint8

const (
	Unknown  Class = iota // the bank may or may not have acted: a repeat or a reversal finds out
	Approved              // done: debited, credited, or (for a reversal) nothing stays taken
	Declined              // surely not done (for a reversal: the bank will not reverse)
)

func (c Class) String() string {
	return [...]string{"unknown", "approved", "declined"}[c]
}

// Kind is what the answer answers.
type Kind uint8

const (
	First    Kind = iota // a first request (0200)
	Repeat               // a repeat (0201): the bank answers what it did with the original
	Reversal             // a reversal or its repeat (0400, 0401)
)

// Response codes mpg's simulator answers with.
const (
	CodeApproved          = "00"
	CodeReversalDeclined  = "12" // invalid transaction: the bank will not reverse it
	CodeInvalidAccount    = "14" // no such account
	CodeNotFound          = "25" // unable to locate the original (a reversal of nothing)
	CodeInsufficientFunds = "51"
	CodeLimitExceeded     = "61"
	CodeAccountClosed     = "62" // restricted: the account is closed or blocked
	CodeDuplicate         = "94" // duplicate transmission: a second 0200 of one RRN
	CodeSystemError       = "96" // system malfunction
)

// code is one response code of the standard: its meaning and its class when it answers a
// first request. A formal code (the message was refused as such: format, function not
// supported…) is a sure decline of a first request, but unknown when it answers a repeat:
// a bank that does not take repeats may still hold the money of the original.
type code struct {
	meaning string
	class   Class
	formal  bool
}

var codes = map[string]code{
	"00": {"approved", Approved, false},
	"01": {"refer to card issuer", Declined, false},
	"02": {"refer to card issuer, special condition", Declined, false},
	"03": {"invalid merchant", Declined, false},
	"04": {"pick up", Declined, false},
	"05": {"do not honour", Declined, false},
	"06": {"error", Unknown, false},
	"07": {"pick up, special condition", Declined, false},
	"08": {"honour with identification", Approved, false},
	"09": {"request in progress", Unknown, false},
	"10": {"approved for partial amount (mpg asks whole amounts only)", Unknown, false},
	"11": {"approved (VIP)", Approved, false},
	"12": {"invalid transaction", Declined, true},
	"13": {"invalid amount", Declined, true},
	"14": {"invalid card number (no such account)", Declined, false},
	"15": {"no such issuer", Declined, false},
	"19": {"re-enter transaction", Unknown, false},
	"20": {"invalid response", Unknown, false},
	"21": {"no action taken", Unknown, false},
	"22": {"suspected malfunction", Unknown, false},
	"25": {"unable to locate record on file", Unknown, false},
	"30": {"format error", Declined, true},
	"31": {"bank not supported by switch", Declined, true},
	"33": {"expired card", Declined, false},
	"34": {"suspected fraud", Declined, false},
	"35": {"card acceptor contact acquirer", Declined, false},
	"36": {"restricted card", Declined, false},
	"37": {"card acceptor call acquirer security", Declined, false},
	"38": {"allowable PIN tries exceeded", Declined, false},
	"39": {"no credit account", Declined, false},
	"40": {"requested function not supported", Declined, true},
	"41": {"lost card", Declined, false},
	"42": {"no universal account", Declined, false},
	"43": {"stolen card", Declined, false},
	"44": {"no investment account", Declined, false},
	"51": {"not sufficient funds", Declined, false},
	"52": {"no chequing account", Declined, false},
	"53": {"no savings account", Declined, false},
	"54": {"expired card", Declined, false},
	"55": {"incorrect PIN", Declined, false},
	"56": {"no card record", Declined, false},
	"57": {"transaction not permitted to cardholder", Declined, false},
	"58": {"transaction not permitted to terminal", Declined, true},
	"59": {"suspected fraud", Declined, false},
	"60": {"card acceptor contact acquirer", Declined, false},
	"61": {"exceeds withdrawal amount limit", Declined, false},
	"62": {"restricted card (account closed or blocked)", Declined, false},
	"63": {"security violation", Declined, true},
	"64": {"original amount incorrect", Declined, true},
	"65": {"exceeds withdrawal frequency limit", Declined, false},
	"66": {"card acceptor call acquirer's security department", Declined, false},
	"67": {"hard capture", Declined, false},
	"68": {"response received too late", Unknown, false},
	"75": {"allowable number of PIN tries exceeded", Declined, false},
	"90": {"cutoff is in process", Unknown, false},
	"91": {"issuer or switch is inoperative", Unknown, false},
	"92": {"institution or network facility cannot be found for routing", Unknown, false},
	"93": {"transaction cannot be completed, violation of law", Declined, false},
	"94": {"duplicate transmission", Unknown, false},
	"95": {"reconcile error", Unknown, false},
	"96": {"system malfunction", Unknown, false},
}

// Classify sorts a response code by what it answers.
func Classify(rc string, k Kind) Class {
	c, listed := codes[rc]
	switch {
	case !listed:
		return Unknown
	case k == Reversal:
		// Reversed ("00"), or nothing to reverse ("25", which field 90 naming the request
		// actually sent makes trustworthy): no money stays taken either way. A refusal means
		// the original stands; mpg then asks what it was with a repeat.
		switch {
		case rc == "00" || rc == CodeNotFound:
			return Approved
		case c.class == Declined:
			return Declined
		}
		return Unknown
	case k == Repeat && c.formal:
		return Unknown
	}
	return c.class
}

// Meaning is what the standard says a code means ("" if it does not list it).
func Meaning(rc string) string { return codes[rc].meaning }
