#!/bin/sh
# Connector benchmark (issue 15): what forwarding through a connector
# costs. In one run, iperf3 TCP from client a
#   - to the connector c itself (c's mesh IPv4: a -> c), and
#   - through c to a LAN host h behind it (a -> c -> h, c forwarding with
#     its own nftables table: masquerade, MSS clamp),
# alternating, BENCH_ROUNDS times each for BENCH_SECONDS (receiver's
# rate), and prints the medians and the ratio (a -> c -> h) / (a -> c).
# The issue's target: forwarding costs at most 15 %.
#
#   tests/bench/connector/run.sh [BUILD_DIR]
#
# Needs root. The lab is tests/bench/connector/lab.sh's (shared with
# flows.sh): a and c on the netlab's "inet" bridge (no NAT), the
# controller and a relay in inet, the site namespace h on a veth behind
# c. Agents may punch: the tunnel takes
# the direct path when it can (printed); both measurements use the same
# tunnel. Installs iperf3 and jq from Debian when missing. BUILD_DIR
# (default build-bench) is configured by tests/bench/build.sh.
# Environment: BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_STREAMS (1).
# Not a test: never registered with ctest.
set -u

src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$src/build-bench}
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
streams=${BENCH_STREAMS:-1}
. "$src/tests/bench/connector/lab.sh"

# iperf3 a -> ADDR, prints the receiver's Mbit/s.
iperf() {
	nsrun a iperf3 -c "$1" -p 5201 -t "$seconds" -P "$streams" -J \
		>"$tmp/iperf.json" 2>&1 || { echo 0; return; }
	jq '.end.sum_received.bits_per_second / 1e6 | floor' "$tmp/iperf.json"
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

bench_lab_up '[
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["resource:site:5201","tag:c:5201"]},
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["resource:site:*","tag:c:*"]}]'
nsrun c iperf3 -s -p 5201 -B "$c4" >/dev/null 2>&1 &
pids="$pids $!"
nsrun h iperf3 -s -p 5201 -B "$H" >/dev/null 2>&1 &
pids="$pids $!"
sleep 0.5

: >"$tmp/direct" && : >"$tmp/fwd"
for r in $(seq "$rounds"); do
	d=$(iperf "$c4")
	f=$(iperf "$H")
	say "round $r: a -> c $d Mbit/s, a -> c -> h $f Mbit/s"
	echo "$d" >>"$tmp/direct"
	echo "$f" >>"$tmp/fwd"
done
d=$(median <"$tmp/direct")
f=$(median <"$tmp/fwd")
echo "connector bench: path $path, $streams stream(s), ${seconds} s x $rounds rounds (medians)"
printf '%-28s %10s\n' "a -> c (c's mesh address)" "$d Mbit/s"
printf '%-28s %10s\n' "a -> c -> h (forwarded)" "$f Mbit/s"
if [ "${d:-0}" -gt 0 ]; then
	awk -v d="$d" -v f="$f" 'BEGIN { printf "ratio forwarded / direct: %.3f (forwarding costs %.1f %%; target <= 15 %%)\n", f / d, (1 - f / d) * 100 }'
fi
