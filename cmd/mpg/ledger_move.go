package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"mpg/ledger"
	"mpg/pgledger"
)

// Moving the books from a file to PostgreSQL, and what a backup is there.

func (a *app) ledgerMigrateCmd() *cobra.Command {
	var from, to string
	c := &cobra.Command{
		Use:   "migrate --from mpg.db [--to DSN]",
		Short: "Copy a ledger file into an empty PostgreSQL database, and prove both the same",
		Long: `migrate copies the books of a ledger file, as they are, into an empty PostgreSQL
database: the journal and its hash chain, accounts, people (sealed under the same identity
key: give the daemon the same keys), payment records, the outbox, dedupe records and parts.
It creates the database's schema first. Stop the daemon on the file before: the file is
opened read-only and locked. Then both sides are verified and compared (entries, accounts,
transfers, pending, volumes and the chain's head hash); it exits 2 if they differ.

--to defaults to the configuration's ledger.dsn (or ledger.dsn_file, or MPG_LEDGER_DSN):
a DSN on the command line is seen by other users of the machine, so keep passwords out of it.`,
		Example: `  mpg ledger migrate --from /var/lib/mpg/mpg.db --to "postgres://mpg@db1/mpg"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				dsn, err := a.cfg.Ledger.DSNValue()
				if err != nil {
					return err
				}
				to = dsn
			}
			if to == "" {
				return fmt.Errorf("--to: name the PostgreSQL database (or set ledger.dsn)")
			}
			return a.migrateBooks(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), from, to)
		},
	}
	c.Flags().StringVar(&from, "from", "", "the ledger file to copy")
	c.Flags().StringVar(&to, "to", "", "the PostgreSQL database (default: ledger.dsn)")
	c.MarkFlagRequired("from")
	return c
}

// migrateBooks copies the file into the database and compares both.
func (a *app) migrateBooks(ctx context.Context, out, errw io.Writer, from, to string) error {
	// Opening the file once brings it to this mpg's schema and checks the keys at hand.
	src, err := ledger.Open(from, a.ledgerOptions())
	if err != nil {
		return keyAdvice(err, keysAtHand(a.cfg))
	}
	src.Close()
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = pgledger.MigrateDSN(mctx, to)
	cancel()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	db, err := pgledger.Open(cctx, to)
	cancel()
	if err != nil {
		return err
	}
	store := pgledger.NewStore(db)
	prog := newProgress(errw, "migrate")
	start := time.Now()
	n, err := ledger.CopyFile(ctx, from, store, func(_ string, keys int) { prog.update(uint64(keys), 0) })
	prog.done()
	if err != nil {
		store.Close()
		return err
	}
	fmt.Fprintf(out, "copied %d keys from %s to %s in %s\n", n, from, pgledger.Describe(to), time.Since(start).Round(time.Millisecond))
	return a.compareBooks(ctx, out, from, store)
}

// compareBooks verifies the file and the database and says whether they are the same books.
func (a *app) compareBooks(ctx context.Context, out io.Writer, from string, store *pgledger.Store) error {
	src, err := ledger.Open(from, a.ledgerOptions())
	if err != nil {
		store.Close()
		return err
	}
	defer src.Close()
	dst, err := ledger.OpenShared(store, a.ledgerOptions())
	if err != nil {
		store.Close()
		return err
	}
	defer dst.Close()
	var reps [2]*ledger.Report
	for i, l := range []*ledger.Ledger{src, dst} {
		if reps[i], err = l.Verify(ctx, nil); err != nil {
			return err
		}
		fmt.Fprintf(out, "%-8s entries=%d accounts=%d transfers=%d pending=%d head=%s %s\n", []string{"file", "database"}[i],
			reps[i].Entries, reps[i].Accounts, reps[i].Transfers, reps[i].Pending, reps[i].Head, verdict(reps[i]))
	}
	if problem := sameBooks(reps[0], reps[1]); problem != "" {
		return &exitError{code: 2, msg: "ledger migrate: the copy differs: " + problem}
	}
	fmt.Fprintln(out, "ledger migrate: ok, the database holds the same books (set ledger.driver = \"postgres\")")
	return nil
}

func verdict(r *ledger.Report) string {
	if r.OK() {
		return "ok"
	}
	return "BROKEN: " + r.Problem
}

// sameBooks says how two verified books differ ("" when they are the same).
func sameBooks(a, b *ledger.Report) string {
	switch {
	case !a.OK() || !b.OK():
		return "a side does not verify"
	case a.Head != b.Head || a.Entries != b.Entries:
		return fmt.Sprintf("journal head %d %s against %d %s", a.Entries, a.Head, b.Entries, b.Head)
	case a.Accounts != b.Accounts || a.Transfers != b.Transfers || a.Pending != b.Pending:
		return "accounts, transfers or pending transfers differ"
	}
	for cur, v := range a.Currencies {
		if b.Currencies[cur] != v {
			return "volume in " + cur + " differs"
		}
	}
	return ""
}

// backupPostgres writes a consistent dump of the database with pg_dump (custom format,
// one snapshot while the daemons write), and says what a backup is there.
func (a *app) backupPostgres(ctx context.Context, out io.Writer, file string) error {
	fmt.Fprint(out, `With PostgreSQL, mpg's books are the database: back them up as a database.
  - This command runs pg_dump (one consistent snapshot while the daemons go on); restore it
    into an empty database with pg_restore --dbname=<dsn> <file>.
  - For no loss at all, run a synchronous standby and keep WAL archives for point-in-time
    recovery (README, "PostgreSQL"); a dump only holds what was committed when it began.
`)
	if _, err := exec.LookPath("pg_dump"); err != nil {
		return fmt.Errorf("pg_dump is not installed here (Debian: apt-get install postgresql-client)")
	}
	if _, err := os.Stat(file); err == nil {
		return fmt.Errorf("%s exists: a backup never overwrites", file)
	}
	dsn, err := a.cfg.Ledger.DSNValue()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "pg_dump", "--format=custom", "--no-owner", "--file="+file, "--dbname="+dsn)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		os.Remove(file)
		return fmt.Errorf("pg_dump: %w", err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s (%d bytes, pg_dump custom format)\n", file, fi.Size())
	return nil
}

func (a *app) ledgerMigrateSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate-schema",
		Short: "Bring the ledger's schema to this mpg's (a daemon refuses a schema it does not know)",
		Long: `migrate-schema applies, in order and each in its own transaction, the schema changes
this mpg knows and the database has not had yet (none when it is current). A database
written by a newer mpg is refused, never changed. On a ledger file, opening it is what
migrates it: this command opens it once and closes it.`,
		Example: "  mpg ledger migrate-schema",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if !a.postgres() {
				l, err := ledger.Open(a.dbPath, a.ledgerOptions())
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s is at schema %d\n", a.dbPath, ledger.SchemaVersion)
				return l.Close()
			}
			if err := a.migrateSchema(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s is at schema %d\n", a.booksName(), pgledger.SchemaVersion)
			return nil
		},
	}
}
