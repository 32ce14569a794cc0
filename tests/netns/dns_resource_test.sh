#!/bin/sh
# DNS and wildcard resources (issue 15): a netlab with the controller and
# a relay in "inet", client a behind nat1, connector c on inet and the
# site h behind c (connector_lab.sh's make_site) with two hosts' worth of
# addresses ($H, $H2, a TCP server on each) and a dnsmasq on $H that c
# uses as its resolver (/etc/netns/<c's namespace>/resolv.conf). DNS
# resources "db" (db.corp.test) and "gone" (a name dnsmasq does not
# know), a wildcard "wild" (*.wild.test), all served by tag:c and granted
# to a (TCP and ICMP).
# The client's side, `weft-agent resolve` on a:
#   - gives db.corp.test exactly the mapped /32 and /128 the controller
#     shows for "db" (any case, trailing dot allowed);
#   - gives each name under wild.test its own address inside the mapped
#     /24 (and the same host in the /120), the same one when asked again;
#   - refuses a name no granted resource covers (exit status 1 and a
#     message), and c, which is not granted anything, resolves nothing.
# The connector's side (agent/dnat.h):
#   - c resolves db.corp.test itself; a pings the mapped address (the
#     replies come from it) and a TCP connection to it reaches $H, which
#     sees c's LAN address;
#   - dnsmasq restarted with db.corp.test at $H2 (TTL 2 s): within the
#     TTL and a lookup c translates to $H2, new connections reach $H2,
#     while a connection opened before the change still ends on $H;
#   - x.wild.test (at $H2), told to c by a when it resolves it, reaches
#     $H2 through its own mapped address; after c restarts (and forgets
#     it), a tells c again by itself and the name works again;
#   - a's stub (100.100.100.100, answering with --dns off too) gives
#     y.wild.test its own address in the block itself, TTL 1, the same
#     one `weft-agent resolve` then shows, tells c, and a TCP connection
#     to it reaches $H2; c, granted nothing, forwards a name under
#     wild.test to its resolver (NXDOMAIN there);
#   - gone.corp.test (NXDOMAIN) fails at once (ICMP admin-prohibited),
#     counted in c's dns_nxdomain counter; an address of the wildcard's
#     block no name was given is dropped and counted (dns_unresolved).
#
# Needs root and dnsmasq; exits 77 (ctest: skipped) without namespaces.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN,
# WEFT_RELAY_BIN, WEFT_TCPTOOL.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/connector_lab.sh"
lab_env
TCPTOOL=${WEFT_TCPTOOL:?set WEFT_TCPTOOL}
H=192.168.78.10
H2=192.168.78.20
STUB4=100.100.100.100
C_LAN=192.168.78.1
L=dns$$
dns_pid=
etc_ns=

policy='{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["resource:db:*","resource:wild:*","resource:gone:*"]},
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["resource:db:*","resource:wild:*","resource:gone:*"]}]}'

# resolve NODE NAME FIELD: a field of `weft-agent resolve --json NAME`.
resolve() {
	cli "$1" resolve "$2" 2>>"$tmp/resolve.err" | jq -r ".$3"
}

# same_block ADDR BASE: ADDR is in the /24 (IPv4: same first three
# octets) or the /120 (IPv6, as the controller writes it: same text up to
# the last group) that starts at BASE.
same_block() {
	[ "${1%.*}" = "${2%.*}" ] || [ "${1%:*}" = "${2%:*}" ]
}

# start_dns ADDR: dnsmasq on h ($H:53) answering db.corp.test with ADDR,
# x.wild.test and y.wild.test with $H2, other names under corp.test and wild.test with
# NXDOMAIN, all with TTL 2 s.
start_dns() {
	rm -f "$tmp/dnsmasq.pid"
	ip netns exec "$hns" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv \
		--no-hosts --bind-interfaces --listen-address="$H" \
		--pid-file="$tmp/dnsmasq.pid" --local-ttl=2 \
		--local=/corp.test/ --local=/wild.test/ \
		--address=/db.corp.test/"$1" --address=/x.wild.test/"$H2" \
		--address=/y.wild.test/"$H2" \
		--log-queries --log-facility=- >>"$tmp/dnsmasq.log" 2>&1 &
	dns_pid=$!
	pids="$pids $dns_pid"
	for _ in $(seq 50); do
		kill -0 "$dns_pid" 2>/dev/null || return 1
		nsrun c dig +short +time=1 +tries=1 "@$H" db.corp.test 2>/dev/null |
			grep -qx "$1" && return 0
		sleep 0.1
	done
	return 1
}

stop_dns() {
	[ -n "$dns_pid" ] || return 0
	kill -TERM "$dns_pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$dns_pid" 2>/dev/null || break
		sleep 0.1
	done
	dns_pid=
}

# real NAME FAMILY: the real address c translates NAME's mapped address
# of FAMILY to ("null" before an answer).
real() {
	cli c status 2>/dev/null | jq -r --arg n "$1" --argjson f "$2" \
		'.connector.dns.names[] | select(.name == $n and .family == $f)
		 | .real' | head -n1
}

# wait_real NAME ADDR SECONDS (wall clock: a loaded machine makes each
# status call slower, not the deadline later)
wait_real() {
	_end=$(($(now_ms) + $3 * 1000))
	while [ "$(now_ms)" -lt "$_end" ]; do
		[ "$(real "$1" 4)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# counter NAME: packets of c's nft counter NAME.
counter() {
	nsrun c nft list counter inet weft_weft0 "$1" |
		sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

# lines FILE: the connections a site server took (its answer lines,
# "PEER BYTES HASH").
lines() {
	grep -c " [0-9]* [0-9a-f]*$" "$1"
}

# dig_stub NODE NAME TYPE: NODE's stub's answer lines (TTL, type, data).
dig_stub() {
	nsrun "$1" dig +time=2 +tries=1 +noall +answer @"$STUB4" "$2" "$3" |
		awk '{print $2, $4, $5}'
}

# A wildcard name asked of a's stub: an address of the block, told to c.
stub_wild() {
	ans=$(dig_stub a y.wild.test A)
	y=${ans##* }
	echo "stub: y.wild.test -> $ans"
	[ "${ans% *}" = "1 A" ] || fail "stub: y.wild.test A: '$ans', not TTL 1 A"
	same_block "$y" "${w4%/*}" || fail "stub: y.wild.test $y is not in $w4"
	[ "$y" != "$x" ] || fail "stub: y.wild.test shares x.wild.test's $x"
	ans6=$(dig_stub a Y.wild.test. AAAA)
	same_block "${ans6##* }" "${w6%/*}" ||
		fail "stub: y.wild.test AAAA '$ans6' is not in $w6"
	[ "$(resolve a y.wild.test ipv4)" = "$y" ] ||
		fail "resolve gives y.wild.test another address than the stub"
	wait_real y.wild.test "$H2" 10 ||
		{ fail "c did not hear of y.wild.test from a's stub"; return; }
	nsrun a "$TCPTOOL" send -t 10000 -n 1000 "$y:8080" >/dev/null ||
		fail "TCP a -> y.wild.test ($y)"
	[ "$(lines "$tmp/h2.txt")" = 4 ] || fail "y.wild.test did not reach $H2"
	# Not granted: c's stub does not answer it, its resolver does.
	st=$(nsrun c dig +time=2 +tries=1 @"$STUB4" z.wild.test A |
		sed -n 's/.*status: \([A-Z]*\).*/\1/p')
	[ "$st" = NXDOMAIN ] || fail "c's stub: z.wild.test $st, not NXDOMAIN"
}

traffic() {
	ip=${db4%/*}
	wait_real db.corp.test "$H" 10 ||
		{ fail "c did not resolve db.corp.test to $H: $(real db.corp.test 4)"; return; }
	ping_ok a "$ip" 5 || fail "ping a -> db.corp.test ($ip)"
	# The replies come from the mapped address, never the real one.
	nsrun a ping -c 1 -W 2 "$ip" | grep -q "bytes from $ip:" ||
		fail "ping replies to $ip come from elsewhere"
	r=$(nsrun a "$TCPTOOL" send -t 10000 -n 100000 "$ip:8080") ||
		fail "TCP a -> db.corp.test ($ip:8080)"
	echo "db.corp.test at $H: $r"
	[ "$(lines "$tmp/h1.txt")" = 1 ] || fail "$H did not take the connection"
	grep -q "^$C_LAN:" "$tmp/h1.txt" ||
		fail "$H saw $(cat "$tmp/h1.txt"), not c's $C_LAN"

	# A connection established now, idle across the change.
	nsrun a "$TCPTOOL" send -w 7000 -t 20000 -n 1000 "$ip:8080" \
		>"$tmp/long.txt" 2>&1 &
	long=$!
	sleep 1
	stop_dns
	t0=$(now_ms)
	start_dns "$H2" || { fail "dnsmasq did not restart"; return; }
	wait_real db.corp.test "$H2" 15 ||
		{ fail "c still translates db.corp.test to $(real db.corp.test 4)"; return; }
	echo "db.corp.test moved to $H2 after $(($(now_ms) - t0)) ms"
	nsrun a "$TCPTOOL" send -t 10000 -n 100000 "$ip:8080" >/dev/null ||
		fail "TCP a -> db.corp.test after the change"
	[ "$(lines "$tmp/h2.txt")" = 1 ] ||
		fail "a new connection did not reach $H2"
	wait "$long" || fail "the established connection broke: $(cat "$tmp/long.txt")"
	[ "$(lines "$tmp/h1.txt")" = 2 ] ||
		fail "the established connection did not end on $H"

	x=$(resolve a x.wild.test ipv4)
	wait_real x.wild.test "$H2" 10 ||
		{ fail "c did not translate x.wild.test: $(real x.wild.test 4)"; return; }
	nsrun a "$TCPTOOL" send -t 10000 -n 1000 "$x:8080" >/dev/null ||
		fail "TCP a -> x.wild.test ($x)"
	[ "$(lines "$tmp/h2.txt")" = 2 ] || fail "x.wild.test did not reach $H2"

	# c restarts and has forgotten the name: a tells it again when it
	# hears from c again, without a new lookup.
	stop_pid "$c_pid" TERM
	t0=$(now_ms)
	start_agent c "$kc" --connector
	c_pid=$AGENT_PID
	wait_running c 1 || return
	wait_real x.wild.test "$H2" 20 ||
		{ fail "a did not tell the restarted c about x.wild.test"; return; }
	echo "restarted c knows x.wild.test again after $(($(now_ms) - t0)) ms"
	nsrun a "$TCPTOOL" send -t 10000 -n 1000 "$x:8080" >/dev/null ||
		fail "TCP a -> x.wild.test after c's restart"
	[ "$(lines "$tmp/h2.txt")" = 3 ] ||
		fail "x.wild.test did not reach $H2 after c's restart"

	stub_wild

	g=${gone4%/*}
	_end=$(($(now_ms) + 5000))
	while [ "$(now_ms)" -lt "$_end" ]; do
		cli c status | jq -e '.connector.dns.names[] |
			select(.name == "gone.corp.test" and .family == 4 and
			       .state == "nxdomain")' >/dev/null && break
		sleep 0.1
	done
	r=$(nsrun a "$TCPTOOL" connect -t 3000 "$g:8080")
	[ "$r" = unreachable ] || fail "gone.corp.test: $r, not unreachable"
	[ "$(counter dns_nxdomain)" -gt 0 ] 2>/dev/null ||
		fail "dns_nxdomain not counted"
	r=$(nsrun a "$TCPTOOL" connect -t 1500 "${w4%.*/*}.250:8080")
	[ "$r" = timeout ] || fail "an unnamed wildcard address: $r, not timeout"
	[ "$(counter dns_unresolved)" -gt 0 ] 2>/dev/null ||
		fail "dns_unresolved not counted"
}

run() {
	lab_start dns_resource_test --a nat1 --b none --c inet || return
	make_site || { fail "site namespace"; return; }
	ip -n "$hns" addr add "$H2/24" dev eth0
	etc_ns=/etc/netns/$(lab ns "$L" c)
	mkdir -p "$etc_ns" &&
		printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$H" \
			>"$etc_ns/resolv.conf" ||
		{ fail "resolv.conf for c"; return; }
	start_dns "$H" || { fail "dnsmasq did not start"; return; }
	nsrun h "$TCPTOOL" serve "$H:8080" >"$tmp/h1.txt" &
	pids="$pids $!"
	nsrun h "$TCPTOOL" serve "$H2:8080" >"$tmp/h2.txt" &
	pids="$pids $!"
	mesh_up || return
	api PUT /api/v1/policy '{"tagOwners":{"tag:a":[],"tag:c":[]}}' \
		>/dev/null || { fail "tagOwners"; return; }
	db=$(api POST /api/v1/resources '{"name":"db","address":"db.corp.test",
		"connectors":{"tags":["tag:c"]}}') || { fail "resource db"; return; }
	wild=$(api POST /api/v1/resources '{"name":"wild","address":"*.wild.test",
		"connectors":{"tags":["tag:c"]}}') ||
		{ fail "resource wild"; return; }
	gone=$(api POST /api/v1/resources '{"name":"gone","address":"gone.corp.test",
		"connectors":{"tags":["tag:c"]}}') || { fail "resource gone"; return; }
	api PUT /api/v1/policy "$policy" >/dev/null || { fail "policy"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kc=$(api POST /api/v1/auth-keys '{"tags":["tag:c"]}' | jq -r .key)
	db4=$(echo "$db" | jq -r .mapped.ipv4)
	db6=$(echo "$db" | jq -r .mapped.ipv6)
	w4=$(echo "$wild" | jq -r .mapped.ipv4)
	w6=$(echo "$wild" | jq -r .mapped.ipv6)
	gone4=$(echo "$gone" | jq -r .mapped.ipv4)
	echo "mapped: db $db4 $db6, wild $w4 $w6"

	chmod 711 "$tmp"
	start_agent a "$ka"
	start_agent c "$kc" --connector
	c_pid=$AGENT_PID
	wait_running a 1 || return
	wait_running c 1 || return
	for _ in $(seq 50); do
		[ "$(cli a routes | jq '.resources|length')" = 3 ] && break
		sleep 0.1
	done

	got=$(resolve a db.corp.test ipv4)
	[ "$got/32" = "$db4" ] || fail "a resolves db.corp.test to $got, not $db4"
	got=$(resolve a Db.CORP.test. ipv6)
	[ "$got/128" = "$db6" ] || fail "a resolves Db.CORP.test. (v6) to $got, not $db6"
	[ "$(resolve a db.corp.test resource)" = db ] ||
		fail "db.corp.test is not resource db"
	[ "$(resolve a db.corp.test type)" = dns ] || fail "db.corp.test is not dns"

	x4=$(resolve a x.wild.test ipv4)
	x6=$(resolve a x.wild.test ipv6)
	y4=$(resolve a a.b.wild.test ipv4)
	echo "a: x.wild.test -> $x4 $x6, a.b.wild.test -> $y4"
	same_block "$x4" "${w4%/*}" || fail "x.wild.test $x4 is not in $w4"
	same_block "$x6" "${w6%/*}" || fail "x.wild.test $x6 is not in $w6"
	[ "${x4##*.}" != 0 ] && [ "${x4##*.}" != 255 ] ||
		fail "x.wild.test got the block's $x4"
	same_block "$y4" "${w4%/*}" || fail "a.b.wild.test $y4 is not in $w4"
	[ "$x4" != "$y4" ] || fail "two wildcard names share $x4"
	[ "$(resolve a X.Wild.Test ipv4)" = "$x4" ] ||
		fail "x.wild.test asked again got another address"
	[ "$(resolve a x.wild.test type)" = wildcard ] ||
		fail "x.wild.test is not wildcard"

	for n in wild.test other.corp.test a..b; do
		if cli a resolve "$n" >/dev/null 2>"$tmp/resolve.err"; then
			fail "a resolved $n"
		fi
		grep -q "weft-agent resolve: " "$tmp/resolve.err" ||
			fail "no message for $n: $(cat "$tmp/resolve.err")"
	done
	cli c resolve db.corp.test >/dev/null 2>&1 &&
		fail "c (granted nothing) resolved db.corp.test"
	traffic
	return 0
}

need dns_resource_test jq curl dnsmasq dig nft
start_test
trap 'cleanup; [ -n "$etc_ns" ] && rm -rf "$etc_ns"; rm -rf "$tmp"' EXIT
run
finish dns_resource
