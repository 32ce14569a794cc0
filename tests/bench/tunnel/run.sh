#!/usr/bin/env bash
# Tunnel benchmark: the Weft tunnel next to wireguard-go between the same
# two network namespaces, in the same run (issue 6, extended by issue 7).
#
#   tests/bench/tunnel/run.sh [BUILD_DIR]
#
# Needs root (network namespaces, TUN). Builds a lab with
# tests/harness/netlab.sh: hosts a (203.0.113.21) and b (203.0.113.22)
# sit directly on the lab's "inet" bridge, so they reach each other
# without NAT. Then, one after the other:
#
# 1. wireguard-go (the reference): one userspace wireguard-go per host,
#    interfaces wg-a-PID / wg-b-PID (its UAPI sockets in /var/run/wireguard
#    are shared by all namespaces, so the names must differ), keys from
#    `wg genkey`, configured with `wg set`, 10.200.0.1/24 and 10.200.0.2/24
#    inside the namespaces only. Stopped before Weft runs.
# 2. Weft: weft-controller (SQLite) and weft-relay in "inet", weft-agent
#    with a TUN in a and b, a policy allowing a -> b (TCP 5201, ICMP).
#    b's mesh IPv4 comes from `weft-agent status --json`. When a cannot
#    ping b over the mesh, the Weft part is skipped with the line
#    "weft data plane not available" (no numbers are made up).
#    - the path the agents pick (`weft-agent peers --json`, peer b's
#      "path"): "relay" with issue 6, "direct" once issue 7's hole
#      punching works between a and b;
#    - when that path was direct: direct UDP between a and b is then
#      dropped with nftables in a, and once the path shows "relay" the
#      relayed path is measured too.
# 3. Time to direct (issue 7), only when a direct path was seen in 2: a
#    second lab with a behind nat1 and b behind nat2 (endpoint-independent
#    NATs), BENCH_TTD_TRIALS times: restart both agents, start pinging,
#    time until a's peer b shows path "direct" (p50/p90).
#
# Each path: iperf3 TCP a -> b, 1 stream and 4 streams (-P 4), for
# BENCH_SECONDS each (receiver's rate), then BENCH_PINGS pings (0.2 s
# apart, after 2 warm-up pings): average and median RTT; and the average
# RTT of pings 0.2 s apart during the 1-stream run ("loaded"). The table shows
# the ratios Weft / wireguard-go and, with issue 7, relayed / direct.
#
# Installs wireguard-go, wireguard-tools, iperf3, iputils-ping and jq from
# Debian when missing (they are not test dependencies). BUILD_DIR (default
# build-bench in the source tree) is configured by tests/bench/build.sh (the
# configuration all benchmarks share) and the three programs are (re)built. Environment: BENCH_SECONDS (10),
# BENCH_PINGS (20), BENCH_TTD_TRIALS (20), BENCH_DIRECT_WAIT (5, seconds
# to wait for a direct path), BENCH_KEEP_LOGS (set: keep the temporary
# directory with every log and print its path), BENCH_PERF=DIR (record
# `perf record -g` of both agents and the relay during each Weft iperf3
# run into DIR, for `perf report -i DIR/perf-relay-1.data`).
# Not a test: never registered with ctest.
set -euo pipefail

src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$src/build-bench}
seconds=${BENCH_SECONDS:-10}
pings=${BENCH_PINGS:-20}
ttd_trials=${BENCH_TTD_TRIALS:-20}
direct_wait=${BENCH_DIRECT_WAIT:-5}
netlab=$src/tests/harness/netlab.sh

say() { echo "tunnel-bench: $*" >&2; }
die() {
	say "$*"
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, TUN devices)"

# --- packages (check, then install only what is missing) ---------------
pkgs=(wireguard-go wireguard-tools iperf3 iputils-ping jq)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2
	apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2
fi

# --- build --------------------------------------------------------------
"$src/tests/bench/build.sh" "$build" weft-controller weft-relay weft-agent
ctl_bin=$build/controller/weft-controller
relay_bin=$build/relay/weft-relay
agent_bin=$build/agent/weft-agent

# --- bookkeeping and cleanup --------------------------------------------
tmp=$(mktemp -d /tmp/weft-tunnel-bench.XXXXXX)
pids=()
labs=()
wga=wg-a-$$
wgb=wg-b-$$
cleanup() {
	set +e
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		# Give each a moment to remove its TUN and sockets, then insist.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for l in "${labs[@]}"; do
		sh "$netlab" down "$l" >/dev/null 2>&1
	done
	rm -f "/var/run/wireguard/$wga.sock" "/var/run/wireguard/$wgb.sock"
	if [ -n "${BENCH_KEEP_LOGS:-}" ]; then
		say "logs kept in $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# lab_up NAME [netlab options]: builds a lab owned by this script.
lab_up() {
	local name=$1
	shift
	labs+=("$name")
	local rc=0
	sh "$netlab" up "$name" --owner $$ "$@" || rc=$?
	[ $rc -eq 0 ] || die "netlab up $name failed (exit $rc)"
}
ns() { sh "$netlab" ns "$1" "$2"; }
# nsx LAB NODE cmd...: runs cmd in NODE's namespace of LAB.
nsx() {
	local n
	n=$(ns "$1" "$2")
	shift 2
	ip netns exec "$n" "$@"
}
# bg LAB NODE LOG cmd...: starts cmd in NODE's namespace in the background,
# output to LOG; sets $bg_pid and records the pid for cleanup.
bg() {
	local n log=$3
	n=$(ns "$1" "$2")
	shift 3
	ip netns exec "$n" "$@" >"$log" 2>&1 &
	bg_pid=$!
	pids+=("$bg_pid")
}
# stop PID: SIGTERM, then wait for it (SIGKILL after 3 s).
stop() {
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 30); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	# Forget it, so that cleanup never signals a reused pid.
	local keep=() p
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- measurements -------------------------------------------------------
# iperf LAB ADDR STREAMS [KEY]: "MBITS RETRANSMITS" of an iperf3 TCP run
# a -> ADDR (receiver's rate). With BENCH_PERF and $perf_pids set, records
# `perf record -g` of those processes during the run to
# $BENCH_PERF/perf-KEY-STREAMS.data.
iperf() {
	local out=$tmp/iperf.$3.json perf_pid='' rc=0
	if [ -n "${BENCH_PERF:-}" ] && [ -n "${perf_pids:-}" ]; then
		mkdir -p "$BENCH_PERF"
		perf record -q -g -p "$perf_pids" \
			-o "$BENCH_PERF/perf-$4-$3.data" -- sleep "$seconds" \
			>/dev/null 2>&1 &
		perf_pid=$!
	fi
	# During the 1-stream run: pings 0.2 s apart from its second second
	# to its last (RTT under load, read by measure).
	local lping_pid=''
	if [ "$3" = 1 ] && [ "$seconds" -ge 3 ]; then
		(sleep 1; nsx "$1" a ping -q -i 0.2 -W 2 \
			-c $(((seconds - 2) * 5)) "$2" >"$tmp/lping.$4" 2>&1) &
		lping_pid=$!
	fi
	nsx "$1" a timeout $((seconds + 20)) iperf3 -c "$2" -t "$seconds" -P "$3" --json >"$out" 2>&1 ||
		rc=$?
	[ -z "$lping_pid" ] || wait "$lping_pid" || true
	[ -z "$perf_pid" ] || wait "$perf_pid" || true
	if [ $rc -ne 0 ]; then
		say "iperf3 -c $2 -P $3 failed: $(jq -r '.error // empty' "$out" 2>/dev/null || tail -n3 "$out")"
		echo "-"
		return 0
	fi
	jq -r '"\(.end.sum_received.bits_per_second / 1e6 | . * 10 | round / 10) \(.end.sum_sent.retransmits // 0)"' "$out"
}

# rtt LAB ADDR: "AVG P50" in ms of $pings pings a -> ADDR, after two
# warm-up pings; "- -" when fewer than half were answered.
rtt() {
	nsx "$1" a ping -c 2 -i 0.2 -W 2 "$2" >/dev/null 2>&1 || true
	nsx "$1" a ping -c "$pings" -i 0.2 -W 2 "$2" 2>/dev/null |
		sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' | sort -n |
		awk -v want="$pings" '
			{ t[NR] = $1; s += $1 }
			END {
				if (NR * 2 < want) { print "- -"; exit }
				p50 = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
				printf "%.3f %.3f\n", s / NR, p50
			}'
}

# diag LAB: with BENCH_DIAG set, prints where packets were lost: each
# namespace's UDP error counters (nstat, since the last call) and the
# agents' drop counters.
diag() {
	[ -n "${BENCH_DIAG:-}" ] || return 0
	local h
	for h in a b inet; do
		say "diag $h: $(nsx "$1" "$h" env NSTAT_HISTORY="$tmp/nstat.$h" nstat -z 2>/dev/null |
			awk '$1 ~ /^Udp(InErrors|RcvbufErrors|SndbufErrors)$|^IpExtInNoECTPkts$/ && $2 > 0 { printf "%s=%s ", $1, $2 }')"
	done
	local p
	for p in "$agent_pid_a" "$agent_pid_b" "$relay_pid"; do
		say "diag cpu $p: $(awk '{ printf "user %.1f s, sys %.1f s", $14 / 100, $15 / 100 }' "/proc/$p/stat" 2>/dev/null)"
	done
	say "diag cpu total: $(head -1 /proc/stat)"
	say "diag relay: $(nsx "$1" inet curl -fsS http://127.0.0.1:9582/metrics 2>/dev/null |
		awk '/^weft_relay_(udp_|frames_forwarded|drops_total)/ && $2 > 0 { printf "%s=%s ", $1, $2 }')"
	for h in a b; do
		say "diag agent $h: $(nsx "$1" "$h" curl -fsS http://127.0.0.1:9581/metrics 2>/dev/null |
			awk '/^weft_agent_(rx|tx)_drops_total|^weft_agent_peer_|^weft_agent_udp_/ && $2 > 0 { printf "%s=%s ", $1, $2 }')"
		say "diag tun $h: $(nsx "$1" "$h" ip -s -s link show weft0 2>/dev/null | tr -s ' \n' ' ')"
	done
}

# measure KEY LAB ADDR: runs the three measurements a -> ADDR and stores
# them as r_KEY_1, r_KEY_4 (Mbit/s), r_KEY_rtt, r_KEY_p50 (ms).
measure() {
	local key=$1 one four r
	say "$key: iperf3 1 stream, ${seconds} s"
	one=$(iperf "$2" "$3" 1 "$key")
	say "$key: iperf3 4 streams, ${seconds} s"
	four=$(iperf "$2" "$3" 4 "$key")
	say "$key: $pings pings"
	r=$(rtt "$2" "$3")
	if [ -n "${BENCH_UDP:-}" ]; then
		nsx "$2" a iperf3 -c "$3" -u -b "$BENCH_UDP" -l 1000 -t "$seconds" --json >"$tmp/udp.json" 2>&1 || true
		say "$key: UDP at $BENCH_UDP: $(sed -n '/^{/,$p' "$tmp/udp.json" | jq -r '.end.sum | "sent \(.bits_per_second / 1e6 | round) Mbit/s, lost \(.lost_percent | round) %, received \(.bits_per_second * (100 - .lost_percent) / 1e8 | round) Mbit/s"' 2>/dev/null)"
	fi
	[ "$key" = wg ] || diag "$2"
	local lr
	lr=$(sed -n 's|^rtt min/avg/max/mdev = [0-9.]*/\([0-9.]*\)/.*|\1|p' \
		"$tmp/lping.$key" 2>/dev/null)
	eval "r_${key}_1=${one%% *} r_${key}_4=${four%% *}"
	eval "r_${key}_rtt=${r% *} r_${key}_p50=${r#* } r_${key}_lrtt=${lr:--}"
	say "$key: 1 stream ${one%% *} Mbit/s (retransmits ${one#* })," \
		"4 streams ${four%% *} Mbit/s (retransmits ${four#* })," \
		"RTT avg ${r% *} ms p50 ${r#* } ms, under load ${lr:--} ms"
}

# --- the lab ------------------------------------------------------------
lab=tb$$
say "building lab $lab (a and b on the inet bridge)"
lab_up "$lab" --a inet --b inet --c none
a_addr=$(sh "$netlab" addr "$lab" a)
b_addr=$(sh "$netlab" addr "$lab" b)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# iperf3 server in b, for every path.
bg "$lab" b "$tmp/iperf3-server.log" iperf3 -s -p 5201
iperf_server=$bg_pid

# --- 1. wireguard-go ----------------------------------------------------
if [ -n "${BENCH_SKIP_WG:-}" ]; then
	say "wireguard-go skipped (BENCH_SKIP_WG)"
else
say "wireguard-go: $wga in a, $wgb in b"
for h in a b; do
	(umask 077 && wg genkey >"$tmp/wg-$h.key")
	wg pubkey <"$tmp/wg-$h.key" >"$tmp/wg-$h.pub"
done
wg_start() { # wg_start HOST IFNAME
	bg "$lab" "$1" "$tmp/wireguard-go-$1.log" \
		env LOG_LEVEL=error wireguard-go -f "$2"
	for _ in $(seq 50); do
		[ -S "/var/run/wireguard/$2.sock" ] && return 0
		sleep 0.1
	done
	die "wireguard-go $2 did not start: $(cat "$tmp/wireguard-go-$1.log")"
}
wg_start a "$wga"
wg_pid_a=$bg_pid
wg_start b "$wgb"
wg_pid_b=$bg_pid
# wg_conf HOST IFNAME MYIP PEER PEERIP PEERADDR
wg_conf() {
	nsx "$lab" "$1" wg set "$2" listen-port 51820 \
		private-key "$tmp/wg-$1.key" \
		peer "$(cat "$tmp/wg-$4.pub")" allowed-ips "$5/32" \
		endpoint "$6:51820"
	nsx "$lab" "$1" ip addr add "$3/24" dev "$2"
	nsx "$lab" "$1" ip link set "$2" up
}
wg_conf a "$wga" 10.200.0.1 b 10.200.0.2 "$b_addr"
wg_conf b "$wgb" 10.200.0.2 a 10.200.0.1 "$a_addr"
nsx "$lab" a ping -c 3 -i 0.2 -W 2 10.200.0.2 >/dev/null ||
	die "wireguard-go tunnel a -> b does not answer pings"
wg_mtu=$(nsx "$lab" a cat "/sys/class/net/$wga/mtu")
measure wg "$lab" 10.200.0.2
stop "$wg_pid_a"
stop "$wg_pid_b"
fi

# --- 2. Weft ------------------------------------------------------------
ctl_addr=$(sh "$netlab" addr "$lab" inet)
ctl_url=http://$ctl_addr:8080
relay_addr=$ctl_addr:3478
weft_note=
weft_path=
weft_mtu=
agent_pid_a=
agent_pid_b=
relay_pid=

# weft_world LAB: controller + relay in LAB's inet, a user, a reusable
# auth key ($auth_key) and the a -> b policy.
weft_world() {
	local l=$1 d=$tmp/$1
	mkdir -p "$d/ctl"
	chmod 700 "$d/ctl"
	bg "$l" inet "$d/controller.log" "$ctl_bin" serve \
		--data-dir "$d/ctl" --listen "$ctl_addr:8080" --log-level warn
	for _ in $(seq 100); do
		nsx "$l" inet curl -fsS "$ctl_url/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	nsx "$l" inet curl -fsS "$ctl_url/healthz" >/dev/null 2>&1 ||
		die "controller did not start: $(tail -n5 "$d/controller.log")"
	c() { "$ctl_bin" "$@" --data-dir "$d/ctl"; }
	c relay-key >"$d/ctl.pub"
	bg "$l" inet "$d/relay.log" "$relay_bin" --listen "$relay_addr" \
		--key "$d/relay.key" --controller-key "$d/ctl.pub" \
		--metrics-listen 127.0.0.1:9582 --log-level warn ${BENCH_RELAY_ARGS:-}
	relay_pid=$bg_pid
	local pin=
	for _ in $(seq 100); do
		pin=$(sed -n 's/^relay pin: //p' "$d/relay.log" 2>/dev/null || true)
		[ -n "$pin" ] && break
		sleep 0.1
	done
	[ -n "$pin" ] || die "relay did not start: $(tail -n5 "$d/relay.log")"
	c relays set bench --region bench --address "$relay_addr" \
		--pin "$pin" >/dev/null
	c users create bench >/dev/null
	auth_key=$(c keys create --user bench --reusable --json |
		grep -o 'weft_auth_[A-Za-z0-9_-]*' | head -n1)
	[ -n "$auth_key" ] || die "could not create an auth key"
	cat >"$d/policy.json" <<-'EOF'
		{"acls": [
		  {"action": "accept", "proto": "tcp",
		   "src": ["node:bench-a"], "dst": ["node:bench-b:5201"]},
		  {"action": "accept", "proto": "udp",
		   "src": ["node:bench-a"], "dst": ["node:bench-b:5201"]},
		  {"action": "accept", "proto": "icmp",
		   "src": ["node:bench-a"], "dst": ["node:bench-b:*"]}
		]}
	EOF
	c policy set "$d/policy.json" >/dev/null
}

# agent_start LAB HOST: weft-agent up in HOST with a TUN; sets
# agent_pid_HOST.
agent_start() {
	local l=$1 h=$2 d=$tmp/$1
	bg "$l" "$h" "$d/agent-$h.log" "$agent_bin" up \
		--controller "$ctl_url" --insecure-http --auth-key "$auth_key" \
		--state-dir "$d/state-$h" --hostname "bench-$h" --tun weft0 \
		--socket "$d/agent-$h.sock" --metrics-listen 127.0.0.1:9581 --dns off
	printf -v "agent_pid_$h" %s "$bg_pid"
}
# agent LAB HOST cmd...: a weft-agent client command against HOST's agent.
agent() {
	local l=$1 h=$2
	shift 2
	nsx "$l" "$h" "$agent_bin" "$@" --socket "$tmp/$l/agent-$h.sock"
}
# peer_field LAB FIELD: FIELD of peer bench-b in a's `peers --json` (for
# an object, its "kind" or "type": the path may become one).
peer_field() {
	agent "$1" a peers --json 2>/dev/null |
		jq -r --arg f "$2" '.peers[]? | select(.name == "bench-b") |
			.[$f] // empty |
			if type == "object" then (.kind // .type // tostring) else . end' \
			2>/dev/null || true
}
# agents_ready LAB: waits until both agents run and a sees b; sets b_mesh.
agents_ready() {
	local l=$1 st
	b_mesh=
	for _ in $(seq 150); do
		st=$(agent "$l" b status --json 2>/dev/null || true)
		b_mesh=$(echo "$st" | jq -r '.node.ipv4 // empty' 2>/dev/null || true)
		if [ -n "$b_mesh" ] && [ -n "$(peer_field "$l" ipv4)" ]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}
# path_is LAB WORD SECONDS: waits (pinging b) until b's path starts with
# WORD.
path_is() {
	local l=$1 end=$(($(now_ms) + $3 * 1000)) p
	while [ "$(now_ms)" -lt "$end" ]; do
		p=$(peer_field "$l" path)
		case "$p" in "$2"*) return 0 ;; esac
		nsx "$l" a ping -c 1 -W 1 "$b_mesh" >/dev/null 2>&1 || true
		sleep 0.2
	done
	return 1
}
block_direct() { # block_direct LAB: drop UDP between a and b in a
	nsx "$1" a nft -f - <<-EOF
		table inet weftbench {
		  chain out {
		    type filter hook output priority 0; policy accept;
		    ip daddr $b_addr meta l4proto udp drop
		  }
		  chain in {
		    type filter hook input priority 0; policy accept;
		    ip saddr $b_addr meta l4proto udp drop
		  }
		}
	EOF
}

say "weft: controller and relay in inet, agents in a and b"
weft_world "$lab"
agent_start "$lab" a
agent_start "$lab" b
if ! agents_ready "$lab"; then
	weft_note="agents did not both reach running with a seeing b"
else
	ok=
	for _ in $(seq 10); do
		if nsx "$lab" a ping -c 1 -W 1 "$b_mesh" >/dev/null 2>&1; then
			ok=1
			break
		fi
	done
	[ -n "$ok" ] || weft_note="a cannot ping b's mesh IP $b_mesh"
fi
if [ -n "$weft_note" ]; then
	echo "weft data plane not available: $weft_note; Weft part skipped" \
		"(agent logs: $tmp/$lab/agent-a.log, agent-b.log)"
	for h in a b; do
		say "last lines of agent $h:"
		tail -n5 "$tmp/$lab/agent-$h.log" >&2 || true
	done
else
	weft_mtu=$(nsx "$lab" a cat /sys/class/net/weft0/mtu 2>/dev/null || echo "?")
	perf_pids=$agent_pid_a,$agent_pid_b,$relay_pid
	for h in a b inet; do nsx "$lab" "$h" env NSTAT_HISTORY="$tmp/nstat.$h" nstat -n >/dev/null 2>&1 || true; done
	path_is "$lab" direct "$direct_wait" || true
	weft_path=$(peer_field "$lab" path)
	say "weft: a -> b ($b_mesh) path '$weft_path', TUN MTU $weft_mtu"
	case "$weft_path" in
	direct*)
		measure direct "$lab" "$b_mesh"
		say "weft: dropping direct UDP between a and b"
		block_direct "$lab"
		if path_is "$lab" relay 10; then
			measure relay "$lab" "$b_mesh"
		else
			say "path did not fall back to relay within 10 s" \
				"(now '$(peer_field "$lab" path)')"
		fi
		;;
	*)
		measure relay "$lab" "$b_mesh"
		;;
	esac
fi
for p in "$agent_pid_a" "$agent_pid_b"; do
	[ -z "$p" ] || stop "$p"
done
stop "$iperf_server"

# --- 3. time to direct (issue 7) ----------------------------------------
ttd=()
if [ -n "${r_direct_1:-}" ] && [ "$ttd_trials" -gt 0 ]; then
	lab2=td$$
	say "time to direct: lab $lab2, a behind nat1, b behind nat2 (eim)"
	lab_up "$lab2" --c none
	weft_world "$lab2"
	for i in $(seq "$ttd_trials"); do
		agent_start "$lab2" a
		agent_start "$lab2" b
		if ! agents_ready "$lab2"; then
			say "trial $i: agents not ready"
			ttd+=(timeout)
		else
			t0=$(now_ms)
			bg "$lab2" a /dev/null ping -i 0.05 -W 1 "$b_mesh"
			pinger=$bg_pid
			t=timeout
			while [ $(($(now_ms) - t0)) -lt 10000 ]; do
				case "$(peer_field "$lab2" path)" in
				direct*)
					t=$(($(now_ms) - t0))
					break
					;;
				esac
				sleep 0.02
			done
			stop "$pinger"
			ttd+=("$t")
			say "trial $i: $t ms"
		fi
		stop "$agent_pid_a"
		stop "$agent_pid_b"
	done
fi

# --- report -------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
v() { eval "echo \${r_$1_$2:--}"; }
ratio() { # ratio X Y: X / Y with two decimals, "-" when either is missing
	awk -v x="$1" -v y="$2" 'BEGIN {
		if (x == "-" || y == "-" || y + 0 == 0) print "-";
		else printf "%.2f\n", x / y }'
}
echo
echo "# tunnel benchmark: $(date -u +%FT%TZ), kernel $(uname -r)," \
	"$(nproc) cores $(lscpu | sed -n 's/^Model name: *//p'),"
echo "# commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo ?)," \
	"load average $load_start at start, $load_end at end"
echo "# iperf3 TCP a -> b ${seconds} s per run; $pings pings; MTU" \
	"wireguard-go ${wg_mtu:--}, weft ${weft_mtu:--}"
printf '%-14s %16s %16s %12s %12s %12s\n' path "1 stream Mb/s" \
	"4 streams Mb/s" "RTT avg ms" "RTT p50 ms" "loaded ms"
for k in wg relay direct; do
	case $k in
	wg) name=wireguard-go ;;
	relay) name="weft relay" ;;
	direct) name="weft direct" ;;
	esac
	printf '%-14s %16s %16s %12s %12s %12s\n' "$name" "$(v "$k" 1)" \
		"$(v "$k" 4)" "$(v "$k" rtt)" "$(v "$k" p50)" "$(v "$k" lrtt)"
done
# ratios: "A/B": throughput (1, 4 streams) and RTT avg.
for pair in relay/wg direct/wg relay/direct; do
	x=${pair%/*} y=${pair#*/}
	[ -n "$(eval "echo \${r_${x}_1:-}")" ] || continue
	[ -n "$(eval "echo \${r_${y}_1:-}")" ] || continue
	printf 'ratio %-13s 1 stream %s, 4 streams %s, RTT avg %s\n' \
		"$pair:" "$(ratio "$(v "$x" 1)" "$(v "$y" 1)")" \
		"$(ratio "$(v "$x" 4)" "$(v "$y" 4)")" \
		"$(ratio "$(v "$x" rtt)" "$(v "$y" rtt)")"
done
[ -z "$weft_note" ] || echo "weft data plane not available: $weft_note"
[ -z "$weft_path" ] || echo "weft path seen first: $weft_path"
if [ ${#ttd[@]} -gt 0 ]; then
	printf '%s\n' "${ttd[@]}" | grep -v timeout | sort -n | awk -v n="${#ttd[@]}" '
		{ t[NR] = $1 }
		END {
			if (NR == 0) { printf "time to direct: %d trials, all timed out\n", n; exit }
			i50 = int((NR + 1) * 0.5); i90 = int((NR * 0.9) + 0.999)
			if (i50 < 1) i50 = 1; if (i90 > NR) i90 = NR
			printf "time to direct (%d of %d trials direct): p50 %d ms, p90 %d ms, max %d ms\n",
				NR, n, t[i50], t[i90], t[NR]
		}'
fi
