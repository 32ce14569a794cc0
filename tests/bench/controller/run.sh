#!/usr/bin/env bash
# The controller scale benchmark (issue 4): builds the release controller
# into build-bench/, then for each backend starts it on a fresh database,
# runs the load program (loadgen.c) against it and stops it.
#
#   tests/bench/controller/run.sh [sqlite] [postgres] [replicas]
#                                    (default: sqlite postgres)
#
# replicas: two controllers on one PostgreSQL; changes go to replica A,
# even nodes poll A, odd nodes poll B; prints the fan-out on each and the
# PostgreSQL connections each replica holds.
#
# Environment: BENCH_NODES (10000), BENCH_GROUPS (100), BENCH_CONCURRENCY (32),
# BENCH_THREADS (controller HTTP threads; its default, 2, when unset),
# BENCH_GZIP (1, the default: map polls ask for gzip like weft-agent; 0: not),
# BENCH_PERF=DIR (record `perf record -g` of the controller during the load
# into DIR/perf-<backend>.data).
# PostgreSQL is a throw-away server started by tests/harness/pg.sh. All
# traffic stays on 127.0.0.1. Not part of ctest or scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$PWD

backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(sqlite postgres)
nodes=${BENCH_NODES:-10000}
groups=${BENCH_GROUPS:-100}
conc=${BENCH_CONCURRENCY:-32}

# Both the controller and the load program hold ~10k sockets.
ulimit -n 20000

tmp=$(mktemp -d /tmp/weft-bench.XXXXXX)
ctl_pid=
a_pid=
cleanup() {
	for p in "$ctl_pid" "$a_pid"; do
		if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
	"$root/tests/harness/pg.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== build (release, gcc) into build-bench/"
tests/bench/build.sh "$root/build-bench" weft-controller
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes \
	-o build-bench/loadgen tests/bench/controller/loadgen.c \
	tests/bench/controller/lghttp.c \
	-ljansson -lz -lpthread -lm
ctl=$root/build-bench/controller/weft-controller
replica_args=()

echo "== machine"
echo "commit   $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "cpus     $(nproc) ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
echo "memory   $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "kernel   $(uname -sr)"
echo "nofile   $(ulimit -n)"

# Starts the controller on database flags "$@"; sets ctl_pid, port, key.
start_controller() {
	local name=$1
	shift
	local out=$tmp/$name.out
	: >"$out"
	# Long tokens too: renewal would otherwise answer holds after 40 s.
	"$ctl" serve "$@" --listen 127.0.0.1:0 --poll-keepalive 10m \
		--relay-token-ttl 1h \
		${BENCH_THREADS:+--threads "$BENCH_THREADS"} >"$out" 2>"$tmp/$name.log" &
	ctl_pid=$!
	for _ in $(seq 300); do
		if grep -q 'listening on' "$out"; then
			port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$out")
			# A replica on an existing database prints no key.
			key=$(grep -o 'weft_api_[^[:space:]]*' "$out" | head -1 || true)
			return 0
		fi
		if ! kill -0 "$ctl_pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "controller did not start:" >&2
	cat "$tmp/$name.log" >&2
	exit 1
}

stop_controller() {
	kill -TERM "$ctl_pid"
	for _ in $(seq 300); do
		kill -0 "$ctl_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$ctl_pid" 2>/dev/null || true
	wait "$ctl_pid" 2>/dev/null || true
	ctl_pid=
}

for b in "${backends[@]}"; do
	case "$b" in
	sqlite)
		mkdir -p "$tmp/sqlite"
		start_controller sqlite --data-dir "$tmp/sqlite"
		;;
	postgres)
		tests/harness/pg.sh start "$tmp/pg"
		# A shared database needs an explicit key-encryption key.
		WEFT_KEK=$(head -c 32 /dev/urandom | base64) \
			start_controller postgres --db "$(cat "$tmp/pg/url")"
		;;
	replicas)
		# Two replicas A and B on one PostgreSQL (issue 17): changes
		# go to A, even nodes poll A, odd nodes poll B.
		tests/harness/pg.sh start "$tmp/pg"
		export WEFT_KEK
		WEFT_KEK=$(head -c 32 /dev/urandom | base64)
		start_controller replica-a --db "$(cat "$tmp/pg/url")"
		log=replica-a
		a_pid=$ctl_pid a_port=$port a_key=$key
		start_controller replica-b --db "$(cat "$tmp/pg/url")"
		replica_args=(--replica-port "$port")
		b_pid=$ctl_pid ctl_pid=$a_pid port=$a_port key=$a_key
		echo "== replica B: pid $b_pid on 127.0.0.1:${replica_args[1]}"
		;;
	*)
		echo "unknown backend $b (sqlite, postgres, replicas)" >&2
		exit 2
		;;
	esac
	echo "== $b: controller pid $ctl_pid on 127.0.0.1:$port"
	perf_pid=
	if [ -n "${BENCH_PERF:-}" ]; then
		mkdir -p "$BENCH_PERF"
		perf record -q -g -p "$ctl_pid" -o "$BENCH_PERF/perf-$b.data" \
			2>/dev/null &
		perf_pid=$!
	fi
	build-bench/loadgen --port "$port" --pid "$ctl_pid" --admin-key "$key" \
		--nodes "$nodes" --groups "$groups" --concurrency "$conc" \
		--label "$b" --gzip "${BENCH_GZIP:-1}" "${replica_args[@]}" || {
		echo "load program failed; controller log tail:" >&2
		tail -20 "$tmp/${log:-$b}.log" >&2
		exit 1
	}
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
	fi
	if [ "$b" = replicas ]; then
		echo "== PostgreSQL connections per replica (pool, listen, leader)"
		psql -X -A -t "$(cat "$tmp/pg/url")" -c "SELECT
			application_name, count(*) FROM pg_stat_activity
			WHERE application_name LIKE 'weft-controller/%'
			GROUP BY 1 ORDER BY 1"
		stop_controller
		ctl_pid=$b_pid
		a_pid=
	fi
	stop_controller
	replica_args=()
	if [ "$b" != sqlite ]; then
		tests/harness/pg.sh stop "$tmp/pg"
	fi
done
