// Package pgtest gives mpg's tests a throw-away PostgreSQL server: one cluster per test
// binary, made with initdb in a temporary directory and run by the test binary itself, and a
// fresh, empty database for every test that asks for one.
//
// A package that uses it runs its tests through Main, which stops the cluster and removes
// its directory when the binary ends:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.Start(t) // a database of its own, dropped when the test ends
//		...
//	}
//
// The server's binaries are Debian's (/usr/lib/postgresql/<major>/bin, the newest major),
// or those on PATH, or those in $MPG_POSTGRES_BIN when it is set. When there are none, the
// tests skip and say to install postgresql; with MPG_REQUIRE_POSTGRES=1 (CI) they fail.
//
// PostgreSQL refuses to run as root: a root test binary runs initdb and the server as the
// postgres system user (made by Debian's package), and hands it the directory. Anyone else
// runs them as himself.
//
// The server listens on a Unix socket in its directory (the DSNs name that) and on a free
// port of 127.0.0.1, so it never meets a system cluster on 5432. It runs with fsync=off and
// synchronous_commit=off: the tests check what the ledger does, not whether the disk keeps
// it through a power cut. A killed server loses nothing of fsync=off (its writes are in the
// operating system's cache), but synchronous_commit=off lets a commit return before its WAL
// leaves the server's memory: a crashed server (SIGQUIT, SIGKILL) forgets the last fraction
// of a second of commits. A test that crashes the server (NewCluster, Restart) gets a cluster
// with synchronous_commit=on, where a commit returned is in the WAL the restart recovers
// from. Benchmarks that measure durable commits must use a server of their own.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// StartTimeout bounds how long the cluster may take to start (initdb included).
const StartTimeout = 30 * time.Second

// stopTimeout bounds a fast shutdown before the server is killed.
const stopTimeout = 15 * time.Second

// Cluster is the running server.
type Cluster struct {
	Dir     string        // the temporary directory: data/, the socket, server.log
	BinDir  string        // where initdb and postgres came from
	Port    int           // the TCP port on 127.0.0.1, also the socket's number
	Version string        // the server's version, as "SHOW server_version" says it
	Startup time.Duration // how long initdb and the server took to take connections

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the server process has ended
	waitErr error
	// syncCommit runs the server with synchronous_commit=on (NewCluster's, which a test may
	// crash), else off.
	syncCommit bool

	mu    sync.Mutex
	admin *pgx.Conn // to the postgres database: creates and drops the tests' databases
}

var (
	mainRunning atomic.Bool
	once        sync.Once
	shared      *Cluster
	sharedErr   error
	missing     string // why there is no server to start, when there is none
	dbCounter   atomic.Uint64
)

// Main runs the tests and then stops the cluster, if one was started, and removes its
// directory. Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	mainRunning.Store(true)
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Start returns the DSN of a new, empty database on the test binary's cluster, starting the
// cluster on first use. The database is dropped when the test ends (close its connections
// first: a t.Cleanup registered after Start runs before the drop). It skips the test when
// PostgreSQL is not installed, unless MPG_REQUIRE_POSTGRES=1.
func Start(t testing.TB) string {
	t.Helper()
	return Shared(t).NewDatabase(t)
}

// NewDatabase returns the DSN of a new, empty database on c, dropped when the test ends (as
// Start's are, on the shared cluster).
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := c.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		// FORCE ends connections a test left open (PostgreSQL 13 and later).
		if err := c.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return c.DSN(name)
}

// NewCluster starts a cluster of the test's own, which the test may stop and start again
// (Restart) without touching the other tests' shared one; it is stopped and its directory
// removed when the test ends. It skips or fails t as Start does when PostgreSQL is missing.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, why := findBinDir()
	if bin == "" {
		msg := "pgtest: PostgreSQL is not installed (" + why + "): install it (Debian: apt-get install postgresql) to run these tests"
		if os.Getenv("MPG_REQUIRE_POSTGRES") == "1" {
			t.Fatal(msg + "; MPG_REQUIRE_POSTGRES=1 makes that a failure")
		}
		t.Skip(msg)
	}
	c, err := startCluster(bin, true)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

// Restart stops the server and starts it again on the same directory and port, so that
// every DSN of it stays good: its clients lose their connections and must connect again.
// With immediate, the server stops as if it crashed (SIGQUIT: no checkpoint, every
// connection cut at once) and recovers from its WAL at the start; otherwise it shuts down
// fast (SIGINT: open transactions are rolled back, a checkpoint is written). It stays down
// for down before it starts again. Restart must not be used on the shared cluster, whose
// databases other tests use at the same time: only on a NewCluster.
func (c *Cluster) Restart(immediate bool, down time.Duration) error {
	if c == shared {
		return fmt.Errorf("pgtest: Restart of the shared cluster: use NewCluster")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.admin != nil {
		c.admin.Close(context.Background())
		c.admin = nil
	}
	sig := syscall.SIGINT
	if immediate {
		sig = syscall.SIGQUIT
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.exited:
	case <-time.After(stopTimeout):
		c.kill()
		return fmt.Errorf("pgtest: postgres did not stop within %v; killed", stopTimeout)
	}
	time.Sleep(down)
	cred, err := runAs()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	c.exited = make(chan struct{})
	// The log of the run that ended is kept beside the new one, for a test's failure.
	if b, err := os.ReadFile(filepath.Join(c.Dir, "server.log")); err == nil {
		f, err := os.OpenFile(filepath.Join(c.Dir, "server.old.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			f.Write(b)
			f.Close()
		}
	}
	if err := c.run(ctx, cred, filepath.Join(c.Dir, "data")); err != nil {
		return fmt.Errorf("pgtest: restart: %w", err)
	}
	return nil
}

// Shared returns the test binary's cluster, starting it on first use; it skips or fails t as
// Start does.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("pgtest: the package's TestMain must run the tests through pgtest.Main (os.Exit(pgtest.Main(m))), which stops the cluster when the tests end")
	}
	once.Do(func() {
		bin, why := findBinDir()
		if bin == "" {
			missing = why
			return
		}
		shared, sharedErr = startCluster(bin, false)
	})
	if missing != "" {
		msg := "pgtest: PostgreSQL is not installed (" + missing + "): install it (Debian: apt-get install postgresql) to run these tests"
		if os.Getenv("MPG_REQUIRE_POSTGRES") == "1" {
			t.Fatal(msg + "; MPG_REQUIRE_POSTGRES=1 makes that a failure")
		}
		t.Skip(msg)
	}
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// DSN is the connection string for a database of the cluster, over its Unix socket.
func (c *Cluster) DSN(database string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", c.Dir, c.Port, database)
}

// TCPDSN is the connection string for a database of the cluster over TCP on 127.0.0.1.
func (c *Cluster) TCPDSN(database string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", c.Port, database)
}

func (c *Cluster) exec(ctx context.Context, sql string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.admin == nil || c.admin.IsClosed() { // a test restarted the server, or a query broke it
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err != nil {
			return err
		}
		c.admin = conn
	}
	_, err := c.admin.Exec(ctx, sql)
	return err
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// dbName makes a database name from a test's: unique in the binary, at most 63 bytes.
func dbName(test string) string {
	n := dbCounter.Add(1)
	s := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(test), "_"), "_")
	prefix := fmt.Sprintf("t%d_", n)
	if len(prefix)+len(s) > 63 {
		s = s[:63-len(prefix)]
	}
	return prefix + s
}

// findBinDir finds a directory with initdb and postgres, or says why there is none.
func findBinDir() (dir, why string) {
	ok := func(d string) bool {
		for _, f := range []string{"initdb", "postgres"} {
			if st, err := os.Stat(filepath.Join(d, f)); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("MPG_POSTGRES_BIN"); d != "" {
		if ok(d) {
			return d, ""
		}
		return "", "no initdb and postgres in MPG_POSTGRES_BIN=" + d
	}
	// Debian: /usr/lib/postgresql/<major>/bin; the newest major wins.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if ok(d) {
			return d, ""
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && ok(filepath.Dir(p)) {
		return filepath.Dir(p), ""
	}
	return "", "no initdb and postgres in /usr/lib/postgresql/*/bin or on PATH"
}

func majorOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// runAs says which user runs the server: nil for the current one; the postgres system user
// when the current one is root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to: no postgres user to run it as (%v)", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres user: uid %q gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// startCluster makes and starts a cluster; syncCommit makes every commit reach the WAL
// (the operating system's cache of it) before it returns.
func startCluster(bin string, syncCommit bool) (*Cluster, error) {
	began := time.Now()
	deadline := began.Add(StartTimeout)
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	sweep()
	// A short path: the socket's full name must fit in 107 bytes.
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, BinDir: bin, exited: make(chan struct{}), syncCommit: syncCommit}
	fail := func(err error) (*Cluster, error) {
		c.kill()
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"--pgdata="+data, "--username=postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = serverEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("not done in %v", StartTimeout)
		}
		return fail(fmt.Errorf("initdb in %s: %v\n%s", dir, err, out))
	}
	// A port free now may be taken before the server binds it: try a few.
	var lastErr error
	for attempt := 0; attempt < 3 && time.Now().Before(deadline); attempt++ {
		if attempt > 0 {
			c.exited = make(chan struct{})
		}
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		c.Port = port
		if lastErr = c.run(ctx, cred, data); lastErr == nil {
			c.Startup = time.Since(began)
			return c, nil
		}
		c.kill()
		if !strings.Contains(c.logTail(), "could not bind") {
			break
		}
	}
	return fail(lastErr)
}

// run starts the server and waits until it takes connections.
func (c *Cluster) run(ctx context.Context, cred *syscall.Credential, data string) error {
	logPath := filepath.Join(c.Dir, "server.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	// The server is a child of the test binary, not a daemon (as pg_ctl would make it): it
	// gets SIGINT (fast shutdown) if the binary dies without Main's stop, so no test run
	// leaves a server behind.
	c.cmd = exec.Command(filepath.Join(c.BinDir, "postgres"),
		"-D", data,
		"-k", c.Dir, // the Unix socket
		"-h", "127.0.0.1",
		"-p", strconv.Itoa(c.Port),
		"-c", "fsync=off",
		"-c", "synchronous_commit="+map[bool]string{true: "on", false: "off"}[c.syncCommit],
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB",
		"-c", "max_connections=200",
		"-c", "log_min_messages=warning",
	)
	c.cmd.Dir = c.Dir
	c.cmd.Env = serverEnv()
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited, cmd := c.exited, c.cmd
	go func() {
		c.waitErr = cmd.Wait() // read only after exited is closed
		close(exited)
	}()
	for {
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err == nil {
			if err = conn.QueryRow(ctx, "SHOW server_version").Scan(&c.Version); err == nil {
				c.admin = conn
				return nil
			}
			conn.Close(context.Background())
		}
		select {
		case <-exited:
			return fmt.Errorf("postgres exited at start (%v); %s", c.waitErr, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("postgres took no connection within %v (last: %v); %s", StartTimeout, err, c.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop shuts the server down (fast shutdown, then a kill after 15 s) and removes its directory.
func (c *Cluster) Stop() error {
	if c.admin != nil {
		c.admin.Close(context.Background())
	}
	var err error
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(stopTimeout):
			c.kill()
			err = fmt.Errorf("postgres did not stop within %v; killed", stopTimeout)
		}
	}
	if rmErr := os.RemoveAll(c.Dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

func (c *Cluster) kill() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Kill()
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
	}
}

// logTail is the end of the server's log, for errors.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(filepath.Join(c.Dir, "server.log"))
	if err != nil {
		return "no server log"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "server log:\n" + string(b)
}

// serverEnv is the environment of initdb and the server: this one's, less what would point
// them at another cluster or at root's home.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

const dirPrefix = "mpg-pgtest-"

// sweep removes what test binaries killed before Main could stop their clusters left: their
// directories (their servers died with them). A directory is left alone while a server runs
// in it, and for two minutes after its last change (another binary may be making it).
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil || !st.IsDir() || time.Since(st.ModTime()) < 2*time.Minute {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
			if pid > 0 && syscall.Kill(pid, 0) != syscall.ESRCH {
				continue // its server still runs
			}
		}
		os.RemoveAll(d)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
