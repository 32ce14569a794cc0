#!/bin/sh
# The whole system end to end with real TUN devices: a netlab with the
# controller (SQLite) and a relay in its "inet" namespace and weft-agents in
# hosts a and b (both on inet), each with a real TUN, traffic on the relay
# path. The policy allows a->b ICMP and TCP 5201:
#   - after setup every agent keeps CAP_NET_ADMIN and CAP_NET_BIND_SERVICE alone, with
#     no_new_privs (a as user nobody, --user), and a map change after that
#     drop still adds a route (b's subnet route, approved then, on a's
#     weft0);
#   - the kernel's ping from a's namespace reaches b's mesh IPv4 and IPv6,
#     and iperf3 (when installed) moves data a->b on TCP 5201, over the
#     mesh IPv4 and the mesh IPv6 addresses;
#   - b->a ICMP is denied (ping fails) and a's denied counter rises;
#   - a policy change allowing b->a takes effect on the live agents within
#     about a second;
#   - host c (tag:c, a peer of a and b through a TCP rule only) cannot ping
#     b (b's denied counter rises) until a policy change allows c->b ICMP,
#     which applies within about a second;
#   - deleting node c through the API drops it from a's and b's peers
#     within about a second (measured), b no longer reaches c and c's agent
#     exits;
#   - an iperf3 a->b session keeps moving data while the controller is
#     down (SIGKILL); the controller restarted on the same database and
#     port: the agents resync with the same node ids and no new nodes;
#   - the relay killed with SIGKILL and started again at once with the
#     same key: a continuous ping a->b on the relay path answers again
#     within a few seconds of the relay being back (measured; issue 12:
#     it used to take the 30 s idle timeout and more);
#   - an agent restarted on its state directory keeps its node id and mesh
#     IPs;
#   - the TUN device is gone once the agent stopped.
#
#   agent_e2e_test.sh
#
# Needs root; exits 77 (ctest: skipped) when namespaces are unavailable.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN, WEFT_RELAY_BIN.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/connector_lab.sh"
lab_env
L=e2e$$
# --poll-keepalive 5s: a restarted controller answers the agents' first
# held poll within 5-9 s instead of 30-55 s, so the resync check below
# measures the agents' back-off, not the hold.
CTL_FLAGS="--poll-keepalive 5s"
# The agents (connector_lab.sh) log debug lines; --no-direct: this test
# covers the relay path (paths_nat_test.sh covers direct paths).
AGENT_LOG_LEVEL=debug

# c is a peer of a and b (TCP 9 only), so its pings reach their filters.
acl_base='{"tagOwners":{"tag:a":[],"tag:b":[],"tag:c":[]},"acls":[
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["tag:b:*"]},
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["tag:b:5201"]},
 {"action":"accept","proto":"tcp","src":["tag:c"],"dst":["tag:a:9","tag:b:9"]},
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["10.77.0.0/24:80"]}'
acl_ba=',{"action":"accept","proto":"icmp","src":["tag:b"],"dst":["tag:a:*"]}'
acl_cb=',{"action":"accept","proto":"icmp","src":["tag:c"],"dst":["tag:b:*"]}'
policy_ab="$acl_base]}"
policy_both="$acl_base$acl_ba]}"
policy_cb="$acl_base$acl_ba$acl_cb]}"

# kill9 PID WHAT: SIGKILL, then wait up to 5 s until PID is gone.
kill9() {
	kill -KILL "$1" || fail "kill -9 $2 $1"
	for _ in $(seq 250); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.02
	done
}

# nodes_count: the nodes in the controller's database (its CLI).
nodes_count() {
	"$CTL" nodes list --json --data-dir "$tmp/ctl" |
		jq 'if type == "array" then length else (.items | length) end'
}

# c -> b: denied by b's filter until the policy allows it; then node c is
# deleted through the API and leaves a's and b's peers.
host_c() {
	cpid=$(nspid c weft-agent)
	denied0=$(cli b status | jq .dataplane.denied)
	ping_ok c "$b4" 2 && fail "ping c->b passed without a policy"
	denied1=$(cli b status | jq .dataplane.denied)
	[ "$denied1" -gt "$denied0" ] ||
		fail "b's denied counter stayed at $denied1 for c"

	api PUT /api/v1/policy "$policy_cb" >/dev/null ||
		{ fail "policy change c->b"; return 1; }
	sleep 1
	ping_ok c "$b4" 1 || ping_ok c "$b4" 1 ||
		fail "ping c->b still denied after the policy change"

	cid=$(cli c status | jq .node.id)
	t0=$(now_ms)
	api DELETE "/api/v1/nodes/$cid" >/dev/null ||
		{ fail "delete node c ($cid)"; return 1; }
	gone=
	for _ in $(seq 100); do
		if [ -z "$(peer a c name)" ] && [ -z "$(peer b c name)" ]; then
			gone=$(($(now_ms) - t0))
			break
		fi
		sleep 0.05
	done
	if [ -z "$gone" ]; then
		fail "c still in a's or b's peers 5 s after its deletion"
	else
		echo "node c deleted: gone from a's and b's peers in $gone ms"
		# The delta comes with the long poll (a few hundred ms on a
		# quiet machine, 2 s seen at load 12 on two cores, where each
		# check here runs two CLIs); without it the agents would only
		# learn at the next poll, tens of seconds later.
		[ "$gone" -le 5000 ] || fail "c left the peers after $gone ms"
	fi
	# b has no tunnel (nor route) to c any more.
	nsrun b ping -c 1 -W 1 "$c4" >/dev/null 2>&1 &&
		fail "b still reaches c's $c4 after c's deletion"
	for _ in $(seq 50); do
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$cpid" 2>/dev/null && fail "c's agent still runs after deletion"
	grep -q "node removed" "$tmp/c.log" ||
		fail "c's agent did not log its removal"
	nsrun c ip link show weft0 >/dev/null 2>&1 &&
		fail "c's weft0 still exists after its agent exited"
	return 0
}

# SIGKILL of the controller during an iperf3 a->b session, which keeps
# moving data; the controller restarted on the same database and port.
controller_restart() {
	ida=$(cli a status | jq .node.id)
	idb=$(cli b status | jq .node.id)
	n0=$(nodes_count)
	[ "$n0" = 2 ] || fail "nodes list has $n0 nodes, not 2 (a, b)"
	if command -v iperf3 >/dev/null 2>&1; then
		nsrun b iperf3 -s -1 -p 5201 -B "$b4" >"$tmp/iperf-s2.txt" 2>&1 &
		pids="$pids $!"
		sleep 0.3
		nsrun a iperf3 -c "$b4" -p 5201 -t 4 -J >"$tmp/iperf2.json" \
			2>&1 &
		ipid=$!
		pids="$pids $ipid"
		sleep 1
	fi
	kill9 "$CTL_PID" controller
	if [ -n "${ipid:-}" ]; then
		wait "$ipid" ||
			fail "iperf3 a->b across the controller's death: $(tail -n 5 "$tmp/iperf2.json")"
		# Every second after the kill (at 1 s) moved data.
		low=$(jq '[.intervals[] | select(.sum.start >= 1.5) | .sum.bytes]
			| min // 0' "$tmp/iperf2.json" 2>/dev/null)
		echo "iperf3 a->b with the controller down: least ${low:-0} bytes/s"
		[ "${low:-0}" -gt 10000 ] ||
			fail "iperf3 a->b stalled with the controller down (${low:-0} bytes in a second)"
	fi
	for _ in $(seq 30); do
		[ "$(cli a status | jq .controller.reachable)" = false ] && break
		sleep 0.1
	done
	[ "$(cli a status | jq .controller.reachable)" = false ] ||
		fail "a still thinks the controller is reachable"
	ping_ok a "$b4" 2 || fail "ping a->b with the controller down"

	t0=$(now_ms)
	start_controller || { fail "controller did not restart"; return 1; }
	ok=
	# While it is down the agents probe /healthz about every second and
	# then poll for a full map, answered at once: both run again within
	# seconds (before issue 12: the back-off, up to ~38 s, plus a held
	# poll). Generous for a busy machine; measured, not the bound.
	while [ $(($(now_ms) - t0)) -lt 40000 ]; do
		if [ "$(cli a status | jq -r '"\(.state) \(.controller.reachable)"')" = "running true" ] &&
			[ "$(cli b status | jq -r '"\(.state) \(.controller.reachable)"')" = "running true" ]; then
			ok=$(($(now_ms) - t0))
			break
		fi
		sleep 0.1
	done
	if [ -n "$ok" ]; then
		echo "controller restarted: agents running and reachable again after $ok ms"
		[ "$ok" -le 15000 ] ||
			fail "agents took $ok ms to resync with the restarted controller"
	else
		fail "agents did not resync with the restarted controller"
	fi
	[ "$(cli a status | jq .node.id)" = "$ida" ] ||
		fail "a's node id changed across the controller restart"
	[ "$(cli b status | jq .node.id)" = "$idb" ] ||
		fail "b's node id changed across the controller restart"
	n1=$(nodes_count)
	[ "$n1" = "$n0" ] || fail "nodes list went from $n0 to $n1 nodes"
	[ "$(peer a b ipv4)" = "$b4" ] || fail "a's peer b changed after resync"
	ping_ok a "$b4" || fail "ping a->b after the controller restart"
	return 0
}

# The relay dies (SIGKILL) under a continuous ping a->b on the relay path
# and is started again at once with the same key. The agents must notice
# (the restarted relay resets their old connections; a silent one is
# found by PINGs) and reconnect at once: the first answer after the relay
# is back is measured. Before issue 12 it came after the agents' 30 s
# idle timeout.
relay_restart() {
	nsrun a ping -D -n -i 0.05 -W 1 -w 25 "$b4" >"$tmp/ping-relay.txt" \
		2>&1 &
	ppid=$!
	pids="$pids $ppid"
	sleep 1
	kill9 "$RELAY_PID" relay
	start_relay || { fail "relay did not restart"; return 1; }
	t0=$(now_ms)
	back=
	while [ $(($(now_ms) - t0)) -lt 20000 ]; do
		# ping -D: "[1733389000.123456] 64 bytes from ...: ... time=..."
		first=$(sed -n 's/^\[\([0-9]*\)\.\([0-9]\{3\}\)[0-9]*\] .* bytes from .*/\1\2/p' \
			"$tmp/ping-relay.txt" | awk -v t="$t0" '$1 > t {print; exit}')
		if [ -n "$first" ]; then
			back=$((first - t0))
			break
		fi
		sleep 0.1
	done
	kill "$ppid" 2>/dev/null
	if [ -z "$back" ]; then
		fail "no ping a->b answered within 20 s of the relay's restart"
		return 1
	fi
	echo "relay restarted (kill -9): ping a->b answered again after $back ms"
	# Target 3 s (issue 12); a generous bound for a loaded machine, far
	# below the old 30-45 s.
	[ "$back" -le 10000 ] ||
		fail "relayed traffic came back $back ms after the relay"
	grep -q 'event=relay_connected' "$tmp/a.log" || fail "a never connected"
	return 0
}

# b's agent stopped and started again on its state directory (no auth key:
# the key was single-use) keeps its node id and mesh IPs.
agent_restart() {
	idb=$(cli b status | jq .node.id)
	b4s=$(cli b status | jq -r .node.ipv4)
	b6s=$(cli b status | jq -r .node.ipv6)
	bpid=$(nspid b weft-agent)
	cli b down >/dev/null || fail "b down"
	for _ in $(seq 50); do
		kill -0 "$bpid" 2>/dev/null || break
		sleep 0.1
	done
	start_agent b
	wait_running b 1 || return 1
	[ "$(cli b status | jq .node.id)" = "$idb" ] ||
		fail "b's node id changed across its restart"
	[ "$(cli b status | jq -r .node.ipv4)" = "$b4s" ] &&
		[ "$(cli b status | jq -r .node.ipv6)" = "$b6s" ] ||
		fail "b's mesh IPs changed across its restart"
	[ "$b4s" = "$b4" ] || fail "b's own ipv4 $b4s is not a's view $b4"
	[ "$(nodes_count)" = 2 ] || fail "b's restart added a node"
	ping_ok a "$b4" || fail "ping a->b after b's restart"
	return 0
}

# status_field PID FIELD: FIELD of /proc/PID/status ("CapEff", ...).
status_field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}

# The running agents keep CAP_NET_ADMIN and CAP_NET_BIND_SERVICE (the DNS
# stub's port 53) alone (a as user nobody, b and c
# as root), with no new privileges; after that drop a map change still
# adds a route: b's subnet route, approved now, lands on a's weft0.
least_privilege() {
	for n in a b c; do
		p=$(nspid "$n" weft-agent)
		[ -n "$p" ] || { fail "no agent in $n"; continue; }
		for f in CapEff CapPrm CapBnd; do
			v=$(status_field "$p" $f)
			[ "$v" = 0000000000001400 ] ||
				fail "$n's agent has $f $v, not CAP_NET_ADMIN and CAP_NET_BIND_SERVICE alone"
		done
		[ "$(status_field "$p" CapInh)" = 0000000000000000 ] ||
			fail "$n's agent has inheritable capabilities"
		[ "$(status_field "$p" NoNewPrivs)" = 1 ] ||
			fail "$n's agent lacks no_new_privs"
	done
	p=$(nspid a weft-agent)
	[ "$(status_field "$p" Uid | awk '{print $1 $2 $3 $4}')" = \
		"$nobody$nobody$nobody$nobody" ] ||
		fail "a's agent does not run as nobody: $(status_field "$p" Uid)"
	grep -q "event=privileges_dropped user=nobody" "$tmp/a.log" ||
		fail "a did not log its privilege drop"

	nsrun a ip route show 10.77.0.0/24 dev weft0 | grep -q . &&
		fail "a routes 10.77.0.0/24 before the route is approved"
	idb=$(cli b status | jq .node.id)
	rid=$(api GET "/api/v1/routes?node_id=$idb" |
		jq '.items[] | select(.prefix == "10.77.0.0/24") | .id')
	[ -n "$rid" ] || { fail "b's advertised route is not listed"; return; }
	api PATCH "/api/v1/routes/$rid" '{"approved":true}' >/dev/null ||
		{ fail "approve b's route"; return; }
	for _ in $(seq 100); do
		nsrun a ip route show 10.77.0.0/24 dev weft0 | grep -q . && break
		sleep 0.1
	done
	nsrun a ip route show 10.77.0.0/24 dev weft0 | grep -q . ||
		fail "a did not add the route 10.77.0.0/24 after its drop"
	return 0
}

run() {
	lab_start agent_e2e_test --a inet --b inet --c inet || return
	mesh_up || return
	api PUT /api/v1/policy "$policy_ab" >/dev/null ||
		{ fail "policy"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kb=$(api POST /api/v1/auth-keys '{"tags":["tag:b"]}' | jq -r .key)
	kc=$(api POST /api/v1/auth-keys '{"tags":["tag:c"]}' | jq -r .key)
	[ -n "$ka" ] && [ "$ka" != null ] && [ -n "$kb" ] && [ -n "$kc" ] ||
		{ fail "auth keys"; return; }

	# a runs as nobody: it must reach its state directory below $tmp.
	chmod 711 "$tmp"
	start_agent a "$ka" --user nobody --accept-routes
	start_agent b "$kb" --advertise-routes 10.77.0.0/24
	start_agent c "$kc"
	wait_running a 2 || return
	wait_running b 2 || return
	wait_running c 2 || return
	b4=$(peer a b ipv4)
	b6=$(peer a b ipv6)
	a4=$(peer b a ipv4)
	c4=$(peer b c ipv4)
	[ "$(cli a status | jq -r .tun)" = weft0 ] || fail "a has no tun"
	least_privilege

	# a -> b: the kernels on both sides, through the tunnel on the relay.
	ping_ok a "$b4" || fail "ping a->b $b4"
	[ "$(peer a b path)" = relay ] ||
		fail "a's path to b is not relay"
	if [ "$b6" != null ]; then
		ping_ok a "$b6" || fail "ping a->b $b6"
	fi
	# weft-agent's own ping, answered by b's kernel.
	cli a ping b >"$tmp/ping.json" ||
		fail "weft-agent ping b: $(cat "$tmp/ping.json")"
	# The text status names the TUN and shows the data-plane counters
	# (b let a's pings in).
	nsrun b "$AGENT" status --socket "$tmp/b/sock" >"$tmp/status-b.txt" ||
		fail "weft-agent status (text) in b"
	grep -qx 'tun: *weft0' "$tmp/status-b.txt" ||
		fail "b's text status does not show tun weft0: $(cat "$tmp/status-b.txt")"
	grep -q '^map: .*, 2 peers, ' "$tmp/status-b.txt" ||
		fail "b's text status does not show 2 peers"
	grep -q '^dataplane: *in: allowed [1-9][0-9]* ' "$tmp/status-b.txt" ||
		fail "b's text status shows no allowed packets: $(cat "$tmp/status-b.txt")"

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
		# The same over the mesh IPv6 addresses: full-size (1280-byte)
		# IPv6 packets fit only once path MTU discovery has raised the
		# connection's limit (IPv6 ignores "too big" below 1280), and
		# the kernel hands them to the TUN as TSO super-segments.
		if [ "$b6" != null ]; then
			nsrun b iperf3 -s -1 -p 5201 -B "$b6" \
				>"$tmp/iperf-s6.txt" 2>&1 &
			pids="$pids $!"
			sleep 0.5
			nsrun a iperf3 -c "$b6" -p 5201 -t 2 -J \
				>"$tmp/iperf6.json" 2>&1 ||
				fail "iperf3 a->b over IPv6: $(tail -n 5 "$tmp/iperf6.json")"
			bytes=$(jq '.end.sum_received.bytes // 0' \
				"$tmp/iperf6.json" 2>/dev/null)
			echo "iperf3 a->b over IPv6: $(jq '.end.sum_received.bits_per_second // 0
				| . / 1e6 | floor' "$tmp/iperf6.json" 2>/dev/null) Mbit/s"
			[ "${bytes:-0}" -gt 100000 ] ||
				fail "iperf3 a->b over IPv6 moved ${bytes:-0} bytes"
		fi
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

	host_c || return
	controller_restart || return
	relay_restart || return
	agent_restart || return

	# The device goes away with the agent.
	cli a down >/dev/null || fail "down"
	for _ in $(seq 50); do
		nsrun a ip link show weft0 >/dev/null 2>&1 || break
		sleep 0.1
	done
	nsrun a ip link show weft0 >/dev/null 2>&1 &&
		fail "weft0 still exists after down"
}

need agent_e2e_test jq curl ping
nobody=$(id -u nobody 2>/dev/null) ||
	{ echo "agent_e2e_test: no user nobody" >&2; exit 1; }
start_test
run
finish agent_e2e
