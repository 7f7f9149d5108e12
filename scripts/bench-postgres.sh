#!/usr/bin/env bash
# bench-postgres.sh: mpg on PostgreSQL against PostgreSQL's own yardstick, on one throw-away
# cluster, in the same minutes. It makes a cluster in a temporary directory (durable commits,
# as in production: fsync=on, synchronous_commit=on), runs pgbench's TPC-B-like load (one
# commit per transfer) on database pgbench, then `mpg bench --ledger postgres` with three
# daemons on database mpg, prints both results and their ratio, and removes everything on
# exit. `make bench-postgres` runs it. It takes a few minutes.
#
# Environment (all optional):
#   PG_BIN            where initdb, pg_ctl, postgres, pgbench are (default: the newest
#                     /usr/lib/postgresql/*/bin, else PATH)
#   PGBENCH_SECONDS   pgbench's duration (60)
#   MPG_BENCH_ARGS    mpg bench's load (--daemons 3 --outstanding 200 --subscribers 2000
#                     --commands 50000)
#   MPG_CPUPROFILE    a file for the first daemon's CPU profile (go tool pprof -top)
#   MPG_DSN_OPTIONS   more of mpg's DSN, e.g. "pool_max_conns=32" (each daemon's pool; pgx's
#                     default is max(4, cores))
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ -z "${PG_BIN:-}" ]]; then
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	[[ -n "$PG_BIN" ]] || PG_BIN=$(dirname "$(command -v initdb || echo /nonexistent/initdb)")
fi
for b in initdb pg_ctl postgres pgbench createdb; do
	[[ -x "$PG_BIN/$b" ]] || { echo "bench-postgres: $PG_BIN/$b not found: install postgresql (Debian: apt-get install postgresql) or set PG_BIN" >&2; exit 1; }
done
PGBENCH_SECONDS=${PGBENCH_SECONDS:-60}
MPG_BENCH_ARGS=${MPG_BENCH_ARGS:---daemons 3 --outstanding 200 --subscribers 2000 --commands 50000}

tmp=$(mktemp -d /tmp/mpg-bench-postgres.XXXXXX)
data="$tmp/data"
started=""

# PostgreSQL refuses to run as root: root runs the server's tools as the postgres user.
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cleanup() {
	local rc=$?
	if [[ -n "$started" ]]; then
		as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT INT TERM

if [[ $(id -u) -eq 0 ]]; then
	id postgres >/dev/null 2>&1 || { echo "bench-postgres: run as root, but there is no postgres user to run the server as" >&2; exit 1; }
	chown postgres: "$tmp"
fi

echo "== building mpg"
go build -o "$tmp/mpg" ./cmd/mpg

# A free TCP port on 127.0.0.1 (also the socket's number); bounded tries.
port=""
for _ in $(seq 1 50); do
	p=$((20000 + RANDOM % 40000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && [[ ! -e "$tmp/.s.PGSQL.$p" ]]; then
		port=$p
		break
	fi
done
[[ -n "$port" ]] || { echo "bench-postgres: no free port found" >&2; exit 1; }

echo "== cluster in $tmp, port $port ($("$PG_BIN/postgres" --version))"
as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$tmp/initdb.log" 2>&1 ||
	{ cat "$tmp/initdb.log" >&2; exit 1; }
cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$tmp'
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 256MB
max_connections = 200
CONF
as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 60 start >/dev/null ||
	{ cat "$tmp/server.log" >&2; exit 1; }
started=1
as_pg "$PG_BIN/createdb" -h "$tmp" -p "$port" -U postgres pgbench
as_pg "$PG_BIN/createdb" -h "$tmp" -p "$port" -U postgres mpg
echo "cores: $(nproc); settings: $(as_pg "$PG_BIN/psql" -h "$tmp" -p "$port" -U postgres -d postgres -Atc \
	"SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_sync_method', 'full_page_writes')")"

echo
echo "== $(date -u +%FT%TZ) pgbench -i -s 10 (database pgbench)"
as_pg "$PG_BIN/pgbench" -h "$tmp" -p "$port" -U postgres -i -s 10 -q pgbench 2>&1 | tail -n 3
echo "== $(date -u +%FT%TZ) pgbench -c 32 -j 2 -T $PGBENCH_SECONDS -P 10 (TPC-B-like, one commit per transfer)"
pgbench_out=$(as_pg "$PG_BIN/pgbench" -h "$tmp" -p "$port" -U postgres -c 32 -j 2 -T "$PGBENCH_SECONDS" -P 10 pgbench 2>&1) ||
	{ echo "$pgbench_out" >&2; exit 1; }
echo "$pgbench_out"
tps=$(echo "$pgbench_out" | awk '/^tps = / {print $3; exit}')

echo
dsn="host=$tmp port=$port user=postgres dbname=mpg sslmode=disable${MPG_DSN_OPTIONS:+ $MPG_DSN_OPTIONS}"
profile=()
[[ -n "${MPG_CPUPROFILE:-}" ]] && profile=(--cpuprofile "$MPG_CPUPROFILE")
# shellcheck disable=SC2086 # MPG_BENCH_ARGS is a list of flags
echo "== $(date -u +%FT%TZ) mpg bench --ledger postgres --dsn \"$dsn\" $MPG_BENCH_ARGS ${profile[*]:-}"
set +e
# An empty config: the bench sets what it needs, whatever mpg.toml lies in this directory.
: >"$tmp/empty.toml"
# shellcheck disable=SC2086
"$tmp/mpg" --config "$tmp/empty.toml" bench --ledger postgres --dsn "$dsn" $MPG_BENCH_ARGS "${profile[@]}" 2>&1 | tee "$tmp/mpg-bench.out"
rc=${PIPESTATUS[0]}
set -e
last=$(tail -n 1 "$tmp/mpg-bench.out")
rate=$(echo "$last" | sed -n 's/^mo_mt_per_s=\([0-9]*\).*/\1/p')

echo
echo "== summary ($(date -u +%FT%TZ), $(nproc) cores)"
echo "pgbench:   tps=${tps:-?} (TPC-B-like, -c 32, durable commits)"
echo "mpg bench: $last"
if [[ -n "$tps" && -n "$rate" ]]; then
	awk -v r="$rate" -v t="$tps" 'BEGIN { printf "mpg PAY/s / pgbench TPS = %.2f (goal >= 2)\n", r / t }'
fi
exit "$rc"
