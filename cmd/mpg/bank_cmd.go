package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"mpg/bank"
	"mpg/domain"
)

// `mpg bank` runs the bank simulator as its own process; `mpg bank reconcile` compares the
// bank's settlement file with the ledger.

func (a *app) bankCmd() *cobra.Command {
	var listen, control, settlement string
	var accounts, faults []string
	var late, slow time.Duration
	c := &cobra.Command{
		Use:   "bank",
		Short: "Run a bank simulator (ISO 8583 over TCP) with accounts and faults on demand",
		Long: `bank runs a simulated bank back end for mDebit, speaking ISO 8583:1987 as
docs/bank-interface.md describes: accounts with balances, debits and refund credits with
approvals and declines (insufficient funds 51, limit 61, account closed 62, unknown account
14), each RRN applied at most once (a second 0200 is answered 94, a repeat 0201 with the
first outcome), reversals matched on field 90, its own network messages (POST
/network?code=001), and faults on demand. Faults (--fault NAME[=N], or POST
/fault?name=NAME&n=N on --http; N=-1 for all requests, 0 to clear): ` + faultNames() + `.
On SIGTERM it writes its settlement file (--settlement), the input of mpg bank reconcile.`,
		Example: `  mpg bank --listen 127.0.0.1:8583 --account FR7630006000011234567890189=50000 --http 127.0.0.1:8584
  mpg bank --fault no-answer=3 --fault late=1 --settlement /tmp/settle.csv
  curl -X POST '127.0.0.1:8584/fault?name=approve-then-drop&n=1'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sim, err := bank.NewSim(listen)
			if err != nil {
				return err
			}
			defer sim.Close()
			sim.Late, sim.Slow = late, slow
			for _, acc := range accounts {
				iban, bal, ok := strings.Cut(acc, "=")
				code, err := domain.ParseIBAN(iban)
				if err != nil || !ok {
					return fmt.Errorf("--account %q: want IBAN=balance_minor (%v)", acc, err)
				}
				n, err := strconv.ParseInt(bal, 10, 64)
				if err != nil {
					return fmt.Errorf("--account %q: balance in minor units", acc)
				}
				sim.Open(code, bank.SimAccount{Balance: n})
			}
			for _, f := range faults {
				name, n, err := parseFault(f)
				if err != nil {
					return err
				}
				sim.Inject(name, n)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "mpg bank: ISO 8583 on %s\n", sim.Addr())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if control != "" {
				ln, err := net.Listen("tcp", control)
				if err != nil {
					return err
				}
				srv := &http.Server{Handler: bankControl(sim), ReadHeaderTimeout: 5 * time.Second}
				go srv.Serve(ln)
				defer srv.Close()
				fmt.Fprintf(out, "mpg bank: control on http://%s (POST /fault, POST /account, POST /network, GET /balance, GET /settlement)\n", ln.Addr())
			}
			<-ctx.Done()
			if settlement != "" {
				f, err := os.Create(settlement)
				if err != nil {
					return err
				}
				defer f.Close()
				return sim.WriteSettlement(f)
			}
			return nil
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:8583", "ISO 8583 address")
	c.Flags().StringVar(&control, "http", "", "control address (faults, accounts, settlement)")
	c.Flags().StringVar(&settlement, "settlement", "", "write the settlement file here on exit")
	c.Flags().StringArrayVar(&accounts, "account", nil, "an account: IBAN=balance_minor (repeatable)")
	c.Flags().StringArrayVar(&faults, "fault", nil, "a fault for the next N requests: NAME[=N] (repeatable)")
	c.Flags().DurationVar(&late, "late", 8*time.Second, "how late the late fault answers")
	c.Flags().DurationVar(&slow, "slow", 300*time.Millisecond, "how slow the slow fault answers")
	c.AddCommand(a.bankReconcileCmd())
	return c
}

func faultNames() string {
	var s []string
	for _, f := range bank.Faults {
		s = append(s, string(f))
	}
	return strings.Join(s, ", ")
}

func parseFault(s string) (bank.Fault, int, error) {
	name, count, has := strings.Cut(s, "=")
	n := 1
	if has {
		var err error
		if n, err = strconv.Atoi(count); err != nil {
			return "", 0, fmt.Errorf("fault %q: N must be a number", s)
		}
	}
	for _, f := range bank.Faults {
		if string(f) == name {
			return f, n, nil
		}
	}
	return "", 0, fmt.Errorf("unknown fault %q (%s)", name, faultNames())
}

// bankControl is the simulator's HTTP control, for tests and people trying faults.
func bankControl(sim *bank.Sim) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
		f, n, err := parseFault(r.URL.Query().Get("name") + "=" + r.URL.Query().Get("n"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sim.Inject(f, n)
	})
	mux.HandleFunc("POST /account", func(w http.ResponseWriter, r *http.Request) {
		iban, err := domain.ParseIBAN(r.URL.Query().Get("iban"))
		bal, perr := strconv.ParseInt(r.URL.Query().Get("balance"), 10, 64)
		if err != nil || perr != nil {
			http.Error(w, "want iban= and balance= (minor units)", http.StatusBadRequest)
			return
		}
		sim.Open(iban, bank.SimAccount{Balance: bal, Closed: r.URL.Query().Get("closed") == "1"})
	})
	mux.HandleFunc("GET /balance", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]int64{"balance": sim.Balance(r.URL.Query().Get("iban")), "debits": sim.Debits.Load(),
			"credits": sim.Credits.Load(), "reversals": sim.Reversals.Load(), "requests": sim.Requests.Load()})
	})
	// The bank's own network management message (0800) on every link: how many answered 0810 "00".
	mux.HandleFunc("POST /network", func(w http.ResponseWriter, r *http.Request) {
		code := r.URL.Query().Get("code")
		if len(code) != 3 || strings.Trim(code, "0123456789") != "" {
			http.Error(w, "want code= (3 digits: 001 sign-on, 301 echo, 161 key change)", http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]int{"answered": sim.Network(code, 5*time.Second)})
	})
	mux.HandleFunc("GET /settlement", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		sim.WriteSettlement(w)
	})
	return mux
}

func (a *app) bankReconcileCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reconcile <settlement.csv>",
		Short: "Compare the bank's settlement file with the ledger and list every difference",
		Long: `reconcile reads the bank's settlement file (CSV: rrn, account, amount_minor, currency,
status settled|reversed, auth_code, time, type debit|credit; what mpg bank writes) and the
ledger's mDebits and the refund credits of their refunds, and lists every difference: a
debit the bank settled that the ledger did not pay, one the ledger paid that the bank did
not settle (or reversed), an RRN settled twice, a refund credit missing from the file or
settled twice, a credit the ledger gave to the purse instead, a settled debit or credit the
ledger does not know, and amounts, currencies or accounts that differ. Exit 0 when they
agree, 2 when they do not.`,
		Example: "  mpg bank reconcile /tmp/settle.csv",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			settled, err := bank.ReadSettlement(f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return a.withLedger(func(l store) error {
				diffs, checked, err := a.engine(l).ReconcileBank(settled)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if len(diffs) == 0 {
					fmt.Fprintf(w, "bank reconcile: %s (debits and refund credits), ledger and bank agree\n", plural(checked, "request", "requests"))
					return nil
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RRN\tPAYMENT\tBANK\tLEDGER\tDIFFERENCE")
				for _, d := range diffs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Key, d.Payment, d.Bank, d.Ledger, d.What)
				}
				tw.Flush()
				return &exitError{code: 2, msg: fmt.Sprintf("bank reconcile: %s in %s", plural(len(diffs), "difference", "differences"), plural(checked, "request", "requests"))}
			})
		},
	}
}
