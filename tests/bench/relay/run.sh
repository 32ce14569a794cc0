#!/usr/bin/env bash
# Relay forwarding benchmark: weft-relay next to a plain recvmmsg/sendmmsg
# UDP forwarder (udpfwd), same path, same script, same run.
#
#   tests/bench/relay/run.sh [BUILD_DIR]
#
# One sender node blasts 1200-byte payloads for 5 s to one receiver node
# through the forwarder under test, which is pinned to one core (taskset
# -c 1); sender and receiver share the other core. For the relay, both
# nodes first authenticate over QUIC with a relay token and then send
# RELAY_SEND frames from that same socket; the receiver counts RELAY_RECV
# frames. Everything runs on 127.0.0.1. The receiver's count over its
# first..last packet interval is the result: packets/s and payload Mbit/s,
# and the ratio relay/forwarder of the median packets/s of the runs.
# "delivered/forwarded" is the receiver's packet count over the
# forwarder's own count (udpfwd's "forwarded", the relay's
# weft_relay_frames_forwarded_total): below 1 means frames were lost after
# the forwarder sent them (socket buffers) or miscounted. The relay's
# socket has UDP GRO on and the relay sends with GSO, so the receiver
# counts the datagrams inside each coalesced message (udpgen.c).
# Each line also gives the forwarder's own CPU time per forwarded packet
# (utime+stime from /proc over its forwarded count) and the packets one
# fully busy core would move at that cost ("per-core pps"): on a machine
# that is busy with other work the wall-clock rates drop, the CPU cost per
# packet much less.
#
# BUILD_DIR (default build-bench in the source tree) is configured as a
# Release build and the four tools are built when missing. Environment:
# BENCH_SECONDS (5), BENCH_SIZE (1200), BENCH_RUNS (3), BENCH_CORE (1, the
# forwarder's core), BENCH_GEN_CORE (0, sender and receiver).
# Not a test: never registered with ctest.
set -euo pipefail

src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$src/build-bench}
seconds=${BENCH_SECONDS:-5}
size=${BENCH_SIZE:-1200}
runs=${BENCH_RUNS:-3}
core=${BENCH_CORE:-1}
gen_core=${BENCH_GEN_CORE:-0}

relay_bin=$build/relay/weft-relay
fwd_bin=$build/tests/bench/udpfwd
gen_bin=$build/tests/bench/udpgen
tok_bin=$build/tests/netns/mktoken
if [ ! -x "$relay_bin" ] || [ ! -x "$fwd_bin" ] || [ ! -x "$gen_bin" ] ||
	[ ! -x "$tok_bin" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$build" -j"$(nproc)" \
		--target weft-relay udpfwd udpgen mktoken >/dev/null
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_line FILE PATTERN: waits up to 10 s for a line matching PATTERN.
wait_line() {
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "run.sh: timed out waiting for '$2' in $1" >&2
	cat "$1" >&2
	return 1
}

# cpu_ticks PID: utime + stime of a process, in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
hz=$(getconf CLK_TCK)

field() { # field NAME LINE: the value after NAME in a udpgen line
	echo "$2" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'
}

gen() { taskset -c "$gen_core" "$gen_bin" "$@"; }

H=127.0.0.1
run_forwarder() {
	taskset -c "$core" "$fwd_bin" -l $H:19000 -m $H:19001=$H:19002 \
		>"$tmp/fwd.out" &
	local fwd=$!
	pids+=("$fwd")
	wait_line "$tmp/fwd.out" listening
	gen recv -b $H:19002 -t $((seconds + 10)) >"$tmp/recv.out" &
	local recv=$!
	wait_line "$tmp/recv.out" ready
	gen send -b $H:19001 -d $H:19000 -s "$size" -t "$seconds" >"$tmp/send.out"
	wait "$recv" || true
	ticks=$(cpu_ticks "$fwd")
	kill -TERM "$fwd"
	wait "$fwd" || true
	recv_line=$(grep "^udpgen recv" "$tmp/recv.out")
	send_line=$(grep "^udpgen send" "$tmp/send.out")
	side_line=$(grep "^udpfwd: received" "$tmp/fwd.out")
	forwarded=$(field forwarded "$side_line")
}

relay_setup() {
	"$tok_bin" keygen "$tmp/ctl.key" "$tmp/ctl.pub"
	"$tok_bin" sign "$tmp/ctl.key" 1 >"$tmp/tok1"
	"$tok_bin" sign "$tmp/ctl.key" 2 >"$tmp/tok2"
}

run_relay() {
	taskset -c "$core" "$relay_bin" --listen $H:19100 \
		--key "$tmp/relay.key" --controller-key "$tmp/ctl.pub" \
		--forward-rate 0 --retry never --metrics-listen $H:0 \
		--log-level warn >"$tmp/relay.out" 2>"$tmp/relay.err" &
	local relay=$!
	pids+=("$relay")
	wait_line "$tmp/relay.out" "^relay listening"
	local pin metrics
	pin=$(sed -n 's/^relay pin: //p' "$tmp/relay.out")
	metrics=$(sed -n 's/^metrics listening on //p' "$tmp/relay.out")
	local auth=(-r $H:19100 -p "$pin")
	gen recv -f -b $H:19102 "${auth[@]}" -k "$tmp/tok2" \
		-t $((seconds + 10)) >"$tmp/recv.out" &
	local recv=$!
	wait_line "$tmp/recv.out" ready
	gen send -f -n 2 -b $H:19101 "${auth[@]}" -k "$tmp/tok1" -s "$size" \
		-t "$seconds" >"$tmp/send.out"
	wait "$recv" || true
	side_line=$(curl -s "http://$metrics/metrics" |
		grep -E '^weft_relay_(frames_forwarded|drops)' | grep -v ' 0$' | tr '\n' ' ' || true)
	forwarded=$(field weft_relay_frames_forwarded_total "$side_line")
	ticks=$(cpu_ticks "$relay")
	kill -TERM "$relay"
	wait "$relay" || true
	recv_line=$(grep "^udpgen recv" "$tmp/recv.out")
	send_line=$(grep "^udpgen send" "$tmp/send.out")
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "# relay forwarding benchmark: $(date -u +%F) $(uname -r)," \
	"$(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
echo "# ${size}-byte payloads, ${seconds} s per run, forwarder on core $core," \
	"sender+receiver on core $gen_core, $runs runs, 127.0.0.1"
relay_setup
# report NAME RUN: one result line; appends to NAME's arrays.
report() {
	local pps core
	pps=$(field pps "$recv_line")
	core=$(awk -v f="${forwarded:-0}" -v t="$ticks" -v hz="$hz" \
		'BEGIN { printf "%d", (t > 0 ? f / (t / hz) : 0) }')
	local delivered ratio
	delivered=$(field packets "$recv_line")
	ratio=$(awk -v d="${delivered:-0}" -v f="${forwarded:-0}" \
		'BEGIN { printf "%.3f", (f > 0 ? d / f : 0) }')
	printf '%-6s run %d: %s pps %s Mbit/s; delivered/forwarded %s (%s/%s in %s messages); cpu %.2f us/pkt, per-core pps %s (sent %s pps; %s)\n' \
		"$1" "$2" "$pps" "$(field mbps "$recv_line")" "$ratio" \
		"${delivered:-0}" "${forwarded:-0}" \
		"$(field messages "$recv_line")" \
		"$(awk -v f="${forwarded:-0}" -v t="$ticks" -v hz="$hz" \
			'BEGIN { print (f > 0 ? t / hz * 1e6 / f : 0) }')" \
		"$core" "$(field pps "$send_line")" "$side_line"
	eval "${1}_pps+=(\"$pps\") ${1}_core+=(\"$core\") ${1}_dlv+=(\"$ratio\")"
}

udpfwd_pps=() relay_pps=() udpfwd_core=() relay_core=()
udpfwd_dlv=() relay_dlv=()
for i in $(seq "$runs"); do
	run_forwarder
	report udpfwd "$i"
	run_relay
	report relay "$i"
done
f=$(printf '%s\n' "${udpfwd_pps[@]}" | median)
r=$(printf '%s\n' "${relay_pps[@]}" | median)
fc=$(printf '%s\n' "${udpfwd_core[@]}" | median)
rc=$(printf '%s\n' "${relay_core[@]}" | median)
fd=$(printf '%s\n' "${udpfwd_dlv[@]}" | median)
rd=$(printf '%s\n' "${relay_dlv[@]}" | median)
awk -v f="$f" -v r="$r" -v fc="$fc" -v rc="$rc" -v s="$size" -v fd="$fd" \
	-v rd="$rd" 'BEGIN {
	printf "median: udpfwd %d pps (%.0f Mbit/s), relay %d pps (%.0f Mbit/s), relay/udpfwd %.2f\n",
		f, f * s * 8 / 1e6, r, r * s * 8 / 1e6, (f > 0 ? r / f : 0)
	printf "median per-core pps: udpfwd %d, relay %d, relay/udpfwd %.2f\n",
		fc, rc, (fc > 0 ? rc / fc : 0)
	printf "median delivered/forwarded: udpfwd %.3f, relay %.3f\n", fd, rd
}'
