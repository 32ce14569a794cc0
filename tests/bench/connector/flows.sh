#!/bin/sh
# Connector flow-table benchmark (issue 15): 10, 1,000 and 10,000
# concurrent UDP flows a -> c -> h (h runs two UDP echo servers, $H and
# 192.168.77.11, port 7000), in one run:
#   - udpflows (tests/bench/connector/udpflows.c) in a opens the flows
#     (distinct source ports, a new port range per size), gets one echo
#     per flow, then sends BENCH_PACKETS datagrams at BENCH_RATE per
#     second round-robin over the flows (the same packet stream whatever
#     the number of flows) and checks every flow got echoes;
#   - memory while the flows are held: c's kernel conntrack entries
#     (nf_conntrack_count of c's namespace, x the nf_conntrack slab
#     object size from /proc/slabinfo), VmRSS of both agents, a's tracked
#     flows and flows_evicted (status dataplane);
#   - CPU (utime+stime) of both agents over the measure phase, per
#     datagram echoed; the ratio 10,000 / 10 flows is the lookup cost
#     (flat means the per-packet work does not grow with the flows);
#   - then the flow table alone (flowtable.c against weftagent_dp): ns
#     per lookup at 10 / 1,000 / 10,000 flows and the table's fill limit.
#
#   tests/bench/connector/flows.sh [BUILD_DIR]
#
# Needs root. Lab: tests/bench/connector/lab.sh (as run.sh). Environment:
# BENCH_FLOWS ("10 1000 10000"), BENCH_RATE (2000), BENCH_PACKETS
# (40000), BENCH_DIAG (set: print both agents' dataplane counters, their
# TUN's drops and the UDP counters of a, c and h after each size). Not a
# test: never registered with ctest.
set -u

src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$src/build-bench}
sizes=${BENCH_FLOWS:-10 1000 10000}
rate=${BENCH_RATE:-2000}
packets=${BENCH_PACKETS:-40000}
BENCH_TOOLS=jq
BENCH_TARGETS="udptool udpflows flowtable_bench"
. "$src/tests/bench/connector/lab.sh"
UDPTOOL=$build/tests/netns/udptool
UDPFLOWS=$build/tests/bench/udpflows
H2=192.168.77.11

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
ct_count() { nsrun c cat /proc/sys/net/netfilter/nf_conntrack_count; }

bench_lab_up '[
 {"action":"accept","proto":"udp","src":["tag:a"],"dst":["resource:site:7000"]},
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["resource:site:*","tag:c:*"]}]'
nsrun h ip addr add "$H2/24" dev eth0
for d in "$H" "$H2"; do
	nsrun h "$UDPTOOL" echo -b "$d:7000" >/dev/null &
	pids="$pids $!"
done
sleep 0.3
ct_obj=$(awk '$1 == "nf_conntrack" { print $4 }' /proc/slabinfo)
echo "connector flows bench: path $path, $rate datagrams/s, $packets per size; a=$a_pid c=$c_pid; conntrack object $ct_obj bytes"
printf '%-7s %-11s %-9s %-9s %-8s %-8s %-9s %-8s %-8s %-10s %-10s\n' flows \
	answered ct_delta ct_B/flow cRSS_KiB aRSS_KiB a_flows evicted \
	"ms(a/c)" "a_us/pkt" "c_us/pkt"
base=20000
for n in $sizes; do
	ct0=$(ct_count) a0=$(rss_kb "$a_pid") c0=$(rss_kb "$c_pid")
	nsrun a "$UDPFLOWS" -n "$n" -b "$base" -r "$rate" -p "$packets" \
		-H 5000 -c "$a_pid,$c_pid" "$H:7000" "$H2:7000" \
		>"$tmp/flows.out" 2>&1 &
	fp=$!
	for _ in $(seq 600); do
		grep -q '^holding' "$tmp/flows.out" && break
		sleep 0.1
	done
	ct1=$(ct_count) a1=$(rss_kb "$a_pid") c1=$(rss_kb "$c_pid")
	st=$(cli a status)
	wait $fp
	ok=$?
	m=$(grep '^measure' "$tmp/flows.out")
	[ $ok = 0 ] || say "flows $n: $(cat "$tmp/flows.out")"
	ans=$(echo "$m" | awk '{ print $7 }')
	echoed=$(echo "$m" | awk '{ print $5 }')
	ca=$(awk -v p="$a_pid" '$1 == "cpu" && $2 == p { print $3 }' "$tmp/flows.out")
	cc=$(awk -v p="$c_pid" '$1 == "cpu" && $2 == p { print $3 }' "$tmp/flows.out")
	printf '%-7s %-11s %-9s %-9s %-8s %-8s %-9s %-8s %-8s %-10s %-10s\n' \
		"$n" "$ans/$n" "$((ct1 - ct0))" \
		"$(awk -v d=$((ct1 - ct0)) -v o="$ct_obj" -v n="$n" 'BEGIN { printf "%.0f", d * o / n }')" \
		"$((c1 - c0))" "$((a1 - a0))" \
		"$(echo "$st" | jq .dataplane.flows)" \
		"$(echo "$st" | jq .dataplane.flows_evicted)" "$ca/$cc" \
		"$(awk -v c="$ca" -v e="$echoed" 'BEGIN { printf "%.2f", e ? c * 1000 / e : 0 }')" \
		"$(awk -v c="$cc" -v e="$echoed" 'BEGIN { printf "%.2f", e ? c * 1000 / e : 0 }')"
	echo "$n $ca $cc $echoed" >>"$tmp/cpu"
	[ "${BENCH_DIAG:-}" ] && for x in a c; do
		say "$x: $(cli $x status | jq -c .dataplane)"
		say "$x: $(nsrun $x ip -s link show weft0 | tr -s ' ' | tr '\n' ' ')"
		say "$x: $(nsrun $x cat /proc/net/snmp | grep '^Udp:' | tail -n1)"
	done && say "h: $(nsrun h cat /proc/net/snmp | grep '^Udp:' | tail -n1)"
	base=$((base + n))
done
awk 'NR == 1 { a = $2 / $4; c = $3 / $4; n = $1 }
     END { if (a > 0 && c > 0) printf "ratio CPU per packet %d / %d flows: a %.2f, c %.2f (flat is 1)\n", $1, n, ($2 / $4) / a, ($3 / $4) / c }' "$tmp/cpu"
echo "flow table alone (agent/filter.c):"
"$build/tests/bench/flowtable_bench"
