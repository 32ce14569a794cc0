#!/bin/sh
# Split DNS through a connector (docs/dns.md, "Forwarding"), with dig in a
# netlab: the controller and a relay in "inet", agent a (the client) and
# agent c (a connector) with a site namespace h behind it
# (tests/netns/connector_lab.sh). h runs a dnsmasq for corp.test on
# $H:53, reachable only through c (a CIDR resource "site" the policy
# grants a on port 53); a's host resolver (its --resolv-conf) is a second
# dnsmasq in a on 127.0.0.2. a's stub listens on the map's stub
# addresses (100.100.100.100 and <ula48>::6464:6464 on its TUN):
#   - the DNS settings send corp.test to $H: `dig @100.100.100.100
#     wiki.corp.test` on a gets h's answer through the mesh (h's log
#     shows c's LAN address asking), other names go to a's host resolver;
#   - the same over the IPv6 stub address, UDP and TCP;
#   - fault: h's dnsmasq is SIGKILLed while a queries, restarted, and the
#     time until names resolve again through the stub is printed
#     (bounded: 10 s);
#   - the stub's counters in `weft-agent status` and /metrics (promtool
#     check metrics) count what the test did: local answers, forwards,
#     NXDOMAIN, cache hits, the fault's timeouts and failures, and the
#     loops (a's resolv.conf names the stub itself before $UP; the split
#     domain loop.test's upstream is the stub: SERVFAIL, and the stub
#     still answers although the host install refuses that plan).
#
# Needs root, dig, dnsmasq, jq, promtool; exits 77 (ctest: skipped)
# without them. Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN,
# WEFT_RELAY_BIN.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/connector_lab.sh"
lab_env
H=192.168.77.10
C_LAN=192.168.77.1
SITE=192.168.77.0/24
STUB4=100.100.100.100
UP=127.0.0.2
METRICS=127.0.0.1:9109

L=dsp$$

policy='{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[
 {"action":"accept","proto":"udp","src":["tag:a"],"dst":["resource:site:53"]},
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["resource:site:53"]}]}'
# loop.test's upstream is the stub itself: the agent refuses to install
# that on the host, but its stub keeps answering (loop.test: SERVFAIL).
settings="{\"split\":[{\"domain\":\"corp.test\",\"upstreams\":[\"$H\"]},
 {\"domain\":\"loop.test\",\"upstreams\":[\"$STUB4\"]}]}"

# q SERVER NAME [DIG OPTIONS]: the A records a's stub at SERVER answers.
q() {
	_s=$1 _n=$2
	shift 2
	nsrun a dig +time=1 +tries=1 "$@" @"$_s" "$_n" A +short
}

# corp_dns: dnsmasq in h for corp.test (every name under it is 10.1.0.7,
# TTL 60 s); HPID is dnsmasq's own pid.
corp_dns() {
	rm -f "$tmp/h-dnsmasq.pid"
	nsrun h "$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts \
		--listen-address="$H" --bind-interfaces --port=53 \
		--address=/corp.test/10.1.0.7 --local-ttl=60 --log-queries \
		--pid-file="$tmp/h-dnsmasq.pid" \
		--log-facility="$tmp/h-dnsmasq.log" 2>>"$tmp/h-dnsmasq.log" &
	pids="$pids $!"
	HPID=
	for _ in $(seq 50); do
		HPID=$(cat "$tmp/h-dnsmasq.pid" 2>/dev/null) && [ -n "$HPID" ] &&
			break
		sleep 0.05
	done
	pids="$pids $HPID"
}

# host_dns: a's resolver from before the agent, on 127.0.0.2.
host_dns() {
	nsrun a ip addr add "$UP/8" dev lo 2>/dev/null
	nsrun a "$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts \
		--listen-address="$UP" --bind-interfaces --port=53 \
		--address=/up.example/192.0.2.7 --log-queries \
		--log-facility="$tmp/a-dnsmasq.log" 2>>"$tmp/a-dnsmasq.log" &
	pids="$pids $!"
	# The stub's own address first: a resolv.conf that already pointed
	# at the stub. The stub leaves it out (a loop) and asks $UP.
	printf 'nameserver %s\nnameserver %s\n' "$STUB4" "$UP" \
		>"$tmp/a-resolv.conf"
}

# wait_q SERVER NAME WANT: until a's stub answers NAME with WANT (10 s).
wait_q() {
	for _ in $(seq 50); do
		[ "$(q "$1" "$2")" = "$3" ] && return 0
		sleep 0.2
	done
	return 1
}

split() {
	wait_q "$STUB4" wiki.corp.test 10.1.0.7 ||
		fail "wiki.corp.test at $STUB4: '$(q "$STUB4" wiki.corp.test)'"
	grep -q "query\[A\] wiki.corp.test from $C_LAN" "$tmp/h-dnsmasq.log" ||
		fail "h's dnsmasq was not asked by c ($C_LAN) for wiki.corp.test"
	[ "$(q "$STUB4" up.example)" = 192.0.2.7 ] ||
		fail "up.example: '$(q "$STUB4" up.example)'"
	grep -q "query\[A\] up.example" "$tmp/a-dnsmasq.log" ||
		fail "a's host resolver was not asked for up.example"
	grep -q "up.example" "$tmp/h-dnsmasq.log" &&
		fail "up.example went to the split upstream"
	echo "split: wiki.corp.test through c, up.example to the host resolver"
}

ipv6() {
	s6=$(cli a status | jq -r '.dns.nameservers[] | select(contains(":"))')
	case "$s6" in
	*::6464:6464) ;;
	*) fail "no IPv6 stub address on a's TUN: '$s6'"; return ;;
	esac
	wait_q "$s6" v6.corp.test 10.1.0.7 ||
		fail "v6.corp.test at $s6: '$(q "$s6" v6.corp.test)'"
	[ "$(q "$s6" tcp6.corp.test +tcp)" = 10.1.0.7 ] ||
		fail "tcp6.corp.test at $s6 over TCP: '$(q "$s6" tcp6.corp.test +tcp)'"
	[ "$(q "$s6" up.example)" = 192.0.2.7 ] ||
		fail "up.example at $s6: '$(q "$s6" up.example)'"
	echo "ipv6: the stub answers at $s6 over UDP and TCP"
}

# fault: SIGKILL h's dnsmasq while a asks (a new name each time, so no
# answer comes from the cache), restart it, time until names resolve.
fault() {
	(i=0; while :; do
		i=$((i + 1)); q "$STUB4" "bg$i.corp.test" >/dev/null 2>&1
	done) &
	bg=$!
	sleep 1
	kill -KILL "$HPID" || fail "no dnsmasq to kill in h"
	for _ in $(seq 50); do
		kill -0 "$HPID" 2>/dev/null || break
		sleep 0.05
	done
	# The stub tries 3 times, 1 s each, then answers SERVFAIL.
	st=$(nsrun a dig +time=5 +tries=1 @"$STUB4" down.corp.test A |
		sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
	[ "$st" = SERVFAIL ] ||
		fail "down.corp.test with the upstream dead: '$st', not SERVFAIL"
	corp_dns
	t0=$(now_ms)
	i=0
	while [ $(($(now_ms) - t0)) -lt 10000 ]; do
		i=$((i + 1))
		[ "$(q "$STUB4" "again$i.corp.test")" = 10.1.0.7 ] && break
		sleep 0.05
	done
	dt=$(($(now_ms) - t0))
	kill "$bg" 2>/dev/null
	wait "$bg" 2>/dev/null
	echo "fault: names resolve again $dt ms after the upstream's restart"
	[ "$dt" -lt 10000 ] || fail "no answer 10 s after the restart"
}

# stubstat NAME: the stub's counter NAME in a's status.
stubstat() {
	cli a status | jq -r ".dns.stub.$1"
}

# metric NAME: the value of metric NAME on a's /metrics.
metric() {
	awk -v n="$1" '$1 == n {print $2}' "$tmp/metrics.txt"
}

counters() {
	[ "$(q "$STUB4" c.weft.internal)" = "$(peer a c ipv4)" ] ||
		fail "c.weft.internal: '$(q "$STUB4" c.weft.internal)'"
	nsrun a dig +time=1 +tries=1 @"$STUB4" nothere.weft.internal >/dev/null
	st=$(nsrun a dig +time=2 +tries=1 @"$STUB4" x.loop.test A |
		sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
	[ "$st" = SERVFAIL ] || fail "x.loop.test (upstream: the stub): '$st'"
	cli a status | jq -r .dns.error | grep -q "is the stub itself" ||
		fail "status dns.error: '$(cli a status | jq -r .dns.error)'"
	q "$STUB4" wiki.corp.test >/dev/null
	q "$STUB4" wiki.corp.test >/dev/null
	cli a status | jq .dns.stub >"$tmp/stub-status.txt"
	for k in queries local forwarded nxdomain servfail cache_hits \
		upstream_timeouts upstream_failures loops; do
		v=$(stubstat "$k")
		[ -n "$v" ] && [ "$v" != null ] && [ "$v" -gt 0 ] ||
			fail "status dns.stub.$k is '$v', want > 0"
	done
	nq=$(stubstat queries)
	sum=$(($(stubstat local) + $(stubstat forwarded) + $(stubstat cache_hits)))
	[ "$sum" -le "$nq" ] ||
		fail "local + forwarded + cache_hits = $sum > queries $nq"
	[ "$(stubstat malformed)" = 0 ] || fail "malformed: $(stubstat malformed)"
	nsrun a "$AGENT" status --socket "$tmp/a/sock" |
		grep -q "dns stub: queries [1-9][0-9]* local [1-9]" ||
		fail "text status has no dns stub line: $(nsrun a "$AGENT" status --socket "$tmp/a/sock")"
	nsrun a curl -fsS "http://$METRICS/metrics" >"$tmp/metrics.txt" ||
		{ fail "no /metrics"; return; }
	promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.txt" 2>&1 ||
		fail "promtool check metrics: $(cat "$tmp/promtool.txt")"
	for k in queries local forwarded cache_hits nxdomain \
		upstream_timeouts upstream_failures loops; do
		v=$(metric "weft_agent_dns_${k}_total")
		[ -n "$v" ] && [ "$v" -gt 0 ] ||
			fail "weft_agent_dns_${k}_total is '$v', want > 0"
	done
	echo "counters: $(jq -c . "$tmp/stub-status.txt")"
}

run() {
	need dns_split_test dig "$DNSMASQ" jq curl promtool
	lab_start dns_split_test --a nat1 --b none --c inet || return
	make_site || { fail "site namespace"; return; }
	corp_dns
	host_dns
	mesh_up || return
	grant_site "$policy" || return
	api PUT /api/v1/dns "$settings" >/dev/null || { fail "dns settings"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kc=$(api POST /api/v1/auth-keys '{"tags":["tag:c"]}' | jq -r .key)
	chmod 711 "$tmp"
	start_agent a "$ka" --accept-routes --resolv-conf "$tmp/a-resolv.conf" \
		--metrics-listen "$METRICS"
	start_agent c "$kc" --connector
	wait_running a 1 || return
	wait_running c 1 || return
	split
	ipv6
	fault
	counters
}

start_test
run
finish dns_split
