#!/bin/sh
# Resources through two connectors (issue 15): a netlab with the
# controller and a relay in "inet", client a behind nat1, connectors c
# and c2 (the lab's host b) on inet, and a site LAN 192.168.77.0/24 (a
# bridge in namespace h) that both connectors join: c is .1, c2 is .2,
# h is .10 and .20 and has NO route to the mesh. Both connectors carry
# tag:c and are started WITHOUT --connector: they forward because the
# map's "serves" says they serve something. a runs without
# --accept-routes: resources are routed because they are resources.
#   - "site" (192.168.77.0/24; policy: TCP 8080, UDP 7000, ICMP): a
#     reaches h over TCP (content checked), UDP and ICMP through the one
#     connector its routes show, and h sees that connector's address;
#   - "web" (192.168.77.20, filter tcp/443; the policy grants every
#     protocol): TCP 443 works; TCP 22, UDP and ICMP are refused at a
#     itself, fast (connect() gets ECONNREFUSED, the UDP socket an ICMP
#     error, ping "filtered"), never reach h, and a's denied_early counts
#     them;
#   - the connector a uses for "site" is killed with SIGKILL while a
#     pings through it: a new TCP connection works through the other
#     one; the time from the kill is measured and printed (issue target:
#     3 s; no timed assertion), a logs the move and counts it;
#   - the killed connector is restarted (still without --connector): its
#     nftables table from before is replaced (connector_stale_removed);
#     then the other one is killed and the traffic moves back (measured
#     and printed too).
#
#   connector_ha_test.sh
#
# Needs root; exits 77 (ctest: skipped) without namespaces or when the
# kernel has no nftables NAT.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN,
# WEFT_RELAY_BIN, WEFT_UDPTOOL, WEFT_TCPTOOL.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/connector_lab.sh"
lab_env
UDPTOOL=${WEFT_UDPTOOL:?set WEFT_UDPTOOL}
TCPTOOL=${WEFT_TCPTOOL:?set WEFT_TCPTOOL}
SITE=192.168.77.0/24
H=192.168.77.10
WEB=192.168.77.20
C_LAN=192.168.77.1
C2_LAN=192.168.77.2
TABLE="inet weft_weft0"
L=ha$$

policy='{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["resource:site:8080"]},
 {"action":"accept","proto":"udp","src":["tag:a"],"dst":["resource:site:7000"]},
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["resource:site:*"]},
 {"action":"accept","src":["tag:a"],"dst":["resource:web:*"]}]}'

# The lab host each connector runs on, and its LAN address.
ns_of() { [ "$1" = c2 ] && echo b || echo c; }
lan_of() { [ "$1" = c2 ] && echo "$C2_LAN" || echo "$C_LAN"; }
other() { [ "$1" = c2 ] && echo c || echo c2; }

has_table() {
	nsrun "$1" nft list table $TABLE >/dev/null 2>&1
}

counter() {
	cli "$1" status | jq ".dataplane.$2"
}

# via RESOURCE: the name of the connector a sends RESOURCE's traffic to.
via() {
	cli a routes | jq -r --arg r "$1" \
		'.resources[] | select(.name == $r) | .connector.name // ""'
}

site_services() {
	nsrun h ip addr add "$WEB/24" dev br0
	nsrun h "$TCPTOOL" serve "$H:8080" >"$tmp/h-tcp.txt" &
	pids="$pids $!"
	nsrun h "$TCPTOOL" serve "$WEB:443" >"$tmp/h-443.txt" &
	pids="$pids $!"
	nsrun h "$TCPTOOL" serve "$WEB:22" >"$tmp/h-22.txt" &
	pids="$pids $!"
	nsrun h "$UDPTOOL" echo -b "$H:7000" >"$tmp/h-udp.txt" &
	pids="$pids $!"
	nsrun h "$UDPTOOL" echo -b "$WEB:7000" >"$tmp/h-udp-web.txt" &
	pids="$pids $!"
	sleep 0.2
}

# start_conn NAME: a connector agent (tag:c, no --connector) on its host;
# CPID_<NAME> is its pid.
start_conn() {
	_h=$(ns_of "$1")
	start_agent "$_h" "${2:-}" --hostname "$1"
	eval "CPID_$1=\$AGENT_PID"
}

# Traffic a -> h on "site" through connector $1: TCP, UDP, ICMP, and h
# sees $1's LAN address.
traffic() {
	lan=$(lan_of "$1")
	out=$(nsrun a "$TCPTOOL" send -t 10000 -n 1048576 "$H:8080") ||
		{ fail "TCP a -> h:8080: $out"; return; }
	echo "TCP a -> h through $1 (1 MiB, content checked): $out"
	case "$out" in
	"peer=$lan:"*) ;;
	*) fail "h saw TCP from '$out', not $1's LAN address $lan" ;;
	esac
	seen=$(nsrun a "$UDPTOOL" ask -t 3000 "$H:7000") ||
		fail "UDP a -> h:7000 got no echo"
	case "$seen" in
	"$lan:"*) ;;
	*) fail "h saw UDP from '$seen', not $lan" ;;
	esac
	ping_ok a "$H" 5 || fail "ping a -> h $H"
}

# "web" admits TCP 443 only: the rest is refused by a itself, at once.
early_reject() {
	d0=$(counter a denied_early)
	out=$(nsrun a "$TCPTOOL" send -t 5000 -n 65536 "$WEB:443") ||
		fail "TCP a -> web:443: $out"
	t0=$(now_ms)
	r=$(nsrun a "$TCPTOOL" connect -t 3000 "$WEB:22")
	t_tcp=$(($(now_ms) - t0))
	[ "$r" = refused ] || fail "TCP a -> web:22 (not allowed): $r, not refused (a reset)"
	t0=$(now_ms)
	r=$(nsrun a "$UDPTOOL" refused -t 2000 "$WEB:7000")
	t_udp=$(($(now_ms) - t0))
	[ "$r" = unreachable ] ||
		fail "UDP a -> web:7000 (not allowed): $r, not unreachable"
	t0=$(now_ms)
	nsrun a ping -c 1 -W 3 "$WEB" >"$tmp/ping-web.txt" 2>&1 &&
		fail "ping a -> web answered"
	t_icmp=$(($(now_ms) - t0))
	grep -qi 'filtered\|prohibited' "$tmp/ping-web.txt" ||
		fail "ping a -> web: $(cat "$tmp/ping-web.txt")"
	echo "refused at a: TCP 22 in $t_tcp ms, UDP in $t_udp ms, ICMP in $t_icmp ms"
	d1=$(counter a denied_early)
	echo "a's denied_early: $d0 -> $d1"
	[ $((d1 - d0)) -ge 3 ] || fail "a's denied_early went from $d0 to $d1"
	grep -v '^listening$' "$tmp/h-22.txt" | grep -q . &&
		fail "h's TCP 22 saw: $(cat "$tmp/h-22.txt")"
	[ -s "$tmp/h-udp-web.txt" ] &&
		fail "h's UDP 7000 on web saw: $(cat "$tmp/h-udp-web.txt")"
	# Slow failure would be a timeout: these are answered locally.
	for t in $t_tcp $t_udp $t_icmp; do
		[ "$t" -lt 2500 ] || fail "an early reject took $t ms"
	done
}

# failover NAME: SIGKILL connector NAME (the one a uses) while a pings
# through it; a new TCP connection must work through the other one.
failover() {
	dead=$1
	alive=$(other "$dead")
	m0=$(cli a status | jq .resources.moves)
	nsrun a ping -i 0.1 -W 1 "$H" >/dev/null 2>&1 &
	pinger=$!
	sleep 0.5
	eval "kpid=\$CPID_$dead"
	kill -KILL "$kpid"
	t0=$(now_ms)
	took=
	while [ $(($(now_ms) - t0)) -lt 30000 ]; do
		if out=$(nsrun a "$TCPTOOL" send -t 3000 -n 65536 "$H:8080" 2>&1); then
			took=$(($(now_ms) - t0))
			break
		fi
	done
	kill "$pinger" 2>/dev/null
	wait "$pinger" 2>/dev/null
	if [ -z "$took" ]; then
		fail "no TCP a -> h within 30 s of killing $dead"
		return
	fi
	echo "killed $dead (SIGKILL): a new TCP connection works through $alive after $took ms (issue target 3000 ms)"
	[ "$took" -le 3000 ] ||
		echo "NOTE: failover took $took ms, more than the 3 s target" >&2
	case "$out" in
	"peer=$(lan_of "$alive"):"*) ;;
	*) fail "after the failover h saw '$out', not $alive" ;;
	esac
	[ "$(via site)" = "$alive" ] || fail "a's routes show $(via site) for site, not $alive"
	m1=$(cli a status | jq .resources.moves)
	[ "$m1" -gt "$m0" ] || fail "a's resource moves stayed at $m1"
	grep "event=resource_connector " "$tmp/a.log" | tail -n 3
	grep -q "event=resource_connector resource=site .*connector=$alive .*from=$dead .*why=lost" \
		"$tmp/a.log" || fail "a did not log the move of site from $dead to $alive"
}

run() {
	lab_start connector_ha_test --a nat1 --b inet --c inet || return
	need_nft_nat connector_ha_test
	make_site_ha b "$C2_LAN" || { fail "site namespace"; return; }
	site_services

	mesh_up || return
	api PUT /api/v1/policy '{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[]}' \
		>/dev/null || { fail "tags"; return; }
	api POST /api/v1/resources "{\"name\":\"site\",\"address\":\"$SITE\",
		\"connectors\":{\"tags\":[\"tag:c\"]}}" >/dev/null ||
		{ fail "resource site"; return; }
	api POST /api/v1/resources "{\"name\":\"web\",\"address\":\"$WEB\",
		\"filters\":[{\"protocol\":\"tcp\",\"ports\":[\"443\"]}],
		\"connectors\":{\"tags\":[\"tag:c\"]}}" >/dev/null ||
		{ fail "resource web"; return; }
	api PUT /api/v1/policy "$policy" >/dev/null || { fail "policy"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kc=$(api POST /api/v1/auth-keys '{"tags":["tag:c"],"reusable":true}' |
		jq -r .key)

	chmod 711 "$tmp"
	start_agent a "$ka"
	start_conn c "$kc"
	start_conn c2 "$kc"
	wait_running a 2 || return
	wait_running c 1 || return
	wait_running b 1 || return
	for _ in $(seq 50); do
		has_table c && has_table b && break
		sleep 0.1
	done
	for n in c b; do
		has_table "$n" || fail "no table $TABLE on $n (serves site, no --connector)"
		[ "$(nsrun $n sysctl -n net.ipv4.ip_forward)" = 1 ] ||
			fail "$n's agent did not turn on ip_forward"
	done
	[ -z "$(nsrun a nft list tables)" ] || fail "a has an nftables table"
	[ "$(cli a status | jq .connector)" = null ] || fail "a shows a connector"
	for _ in $(seq 50); do
		nsrun a ip route show "$SITE" dev weft0 | grep -q . && break
		sleep 0.1
	done
	nsrun a ip route show "$SITE" dev weft0 | grep -q . ||
		fail "a has no route to $SITE on weft0 (without --accept-routes)"
	nsrun a ip route show "$WEB" dev weft0 | grep -q . ||
		fail "a has no route to $WEB on weft0"
	for _ in $(seq 50); do
		first=$(via site)
		[ -n "$first" ] && break
		sleep 0.1
	done
	case "$first" in
	c | c2) echo "a sends site through $first" ;;
	*) fail "a's routes show no connector for site: '$first' $(cli a routes | jq -c .resources)"; return ;;
	esac
	cli a routes >"$tmp/a-routes.txt"

	traffic "$first"
	early_reject

	# High availability: the connector a uses dies.
	failover "$first"
	second=$(other "$first")
	traffic "$second"

	# It comes back, still without --connector: its old table goes.
	h0=$(nsrun "$(ns_of "$first")" nft -j list table $TABLE |
		jq '.nftables[] | select(.table) | .table.handle')
	start_conn "$first"
	wait_running "$(ns_of "$first")" 1 || return
	for _ in $(seq 50); do
		grep -q "event=connector_stale_removed family=inet table=weft_weft0 handle=$h0 " \
			"$tmp/$(ns_of "$first").log" && break
		sleep 0.1
	done
	grep -q "event=connector_stale_removed family=inet table=weft_weft0 handle=$h0 " \
		"$tmp/$(ns_of "$first").log" ||
		fail "$first did not log the removal of its old table (handle $h0)"
	[ "$(nsrun "$(ns_of "$first")" nft list tables | grep -c weft_weft0)" = 1 ] ||
		fail "$first has not exactly one table weft_weft0"
	# The move back: now the other one dies.
	failover "$second"
	traffic "$first"
	return 0
}

need connector_ha_test jq curl ping nft
start_test
run
finish connector_ha
