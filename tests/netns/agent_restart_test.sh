#!/bin/sh
# An agent killed with SIGKILL mid-work and started again on its state
# directory: how long until traffic between it and a peer that kept
# running flows again (the team standard: every component others depend
# on is killed mid-work and restarted, and the time to recovery is
# measured). A netlab with the controller and a relay in "inet" and
# agents a and b on inet; a registers first, so it has the smaller node
# id and is the QUIC client of the a-b connection, b its server
# (agent/tunnel.h). The policy allows ICMP both ways, TCP a->b 5201 and
# b->a 5202 (tcptool servers on both). Three scenarios, each on the relay
# path (--no-direct) and then with direct paths (waiting until a and b
# are direct before the kill):
#   - server: kill b during a continuous ping a->b; restart b; a keeps
#     sending on its old connection (the restarted b resets it);
#   - server, it speaks first: kill b, restart b, ping and connect b->a
#     while a sends nothing (b wakes a, whose connection is stale);
#   - client: kill a during a continuous ping b->a; restart a; b keeps
#     sending on its old connection (the restarted a dials b when its
#     packets, or b's signals, reach it without a connection).
# Each prints the time from the restart to the first ping answer and to
# the first new TCP connection, and fails above 10 s. Before the fix
# (docs/internals/quic.md, "Restarted peers") the old connection stayed
# until QUIC's 30 s idle timeout: 30-50 s. Measured: docs/benchmarks.md,
# "Agent restart".
#
#   agent_restart_test.sh
#
# Needs root; exits 77 (ctest: skipped) when namespaces are unavailable.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN, WEFT_RELAY_BIN,
# WEFT_TCPTOOL.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/connector_lab.sh"
lab_env
TCPTOOL=${WEFT_TCPTOOL:?set WEFT_TCPTOOL}
BOUND_MS=${RESTART_BOUND_MS:-10000}
L=rst$$
# Direct paths unless a mode asks for --no-direct (connector_lab.sh).
LAB_NO_DIRECT=

policy='{"tagOwners":{"tag:a":[],"tag:b":[]},"acls":[
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["tag:b:*"]},
 {"action":"accept","proto":"icmp","src":["tag:b"],"dst":["tag:a:*"]},
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["tag:b:5201"]},
 {"action":"accept","proto":"tcp","src":["tag:b"],"dst":["tag:a:5202"]}]}'

# kill9 PID: SIGKILL, then wait up to 5 s until PID is gone.
kill9() {
	kill -KILL "$1" 2>/dev/null
	for _ in $(seq 250); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.02
	done
}

# first_reply FILE T0: ms from T0 to the first answer in a ping -D log
# after T0, or nothing.
first_reply() {
	sed -n 's/^\[\([0-9]*\)\.\([0-9]\{3\}\)[0-9]*\] .* bytes from .*/\1\2/p' \
		"$1" | awk -v t="$2" '$1 > t {print $1 - t; exit}'
}

# measure WHAT FROM DEST PORT PINGLOG T0: waits (up to 30 s after T0) for
# a new TCP connection FROM -> DEST:PORT and for an answer in PINGLOG
# after T0; prints both times and checks them against the bound.
measure() {
	_what=$1 _from=$2 _dest=$3 _port=$4 _log=$5 _t0=$6
	_tcp= _ping=
	while [ $(($(now_ms) - _t0)) -lt 30000 ]; do
		if [ -z "$_tcp" ] &&
			nsrun "$_from" "$TCPTOOL" connect -t 1000 "$_dest:$_port" \
				>/dev/null 2>&1; then
			_tcp=$(($(now_ms) - _t0))
		fi
		[ -z "$_ping" ] && _ping=$(first_reply "$_log" "$_t0")
		[ -n "$_tcp" ] && [ -n "$_ping" ] && break
		sleep 0.05
	done
	echo "$_what: ping after ${_ping:-none} ms, new TCP connection after ${_tcp:-none} ms (from the restart)"
	[ -n "$_ping" ] && [ "$_ping" -le "$BOUND_MS" ] ||
		fail "$_what: ping came back after ${_ping:-more than 30000} ms (bound $BOUND_MS)"
	[ -n "$_tcp" ] && [ "$_tcp" -le "$BOUND_MS" ] ||
		fail "$_what: TCP came back after ${_tcp:-more than 30000} ms (bound $BOUND_MS)"
}

# up NODE: starts NODE's agent on its state directory (MODE_FLAGS), sets
# NODE_PID.
up() {
	start_agent "$1" "" $MODE_FLAGS
	eval "pid_$1=\$AGENT_PID"
}

# settle: both agents run; with direct paths, both see the other direct.
settle() {
	wait_running a 1 || return 1
	wait_running b 1 || return 1
	ping_ok a "$b4" || { fail "$MODE: ping a->b before the kill"; return 1; }
	ping_ok b "$a4" || { fail "$MODE: ping b->a before the kill"; return 1; }
	_out=$(nsrun a "$TCPTOOL" connect -t 3000 "$b4:5201" 2>&1) ||
		{ fail "$MODE: TCP a->b before the kill: $_out"; return 1; }
	[ -z "$MODE_FLAGS" ] || return 0
	for _ in $(seq 100); do
		[ "$(peer a b path)" = direct ] && [ "$(peer b a path)" = direct ] &&
			return 0
		nsrun a ping -c 1 -W 1 "$b4" >/dev/null 2>&1
		sleep 0.1
	done
	fail "$MODE: a and b not direct before the kill"
	return 1
}

# pinger FROM DEST LOG: a continuous ping in the background; PPID_ its pid.
pinger() {
	nsrun "$1" ping -D -n -i 0.1 -W 1 -w 40 "$2" >"$3" 2>&1 &
	PPID_=$!
	pids="$pids $PPID_"
}

# The server (b) dies while a sends to it; a keeps sending.
server_killed() {
	settle || return 1
	pinger a "$b4" "$tmp/ping-$MODE-1.txt"
	sleep 1
	kill9 "$pid_b"
	sleep 0.5
	t0=$(now_ms)
	up b
	measure "$MODE, b (server) killed, a->b" a "$b4" 5201 \
		"$tmp/ping-$MODE-1.txt" "$t0"
	kill "$PPID_" 2>/dev/null
}

# The server (b) dies and, restarted, speaks first; a sends nothing.
server_speaks_first() {
	settle || return 1
	sleep 0.5
	kill9 "$pid_b"
	sleep 0.5
	t0=$(now_ms)
	up b
	wait_running b 1
	pinger b "$a4" "$tmp/ping-$MODE-2.txt"
	measure "$MODE, b (server) killed, b->a" b "$a4" 5202 \
		"$tmp/ping-$MODE-2.txt" "$t0"
	kill "$PPID_" 2>/dev/null
}

# The client (a) dies while b sends to it; b keeps sending.
client_killed() {
	settle || return 1
	pinger b "$a4" "$tmp/ping-$MODE-3.txt"
	sleep 1
	kill9 "$pid_a"
	sleep 0.5
	t0=$(now_ms)
	up a
	measure "$MODE, a (client) killed, b->a" b "$a4" 5202 \
		"$tmp/ping-$MODE-3.txt" "$t0"
	kill "$PPID_" 2>/dev/null
}

# mode NAME FLAGS: the three scenarios with agents started with FLAGS.
mode() {
	MODE=$1 MODE_FLAGS=$2
	kill9 "$pid_a"
	kill9 "$pid_b"
	up a
	up b
	server_killed
	server_speaks_first
	client_killed
}

run() {
	lab_start agent_restart_test --a inet --b inet || return

	mesh_up || return
	api PUT /api/v1/policy "$policy" >/dev/null || { fail "policy"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kb=$(api POST /api/v1/auth-keys '{"tags":["tag:b"]}' | jq -r .key)

	# a first: the smaller id, the QUIC client.
	start_agent a "$ka"
	pid_a=$AGENT_PID
	wait_running a 0 || return
	start_agent b "$kb"
	pid_b=$AGENT_PID
	wait_running b 1 || return
	ida=$(cli a status | jq .node.id)
	idb=$(cli b status | jq .node.id)
	[ "$ida" -lt "$idb" ] || { fail "a's id $ida is not below b's $idb"; return; }
	b4=$(peer a b ipv4)
	a4=$(peer b a ipv4)
	nsrun b "$TCPTOOL" serve 0.0.0.0:5201 >/dev/null 2>"$tmp/serve-b.log" &
	pids="$pids $!"
	nsrun a "$TCPTOOL" serve 0.0.0.0:5202 >/dev/null 2>"$tmp/serve-a.log" &
	pids="$pids $!"

	mode relay --no-direct
	mode direct ""
}

need agent_restart_test jq curl ping
start_test
run
finish agent_restart
