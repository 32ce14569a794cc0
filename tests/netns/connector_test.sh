#!/bin/sh
# Connector forwarding end to end (issue 15): a netlab with the controller
# and a relay in "inet", client a behind nat1, connector c on inet, and a
# "site" namespace h on a veth behind c (LAN 192.168.77.0/24, h is .10,
# c's LAN address .1). h runs a TCP server (tcptool, answers with the
# peer it saw and a hash of what it read), a UDP echo (udptool, answers
# with the sender's address) and answers ping; it has NO route to the
# mesh. A CIDR resource "site" (192.168.77.0/24, connector tag:c) is
# created through the REST API, and the policy grants a TCP 8080, UDP
# 7000 and ICMP on it. Nothing is set up on c by hand:
#   - before its agent starts, c has IP forwarding off and no nftables
#     table; a non-connector agent (a) changes neither;
#   - a reaches h over TCP (4 MiB, content checked; and 4 MiB from h with
#     iperf3 -R when iperf3 is installed), UDP and ICMP, and h
#     sees c's LAN address as the source (no route back to the mesh
#     needed);
#   - `nft list table inet weft_weft0` on c shows the agent's table while
#     it runs, and it is gone after SIGTERM; the same with --user nobody
#     (the teardown after the privilege drop);
#   - after SIGKILL the table remains; the next start replaces it (log
#     line connector_stale_removed) and traffic flows again: the time
#     from the restart to the first successful TCP transfer is measured
#     and printed (time to recovery);
#   - TCP 9999 and UDP 7001 on h (listening, but not in the policy) never
#     reach h: a refuses them itself (the resource's filters for a, in
#     its map) with a TCP reset and ICMP admin-prohibited, and counts
#     them (status dataplane.denied_early); nothing of them reaches c;
#   - packets for a destination c does not serve (192.168.76.10 on h's
#     LAN: c advertises 192.168.76.0/23, the route is approved, and a
#     gets and accepts all of it because the policy grants a UDP 7000 on
#     192.168.76.128/25, which c serves as the route's router) are
#     dropped by c's filter, counted (status dataplane.denied_forward),
#     logged (event=forward_denied), and h's listeners on that address
#     see nothing;
#   - TCP through c is clamped to the TUN's MTU (h's SYN-ACK carries an
#     MSS that fits 1280), checked by the 4 MiB transfer not stalling.
#
#   connector_test.sh
#
# Needs root; exits 77 (ctest: skipped) without namespaces or when the
# kernel has no nftables (nf_tables, masquerade).
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
C_LAN=192.168.77.1
OTHER=192.168.76.10
OTHER_ROUTE=192.168.76.0/23
TABLE="inet weft_weft0"
L=conn$$

policy='{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["resource:site:8080,5201"]},
 {"action":"accept","proto":"udp","src":["tag:a"],"dst":["resource:site:7000"]},
 {"action":"accept","proto":"udp","src":["tag:a"],"dst":["192.168.76.128/25:7000"]},
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["resource:site:*"]}]}'

has_table() {
	nsrun "$1" nft list table $TABLE >/dev/null 2>&1
}

# counter NODE FIELD: a dataplane counter of NODE's status.
counter() {
	cli "$1" status | jq ".dataplane.$2"
}

# h's services: TCP 8080, iperf3 on 5201 and UDP 7000 (allowed), TCP
# 9999 and UDP 7001 (listening, but not in the policy).
site_services() {
	if command -v iperf3 >/dev/null 2>&1; then
		nsrun h iperf3 -s -p 5201 -B "$H" >"$tmp/h-iperf.txt" 2>&1 &
		pids="$pids $!"
	fi
	nsrun h "$TCPTOOL" serve "$H:8080" >"$tmp/h-tcp.txt" &
	pids="$pids $!"
	nsrun h "$TCPTOOL" serve "$H:9999" >"$tmp/h-deny.txt" &
	pids="$pids $!"
	nsrun h "$UDPTOOL" echo -b "$H:7000" >"$tmp/h-udp.txt" &
	pids="$pids $!"
	nsrun h "$UDPTOOL" echo -b "$H:7001" >"$tmp/h-udp-deny.txt" &
	pids="$pids $!"
	nsrun h "$TCPTOOL" serve "$OTHER:8080" >"$tmp/h-other-tcp.txt" &
	pids="$pids $!"
	nsrun h "$UDPTOOL" echo -b "$OTHER:7000" >"$tmp/h-other-udp.txt" &
	pids="$pids $!"
	sleep 0.2
}

# tcp_ok [BYTES]: a TCP transfer a -> h:8080 with content check; prints
# tcptool's line.
tcp_ok() {
	nsrun a "$TCPTOOL" send -t 10000 -n "${1:-4194304}" "$H:8080"
}

# Traffic a -> h over TCP, UDP and ICMP, with h seeing c's LAN address.
traffic() {
	out=$(tcp_ok) || { fail "TCP a -> h:8080 (4 MiB): $out"; return; }
	echo "TCP a -> h (4 MiB, content checked): $out"
	case "$out" in
	"peer=$C_LAN:"*) ;;
	*) fail "h saw TCP from '$out', not c's LAN address $C_LAN" ;;
	esac
	tail -n 1 "$tmp/h-tcp.txt" | grep -q "^$C_LAN:[0-9]* 4194304 " ||
		fail "h's TCP server logged $(tail -n 1 "$tmp/h-tcp.txt")"
	seen=$(nsrun a "$UDPTOOL" ask -t 3000 "$H:7000") ||
		fail "UDP a -> h:7000 got no echo"
	echo "UDP a -> h: h saw $seen"
	case "$seen" in
	"$C_LAN:"*) ;;
	*) fail "h saw UDP from '$seen', not $C_LAN" ;;
	esac
	ping_ok a "$H" 5 || fail "ping a -> h $H"
}

# The other direction, h -> a, 4 MiB with iperf3 -R: h's segments must
# fit the 1280-byte TUN (its MSS comes from a's SYN and c's clamp).
download() {
	command -v iperf3 >/dev/null 2>&1 || return 0
	nsrun a iperf3 -c "$H" -p 5201 -R -n 4M -J >"$tmp/iperf-r.json" 2>&1 ||
		{ fail "iperf3 -R h -> a: $(tail -n 3 "$tmp/iperf-r.json")"; return; }
	b=$(jq '.end.sum_received.bytes // 0' "$tmp/iperf-r.json")
	echo "TCP h -> a (iperf3 -R): $b bytes, $(jq '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' "$tmp/iperf-r.json") Mbit/s"
	[ "${b:-0}" -ge 4194304 ] || fail "iperf3 -R h -> a moved ${b:-0} bytes"
}

# Ports the policy does not allow never reach h: a refuses them at once
# (early reject) and counts them; they never reach c either.
denied() {
	d0=$(counter a denied_early)
	c0=$(counter c denied_forward)
	r=$(nsrun a "$TCPTOOL" connect -t 2000 "$H:9999")
	[ "$r" = refused ] || fail "TCP a -> h:9999 (not allowed): $r, not refused at a"
	r=$(nsrun a "$UDPTOOL" refused -t 2000 "$H:7001")
	[ "$r" = unreachable ] || fail "UDP a -> h:7001 (not allowed): $r"
	nsrun a "$UDPTOOL" send -c 3 "$H:7001" >/dev/null 2>&1
	sleep 0.3
	grep -v '^listening$' "$tmp/h-deny.txt" | grep -q . &&
		fail "h's TCP 9999 saw: $(cat "$tmp/h-deny.txt")"
	[ -s "$tmp/h-udp-deny.txt" ] &&
		fail "h's UDP 7001 saw: $(cat "$tmp/h-udp-deny.txt")"
	d1=$(counter a denied_early)
	c1=$(counter c denied_forward)
	echo "not allowed ports: a refused $((d1 - d0)) packets itself (denied_early), c saw $((c1 - c0))"
	[ $((d1 - d0)) -ge 5 ] ||
		fail "a's denied_early went from $d0 to $d1 only"
	[ "$c1" = "$c0" ] || fail "c's denied_forward moved from $c0 to $c1"
}

# Packets for a destination c does not serve: a routes c's approved
# subnet route $OTHER_ROUTE into its tunnel (the whole route: the
# policy grants a 192.168.76.128/25, which it overlaps), but $OTHER is
# outside what the policy grants. c drops them in its filter, counts and logs them;
# nothing reaches h.
unserved() {
	idc=$(cli c status | jq .node.id)
	rid=$(api GET "/api/v1/routes?node_id=$idc" |
		jq ".items[] | select(.prefix == \"$OTHER_ROUTE\") | .id")
	[ -n "$rid" ] || { fail "c's advertised route is not listed"; return; }
	api PATCH "/api/v1/routes/$rid" '{"approved":true}' >/dev/null ||
		{ fail "approve c's route"; return; }
	for _ in $(seq 100); do
		nsrun a ip route show "$OTHER_ROUTE" dev weft0 | grep -q . && break
		sleep 0.1
	done
	nsrun a ip route show "$OTHER_ROUTE" dev weft0 | grep -q . ||
		{ fail "a has no route to $OTHER_ROUTE on weft0"; return; }
	c0=$(counter c denied_forward)
	nsrun a "$UDPTOOL" send -c 5 "$OTHER:7000" >/dev/null 2>&1
	r=$(nsrun a "$TCPTOOL" connect -t 1500 "$OTHER:8080")
	[ "$r" = timeout ] || fail "TCP a -> $OTHER:8080 (not served): $r"
	sleep 0.3
	c1=$(counter c denied_forward)
	echo "not served ($OTHER): c dropped $((c1 - c0)) packets (denied_forward)"
	[ $((c1 - c0)) -ge 6 ] ||
		fail "c's denied_forward went from $c0 to $c1 only"
	grep -v '^listening$' "$tmp/h-other-tcp.txt" | grep -q . &&
		fail "h's TCP $OTHER:8080 saw: $(cat "$tmp/h-other-tcp.txt")"
	[ -s "$tmp/h-other-udp.txt" ] &&
		fail "h's UDP $OTHER:7000 saw: $(cat "$tmp/h-other-udp.txt")"
	grep -q "event=forward_denied peer=[0-9]* src=100\.[0-9.]* dst=$OTHER proto=17 dport=7000 suppressed=0" \
		"$tmp/c.log" || fail "c did not log the first denied packet"
	[ "$(grep -c 'event=forward_denied' "$tmp/c.log")" = 1 ] ||
		fail "c logged forward_denied more than once in 10 s"
}

run() {
	lab_start connector_test --a nat1 --b none --c inet || return
	need_nft_nat connector_test
	make_site || { fail "site namespace"; return; }
	nsrun h ip addr add "$OTHER/24" dev eth0
	nsrun c ip addr add "${OTHER%.*}.1/24" dev lan0
	site_services
	nsrun h ip route get 100.64.0.1 >/dev/null 2>&1 &&
		fail "h has a route to the mesh range"

	# No manual setup on c: forwarding off, no table.
	for n in a c; do
		[ "$(nsrun $n sysctl -n net.ipv4.ip_forward)" = 0 ] ||
			fail "$n starts with ip_forward on"
		[ -z "$(nsrun $n nft list tables)" ] ||
			fail "$n starts with nftables tables"
	done

	mesh_up || return
	grant_site "$policy" || return
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kc=$(api POST /api/v1/auth-keys '{"tags":["tag:c"],"reusable":true}' |
		jq -r .key)

	chmod 711 "$tmp"
	start_agent a "$ka" --accept-routes
	start_agent c "$kc" --connector --advertise-routes "$OTHER_ROUTE"
	cpid=$AGENT_PID
	wait_running a 1 || return
	wait_running c 1 || return
	for _ in $(seq 50); do
		nsrun a ip route show "$SITE" dev weft0 | grep -q . && break
		sleep 0.1
	done
	nsrun a ip route show "$SITE" dev weft0 | grep -q . ||
		fail "a has no route to $SITE on weft0"
	# The map lists c among the site's connectors once c is online.
	for _ in $(seq 50); do
		[ "$(cli a routes | jq -r '.resources[0].connector.name')" = c ] &&
			break
		sleep 0.1
	done
	[ "$(cli a routes | jq -r '.resources[0].connector.name')" = c ] ||
		fail "a does not send site through c"

	has_table c || fail "no table $TABLE on c while its agent runs"
	nsrun c nft list table $TABLE >"$tmp/c-table.txt"
	grep -q 'masquerade' "$tmp/c-table.txt" || fail "c's table has no masquerade"
	grep -q 'maxseg size set rt mtu' "$tmp/c-table.txt" ||
		fail "c's table has no MSS clamp"
	[ "$(nsrun c sysctl -n net.ipv4.ip_forward)" = 1 ] ||
		fail "c's agent did not turn on ip_forward"
	[ "$(nsrun c sysctl -n net.ipv6.conf.all.forwarding)" = 1 ] ||
		fail "c's agent did not turn on IPv6 forwarding"
	grep -q 'event=connector_setup what=sysctl key=net.ipv4.ip_forward old=0 new=1 changed=true' \
		"$tmp/c.log" || fail "c did not log the ip_forward change"
	grep -q "event=connector_setup what=nft_table family=inet table=weft_weft0" \
		"$tmp/c.log" || fail "c did not log its table"
	[ "$(cli c status | jq -r .connector.table)" = weft_weft0 ] ||
		fail "c's status shows no connector table"
	# A non-connector agent touches none of this.
	[ "$(cli a status | jq .connector)" = null ] ||
		fail "a's status shows a connector"
	[ -z "$(nsrun a nft list tables)" ] || fail "a has an nftables table"
	[ "$(nsrun a sysctl -n net.ipv4.ip_forward)" = 0 ] ||
		fail "a turned ip_forward on"
	grep -q 'event=connector_' "$tmp/a.log" && fail "a logged connector events"

	traffic
	download
	denied
	unserved
	# The replies' path: c's table masqueraded and accepted them.
	nsrun c nft list table $TABLE >"$tmp/c-table.txt"
	grep -q 'masquerade comment' "$tmp/c-table.txt" &&
		grep 'masquerade' "$tmp/c-table.txt" | grep -q 'packets [1-9]' ||
		fail "c's masquerade rule counted nothing: $(cat "$tmp/c-table.txt")"

	# SIGTERM: the table goes away with the agent.
	stop_pid "$cpid" TERM
	has_table c && fail "table $TABLE still on c after SIGTERM"
	grep -q "event=connector_teardown what=nft_table" "$tmp/c.log" ||
		fail "c did not log its teardown"

	# As user nobody: set up before the drop, removed after it.
	start_agent c "" --connector --user nobody
	cpid=$AGENT_PID
	wait_running c 1 || return
	has_table c || fail "no table on c with --user nobody"
	ok=
	for _ in $(seq 20); do
		tcp_ok 65536 >/dev/null 2>&1 && { ok=1; break; }
		sleep 0.25
	done
	[ -n "$ok" ] || fail "TCP a -> h through c running as nobody"
	stop_pid "$cpid" TERM
	has_table c && fail "table $TABLE still on c after SIGTERM (--user nobody)"

	# SIGKILL leaves the table; the next start replaces it.
	start_agent c "" --connector
	cpid=$AGENT_PID
	wait_running c 1 || return
	h0=$(cli c status | jq .connector.handle)
	stop_pid "$cpid" KILL
	has_table c || fail "no table left on c after SIGKILL"
	t0=$(now_ms)
	start_agent c "" --connector
	cpid=$AGENT_PID
	back=
	while [ $(($(now_ms) - t0)) -lt 30000 ]; do
		if tcp_ok 65536 >/dev/null 2>&1; then
			back=$(($(now_ms) - t0))
			break
		fi
		sleep 0.1
	done
	if [ -n "$back" ]; then
		echo "connector restarted after SIGKILL: TCP a -> h flows again after $back ms (time to recovery)"
	else
		fail "no TCP a -> h within 30 s of c's restart after SIGKILL"
	fi
	grep -q "event=connector_stale_removed family=inet table=weft_weft0 handle=$h0 " \
		"$tmp/c.log" || fail "c did not log the removal of table handle $h0"
	[ "$(cli c status | jq .connector.replaced_stale)" = true ] ||
		fail "c's status does not say it replaced a stale table"
	[ "$(nsrun c nft list tables | grep -c weft_weft0)" = 1 ] ||
		fail "c has not exactly one table weft_weft0"
	traffic
	cli c down >/dev/null || fail "c down"
	for _ in $(seq 50); do
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	has_table c && fail "table $TABLE still on c after weft-agent down"
	return 0
}

need connector_test jq curl ping nft
start_test
run
finish connector
