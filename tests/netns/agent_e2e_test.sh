#!/bin/sh
# The whole system end to end with real TUN devices: a netlab with the
# controller (SQLite) and a relay in its "inet" namespace and weft-agents in
# hosts a and b (both on inet), each with a real TUN, traffic on the relay
# path. The policy allows a->b ICMP and TCP 5201:
#   - the kernel's ping from a's namespace reaches b's mesh IPv4 and IPv6,
#     and iperf3 (when installed) moves data a->b on TCP 5201;
#   - b->a ICMP is denied (ping fails) and a's denied counter rises;
#   - a policy change allowing b->a takes effect on the live agents within
#     about a second;
#   - the TUN device is gone once the agent stopped.
#
#   agent_e2e_test.sh
#
# Needs root; exits 77 (ctest: skipped) when namespaces are unavailable.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN, WEFT_RELAY_BIN.
set -u

here=$(cd "$(dirname "$0")" && pwd)
NETLAB=${NETLAB:-$here/../harness/netlab.sh}
AGENT=${WEFT_AGENT_BIN:?set WEFT_AGENT_BIN}
CTL=${WEFT_CONTROLLER_BIN:?set WEFT_CONTROLLER_BIN}
RELAY=${WEFT_RELAY_BIN:?set WEFT_RELAY_BIN}
CTL_ADDR=203.0.113.1:8080
RELAY_ADDR=203.0.113.1:3478
URL=http://$CTL_ADDR

lab() { sh "$NETLAB" "$@"; }
failed=0
L=e2e$$
lab_up=
pids=

policy_ab='{"tagOwners":{"tag:a":[],"tag:b":[]},"acls":[
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["tag:b:*"]},
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["tag:b:5201"]}]}'
policy_both='{"tagOwners":{"tag:a":[],"tag:b":[]},"acls":[
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["tag:b:*"]},
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["tag:b:5201"]},
 {"action":"accept","proto":"icmp","src":["tag:b"],"dst":["tag:a:*"]}]}'

cleanup() {
	for p in $pids; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $pids; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	pids=
	[ -n "$lab_up" ] && lab down "$L" >/dev/null 2>&1
	lab_up=
}

fail() {
	echo "FAIL: $*" >&2
	failed=1
}

dump() {
	for f in "$tmp"/*.log; do
		echo "---- $f" >&2
		tail -n 40 "$f" >&2
	done
}

# nsrun NODE cmd...: runs cmd in NODE's namespace.
nsrun() {
	_n=$1
	shift
	ip netns exec "$(lab ns "$L" "$_n")" "$@"
}

# api METHOD PATH [BODY]: the controller's REST API with the bootstrap key.
api() {
	nsrun inet curl -fsS -X "$1" -H "Authorization: Bearer $admin" \
		-H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$URL$2"
}

# cli NODE CMD [ARG]: weft-agent CMD --json in NODE.
cli() {
	_n=$1 _c=$2
	shift 2
	nsrun "$_n" "$AGENT" "$_c" --json --socket "$tmp/$_n/sock" "$@"
}

start_agent() {
	mkdir -p "$tmp/$1"
	nsrun "$1" env WEFT_LOG_LEVEL=debug "$AGENT" up --controller "$URL" \
		--insecure-http --auth-key "$2" --state-dir "$tmp/$1" \
		--socket "$tmp/$1/sock" --hostname "$1" --tun weft0 \
		2>"$tmp/$1.log" &
	pids="$pids $!"
}

wait_running() {
	for _ in $(seq 100); do
		[ "$(cli "$1" status 2>/dev/null | jq -r .state)" = running ] &&
			[ "$(cli "$1" peers 2>/dev/null | jq '.peers|length')" = 1 ] &&
			return 0
		sleep 0.1
	done
	fail "agent $1 not running with its peer"
	return 1
}

# ping_ok NODE ADDR [TRIES]: the kernel's ping from NODE answers.
ping_ok() {
	for _ in $(seq "${3:-10}"); do
		nsrun "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
	done
	return 1
}

run() {
	lab up "$L" --a inet --b inet --c none --owner $$
	rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || { fail "netlab up failed"; return; }
	lab_up=1

	nsrun inet "$CTL" serve --listen "$CTL_ADDR" --data-dir "$tmp/ctl" \
		>"$tmp/ctl.out" 2>"$tmp/ctl.log" &
	pids="$pids $!"
	for _ in $(seq 100); do
		grep -q "listening on" "$tmp/ctl.out" 2>/dev/null && break
		sleep 0.1
	done
	admin=$(grep -o 'weft_api_[^[:space:]]*' "$tmp/ctl.out" | head -n1)
	[ -n "$admin" ] || { fail "controller did not start"; return; }
	"$CTL" relay-key --data-dir "$tmp/ctl" >"$tmp/ctl.pub" ||
		{ fail "relay-key"; return; }
	nsrun inet "$RELAY" --listen "$RELAY_ADDR" --key "$tmp/relay.key" \
		--controller-key "$tmp/ctl.pub" >"$tmp/relay.out" \
		2>"$tmp/relay.log" &
	pids="$pids $!"
	pin=
	for _ in $(seq 50); do
		pin=$(sed -n 's/^relay pin: //p' "$tmp/relay.out" 2>/dev/null)
		[ -n "$pin" ] && break
		sleep 0.1
	done
	[ -n "$pin" ] || { fail "relay did not start"; return; }
	api POST /api/v1/relays "{\"name\":\"inet\",\"region\":\"lab\",
		\"address\":\"$RELAY_ADDR\",\"public_key_pin\":\"$pin\"}" \
		>/dev/null || { fail "relay registration"; return; }
	api PUT /api/v1/policy "$policy_ab" >/dev/null ||
		{ fail "policy"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kb=$(api POST /api/v1/auth-keys '{"tags":["tag:b"]}' | jq -r .key)
	[ -n "$ka" ] && [ "$ka" != null ] && [ -n "$kb" ] ||
		{ fail "auth keys"; return; }

	start_agent a "$ka"
	start_agent b "$kb"
	wait_running a || return
	wait_running b || return
	b4=$(cli a peers | jq -r '.peers[0].ipv4')
	b6=$(cli a peers | jq -r '.peers[0].ipv6')
	a4=$(cli b peers | jq -r '.peers[0].ipv4')
	[ "$(cli a status | jq -r .tun)" = weft0 ] || fail "a has no tun"

	# a -> b: the kernels on both sides, through the tunnel on the relay.
	ping_ok a "$b4" || fail "ping a->b $b4"
	[ "$(cli a peers | jq -r '.peers[0].path')" = relay ] ||
		fail "a's path to b is not relay"
	if [ "$b6" != null ]; then
		ping_ok a "$b6" || fail "ping a->b $b6"
	fi
	# weft-agent's own ping, answered by b's kernel.
	cli a ping b >"$tmp/ping.json" ||
		fail "weft-agent ping b: $(cat "$tmp/ping.json")"

	# TCP a -> b on the allowed port moves data (iperf3, 2 s).
	if command -v iperf3 >/dev/null 2>&1; then
		nsrun b iperf3 -s -1 -p 5201 -B "$b4" >"$tmp/iperf-s.txt" 2>&1 &
		pids="$pids $!"
		sleep 0.5
		nsrun a iperf3 -c "$b4" -p 5201 -t 2 -J >"$tmp/iperf.json" \
			2>&1 || fail "iperf3 a->b: $(tail -n 5 "$tmp/iperf.json")"
		bytes=$(jq '.end.sum_received.bytes // 0' "$tmp/iperf.json" \
			2>/dev/null)
		echo "iperf3 a->b: $(jq '.end.sum_received.bits_per_second // 0
			| . / 1e6 | floor' "$tmp/iperf.json" 2>/dev/null) Mbit/s"
		[ "${bytes:-0}" -gt 100000 ] ||
			fail "iperf3 a->b moved ${bytes:-0} bytes"
	fi

	# b -> a is denied by a's filter.
	denied0=$(cli a status | jq .dataplane.denied)
	ping_ok b "$a4" 2 && fail "ping b->a passed without a policy"
	denied1=$(cli a status | jq .dataplane.denied)
	[ "$denied1" -gt "$denied0" ] ||
		fail "a's denied counter stayed at $denied1"

	# Allowing b -> a applies to the live agents within about a second.
	api PUT /api/v1/policy "$policy_both" >/dev/null ||
		{ fail "policy change"; return; }
	sleep 1
	ping_ok b "$a4" 1 || ping_ok b "$a4" 1 ||
		fail "ping b->a still denied after the policy change"

	# The device goes away with the agent.
	cli a down >/dev/null || fail "down"
	for _ in $(seq 50); do
		nsrun a ip link show weft0 >/dev/null 2>&1 || break
		sleep 0.1
	done
	nsrun a ip link show weft0 >/dev/null 2>&1 &&
		fail "weft0 still exists after down"
}

if [ "$(id -u)" != 0 ]; then
	echo "agent_e2e_test: skipped: needs root for network namespaces" >&2
	exit 77
fi
for t in jq curl ping; do
	command -v $t >/dev/null 2>&1 ||
		{ echo "agent_e2e_test: $t missing" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

run
cleanup
# The sanitizer builds report on exit: none is allowed.
if grep -l "Sanitizer\|runtime error:" "$tmp"/*.log 2>/dev/null; then
	fail "sanitizer report (files above)"
fi
if [ $failed -eq 0 ]; then
	echo "ok   agent_e2e"
else
	dump
	echo "FAIL agent_e2e"
fi
exit $failed
