// Command mpg is the SMS-command payment engine: the daemon, the admin CLI and the tools.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"mpg/config"
	"mpg/engine"
	"mpg/pgledger"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// app is what every command shares: flags, the configuration and the one logger.
type app struct {
	configPath string
	dbPath     string
	logFormat  string
	logLevel   string
	cfg        config.Config
	log        *zap.Logger
	// shared is the daemon's open ledger when this app runs a command for the admin socket,
	// eng the daemon's engine and operator the socket peer's identity.
	shared     store
	eng        *engine.Engine
	operator   string
	regionFlag string
	// clientKeys are the check values of the keys of the CLI the daemon runs a command for.
	clientKeys []keyAtHand
	// pg is the database the books are in, when they are (ledger.driver "postgres").
	pg *pgledger.DB
}

func main() {
	a := &app{}
	root := a.rootCmd()
	err := root.Execute()
	if a.log != nil {
		_ = a.log.Sync()
	}
	var fwd *forwardedError
	if errors.As(err, &fwd) {
		os.Exit(fwd.code)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mpg: "+err.Error())
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status (verify uses 2 for "not clean").
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "mpg",
		Short: "mpg: SMS-command payment engine (e-purse, P2P, direct debit, credit) over SMPP",
		Long: `mpg binds to an operator's SMSC over SMPP 3.4, turns SMS commands sent to a short
code ("PAY SHOP42 12.50 1234") into transfers on a double-entry ledger kept in one
bbolt file (or in a PostgreSQL database several daemons share), and answers with
confirmation SMS.`,
		Example: `  mpg ledger init --currency EUR
  mpg account open +33612345678 --name Alice
  mpg account topup +33612345678 50.00
  mpg ledger verify`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setup(cmd); err != nil {
				return err
			}
			if err := hashPassword(cmd); err != nil {
				return err
			}
			// With a daemon running, admin commands go through its socket.
			if ok, err := a.forward(cmd, args); ok {
				if err == nil {
					err = &forwardedError{}
				}
				return err
			}
			return nil
		},
	}
	// An amount typed negative ("topup +336… -5") reads to the flag parser as the shorthand
	// flags -5: say what is wrong with it instead, for every command that takes an amount.
	root.SetFlagErrorFunc(negativeAmountError)
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "mpg.toml", "configuration file (optional for admin commands)")
	pf.StringVar(&a.dbPath, "db", "", "ledger file (default: ledger.path from the config, else ./mpg.db)")
	pf.StringVar(&a.logFormat, "log-format", "console", "log format: console or json")
	pf.StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(a.versionCmd(), a.ledgerCmd(), a.accountCmd(), a.merchantCmd(), a.paymentCmd(), a.disputeCmd(), a.webhookCmd(), a.companyCmd(), a.bankCmd(), a.creditCmd(), a.outboxCmd(), a.benchCmd(), a.smscCmd(), a.serveCmd(), a.demoCmd(), a.phoneCmd(), a.keysCmd(), a.subscriberCmd(), a.promoCmd(), a.campaignCmd(), a.fraudCmd(), a.statsCmd(), a.consoleCmd(), a.settleCmd())
	return root
}

// setup reads the configuration and builds the logger, once, before any command runs.
func (a *app) setup(cmd *cobra.Command) error {
	cfg, err := config.Load(a.configPath, cmd.Flags().Changed("config"))
	if err != nil {
		return err
	}
	a.cfg = cfg
	if a.dbPath == "" {
		a.dbPath = cfg.Ledger.Path
	}
	a.log, err = newLogger(a.logFormat, a.logLevel)
	return err
}

func newLogger(format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	var zc zap.Config
	switch format {
	case "json":
		zc = zap.NewProductionConfig()
	case "console":
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
	default:
		return nil, fmt.Errorf("--log-format %q: want console or json", format)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	return zc.Build()
}

// negativeAmountError turns the parser's "unknown shorthand flag: '5' in -5" for an argument
// that is a negative number into "amount must be positive: -5"; other flag errors pass.
func negativeAmountError(_ *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if errors.As(err, &ne) {
		if arg := "-" + ne.GetSpecifiedShortnames(); isNegativeNumber(arg) {
			return fmt.Errorf("amount must be positive: %s", arg)
		}
	}
	return err
}

// isNegativeNumber says whether s is a minus sign and an amount as people type one: -5,
// -12.50, -12,50, -.5.
func isNegativeNumber(s string) bool {
	rest, ok := strings.CutPrefix(s, "-")
	return ok && strings.ContainsAny(rest, "0123456789") && strings.Trim(rest, "0123456789.,") == ""
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print mpg's version",
		Example: "  mpg version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "mpg %s\n", version)
			return nil
		},
	}
}

// plural writes a count with its noun, singular for exactly one: "1 difference", "0 requests".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
