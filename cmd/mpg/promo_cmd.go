package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mpg/domain"
	"mpg/promo"
)

// Merchants' promotions for operators: create (funded from the merchant's account), list,
// end (what is left of the budget goes back to the merchant).

func (a *app) promoCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "promo",
		Short: "Merchants' promotions: create, list, end",
		Example: `  mpg promo create SHOP42 SUMMER --name "Summer sale" --percent 10 --budget 100 --min 5 --per-member 3
  mpg promo create SHOP42 WELCOME --name "Welcome" --fixed 2 --budget 50 --with-code
  mpg promo create SHOP42 LOYAL --name "Thanks" --percent 5 --budget 50 --audience 'level == "gold"'
  mpg promo list SHOP42
  mpg promo end SUMMER`,
	}
	c.AddCommand(a.promoCreateCmd(), a.promoListCmd(), a.promoEndCmd())
	return c
}

// promoFlags are what `mpg promo create` reads.
type promoFlags struct {
	name, percent, fixed, budget, min, start, end, days, hours, audience string
	perDay, perMember                                                    int
	withCode                                                             bool
}

func (a *app) promoCreateCmd() *cobra.Command {
	var f promoFlags
	c := &cobra.Command{
		Use:   "create <merchant> <code>",
		Short: "Create a promotion; its budget is moved from the merchant's account",
		Example: `  mpg promo create SHOP42 SUMMER --name "Summer sale" --percent 10 --budget 100 --min 5 --days mon,tue,wed --hours 8-20 --per-member 3
  mpg promo create SHOP42 WELCOME --name "Welcome" --fixed 2 --budget 50 --with-code --per-member 1`,
		Long: `create saves a promotion of a merchant: a discount (--percent or --fixed) paid from a
budget taken from the merchant's account now, on payments of at least --min, between --start
and --end (RFC 3339 or YYYY-MM-DD, engine.time_zone), on --days (mon,tue,...) and --hours
(8-20). Automatic for every member of the audience (--audience, a rule over level, points,
days_since_last_payment, payments, merchants_paid, language, segment, rfm_r, rfm_f, rfm_m),
or --with-code: only for
buyers who add the code to PAY or JOIN it. --per-day and --per-member limit each member.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				eng := a.engine(l)
				m, err := l.Find(strings.ToUpper(args[0]))
				if err != nil || m.Kind != domain.KindMerchant {
					return fmt.Errorf("no merchant %s", args[0])
				}
				p, err := f.promotion(args[1], m.Currency, a.location())
				if err != nil {
					return err
				}
				p, err = eng.CreatePromotion(cmd.Context(), m.ID, p, a.actor())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: promotion of %s, budget %s in account %d\n", p.Code, p.Merchant, domain.FormatAmount(p.Budget, m.Currency), p.Account)
				return nil
			})
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.name, "name", "", "what buyers read (required)")
	fl.StringVar(&f.percent, "percent", "", "a discount of this percent (1-100)")
	fl.StringVar(&f.fixed, "fixed", "", "or of this amount")
	fl.StringVar(&f.budget, "budget", "", "what the discounts may cost in all, from the merchant's account (required)")
	fl.StringVar(&f.min, "min", "", "the smallest payment it applies to")
	fl.StringVar(&f.start, "start", "", "when it starts (default now)")
	fl.StringVar(&f.end, "end", "", "when it ends (default: when ended)")
	fl.StringVar(&f.days, "days", "", "weekdays it runs, e.g. mon,tue,sat (default every day)")
	fl.StringVar(&f.hours, "hours", "", "hours it runs, e.g. 8-20 (default all day)")
	fl.StringVar(&f.audience, "audience", "", `who it is for, e.g. 'level == "gold" || days_since_last_payment > 30'`)
	fl.IntVar(&f.perDay, "per-day", 0, "uses per member per day (0: no limit)")
	fl.IntVar(&f.perMember, "per-member", 0, "uses per member in all (0: no limit)")
	fl.BoolVar(&f.withCode, "with-code", false, "only for buyers who add the code to PAY or JOIN it")
	return c
}

// location is the engine's time zone, as the configuration names it.
func (a *app) location() *time.Location {
	loc, err := time.LoadLocation(a.cfg.Engine.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

var weekdayNames = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// promotion reads the flags into a promotion, in the currency and the zone given.
func (f promoFlags) promotion(code, currency string, loc *time.Location) (promo.Promotion, error) {
	p := promo.Promotion{Code: strings.ToUpper(code), Name: f.name, Audience: f.audience, PerDay: f.perDay, PerMember: f.perMember, WithCode: f.withCode}
	money := map[string]*uint64{"budget": &p.Budget, "fixed": &p.Fixed, "min": &p.MinAmount}
	for name, v := range map[string]string{"budget": f.budget, "fixed": f.fixed, "min": f.min} {
		if v == "" {
			continue
		}
		n, err := domain.ParseAmountIn(v, currency)
		if err != nil {
			return p, fmt.Errorf("--%s: %v", name, err)
		}
		*money[name] = n
	}
	if f.percent != "" {
		n, err := strconv.ParseUint(strings.TrimSuffix(f.percent, "%"), 10, 8)
		if err != nil {
			return p, fmt.Errorf("--percent %q: a whole number 1-100", f.percent)
		}
		p.Percent = n
	}
	var err error
	if p.Start, err = when(f.start, loc); err != nil {
		return p, fmt.Errorf("--start: %v", err)
	}
	if p.End, err = when(f.end, loc); err != nil {
		return p, fmt.Errorf("--end: %v", err)
	}
	for _, d := range strings.Split(f.days, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			n, ok := weekdayNames[d[:min(3, len(d))]]
			if !ok {
				return p, fmt.Errorf("--days: %q is not a weekday (mon..sun)", d)
			}
			p.Days = append(p.Days, n)
		}
	}
	if f.hours != "" {
		if _, err := fmt.Sscanf(f.hours, "%d-%d", &p.FromHour, &p.ToHour); err != nil {
			return p, fmt.Errorf("--hours %q: from-to, e.g. 8-20", f.hours)
		}
	}
	return p, nil
}

// when reads a time (RFC 3339, or a day at midnight in loc); "" is 0.
func when(s string, loc *time.Location) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UnixNano(), nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, loc)
	if err != nil {
		return 0, fmt.Errorf("%q: RFC 3339 or YYYY-MM-DD", s)
	}
	return t.UnixNano(), nil
}

func (a *app) promoListCmd() *cobra.Command {
	return &cobra.Command{
		Use: "list [merchant]", Short: "Promotions, with what is left of their budget", Args: cobra.MaximumNArgs(1),
		Example: "  mpg promo list\n  mpg promo list SHOP42",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				merchant := ""
				if len(args) == 1 {
					merchant = strings.ToUpper(args[0])
				}
				ps, err := a.engine(l).Promotions(merchant)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "%-12s %-10s %-8s %-12s %-12s %s\n", "CODE", "MERCHANT", "STATE", "DISCOUNT", "BUDGET LEFT", "AUDIENCE")
				for _, p := range ps {
					fmt.Fprintln(w, promoLine(l, p))
				}
				return nil
			})
		},
	}
}

func promoLine(l store, p promo.Promotion) string {
	state, left, cur := "running", "?", ""
	if p.Ended != 0 || (p.End != 0 && time.Now().UnixNano() >= p.End) {
		state = "ended"
	}
	if b, err := l.Account(p.Account); err == nil {
		cur = b.Currency
		left = domain.FormatAmount(uint64(max(0, b.Available())), b.Currency)
	}
	off := strconv.FormatUint(p.Percent, 10) + "%"
	if p.Fixed > 0 {
		off = domain.FormatAmount(p.Fixed, cur)
	}
	who := p.Audience
	if p.WithCode {
		who = "with the code " + who
	}
	return fmt.Sprintf("%-12s %-10s %-8s %-12s %-12s %s", p.Code, p.Merchant, state, off, left, who)
}

func (a *app) promoEndCmd() *cobra.Command {
	return &cobra.Command{
		Use: "end <code>", Short: "End a promotion now; what is left of its budget goes back to the merchant", Args: cobra.ExactArgs(1),
		Example: "  mpg promo end SUMMER",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				p, err := a.engine(l).EndPromotion(cmd.Context(), 0, strings.ToUpper(args[0]), a.actor())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ended\n", p.Code)
				return nil
			})
		},
	}
}
