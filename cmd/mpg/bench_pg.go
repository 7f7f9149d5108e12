package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mpg/pgledger"
)

// benchDaemon is one `mpg serve` the end-to-end bench runs as its child.
type benchDaemon struct {
	what                    string // "daemon", or "daemon bench2" among several
	cmd                     *exec.Cmd
	exited                  chan error    // its exit, once (waitReady reads it)
	done                    chan struct{} // closed when it has exited
	httpAddr, apiAddr, sock string
	log                     string
}

func (d *benchDaemon) start(exe string, args, env []string, logPath string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	d.log = logPath
	d.cmd = exec.Command(exe, args...)
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		return err
	}
	d.exited, d.done = make(chan error, 1), make(chan struct{})
	go func() {
		err := d.cmd.Wait()
		close(d.done)
		d.exited <- err
	}()
	return nil
}

// kill ends the daemon if it still runs: our own child, by its handle.
func (d *benchDaemon) kill() {
	if d.done == nil {
		return
	}
	select {
	case <-d.done:
	default:
		d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *benchDaemon) url(path string) string { return "http://" + d.httpAddr + path }

// spreadFlow runs the k-th command through flow k mod len: a flow per daemon.
type spreadFlow []flow

func (s spreadFlow) run(ctx context.Context, msisdn string, k int64) error {
	return s[int(k)%len(s)].run(ctx, msisdn, k)
}

// emptyDatabase refuses a database that holds any table, view or sequence of its own: the
// bench makes new books, and never writes into an operator's.
func emptyDatabase(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgxpool.New(ctx, dsn) // as the ledger connects: pool_max_conns and the like are the pool's
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer conn.Close()
	var n int
	var some string
	err = conn.QueryRow(ctx, `SELECT count(*), coalesce(min(n.nspname || '.' || c.relname), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')`).Scan(&n, &some)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("bench: %s is not empty (%d relations, %s among them): the bench makes new books and needs an empty database (createdb a new one, or drop this one)",
			pgledger.Describe(dsn), n, some)
	}
	return nil
}

// pgServer is a PostgreSQL server running on this machine: its postmaster, whose children
// are the server's other processes.
type pgServer struct{ pid int }

// localServer finds the server a DSN names when it is this machine's and its processes are
// readable: the DSN's host is a socket directory, whose lock file names the postmaster. It
// returns nil otherwise (a TCP address: the server may be anywhere).
func localServer(dsn string) *pgServer {
	c, err := pgx.ParseConfig(dsn)
	if err != nil || !strings.HasPrefix(c.Host, "/") {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(c.Host, fmt.Sprintf(".s.PGSQL.%d.lock", c.Port)))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return nil
	}
	s := &pgServer{pid: pid}
	if s.cpu() < 0 {
		return nil
	}
	return s
}

// cpu is the server's CPU seconds so far: the postmaster's own and those of the children it
// reaped (cutime, cstime), and those of its live children. -1 when unreadable.
func (s *pgServer) cpu() float64 {
	if s == nil {
		return -1
	}
	f := procStat(s.pid)
	if len(f) < 15 {
		return -1
	}
	total := ticks(f[11]) + ticks(f[12]) + ticks(f[13]) + ticks(f[14])
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	want := strconv.Itoa(s.pid)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if c := procStat(pid); len(c) >= 13 && c[1] == want {
			total += ticks(c[11]) + ticks(c[12])
		}
	}
	return total
}

// procStat is a process's /proc stat fields after its name: state, ppid, … (nil when gone).
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil
	}
	return strings.Fields(s[i+2:])
}

// ticks turns clock ticks (1/100 s on Linux) into seconds.
func ticks(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v / 100
}

func joinInts(v []int64, sep string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(s, sep)
}
