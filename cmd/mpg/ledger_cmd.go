package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"mpg/domain"
	"mpg/engine"
	"mpg/ledger"
)

// System accounts have owners no subscriber or merchant code can have.
const (
	ownerFloat  = "@float"
	ownerFees   = "@fees"
	ownerEscrow = "@escrow"
)

// ledgerOptions are the ledger's options from the configuration: the same tier rules for
// the daemon and for a CLI that opens the file itself.
func (a *app) ledgerOptions() *ledger.Options {
	return &ledger.Options{
		Tiers:            engine.LedgerTiers(engineConfig(a.cfg).Tiers),
		MaxHoldsPerOwner: a.cfg.Engine.MaxHolds,
		MaxBatchJobs:     a.cfg.Ledger.MaxBatchJobs,
		MaxBatchWait:     time.Duration(a.cfg.Ledger.MaxBatchWaitUs) * time.Microsecond,
		CheckpointEvery:  time.Duration(a.cfg.Ledger.CheckpointEveryMs) * time.Millisecond,
		CheckpointChunk:  a.cfg.Ledger.CheckpointChunk,
		OutboxRetention:  time.Duration(a.cfg.Ledger.OutboxRetentionDays) * 24 * time.Hour,
		IdentityKey:      identityKey(a.cfg.Engine.IdentityKey),
	}
}

// identityKey is the identity key's bytes: its hex decoded (nil when none is set).
func identityKey(hexKey string) []byte {
	if hexKey == "" {
		return nil
	}
	b, err := hex.DecodeString(hexKey)
	if err != nil || len(b) < 16 {
		return []byte(hexKey) // from the environment as typed: its bytes, like the other keys
	}
	return b
}

// openLedger opens the file for a CLI command, refusing keys the file was not used with.
func (a *app) openLedger() (store, error) {
	o := a.ledgerOptions()
	held := keysAtHand(a.cfg)
	o.KeyChecks = ledgerChecks(held)
	l, err := a.openBooks(o)
	if err != nil {
		return nil, keyAdvice(err, held)
	}
	a.log.Debug("ledger opened", zap.String("db", a.booksName()))
	return l, nil
}

// withLedger runs f on the open ledger and closes it after.
func (a *app) withLedger(f func(l store) error) error { return a.withOpen(a.openLedger, f) }

// withOpen runs f on the daemon's ledger, or on the one open opens, closed after.
func (a *app) withOpen(open func() (store, error), f func(l store) error) error {
	if a.shared != nil {
		return f(a.shared) // the daemon's ledger: it stays open
	}
	l, err := open()
	if err != nil {
		return err
	}
	ferr := f(l)
	if err := l.Close(); ferr == nil {
		ferr = err
	}
	return ferr
}

func (a *app) ledgerCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "ledger",
		Short: "Create, inspect, check, back up and move the ledger (a file or a PostgreSQL database)",
		Example: `  mpg ledger init --currency EUR
  mpg ledger accounts --kind purse -o json
  mpg ledger verify`,
	}
	c.AddCommand(a.ledgerInitCmd(), a.ledgerAccountsCmd(), a.ledgerShowCmd(), a.ledgerHistoryCmd(),
		a.ledgerTransferCmd(), a.ledgerVerifyCmd(), a.ledgerBackupCmd(), a.ledgerFindCmd(), a.ledgerReverseCmd(), a.ledgerCheckCmd(), a.ledgerAuditCmd(),
		a.ledgerMigrateCmd(), a.ledgerMigrateSchemaCmd())
	return c
}

func (a *app) ledgerInitCmd() *cobra.Command {
	var currency string
	c := &cobra.Command{
		Use:     "init",
		Short:   "Create a new ledger (a file, or the schema and books in an empty PostgreSQL database) with its float, fees and escrow accounts",
		Example: "  mpg ledger init --db /var/lib/mpg/mpg.db --currency XOF",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if currency == "" {
				currency = a.cfg.Ledger.Currency
			}
			if _, err := domain.Exponent(currency); err != nil {
				return err
			}
			if a.shared != nil {
				return errInit
			}
			o := a.ledgerOptions()
			o.KeyChecks = ledgerChecks(keysAtHand(a.cfg)) // the keys at hand are the file's from now on
			l, err := a.createBooks(cmd.Context(), o)
			if err != nil {
				return err
			}
			defer l.Close()
			res, err := l.Submit(cmd.Context(), domain.Job{
				Open: []domain.AccountSpec{
					{Currency: currency, Kind: domain.KindFloat, Owner: ownerFloat, Name: "Float"},
					{Currency: currency, Kind: domain.KindFees, Owner: ownerFees, Name: "Fees"},
					{Currency: currency, Kind: domain.KindEscrow, Owner: ownerEscrow, Name: "Escrow"},
				},
				Audit: &domain.Audit{Actor: a.actor(), Action: "ledger init", Detail: currency},
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s (%s): float %d, fees %d, escrow %d\n",
				a.booksName(), currency, res.Accounts[0].ID, res.Accounts[1].ID, res.Accounts[2].ID)
			return nil
		},
	}
	c.Flags().StringVar(&currency, "currency", "", "currency of the system accounts (default: ledger.currency, EUR)")
	return c
}

func (a *app) ledgerAccountsCmd() *cobra.Command {
	var kind, owner, currency, output string
	var limit int
	c := &cobra.Command{
		Use:     "accounts",
		Short:   "List accounts with their balances",
		Example: "  mpg ledger accounts --kind merchant --currency EUR -o table",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := a.ownerArg(owner)
			if err != nil {
				return err
			}
			f := ledger.Filter{Owner: o, Currency: currency, Limit: limit}
			if kind != "" {
				k, err := domain.ParseKind(kind)
				if err != nil {
					return err
				}
				f.Kind = k
			}
			return a.withLedger(func(l store) error {
				return printAccounts(cmd.OutOrStdout(), output, l.Accounts(f))
			})
		},
	}
	c.Flags().StringVar(&kind, "kind", "", "only this kind (purse, merchant, biller, credit_line, float, fees, escrow, bank_clearing)")
	c.Flags().StringVar(&owner, "owner", "", "only this owner: a number in any form (+33…, 06…) or a merchant code")
	c.Flags().StringVar(&a.regionFlag, "region", "", "country of national numbers (default engine.region)")
	c.Flags().StringVar(&currency, "currency", "", "only this currency")
	c.Flags().IntVar(&limit, "limit", 1000, "at most this many (0: all)")
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}

func (a *app) ledgerShowCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "show <account-id|msisdn|merchant>",
		Short:   "Show one account",
		Example: "  mpg ledger show +33612345678\n  mpg ledger show SHOP42 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				acc, err := a.find(l, args[0])
				if err != nil {
					return err
				}
				st, has, err := a.engine(l).StateOf(acc.Owner)
				if err != nil {
					return err
				}
				if output == "json" {
					out := struct {
						accountJSON
						Subscriber *engine.State `json:"subscriber,omitempty"`
					}{accountJSON: toJSON(acc)}
					if has {
						out.Subscriber = &st
					}
					return writeJSON(cmd.OutOrStdout(), out)
				}
				if err := printAccounts(cmd.OutOrStdout(), output, []domain.Account{acc}); err != nil {
					return err
				}
				if has {
					fmt.Fprintln(cmd.OutOrStdout(), describeState(st))
				}
				return nil
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	c.Flags().StringVar(&a.regionFlag, "region", "", "country of national numbers (default engine.region)")
	return c
}

// find resolves what an admin types: an account id, a number in any form, a merchant code.
func (a *app) find(l store, ref string) (domain.Account, error) {
	if _, err := strconv.ParseUint(ref, 10, 64); err == nil && len(ref) < 9 {
		return l.Find(ref)
	}
	o, err := a.ownerArg(ref)
	if err != nil {
		return domain.Account{}, err
	}
	return l.Find(o)
}

// describeState is the subscriber's PIN and lockout state in words.
func describeState(st engine.State) string {
	parts := []string{"PIN: not set"}
	if st.HasPIN {
		parts[0] = "PIN: set"
	}
	if st.AwaitingCode {
		parts = append(parts, "one-time code sent, not used yet")
	}
	switch {
	case st.LockedForever:
		parts = append(parts, "LOCKED until an operator unlocks (after "+plural(st.Lockouts, "lockout", "lockouts")+")")
	case st.LockedUntil > 0:
		parts = append(parts, "LOCKED until "+time.Unix(0, st.LockedUntil).UTC().Format(time.RFC3339))
	}
	if st.Fails > 0 {
		parts = append(parts, plural(st.Fails, "wrong PIN", "wrong PINs")+" since the last right one")
	}
	if st.PendingConfirm {
		parts = append(parts, "a payment waits for YES")
	}
	return "subscriber: " + strings.Join(parts, "; ") + "; language " + st.Lang
}

func (a *app) ledgerHistoryCmd() *cobra.Command {
	var output string
	var limit int
	var before uint64
	c := &cobra.Command{
		Use:     "history <account-id|msisdn|merchant>",
		Short:   "List an account's transfers, newest first",
		Example: "  mpg ledger history +33612345678 --limit 20\n  mpg ledger history SHOP42 --before 1200",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 10000 {
				return fmt.Errorf("--limit must be 1..10000")
			}
			return a.withLedger(func(l store) error {
				acc, err := a.find(l, args[0])
				if err != nil {
					return err
				}
				ts, err := l.History(acc.ID, limit, before)
				if err != nil {
					return err
				}
				return printTransfers(cmd.OutOrStdout(), output, acc.ID, ts)
			})
		},
	}
	c.Flags().IntVar(&limit, "limit", 20, "at most this many transfers")
	c.Flags().Uint64Var(&before, "before", 0, "only transfers older than this journal position (the SEQ column)")
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}

func (a *app) ledgerTransferCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "transfer <id>",
		Short:   "Show one transfer by its 32-hex-digit id",
		Example: "  mpg ledger transfer 18eb57471bfc623b6f7aaf883250f230",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := domain.ParseID(args[0])
			if err != nil {
				return err
			}
			return a.withLedger(func(l store) error {
				t, err := l.Transfer(id)
				if err != nil {
					return err
				}
				return printTransfers(cmd.OutOrStdout(), output, 0, []domain.Transfer{t})
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}

func (a *app) ledgerVerifyCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "verify",
		Short: "Rebuild every balance from the transfers and check the books and the hash chain",
		Long: `verify reads the whole journal and checks the hash chain, every transfer against the
accounts it names, every balance constraint, debits = credits per currency, and the
checkpointed balances. It exits 0 only when all is clean, 2 when something is broken.`,
		Example: "  mpg ledger verify --db /var/lib/mpg/mpg.db",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withLedger(func(l store) error {
				start := time.Now()
				prog := newProgress(cmd.ErrOrStderr(), "verify")
				rep, err := l.Verify(cmd.Context(), prog.update)
				prog.done()
				if err != nil {
					return err
				}
				if output == "json" {
					if err := writeJSON(cmd.OutOrStdout(), rep); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "entries=%d accounts=%d transfers=%d pending=%d in %s\n",
						rep.Entries, rep.Accounts, rep.Transfers, rep.Pending, time.Since(start).Round(time.Millisecond))
				}
				if !rep.OK() {
					return &exitError{code: 2, msg: "ledger verify FAILED: " + rep.Problem}
				}
				if output != "json" {
					fmt.Fprintln(cmd.OutOrStdout(), "ledger verify: ok")
				}
				return nil
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}

func (a *app) ledgerBackupCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "backup <file>",
		Short:   "Write a consistent copy of the ledger while it is in use (PostgreSQL: pg_dump)",
		Example: "  mpg ledger backup /backup/mpg-$(date +%F).db",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.postgres() {
				return a.backupPostgres(cmd.Context(), cmd.OutOrStdout(), args[0])
			}
			return a.withLedger(func(l store) error {
				f, err := fileOf(l, "ledger backup")
				if err != nil {
					return err
				}
				n, err := f.BackupFile(args[0])
				if err != nil {
					return fmt.Errorf("backup: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes)\n", args[0], n)
				return nil
			})
		},
	}
}

// actor is the operator an audit entry names: the peer of the admin socket (its uid, read
// from the socket by the daemon, not what the client says), or the local user.
func (a *app) actor() string {
	if a.operator != "" {
		return a.operator
	}
	return operatorName("cli", os.Getuid())
}

func operatorName(via string, uid int) string {
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username + "(" + name + ")"
	}
	return via + ":uid " + name
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// accountJSON is an account as the CLI prints it: names instead of codes, formatted amounts.
type accountJSON struct {
	domain.Account
	Kind      string `json:"kind"`
	Status    string `json:"status"`
	Available string `json:"available"`
}

func toJSON(x domain.Account) accountJSON {
	return accountJSON{x, x.Kind.String(), x.Status.String(), formatSigned(x.Available(), x.Currency)}
}

func printAccounts(w io.Writer, output string, accs []domain.Account) error {
	switch output {
	case "json":
		out := make([]accountJSON, len(accs))
		for i, x := range accs {
			out[i] = toJSON(x)
		}
		return writeJSON(w, out)
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tOWNER\tNAME\tSTATUS\tTIER\tAVAILABLE\tPENDING OUT\tPENDING IN")
		for _, x := range accs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", x.ID, x.Kind, x.Owner, x.Name, x.Status, x.Tier,
				formatSigned(x.Available(), x.Currency), domain.FormatAmount(x.DebitsPending, x.Currency),
				domain.FormatAmount(x.CreditsPending, x.Currency))
		}
		return tw.Flush()
	}
	return fmt.Errorf("-o %q: want table or json", output)
}

func formatSigned(v int64, currency string) string {
	if v < 0 {
		return "-" + domain.FormatAmount(uint64(-v), currency)
	}
	return domain.FormatAmount(uint64(v), currency)
}

func printTransfers(w io.Writer, output string, account uint64, ts []domain.Transfer) error {
	switch output {
	case "json":
		return writeJSON(w, ts)
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tTIME\tID\tTYPE\tDEBIT\tCREDIT\tAMOUNT\tREF")
		for _, t := range ts {
			amount := domain.FormatAmount(t.Amount, t.Currency)
			if account != 0 && t.Debit == account {
				amount = "-" + amount
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", t.Seq, time.Unix(0, t.Timestamp).UTC().Format(time.RFC3339),
				t.ID, t.Flags, t.Debit, t.Credit, amount, t.Ref)
		}
		return tw.Flush()
	}
	return fmt.Errorf("-o %q: want table or json", output)
}

// progress prints a one-line progress bar to stderr for long work.
type progress struct {
	w     io.Writer
	what  string
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, what string) *progress {
	return &progress{w: w, what: what, last: time.Now()}
}

func (p *progress) update(done, total uint64) {
	if time.Since(p.last) < 200*time.Millisecond || total == 0 {
		return
	}
	p.last = time.Now()
	p.shown = true
	pct := done * 100 / total
	bar := make([]byte, 30)
	for i := range bar {
		bar[i] = ' '
		if uint64(i) < pct*30/100 {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.w, "\r%s [%s] %3d%% %s/%s entries", p.what, bar, pct, strconv.FormatUint(done, 10), strconv.FormatUint(total, 10))
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
