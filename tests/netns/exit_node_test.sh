#!/bin/sh
# The exit node end to end (issue 15): the connector lab (controller and
# relay in "inet" at 203.0.113.1, client a behind nat1 on LAN
# 10.1.0.0/24, connector c on inet) plus a "public" namespace p on a
# veth behind c only (p is 198.51.100.10, c's side 198.51.100.1; nothing
# else routes there). A resource "internet" (address internet, connector
# tag:c) is granted to a. Nothing is set up by hand on a or c:
#   - before a's agent starts, a cannot reach p at all;
#   - with the grant, a reaches p over TCP (content checked) and ICMP
#     through c, and p sees c's address as the source;
#   - the controller and the relay stay outside the tunnel: `ip route get
#     203.0.113.1 mark 0` (any process) is not via weft0, a marked packet
#     (the agent's own sockets) to p is not via weft0 either, and a ping
#     from a to 203.0.113.1 leaves weft0's packet counters
#     (/sys/class/net/weft0/statistics) where they were, while a ping to
#     p moves them; the LAN (10.1.0.0/24) stays outside too;
#   - c, which serves the internet, installs no exit rules of its own;
#   - SIGTERM: a's `ip rule` and `ip route show table all` (IPv4 and
#     IPv6) are exactly what they were before the agent started;
#   - --exit-node-lan=false: the LAN goes into the tunnel as well (no
#     suppress rule), the controller still does not;
#   - SIGKILL leaves the rules (and the throw routes); the next start
#     removes them (exit_stale_removed) and installs exactly one set;
#   - revoking the grant in the policy removes the rules and the table
#     live, and a's routing to p is back to the LAN's default route.
#
#   exit_node_test.sh
#
# Needs root; exits 77 (ctest: skipped) without namespaces or when the
# kernel has no nftables NAT (the connector's masquerade).
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN,
# WEFT_RELAY_BIN, WEFT_TCPTOOL.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/connector_lab.sh"
lab_env
TCPTOOL=${WEFT_TCPTOOL:?set WEFT_TCPTOOL}
CTL_IP=${CTL_ADDR%:*}
P=198.51.100.10
C_UP=198.51.100.1
LAN_HOST=10.1.0.99   # on a's LAN (no such host: routing only)
TABLE=5745
MARK=0x1671
L=exit$$

grant='{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[
 {"action":"accept","src":["tag:a"],"dst":["resource:internet:*"]}]}'
revoked='{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["tag:c:*"]}]}'

# make_public: namespace p (named like the lab's, so `lab down` removes
# it) on a veth up1 from c; p's only route is its own link.
make_public() {
	pns=wl-$L-p
	ip netns add "$pns" || return 1
	ip -n "$pns" link set lo up
	ip -n "$(lab ns "$L" c)" link add up1 type veth peer name eth0 \
		netns "$pns" || return 1
	nsrun c ip addr add "$C_UP/24" dev up1
	nsrun c ip link set up1 up
	ip -n "$pns" addr add "$P/24" dev eth0
	ip -n "$pns" link set eth0 up
}

# snapshot NODE FILE: the node's rules and routes, every table, both
# families.
snapshot() {
	{
		nsrun "$1" ip -4 rule show
		nsrun "$1" ip -6 rule show
		nsrun "$1" ip -4 route show table all
		nsrun "$1" ip -6 route show table all
	} >"$2" 2>&1
}

# rules NODE: the node's exit rules (both families), one per line.
rules() {
	{
		nsrun "$1" ip -4 rule show
		nsrun "$1" ip -6 rule show
	} | grep -E "^($TABLE|$((TABLE + 1))):"
}

# via NODE ADDR [MARK]: the device `ip route get` picks.
via() {
	nsrun "$1" ip route get "$2" ${3:+mark "$3"} 2>/dev/null |
		sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1
}

# wait_exit NODE true|false: until status says the exit is (not) active.
wait_exit() {
	for _ in $(seq 100); do
		[ "$(cli "$1" status 2>/dev/null | jq -r .exit_node.active)" = "$2" ] &&
			return 0
		sleep 0.1
	done
	fail "$1's exit node not active=$2 after 10 s"
	return 1
}

tun_tx() {
	nsrun a cat /sys/class/net/weft0/statistics/tx_packets
}

# to_public: TCP (content checked) and ping a -> p through c; p sees c.
to_public() {
	ok=
	for _ in $(seq 20); do
		out=$(nsrun a "$TCPTOOL" send -t 5000 -n 262144 "$P:80") &&
			{ ok=1; break; }
		sleep 0.25
	done
	[ -n "$ok" ] || { fail "TCP a -> p:80 through the exit: $out"; return; }
	echo "TCP a -> p (256 KiB, content checked): $out"
	case "$out" in
	"peer=$C_UP:"*) ;;
	*) fail "p saw TCP from '$out', not c's address $C_UP" ;;
	esac
	ping_ok a "$P" 5 || fail "ping a -> p $P through the exit"
}

# outside: what stays outside the tunnel while the exit is on (lan:
# whether the LAN does).
outside() {
	v=$(via a "$P")
	[ "$v" = weft0 ] || fail "a's route to p is via '$v', not weft0"
	v=$(via a "$CTL_IP" 0)
	[ -n "$v" ] && [ "$v" != weft0 ] ||
		fail "a's route to the controller/relay $CTL_IP (mark 0) is via '$v'"
	v=$(via a "$P" "$MARK")
	[ -n "$v" ] && [ "$v" != weft0 ] ||
		fail "a marked packet (the agent's own) to p goes via '$v'"
	v=$(via a "$LAN_HOST")
	if [ "$1" = lan ]; then
		[ "$v" = eth0 ] || fail "a's LAN host $LAN_HOST is via '$v', not eth0"
	else
		[ "$v" = weft0 ] ||
			fail "--exit-node-lan=false: LAN host $LAN_HOST is via '$v', not weft0"
	fi
	# A ping to the controller never enters the tunnel; one to p does.
	moved=
	for _ in 1 2 3; do
		t0=$(tun_tx)
		nsrun a ping -c 3 -i 0.2 -W 1 "$CTL_IP" >/dev/null 2>&1 ||
			fail "ping a -> controller $CTL_IP with the exit on"
		t1=$(tun_tx)
		moved=$((t1 - t0))
		[ "$moved" = 0 ] && break
	done
	[ "$moved" = 0 ] ||
		fail "ping a -> controller moved weft0's tx_packets by $moved"
	t0=$(tun_tx)
	nsrun a ping -c 3 -i 0.2 -W 1 "$P" >/dev/null 2>&1
	t1=$(tun_tx)
	[ $((t1 - t0)) -ge 3 ] ||
		fail "ping a -> p moved weft0's tx_packets by $((t1 - t0)) only"
}

run() {
	lab_start exit_node_test --a nat1 --b none --c inet || return
	need_nft_nat exit_node_test
	make_public || { fail "public namespace"; return; }
	nsrun p "$TCPTOOL" serve "$P:80" >"$tmp/p-tcp.txt" &
	pids="$pids $!"
	ping_ok a "$P" 1 && fail "a reaches p without the exit"

	mesh_up || return
	# Tags first (a resource's connector tag must be declared).
	api PUT /api/v1/policy "$revoked" >/dev/null || { fail "tags"; return; }
	api POST /api/v1/resources '{"name":"internet","address":"internet",
		"connectors":{"tags":["tag:c"]}}' >/dev/null ||
		{ fail "internet resource"; return; }
	api PUT /api/v1/policy "$grant" >/dev/null || { fail "policy"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kc=$(api POST /api/v1/auth-keys '{"tags":["tag:c"]}' | jq -r .key)
	chmod 711 "$tmp"

	# The LAN's IPv6 link-local address must be settled (DAD done: its
	# local route exists) before the snapshot.
	for _ in $(seq 50); do
		[ -z "$(nsrun a ip -6 addr show tentative)" ] && break
		sleep 0.1
	done
	snapshot a "$tmp/a-before.txt"
	snapshot c "$tmp/c-before.txt"
	start_agent c "$kc" --connector
	start_agent a "$ka"
	apid=$AGENT_PID
	wait_running a 1 || return
	wait_running c 1 || return
	wait_exit a true || return

	# The exit, as the kernel and status show it.
	rules a >"$tmp/a-rules.txt"
	echo "a's exit rules:"; sed 's/^/  /' "$tmp/a-rules.txt"
	[ "$(grep -c "lookup main suppress_prefixlength 0" "$tmp/a-rules.txt")" = 2 ] ||
		fail "a has not one suppress rule per family"
	[ "$(grep -c "not from all fwmark $MARK/$MARK lookup $TABLE" "$tmp/a-rules.txt")" = 2 ] ||
		fail "a has not one fwmark rule per family"
	nsrun a ip -4 route show table $TABLE | grep -q "^default dev weft0" ||
		fail "a's table $TABLE has no IPv4 default route into weft0"
	nsrun a ip -6 route show table $TABLE | grep -q "^default dev weft0" ||
		fail "a's table $TABLE has no IPv6 default route into weft0"
	nsrun a ip -4 route show table $TABLE | grep -q "^throw $CTL_IP" ||
		fail "a's table $TABLE has no throw route for $CTL_IP"
	cid=$(cli c status | jq .node.id)
	for _ in $(seq 50); do
		[ "$(cli a status | jq .exit_node.connector)" = "$cid" ] && break
		sleep 0.1
	done
	[ "$(cli a status | jq .exit_node.connector)" = "$cid" ] ||
		fail "a's exit connector is $(cli a status | jq .exit_node.connector), not c ($cid)"
	grep -q "event=exit_node_on resource=internet lan=true table=$TABLE" \
		"$tmp/a.log" || fail "a did not log exit_node_on"

	to_public
	outside lan
	# c serves the internet: no exit of its own.
	[ -z "$(rules c)" ] || fail "c, the exit, has exit rules: $(rules c)"
	[ "$(cli c status | jq .exit_node.active)" = false ] ||
		fail "c's exit node is active"

	# The control plane works with the exit on: a policy change that
	# changes a's filter arrives.
	v0=$(cli a status | jq .map.version)
	api PUT /api/v1/policy "$(echo "$grant" | jq -c '.acls += [{"action":"accept","proto":"icmp","src":["tag:c"],"dst":["tag:a:*"]}]')" \
		>/dev/null || fail "policy update"
	for _ in $(seq 50); do
		[ "$(cli a status | jq .map.version)" != "$v0" ] && break
		sleep 0.1
	done
	[ "$(cli a status | jq .map.version)" != "$v0" ] ||
		fail "a got no map update with the exit on"
	[ "$(cli a status | jq .controller.reachable)" = true ] ||
		fail "a's controller is unreachable with the exit on"

	# SIGTERM: everything back as it was.
	stop_pid "$apid" TERM
	snapshot a "$tmp/a-after.txt"
	diff -u "$tmp/a-before.txt" "$tmp/a-after.txt" >"$tmp/a-diff.txt" ||
		fail "a's rules/routes after SIGTERM differ: $(cat "$tmp/a-diff.txt")"
	grep -q "event=exit_rule_removed" "$tmp/a.log" ||
		fail "a did not log the rules it removed"

	# Without LAN access; then SIGKILL.
	start_agent a "" --exit-node-lan=false
	apid=$AGENT_PID
	wait_running a 1 || return
	wait_exit a true || return
	[ -z "$(rules a | grep suppress_prefixlength)" ] ||
		fail "--exit-node-lan=false still has a suppress rule"
	to_public
	outside nolan
	stop_pid "$apid" KILL
	[ -n "$(rules a)" ] || fail "no rules left on a after SIGKILL"
	nsrun a ip -4 route show table $TABLE | grep -q "^throw" ||
		fail "no throw route left on a after SIGKILL"

	# The next start removes the leftovers and installs one set.
	mark_log=$(wc -l <"$tmp/a.log")
	t0=$(now_ms)
	start_agent a ""
	apid=$AGENT_PID
	wait_running a 1 || return
	wait_exit a true || return
	tail -n +$((mark_log + 1)) "$tmp/a.log" >"$tmp/a-restart.txt"
	grep -q "event=exit_stale_removed family=ipv4 rule=\"$((TABLE + 1)): not from all fwmark" \
		"$tmp/a-restart.txt" || fail "a did not log the stale rule it removed"
	grep -q "event=exit_stale_removed family=ipv4 route=\"throw $CTL_IP/32" \
		"$tmp/a-restart.txt" || fail "a did not log the stale throw route it removed"
	[ "$(rules a | wc -l)" = 4 ] ||
		fail "a has $(rules a | wc -l) exit rules, not 4: $(rules a)"
	echo "a restarted after SIGKILL: exit on after $(($(now_ms) - t0)) ms"
	to_public
	echo "a restarted after SIGKILL: TCP through the exit after $(($(now_ms) - t0)) ms (the tunnel to c waits for c to notice a's restart)"

	# Revoking the grant removes the routing live.
	api PUT /api/v1/policy "$revoked" >/dev/null || fail "revoke"
	wait_exit a false
	[ -z "$(rules a)" ] || fail "a keeps exit rules after the revoke: $(rules a)"
	[ -z "$(nsrun a ip route show table $TABLE)" ] ||
		fail "a's table $TABLE is not empty after the revoke"
	v=$(via a "$P")
	[ "$v" = eth0 ] || fail "after the revoke a's route to p is via '$v'"
	ping_ok a "$P" 1 && fail "a reaches p after the revoke"
	grep -q "event=exit_node_off reason=not_granted" "$tmp/a.log" ||
		fail "a did not log exit_node_off"
	stop_pid "$apid" TERM
	snapshot a "$tmp/a-after.txt"
	diff -u "$tmp/a-before.txt" "$tmp/a-after.txt" >"$tmp/a-diff.txt" ||
		fail "a's rules/routes at the end differ: $(cat "$tmp/a-diff.txt")"
	return 0
}

need exit_node_test jq curl ping nft
start_test
run
finish exit_node
