// Package commands turns the text of an SMS into a typed command, and typed outcomes into
// reply texts. It is pure: no I/O, no clock, no ledger. A command is never half understood:
// anything that does not parse completely is a ParseError with a precise reason.
package commands

import (
	"fmt"
	"mpg/domain"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Lang is a reply language.
type Lang uint8

const (
	EN Lang = iota
	FR
	ZH
)

func (l Lang) String() string { return [...]string{"EN", "FR", "ZH"}[l] }

// Kind is what a command asks for.
type Kind uint8

const (
	Help Kind = iota + 1
	Reg
	Bal
	Mini
	Pay
	Bill
	Send
	Debit
	Credit    // pay on the credit line
	Statement // CREDIT <pin>: the credit line's statement
	Repay
	Yes
	No
	PIN
	Language
	Block
	Check
	Promo
	Capture  // a merchant's phone: CAPTURE <ref> [amount] takes an mCredit authorisation
	Void     // a merchant's phone: VOID <ref> releases it
	Data     // DATA <pin>: my personal data, a summary and a one-time export link
	Rev      // REV <receipt or ref> <pin>: ask back a SEND sent by mistake
	Dispute  // DISPUTE <receipt or ref> <reason...>: open a case on a payment
	Ok       // OK <code>: the payee gives back what a REV asked (YES to anything else)
	Erase    // ERASE <pin>: close the e-purse and have the data erased, confirmed by YES <code>
	Points   // POINTS <pin>: loyalty points, and what expires next
	Offers   // OFFERS: the promotions on offer for the sender
	Join     // JOIN <code>: join a promotion
	Leave    // LEAVE <code>: leave it
	Stats    // STATS <pin>: this month's spend against last month's, and where it went
	Receive  // RECEIVE BANK|PURSE: where money sent to me lands
	Settings // SETTINGS <pin>: my preferences
	// Every: EVERY <day> BILL|SEND ... <pin>, a standing order; Orders lists them (ORDERS
	// <pin>), StopOrder ends one (STOPORDER <n> <pin>).
	Every
	Orders
	StopOrder
	// ConfirmBy: CONFIRM VOICE|SMS <pin>: how payments waiting for a YES are confirmed,
	// by a phone call keyed with the PIN (On) or by a code texted (the default).
	ConfirmBy
)

var kindNames = [...]string{"", "HELP", "REG", "BAL", "MINI", "PAY", "BILL", "SEND", "DEBIT", "CREDIT", "CREDIT", "REPAY", "YES", "NO", "PIN", "LANG", "BLOCK", "CHECK", "PROMO", "CAPTURE", "VOID", "DATA", "REV", "DISPUTE", "OK", "ERASE", "POINTS", "OFFERS", "JOIN", "LEAVE", "STATS", "RECEIVE", "SETTINGS", "EVERY", "ORDERS", "STOPORDER", "CONFIRM"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// keywords maps every accepted keyword (upper case, accents kept and dropped) to its kind
// and language, from SPEC.md's table.
var keywords = map[string]struct {
	kind Kind
	lang Lang
}{
	"HELP": {Help, EN}, "AIDE": {Help, FR}, "帮助": {Help, ZH},
	"REG": {Reg, EN}, "INSCRIRE": {Reg, FR}, "注册": {Reg, ZH},
	"BAL": {Bal, EN}, "SOLDE": {Bal, FR}, "余额": {Bal, ZH},
	"MINI": {Mini, EN}, "RELEVE": {Mini, FR}, "RELEVÉ": {Mini, FR}, "明细": {Mini, ZH},
	"PAY": {Pay, EN}, "PAYER": {Pay, FR}, "付款": {Pay, ZH},
	"BILL": {Bill, EN}, "FACTURE": {Bill, FR}, "缴费": {Bill, ZH},
	"SEND": {Send, EN}, "ENVOYER": {Send, FR}, "转账": {Send, ZH},
	"DEBIT": {Debit, EN}, "DÉBIT": {Debit, FR}, "借记": {Debit, ZH},
	"CREDIT": {Credit, EN}, "CRÉDIT": {Credit, FR}, "信用": {Credit, ZH},
	"REPAY": {Repay, EN}, "REMBOURSER": {Repay, FR}, "还款": {Repay, ZH},
	"YES": {Yes, EN}, "OUI": {Yes, FR}, "是": {Yes, ZH},
	"NO": {No, EN}, "NON": {No, FR}, "否": {No, ZH},
	"PIN": {PIN, EN}, "密码": {PIN, ZH},
	"LANG": {Language, EN}, "LANGUE": {Language, FR}, "语言": {Language, ZH},
	"BLOCK": {Block, EN}, "BLOQUER": {Block, FR}, "冻结": {Block, ZH},
	"CHECK": {Check, EN}, "VERIFIER": {Check, FR}, "VÉRIFIER": {Check, FR}, "验证": {Check, ZH},
	"PROMO": {Promo, EN}, "促销": {Promo, ZH},
	"CAPTURE": {Capture, EN}, "ENCAISSER": {Capture, FR}, "请款": {Capture, ZH},
	"VOID": {Void, EN}, "ANNULER": {Void, FR}, "撤销": {Void, ZH},
	"DATA": {Data, EN}, "DONNEES": {Data, FR}, "DONNÉES": {Data, FR}, "数据": {Data, ZH},
	"REV": {Rev, EN}, "RETOUR": {Rev, FR}, "撤回": {Rev, ZH},
	"DISPUTE": {Dispute, EN}, "LITIGE": {Dispute, FR}, "争议": {Dispute, ZH},
	"OK": {Ok, EN}, "同意": {Ok, ZH},
	"ERASE": {Erase, EN}, "EFFACER": {Erase, FR}, "注销": {Erase, ZH},
	"POINTS": {Points, EN}, "积分": {Points, ZH},
	"OFFERS": {Offers, EN}, "OFFRES": {Offers, FR}, "优惠": {Offers, ZH},
	"JOIN": {Join, EN}, "REJOINDRE": {Join, FR}, "参加": {Join, ZH},
	"LEAVE": {Leave, EN}, "QUITTER": {Leave, FR}, "退出": {Leave, ZH},
	"STATS": {Stats, EN}, "统计": {Stats, ZH},
	"CONFIRM": {ConfirmBy, EN}, "CONFIRMER": {ConfirmBy, FR}, "确认方式": {ConfirmBy, ZH},
	"RECEIVE": {Receive, EN}, "RECEVOIR": {Receive, FR}, "收款": {Receive, ZH},
	"SETTINGS": {Settings, EN}, "REGLAGES": {Settings, FR}, "RÉGLAGES": {Settings, FR}, "设置": {Settings, ZH},
	"EVERY": {Every, EN}, "CHAQUE": {Every, FR}, "每": {Every, ZH},
	"ORDERS": {Orders, EN}, "ORDRES": {Orders, FR}, "定期": {Orders, ZH},
	"STOPORDER": {StopOrder, EN}, "ARRETORDRE": {StopOrder, FR}, "ARRÊTORDRE": {StopOrder, FR}, "取消定期": {StopOrder, ZH},
	// REDEEM is PAY with points: `REDEEM SHOP42 12.50 1234` as `PAY SHOP42 12.50 1234 PTS`.
	"REDEEM": {Pay, EN}, "UTILISER": {Pay, FR}, "兑换": {Pay, ZH},
}

// Where money sent to a subscriber lands (RECEIVE).
const (
	ReceiveBank  = "bank"  // his linked bank account, through the bank connector
	ReceivePurse = "purse" // his e-purse (the default)
)

// receiveWords are RECEIVE's words for where, in every language.
var receiveWords = map[string]string{
	"BANK": ReceiveBank, "BANQUE": ReceiveBank, "银行": ReceiveBank,
	"PURSE": ReceivePurse, "PORTEMONNAIE": ReceivePurse, "PORTE-MONNAIE": ReceivePurse, "钱包": ReceivePurse,
}

// promoCodeRe is a promotion's code, as merchants make them.
var promoCodeRe = regexp.MustCompile(`^[A-Z][A-Z0-9]{2,11}$`)

// pointsWords end a PAY that is paid with loyalty points first (`PAY SHOP42 12.50 1234 PTS`).
var pointsWords = map[string]bool{"PTS": true, "POINTS": true, "积分": true}

// redeemWords are the keywords of a PAY with points.
var redeemWords = map[string]bool{"REDEEM": true, "UTILISER": true, "兑换": true}

// Command is one parsed SMS. Only the fields its Kind uses are set.
type Command struct {
	Kind     Kind
	Lang     Lang   // language of the keyword, the reply language unless the subscriber set one
	PIN      string // never logged: see Redact
	NewPIN   string
	Merchant string // PAY, BILL, DEBIT, CREDIT: merchant or biller code, upper case
	Account  string // BILL: the customer's account at the biller
	Ref      string // PAY, SEND: the subscriber's reference (a repeated payment on purpose)
	Phone    string // SEND: payee in E.164
	Amount   uint64 // minor units of Options.Currency
	Name     string // REG
	Code     string // YES, NO, OK: confirmation code; CHECK, REV, DISPUTE: receipt code or short ref
	Reason   string // DISPUTE: why, digits runs masked, at most MaxReasonBytes
	Target   Lang   // LANG
	On       bool   // PROMO; CONFIRM: VOICE (a call) rather than SMS
	Where    string // RECEIVE: ReceiveBank or ReceivePurse
	Topic    Kind   // HELP <cmd>
	// WithPoints: PAY with loyalty points first (a trailing PTS, or REDEEM), the rest in money.
	WithPoints bool
	// EVERY: the payment repeated (Bill or Send, its fields above), weekly on Day (a
	// time.Weekday, 0 Sunday) or monthly on Day (1..31). STOPORDER: N, the order's number.
	Then   Kind
	Weekly bool
	Day    int
	N      int
}

// Options are what parsing needs to know of the deployment.
type Options struct {
	Currency string // ISO code of the purse currency, e.g. "EUR"
	Exponent uint8  // its decimals
	Region   string // default region for national phone numbers, e.g. "FR"
}

// Problem says what is wrong with an SMS.
type Problem uint8

const (
	Empty Problem = iota + 1
	UnknownKeyword
	Arity
	BadAmount
	BadCurrency
	BadPhone
	BadPIN
	BadMerchant
	BadCode
	BadLanguage
	BadSwitch
	TooLong
	BadRef
	BadDay
)

// ParseError is a precise reason an SMS is not a command. Arg is the offending token (never
// a PIN: a bad PIN is reported without it).
type ParseError struct {
	Problem Problem
	Kind    Kind // the command it looked like, when the keyword was understood
	Lang    Lang
	Arg     string
}

func (e *ParseError) Error() string {
	what := map[Problem]string{Empty: "empty message", UnknownKeyword: "unknown keyword", Arity: "wrong number of words",
		BadAmount: "bad amount", BadCurrency: "wrong currency", BadPhone: "bad phone number", BadPIN: "PIN must be 4 to 6 digits",
		BadMerchant: "bad merchant code", BadCode: "bad code", BadLanguage: "unknown language", BadSwitch: "want ON or OFF",
		TooLong: "message too long", BadRef: "bad reference", BadDay: "bad day"}[e.Problem]
	if e.Kind != 0 {
		what = e.Kind.String() + ": " + what
	}
	if e.Arg != "" {
		what += " " + strconv.Quote(e.Arg)
	}
	return what
}

// MaxTextLen bounds the SMS text parsed (a long concatenated message is not a command).
const MaxTextLen = 480

var (
	pinRe      = regexp.MustCompile(`^[0-9]{4,6}$`)
	merchantRe = regexp.MustCompile(`^[A-Z0-9]{2,20}$`)
	codeRe     = regexp.MustCompile(`^[A-Z0-9-]{4,24}$`)
	refRe      = regexp.MustCompile(`^[\p{L}\p{N}\-_/.#]+$`)
)

// Limits in bytes, the unit the ledger counts in, so that whatever parses can be stored.
const (
	MaxRefBytes  = 32 // a PAY or SEND reference, a bill account
	MaxNameBytes = 40 // a registered name (longer is cut at a character boundary)
)

func validRef(s string) bool { return len(s) <= MaxRefBytes && refRe.MatchString(s) }

// clipBytes cuts s to at most n bytes without splitting a character.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// isSep separates words: spaces, '*' (USSD-style typing), ':' and ';' (BAL:1234).
func isSep(r rune) bool { return unicode.IsSpace(r) || r == '*' || r == ':' || r == ';' }

// tokens splits the text into words, dropping empties. A keyword glued to its first
// argument ("REG1234 Alice", "BAL1234") is split from it, as subscribers type it so.
func tokens(text string) []string {
	toks := strings.FieldsFunc(text, isSep)
	if len(toks) > 0 {
		if _, ok := keywords[strings.ToUpper(toks[0])]; !ok {
			if i := strings.IndexAny(toks[0], "0123456789"); i > 0 {
				if _, ok := keywords[strings.ToUpper(toks[0][:i])]; ok {
					toks = append([]string{toks[0][:i], toks[0][i:]}, toks[1:]...)
				}
			}
		}
	}
	return toks
}

// Parse reads one SMS.
func Parse(text string, opt Options) (Command, error) {
	if len(text) > MaxTextLen || !utf8.ValidString(text) {
		return Command{}, &ParseError{Problem: TooLong}
	}
	toks := tokens(text)
	if len(toks) == 0 {
		return Command{}, &ParseError{Problem: Empty}
	}
	kw, ok := keywords[strings.ToUpper(toks[0])]
	if !ok {
		return Command{}, &ParseError{Problem: UnknownKeyword, Arg: domain.Clip(toks[0])}
	}
	c := Command{Kind: kw.kind, Lang: kw.lang, WithPoints: redeemWords[strings.ToUpper(toks[0])]}
	args := toks[1:]
	if n := len(args); c.Kind == Pay && n >= 4 && pointsWords[strings.ToUpper(args[n-1])] {
		c.WithPoints, args = true, args[:n-1]
	}
	p := parser{c: &c, opt: opt, args: args}
	if err := p.parse(); err != nil {
		err.Kind, err.Lang = c.Kind, c.Lang
		return Command{}, err
	}
	return c, nil
}

type parser struct {
	c    *Command
	opt  Options
	args []string
}

func (p *parser) arity(ok bool) *ParseError {
	if !ok {
		return &ParseError{Problem: Arity}
	}
	return nil
}

func (p *parser) parse() *ParseError {
	c, a := p.c, p.args
	// An amount may come with its currency as a separate word: "EUR 12.50", "12.50 EUR".
	if c.Kind == Pay || c.Kind == Bill || c.Kind == Send || c.Kind == Debit || c.Kind == Credit || c.Kind == Repay {
		var err *ParseError
		if a, err = p.joinCurrency(a); err != nil {
			return err
		}
	}
	switch c.Kind {
	case Help:
		if len(a) > 1 {
			return p.arity(false)
		}
		if len(a) == 1 {
			kw, ok := keywords[strings.ToUpper(a[0])]
			if !ok {
				return &ParseError{Problem: UnknownKeyword, Arg: domain.Clip(a[0])}
			}
			c.Topic = kw.kind
		}
		return nil
	case Reg:
		if len(a) < 1 {
			return p.arity(false)
		}
		if err := p.pin(a[0], &c.PIN); err != nil {
			return err
		}
		// A name never keeps a run of 4-6 digits: it is shown to payers and echoed in
		// replies, and such a run is likely a PIN typed twice.
		c.Name = clipBytes(MaskDigits(strings.Join(a[1:], " ")), MaxNameBytes)
		return nil
	case Bal, Mini, Data, Erase, Points, Stats, Settings:
		if err := p.arity(len(a) == 1); err != nil {
			return err
		}
		return p.pin(a[0], &c.PIN)
	case Pay, Debit:
		if err := p.arity(len(a) == 3 || (len(a) == 4 && c.Kind == Pay)); err != nil {
			return err
		}
		if len(a) == 4 {
			if !validRef(a[2]) {
				return &ParseError{Problem: BadRef, Arg: domain.Clip(a[2])}
			}
			c.Ref = a[2]
		}
		return p.all(p.merchant(a[0]), p.amount(a[1]), p.pin(a[len(a)-1], &c.PIN))
	case Credit:
		if len(a) == 1 {
			c.Kind = Statement
			return p.pin(a[0], &c.PIN)
		}
		if err := p.arity(len(a) == 3); err != nil {
			return err
		}
		return p.all(p.merchant(a[0]), p.amount(a[1]), p.pin(a[2], &c.PIN))
	case Bill:
		// BILL <biller> <amount> <pin> pays the account saved with an earlier payment.
		if err := p.arity(len(a) == 3 || len(a) == 4); err != nil {
			return err
		}
		if len(a) == 3 {
			return p.all(p.merchant(a[0]), p.amount(a[1]), p.pin(a[2], &c.PIN))
		}
		if !validRef(a[1]) {
			return &ParseError{Problem: BadRef, Arg: domain.Clip(a[1])}
		}
		c.Account = a[1]
		return p.all(p.merchant(a[0]), p.amount(a[2]), p.pin(a[3], &c.PIN))
	case Every:
		return p.every()
	case Orders:
		if err := p.arity(len(a) == 1); err != nil {
			return err
		}
		return p.pin(a[0], &c.PIN)
	case StopOrder:
		if err := p.arity(len(a) == 2); err != nil {
			return err
		}
		n, err := strconv.Atoi(a[0])
		if err != nil || n < 1 || n > 99 {
			return &ParseError{Problem: BadCode, Arg: domain.Clip(a[0])}
		}
		c.N = n
		return p.pin(a[1], &c.PIN)
	case Send:
		if err := p.arity(len(a) == 3 || len(a) == 4); err != nil {
			return err
		}
		if len(a) == 4 {
			if !validRef(a[2]) {
				return &ParseError{Problem: BadRef, Arg: domain.Clip(a[2])}
			}
			c.Ref = a[2]
		}
		return p.all(p.phone(a[0]), p.amount(a[1]), p.pin(a[len(a)-1], &c.PIN))
	case Repay:
		if err := p.arity(len(a) == 2); err != nil {
			return err
		}
		return p.all(p.amount(a[0]), p.pin(a[1], &c.PIN))
	case Rev:
		if err := p.arity(len(a) == 2); err != nil {
			return err
		}
		return p.all(p.receipt(a[0]), p.pin(a[1], &c.PIN))
	case Dispute:
		if err := p.arity(len(a) >= 2); err != nil {
			return err
		}
		if err := p.receipt(a[0]); err != nil {
			return err
		}
		// No PIN: a reason never keeps a run of 4-6 digits (it may be one typed by habit).
		c.Reason = domain.CleanText(MaskDigits(strings.Join(a[1:], " ")), MaxReasonBytes)
		return nil
	case Yes, No, Ok, Check:
		if err := p.arity(len(a) == 1); err != nil {
			return err
		}
		code := strings.ToUpper(a[0])
		if !codeRe.MatchString(code) {
			return &ParseError{Problem: BadCode, Arg: domain.Clip(a[0])}
		}
		c.Code = code
		return nil
	case PIN:
		if err := p.arity(len(a) == 2); err != nil {
			return err
		}
		return p.all(p.pin(a[0], &c.PIN), p.pin(a[1], &c.NewPIN))
	case Language:
		if err := p.arity(len(a) == 1); err != nil {
			return err
		}
		switch strings.ToUpper(a[0]) {
		case "EN", "ENGLISH", "ANGLAIS", "英文", "英语":
			c.Target = EN
		case "FR", "FRANCAIS", "FRANÇAIS", "FRENCH", "法语", "法文":
			c.Target = FR
		case "ZH", "CN", "中文", "CHINOIS", "CHINESE":
			c.Target = ZH
		default:
			return &ParseError{Problem: BadLanguage, Arg: domain.Clip(a[0])}
		}
		return nil
	case Block:
		return p.arity(len(a) == 0)
	case Capture, Void:
		// The reference the merchant was told (6 characters); CAPTURE may take less than was
		// authorised. No PIN: the merchant's registered number is the credential.
		if err := p.arity(len(a) == 1 || (len(a) == 2 && c.Kind == Capture)); err != nil {
			return err
		}
		if !codeRe.MatchString(strings.ToUpper(a[0])) {
			return &ParseError{Problem: BadCode, Arg: domain.Clip(a[0])}
		}
		c.Code = strings.ToUpper(a[0])
		if len(a) == 2 {
			return p.amount(a[1])
		}
		return nil
	case Offers:
		return p.arity(len(a) == 0)
	case Join, Leave:
		if err := p.arity(len(a) == 1); err != nil {
			return err
		}
		code := strings.ToUpper(a[0])
		if !promoCodeRe.MatchString(code) {
			return &ParseError{Problem: BadCode, Arg: domain.Clip(a[0])}
		}
		c.Code = code
		return nil
	case ConfirmBy:
		if err := p.arity(len(a) == 2); err != nil {
			return err
		}
		switch strings.ToUpper(a[0]) {
		case "VOICE", "CALL", "VOIX", "APPEL", "语音", "电话":
			c.On = true
		case "SMS", "TEXT", "短信":
		default:
			return p.arity(false) // the reply shows the syntax: VOICE or SMS
		}
		return p.pin(a[1], &c.PIN)
	case Receive:
		if len(a) == 1 {
			c.Where = receiveWords[strings.ToUpper(a[0])]
		}
		return p.arity(c.Where != "")
	case Promo:
		if err := p.arity(len(a) == 1); err != nil {
			return err
		}
		switch strings.ToUpper(a[0]) {
		case "ON", "OUI", "YES", "开":
			c.On = true
		case "OFF", "NON", "NO", "关":
		default:
			return &ParseError{Problem: BadSwitch, Arg: domain.Clip(a[0])}
		}
		return nil
	}
	return &ParseError{Problem: UnknownKeyword}
}

// all returns the first error of checks made in order (arguments left to right).
func (p *parser) all(errs ...*ParseError) *ParseError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (p *parser) pin(s string, dst *string) *ParseError {
	if !pinRe.MatchString(s) {
		return &ParseError{Problem: BadPIN} // the token is not echoed: it may be a PIN
	}
	*dst = s
	return nil
}

// MaxReasonBytes bounds a dispute's reason.
const MaxReasonBytes = domain.MaxReasonLen

// receipt reads a receipt code or a short reference.
func (p *parser) receipt(s string) *ParseError {
	code := strings.ToUpper(s)
	if !codeRe.MatchString(code) {
		return &ParseError{Problem: BadCode, Arg: domain.Clip(s)}
	}
	p.c.Code = code
	return nil
}

func (p *parser) merchant(s string) *ParseError {
	code := strings.ToUpper(s)
	if !merchantRe.MatchString(code) {
		return &ParseError{Problem: BadMerchant, Arg: domain.Clip(s)}
	}
	p.c.Merchant = code
	return nil
}

func (p *parser) phone(s string) *ParseError {
	m, err := domain.ParseMSISDN(s, p.opt.Region)
	if err != nil {
		return &ParseError{Problem: BadPhone, Arg: domain.Clip(s)}
	}
	p.c.Phone = m
	return nil
}

// currencyWords are the ways a subscriber writes the purse currency.
func (p *parser) currencyWords() []string {
	words := []string{p.opt.Currency}
	if sym, ok := symbols[p.opt.Currency]; ok {
		words = append(words, sym...)
	}
	return words
}

// isoCodes are currency codes a subscriber might write; one that is not the purse's is an
// error (mpg never converts), a word that is no currency is not.
var isoCodes = map[string]bool{"EUR": true, "USD": true, "GBP": true, "CHF": true, "CNY": true, "RMB": true,
	"INR": true, "KES": true, "NGN": true, "GHS": true, "ZAR": true, "TZS": true, "MAD": true, "EGP": true,
	"PHP": true, "BRL": true, "XOF": true, "XAF": true, "JPY": true, "KRW": true, "UGX": true, "RWF": true,
	"GNF": true, "VND": true, "BHD": true, "KWD": true, "TND": true}

var symbols = map[string][]string{"EUR": {"€"}, "USD": {"$"}, "GBP": {"£"}, "CNY": {"¥", "元", "RMB"}, "XOF": {"CFA", "FCFA"}, "XAF": {"CFA", "FCFA"}}

// isCurrencyWord reports whether s names a currency: the purse's (ok) or another (foreign).
func (p *parser) isCurrencyWord(s string) (ok, foreign bool) {
	u := strings.ToUpper(s)
	for _, w := range p.currencyWords() {
		if u == strings.ToUpper(w) {
			return true, false
		}
	}
	if isoCodes[u] {
		return false, true
	}
	for _, syms := range symbols {
		for _, w := range syms {
			if u == strings.ToUpper(w) {
				return false, true
			}
		}
	}
	return false, false
}

// joinCurrency removes a currency word standing next to an amount; another currency is an
// error, not something to convert.
func (p *parser) joinCurrency(a []string) ([]string, *ParseError) {
	out := make([]string, 0, len(a))
	for i, t := range a {
		ok, foreign := p.isCurrencyWord(t)
		nextNum := i+1 < len(a) && startsWithDigit(a[i+1])
		prevNum := i > 0 && startsWithDigit(a[i-1])
		if (ok || foreign) && (nextNum || prevNum) && i < len(a)-1 { // never the last word: that is the PIN
			if foreign {
				return nil, &ParseError{Problem: BadCurrency, Arg: domain.Clip(t)}
			}
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

// amount reads 12, 12.5, 12.50, 12,50, with a currency sign or code stuck to either end.
func (p *parser) amount(s string) *ParseError {
	t := s
	for _, w := range p.currencyWords() {
		if len(t) > len(w) && strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(w)) {
			t = t[:len(t)-len(w)]
		} else if len(t) > len(w) && strings.HasPrefix(strings.ToUpper(t), strings.ToUpper(w)) {
			t = t[len(w):]
		}
	}
	v, err := domain.ParseAmount(t, p.opt.Exponent)
	if err != nil {
		if _, foreign := p.isCurrencyWord(strings.Trim(t, "0123456789.,")); foreign {
			return &ParseError{Problem: BadCurrency, Arg: domain.Clip(s)}
		}
		return &ParseError{Problem: BadAmount, Arg: domain.Clip(s)}
	}
	p.c.Amount = v
	return nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// every reads EVERY <day> BILL|SEND ... <pin>: the day, then the payment as it would be
// texted on its own (a BILL may leave out its account: the saved one is used).
func (p *parser) every() *ParseError {
	c, a := p.c, p.args
	if len(a) < 4 {
		return p.arity(false)
	}
	if err := p.day(a[0]); err != nil {
		return err
	}
	kw, ok := keywords[strings.ToUpper(a[1])]
	if !ok || (kw.kind != Bill && kw.kind != Send) {
		return p.arity(false)
	}
	inner := Command{Kind: kw.kind, Lang: c.Lang}
	sub := parser{c: &inner, opt: p.opt, args: a[2:]}
	if err := sub.parse(); err != nil {
		return err
	}
	c.Then, c.Merchant, c.Account, c.Amount, c.Phone, c.Ref, c.PIN = inner.Kind, inner.Merchant, inner.Account, inner.Amount, inner.Phone, inner.Ref, inner.PIN
	return nil
}

// weekdays are the day words of a weekly order, in every language.
var weekdays = map[string]time.Weekday{
	"MON": time.Monday, "TUE": time.Tuesday, "WED": time.Wednesday, "THU": time.Thursday, "FRI": time.Friday, "SAT": time.Saturday, "SUN": time.Sunday,
	"MONDAY": time.Monday, "TUESDAY": time.Tuesday, "WEDNESDAY": time.Wednesday, "THURSDAY": time.Thursday, "FRIDAY": time.Friday, "SATURDAY": time.Saturday, "SUNDAY": time.Sunday,
	"LUN": time.Monday, "MAR": time.Tuesday, "MER": time.Wednesday, "JEU": time.Thursday, "VEN": time.Friday, "SAM": time.Saturday, "DIM": time.Sunday,
	"LUNDI": time.Monday, "MARDI": time.Tuesday, "MERCREDI": time.Wednesday, "JEUDI": time.Thursday, "VENDREDI": time.Friday, "SAMEDI": time.Saturday, "DIMANCHE": time.Sunday,
	"周一": time.Monday, "周二": time.Tuesday, "周三": time.Wednesday, "周四": time.Thursday, "周五": time.Friday, "周六": time.Saturday, "周日": time.Sunday,
	"星期一": time.Monday, "星期二": time.Tuesday, "星期三": time.Wednesday, "星期四": time.Thursday, "星期五": time.Friday, "星期六": time.Saturday, "星期日": time.Sunday, "星期天": time.Sunday,
}

// day reads a weekday (MON, LUN, 周一) or a day of the month (1..31, also 15日, 15号).
func (p *parser) day(s string) *ParseError {
	u := strings.ToUpper(s)
	if wd, ok := weekdays[u]; ok {
		p.c.Weekly, p.c.Day = true, int(wd)
		return nil
	}
	n, err := strconv.Atoi(strings.TrimRight(u, "日号"))
	if err != nil || n < 1 || n > 31 {
		return &ParseError{Problem: BadDay, Arg: domain.Clip(s)}
	}
	p.c.Day = n
	return nil
}

// DayName writes an order's day in a language: its weekday word, or its day of the month.
func DayName(l Lang, weekly bool, day int) string {
	if !weekly {
		if l == ZH {
			return strconv.Itoa(day) + "日"
		}
		return strconv.Itoa(day)
	}
	return [3][7]string{
		{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"},
		{"DIM", "LUN", "MAR", "MER", "JEU", "VEN", "SAM"},
		{"周日", "周一", "周二", "周三", "周四", "周五", "周六"},
	}[l][day%7]
}
