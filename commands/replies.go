package commands

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"mpg/domain"
)

// Reply names an outcome the subscriber (or merchant) is told about.
type Reply uint8

const (
	RHelp Reply = iota + 1
	RHelpTopic
	RUsage // wrong arity: the command's syntax
	RBadAmount
	RBadCurrency
	RBadPhone
	RBadPIN
	RBadMerchant
	RBadCode
	RBadLanguage
	RBadSwitch
	RTooLong
	RNotAvailable
	RWelcome
	RAlreadyRegistered
	RNotRegistered
	RBalance
	RMini
	RMiniEmpty
	RPaid
	RMerchantPaid
	RBillPaid
	RSent
	RReceived
	RSentHeld // to a number not registered yet: held until the payee registers
	RInvite   // to that payee
	RClaimed  // to the payee when they register
	RRefunded // to the sender when the claim window passed
	RLapsed   // to the payee then
	RConfirmAsk
	RConfirmExpired
	RConfirmWrong
	RCancelled
	RWrongPIN
	RLocked
	RAccountBlocked
	RInsufficient
	RLimitExceeded
	RTierCannotSend
	RUnknownMerchant
	RUnknownBiller
	RSelfTransfer
	RPINChanged
	RLangSet
	RBlocked
	RPromoOn
	RPromoOff
	RReceiptValid
	RReceiptInvalid
	RBusy
	RBadRef
	RRepeatPaid      // a redelivered payment: nothing moved again
	RRepeatSent      // a redelivered SEND
	RRepeat          // any other redelivered message
	RLimitPerPayment // above the tier's per-payment limit
	RLimitDaily      // above what is left of the 24-hour limit
	RLimitBalance    // the payee's purse cannot hold that much
	RTooManyHolds    // too many payments already wait for that number
	RBalanceBlocked  // BAL on a blocked purse
	RNotActivated    // REG on a purse opened by an agent, not yet activated
	RActivate        // the one-time code to set a PIN (activation or reset)
	RActivated       // PIN set with the one-time code
	RLockedAdmin     // locked until customer care unlocks
	RUnlocked        // customer care unlocked the PIN
	RTierChanged     // customer care changed the KYC tier
	RReceiptFromYou  // CHECK: a genuine receipt of a payment from the checker
	RReceiptToYou    // CHECK: a genuine receipt of a payment to the checker
	RReceiptNotYours // CHECK: genuine, but neither from nor to the checker's number
	RNotPossible     // a request that can never be done as written
	RAccountClosed
	RClosedNotice       // customer care closed the purse
	RReversedIn         // a payment reversed: money back to this purse
	RReversedOut        // a payment reversed: money taken back from this purse
	RClaimWaiting       // a hold this purse cannot take yet (its tier's maximum balance)
	RToppedUp           // cash-in at an agent
	RPayeeClosed        // the payee's purse or the merchant's account is closed
	RFlood              // too many messages from one number: they wait
	RPayRequest         // a merchant asks this number to pay: YES <code> pays
	RCheckoutCode       // the security code to type on a web checkout page
	RMerchantRefund     // a merchant refunded (part of) a payment
	RPayDeclined        // the subscriber answered NO to a merchant's request
	RCompanyPaid        // an employee paid on his company's account
	RCompanyNo          // he may not (not authorised, not at this merchant, company blocked)
	RCompanyLimit       // above his limit on the company's account
	RDebitAsk           // DEBIT: confirm with YES <code>; irreversible
	RDebitPending       // YES taken: the bank is asked; the result follows by SMS
	RDebitPaid          // the bank approved: paid
	RDebitDeclined      // the bank declined
	RDebitReversed      // the bank did not answer: reversed, nothing taken
	RBankNotLinked      // DEBIT without a linked bank account
	RBankLinked         // an operator linked (or unlinked) a bank account
	RCreditHeld         // CREDIT: an authorisation held on the credit line
	RMerchantHeld       // to the merchant: an authorisation to capture or void
	RCreditCaptured     // the merchant captured (part of) a hold
	RCreditReleased     // the merchant voided a hold, or it expired: released
	RCreditLine         // CREDIT <pin>: the line's statement
	RRepaid             // REPAY: moved from the purse to the line
	RNoCreditLine       // CREDIT or REPAY without a credit line
	RCreditGranted      // an operator granted or changed a credit line
	RMerchantReleased   // to the merchant: an authorisation expired, released
	RCreditFrozen       // the credit line is frozen: no new authorisation
	RCreditDue          // CREDIT <pin>, and the statement SMS: what is due and by when
	RCreditStatement    // the statement day's SMS
	RCreditOverdue      // an overdue line refuses new authorisations
	RHoldCaptured       // to the merchant's phone: CAPTURE done
	RHoldVoided         // to the merchant's phone: VOID done
	RHoldNotFound       // no open authorisation of this merchant has that reference
	RBankRefundSent     // a refunded DEBIT: the bank took the credit, on its way to the account
	RBankRefundToPurse  // a refunded DEBIT the bank could not credit: in the purse instead
	RMerchantPaidRef    // to the merchant: paid, with the subscriber's reference
	RRefundToLine       // a refund of a credit payment: to the line, the rest to the purse
	RPINWasReset        // the old PIN after an operator's reset: set a new one with the code
	RReversedOutShop    // a payment reversed: money taken back from a merchant's account
	RNothingOwed        // REPAY when the credit line owes nothing: nothing moved
	RStopped            // STOP: marketing off at once
	RStarted            // START: marketing on
	RData               // DATA <pin>: a summary and the one-time link to everything held
	RDataLimit          // DATA asked too often today: nothing sent
	RRevAsked           // REV taken: the payee is asked, what is held meanwhile
	RRevAsk             // to the payee: give it back with OK <code>, or NO <code>
	RRevReturned        // to the payer: the payee gave it back
	RRevGaveBack        // to the payee: given back
	RRevDeclined        // to the payer: the payee said NO; a case is open
	RRevDeclinedPayee   // to the payee: NO taken, hold released, a case is open
	RRevExpired         // to the payer: no answer in time; a case is open
	RRevExpiredPayee    // to the payee: no answer in time, hold released, a case is open
	RPaymentNotFound    // REV, DISPUTE: no payment of the sender's with that receipt or ref
	RErasureAsk         // ERASE <pin>: what an erasure does, confirm with YES <code>
	RErasureFiled       // YES to ERASE: purse closed, paid out, offers stopped, erased on a date
	RErasureWaiting     // ERASE while payments still wait (codes, holds): nothing done
	RRevNotSend         // REV on something else than a SEND from the purse
	RRevTooLate         // REV after the self-service window
	RRevTooMany         // the payment was asked back too often
	RDisputeBusy        // a request or a case is open on the payment already
	RNothingLeft        // everything was given back already
	RDisputeOpened      // DISPUTE taken: the case and what happens next
	RDisputeTooLate     // DISPUTE after the window
	RDisputeNotHere     // DISPUTE on a top-up or a repayment
	RDisputeRefund      // a case decided for the payer: given back
	RDisputeRejected    // a case decided against the payer
	RDisputeReview      // a case goes to customer care
	RPointsEarned       // appended to a payment's reply: what it earned, the member's total
	RPointsUsed         // appended to a payment paid with points: points, their worth, left
	RPoints             // POINTS: the total and the next lot to expire
	RPointsNoExpiry     // POINTS: the total, nothing about to expire
	RPointsOff          // POINTS or PAY ... PTS where no programme runs
	RPointsNotHere      // PAY ... PTS at a merchant that takes no points
	RPointsExpiring     // a notice: points of a lot expire on a date
	RPointsConfirm      // PAY ... PTS whose money part would need a code: nothing done
	RPointsNone         // PAY ... PTS with no points to pay with: nothing done
	RPointsRefund       // appended to a refund's notice: points given back and taken back
	RDiscount           // appended to a payment's reply: the promotion's part of the price
	RPointsHeld         // appended to BAL: the member's points
	ROffers             // OFFERS: what is on offer for the sender
	ROffersNone         // OFFERS: nothing
	RJoined             // JOIN: joined
	RLeft               // LEAVE: left
	RNoOffer            // JOIN, LEAVE: no such promotion running
	RCampaign           // a marketing SMS: the merchant's text ({lines}), then how to stop them
	RRiskDeclined       // a payment the fraud rules declined: says nothing of why
	RRiskHeld           // a payment held for a review: reserved, not paid, an answer follows
	RRiskReleased       // to the payer: the review let the payment go through
	RRiskVoided         // to the payer: the review stopped the payment, the money is back
	RStats              // STATS: this month's spend against last month's, and where it went
	RStatsNone          // STATS: no payment yet this month
	RConfirmVoice       // CONFIRM VOICE: payments waiting for a YES are confirmed by a call
	RConfirmSMS         // CONFIRM SMS: by a code texted, as before
	RVoiceUnavailable   // CONFIRM VOICE where no calls can be made: codes by SMS go on
	RVoiceCalling       // instead of a code: a call is coming about this payment
	RVoiceNoAnswer      // the call was not answered (or busy, or hung up): nothing paid
	RVoiceRefused       // the PIN keyed in the call was wrong too often: nothing paid
	RVoiceFailed        // the call could not be made or was cut: nothing paid
	RVoicePrompt        // spoken: what the payment is, key in the PIN then hash
	RVoiceWrong         // spoken: wrong PIN, tries left
	RVoiceDone          // spoken: the payment goes on
	RVoiceBye           // spoken: nothing paid, goodbye
	RReceiveBank        // RECEIVE BANK: money sent to him now goes to his bank account
	RReceivePurse       // RECEIVE PURSE: it stays in his e-purse
	RReceiveNoBank      // RECEIVE BANK with no bank account linked
	RReceiveNoConnector // RECEIVE BANK where mpg is bound to no bank
	RReceivedToBank     // to a payee who chose RECEIVE BANK: a SEND is on its way to his bank
	RBankReceived       // his bank took it
	RBankReceiveToPurse // his bank did not take it: it is in his e-purse
	RSettings           // SETTINGS: his preferences, one a line ({lines})
	RBillNoAccount      // BILL without an account, and none saved for that biller
	ROrderMade          // EVERY: the standing order is set, and its next run
	ROrdersFull         // EVERY: as many standing orders as allowed already
	ROrders             // ORDERS: the standing orders, numbered
	ROrdersNone         // ORDERS: none
	ROrderStopped       // STOPORDER: ended
	ROrderNotFound      // STOPORDER: no order with that number
	ROrderDue           // heads a standing order's run that was not paid: what was due
	ROrderNeedsYes      // a run above the confirmation amount: not paid, the payer pays it himself
	ROrderTooLarge      // EVERY above the confirmation amount: not set
	RBadDay             // EVERY: a day that is no weekday nor 1..31
	ROrderEnded         // an operator ended a standing order
	RPayoutIssued       // to a merchant: its payout is on its way to its bank account
	RPayoutRejected     // to a merchant: its bank refused the payout, the money is back
	replyCount
)

// DecimalMark is how the language writes the decimal point of an amount: 12.50, 12,50.
func (l Lang) DecimalMark() byte {
	if l == FR {
		return ','
	}
	return '.'
}

// Args fill a reply's blanks; each reply uses some of them.
type Args struct {
	Amount, Fee, Balance, Limit domain.Money
	Party                       string // merchant name, or masked number, of the other side
	Name                        string // a registered name
	Account                     string // a bill account
	Ref                         string // short transaction reference
	Receipt                     string // code CHECK verifies
	Code                        string // confirmation code
	N                           int    // tries left, minutes, days
	Topic                       Kind   // HELP topic or usage
	Lines                       []string
	Arg                         string // the offending word of a bad command
	Currency                    string // the purse currency, for a wrong-currency reply
	Time                        string // when something happened, HH:MM
	Link                        string // a one-time web link (DATA)
	Years, Minutes              int    // how long data is kept; how long a link lives
	On                          bool   // offers (marketing) on or off
	Case                        string // a dispute case's short reference
	Points, Total               uint64 // loyalty points of a step, and the member's total after it
	Worth                       domain.Money
	Date                        string // a day, DD/MM/YYYY
	Month, PrevMonth            time.Month
	Prev                        domain.Money // last month's spend (STATS), written without currency
	Change                      int          // last month to this one, in percent
	HasChange                   bool         // false: nothing to compare with (no spend last month)
	Parts                       []Part       // where this month's money went (STATS)
	Weekly                      bool         // a standing order's day: a weekday (Day 0 Sunday) or
	Day                         int          // a day of the month
}

// Part is what was spent at one merchant; Name "" is the rest (other merchants, people paid).
type Part struct {
	Name   string
	Amount domain.Money
}

// templates[reply][lang]; blanks are {amount} {fee} {balance} {limit} {party} {name} {account}
// {ref} {receipt} {code} {n} {tries} {usage} {lines} {arg} {currency} {time} {case} {points}
// {total} {worth} {date}. EN and FR are written in GSM 03.38
// (no ç, ê, â, î, ô, û in French), so one SMS holds 160 characters; ZH is UCS-2. One exception:
// LANG FR's answer says "français", and fits one UCS-2 SMS.
var templates = [replyCount][3]string{
	RHelp: {
		"BAL pin; MINI pin; PAY shop amount pin; BILL biller acct amount pin; SEND phone amount pin; DEBIT shop amount pin; CREDIT [shop amount] pin; REPAY amount pin; YES/NO code; CHECK receipt; ORDERS pin; REV receipt pin; DISPUTE receipt why; PIN old new; LANG EN/FR/ZH; PROMO ON/OFF; BLOCK. HELP PAY: details.",
		"SOLDE pin; RELEVE pin; PAYER code somme pin; FACTURE code cpte somme pin; ENVOYER tel somme pin; DEBIT code somme pin; CREDIT (code somme) pin; REMBOURSER somme pin; OUI/NON code; VERIFIER preuve; ORDRES pin; RETOUR preuve pin; LITIGE preuve motif; PIN anc neuf; LANGUE FR; PROMO OUI/NON; BLOQUER. AIDE cmd",
		"余额|明细|付款 商户 金额|缴费 机构 账号 金额|转账 手机 金额|借记 商户 金额|信用 [商户 金额]|还款 金额|撤回 凭证,以上均加 密码|是/否 确认码|定期|验证 凭证|争议 凭证 原因|密码 旧 新|语言 ZH|促销 开/关|冻结。详情:帮助 命令",
	},
	RHelpTopic: {"{about}: {usage}", "{about}: {usage}", "{about}:{usage}"},
	RUsage: {
		"Not understood. Send: {usage}",
		"Message incomplet. Envoyez: {usage}",
		"格式不对。请发送:{usage}",
	},
	RBadAmount:   {"Amount {arg} not understood. Write it like 12.50", "Montant {arg} incorrect. Ecrivez-le comme 12,50", "金额 {arg} 无效。请写成 12.50"},
	RBadCurrency: {"Amount in {arg}: only {currency} is accepted here. No conversion.", "Montant en {arg}: seule la devise {currency} est acceptée.", "不接受 {arg}:只能使用 {currency}。"},
	RBadPhone:    {"Phone number {arg} not understood. Use e.g. 0612345678 or +33612345678.", "Numéro {arg} incorrect. Ex: 0612345678 ou +33612345678.", "手机号 {arg} 无效。例如 +8613812345678。"},
	RBadPIN:      {"Your PIN is 4 to 6 digits, last in the message. Nothing was done.", "Le code PIN a 4 à 6 chiffres, en fin de message. Rien n'a été fait.", "密码为4至6位数字,放在最后。未执行任何操作。"},
	RBadMerchant: {"Unknown merchant {arg}. Check the code on the till.", "Marchand {arg} inconnu. Vérifiez le code affiché en caisse.", "未知商户 {arg}。请核对收银台上的代码。"},
	RBadCode:     {"Code {arg} not understood.", "Code {arg} incorrect.", "代码 {arg} 无效。"},
	RBadLanguage: {"Language {arg} unknown. Send LANG EN, LANG FR or LANG ZH.", "Langue {arg} inconnue. Envoyez LANGUE FR, EN ou ZH.", "未知语言 {arg}。请发送 语言 ZH、EN 或 FR。"},
	RBadSwitch:   {"Send PROMO ON or PROMO OFF.", "Envoyez PROMO OUI ou PROMO NON.", "请发送 促销 开 或 促销 关。"},
	RTooLong:     {"Message too long to be a command. Send HELP.", "Message trop long. Envoyez AIDE.", "信息太长。请发送 帮助。"},
	RNotAvailable: {
		"{arg} is not available yet. Nothing was done.",
		"{arg} n'est pas encore disponible. Rien n'a été fait.",
		"{arg} 功能暂未开放。未执行任何操作。",
	},
	RWelcome:           {"Welcome {name}! Your e-purse is open. Balance {balance}. Send HELP for commands.", "Bienvenue {name}! Votre porte-monnaie est ouvert. Solde {balance}. Envoyez AIDE.", "欢迎{name}!钱包已开通,余额 {balance}。发送 帮助 查看命令。"},
	RAlreadyRegistered: {"This number already has an e-purse. Send BAL pin for your balance.", "Ce numéro a déjà un porte-monnaie. Envoyez SOLDE pin.", "该号码已开通钱包。发送 余额 密码 查询。"},
	RNotRegistered:     {"No e-purse for this number. Send REG pin name to open one.", "Pas de porte-monnaie pour ce numéro. Envoyez INSCRIRE pin nom.", "该号码未开通钱包。发送 注册 密码 姓名 开通。"},
	RBalance:           {"Balance {balance}. You can pay up to {limit} now; {amount} left of your 24-hour limit.", "Solde {balance}. Paiement possible jusqu'à {limit}; reste {amount} sur 24 h.", "余额 {balance}。目前单笔最多可付 {limit};24小时剩余额度 {amount}。"},
	RMini:              {"Last operations:\n{lines}\nBalance {balance}", "Dernières opérations:\n{lines}\nSolde {balance}", "最近交易:\n{lines}\n余额 {balance}"},
	RMiniEmpty:         {"No operations yet. Balance {balance}.", "Aucune opération. Solde {balance}.", "暂无交易。余额 {balance}。"},
	RPaid: {
		"Paid {amount} to {party}. Fee {fee}. Balance {balance}. Ref {ref}. Receipt {receipt}",
		"Payé {amount} à {party}. Frais {fee}. Solde {balance}. Réf {ref}. Preuve {receipt}",
		"已向{party}付款 {amount}。手续费 {fee}。余额 {balance}。编号 {ref}。凭证 {receipt}",
	},
	RMerchantPaid: {
		"Payment received: {amount} from {party}. Ref {ref}. Receipt {receipt}",
		"Paiement de {amount} par {party}. Réf {ref}. Preuve {receipt}",
		"收到{party}付款 {amount}。编号 {ref}。凭证 {receipt}",
	},
	RBillPaid: {
		"Bill paid: {amount} to {party}, account {account}. Fee {fee}. Balance {balance}. Ref {ref}. Receipt {receipt}",
		"Facture payée: {amount} à {party}, compte {account}. Frais {fee}. Solde {balance}. Réf {ref}. Preuve {receipt}",
		"已缴费 {amount} 给{party},账号 {account}。手续费 {fee}。余额 {balance}。编号 {ref}。凭证 {receipt}",
	},
	RSent: {
		"Sent {amount} to {name} {party}. Fee {fee}. Balance {balance}. Ref {ref}. Receipt {receipt}",
		"Envoyé {amount} à {name} {party}. Frais {fee}. Solde {balance}. Réf {ref}. Preuve {receipt}",
		"已向{name} {party}转账 {amount}。手续费 {fee}。余额 {balance}。编号 {ref}。凭证 {receipt}",
	},
	RReceived: {
		"You received {amount} from {name} {party}. Balance {balance}. Ref {ref}. Receipt {receipt}",
		"Virement de {amount} de {name} {party}. Solde {balance}. Réf {ref}. Preuve {receipt}",
		"您收到{name} {party}转账 {amount}。余额 {balance}。编号 {ref}。凭证 {receipt}",
	},
	RSentHeld: {
		"{amount} held for {party}, who has no e-purse yet. If not claimed in {n} days it comes back to you. Fee {fee}. Balance {balance}. Ref {ref}",
		"{amount} réservés pour {party}, sans porte-monnaie. Sans retrait sous {n} jours, ils vous reviennent. Frais {fee}. Solde {balance}. Réf {ref}",
		"{amount} 已为{party}保留(对方未开通钱包)。{n}天内未领取将退回。手续费 {fee}。余额 {balance}。编号 {ref}",
	},
	RInvite: {
		"{party} sent you {amount}. Reply REG pin name within {n} days to open an e-purse and receive it.",
		"{party} vous envoie {amount}. Répondez INSCRIRE pin nom sous {n} jours pour le recevoir.",
		"{party}向您转账 {amount}。请在{n}天内回复 注册 密码 姓名 领取。",
	},
	RClaimed: {
		"{amount} from {party} is now in your e-purse. Balance {balance}. Ref {ref}",
		"{amount} de {party} versés sur votre porte-monnaie. Solde {balance}. Réf {ref}",
		"来自{party}的 {amount} 已到账。余额 {balance}。编号 {ref}",
	},
	RRefunded: {
		"{party} did not claim {amount}: it is back in your e-purse. Balance {balance}. Ref {ref}",
		"{party} n'a pas retiré {amount}: montant rendu. Solde {balance}. Réf {ref}",
		"{party}未领取 {amount},已退回。余额 {balance}。编号 {ref}",
	},
	RLapsed: {
		"The {amount} {party} sent you was not claimed in time and went back to them.",
		"Les {amount} envoyés par {party} n'ont pas été retirés à temps: ils lui sont rendus.",
		"{party}转给您的 {amount} 未在期限内领取,已退回。",
	},
	RConfirmAsk: {
		"Confirm {arg} of {amount} to {party}: reply YES {code} within {n} min, or NO {code}.",
		"Confirmez {arg} de {amount} à {party}: répondez OUI {code} sous {n} min, ou NON {code}.",
		"请确认向{party}{arg} {amount}:{n}分钟内回复 是 {code},或 否 {code}。",
	},
	RConfirmExpired: {"No payment is waiting for this code (it expired or was used). Nothing was done; send the command again.", "Aucun paiement n'attend ce code (expiré ou déjà utilisé). Rien n'a été fait.", "没有待确认的付款(确认码已过期或已使用)。未执行任何操作。"},
	RConfirmWrong:   {"Code not recognised. {tries} left.", "Code non reconnu. Encore {tries}.", "确认码错误。还可尝试{n}次。"},
	RCancelled:      {"Cancelled. Nothing was done.", "Annulé. Rien n'a été fait.", "已取消。未执行任何操作。"},
	RWrongPIN:       {"Wrong PIN. {tries} left before your e-purse is locked.", "Code PIN erroné. Encore {tries} avant blocage.", "密码错误。还可尝试{n}次,之后将锁定。"},
	RLocked:         {"Too many wrong PINs: your e-purse is locked for {n} min.", "Trop d'erreurs de PIN: porte-monnaie bloqué {n} min.", "密码错误次数过多,钱包锁定{n}分钟。"},
	RAccountBlocked: {"Your e-purse is blocked. Call customer care to unblock it.", "Votre porte-monnaie est bloqué. Appelez le service client.", "您的钱包已冻结。请联系客服解冻。"},
	RInsufficient:   {"Not enough money: balance {balance}, needed {amount}. Nothing was done.", "Solde insuffisant: {balance}, il faut {amount}. Rien n'a été fait.", "余额不足:余额 {balance},需要 {amount}。未执行任何操作。"},
	RLimitExceeded:  {"Over your limit: {amount} left for today. Nothing was done.", "Plafond atteint: reste {amount} aujourd'hui. Rien n'a été fait.", "超出限额:今日剩余 {amount}。未执行任何操作。"},
	RTierCannotSend: {"Your e-purse cannot send money to people yet. Ask an agent to verify your ID.", "Votre porte-monnaie ne peut pas encore envoyer d'argent. Faites vérifier votre identité.", "您的钱包暂不能转账。请到网点验证身份。"},
	RUnknownMerchant: {
		"Unknown merchant {arg}. Check the code on the till.",
		"Marchand {arg} inconnu. Vérifiez le code affiché en caisse.",
		"未知商户 {arg}。请核对收银台上的代码。",
	},
	RUnknownBiller:  {"Unknown biller {arg}. Check the code on your bill.", "Organisme {arg} inconnu. Vérifiez le code sur la facture.", "未知缴费机构 {arg}。请核对账单上的代码。"},
	RSelfTransfer:   {"You cannot send money to yourself.", "Envoi impossible vers votre propre numéro.", "不能向自己转账。"},
	RPINChanged:     {"Your PIN has been changed.", "Votre code PIN a été changé.", "密码已修改。"},
	RLangSet:        {"Replies will now be in English.", "Les réponses seront désormais en français.", "今后将以中文回复。"},
	RBlocked:        {"Your e-purse is blocked: no payment can leave it. Call customer care to unblock.", "Porte-monnaie bloqué: aucun paiement possible. Appelez le service client.", "钱包已冻结,无法付款。请联系客服解冻。"},
	RPointsEarned:   {" +{points} pts ({total} total).", " +{points} pts ({total} au total).", " +{points}积分(共{total})。"},
	RPointsUsed:     {" Paid with {points} pts ({worth}): {total} pts left.", " Payé avec {points} pts ({worth}): reste {total} pts.", " 使用{points}积分({worth}),剩余{total}积分。"},
	RPoints:         {"You have {total} points. {points} expire on {date}.", "Vous avez {total} points. {points} expirent le {date}.", "您有{total}积分。其中{points}积分将于{date}到期。"},
	RPointsNoExpiry: {"You have {total} points.", "Vous avez {total} points.", "您有{total}积分。"},
	RPointsOff:      {"There is no loyalty programme on this service.", "Ce service n'a pas de programme de fidélité.", "本服务暂无积分计划。"},
	RPointsNotHere:  {"{party} does not take points. Pay without PTS. Nothing was done.", "{party} n'accepte pas les points. Payez sans PTS. Rien n'a été fait.", "{party}不接受积分。请不加积分付款。未执行任何操作。"},
	RPointsExpiring: {"{points} of your {total} points expire on {date}. Use them with PAY shop amount pin PTS.", "{points} de vos {total} points expirent le {date}. Utilisez-les: PAYER code somme pin PTS.", "您的{total}积分中有{points}积分将于{date}到期。使用方法:付款 商户 金额 密码 积分。"},
	RPointsRefund:   {" Points: {points} back, {n} taken back ({total} total).", " Points: {points} rendus, {n} repris ({total} au total).", " 积分:退回{points},扣回{n}(共{total})。"},
	RPointsNone:     {"You have no points to pay {party} with. Pay without PTS. Nothing was done.", "Vous n'avez pas de points pour payer {party}. Payez sans PTS. Rien n'a été fait.", "您没有可用于向{party}付款的积分。请不加积分付款。未执行任何操作。"},
	RPointsConfirm:  {"With points, pay at most {amount} in money without a code. Pay without PTS. Nothing was done.", "Avec des points, payez au plus {amount} sans code. Payez sans PTS. Rien n'a été fait.", "使用积分时,现金部分最多 {amount}(无需确认码)。请不加积分付款。未执行任何操作。"},
	RPointsHeld:     {" Points: {total}.", " Points: {total}.", " 积分:{total}。"},
	RDiscount:       {" Offer {ref}: {amount} off {worth}.", " Offre {ref}: -{amount} sur {worth}.", " 优惠{ref}:{worth}立减{amount}。"},
	RRiskDeclined: {"This payment cannot be made. Nothing was done. Call customer care if you need help.",
		"Ce paiement est impossible. Rien n'a été fait. Appelez le service client si besoin.",
		"该付款无法进行。未执行任何操作。如需帮助请联系客服。"},
	RRiskHeld: {"Your payment of {amount} to {party} is being checked. The money is reserved; an SMS will tell you the outcome.",
		"Votre paiement de {amount} à {party} est en cours de vérification. L'argent est réservé; un SMS vous dira la suite.",
		"您向{party}支付的{amount}正在审核。款项已预留,结果将以短信通知。"},
	RRiskReleased: {"Your payment of {amount} to {party} has gone through. Ref {ref}.",
		"Votre paiement de {amount} à {party} est effectué. Réf {ref}.",
		"您向{party}支付的{amount}已完成。编号 {ref}。"},
	RReceiveBank: {"Money sent to you now goes to your bank account {account}. Send RECEIVE PURSE to keep it in your e-purse.",
		"L'argent envoye vous arrivera sur votre compte bancaire {account}. Envoyez RECEVOIR PORTEMONNAIE pour le garder dans votre porte-monnaie.",
		"转给您的钱今后将转入您的银行账户 {account}。发送 收款 钱包 可改回存入钱包。"},
	RReceivePurse: {"Money sent to you now stays in your e-purse.", "L'argent envoye vous restera dans votre porte-monnaie.", "转给您的钱今后将存入您的钱包。"},
	RReceiveNoBank: {"No bank account is linked to your e-purse. Ask your operator to link one first.",
		"Aucun compte bancaire n'est lie a votre porte-monnaie. Demandez d'abord a votre operateur d'en lier un.",
		"您的钱包尚未关联银行账户。请先联系运营商关联。"},
	RReceiveNoConnector: {"Money cannot be sent on to a bank account here. It stays in your e-purse.",
		"L'argent ne peut pas etre vire sur un compte bancaire ici. Il reste dans votre porte-monnaie.",
		"此处不支持转入银行账户,款项将存入您的钱包。"},
	RReceivedToBank: {"{amount} from {party} {name}: on its way to your bank account {account}. Ref {ref}. Receipt {receipt}",
		"{amount} de {party} {name}: en route vers votre compte bancaire {account}. Ref {ref}. Preuve {receipt}",
		"收到 {party} {name} 转来的 {amount},正在转入您的银行账户 {account}。编号 {ref}。凭证 {receipt}"},
	RBankReceived: {"{amount} from {party} is on your bank account {account}. Bank approval {name}.",
		"{amount} de {party} est sur votre compte bancaire {account}. Autorisation banque {name}.",
		"{party} 转来的 {amount} 已转入您的银行账户 {account}。银行授权号 {name}。"},
	RBankReceiveToPurse: {"Your bank did not take {amount} from {party} ({arg}): it is in your e-purse. Balance {balance}.",
		"Votre banque n'a pas pris {amount} de {party} ({arg}): la somme est dans votre porte-monnaie. Solde {balance}.",
		"您的银行未接收 {party} 转来的 {amount}({arg}),款项已存入您的钱包。余额 {balance}。"},
	RSettings: {"Your settings:\n{lines}", "Vos reglages:\n{lines}", "您的设置:\n{lines}"},
	RStats: {"{month}: {amount} in {payments} ({prevmonth} {prev}{change}). {parts}.",
		"{month}: {amount} en {payments} ({prevmonth} {prev}{change}). {parts}.",
		"{month}:{payments}共{amount}({prevmonth} {prev}{change})。{parts}。"},
	RStatsNone: {"No payments yet this month.", "Aucun paiement ce mois-ci.", "本月还没有付款。"},
	RConfirmVoice: {"Payments waiting for your YES will now be confirmed by a phone call: key in your PIN, then #. CONFIRM SMS to go back to codes.",
		"Les paiements à confirmer le seront par un appel: tapez votre PIN puis #. CONFIRMER SMS pour revenir aux codes.",
		"待确认的付款今后将通过电话确认:输入密码后按#。发送 确认方式 短信 恢复短信确认码。"},
	RConfirmSMS: {"Payments waiting for your YES will now be confirmed by a code texted to you.",
		"Les paiements à confirmer le seront par un code envoyé par SMS.",
		"待确认的付款今后将通过短信确认码确认。"},
	RVoiceUnavailable: {"Confirmation by phone call is not available now. We will go on texting you a code.",
		"La confirmation par appel n'est pas disponible. Nous continuons à vous envoyer un code par SMS.",
		"暂不支持电话确认。我们将继续以短信发送确认码。"},
	RVoiceCalling: {"We are calling you to confirm {arg} of {amount} to {party}: answer and key in your PIN, then #.",
		"Nous vous appelons pour confirmer {arg} de {amount} à {party}: répondez et tapez votre PIN puis #.",
		"我们将致电您确认向{party}的{arg} {amount}:请接听并输入密码后按#。"},
	RVoiceNoAnswer: {"We called you about {amount} to {party} and got no answer. The payment was not made; nothing was taken.",
		"Nous vous avons appelé pour {amount} à {party}, sans réponse. Le paiement n'a pas été fait; rien n'a été pris.",
		"我们就向{party}支付{amount}致电您,无人接听。付款未完成,未扣任何款项。"},
	RVoiceRefused: {"The PIN keyed in our call about {amount} to {party} was wrong. The payment was not made; nothing was taken.",
		"Le PIN tapé lors de notre appel pour {amount} à {party} était erroné. Le paiement n'a pas été fait; rien n'a été pris.",
		"在关于向{party}支付{amount}的来电中输入的密码错误。付款未完成,未扣任何款项。"},
	RVoiceFailed: {"Our call about {amount} to {party} could not be completed. The payment was not made; nothing was taken.",
		"Notre appel pour {amount} à {party} n'a pas abouti. Le paiement n'a pas été fait; rien n'a été pris.",
		"关于向{party}支付{amount}的来电未能完成。付款未完成,未扣任何款项。"},
	RVoicePrompt: {"Pay {amount} to {party}. Key in your PIN, then hash.",
		"Payer {amount} à {party}. Tapez votre code PIN, puis dièse.",
		"向{party}支付{amount}。请输入密码,然后按井号键。"},
	RVoiceWrong: {"Wrong PIN. {n} tries left. Key in your PIN, then hash.",
		"Code PIN erroné. Encore {n} essais. Tapez votre code PIN, puis dièse.",
		"密码错误。还可尝试{n}次。请输入密码,然后按井号键。"},
	RVoiceDone: {"Thank you. Your payment is confirmed.", "Merci. Votre paiement est confirmé.", "谢谢。您的付款已确认。"},
	RVoiceBye:  {"The payment was not made. Goodbye.", "Le paiement n'a pas été fait. Au revoir.", "付款未完成。再见。"},
	RBillNoAccount: {"No account saved for {arg}. Send BILL {arg} account amount pin once: the account is kept for next time.",
		"Aucun compte enregistré pour {arg}. Envoyez FACTURE {arg} compte montant pin une fois: le compte est gardé.",
		"未保存{arg}的账号。请先发送 缴费 {arg} 账号 金额 密码,账号将被保存。"},
	ROrderMade: {"Standing order {n} set: {amount} to {party} every {day}. First payment on {date}. ORDERS pin lists them.",
		"Ordre permanent {n} créé: {amount} à {party} chaque {day}. Premier paiement le {date}. ORDRES pin les liste.",
		"定期{n}已设置:每{day}向{party}支付{amount}。首次付款 {date}。定期 密码 查看。"},
	ROrdersFull: {"You have {n} standing orders, the most allowed. STOPORDER n pin ends one. Nothing set.",
		"Vous avez {n} ordres permanents, le maximum. ARRETORDRE n pin en arrete un. Rien n'a été créé.",
		"您已有{n}个定期,已达上限。取消定期 序号 密码 可取消。未设置。"},
	ROrders:     {"Standing orders:\n{lines}", "Ordres permanents:\n{lines}", "定期:\n{lines}"},
	ROrdersNone: {"No standing orders. EVERY day BILL or SEND ... pin sets one.", "Aucun ordre permanent. CHAQUE jour FACTURE ou ENVOYER ... pin en crée un.", "没有定期。每 日期 缴费 或 转账 ... 密码 可设置。"},
	ROrderStopped: {"Standing order {n} stopped: {amount} to {party} every {day}. No more payments.",
		"Ordre permanent {n} arrete: {amount} à {party} chaque {day}. Plus de paiements.",
		"定期{n}已取消:每{day}向{party}支付{amount}。不再付款。"},
	ROrderNotFound: {"No standing order {n}. ORDERS pin lists them.", "Pas d'ordre permanent {n}. ORDRES pin les liste.", "没有定期{n}。定期 密码 查看。"},
	ROrderDue:      {"Standing order {amount} to {party} due {date} not paid:", "Ordre permanent {amount} à {party} du {date} non payé:", "{date}应向{party}支付的定期{amount}未付:"},
	ROrderNeedsYes: {"above {limit} a payment needs your YES. Nothing was taken: pay it yourself if you wish.",
		"au-dela de {limit} un paiement demande votre OUI. Rien n'a été pris: payez-le vous-meme si vous le souhaitez.",
		"超过{limit}的付款需您确认。未扣款,如需请自行支付。"},
	ROrderTooLarge: {"A standing order pays without your YES, so it can be at most {limit}. Nothing set.",
		"Un ordre permanent paie sans votre OUI: au plus {limit}. Rien n'a été créé.",
		"定期付款无需确认,金额最多{limit}。未设置。"},
	RBadDay: {"Unknown day {arg}. Use MON to SUN, or 1 to 31 for a day of the month.",
		"Jour {arg} inconnu. Utilisez LUN à DIM, ou 1 à 31 pour un jour du mois.",
		"未知日期{arg}。请用 周一 至 周日,或 1 至 31 表示每月几号。"},
	ROrderEnded: {"Customer care ended your standing order: {amount} to {party} every {day}.",
		"Le service client a arrete votre ordre permanent: {amount} à {party} chaque {day}.",
		"客服已取消您的定期:每{day}向{party}支付{amount}。"},
	RPayoutIssued: {"Payout of {amount} on its way to your bank account {account}. Ref {ref}. Kept for refunds: {limit}.",
		"Virement de {amount} en cours vers votre compte {account}. Réf {ref}. Réserve pour remboursements: {limit}.",
		"{amount} 正在转入您的银行账户 {account}。编号 {ref}。为退款保留 {limit}。"},
	RPayoutRejected: {"Your bank refused the payout {ref} of {amount} ({arg}). The money is back on your account: check your IBAN.",
		"Votre banque a refusé le virement {ref} de {amount} ({arg}). L'argent est revenu sur votre compte: vérifiez votre IBAN.",
		"您的银行拒绝了转账 {ref}({amount},{arg})。款项已退回您的账户:请核对您的IBAN。"},
	RRiskVoided: {"Your payment of {amount} to {party} was not made. The money is back in your e-purse.",
		"Votre paiement de {amount} à {party} n'a pas été effectué. L'argent est revenu dans votre porte-monnaie.",
		"您向{party}支付的{amount}未完成。款项已退回您的钱包。"},
	ROffers:       {"Offers for you: {lines}. JOIN code to join one.", "Offres pour vous: {lines}. REJOINDRE code pour participer.", "您可参加的优惠:{lines}。发送 参加 代码 参加。"},
	ROffersNone:   {"No offers for you now.", "Aucune offre pour vous en ce moment.", "目前没有适合您的优惠。"},
	RJoined:       {"You joined {ref} ({name}) at {party}: it applies when you pay there. LEAVE {ref} to leave.", "Vous participez à {ref} ({name}) chez {party}: appliquée quand vous y payez. QUITTER {ref} pour la quitter.", "您已参加{party}的优惠{ref}({name}),在该商户付款时自动使用。发送 退出 {ref} 退出。"},
	RLeft:         {"You left {ref}.", "Vous ne participez plus à {ref}.", "您已退出优惠{ref}。"},
	RNoOffer:      {"No offer {ref} is running. OFFERS lists yours.", "Aucune offre {ref} en cours. OFFRES les liste.", "没有进行中的优惠{ref}。发送 优惠 查看。"},
	RPromoOn:      {"You will receive offers. Send PROMO OFF to stop.", "Vous recevrez des offres. Envoyez PROMO NON pour ne plus en recevoir.", "您将收到优惠信息。发送 促销 关 退订。"},
	RPromoOff:     {"You will not receive offers any more.", "Vous ne recevrez plus d'offres.", "您将不再收到优惠信息。"},
	RReceiptValid: {"Receipt {receipt} is genuine: {amount} to {party}, ref {ref}.", "Preuve {receipt} authentique: {amount} à {party}, réf {ref}.", "凭证 {receipt} 真实有效:{amount} 给{party},编号 {ref}。"},
	RReceiptInvalid: {
		"Receipt {receipt} is NOT genuine. Do not trust the message that showed it.",
		"Preuve {receipt} NON authentique. Ne vous fiez pas au message.",
		"凭证 {receipt} 无效,请勿相信该信息。",
	},
	RBadRef: {"Reference {arg} not accepted: letters and digits, at most 32 bytes. Nothing was done.", "Référence {arg} refusée: lettres et chiffres, 32 octets au plus. Rien n'a été fait.", "备注 {arg} 无效:仅限字母数字,最多32字节。未执行任何操作。"},
	RRepeatPaid: {
		"You already paid {amount} to {party} at {time}, Ref {ref}. Nothing moved again. To pay again add a reference: PAY shop amount ref pin",
		"Vous avez déjà payé {amount} à {party} à {time}, Réf {ref}. Rien n'a bougé. Pour payer encore, ajoutez une référence: PAYER code montant réf pin",
		"您已于{time}向{party}付款 {amount},编号 {ref}。本次未重复扣款。如需再次付款,请加备注:付款 商户 金额 备注 密码",
	},
	RRepeatSent: {
		"You already sent {amount} to {party} at {time}, Ref {ref}. Nothing moved again. To send again add a reference: SEND phone amount ref pin",
		"Vous avez déjà envoyé {amount} à {party} à {time}, Réf {ref}. Rien n'a bougé. Pour renvoyer, ajoutez une référence: ENVOYER tel montant réf pin",
		"您已于{time}向{party}转账 {amount},编号 {ref}。本次未重复转账。如需再次转账,请加备注:转账 手机 金额 备注 密码",
	},
	RRepeat: {"We already answered this message at {time}; nothing was done again. To repeat a payment on purpose, add a reference.", "Nous avons déjà répondu à ce message à {time}; rien n'a été refait. Pour refaire un paiement, ajoutez une référence.", "此信息已于{time}处理,未重复执行。如需再次付款,请加备注。"},
	RLimitPerPayment: {
		"Above your limit of {limit} per payment. Nothing was done.",
		"Au-dessus de votre plafond de {limit} par paiement. Rien n'a été fait.",
		"超出单笔限额 {limit}。未执行任何操作。",
	},
	RLimitDaily: {
		"Over your 24-hour limit: you can still spend {limit} now. Nothing was done.",
		"Plafond sur 24 h atteint: encore {limit} utilisables. Rien n'a été fait.",
		"超出24小时限额:目前还可使用 {limit}。未执行任何操作。",
	},
	RLimitBalance: {
		"The e-purse of {party} cannot hold that much: it can receive {limit} more. Nothing was done.",
		"Le porte-monnaie de {party} ne peut pas recevoir autant: encore {limit} au plus. Rien n'a été fait.",
		"{party}的钱包余额将超出上限:最多还可收 {limit}。未执行任何操作。",
	},
	RTooManyHolds: {
		"Too many payments are already waiting for {party}. Nothing was done.",
		"Trop de paiements attendent déjà {party}. Rien n'a été fait.",
		"等待{party}领取的款项过多。未执行任何操作。",
	},
	RBalanceBlocked: {
		"Balance {balance}. Your e-purse is BLOCKED: no payment can leave it. Call customer care to unblock it.",
		"Solde {balance}. Votre porte-monnaie est BLOQUE: aucun paiement possible. Appelez le service client.",
		"余额 {balance}。您的钱包已冻结,无法付款。请联系客服解冻。",
	},
	RNotActivated: {
		"Your e-purse was opened by an agent. Reply PIN code newpin with the code we sent you, or ask the agent for a new code.",
		"Votre porte-monnaie a été ouvert par un agent. Répondez PIN code nouveau avec le code envoyé, ou demandez un nouveau code.",
		"您的钱包已由网点开通。请回复 密码 验证码 新密码 设置密码,或向网点索取新验证码。",
	},
	RActivate: {
		"Your e-purse is ready. To choose your PIN reply PIN {code} newpin within {n} hours. Never share this code.",
		"Votre porte-monnaie est ouvert. Pour choisir votre PIN répondez PIN {code} nouveau sous {n} h. Ne donnez jamais ce code.",
		"您的钱包已就绪。请在{n}小时内回复 密码 {code} 新密码 设置密码。切勿泄露此验证码。",
	},
	RActivated:   {"Your PIN is set and your e-purse is active. Balance {balance}. Send HELP for commands.", "Votre PIN est enregistré, porte-monnaie actif. Solde {balance}. Envoyez AIDE.", "密码已设置,钱包已启用。余额 {balance}。发送 帮助 查看命令。"},
	RLockedAdmin: {"Too many wrong PINs: your e-purse is locked. Call customer care to unlock it.", "Trop d'erreurs de PIN: porte-monnaie bloqué. Appelez le service client.", "密码错误次数过多,钱包已锁定。请联系客服解锁。"},
	RUnlocked:    {"Your e-purse is unlocked: you can use your PIN again.", "Votre porte-monnaie est débloqué: votre PIN fonctionne de nouveau.", "您的钱包已解锁,可以再次使用密码。"},
	RTierChanged: {
		"Your e-purse is now level {n}: up to {limit} per payment, {amount} per 24 hours.",
		"Votre porte-monnaie passe au niveau {n}: {limit} par paiement, {amount} par 24 h.",
		"您的钱包已升级为{n}级:单笔最多 {limit},24小时最多 {amount}。",
	},
	RReceiptFromYou:  {"Receipt {receipt} is genuine: {amount} from you to {party}, ref {ref}.", "Preuve {receipt} authentique: {amount} de vous à {party}, réf {ref}.", "凭证 {receipt} 真实:您向{party}支付 {amount},编号 {ref}。"},
	RReceiptToYou:    {"Receipt {receipt} is genuine: {amount} to you from {party}, ref {ref}.", "Preuve {receipt} authentique: {amount} pour vous de {party}, réf {ref}.", "凭证 {receipt} 真实:{party}向您支付 {amount},编号 {ref}。"},
	RReceiptNotYours: {"Receipt {receipt} is genuine but NOT for your number: {amount} to {party}. Do not trust a message saying it is yours.", "Preuve {receipt} authentique mais PAS pour votre numéro: {amount} à {party}. Méfiez-vous.", "凭证 {receipt} 真实,但与您的号码无关:{amount} 给{party}。请勿轻信。"},
	RNotPossible:     {"This request cannot be done as written. Nothing was done. Send HELP.", "Cette demande est impossible telle quelle. Rien n'a été fait. Envoyez AIDE.", "该请求无法执行。未执行任何操作。发送 帮助。"},
	RAccountClosed:   {"This e-purse is closed. Call customer care.", "Ce porte-monnaie est fermé. Appelez le service client.", "该钱包已注销。请联系客服。"},
	RClosedNotice:    {"Your e-purse has been closed; {amount} was paid out to you. Thank you.", "Votre porte-monnaie est fermé; {amount} vous ont été versés. Merci.", "您的钱包已注销,已向您支付 {amount}。谢谢。"},
	RReversedIn:      {"Payment Ref {ref} was reversed: {amount} is back in your e-purse. Balance {balance}.", "Paiement Réf {ref} annulé: {amount} rendus. Solde {balance}.", "编号 {ref} 的付款已撤销:{amount} 已退回。余额 {balance}。"},
	RReversedOut:     {"Payment Ref {ref} was reversed: {amount} was taken back from your e-purse. Balance {balance}.", "Paiement Réf {ref} annulé: {amount} repris. Solde {balance}.", "编号 {ref} 的付款已撤销:已扣回 {amount}。余额 {balance}。"},
	RReversedOutShop: {
		"Payment Ref {ref} was reversed: {amount} was taken back from your account. Balance {balance}.",
		"Paiement Réf {ref} annulé: {amount} repris sur votre compte. Solde {balance}.",
		"编号 {ref} 的付款已撤销:已从您的账户扣回 {amount}。余额 {balance}。",
	},
	RClaimWaiting: {
		"{amount} from {party} waits for you, but your e-purse level cannot hold it. Ask an agent to raise your level within {n} days.",
		"{amount} de {party} vous attendent, mais votre niveau ne permet pas de les recevoir. Demandez à un agent sous {n} jours.",
		"{party}转给您的 {amount} 待领取,但您的钱包等级上限不足。请在{n}天内到网点升级。",
	},
	RToppedUp:    {"Cash-in: {amount} added to your e-purse. Balance {balance}. Ref {ref}", "Versement: {amount} ajoutés à votre porte-monnaie. Solde {balance}. Réf {ref}", "充值:{amount} 已存入钱包。余额 {balance}。编号 {ref}"},
	RPayeeClosed: {"The account of {party} is closed: nothing was paid.", "Le compte de {party} est fermé: rien n'a été payé.", "{party}的账户已注销,未付款。"},
	RPayRequest: {
		"{party} asks {amount} for {account}: reply YES {code} to pay, NO {code} to refuse. Valid {n} min.",
		"{party} demande {amount} pour {account}: répondez OUI {code} pour payer, NON {code} pour refuser. Valable {n} min.",
		"{party}请求为{account}付款 {amount}:回复 是 {code} 付款,否 {code} 拒绝。{n}分钟内有效。",
	},
	RCheckoutCode: {
		"Code {code} to pay {amount} to {party} on its web page. Valid {n} min. Never give it to anyone by phone.",
		"Code {code} pour payer {amount} à {party} sur sa page web. Valable {n} min. Ne le donnez jamais par téléphone.",
		"验证码 {code}:在{party}网页上支付 {amount}。{n}分钟内有效。切勿在电话中告诉他人。",
	},
	RMerchantPaidRef: {
		"Payment received: {amount} from {party} for {account}. Ref {ref}. Receipt {receipt}",
		"Paiement de {amount} par {party} pour {account}. Réf {ref}. Preuve {receipt}",
		"收到{party}付款 {amount},用于 {account}。编号 {ref}。凭证 {receipt}",
	},
	RRefundToLine: {
		"{party} refunded {amount}: {fee} to your credit line, {limit} to your e-purse. Balance {balance}. Ref {ref}",
		"{party} vous a remboursé {amount}: {fee} sur votre ligne de crédit, {limit} sur votre porte-monnaie. Solde {balance}. Réf {ref}",
		"{party}已退款 {amount}:{fee} 退至信用额度,{limit} 退至钱包。余额 {balance}。参考号 {ref}",
	},
	RPINWasReset: {
		"Your PIN was reset: use the code we texted you to set a new one (PIN <code> <new pin>). Nothing was done.",
		"Votre PIN a été réinitialisé: utilisez le code envoyé par SMS pour en choisir un nouveau (PIN <code> <nouveau pin>). Rien n'a été fait.",
		"您的密码已重置:请用短信收到的验证码设置新密码(密码 验证码 新密码)。未执行任何操作。",
	},
	RMerchantRefund: {
		"{party} refunded {amount} to your e-purse. Balance {balance}. Ref {ref}",
		"{party} vous a remboursé {amount}. Solde {balance}. Réf {ref}",
		"{party}已退款 {amount} 至您的钱包。余额 {balance}。参考号 {ref}",
	},
	RPayDeclined: {"You refused the payment to {party}. Nothing was paid.", "Vous avez refusé le paiement à {party}. Rien n'a été payé.", "您已拒绝向{party}付款。未支付任何款项。"},
	RCompanyPaid: {
		"Paid {amount} to {name} on {party}'s account. Fee {fee}. Ref {ref}. Receipt {receipt}",
		"Payé {amount} à {name} sur le compte de {party}. Frais {fee}. Réf {ref}. Preuve {receipt}",
		"已用{party}的账户向{name}支付 {amount}。手续费 {fee}。参考号 {ref}。凭证 {receipt}",
	},
	RCompanyNo: {
		"You may not pay {arg} on {party}'s account. Nothing was paid.",
		"Vous ne pouvez pas payer {arg} sur le compte de {party}. Rien n'a été payé.",
		"您不能用{party}的账户支付{arg}。未支付任何款项。",
	},
	RCompanyLimit: {
		"Above your limit on {party}'s account: {limit} left. Nothing was paid.",
		"Au-delà de votre plafond sur le compte de {party}: reste {limit}. Rien n'a été payé.",
		"超出您在{party}账户的限额:剩余 {limit}。未支付任何款项。",
	},
	RDebitAsk: {
		"DEBIT {amount} to {party} from your bank account {account}. Irreversible. Reply YES {code} to pay, NO {code} to cancel. Valid {n} min.",
		"DEBIT {amount} à {party} depuis votre compte {account}. Irréversible. Répondez OUI {code} pour payer, NON {code} pour annuler. Valable {n} min.",
		"从您的银行账户 {account} 向{party}直接付款 {amount},不可撤销。回复 是 {code} 付款,否 {code} 取消。{n}分钟内有效。",
	},
	RDebitPending: {
		"Sent to your bank: {amount} to {party}. We will confirm by SMS.",
		"Transmis à votre banque: {amount} à {party}. Confirmation par SMS.",
		"已发送至您的银行:向{party}付款 {amount}。结果将以短信通知。",
	},
	RDebitPaid: {
		"Paid {amount} to {party} from your bank account {account}. Bank approval {name}. Ref {ref}. Receipt {receipt}",
		"Payé {amount} à {party} depuis votre compte {account}. Autorisation {name}. Réf {ref}. Preuve {receipt}",
		"已从银行账户 {account} 向{party}支付 {amount}。银行授权 {name}。参考号 {ref}。凭证 {receipt}",
	},
	RDebitDeclined: {
		"Your bank declined the DEBIT of {amount} to {party} ({arg}). Nothing was paid.",
		"Votre banque a refusé le DEBIT de {amount} à {party} ({arg}). Rien n'a été payé.",
		"您的银行拒绝了向{party}的付款 {amount}({arg})。未支付任何款项。",
	},
	RDebitReversed: {
		"Your bank did not answer in time: the DEBIT of {amount} to {party} is cancelled and nothing is taken.",
		"Votre banque n'a pas répondu à temps: le DEBIT de {amount} à {party} est annulé, rien n'est prélevé.",
		"您的银行未及时回复:向{party}的付款 {amount} 已取消,未扣任何款项。",
	},
	RBankNotLinked: {
		"No bank account is linked to your e-purse. Ask an agent to link one, then send DEBIT again.",
		"Aucun compte bancaire n'est lié à votre porte-monnaie. Demandez à un agent de le lier.",
		"您的钱包未关联银行账户。请联系代理人关联后再发送。",
	},
	RBankLinked: {
		"Bank account {account} is now linked to your e-purse: DEBIT pays from it.",
		"Le compte {account} est lié à votre porte-monnaie: DEBIT paie depuis ce compte.",
		"银行账户 {account} 已关联到您的钱包。",
	},
	RCreditHeld: {
		"Authorised {amount} at {party} on your credit line. Available {balance}. Ref {ref}",
		"Autorisé {amount} chez {party} sur votre ligne de crédit. Disponible {balance}. Réf {ref}",
		"已在{party}授权 {amount}(信用额度)。可用 {balance}。参考号 {ref}",
	},
	RMerchantHeld: {
		"Authorisation {amount} from {party}. Ref {ref}. Capture or void it with the merchant API.",
		"Autorisation {amount} de {party}. Réf {ref}. A capturer ou annuler par l'API marchand.",
		"来自{party}的授权 {amount}。参考号 {ref}。请通过商户接口请款或撤销。",
	},
	RCreditCaptured: {
		"{party} charged {amount} to your credit line. Available {balance}. Ref {ref}. Receipt {receipt}",
		"{party} a débité {amount} sur votre ligne de crédit. Disponible {balance}. Réf {ref}. Preuve {receipt}",
		"{party}已从您的信用额度扣款 {amount}。可用 {balance}。参考号 {ref}。凭证 {receipt}",
	},
	RCreditReleased: {
		"The authorisation of {amount} at {party} is released. Available {balance}.",
		"L'autorisation de {amount} chez {party} est levée. Disponible {balance}.",
		"在{party}的授权 {amount} 已释放。可用 {balance}。",
	},
	RCreditLine: {
		"Credit line: limit {limit}, used {amount}, held {fee}, available {balance}.{lines}",
		"Ligne de crédit: plafond {limit}, utilisé {amount}, réservé {fee}, disponible {balance}.{lines}",
		"信用额度:上限 {limit},已用 {amount},冻结 {fee},可用 {balance}。{lines}",
	},
	RRepaid: {
		"Repaid {amount} on your credit line: {limit} still owed, available {fee}. Balance {balance}. Ref {ref}",
		"Remboursé {amount} sur votre ligne de crédit: reste du {limit}, disponible {fee}. Solde {balance}. Réf {ref}",
		"已偿还信用额度 {amount}:尚欠 {limit},可用 {fee}。余额 {balance}。参考号 {ref}",
	},
	RNothingOwed: {
		"You owe nothing on your credit line: nothing was repaid. Available {balance}.",
		"Vous ne devez rien sur votre ligne de crédit: rien n'a été remboursé. Disponible {balance}.",
		"您的信用额度没有欠款,未还款。可用 {balance}。",
	},
	RNoCreditLine: {
		"You have no credit line. Ask an agent.",
		"Vous n'avez pas de ligne de crédit. Demandez à un agent.",
		"您没有信用额度。请联系代理人。",
	},
	RCreditGranted: {
		"Your credit line: limit {limit}. CREDIT shop amount pin to pay, CREDIT pin for the statement, REPAY amount pin to repay.",
		"Votre ligne de crédit: plafond {limit}. CREDIT code montant pin pour payer, CREDIT pin pour le relevé, REMBOURSER montant pin.",
		"您的信用额度:上限 {limit}。信用 商户 金额 密码 付款;信用 密码 查询;还款 金额 密码。",
	},
	RMerchantReleased: {
		"The authorisation of {amount} from {party} expired and is released. Ref {ref}",
		"L'autorisation de {amount} de {party} a expiré et est levée. Réf {ref}",
		"来自{party}的授权 {amount} 已过期并释放。参考号 {ref}",
	},
	RCreditFrozen: {"Your credit line is frozen: no new payment on it. Call customer care.", "Votre ligne de crédit est gelée: aucun nouveau paiement. Appelez le service client.", "您的信用额度已冻结,不能新增付款。请致电客服。"},
	RCreditDue:    {"Minimum due {amount} by {time}.", "Minimum du {amount} avant le {time}.", "最低还款 {amount},截止 {time}。"},
	RCreditStatement: {
		"Credit line statement: owed {limit}. Minimum due {amount} by {time}. Send REPAY amount pin.",
		"Relevé de ligne de crédit: du {limit}. Minimum {amount} avant le {time}. Envoyez REMBOURSER montant pin.",
		"信用额度账单:欠款 {limit}。最低还款 {amount},截止 {time}。请发送 还款 金额 密码。",
	},
	RCreditOverdue: {
		"Your credit line is overdue: repay at least {amount} (REPAY amount pin) to use it again. Nothing was done.",
		"Votre ligne de crédit est en retard: remboursez au moins {amount} pour la réutiliser. Rien n'a été fait.",
		"您的信用额度已逾期:请至少还款 {amount} 后再使用。未执行任何操作。",
	},
	RHoldCaptured: {"Captured {amount} from {party}. Ref {ref}. Receipt {receipt}", "Encaissé {amount} de {party}. Réf {ref}. Preuve {receipt}", "已向{party}请款 {amount}。参考号 {ref}。凭证 {receipt}"},
	RHoldVoided:   {"Released the authorisation of {amount} from {party}. Ref {ref}", "Autorisation de {amount} de {party} levée. Réf {ref}", "已撤销来自{party}的授权 {amount}。参考号 {ref}"},
	RHoldNotFound: {"No open authorisation with reference {arg}. Nothing was done.", "Aucune autorisation ouverte avec la référence {arg}. Rien n'a été fait.", "没有参考号为 {arg} 的有效授权。未执行任何操作。"},
	RBankRefundSent: {
		"{party} refunded {amount}: it is on its way to your bank account {account}. Bank approval {name}.",
		"{party} vous a remboursé {amount}: virement en cours vers votre compte {account}. Autorisation {name}.",
		"{party}已退款 {amount},正在转入您的银行账户 {account}。银行授权 {name}。",
	},
	RBankRefundToPurse: {
		"{party} refunded {amount}. Your bank could not take it ({arg}): it is in your e-purse. Balance {balance}.",
		"{party} vous a remboursé {amount}. Votre banque n'a pas pu le recevoir ({arg}): il est dans votre porte-monnaie. Solde {balance}.",
		"{party}已退款 {amount}。您的银行无法入账({arg}),款项已存入您的钱包。余额 {balance}。",
	},
	RStopped: {"You will not receive offers any more. Send START to receive them again.", "Vous ne recevrez plus d'offres. Envoyez START pour en recevoir à nouveau.", "您将不再收到优惠信息。发送 订阅 可重新接收。"},
	RStarted: {"You will receive offers. Send STOP to stop them at any time.", "Vous recevrez des offres. Envoyez ARRET pour ne plus en recevoir.", "您将收到优惠信息。随时发送 退订 即可停止。"},
	RData: {
		"Your data: balance {balance}, {n} operations, offers {offers}. Payments are kept {years} years after you leave. Everything we hold, for {minutes} min, once: {link}",
		"Vos donnees: solde {balance}, {n} operations, offres {offers}. Paiements gardes {years} ans apres votre depart. Tout ce que nous gardons, {minutes} min, une fois: {link}",
		"您的数据:余额 {balance},{n}笔交易,优惠信息{offers}。付款记录在您离开后保留{years}年。全部数据({minutes}分钟内一次有效):{link}",
	},
	RDataLimit: {"You asked for your data {n} times today: try again tomorrow. Nothing was sent.", "Vous avez demande vos donnees {n} fois aujourd'hui: reessayez demain. Rien n'a ete envoye.", "您今天已申请{n}次数据,请明天再试。未发送任何内容。"},
	RFlood:     {"Too many messages from your number. Wait a minute: messages sent meanwhile are answered later.", "Trop de messages de votre numéro. Patientez une minute: les messages envoyés entre-temps seront traités plus tard.", "您发送的信息过多。请稍候一分钟,之后的信息将陆续处理。"},
	RBusy:      {"Service busy, please try again in a few minutes. Nothing was done.", "Service occupé, réessayez dans quelques minutes. Rien n'a été fait.", "系统繁忙,请稍后再试。未执行任何操作。"},
	RRevAsked: {
		"Asked {party} to give back {amount}, Ref {ref}. {limit} is held meanwhile. They have until {time} to answer; you will be told.",
		"{party} est prié de rendre {amount}, Réf {ref}. {limit} est bloqué en attendant. Réponse attendue avant le {time}; vous serez prévenu.",
		"已请{party}退回 {amount},编号 {ref}。已冻结 {limit}。对方须在 {time} 前答复,结果将通知您。",
	},
	RRevAsk: {
		"{party} says {amount} (Ref {ref}) was sent to you by mistake. Reply OK {code} to give it back, or NO {code}, by {time}. {limit} is held meanwhile.",
		"{party} dit vous avoir envoyé {amount} par erreur (Réf {ref}). Répondez OK {code} pour le rendre, ou NON {code}, avant le {time}. {limit} est bloqué.",
		"{party}称误转给您 {amount}(编号 {ref})。回复 同意 {code} 退回,或 否 {code} 拒绝,截止 {time}。已冻结 {limit}。",
	},
	RRevReturned: {"{party} gave back {amount}, Ref {ref}. Balance {balance}.", "{party} vous a rendu {amount}, Réf {ref}. Solde {balance}.", "{party}已退回 {amount},编号 {ref}。余额 {balance}。"},
	RRevGaveBack: {"You gave back {amount} to {party}, Ref {ref}. Balance {balance}.", "Vous avez rendu {amount} à {party}, Réf {ref}. Solde {balance}.", "您已向{party}退回 {amount},编号 {ref}。余额 {balance}。"},
	RRevDeclined: {
		"{party} refused to give back {amount}, Ref {ref}. Dispute case {case} is open: customer care will decide and tell you.",
		"{party} refuse de rendre {amount}, Réf {ref}. Litige {case} ouvert: le service client décidera et vous préviendra.",
		"{party}拒绝退回 {amount},编号 {ref}。已立争议案件 {case},客服将裁定并通知您。",
	},
	RRevDeclinedPayee: {
		"You refused to give back {amount} to {party}. The hold is released. Dispute case {case} is open: customer care will decide.",
		"Vous refusez de rendre {amount} à {party}. Le blocage est levé. Litige {case} ouvert: le service client décidera.",
		"您拒绝向{party}退回 {amount}。冻结已解除。已立争议案件 {case},由客服裁定。",
	},
	RRevExpired: {
		"{party} did not answer your request for {amount}, Ref {ref}. Dispute case {case} is open: customer care will decide and tell you.",
		"{party} n'a pas répondu pour {amount}, Réf {ref}. Litige {case} ouvert: le service client décidera et vous préviendra.",
		"{party}未答复退回 {amount} 的请求,编号 {ref}。已立争议案件 {case},客服将裁定并通知您。",
	},
	RRevExpiredPayee: {
		"You did not answer the request to give back {amount} to {party}. The hold is released. Dispute case {case} is open.",
		"Vous n'avez pas répondu pour rendre {amount} à {party}. Le blocage est levé. Litige {case} ouvert.",
		"您未答复向{party}退回 {amount} 的请求。冻结已解除。已立争议案件 {case}。",
	},
	RErasureAsk: {
		"ERASE closes your e-purse ({amount} paid out) and stops offers; the law keeps your payments {years} years, then erases them. Confirm: YES {code} within {n} min.",
		"EFFACER ferme votre porte-monnaie ({amount} verses) et arrete les offres; la loi garde vos paiements {years} ans, puis les efface. Confirmez: OUI {code} sous {n} min.",
		"注销将关闭您的钱包(向您支付 {amount})并停止优惠信息;付款记录依法保留{years}年后删除。如需继续,请在{n}分钟内回复 是 {code}。",
	},
	RErasureFiled: {
		"Your e-purse is closed; {amount} was paid out to you. No more offers. Your data will be erased on {time}; until then the law keeps your payments.",
		"Votre porte-monnaie est ferme; {amount} vous ont ete verses. Plus d'offres. Vos donnees seront effacees le {time}; d'ici la, la loi garde vos paiements.",
		"您的钱包已关闭,已向您支付 {amount}。不再发送优惠信息。您的数据将于{time}删除;在此之前付款记录依法保留。",
	},
	RErasureWaiting: {
		"Payments of yours are still waiting (a YES code, a hold). Send ERASE again once they are done. Nothing was done.",
		"Des paiements a vous attendent encore (un code OUI, une reservation). Renvoyez EFFACER ensuite. Rien n'a ete fait.",
		"您还有待处理的付款(确认码或冻结款项)。处理完毕后请再发送 注销。未执行任何操作。",
	},
	RPaymentNotFound: {"No payment of yours has receipt or Ref {arg}. Nothing was done.", "Aucun paiement à vous avec la preuve ou Réf {arg}. Rien n'a été fait.", "没有凭证或编号为 {arg} 的您的付款。未执行任何操作。"},
	RRevNotSend: {
		"Only a SEND from your e-purse can be asked back. For a payment to a shop send DISPUTE receipt reason.",
		"Seul un ENVOYER depuis votre porte-monnaie peut etre demandé en retour. Pour un marchand: LITIGE preuve motif.",
		"只有从钱包发出的转账可以撤回。向商户的付款请发送 争议 凭证 原因。",
	},
	RRevTooLate: {
		"Too late to ask back Ref {ref}: a SEND can be asked back within {n} hours. Send DISPUTE receipt reason.",
		"Trop tard pour demander le retour de Réf {ref}: {n} heures au plus. Envoyez LITIGE preuve motif.",
		"编号 {ref} 已超过 {n} 小时,无法撤回。请发送 争议 凭证 原因。",
	},
	RRevTooMany:  {"Ref {ref} was asked back {n} times already. Send DISPUTE receipt reason.", "Retour de Réf {ref} déjà demandé {n} fois. Envoyez LITIGE preuve motif.", "编号 {ref} 已申请撤回 {n} 次。请发送 争议 凭证 原因。"},
	RDisputeBusy: {"A request or a dispute is already open on Ref {ref}. You will be told how it ends.", "Une demande ou un litige est déjà ouvert sur Réf {ref}. Vous serez prévenu.", "编号 {ref} 已有处理中的请求或争议,结果将通知您。"},
	RNothingLeft: {"Everything paid on Ref {ref} was given back already. Nothing was done.", "Tout le paiement Réf {ref} a déjà été rendu. Rien n'a été fait.", "编号 {ref} 的款项已全部退回。未执行任何操作。"},
	RDisputeOpened: {
		"Dispute case {case} opened on {amount} to {party}, Ref {ref}. Answer due by {time}; you will be told at each step.",
		"Litige {case} ouvert sur {amount} à {party}, Réf {ref}. Réponse attendue avant le {time}; vous serez prévenu.",
		"已就付给{party}的 {amount}(编号 {ref})立争议案件 {case}。须在 {time} 前答复,进展将通知您。",
	},
	RDisputeTooLate:  {"Too late to dispute Ref {ref}: payments can be disputed within {n} days. Call customer care.", "Trop tard pour contester Réf {ref}: {n} jours au plus. Appelez le service client.", "编号 {ref} 已超过 {n} 天,无法申请争议。请致电客服。"},
	RDisputeNotHere:  {"A top-up or a repayment cannot be disputed here. Call customer care.", "Un versement ou un remboursement ne se conteste pas ici. Appelez le service client.", "充值或还款不能在此申请争议。请致电客服。"},
	RDisputeRefund:   {"Dispute case {case} (Ref {ref}) is decided for you: {amount} is given back.", "Litige {case} (Réf {ref}) tranché en votre faveur: {amount} vous est rendu.", "争议案件 {case}(编号 {ref})裁定支持您:退回 {amount}。"},
	RDisputeRejected: {"Dispute case {case} (Ref {ref}) is decided: no refund. Call customer care with questions.", "Litige {case} (Réf {ref}) tranché: pas de remboursement. Questions: service client.", "争议案件 {case}(编号 {ref})已裁定:不予退款。如有疑问请致电客服。"},
	RCampaign:        {"{lines} (STOP to end)", "{lines} (STOP: plus d'offres)", "{lines}(回复退订停止)"},
	RDisputeReview:   {"Dispute case {case} (Ref {ref}) is with customer care, who will decide and tell you.", "Litige {case} (Réf {ref}) transmis au service client, qui décidera et vous préviendra.", "争议案件 {case}(编号 {ref})已转客服,裁定后将通知您。"},
}

// Word names what a MINI line was, when no merchant or payee says it.
type Word uint8

const (
	WordCashIn Word = iota
	WordFee
	WordRefund
	WordReversal
	WordClaimed
	WordPayout
	WordRepay
	WordBank
	WordHeld
)

var words = [...][3]string{
	WordCashIn:   {"cash-in", "versement", "充值"},
	WordFee:      {"fee", "frais", "手续费"},
	WordRefund:   {"refund", "remboursement", "退款"},
	WordReversal: {"reversal", "annulation", "撤销"},
	WordClaimed:  {"held payment claimed", "envoi en attente retiré", "领取待收款"},
	WordPayout:   {"payout", "paiement de cloture", "销户付款"},
	WordRepay:    {"credit repaid", "crédit remboursé", "信用还款"},
	WordBank:     {"bank", "banque", "银行"},
	WordHeld:     {"held for a payee", "réservé pour un bénéficiaire", "待领取转账"},
}

// Say is a MINI word in a language.
func Say(l Lang, w Word) string { return words[w][l] }

// usage is each command's syntax in each language.
var usage = map[Kind][3]string{
	Help:      {"HELP [command]", "AIDE [commande]", "帮助 [命令]"},
	Reg:       {"REG pin [name]", "INSCRIRE pin [nom]", "注册 密码 [姓名]"},
	Bal:       {"BAL pin", "SOLDE pin", "余额 密码"},
	Mini:      {"MINI pin", "RELEVE pin", "明细 密码"},
	Pay:       {"PAY merchant amount [ref] pin, e.g. PAY SHOP42 12.50 1234", "PAYER code montant [réf] pin, ex: PAYER SHOP42 12,50 1234", "付款 商户 金额 [备注] 密码,例如 付款 SHOP42 12.50 1234"},
	Bill:      {"BILL biller account amount pin", "FACTURE code compte montant pin", "缴费 机构 账号 金额 密码"},
	Send:      {"SEND phone amount [ref] pin, e.g. SEND 0612345678 5 1234", "ENVOYER tel montant [réf] pin, ex: ENVOYER 0612345678 5 1234", "转账 手机 金额 [备注] 密码"},
	Debit:     {"DEBIT merchant amount pin", "DEBIT code montant pin", "借记 商户 金额 密码"},
	Credit:    {"CREDIT merchant amount pin, or CREDIT pin", "CREDIT code montant pin, ou CREDIT pin", "信用 商户 金额 密码,或 信用 密码"},
	Statement: {"CREDIT pin", "CREDIT pin", "信用 密码"},
	Repay:     {"REPAY amount pin", "REMBOURSER montant pin", "还款 金额 密码"},
	Yes:       {"YES code", "OUI code", "是 确认码"},
	No:        {"NO code", "NON code", "否 确认码"},
	PIN:       {"PIN old new", "PIN ancien nouveau", "密码 旧密码 新密码"},
	Language:  {"LANG EN, FR or ZH", "LANGUE FR, EN ou ZH", "语言 ZH、EN 或 FR"},
	Block:     {"BLOCK (no PIN needed)", "BLOQUER (sans PIN)", "冻结(无需密码)"},
	Check:     {"CHECK receipt", "VERIFIER preuve", "验证 凭证"},
	Promo:     {"PROMO ON or OFF", "PROMO OUI ou NON", "促销 开 或 关"},
	Capture:   {"CAPTURE ref [amount] (merchants)", "ENCAISSER réf [montant] (marchands)", "请款 参考号 [金额](商户)"},
	Void:      {"VOID ref (merchants)", "ANNULER réf (marchands)", "撤销 参考号(商户)"},
	Data:      {"DATA pin", "DONNEES pin", "数据 密码"},
	Rev:       {"REV receipt pin (or the Ref)", "RETOUR preuve pin (ou la Réf)", "撤回 凭证 密码(或编号)"},
	Dispute:   {"DISPUTE receipt reason, e.g. DISPUTE 7QX2K9 never delivered", "LITIGE preuve motif, ex: LITIGE 7QX2K9 jamais livré", "争议 凭证 原因,例如 争议 7QX2K9 未收到货"},
	Ok:        {"OK code", "OK code", "同意 确认码"},
	Erase:     {"ERASE pin", "EFFACER pin", "注销 密码"},
	Points:    {"POINTS pin", "POINTS pin", "积分 密码"},
	Offers:    {"OFFERS", "OFFRES", "优惠"},
	Join:      {"JOIN code", "REJOINDRE code", "参加 代码"},
	Leave:     {"LEAVE code", "QUITTER code", "退出 代码"},
	Stats:     {"STATS pin", "STATS pin", "统计 密码"},
	ConfirmBy: {"CONFIRM VOICE pin, or CONFIRM SMS pin", "CONFIRMER APPEL pin, ou CONFIRMER SMS pin", "确认方式 语音 密码,或 确认方式 短信 密码"},
	Receive:   {"RECEIVE BANK or PURSE", "RECEVOIR BANQUE ou PORTEMONNAIE", "收款 银行 或 钱包"},
	Settings:  {"SETTINGS pin", "REGLAGES pin", "设置 密码"},
	Every:     {"EVERY day BILL biller [acct] amount pin, or SEND phone amount pin; day MON..SUN or 1..31", "CHAQUE jour FACTURE code [cpte] montant pin, ou ENVOYER tel montant pin; jour LUN..DIM ou 1..31", "每 日期 缴费 机构 [账号] 金额 密码,或 转账 手机 金额 密码;日期 周一..周日 或 1..31"},
	Orders:    {"ORDERS pin", "ORDRES pin", "定期 密码"},
	StopOrder: {"STOPORDER n pin", "ARRETORDRE n pin", "取消定期 序号 密码"},
}

// about is what each command does, for HELP <cmd>.
var about = map[Kind][3]string{
	Help:      {"The list of commands", "La liste des commandes", "命令列表"},
	Reg:       {"Open an e-purse", "Ouvrir un porte-monnaie", "开通钱包"},
	Bal:       {"Your balance and what you can pay now", "Votre solde et ce que vous pouvez payer", "查询余额及当前可付金额"},
	Mini:      {"Your last 5 operations", "Vos 5 dernières opérations", "最近5笔交易"},
	Pay:       {"Pay a shop from your e-purse; a ref lets you pay the same again", "Payer un marchand; une réf permet de payer encore la meme somme", "从钱包向商户付款;加备注可再次支付相同金额"},
	Bill:      {"Pay a bill from your e-purse", "Payer une facture", "缴纳账单"},
	Send:      {"Send money to a phone; held until they open an e-purse", "Envoyer de l'argent; réservé jusqu'à l'ouverture de son porte-monnaie", "向手机号转账;对方未开通钱包则保留至其注册"},
	Debit:     {"Pay a shop from your linked bank account after YES code; irreversible", "Payer un marchand depuis votre compte bancaire lié après OUI code; irréversible", "确认后从关联银行账户向商户付款;不可撤销"},
	Credit:    {"Pay a shop on your credit line; CREDIT pin shows the line", "Payer sur votre ligne de crédit; CREDIT pin affiche la ligne", "用信用额度付款;信用 密码 查询额度"},
	Statement: {"Your credit line: used, held, available, due", "Votre ligne de crédit: utilisé, réservé, disponible, du", "信用额度:已用、冻结、可用、应还"},
	Repay:     {"Repay your credit line from your e-purse", "Rembourser votre ligne de crédit depuis le porte-monnaie", "用钱包余额偿还信用额度"},
	Yes:       {"Confirm the payment the code was texted for", "Confirmer le paiement du code envoyé par SMS", "确认短信中确认码对应的付款"},
	No:        {"Refuse the payment the code was texted for", "Refuser le paiement du code envoyé par SMS", "拒绝短信中确认码对应的付款"},
	PIN:       {"Change your PIN, or set it with a code we texted you", "Changer votre PIN, ou le choisir avec le code envoyé", "修改密码,或用短信验证码设置密码"},
	Language:  {"The language of the replies", "La langue des réponses", "回复语言"},
	Block:     {"Block your e-purse at once if your phone is lost", "Bloquer tout de suite votre porte-monnaie si le téléphone est perdu", "手机丢失时立即冻结钱包"},
	Check:     {"Is a receipt genuine, and is it yours", "Une preuve est-elle authentique, et à vous", "验证凭证真伪及是否属于您"},
	Promo:     {"Receive offers, or stop them", "Recevoir des offres, ou plus", "接收或退订优惠信息"},
	Capture:   {"Take an mCredit authorisation (merchants)", "Encaisser une autorisation mCredit (marchands)", "请款 mCredit 授权(商户)"},
	Void:      {"Release an mCredit authorisation (merchants)", "Lever une autorisation mCredit (marchands)", "撤销 mCredit 授权(商户)"},
	Data:      {"What we hold about you, and a one-time link to all of it", "Ce que nous gardons sur vous, et un lien unique pour tout obtenir", "我们保存的您的数据,及一次性下载链接"},
	Rev:       {"Ask back a SEND made by mistake, within a day; the payee answers", "Demander le retour d'un envoi fait par erreur, sous 24h; le bénéficiaire répond", "一天内撤回误转的款项,由收款人确认"},
	Dispute:   {"Open a dispute on a payment; the merchant answers, customer care decides", "Contester un paiement; le marchand répond, le service client décide", "对付款提出争议;商户答复,客服裁定"},
	Ok:        {"Give back money asked back from you, with the code texted", "Rendre l'argent demandé en retour, avec le code envoyé", "用短信确认码退回对方申请撤回的款项"},
	Erase:     {"Close your e-purse and have your data erased, after YES code", "Fermer votre porte-monnaie et faire effacer vos donnees, apres OUI code", "确认后关闭钱包并删除您的数据"},
	Offers:    {"The offers for you now", "Les offres pour vous", "适合您的优惠"},
	Join:      {"Join an offer: it applies when you pay that shop", "Participer a une offre: appliquee quand vous payez ce marchand", "参加优惠,在该商户付款时自动使用"},
	Leave:     {"Leave an offer", "Quitter une offre", "退出优惠"},
	Points:    {"Your loyalty points and when they expire; PAY shop amount pin PTS pays with them", "Vos points de fidelite et leur expiration; PAYER code somme pin PTS paie avec", "查询积分及到期日;付款 商户 金额 密码 积分 用积分付款"},
	Stats:     {"This month's spend against last month's, and where it went", "Vos dépenses du mois face au mois dernier, et où elles sont allées", "本月与上月消费对比及去向"},
	ConfirmBy: {"Confirm payments by a phone call keyed with your PIN, or by a code texted", "Confirmer les paiements par un appel avec votre PIN, ou par un code SMS", "通过来电输入密码或短信确认码确认付款"},
	Receive:   {"Where money sent to you lands: your linked bank account or your e-purse", "Ou arrive l'argent envoye: votre compte bancaire lie ou votre porte-monnaie", "收款去向:关联的银行账户或钱包"},
	Settings:  {"Your preferences, and how to change them", "Vos reglages, et comment les changer", "您的设置及修改方法"},
	Every:     {"A bill or SEND paid on its day", "Facture ou envoi payé à date fixe", "按固定日期缴费或转账"},
	Orders:    {"Your standing orders, numbered", "Vos ordres permanents, numérotés", "您的定期列表"},
	StopOrder: {"End a standing order (its number in ORDERS)", "Arreter un ordre permanent (numéro dans ORDRES)", "取消定期(定期 列表中的序号)"},
}

// Usage is a command's syntax in a language.
func Usage(k Kind, l Lang) string { return usage[k][l] }

// Render writes a reply in a language.
func Render(l Lang, r Reply, a Args) string {
	if r == 0 || r >= replyCount {
		panic(fmt.Sprintf("commands: no reply %d", r))
	}
	money := func(m domain.Money) string {
		if m.Currency == "" {
			return ""
		}
		return m.Format(l.DecimalMark())
	}
	tmpl := templates[r][l]
	if a.Name == "" { // "Welcome Alice!", or "Welcome!" for a subscriber who gave no name
		tmpl = strings.ReplaceAll(tmpl, " {name}", "")
	}
	// One pass over the template; each value is computed only if its placeholder is there
	// (an SMS is rendered on the ledger's writer for the notices composed after the money).
	var b strings.Builder
	b.Grow(len(tmpl) + 64)
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		name := tmpl[i+1 : i+j]
		switch name {
		case "amount":
			b.WriteString(money(a.Amount))
		case "fee":
			b.WriteString(money(a.Fee))
		case "balance":
			b.WriteString(money(a.Balance))
		case "limit":
			b.WriteString(money(a.Limit))
		case "party":
			b.WriteString(a.Party)
		case "name":
			b.WriteString(a.Name)
		case "account":
			b.WriteString(a.Account)
		case "ref":
			b.WriteString(a.Ref)
		case "receipt":
			b.WriteString(a.Receipt)
		case "code":
			b.WriteString(a.Code)
		case "n":
			b.WriteString(strconv.Itoa(a.N))
		case "tries":
			b.WriteString(tries(l, a.N))
		case "usage":
			b.WriteString(Usage(a.Topic, l))
		case "about":
			b.WriteString(about[a.Topic][l])
		case "lines":
			b.WriteString(strings.Join(a.Lines, "\n"))
		case "arg":
			b.WriteString(MaskDigits(a.Arg))
		case "currency":
			b.WriteString(a.Currency)
		case "time":
			b.WriteString(a.Time)
		case "link":
			b.WriteString(a.Link)
		case "years":
			b.WriteString(strconv.Itoa(a.Years))
		case "minutes":
			b.WriteString(strconv.Itoa(a.Minutes))
		case "offers":
			b.WriteString(onOff(l, a.On))
		case "case":
			b.WriteString(a.Case)
		case "points":
			b.WriteString(strconv.FormatUint(a.Points, 10))
		case "total":
			b.WriteString(strconv.FormatUint(a.Total, 10))
		case "worth":
			b.WriteString(money(a.Worth))
		case "date":
			b.WriteString(a.Date)
		case "day":
			b.WriteString(DayName(l, a.Weekly, a.Day))
		case "month":
			b.WriteString(MonthName(l, a.Month))
		case "prevmonth":
			b.WriteString(MonthName(l, a.PrevMonth))
		case "prev":
			b.WriteString(number(l, a.Prev))
		case "change":
			b.WriteString(change(a.Change, a.HasChange))
		case "payments":
			b.WriteString(payments(l, a.N))
		case "parts":
			b.WriteString(parts(l, a.Parts))
		default: // not a placeholder: the brace is kept as written and the scan goes on after it
			b.WriteByte('{')
			tmpl = tmpl[i+1:]
			continue
		}
		tmpl = tmpl[i+j+1:]
	}
}

// Preferences are a subscriber's settings, as SETTINGS shows them.
type Preferences struct {
	Lang    Lang
	Offers  bool
	Receive string // ReceiveBank or ReceivePurse
	Bank    string // his linked bank account, masked ("": none)
	Orders  int    // his standing orders
	Bills   int    // billers whose account is saved (BILL without an account)
	Voice   bool   // payments waiting for his YES are confirmed by a call, not a code SMS
}

// SettingsLines are his preferences, one a line, each with the command that changes it.
func SettingsLines(l Lang, s Preferences) []string {
	where := [3]string{"e-purse", "porte-monnaie", "钱包"}[l]
	if s.Receive == ReceiveBank {
		where = [3]string{"bank account", "compte bancaire", "银行账户"}[l]
	}
	confirm := [3]string{"SMS code", "code SMS", "短信"}[l]
	if s.Voice {
		confirm = [3]string{"voice call", "appel", "语音"}[l]
	}
	bank := s.Bank
	if bank == "" {
		bank = [3]string{"none", "aucun", "无"}[l]
	}
	return []string{
		[3]string{"Language: ", "Langue: ", "语言:"}[l] + l.String() + " (LANG)",
		[3]string{"Offers: ", "Offres: ", "优惠:"}[l] + onOff(l, s.Offers) + " (PROMO)",
		[3]string{"Money sent to you: ", "Argent recu: ", "收款:"}[l] + where + " (" + Usage(Receive, l) + ")",
		[3]string{"Bank account: ", "Compte bancaire: ", "银行账户:"}[l] + bank,
		[3]string{"Confirm by: ", "Confirmation: ", "确认方式:"}[l] + confirm + " (" + Usage(ConfirmBy, l) + ")",
		[3]string{"Standing orders: ", "Ordres permanents: ", "定期:"}[l] + strconv.Itoa(s.Orders) + " (" + Usage(Orders, l) + ")",
		[3]string{"Saved bill accounts: ", "Comptes de factures: ", "已存账单账号:"}[l] + strconv.Itoa(s.Bills),
	}
}

// onOff says whether offers are on, in a language.
func onOff(l Lang, on bool) string {
	if on {
		return [3]string{"on", "oui", "开"}[l]
	}
	return [3]string{"off", "non", "关"}[l]
}

// tries is a number of tries left, singular or plural: "1 try", "2 tries", "1 essai".
func tries(l Lang, n int) string {
	switch {
	case l == ZH:
		return strconv.Itoa(n) + "次"
	case n == 1:
		return "1 " + [3]string{"try", "essai"}[l]
	}
	return strconv.Itoa(n) + " " + [3]string{"tries", "essais"}[l]
}

// ForParseError is the reply to an SMS that did not parse, and its arguments.
func ForParseError(e *ParseError) (Reply, Args) {
	a := Args{Arg: e.Arg, Topic: e.Kind}
	switch e.Problem {
	case Empty, UnknownKeyword:
		return RHelp, a
	case Arity:
		return RUsage, a
	case BadAmount:
		return RBadAmount, a
	case BadCurrency:
		return RBadCurrency, a
	case BadPhone:
		return RBadPhone, a
	case BadPIN:
		return RBadPIN, a
	case BadMerchant:
		return RBadMerchant, a
	case BadCode:
		return RBadCode, a
	case BadRef:
		return RBadRef, a
	case BadLanguage:
		return RBadLanguage, a
	case BadSwitch:
		return RBadSwitch, a
	case BadDay:
		return RBadDay, a
	}
	return RTooLong, a
}

// SampleArgs fills every blank with a realistic, long value, so that the golden file and the
// length checks see replies at their longest.
func SampleArgs() Args {
	eur := func(v uint64) domain.Money { return domain.Money{Minor: v, Currency: "EUR", Exponent: 2} }
	return Args{Amount: eur(125050), Fee: eur(150), Balance: eur(1234567), Limit: eur(50000),
		Party: "Boulangerie du Centre", Name: "Alice Martin", Account: "0042-7789-12", Ref: "7QX2K9",
		Receipt: "K4P9-2M7X-QT", Code: "483920", N: 3, Topic: Pay, Arg: "SHOP4", Currency: "EUR", Time: "23:59", Case: "D7QX2K",
		Link: "https://pay.example.com/data/Xq3vJ9kP2mR7tY4wZ8bN1cD6fG5hL0sA3eU7iO9pQ2r", Years: 5, Minutes: 15, On: true,
		Points: 12345, Total: 1234567, Worth: eur(12345), Date: "31/12/2028",
		Weekly: false, Day: 31,
		Month: time.September, PrevMonth: time.August, Prev: eur(123456), Change: -100, HasChange: true,
		Parts: []Part{{"SHOP42", eur(45050)}, {"ELECTRICITE", eur(30000)}, {"BOULANGERIE", eur(25000)}, {"", eur(25000)}},
		Lines: []string{"24/11 -12.50 EUR Corner Shop", "24/11 -0.10 EUR fee", "23/11 +1.50 EUR refund Corner Shop",
			"22/11 -5.00 EUR +336****678", "21/11 +50.00 EUR cash-in"}}
}

// Rendered is one reply in one language.
type Rendered struct {
	Lang  Lang
	Reply Reply
	Text  string
}

// Catalogue renders every reply in every language with SampleArgs, in a stable order: the
// golden file, and the check that each fits its encoding and the part cap, read it.
func Catalogue() []Rendered {
	var out []Rendered
	for r := Reply(1); r < replyCount; r++ {
		for _, l := range []Lang{EN, FR, ZH} {
			out = append(out, Rendered{l, r, Render(l, r, SampleArgs())})
		}
	}
	return out
}
