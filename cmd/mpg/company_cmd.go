package main

import (
	"encoding/csv"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/engine"
)

// Company accounts (Internet+ Pro) for operators: open one, fund it, authorise employees,
// give the company its API key, export its payments.

func (a *app) companyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "company",
		Short: "Company accounts (Internet+ Pro): employees who pay on them, their limits, the payments",
		Example: `  mpg company add ACME --name "Acme SA"
  mpg company topup ACME 500
  mpg company employee add ACME +33612345678 --per-payment 50 --monthly 300 --merchants SHOP42
  mpg company payments ACME -o csv`,
	}
	c.AddCommand(a.companyAddCmd(), a.companyTopupCmd(), a.companyEmployeeCmd(), a.companyPaymentsCmd(), a.companyKeyCmd())
	return c
}

func companyAccount(l store, code string) (domain.Account, error) {
	for _, acc := range l.AccountsOf(strings.ToUpper(code)) {
		if acc.Kind == domain.KindCompany {
			return acc, nil
		}
	}
	return domain.Account{}, fmt.Errorf("no company %s (mpg company add)", strings.ToUpper(code))
}

func (a *app) companyAddCmd() *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:     "add <code>",
		Short:   "Open a company account",
		Example: `  mpg company add ACME --name "Acme SA"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code := strings.ToUpper(args[0])
			if !merchantCode.MatchString(code) {
				return fmt.Errorf("company code %q: want 2 to 20 letters and digits", args[0])
			}
			if name == "" {
				return fmt.Errorf("--name is required: employees see it in their receipts")
			}
			return a.withLedger(func(l store) error {
				if len(l.AccountsOf(code)) > 0 {
					return fmt.Errorf("%s is already taken", code)
				}
				res, err := l.Submit(cmd.Context(), domain.Job{
					Open:  []domain.AccountSpec{{Currency: floatCurrency(l, a.cfg.Ledger.Currency), Kind: domain.KindCompany, Owner: code, Name: name}},
					Audit: &domain.Audit{Actor: a.actor(), Action: "company add", Detail: code},
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added company %s (%s), account %d\n", code, name, res.Accounts[0].ID)
				return nil
			})
		},
	}
	c.Flags().StringVar(&name, "name", "", "name shown to employees (required)")
	return c
}

func (a *app) companyTopupCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "topup <code> <amount>",
		Short:   "Fund a company account from the float (what the company paid in)",
		Example: "  mpg company topup ACME 500",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccount(args[0], companyAccount, func(l store, co domain.Account) error {
				amount, err := domain.ParseAmountIn(args[1], co.Currency)
				if err != nil {
					return err
				}
				float, err := l.System(domain.KindFloat, co.Currency)
				if err != nil {
					return err
				}
				tr := domain.Transfer{ID: domain.NewID(), Debit: float.ID, Credit: co.ID, Amount: amount, Code: domain.CodeTopup}
				if _, err := l.Submit(cmd.Context(), domain.Job{Transfers: []domain.Transfer{tr},
					Audit: &domain.Audit{Actor: a.actor(), Action: "company topup", Detail: co.Owner + " " + domain.FormatAmount(amount, co.Currency)}}); err != nil {
					return err
				}
				after, _ := l.Account(co.ID)
				fmt.Fprintf(cmd.OutOrStdout(), "%s topped up with %s, balance %s, transfer %s\n", co.Owner,
					domain.FormatAmount(amount, co.Currency), formatSigned(after.Available(), co.Currency), tr.ID)
				return nil
			})
		},
	}
}

func (a *app) companyEmployeeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "employee",
		Short: "Authorise, change, remove and list a company's employees",
		Example: `  mpg company employee add ACME 0612345678 --per-payment 50 --monthly 300
  mpg company employee remove ACME 0612345678
  mpg company employee list ACME`,
	}
	var per, monthly, merchants string
	add := &cobra.Command{
		Use:     "add <company> <msisdn>",
		Short:   "Let a number pay on the company's account (again: change its limits)",
		Example: "  mpg company employee add ACME 0612345678 --per-payment 50 --monthly 300 --merchants SHOP42,SHOP7",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			msisdn, err := a.msisdn(args[1])
			if err != nil {
				return err
			}
			return a.withAccount(args[0], companyAccount, func(l store, co domain.Account) error {
				emp := engine.Employee{MSISDN: msisdn}
				for _, x := range []struct {
					s   string
					dst *uint64
				}{{per, &emp.PerPayment}, {monthly, &emp.Monthly}} {
					if x.s != "" && x.s != "0" {
						if *x.dst, err = domain.ParseAmountIn(x.s, co.Currency); err != nil {
							return err
						}
					}
				}
				if merchants != "" {
					emp.Merchants = strings.Split(merchants, ",")
				}
				got, err := a.engine(l).SetEmployee(cmd.Context(), a.actor(), co.ID, emp)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s may pay on %s's account: %s\n", got.MSISDN, co.Owner, limitsText(got, co.Currency))
				return nil
			})
		},
	}
	add.Flags().StringVar(&per, "per-payment", "", "most one payment may be (0 or absent: no limit)")
	add.Flags().StringVar(&monthly, "monthly", "", "most he may pay in a calendar month (0 or absent: no limit)")
	add.Flags().StringVar(&merchants, "merchants", "", "only at these merchant codes, comma-separated (absent: any)")
	remove := &cobra.Command{
		Use:     "remove <company> <msisdn>",
		Short:   "Stop a number paying on the company's account, at once",
		Example: "  mpg company employee remove ACME 0612345678",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			msisdn, err := a.msisdn(args[1])
			if err != nil {
				return err
			}
			return a.withAccount(args[0], companyAccount, func(l store, co domain.Account) error {
				if err := a.engine(l).RemoveEmployee(cmd.Context(), a.actor(), co.ID, msisdn); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s no longer pays on %s's account\n", msisdn, co.Owner)
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:     "list <company>",
		Short:   "A company's employees, their limits and what they spent this month",
		Example: "  mpg company employee list ACME",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccount(args[0], companyAccount, func(l store, co domain.Account) error {
				emps, err := a.engine(l).Employees(co.ID)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "MSISDN\tLIMITS\tSPENT\tMONTH")
				for _, e := range emps {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.MSISDN, limitsText(e, co.Currency), domain.FormatAmount(e.Spent, co.Currency), e.Month)
				}
				return tw.Flush()
			})
		},
	}
	c.AddCommand(add, remove, list)
	return c
}

func limitsText(e engine.Employee, currency string) string {
	f := func(v uint64) string {
		if v == 0 {
			return "no limit"
		}
		return domain.FormatAmount(v, currency)
	}
	s := "per payment " + f(e.PerPayment) + ", per month " + f(e.Monthly)
	if len(e.Merchants) > 0 {
		s += ", only at " + strings.Join(e.Merchants, " ")
	}
	return s
}

func (a *app) companyPaymentsCmd() *cobra.Command {
	var employee, after, output string
	var limit int
	c := &cobra.Command{
		Use:     "payments <company>",
		Short:   "Every payment on the company's account, by employee if asked",
		Example: "  mpg company payments ACME --employee 0612345678 -o csv > acme.csv",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if employee != "" {
				m, err := a.msisdn(employee)
				if err != nil {
					return err
				}
				employee = m
			}
			return a.withAccount(args[0], companyAccount, func(l store, co domain.Account) error {
				ps, next, err := a.engine(l).CompanyPayments(co.ID, employee, after, limit)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				switch output {
				case "json":
					return writeJSON(w, ps)
				case "csv":
					cw := csv.NewWriter(w)
					cw.Write([]string{"transfer", "at", "employee", "merchant", "amount", "fee", "currency", "reference", "channel", "payment"})
					for _, p := range ps {
						cw.Write([]string{p.Transfer, stamp(p.At), p.Employee, p.Merchant, domain.FormatMinor(p.Amount, expOf(co.Currency)),
							domain.FormatMinor(p.Fee, expOf(co.Currency)), co.Currency, p.Ref, p.Channel, p.Payment})
					}
					cw.Flush()
					return cw.Error()
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "AT\tEMPLOYEE\tMERCHANT\tAMOUNT\tREF\tCHANNEL")
				for _, p := range ps {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", stamp(p.At), p.Employee, p.Merchant, domain.FormatAmount(p.Amount, co.Currency), p.Ref, p.Channel)
				}
				if next != "" {
					fmt.Fprintf(tw, "more: --after %s\n", next)
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().StringVar(&employee, "employee", "", "only this employee's payments")
	c.Flags().StringVar(&after, "after", "", "only after this transfer id (the next page)")
	c.Flags().IntVar(&limit, "limit", 1000, "at most this many (1..1000)")
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table, json or csv")
	return c
}

func expOf(currency string) uint8 {
	e, _ := domain.Exponent(currency)
	return e
}

func (a *app) companyKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "key <company>",
		Short:   "Make the company's own API key (employees and payments); shown once",
		Example: "  mpg company key ACME",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccount(args[0], companyAccount, func(l store, co domain.Account) error {
				key, info, err := a.engine(l).CreateAPIKey(cmd.Context(), a.actor(), co.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\nkey id %s for %s: give it to the company now, it is not shown again (revoke: mpg merchant key revoke %s %s)\n",
					key, info.ID, co.Owner, co.Owner, info.ID)
				a.warnAPIOff(cmd)
				return nil
			})
		},
	}
}
