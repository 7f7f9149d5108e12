package pgtest

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// Each test gets a database of its own, empty, on one cluster, over the socket and over TCP.
func TestStart(t *testing.T) {
	ctx := context.Background()
	var names []string
	for i := 0; i < 2; i++ {
		dsn := Start(t)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		var db string
		var tables int
		if err := conn.QueryRow(ctx, "SELECT current_database(), (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')").Scan(&db, &tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("%s: %d tables in a fresh database", db, tables)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE x (id bigint PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		names = append(names, db)
	}
	if names[0] == names[1] {
		t.Fatalf("two databases named %s", names[0])
	}
	c := Shared(t)
	t.Logf("PostgreSQL %s from %s in %s, port %d, started in %v", c.Version, c.BinDir, c.Dir, c.Port, c.Startup.Round(1e6))
	conn, err := pgx.Connect(ctx, c.TCPDSN(names[0]))
	if err != nil {
		t.Fatalf("over TCP: %v", err)
	}
	defer conn.Close(ctx)
	var fsync string
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "off" {
		t.Errorf("fsync = %q, %v", fsync, err)
	}
}

// The server runs as the postgres user when the tests run as root (PostgreSQL refuses root).
func TestServerUser(t *testing.T) {
	dsn := Start(t)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	st, err := os.Stat(filepath.Join(Shared(t).Dir, "data", "PG_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	want := uint32(os.Geteuid())
	if want == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseUint(u.Uid, 10, 32)
		want = uint32(n)
	}
	if got := st.Sys().(*syscall.Stat_t).Uid; got != want {
		t.Fatalf("data directory owned by uid %d, want %d", got, want)
	}
}

func TestDBName(t *testing.T) {
	long := strings.Repeat("TestSomething/with spaces ", 10)
	n := dbName(long)
	if len(n) > 63 || strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		t.Fatalf("dbName = %q", n)
	}
}

// A cluster of the test's own restarts on the same port, crashed or shut down: what was
// committed before is there after, and the DSN needs no change.
func TestNewClusterRestart(t *testing.T) {
	c := NewCluster(t)
	if c == Shared(t) {
		t.Fatal("NewCluster returned the shared cluster")
	}
	dsn := c.NewDatabase(t)
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE TABLE x (id bigint PRIMARY KEY)")
	for i, immediate := range []bool{true, false} {
		exec("INSERT INTO x VALUES (" + strconv.Itoa(i) + ")")
		if err := c.Restart(immediate, 0); err != nil {
			t.Fatalf("restart (immediate %v): %v", immediate, err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM x").Scan(&n); err != nil || n != 2 {
		t.Fatalf("after two restarts: %d rows, %v", n, err)
	}
	if err := Shared(t).Restart(false, 0); err == nil {
		t.Fatal("the shared cluster restarted")
	}
}
