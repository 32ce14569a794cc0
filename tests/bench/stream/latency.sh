#!/bin/sh
# Stream-mode connection setup latency (issue 18): the time from connect()
# to the first byte of the answer, for a small TCP service on c (it
# answers one byte to a one-line request and closes), from a, in one run:
#   - plain TCP to c's own address on the lab's bridge (no Weft at all),
#   - TCP to c's mesh IPv4 (the TUN path: packets in QUIC datagrams),
#   - TCP through a stream-mode forward on a (127.0.0.1:15202 -> c:7000:
#     a QUIC stream on the same peer connection, the header, c's agent
#     connecting to 127.0.0.1:7000 and its open reply, then the splice).
# Warm: the peer connection is up; BENCH_ROUNDS rounds of BENCH_N
# sequential connect + request + first byte per path, alternating paths
# each round; median and p99 over all samples, and the ratios to the TUN
# path and to plain TCP. Cold: BENCH_COLD times, a's agent restarted and
# the first connection timed (the peer connection is set up on demand,
# on the relay path: QUIC handshake included), through the forward and
# (after another restart) over the TUN path; medians.
#
#   tests/bench/stream/latency.sh [BUILD_DIR]
#
# Needs root. Lab and build as tests/bench/stream/run.sh. Environment:
# BENCH_N (200), BENCH_ROUNDS (3), BENCH_COLD (5). Not a test: never
# registered with ctest.
set -u

src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$src/build-bench}
n=${BENCH_N:-200}
rounds=${BENCH_ROUNDS:-3}
cold=${BENCH_COLD:-5}
BENCH_TOOLS="jq python3"
BENCH_A_FLAGS="--forward 127.0.0.1:15202=c:7000"
. "$src/tests/bench/connector/lab.sh"

# ttfb HOST PORT N: N sequential connections from a, each connect, a
# request line and the first byte of the answer; prints the times in
# microseconds, one a line (nothing for a failed one).
ttfb() {
	nsrun a python3 - "$1" "$2" "$3" <<'PY'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(n):
    t0 = time.perf_counter()
    try:
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"ping\n")
        ok = s.recv(1) == b"x"
        s.close()
    except OSError:
        ok = False
    if ok:
        print(int((time.perf_counter() - t0) * 1e6))
PY
}

# stats FILE: "median p99 count" of the microseconds in FILE.
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (!NR) { print "0 0 0"; exit }
		i = int(NR * 0.99 + 0.5); if (i < 1) i = 1
		printf "%d %d %d\n", v[int((NR + 1) / 2)], v[i], NR }'
}

# restart_a: a's agent again (same state and flags), running with c as
# its peer; no packet to c yet, so no peer connection.
restart_a() {
	stop_pid "$a_pid" TERM
	start_agent a "$ka" --accept-routes $BENCH_A_FLAGS
	a_pid=$AGENT_PID
	wait_running a 1 || exit 1
}

bench_lab_up '[
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["tag:c:7000"]},
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["resource:site:*","tag:c:*"]}]'
c_addr=$(lab addr "$L" c)
# The service: one byte per connection, on every address of c.
nsrun c python3 - >"$tmp/srv.log" 2>&1 <<'PY' &
import socket
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 7000))
l.listen(128)
while True:
    c, _ = l.accept()
    try:
        if c.recv(64):
            c.sendall(b"x")
    except OSError:
        pass
    c.close()
PY
pids="$pids $!"
sleep 0.5

: >"$tmp/plain" && : >"$tmp/tun" && : >"$tmp/stream"
for r in $(seq "$rounds"); do
	ttfb "$c_addr" 7000 "$n" >>"$tmp/plain"
	ttfb "$c4" 7000 "$n" >>"$tmp/tun"
	ttfb 127.0.0.1 15202 "$n" >>"$tmp/stream"
	say "round $r done"
done
set -- $(stats "$tmp/plain")
pm=$1 pp=$2 pn=$3
set -- $(stats "$tmp/tun")
tm=$1 tp=$2 tn=$3
set -- $(stats "$tmp/stream")
sm=$1 sp=$2 sn=$3

: >"$tmp/cold-stream" && : >"$tmp/cold-tun"
for r in $(seq "$cold"); do
	restart_a
	ttfb 127.0.0.1 15202 1 >>"$tmp/cold-stream"
	restart_a
	ttfb "$c4" 7000 1 >>"$tmp/cold-tun"
done
set -- $(stats "$tmp/cold-stream")
csm=$1 csn=$3
set -- $(stats "$tmp/cold-tun")
ctm=$1 ctn=$3

echo "stream latency bench: path $path (warm), $rounds x $n connections" \
	"per path, $cold cold starts"
printf '%-34s %10s %10s %6s\n' "time to first byte" "median us" "p99 us" "n"
printf '%-34s %10s %10s %6s\n' "plain TCP (no Weft)" "$pm" "$pp" "$pn"
printf '%-34s %10s %10s %6s\n' "TUN path (c's mesh IPv4)" "$tm" "$tp" "$tn"
printf '%-34s %10s %10s %6s\n' "stream forward" "$sm" "$sp" "$sn"
printf '%-34s %10s %10s %6s\n' "cold: TUN path, first connection" "$ctm" - "$ctn"
printf '%-34s %10s %10s %6s\n' "cold: stream, first connection" "$csm" - "$csn"
awk -v s="$sm" -v sp="$sp" -v t="$tm" -v tp="$tp" -v p="$pm" 'BEGIN {
	if (t > 0 && p > 0)
		printf "ratio stream / TUN: median %.2f, p99 %.2f; stream / plain TCP: median %.2f\n",
			s / t, sp / tp, s / p }'
awk -v s="$csm" -v t="$ctm" 'BEGIN {
	if (t > 0) printf "ratio cold stream / cold TUN: %.2f\n", s / t }'
