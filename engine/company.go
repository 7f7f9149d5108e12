package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mpg/commands"
	"mpg/domain"
)

// Enterprise accounts (Internet+ Pro): a company purse and the numbers of the employees
// allowed to pay merchants from it, each with a limit per payment and per calendar month
// and, if the company wants, only at some merchants. An employee pays on the company's
// account by naming it where a reference goes (`PAY SHOP42 12.50 ACME 1234`) or by giving
// its code on the checkout page. His record is written, at the version read, in the same
// job as the money: two payments racing cannot pass his monthly limit, and removing him
// stops a payment computed just before.

const (
	keyEmployee    = "@e:"  // + company %016x + ":" + number: an authorised employee
	keyEmployer    = "@ei:" // + number + ":" + company %016x: the companies a number pays for
	keyCompanyPaid = "@cp:" // + company %016x + ":" + transfer id: the company's payment log
)

func employeeKey(company uint64, msisdn string) string {
	return fmt.Sprintf("%s%016x:%s", keyEmployee, company, msisdn)
}
func employerKey(msisdn string, company uint64) string {
	return fmt.Sprintf("%s%s:%016x", keyEmployer, msisdn, company)
}

// Employee is an authorised number of a company and what it has spent this month.
type Employee struct {
	MSISDN     string   `json:"msisdn"`
	PerPayment uint64   `json:"per_payment"`         // minor units; 0: no limit
	Monthly    uint64   `json:"monthly"`             // per calendar month; 0: no limit
	Merchants  []string `json:"merchants,omitempty"` // merchant codes; none: any merchant
	Month      string   `json:"month,omitempty"`     // YYYY-MM of Spent
	Spent      uint64   `json:"spent,omitempty"`
	Added      int64    `json:"added"`
}

// CompanyPayment is one line of a company's payment log.
type CompanyPayment struct {
	Transfer string `json:"transfer"`
	Employee string `json:"employee"`
	Merchant string `json:"merchant"`
	Amount   uint64 `json:"amount"`
	Fee      uint64 `json:"fee,omitempty"`
	Ref      string `json:"ref,omitempty"`
	At       int64  `json:"at"`
	Channel  string `json:"channel"`
	Payment  string `json:"payment,omitempty"` // the merchant's payment (web checkout)
}

// maxEmployeeMerchants bounds the merchants one employee may be restricted to.
const maxEmployeeMerchants = 32

// Company finds a company account by its code.
func (e *Engine) Company(code string) (domain.Account, error) {
	for _, a := range e.l.AccountsOf(strings.ToUpper(code)) {
		if a.Kind == domain.KindCompany && a.Currency == e.cfg.Currency {
			return a, nil
		}
	}
	return domain.Account{}, fmt.Errorf("no company %s", strings.ToUpper(code))
}

// SetEmployee authorises a number to pay on the company's account, or changes its limits
// (what it spent this month stays counted).
func (e *Engine) SetEmployee(ctx context.Context, actor string, company uint64, emp Employee) (Employee, error) {
	msisdn, err := domain.ParseMSISDN(emp.MSISDN, e.cfg.Region)
	if err != nil {
		return emp, domain.PaymentErr(domain.CodeInvalidRequest, "msisdn: "+err.Error())
	}
	if len(emp.Merchants) > maxEmployeeMerchants {
		return emp, domain.PaymentErr(domain.CodeInvalidRequest, fmt.Sprintf("at most %d merchants", maxEmployeeMerchants))
	}
	for i, m := range emp.Merchants {
		emp.Merchants[i] = strings.ToUpper(m)
	}
	if c, err := e.l.Account(company); err != nil || c.Kind != domain.KindCompany {
		return emp, domain.PaymentErr(domain.CodeNotFound, "no such company")
	}
	for try := 0; ; try++ {
		var cur Employee
		ver, found, err := e.record(employeeKey(company, msisdn), &cur)
		if err != nil {
			return emp, err
		}
		next := Employee{MSISDN: msisdn, PerPayment: emp.PerPayment, Monthly: emp.Monthly, Merchants: emp.Merchants,
			Month: cur.Month, Spent: cur.Spent, Added: cur.Added}
		if !found {
			next.Added = e.cfg.Now().UnixNano()
		}
		job := domain.Job{Profiles: []domain.Profile{write(employeeKey(company, msisdn), next, ver)},
			Audit: &domain.Audit{Actor: actor, Action: "company employee set", Detail: fmt.Sprintf("%d %s per %d month %d", company, msisdn, next.PerPayment, next.Monthly)}}
		if !found {
			job.Profiles = append(job.Profiles, write(employerKey(msisdn, company), struct{}{}, 0))
		}
		_, err = e.l.Submit(ctx, job)
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return next, err
	}
}

// RemoveEmployee stops a number paying on the company's account, at once.
func (e *Engine) RemoveEmployee(ctx context.Context, actor string, company uint64, number string) error {
	msisdn, err := domain.ParseMSISDN(number, e.cfg.Region)
	if err != nil {
		return domain.PaymentErr(domain.CodeInvalidRequest, "msisdn: "+err.Error())
	}
	for try := 0; ; try++ {
		var cur Employee
		ver, found, err := e.record(employeeKey(company, msisdn), &cur)
		if err != nil || !found {
			if err == nil {
				err = domain.PaymentErr(domain.CodeNotFound, msisdn+" is not an employee of this company")
			}
			return err
		}
		_, iver, _ := e.l.Profile(employerKey(msisdn, company))
		_, err = e.l.Submit(ctx, domain.Job{Profiles: []domain.Profile{
			{Owner: employeeKey(company, msisdn), Version: ver, Delete: true},
			{Owner: employerKey(msisdn, company), Version: iver, Delete: true}},
			Audit: &domain.Audit{Actor: actor, Action: "company employee remove", Detail: fmt.Sprintf("%d %s", company, msisdn)}})
		if errors.Is(err, domain.ErrConflict) && try < maxTurns {
			continue
		}
		return err
	}
}

// Employees lists a company's authorised numbers.
func (e *Engine) Employees(company uint64) ([]Employee, error) {
	prefix := fmt.Sprintf("%s%016x:", keyEmployee, company)
	recs, err := e.l.ProfilesFrom(prefix, "", domain.MaxProfileScan)
	var out []Employee
	for _, r := range recs {
		var emp Employee
		if json.Unmarshal(r.Data, &emp) == nil {
			out = append(out, emp)
		}
	}
	return out, err
}

// CompanyPayments lists a company's payments oldest first, optionally one employee's, after
// the transfer id given; with the cursor of the next page.
func (e *Engine) CompanyPayments(company uint64, employee, after string, limit int) ([]CompanyPayment, string, error) {
	limit = min(max(limit, 1), 1000)
	prefix := fmt.Sprintf("%s%016x:", keyCompanyPaid, company)
	from := prefix
	if after != "" {
		from = prefix + after + "\x00"
	}
	var out []CompanyPayment
	next := ""
	capped, err := e.scan(prefix, from, maxListScan, func(r domain.Profile) (bool, error) {
		var cp CompanyPayment
		if json.Unmarshal(r.Data, &cp) != nil || (employee != "" && cp.Employee != employee) {
			return true, nil
		}
		if len(out) == limit { // one more beyond the page: there is a next page
			next = out[len(out)-1].Transfer
			return false, nil
		}
		out = append(out, cp)
		return true, nil
	})
	if capped && len(out) > 0 {
		next = out[len(out)-1].Transfer // the scan's bound: the caller goes on from here
	}
	return out, next, err
}

// companyCharge checks that the number may pay amount at the merchant on the company's
// account now, and returns the writes that count it: the employee record at the version read
// and the company's log line. Nothing is written if it may not.
func (e *Engine) companyCharge(company domain.Account, msisdn string, merchant domain.Account, amount, fee uint64, tr domain.ID, ref, channel, payment string) ([]domain.Profile, error) {
	var emp Employee
	ver, found, err := e.record(employeeKey(company.ID, msisdn), &emp)
	if err != nil {
		return nil, err
	}
	switch {
	case !found:
		return nil, domain.PaymentErr(domain.CodeNotAuthorised, "this number may not pay on "+company.Name+"'s account")
	case company.Status != domain.StatusActive:
		return nil, domain.PaymentErr(domain.CodeAccountBlocked, "the company account is "+company.Status.String())
	case len(emp.Merchants) > 0 && !slices.Contains(emp.Merchants, merchant.Owner):
		return nil, domain.PaymentErr(domain.CodeNotAuthorised, "not allowed at "+merchant.Owner+" on the company's account")
	case emp.PerPayment > 0 && amount > emp.PerPayment:
		return nil, &domain.PaymentError{Code: domain.CodeLimitExceeded, Detail: "above the employee's limit per payment", Left: int(emp.PerPayment)}
	}
	now := e.cfg.Now()
	month := now.In(e.cfg.Location).Format("2006-01")
	if emp.Month != month {
		emp.Month, emp.Spent = month, 0
	}
	if emp.Monthly > 0 && emp.Spent+amount > emp.Monthly {
		return nil, &domain.PaymentError{Code: domain.CodeLimitExceeded, Detail: "above the employee's monthly limit", Left: int(emp.Monthly - emp.Spent)}
	}
	emp.Spent += amount
	line := CompanyPayment{Transfer: tr.String(), Employee: msisdn, Merchant: merchant.Owner, Amount: amount, Fee: fee, Ref: ref,
		At: now.UnixNano(), Channel: channel, Payment: payment}
	return []domain.Profile{write(employeeKey(company.ID, msisdn), emp, ver),
		write(fmt.Sprintf("%s%016x:%s", keyCompanyPaid, company.ID, tr), line, 0)}, nil
}

// employerOf returns the company a number pays for by its code, if he is one of its
// employees; ok is false otherwise.
func (e *Engine) employerOf(msisdn, code string) (domain.Account, bool) {
	c, err := e.Company(code)
	if err != nil {
		return c, false
	}
	_, ver, err := e.l.Profile(employeeKey(c.ID, msisdn))
	return c, err == nil && ver > 0
}

// companyPay is an employee's PAY on his company's account: the company pays the merchant
// and the fee; the employee's limits are counted in the same job.
func (t *turn) companyPay(company, merchant *domain.Account) domain.Job {
	amount := t.cmd.Amount
	if r, _ := t.riskGate(domain.ProductPay, domain.ChannelSMS, merchant.ID, amount, false); r != nil {
		return t.refuseBy(r)
	}
	fee := t.fee(domain.CodePay, amount)
	id := domain.NewID()
	writes, err := t.e.companyCharge(*company, t.in.From, *merchant, amount, fee, id, t.cmd.Ref, domain.ChannelSMS, id.String())
	var pe *domain.PaymentError
	switch {
	case errors.As(err, &pe) && pe.Code == domain.CodeLimitExceeded:
		t.reply(commands.RCompanyLimit, commands.Args{Party: company.Name, Limit: t.money(uint64(max(0, pe.Left)))})
		return t.withProfile(domain.Job{})
	case errors.As(err, &pe):
		t.reply(commands.RCompanyNo, commands.Args{Party: company.Name, Arg: merchant.Name})
		return t.withProfile(domain.Job{})
	case err != nil:
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	ts := []domain.Transfer{{ID: id, Debit: company.ID, Credit: merchant.ID, Amount: amount, Code: domain.CodeCompanyPay, Ref: t.cmd.Ref}}
	if fee > 0 {
		fees := t.system(domain.KindFees)
		if fees == nil {
			t.reply(commands.RBusy, commands.Args{})
			return t.withProfile(domain.Job{})
		}
		ts = append(ts, feeTransfer(company.ID, fees.ID, fee))
	}
	t.audit = &domain.Audit{Actor: t.in.From, Action: "company pay", Detail: company.Owner + " " + merchant.Owner + " " + domain.FormatAmount(amount, t.e.cfg.Currency)}
	t.repeat = t.paidRecord(domain.CodePay, merchant, amount, ts[0])
	p := t.smsPayment(domain.ProductPay, id, merchant, company.ID, amount, fee, t.cmd.Ref)
	p.Payer = company.ID
	job, err := t.e.paymentJob(p, 0, "", t.withProfile(domain.Job{Transfers: ts, Profiles: writes}), t.in.From, false)
	if err != nil {
		t.reply(commands.RBusy, commands.Args{})
		return t.withProfile(domain.Job{})
	}
	job.Compose = t.companyNotices(company, merchant, amount, fee, t.cmd.Ref)
	return job
}

// companyNotices tell the employee and the merchant, with the receipt, once the money moved.
func (t *turn) companyNotices(company, merchant *domain.Account, amount, fee uint64, ref string) func(domain.View, *domain.Result) ([]domain.Message, error) {
	e, lang, from := t.e, t.lang, t.in.From
	return func(v domain.View, r *domain.Result) ([]domain.Message, error) {
		main := r.Transfers[0]
		rc := e.receipt(main)
		msgs := []domain.Message{e.sms(from, lang, commands.RCompanyPaid, commands.Args{Amount: e.money(amount), Fee: e.money(fee),
			Name: merchant.Name, Party: company.Name, Ref: shortRef(main), Receipt: rc})}
		if merchant.Phone != "" {
			msgs = append(msgs, e.sms(merchant.Phone, commands.EN, merchantPaid(ref), commands.Args{Amount: e.money(amount),
				Party: company.Name, Ref: shortRef(main), Receipt: rc, Account: ref}))
		}
		return msgs, nil
	}
}
