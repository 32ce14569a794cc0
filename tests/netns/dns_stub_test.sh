#!/bin/sh
# The agent's DNS stub resolver (docs/dns.md, "The stub resolver") asked
# with dig in a netlab: the controller and a relay in "inet", agent a
# (the client, its stub on --dns-listen 127.0.0.1:53) and agent c (a
# connector). a's "host resolver" (what its --resolv-conf names) is a
# dnsmasq in a's namespace on 127.0.0.2:
#   - node names: c.weft.internal A/AAAA are c's mesh addresses, PTR of
#     c's mesh IPv4 is c.weft.internal, an unknown name under the suffix
#     is NXDOMAIN;
#   - a DNS resource the policy grants a (db.corp.example) answers its
#     mapped addresses; one it does not grant (secret.corp.example) is
#     not answered by the stub: it goes to the host resolver, which
#     knows no such name: NXDOMAIN;
#   - other names are forwarded to the host resolver (up.example);
#   - a name with 60 A records upstream: asked without EDNS0, the
#     upstream truncates over UDP, the stub asks it again over TCP, the
#     stub's own UDP answer sets TC and dig's retry over TCP gets all 60;
#   - the cache honours TTLs: the TTL seen goes down, a change upstream
#     is not seen until the TTL ran out, then it is;
#   - a policy change that takes db away: db.corp.example stops
#     resolving to its mapped address within 1 s.
# Split DNS through a connector: dns_split_test.sh.
#
# Needs root and dig, dnsmasq; exits 77 (ctest: skipped) without them.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN, WEFT_RELAY_BIN.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/connector_lab.sh"
lab_env
STUB=127.0.0.1
UP=127.0.0.2

L=dns$$

grant='{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["tag:c:22"]},
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["resource:db:*"]}]}'
nogrant='{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["tag:c:22"]}]}'



# q NAME TYPE [DIG OPTIONS]: the answer's data lines, from a's stub.
q() {
	_n=$1 _t=$2
	shift 2
	nsrun a dig +time=2 +tries=1 "$@" @"$STUB" "$_n" "$_t" +short
}

# rcode NAME TYPE: the stub's status word (NOERROR, NXDOMAIN, ...).
rcode() {
	nsrun a dig +time=2 +tries=1 @"$STUB" "$1" "$2" |
		sed -n 's/.*status: \([A-Z]*\),.*/\1/p'
}

# ttl NAME: the TTL of the first answer record.
ttl() {
	nsrun a dig +time=2 +tries=1 +noall +answer @"$STUB" "$1" A |
		awk 'NR == 1 {print $2}'
}

upstream() {
	for i in $(seq 1 60); do
		echo "host-record=big.example,10.9.0.$i"
	done >"$tmp/dnsmasq.conf"
	printf '%s\n' "address=/up.example/192.0.2.7" \
		"addn-hosts=$tmp/hosts" "local-ttl=8" "local=/example/" \
		>>"$tmp/dnsmasq.conf"
	echo "192.0.2.10 ttl.example" >"$tmp/hosts"
	# dnsmasq reads the hosts file again (SIGHUP) as user nobody.
	chmod 711 "$tmp"
	chmod 644 "$tmp/hosts"
	nsrun a ip addr add "$UP/8" dev lo 2>/dev/null
	nsrun a "$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts \
		--listen-address="$UP" --bind-interfaces --port=53 \
		--conf-file="$tmp/dnsmasq.conf" --pid-file="$tmp/dnsmasq.pid" \
		--log-facility="$tmp/dnsmasq.log" --log-queries \
		2>>"$tmp/dnsmasq.log" &
	pids="$pids $!"
	echo "nameserver $UP" >"$tmp/a-resolv.conf"
	for _ in $(seq 50); do
		nsrun a dig +time=1 +tries=1 @"$UP" up.example +short |
			grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# wait_answer NAME WANT: until the stub answers NAME A with WANT (5 s).
wait_answer() {
	for _ in $(seq 50); do
		[ "$(q "$1" A)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

names() {
	c4=$(peer a c ipv4)
	c6=$(peer a c ipv6)
	[ "$(q c.weft.internal A)" = "$c4" ] ||
		fail "c.weft.internal A: '$(q c.weft.internal A)', not $c4"
	[ "$(q C.Weft.Internal. AAAA)" = "$c6" ] ||
		fail "c.weft.internal AAAA: '$(q c.weft.internal AAAA)', not $c6"
	rev=$(echo "$c4" | awk -F. '{print $4"."$3"."$2"."$1".in-addr.arpa"}')
	[ "$(q "$rev" PTR)" = c.weft.internal. ] ||
		fail "PTR $rev: '$(q "$rev" PTR)'"
	p6=$(nsrun a dig +short +time=2 +tries=1 @"$STUB" -x "$c6")
	[ "$p6" = c.weft.internal. ] || fail "PTR of $c6: '$p6'"
	[ "$(rcode nothere.weft.internal A)" = NXDOMAIN ] ||
		fail "nothere.weft.internal: $(rcode nothere.weft.internal A)"
	echo "node names: c = $c4 $c6, PTR and NXDOMAIN under the suffix ok"
}

resources() {
	m4=$(api GET /api/v1/resources | jq -r '.items[] |
		select(.name == "db") | .mapped.ipv4' | cut -d/ -f1)
	m6=$(api GET /api/v1/resources | jq -r '.items[] |
		select(.name == "db") | .mapped.ipv6' | cut -d/ -f1)
	wait_answer db.corp.example "$m4" ||
		fail "db.corp.example A: '$(q db.corp.example A)', not $m4"
	[ "$(q db.corp.example AAAA)" = "$m6" ] ||
		fail "db.corp.example AAAA: '$(q db.corp.example AAAA)', not $m6"
	[ "$(rcode secret.corp.example A)" = NXDOMAIN ] ||
		fail "secret.corp.example (not granted): $(rcode secret.corp.example A)"
	[ "$(q up.example A)" = 192.0.2.7 ] ||
		fail "up.example (forwarded): '$(q up.example A)'"
	echo "resources: db = $m4 $m6, secret NXDOMAIN, up.example forwarded"
}

truncation() {
	tc=$(nsrun a dig +time=2 +tries=1 +noedns +ignore @"$STUB" big.example A |
		grep -c 'flags:.* tc')
	[ "$tc" = 1 ] || fail "big.example over UDP without EDNS0: no TC"
	n=$(nsrun a dig +time=2 +tries=1 +noedns @"$STUB" big.example A +short |
		wc -l)
	[ "$n" = 60 ] || fail "big.example after dig's TCP retry: $n records"
	grep -q "query\[A\] big.example" "$tmp/dnsmasq.log" ||
		fail "dnsmasq was not asked for big.example"
	echo "truncation: stub set TC over UDP, TCP gave all $n records"
}

cache() {
	t1=$(ttl ttl.example)
	[ "$(q ttl.example A)" = 192.0.2.10 ] || fail "ttl.example: '$(q ttl.example A)'"
	echo "192.0.2.11 ttl.example" >"$tmp/hosts"
	kill -HUP "$(cat "$tmp/dnsmasq.pid")"
	sleep 2.1
	t2=$(ttl ttl.example)
	[ "$(q ttl.example A)" = 192.0.2.10 ] ||
		fail "ttl.example changed upstream before its TTL ran out"
	[ -n "$t1" ] && [ -n "$t2" ] && [ "$t2" -lt "$t1" ] ||
		fail "TTL did not go down: $t1 then $t2"
	# The new answer once the TTL ran out (8 s from the first query;
	# polled, so a slow machine does not fail it).
	for _ in $(seq 100); do
		[ "$(q ttl.example A)" = 192.0.2.11 ] && break
		sleep 0.1
	done
	[ "$(q ttl.example A)" = 192.0.2.11 ] ||
		fail "ttl.example after its TTL: '$(q ttl.example A)'"
	echo "cache: TTL $t1 then $t2, old answer until expiry, then the new one"
}

revoke() {
	api PUT /api/v1/policy "$nogrant" >/dev/null || { fail "policy"; return; }
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt 5000 ]; do
		[ "$(q db.corp.example A)" != "$m4" ] && break
		sleep 0.05
	done
	dt=$(($(now_ms) - t0))
	echo "revoke: db.corp.example stopped resolving after $dt ms"
	[ "$(rcode db.corp.example A)" = NXDOMAIN ] ||
		fail "db.corp.example after the revoke: $(rcode db.corp.example A)"
	[ "$dt" -le 1000 ] || fail "revoke took $dt ms (> 1000)"
}

run() {
	need dns_stub_test dig "$DNSMASQ" jq curl
	lab_start dns_stub_test --a nat1 --b none --c inet || return
	upstream || { fail "dnsmasq did not answer"; dump; return; }
	mesh_up || return
	api PUT /api/v1/policy "$nogrant" >/dev/null || { fail "tagOwners"; return; }
	for r in db secret; do
		api POST /api/v1/resources "{\"name\":\"$r\",
			\"address\":\"$r.corp.example\",
			\"connectors\":{\"tags\":[\"tag:c\"]}}" >/dev/null ||
			{ fail "resource $r"; return; }
	done
	api PUT /api/v1/policy "$grant" >/dev/null || { fail "policy"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kc=$(api POST /api/v1/auth-keys '{"tags":["tag:c"]}' | jq -r .key)
	chmod 711 "$tmp"
	start_agent a "$ka" --dns-listen "$STUB:53" \
		--resolv-conf "$tmp/a-resolv.conf"
	start_agent c "$kc"
	wait_running a 1 || return
	wait_running c 1 || return
	names
	resources
	truncation
	cache
	revoke
}

start_test
run
finish dns_stub
