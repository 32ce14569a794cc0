#!/usr/bin/env bash
# Agent memory benchmark (issue 12, point 19): the resident memory of an
# idle weft-agent with one peer.
#
#   tests/bench/agent/mem.sh [BUILD_DIR]
#
# Needs root (network namespaces, TUN). Builds a lab with
# tests/harness/netlab.sh: the controller (SQLite) and a relay in "inet",
# weft-agent with a TUN in hosts a and b (both on inet, so the tunnel may
# go direct), a policy allowing a <-> b. Once both run with one peer, a
# pings b through the tunnel (kernel ping, BENCH_PINGS of them, 0.2 s
# apart) so the tunnel, the filter and the data-plane buffers are in use;
# then both agents sit idle for BENCH_IDLE seconds and each is measured
# from /proc: VmRSS and VmHWM, RssAnon / RssFile, the number of threads,
# and the largest resident mappings of /proc/PID/smaps (heap, thread
# stacks, anonymous mmaps, the libraries' pages).
#
# With BENCH_ENV="VAR=value ..." a second pair of agents runs with that
# environment (e.g. MALLOC_ARENA_MAX=1) and is measured the same way, in
# the same run, for a before/after of a setting.
#
# With BENCH_TLS=1 the controller serves HTTPS with a certificate for its
# lab address from a throw-away CA made with certtool (gnutls-bin), and
# the agents trust that CA through --controller-ca.
#
# BUILD_DIR (default build-bench in the source tree) is configured as a
# Release build and the three programs are (re)built. Environment:
# BENCH_IDLE (5), BENCH_PINGS (20), BENCH_TOP (12: mappings listed),
# BENCH_SMAPS=DIR (copy each agent's /proc/PID/smaps there),
# BENCH_KEEP_LOGS (set: keep the temporary directory and print its path).
# Not a test: never registered with ctest.
set -euo pipefail

src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$src/build-bench}
idle=${BENCH_IDLE:-5}
pings=${BENCH_PINGS:-20}
netlab=$src/tests/harness/netlab.sh

say() { echo "agent-mem: $*" >&2; }
die() {
	say "$*"
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, TUN devices)"
for t in jq curl ping; do
	command -v $t >/dev/null 2>&1 || die "$t missing"
done

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target weft-controller weft-relay weft-agent \
	>/dev/null
ctl_bin=$build/controller/weft-controller
relay_bin=$build/relay/weft-relay
agent_bin=$build/agent/weft-agent

tmp=$(mktemp -d /tmp/weft-agent-mem.XXXXXX)
L=mem$$
pids=()
lab_is_up=
cleanup() {
	set +e
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 30); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "$lab_is_up" ] && sh "$netlab" down "$L" >/dev/null 2>&1
	if [ -n "${BENCH_KEEP_LOGS:-}" ]; then
		say "logs kept in $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

nsx() {
	local n
	n=$(sh "$netlab" ns "$L" "$1")
	shift
	ip netns exec "$n" "$@"
}
CTL_ADDR=203.0.113.1:8080
RELAY_ADDR=203.0.113.1:3478
URL=http://$CTL_ADDR
ctl_tls=() agent_tls=() curl_tls=()
if [ -n "${BENCH_TLS:-}" ]; then
	command -v certtool >/dev/null 2>&1 || die "certtool missing (gnutls-bin)"
	mkdir -p "$tmp/pki"
	(
		cd "$tmp/pki"
		printf 'cn = "bench CA"\nca\ncert_signing_key\nexpiration_days = 1\n' >ca.tmpl
		printf 'cn = "bench controller"\nip_address = "%s"\ntls_www_server\nsigning_key\nexpiration_days = 1\n' \
			"${CTL_ADDR%:*}" >ctl.tmpl
		certtool --generate-privkey --key-type=ecdsa --outfile ca.key
		certtool --generate-self-signed --load-privkey ca.key \
			--template ca.tmpl --outfile ca.pem
		certtool --generate-privkey --key-type=ecdsa --outfile ctl.key
		certtool --generate-certificate --load-privkey ctl.key \
			--load-ca-certificate ca.pem --load-ca-privkey ca.key \
			--template ctl.tmpl --outfile ctl.pem
	) >"$tmp/certtool.log" 2>&1 || die "certtool: $(tail -n 3 "$tmp/certtool.log")"
	URL=https://$CTL_ADDR
	ctl_tls=(--tls-cert "$tmp/pki/ctl.pem" --tls-key "$tmp/pki/ctl.key")
	agent_tls=(--controller-ca "$tmp/pki/ca.pem")
	curl_tls=(--cacert "$tmp/pki/ca.pem")
fi
api() {
	nsx inet curl -fsS "${curl_tls[@]}" -X "$1" -H "Authorization: Bearer $admin" \
		-H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$URL$2"
}
cli() { nsx "$1" "$agent_bin" "$2" --json --socket "$tmp/$1/sock"; }
wait_for() { # wait_for SECONDS cmd...: until cmd succeeds
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
running() {
	[ "$(cli "$1" status | jq -r .state)" = running ] &&
		[ "$(cli "$1" status | jq .map.peers)" = 1 ]
}

# start_agent NODE KEY [env...]: weft-agent up with a TUN in NODE.
start_agent() {
	local node=$1 key=$2
	shift 2
	mkdir -p "$tmp/$node"
	nsx "$node" env "$@" "$agent_bin" up --controller "$URL" \
		--insecure-http --auth-key "$key" --state-dir "$tmp/$node" \
		--socket "$tmp/$node/sock" --hostname "$node" --tun weft0 --dns off \
		"${agent_tls[@]}" 2>"$tmp/$node.log" &
	pids+=("$!")
}

# agent_pid NODE: the pid of the weft-agent in NODE's namespace.
agent_pid() {
	local p
	for p in $(ip netns pids "$(sh "$netlab" ns "$L" "$1")"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = weft-agent ] &&
			{ echo "$p"; return 0; }
	done
	return 1
}

# measure NODE LABEL: one result line and the top mappings of NODE's agent.
measure() {
	local pid
	pid=$(agent_pid "$1")
	local st=/proc/$pid/status
	# PSS shares each page among the processes mapping it; USS (private
	# clean + dirty) is what only this process holds.
	local roll=/proc/$pid/smaps_rollup
	printf '%-10s %-4s rss %6d KB  hwm %6d KB  anon %6d KB  file %6d KB  pss %6d KB  uss %6d KB  threads %s\n' \
		"$2" "$1" "$(awk '/^VmRSS/ {print $2}' "$st")" \
		"$(awk '/^VmHWM/ {print $2}' "$st")" \
		"$(awk '/^RssAnon/ {print $2}' "$st")" \
		"$(awk '/^RssFile/ {print $2}' "$st")" \
		"$(awk '/^Pss:/ {print $2}' "$roll")" \
		"$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "$roll")" \
		"$(awk '/^Threads/ {print $2}' "$st")"
	[ -z "${BENCH_SMAPS:-}" ] ||
		{ mkdir -p "$BENCH_SMAPS"; cp "/proc/$pid/smaps" "$BENCH_SMAPS/$2-$1.smaps"; }
	# Resident KB per mapping, largest first (anonymous ones by address).
	awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon " $1 "]" : $6) }
	     /^Rss:/ { rss[name] += $2 }
	     END { for (n in rss) if (rss[n] >= 64) printf "    %6d KB  %s\n", rss[n], n }' \
		"/proc/$pid/smaps" | sort -rn | head -n "${BENCH_TOP:-12}"
}

sh "$netlab" up "$L" --a inet --b inet --owner $$ >/dev/null ||
	die "netlab up failed"
lab_is_up=1
nsx inet "$ctl_bin" serve --listen "$CTL_ADDR" --data-dir "$tmp/ctl" \
	"${ctl_tls[@]}" >"$tmp/ctl.out" 2>"$tmp/ctl.log" &
pids+=("$!")
wait_for 10 grep -q "listening on" "$tmp/ctl.out" || die "controller"
admin=$(grep -o 'weft_api_[^[:space:]]*' "$tmp/ctl.out" | head -n1)
"$ctl_bin" relay-key --data-dir "$tmp/ctl" >"$tmp/ctl.pub"
nsx inet "$relay_bin" --listen "$RELAY_ADDR" --key "$tmp/relay.key" \
	--controller-key "$tmp/ctl.pub" >"$tmp/relay.out" 2>"$tmp/relay.log" &
pids+=("$!")
wait_for 10 grep -q "^relay pin: " "$tmp/relay.out" || die "relay"
pin=$(sed -n 's/^relay pin: //p' "$tmp/relay.out")
api POST /api/v1/relays "{\"name\":\"inet\",\"region\":\"lab\",
	\"address\":\"$RELAY_ADDR\",\"public_key_pin\":\"$pin\"}" >/dev/null
api PUT /api/v1/policy '{"tagOwners":{"tag:m":[]},"acls":[
	{"action":"accept","src":["tag:m"],"dst":["tag:m:*"]}]}' >/dev/null
key=$(api POST /api/v1/auth-keys '{"reusable":true,"tags":["tag:m"]}' |
	jq -r .key)

echo "# agent memory benchmark: $(date -u +%F) $(uname -r)," \
	"$(nproc) cores, glibc $(ldd --version | head -n1 | awk '{print $NF}')"
echo "# idle agent with one peer (TUN, $pings pings through the tunnel," \
	"then ${idle} s idle), Release build, controller over ${URL%%:*}"

# run LABEL [env...]: both agents, measured, stopped again.
run() {
	local label=$1
	shift
	rm -rf "$tmp/a" "$tmp/b"
	start_agent a "$key" "$@"
	start_agent b "$key" "$@"
	wait_for 20 running a || die "agent a not running with one peer"
	wait_for 20 running b || die "agent b not running with one peer"
	local pa pb
	pa=$(agent_pid a) pb=$(agent_pid b)
	b4=$(cli b status | jq -r .node.ipv4)
	nsx a ping -q -i 0.2 -W 2 -c "$pings" "$b4" >"$tmp/ping" 2>&1 ||
		say "$label: ping a->b: $(tail -n 2 "$tmp/ping")"
	sleep "$idle"
	measure a "$label"
	measure b "$label"
	kill -TERM "$pa" "$pb" 2>/dev/null || true
	wait_for 5 sh -c "! kill -0 $pa 2>/dev/null && ! kill -0 $pb 2>/dev/null" ||
		true
	# The nodes stay registered; the next run registers new ones, and
	# the old ones drop out of the policy's peers once deleted.
	for id in $(api GET /api/v1/nodes | jq -r '(.items // .)[].id'); do
		api DELETE "/api/v1/nodes/$id" >/dev/null || true
	done
}

run agent
if [ -n "${BENCH_ENV:-}" ]; then
	# The same agents with extra environment, e.g. MALLOC_ARENA_MAX=1.
	# shellcheck disable=SC2086
	run variant $BENCH_ENV
fi
