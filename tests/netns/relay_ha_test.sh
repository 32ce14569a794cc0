#!/bin/sh
# Several relays (issue 17) with real TUNs: a netlab with the controller
# and three relays r1, r2, r3 in "inet" (203.0.113.1, UDP ports 3478,
# 3479, 3480) and weft-agents in hosts a and b on inet, with --no-direct
# so that all peer traffic takes the relay path. A forwarder in a
# (tests/netns/udpdelay, as netem may be missing) delays a's packets to
# and from r2 and r3 by 20 ms each way, one in b those of r1 and r3:
#   - a picks r1 as its home relay, b picks r2 (lowest RTT), and both
#     publish it (the peer's home_relay in the other's peers list);
#   - a and b, on different home relays, reach each other (ping both
#     ways): each sends through the other's home relay;
#   - an iperf3 a->b TCP transfer (10 s, 20 Mbit/s) runs while a's home
#     relay r1 is killed with SIGKILL: a moves its home to another relay
#     and republishes it, b sends through the relays still up, the TCP
#     connection survives (iperf3 ends without error) and the receiver
#     gets data again within 3 s of the kill (the longest gap in the
#     receiver's 100 ms intervals is printed);
#   - r1 started again is not a's home again at once (hysteresis: it must
#     stay up 10 s first), and is again after that.
#
#   relay_ha_test.sh
#
# Needs root; exits 77 (ctest: skipped) when namespaces are unavailable.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN, WEFT_RELAY_BIN.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/connector_lab.sh"
lab_env
UDPDELAY=${WEFT_UDPDELAY:?set WEFT_UDPDELAY}
DELAY=20
L=rha$$
AGENT_LOG_LEVEL=debug

policy='{"tagOwners":{"tag:a":[],"tag:b":[]},"acls":[
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["tag:b:*"]},
 {"action":"accept","proto":"icmp","src":["tag:b"],"dst":["tag:a:*"]},
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["tag:b:5201"]}]}'

# slow NODE PORT...: NODE's UDP to those relay ports goes through
# udpdelay (DELAY ms each way) in NODE: nftables there sends it to the
# forwarder on NODE's own address (port + 10000), which talks to the relay
# from port + 20000. (The kernel here may lack the netem qdisc.)
slow() {
	_n=$1
	shift
	_a=$(lab addr "$L" "$_n")
	nsrun "$_n" nft add table ip rha &&
		nsrun "$_n" nft add chain ip rha out \
			'{ type nat hook output priority -100; }' || return 1
	for _port in "$@"; do
		: >"$tmp/delay-$_n-$_port.out"
		nsrun "$_n" "$UDPDELAY" "$_a:$((_port + 10000))" \
			"203.0.113.1:$_port" "$_a:$((_port + 20000))" "$DELAY" \
			>"$tmp/delay-$_n-$_port.out" 2>&1 &
		pids="$pids $!"
		nsrun "$_n" nft add rule ip rha out udp dport "$_port" \
			udp sport != $((_port + 20000)) \
			dnat to "$_a:$((_port + 10000))" || return 1
	done
	sleep 0.2
	for _port in "$@"; do
		grep -q ready "$tmp/delay-$_n-$_port.out" || return 1
	done
}

home() { cli "$1" status 2>/dev/null | jq -r '.relay.name // ""'; }

# wait_home NODE NAME SECONDS: NODE's home relay is NAME.
wait_home() {
	for _ in $(seq $(($3 * 10))); do
		[ "$(home "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# The TCP transfer a->b with a's home relay killed 3 s in.
failover() {
	nsrun b iperf3 -s -1 -p 5201 -B "$b4" -i 0.1 -J \
		>"$tmp/iperf-s.json" 2>&1 &
	srv=$!
	pids="$pids $srv"
	sleep 0.5
	t0=$(now_ms)
	nsrun a iperf3 -c "$b4" -p 5201 -t 10 -b 20M -i 0.1 -J \
		>"$tmp/iperf-c.json" 2>&1 &
	cl=$!
	pids="$pids $cl"
	sleep 3
	tk=$(now_ms)
	kill -KILL "$(relay_pid 3478)" || fail "kill -9 r1"
	wait_home a r2 3 || wait_home a r3 1 ||
		fail "a's home relay still $(home a) 3 s after r1 died"
	moved=$(($(now_ms) - tk))
	echo "r1 killed: a's home relay is $(home a) after $moved ms"
	wait "$cl" || fail "iperf3 a->b did not survive: $(tail -n 5 "$tmp/iperf-c.json")"
	wait "$srv"
	# The kill at k s into the test (iperf3 counts from its connect,
	# a few ms after t0); the longest run of empty 100 ms intervals at
	# the receiver after it is the gap.
	k=$(echo "$tk $t0" | awk '{printf "%.3f", ($1 - $2) / 1000}')
	gap=$(jq -r --argjson k "$k" '
		[.intervals[].sum | select(.end > $k)] as $iv
		| reduce $iv[] as $i ({run: 0, max: 0, last: $k};
			if $i.bytes == 0 then .run += ($i.end - $i.start)
			  | .max = ([.max, .run] | max)
			else .run = 0 end)
		| .max * 1000 | floor' "$tmp/iperf-s.json" 2>/dev/null)
	# Data again: the first interval with bytes after the first empty one
	# that follows the kill.
	resume=$(jq -r --argjson k "$k" '
		[.intervals[].sum | select(.end > $k)] as $iv
		| ([$iv | to_entries[] | select(.value.bytes == 0) | .key]
		   | first) as $z
		| if $z == null then 0
		  else ([$iv[$z:][] | select(.bytes > 0) | .start] | first)
		       as $s
		  | if $s == null then 99999 else ($s - $k) * 1000 | floor end
		  end' "$tmp/iperf-s.json" 2>/dev/null)
	bytes=$(jq '.end.sum_received.bytes // 0' "$tmp/iperf-c.json" 2>/dev/null)
	echo "iperf3 a->b across the kill of a's home relay: ${bytes:-0} bytes;" \
		"longest receive gap ${gap:-?} ms; data again ${resume:-?} ms" \
		"after the kill"
	if ! [ "${bytes:-0}" -gt 1000000 ]; then
		fail "iperf3 moved ${bytes:-0} bytes"
		for n in a b; do
			echo "$n: $(cli $n peers | jq -c .peers)"
			echo "$n: $(cli $n status | jq -c '.relay_links')"
		done
	fi
	[ -n "$resume" ] && [ "$resume" -le 3000 ] ||
		fail "traffic resumed ${resume:-never} ms after the kill (> 3000)"
	[ -n "$gap" ] && [ "$gap" -le 3000 ] ||
		fail "the receiver got nothing for ${gap:-?} ms (> 3000)"
	# a published its new home: b's view of a says so.
	ah=$(cli b peers | jq -r '.peers[] | select(.name == "a") | .home_relay')
	[ "$ah" = "$(home a)" ] || fail "b sees a's home relay as $ah"
}

run() {
	lab_start relay_ha_test --a inet --b inet --c none || return

	mesh_up --no-relay || return
	"$CTL" relay-key --data-dir "$tmp/ctl" >"$tmp/ctl.pub" ||
		{ fail "relay-key"; return; }
	port=3478
	for r in r1 r2 r3; do
		start_relay $r "203.0.113.1:$port" ||
			{ fail "relay $r did not start"; return; }
		api POST /api/v1/relays "{\"name\":\"$r\",\"region\":\"lab-$r\",
			\"address\":\"203.0.113.1:$port\",
			\"public_key_pin\":\"$pin\"}" >/dev/null ||
			{ fail "relay $r registration"; return; }
		port=$((port + 1))
	done
	slow a 3479 3480 || { fail "delays in a"; return; }
	slow b 3478 3480 || { fail "delays in b"; return; }
	api PUT /api/v1/policy "$policy" >/dev/null || { fail "policy"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kb=$(api POST /api/v1/auth-keys '{"tags":["tag:b"]}' | jq -r .key)
	start_agent a "$ka"
	start_agent b "$kb"
	wait_running a 1 15 || return
	wait_running b 1 15 || return

	wait_home a r1 10 || fail "a's home relay is $(home a), not r1"
	wait_home b r2 10 || fail "b's home relay is $(home b), not r2"
	cli a status | jq -c '.relay_links'
	for _ in $(seq 50); do
		[ "$(cli a peers | jq -r '.peers[0].home_relay')" = r2 ] && break
		sleep 0.1
	done
	[ "$(cli a peers | jq -r '.peers[0].home_relay')" = r2 ] ||
		fail "a does not see b's home relay r2"
	b4=$(peer a b ipv4)
	a4=$(peer b a ipv4)
	ping_ok a "$b4" || fail "ping a->b (homes r1 and r2)"
	ping_ok b "$a4" || fail "ping b->a (homes r2 and r1)"
	[ "$(peer a b path)" = relay ] || fail "a's path to b is not relay"

	failover

	# r1 back: not a's home before it has been up 10 s.
	start_relay r1 203.0.113.1:3478 || { fail "r1 did not restart"; return; }
	tb=$(now_ms)
	sleep 5
	[ "$(home a)" = r1 ] && fail "a went back to r1 within 5 s of its restart"
	wait_home a r1 15 || fail "a's home is $(home a), not r1, 20 s after r1 came back"
	echo "r1 restarted: a's home relay again after $(($(now_ms) - tb)) ms"
}

need relay_ha_test jq curl ping nft iperf3
start_test
trap 'cleanup; [ -n "${RELAY_HA_KEEP:-}" ] || rm -rf "$tmp"' EXIT
run
finish relay_ha
