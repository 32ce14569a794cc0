#!/bin/sh
# The stub resolver's sockets under hundreds of TCP clients that never
# finish a query (docs/dns.md, "Transport"): the controller in "inet",
# agent a with its stub on the map's stub addresses, a's host resolver a
# dnsmasq on 127.0.0.2. dnsconns opens 300 idle and 50 slow-drip TCP
# connections to 100.100.100.100:53 and keeps them 13 s. While they are
# open:
#   - the stub holds at most 64 (status dns.stub.tcp_connections), making
#     room by closing the one idle longest (tcp_evicted counts them);
#   - dig over UDP and over TCP, for a mesh name and a forwarded one,
#     still gets its answers (the times, with dig's own start in a
#     namespace, are printed, and the same before the load);
# and after 13 s every held connection was closed by the stub (its 10 s
# idle timeout), none is left. Then 64 clients each wait for an answer
# from an upstream that never answers (slow.test, split to 127.0.0.3):
# the stub closes a 65th connection at once (tcp_refused) and still
# answers over UDP.
#
# Needs root, dig, dnsmasq, jq; exits 77 (ctest: skipped) without them.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN, WEFT_DNSCONNS.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/connector_lab.sh"
lab_env
CONNS=${WEFT_DNSCONNS:?set WEFT_DNSCONNS}
STUB4=100.100.100.100
UP=127.0.0.2
L=dld$$

host_dns() {
	nsrun a ip addr add "$UP/8" dev lo 2>/dev/null
	nsrun a "$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts \
		--listen-address="$UP" --bind-interfaces --port=53 \
		--address=/up.example/192.0.2.7 \
		--log-facility="$tmp/a-dnsmasq.log" 2>>"$tmp/a-dnsmasq.log" &
	pids="$pids $!"
	echo "nameserver $UP" >"$tmp/a-resolv.conf"
}

stubstat() {
	cli a status | jq -r ".dns.stub.$1"
}

# timed NAME WANT [DIG OPTIONS]: dig at the stub, prints the time; fails
# unless the answer is WANT.
timed() {
	_n=$1 _w=$2
	shift 2
	_t0=$(now_ms)
	_a=$(nsrun a dig +time=2 +tries=1 "$@" @"$STUB4" "$_n" A +short)
	_dt=$(($(now_ms) - _t0))
	[ "$_a" = "$_w" ] || fail "$_n $* under load: '$_a', not $_w"
	printf ' %s%s=%dms' "$_n" "${1:+($1)}" "$_dt"
}

load() {
	me=$(cli a status | jq -r .node.ipv4 | cut -d/ -f1)
	[ "$(nsrun a dig +short @"$STUB4" a.weft.internal)" = "$me" ] ||
		{ fail "the stub does not answer a.weft.internal before the load"; return; }
	printf 'before the load:'
	timed a.weft.internal "$me"
	timed up.example 192.0.2.7
	timed a.weft.internal "$me" +tcp
	timed up.example 192.0.2.7 +tcp
	echo
	nsrun a "$CONNS" -i 300 -d 50 -s 13 "$STUB4:53" >"$tmp/conns.txt" \
		2>&1 &
	cp=$!
	for _ in $(seq 100); do
		grep -q '^opened' "$tmp/conns.txt" && break
		sleep 0.1
	done
	echo "load: $(head -n 1 "$tmp/conns.txt") TCP connections to the stub"
	sleep 1
	held=$(stubstat tcp_connections)
	[ "$held" -le 64 ] || fail "the stub holds $held TCP connections (> 64)"
	[ "$(stubstat tcp_evicted)" -ge 286 ] ||
		fail "tcp_evicted $(stubstat tcp_evicted), want >= 286 (350 - 64)"
	printf 'under load:'
	for _ in 1 2 3; do
		timed a.weft.internal "$me"
		timed up.example 192.0.2.7
		timed a.weft.internal "$me" +tcp
		timed up.example 192.0.2.7 +tcp
	done
	echo
	echo "the stub held $held, evicted $(stubstat tcp_evicted), refused $(stubstat tcp_refused)"
	wait "$cp"
	tail -n 1 "$tmp/conns.txt"
	open=$(tail -n 1 "$tmp/conns.txt" | sed -n 's/.* open=\([0-9]*\).*/\1/p')
	[ "$open" = 0 ] || fail "$open connections still open after 13 s (idle timeout 10 s)"
	[ "$(stubstat tcp_connections)" = 0 ] ||
		fail "the stub still holds $(stubstat tcp_connections) connections"
}

# refuse: 64 TCP clients each wait for an answer from slow.test's
# upstream, which never answers (3 tries of 1 s): the stub has nothing
# to evict and closes a 65th connection at once; UDP is still answered.
refuse() {
	nsrun a "$CONNS" -b 64 -q slow.test "$STUB4:53" >"$tmp/busy.txt" 2>&1 &
	bp=$!
	sleep 0.5
	[ "$(nsrun a dig +time=2 +tries=1 +short @"$STUB4" up.example)" = 192.0.2.7 ] ||
		fail "up.example over UDP with 64 busy TCP clients"
	wait "$bp"
	echo "refuse: $(cat "$tmp/busy.txt"), refused $(stubstat tcp_refused)"
	grep -q '^busy=64 extra=closed$' "$tmp/busy.txt" ||
		fail "not refused at the cap: $(cat "$tmp/busy.txt")"
	[ "$(stubstat tcp_refused)" -ge 1 ] || fail "tcp_refused not counted"
}

run() {
	need dns_load_test dig "$DNSMASQ" jq curl
	lab_start dns_load_test --a nat1 --b none --c none || return
	host_dns
	mesh_up --no-relay || return
	api PUT /api/v1/policy '{"tagOwners":{"tag:a":[]},"acls":[]}' \
		>/dev/null || { fail "policy"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	chmod 711 "$tmp"
	start_agent a "$ka" --resolv-conf "$tmp/a-resolv.conf"
	api PUT /api/v1/dns '{"split":[{"domain":"slow.test","upstreams":["127.0.0.3"]}]}' \
		>/dev/null || { fail "dns settings"; return; }
	wait_running a 0 || return
	load
	refuse
}

start_test
run
finish dns_load
