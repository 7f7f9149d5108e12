package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"mpg/config"
)

func (a *app) benchCmd() *cobra.Command {
	var opt benchE2EOptions
	var cpuprofile string
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and latency end to end, or the ledger or the SMPP session alone",
		Example: `  mpg bench --subscribers 2000 --commands 100000 --outstanding 200
  mpg bench --outstanding 100 --rate 5000 --commands 50000
  mpg bench ledger --db /tmp/bench.db --accounts 100000 --transfers 2000000 --clients 2048
  mpg bench smpp --messages 50000
  mpg bench --ledger postgres --dsn "host=/run/postgresql dbname=mpgbench" --daemons 3`,
	}
	c.Long = `bench alone measures mpg from outside. This process is the SMSC: the simulator, driving
the load over real SMPP on loopback. The daemon runs as its own process (mpg serve, with
--binds links of --window) on a fresh ledger file with fsync on. Subscribers register by SMS
and are topped up through the daemon's admin socket; then --outstanding phones each text
"PAY SHOP42 0.01 R<i> 1234" (unique references; --mix mixed adds SEND and BAL) and wait for
the reply, so that --outstanding MO are in flight, optionally paced to --rate MO/s. It
reports CPU per process, fsyncs, every MO the daemon refused with its reason, and runs
ledger verify on the file after the daemon stopped. The last line is:
  mo_mt_per_s=<n> p50_ms=<x> p99_ms=<y> p999_ms=<z> answered=<k>/<n> verify=ok|FAILED
Latency is MO sent to reply received. With --mix http each "command" is a request to pay
made through the merchant API (POST /v1/payments), whose code the phone reads and answers
with YES <code> by SMS; the last line starts paid_per_s= and latency is from the POST to
the "Paid" reply. With --mix debit each is a DEBIT, its YES <code>, and the simulated bank
(in this process, answering after --bank-latency) approving it; latency is from the DEBIT
to the "Paid" reply. With --mix credit each is a CREDIT authorisation (a hold on the
phone's credit line, granted in the set-up).

With --ledger postgres the books are in the empty database --dsn names (the bench refuses
any other), made as "mpg ledger init" makes them, and --daemons daemons share them, each
with its own config, daemon name, HTTP and merchant addresses, admin socket and --binds
links to the simulator, which hands each MO to one of the bound links: the subscribers'
MO reach every daemon, and the top-ups take turns over the admin sockets. The report adds
the CPU of each daemon and of the PostgreSQL server (its postmaster and children, when the
DSN names a local socket directory; "not_measured" otherwise) and what each daemon took;
ledger verify runs on the database, and the last line ends "ledger=postgres daemons=N".
bench ledger and bench smpp measure one part each.`
	c.Args = cobra.NoArgs
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if opt.merchants < 1 || opt.commands < 1 || opt.outstanding < 1 || opt.outstanding > opt.subscribers {
			return fmt.Errorf("need --merchants, --commands >= 1 and 1 <= --outstanding <= --subscribers")
		}
		if opt.mix != "pay" && opt.mix != "mixed" && opt.mix != "http" && opt.mix != "debit" && opt.mix != "credit" {
			return fmt.Errorf("--mix is pay, mixed, http, debit or credit")
		}
		if opt.binds < 1 || opt.binds > 16 || opt.window < 1 || opt.window > 1024 {
			return fmt.Errorf("--binds must be 1..16 and --window 1..1024")
		}
		switch opt.ledger {
		case config.DriverBbolt:
			if opt.dsn != "" || cmd.Flags().Changed("daemons") {
				return fmt.Errorf("--dsn and --daemons go with --ledger postgres")
			}
		case config.DriverPostgres:
			if opt.dsn == "" {
				return fmt.Errorf("--ledger postgres needs --dsn, naming an empty database (its password, if any, in PGPASSWORD or the DSN)")
			}
			if opt.daemons < 1 || opt.daemons > 8 {
				return fmt.Errorf("--daemons must be 1..8")
			}
		default:
			return fmt.Errorf("--ledger is bbolt or postgres")
		}
		opt.profile = cpuprofile
		return a.benchE2E(cmd, opt)
	}
	c.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write the daemon's CPU profile (go tool pprof) to this file")
	c.Flags().IntVar(&opt.subscribers, "subscribers", 2000, "subscribers (registered by SMS)")
	c.Flags().IntVar(&opt.merchants, "merchants", 1, "merchants (SHOP42, SHOP43, …), paid in turn")
	c.Flags().IntVar(&opt.commands, "commands", 50000, "commands to text")
	c.Flags().IntVar(&opt.outstanding, "outstanding", 200, "MO in flight: phones texting at once, each waiting for its reply")
	c.Flags().Float64Var(&opt.rate, "rate", 0, "pace the MO to this many per second (0: as fast as answered)")
	c.Flags().StringVar(&opt.mix, "mix", "pay", "pay: unique PAY only; mixed: 70% PAY, 20% SEND, 10% BAL; http: requests to pay by the merchant API, each confirmed by YES <code>; debit: DEBIT then YES <code>, paid by a simulated bank; credit: CREDIT authorisations on credit lines")
	c.Flags().DurationVar(&opt.bankLatency, "bank-latency", 20*time.Millisecond, "--mix debit: how long the simulated bank takes to answer")
	c.Flags().IntVar(&opt.binds, "binds", 2, "the daemon's SMPP links (each daemon's)")
	c.Flags().StringVar(&opt.ledger, "ledger", config.DriverBbolt, "bbolt: a fresh file, one daemon; postgres: the empty database --dsn names, shared by --daemons daemons")
	c.Flags().StringVar(&opt.dsn, "dsn", "", "--ledger postgres: the database (must be empty), e.g. \"host=/run/postgresql dbname=mpgbench\"")
	c.Flags().IntVar(&opt.daemons, "daemons", 1, "--ledger postgres: daemons sharing the books (1..8), each with its own binds, HTTP and merchant addresses and admin socket")
	c.Flags().IntVar(&opt.window, "window", 256, "unanswered requests per link")
	c.Flags().StringVar(&opt.amount, "amount", "0.01", "each PAY's amount")
	c.Flags().StringVar(&opt.fraud, "fraud", "", "the fraud rules' mode for the run: off, shadow or enforce (default: the configuration's, shadow unless set); compare off with shadow for their cost")
	c.Flags().BoolVar(&opt.loyalty, "loyalty", false, "points on every PAY and every merchant's automatic promotion (5% off): the cost of the loyalty and promotion engines (compare with --amount alone)")
	c.AddCommand(a.benchLedgerCmd(), a.benchSMPPCmd())
	return c
}
