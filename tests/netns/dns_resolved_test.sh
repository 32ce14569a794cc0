#!/bin/sh
# `weft-agent up --dns auto` with systemd-resolved (issue 16), against a
# real D-Bus: a private dbus-daemon (system-bus config of our own, the
# agent and the test service find it through DBUS_SYSTEM_BUS_ADDRESS) and
# resolve1_stub, a test service that owns org.freedesktop.resolve1 and
# prints each Manager call as a JSON line. The agent runs with a TUN in
# host a of a netlab, the real controller in inet:
#   - auto picks resolved; SetLinkDNS (the stub), SetLinkDomains (the
#     suffix as search domain), SetLinkDefaultRoute false, then the
#     optional SetLinkDNSOverTLS/LLMNR/MulticastDNS "no", all on weft0's
#     ifindex; SetLinkLLMNR made to fail does not stop SetLinkMulticastDNS
#     and the settings count as installed (status);
#   - SetLinkDNS (required) failing the first two times: the agent tries
#     again after its back-off (1 s, then 2 s) and the settings end up
#     installed;
#   - the service restarted (NameOwnerChanged): the agent applies again,
#     and again after a back-off when that first re-apply fails;
#   - SIGTERM: RevertLink on weft0's ifindex.
#
#   dns_resolved_test.sh
#
# Needs root and dbus-daemon; exits 77 (ctest: skipped) without them.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN, WEFT_RESOLVE1_STUB.
set -u

here=$(cd "$(dirname "$0")" && pwd)
NETLAB=${NETLAB:-$here/../harness/netlab.sh}
AGENT=${WEFT_AGENT_BIN:?set WEFT_AGENT_BIN}
CTL=${WEFT_CONTROLLER_BIN:?set WEFT_CONTROLLER_BIN}
STUB=${WEFT_RESOLVE1_STUB:?set WEFT_RESOLVE1_STUB}
RELAY=/bin/false
CTL_ADDR=203.0.113.1:8080
RELAY_ADDR=203.0.113.1:3478
URL=http://$CTL_ADDR

. "$here/lib.sh"
. "$here/connector_lab.sh"
L=dnsr$$
lab_up=
pids=



# start_stub OUT [--fail METHOD]: resolve1_stub on the test bus; SPID.
start_stub() {
	_out=$1
	shift
	: >"$tmp/$_out"
	: >"$tmp/stub.err"
	DBUS_SYSTEM_BUS_ADDRESS=$BUS "$STUB" "$@" >"$tmp/$_out" \
		2>"$tmp/stub.err" &
	SPID=$!
	pids="$pids $SPID"
	for _ in $(seq 100); do
		grep -q ready "$tmp/stub.err" && return 0
		sleep 0.05
	done
	fail "resolve1_stub did not start: $(cat "$tmp/stub.err")"
	return 1
}

# call FILE METHOD: the last JSON line of METHOD in FILE, waiting up to 5 s.
call() {
	for _ in $(seq 100); do
		_c=$(jq -c --arg m "$2" 'select(.method == $m)' "$tmp/$1" 2>/dev/null |
			tail -n 1)
		[ -n "$_c" ] && { echo "$_c"; return 0; }
		sleep 0.05
	done
	return 1
}

# wait_ok FILE METHOD: until FILE has a call of METHOD that did not fail
# (10 s).
wait_ok() {
	for _ in $(seq 200); do
		jq -c --arg m "$2" 'select(.method == $m and .failed != true)' \
			"$tmp/$1" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	fail "no successful $2 call in $1"
	return 1
}

# expect FILE METHOD JQ-CONDITION: METHOD was called and CONDITION holds.
expect() {
	_c=$(call "$1" "$2") || { fail "no $2 call in $1"; return 1; }
	echo "$_c" | jq -e "$3" >/dev/null ||
		fail "$2 call in $1 is $_c, not $3"
}

run() {
	need dns_resolved_test dbus-daemon jq curl
	lab up "$L" --a inet --b none --c none --owner $$
	rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || { fail "netlab up failed"; return; }
	lab_up=1
	cat >"$tmp/bus.conf" <<EOF
<busconfig>
  <type>system</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
	dbus-daemon --config-file="$tmp/bus.conf" --nofork --print-address \
		>"$tmp/bus.addr" 2>"$tmp/dbus.log" &
	pids="$pids $!"
	for _ in $(seq 100); do
		[ -s "$tmp/bus.addr" ] && break
		sleep 0.05
	done
	BUS=$(head -n 1 "$tmp/bus.addr")
	[ -n "$BUS" ] || { fail "dbus-daemon did not start"; return; }
	start_stub calls1.jsonl --fail SetLinkLLMNR --fail SetLinkDNS:2 || return

	start_controller || { fail "controller did not start"; return; }
	admin=$(grep -o 'weft_api_[^[:space:]]*' "$tmp/ctl.out" | head -n1)
	api PUT /api/v1/policy '{"tagOwners":{"tag:a":[]},"acls":[]}' \
		>/dev/null || { fail "policy"; return; }
	key=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	chmod 711 "$tmp"
	mkdir -p "$tmp/a"
	nsrun a env DBUS_SYSTEM_BUS_ADDRESS="$BUS" WEFT_LOG_LEVEL=debug \
		"$AGENT" up --controller "$URL" --insecure-http \
		--auth-key "$key" --state-dir "$tmp/a" --socket "$tmp/a/sock" \
		--hostname a --tun weft0 --no-direct --dns auto \
		--resolv-conf "$tmp/never-written" 2>>"$tmp/a.log" &
	pids="$pids $!"
	APID=
	for _ in $(seq 100); do
		APID=$(nspid a weft-agent) && break
		sleep 0.02
	done
	pids="$pids $APID"
	wait_running a 0 || return
	idx=$(nsrun a cat /sys/class/net/weft0/ifindex)
	t0=$(now_ms)
	wait_ok calls1.jsonl SetLinkMulticastDNS &&
		echo "installed $(($(now_ms) - t0)) ms after the agent ran, after two failed SetLinkDNS"
	[ "$(jq -c 'select(.method == "SetLinkDNS") | .failed == true' \
		"$tmp/calls1.jsonl" | tr '\n' ' ')" = "true true false " ] ||
		fail "SetLinkDNS calls: not failed twice, then done"
	grep -q "event=dns_install_failed.*retry_ms=" "$tmp/a.log" ||
		fail "a did not log dns_install_failed with its retry"

	# The calls, in order, on weft0; the failing optional one does not
	# stop the next.
	expect calls1.jsonl SetLinkDNS ".ifindex == $idx and .servers[0] == \"100.100.100.100\" and (.servers | length) == 2 and (.servers[1] | endswith(\"::6464:6464\"))"
	expect calls1.jsonl SetLinkDomains '.domains == [["weft.internal", false]]'
	expect calls1.jsonl SetLinkDefaultRoute ".value == false and .ifindex == $idx"
	expect calls1.jsonl SetLinkDNSOverTLS '.value == "no"'
	expect calls1.jsonl SetLinkLLMNR '.failed == true'
	expect calls1.jsonl SetLinkMulticastDNS ".value == \"no\" and .ifindex == $idx"
	echo "calls:"; sed 's/^/  /' "$tmp/calls1.jsonl"
	order=$(jq -r 'select(.method != "SetLinkDNS" or .failed != true) |
		.method' "$tmp/calls1.jsonl" | tr '\n' ' ')
	[ "$order" = "SetLinkDNS SetLinkDomains SetLinkDefaultRoute SetLinkDNSOverTLS SetLinkLLMNR SetLinkMulticastDNS " ] ||
		fail "calls in this order: $order"
	st=$(cli a status | jq -c .dns)
	echo "status dns: $st"
	echo "$st" | jq -e '.mode == "resolved" and .requested == "auto" and
		.installed == true and .resolved.calls_failed == 3 and
		.install_retries == 2' >/dev/null ||
		fail "status: $st"
	[ ! -e "$tmp/never-written" ] || fail "auto with resolved wrote the resolv.conf"

	# resolved restarts: the agent applies again.
	stop_pid "$SPID" TERM
	t0=$(now_ms)
	start_stub calls2.jsonl --fail SetLinkDNS:1 || return
	wait_ok calls2.jsonl SetLinkDNS
	expect calls2.jsonl SetLinkDNS ".ifindex == $idx and .servers[0] == \"100.100.100.100\" and (.servers | length) == 2 and (.servers[1] | endswith(\"::6464:6464\"))" &&
		echo "re-applied $(($(now_ms) - t0)) ms after the service came back"
	expect calls2.jsonl SetLinkMulticastDNS '.value == "no"'
	grep -q "event=dns_resolved_reapplied" "$tmp/a.log" ||
		fail "a did not log dns_resolved_reapplied"
	grep -q "event=dns_resolved_retry" "$tmp/a.log" ||
		fail "a did not log dns_resolved_retry after the failed re-apply"

	# SIGTERM: RevertLink.
	stop_pid "$APID" TERM
	expect calls2.jsonl RevertLink ".ifindex == $idx"
}

start_test
run
finish dns_resolved
