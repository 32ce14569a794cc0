#!/bin/sh
# Stream-mode benchmark (issue 18): iperf3 TCP from a to c over the same
# peer connection, in one run (connection setup latency: latency.sh),
#   - through the TUN path (c's mesh IPv4: packets in QUIC datagrams), and
#   - through a stream-mode forward on a (127.0.0.1:15201 -> c:5201: the
#     TCP connection carried as a QUIC stream, spliced by both agents),
# alternating, BENCH_ROUNDS times each for BENCH_SECONDS (receiver's
# rate), and prints the medians and the ratio stream / TUN. The issue's
# target: stream mode >= 0.7 x the TUN path.
#
#   tests/bench/stream/run.sh [BUILD_DIR]
#
# Needs root. The lab is tests/bench/connector/lab.sh's (a and c on the
# netlab's inet bridge, controller and relay in inet; c is a connector
# there, which does not matter here), with a's agent also given
# --forward 127.0.0.1:15201=c:5201 (BENCH_A_FLAGS). The tunnel takes the
# direct path when it can (printed). BUILD_DIR (default build-bench) is
# configured by tests/bench/build.sh. Environment: BENCH_SECONDS (5),
# BENCH_ROUNDS (3). Not a test: never registered with ctest.
set -u

src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$src/build-bench}
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
BENCH_A_FLAGS="--forward 127.0.0.1:15201=c:5201"
. "$src/tests/bench/connector/lab.sh"

# iperf3 a -> ADDR PORT, prints the receiver's Mbit/s.
iperf() {
	nsrun a iperf3 -c "$1" -p "$2" -t "$seconds" -J \
		>"$tmp/iperf.json" 2>&1 || { echo 0; return; }
	jq '.end.sum_received.bits_per_second / 1e6 | floor' "$tmp/iperf.json"
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

bench_lab_up '[
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["tag:c:5201"]},
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["resource:site:*","tag:c:*"]}]'
# Unbound: the TUN path reaches it on c's mesh address, stream mode on
# c's 127.0.0.1.
nsrun c iperf3 -s -p 5201 >/dev/null 2>&1 &
pids="$pids $!"
sleep 0.5

: >"$tmp/tun" && : >"$tmp/stream"
for r in $(seq "$rounds"); do
	t=$(iperf "$c4" 5201)
	s=$(iperf 127.0.0.1 15201)
	say "round $r: TUN path $t Mbit/s, stream forward $s Mbit/s"
	echo "$t" >>"$tmp/tun"
	echo "$s" >>"$tmp/stream"
done
t=$(median <"$tmp/tun")
s=$(median <"$tmp/stream")
echo "stream bench: path $path, ${seconds} s x $rounds rounds (medians)"
printf '%-28s %10s\n' "a -> c, TUN path" "$t Mbit/s"
printf '%-28s %10s\n' "a -> c, stream forward" "$s Mbit/s"
if [ "${t:-0}" -gt 0 ]; then
	awk -v t="$t" -v s="$s" 'BEGIN { printf "ratio stream / TUN: %.3f (target >= 0.7)\n", s / t }'
fi
