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
# Needs root. The lab is tests/netns/connector_lab.sh's: a and c on the
# netlab's "inet" bridge (no NAT), the controller and a relay in inet, the
# site namespace h on a veth behind c. Agents may punch: the tunnel takes
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
NETLAB=$src/tests/harness/netlab.sh
CTL_ADDR=203.0.113.1:8080
RELAY_ADDR=203.0.113.1:3478
URL=http://$CTL_ADDR
H=192.168.77.10
C_LAN=192.168.77.1
LAB_NO_DIRECT=

say() { echo "connector-bench: $*" >&2; }
fail() { say "FAIL: $*"; }

[ "$(id -u)" = 0 ] || { say "needs root"; exit 1; }
for t in iperf3 jq; do
	command -v $t >/dev/null 2>&1 ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 jq \
			>/dev/null </dev/null
done
"$src/tests/bench/build.sh" "$build" weft-agent weft-controller weft-relay ||
	exit 1
AGENT=$build/agent/weft-agent
CTL=$build/controller/weft-controller
RELAY=$build/relay/weft-relay

. "$src/tests/netns/lib.sh"
. "$src/tests/netns/connector_lab.sh"
L=cbench$$
lab_up=
pids=
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# iperf3 a -> ADDR, prints the receiver's Mbit/s.
iperf() {
	nsrun a iperf3 -c "$1" -p 5201 -t "$seconds" -P "$streams" -J \
		>"$tmp/iperf.json" 2>&1 || { echo 0; return; }
	jq '.end.sum_received.bits_per_second / 1e6 | floor' "$tmp/iperf.json"
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

lab up "$L" --a inet --b none --c inet --owner $$ || exit 1
lab_up=1
make_site || exit 1
start_controller || { say "controller did not start"; exit 1; }
admin=$(grep -o 'weft_api_[^[:space:]]*' "$tmp/ctl.out" | head -n1)
"$CTL" relay-key --data-dir "$tmp/ctl" >"$tmp/ctl.pub" || exit 1
start_relay || { say "relay did not start"; exit 1; }
api POST /api/v1/relays "{\"name\":\"inet\",\"region\":\"lab\",
	\"address\":\"$RELAY_ADDR\",\"public_key_pin\":\"$pin\"}" >/dev/null
api PUT /api/v1/policy '{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[]}' \
	>/dev/null || exit 1
api POST /api/v1/resources "{\"name\":\"site\",\"address\":\"192.168.77.0/24\",
	\"connectors\":{\"tags\":[\"tag:c\"]}}" >/dev/null || exit 1
api PUT /api/v1/policy '{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["resource:site:5201","tag:c:5201"]},
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["resource:site:*","tag:c:*"]}]}' \
	>/dev/null || exit 1
ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
kc=$(api POST /api/v1/auth-keys '{"tags":["tag:c"]}' | jq -r .key)
start_agent a "$ka" --accept-routes
start_agent c "$kc" --connector
wait_running a 1 && wait_running c 1 || exit 1
c4=$(cli a peers | jq -r '.peers[0].ipv4')
for _ in $(seq 50); do
	ping_ok a "$H" 1 && ping_ok a "$c4" 1 && break
done
for _ in $(seq 25); do
	[ "$(cli a peers | jq -r '.peers[0].path')" = direct ] && break
	sleep 0.2
done
path=$(cli a peers | jq -r '.peers[0].path')
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
