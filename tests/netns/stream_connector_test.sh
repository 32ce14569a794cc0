#!/bin/sh
# Stream mode to resources behind a connector (issue 18). A netlab with
# the controller and a relay in "inet", client a on inet with --no-tun
# started as user nobody (no capabilities), connector c on inet with
# --no-tun too (a connector that only serves streams needs no TUN, no
# nftables, no forwarding: it dials the resources from user space), and
# the site namespace h behind c (connector_lab.sh's make_site_ha; b joins
# the same site LAN as a second connector for the failover) with HTTP
# servers on $H:8080, $H:8081 and [$H6]:8082 and a dnsmasq on $H that
# c uses as its resolver (/etc/netns/<c's namespace>/resolv.conf).
# Resources, all served by tag:c and granted to tag:a (TCP):
#   site  ip $H, filters tcp 8080 and 8081 (narrowed to 8080 later)
#   web   dns web.site.test (dnsmasq: $H)
#   web6  dns v6.site.test (dnsmasq: AAAA $H6 only)
#   apps  wildcard *.apps.test (dnsmasq: x.apps.test $H, others NXDOMAIN)
# Checked:
#   - curl --socks5-hostname to web.site.test fetches the page: a sends
#     the name, c resolves it with its own resolver and dials $H; the
#     same through the HTTP CONNECT proxy, and v6.site.test (A gives
#     nothing, AAAA does) over IPv6 to [$H6]; x.apps.test (a name under
#     the wildcard) too;
#   - a --forward to the ip resource $H:8080 carries an HTTP session;
#   - a port where nothing listens at the resource: refused by c
#     (refused_service);
#   - an unknown name: one that is neither a node nor a resource is
#     refused by a (SOCKS5 host unreachable, counted); nosuch.apps.test,
#     which c's resolver does not know, is refused by c (refused_resolve,
#     logged as stream_unresolved) and the client's connection closes;
#   - a port outside the resource's filter, sent by a client with a
#     stale map (a cut off from the controller while site is narrowed to
#     8080): c refuses it (refused_policy, its filter's denied) and logs
#     event=stream_denied; the server on 8081 sees nothing; once a has
#     the new map it refuses the port itself (refused_early, SOCKS5 "not
#     allowed");
#   - c's status counts the streams (accepted, accepted_resource,
#     bytes_tx/bytes_rx) and every stream ends (active 0 on both);
#   - failover: b joins as a second connector of every resource on the
#     same site LAN (a keeps c: the choice is sticky); c is killed
#     (SIGKILL) and a page comes through b within seconds (the time is
#     printed), chosen as the TUN path chooses and logged; c restarted
#     with a TUN (its nftables table and forwarding in place) takes the
#     streams when b is killed in turn.
#
# Needs root, dnsmasq, nft; exits 77 (ctest: skipped) without namespaces.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN,
# WEFT_RELAY_BIN.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/connector_lab.sh"
lab_env
RELAY=${WEFT_RELAY_BIN:?set WEFT_RELAY_BIN}
H=192.168.79.10
C_LAN=192.168.79.1
H6=fd00:79::10
C_LAN6=fd00:79::1
B_LAN=192.168.79.2
L=sc$$
etc_ns=
PAGE="hello from the site"

policy='{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[
 {"action":"accept","proto":"tcp","src":["tag:a"],
  "dst":["resource:site:*","resource:web:*","resource:web6:*","resource:apps:*"]}]}'

# streams NODE FIELD: a counter of NODE's status "streams" object.
streams() {
	cli "$1" status | jq ".streams.$2"
}

# socks NAME PORT: curl through a's SOCKS5 proxy, the name resolved by
# the agents (never by curl).
socks() {
	nsrun a curl -sS -m 10 --socks5-hostname 127.0.0.1:1080 \
		"http://$1:$2/" 2>&1
}

# serve ADDR PORT: python's HTTP server in h.
serve() {
	nsrun h python3 -m http.server "$2" --bind "$1" \
		--directory "$tmp/www" >>"$tmp/http-$2.log" 2>&1 &
	pids="$pids $!"
}

# site_ports NODE: the TCP ports of NODE's map entry for site (its
# "serves" on c, its "resources" on a).
site_ports() {
	cli "$1" routes | jq -c '[(.resources + .serves)[] |
		select(.name == "site") | .filters[] | .ports] | flatten'
}

# wait_ports NODE PORTS SECONDS: until NODE's map holds site with PORTS.
wait_ports() {
	for _ in $(seq $(($3 * 10))); do
		[ "$(site_ports "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	fail "$1's map never showed site with $2: $(site_ports "$1")"
	return 1
}

start_dns() {
	nsrun h dnsmasq --no-daemon --conf-file=/dev/null --no-resolv \
		--no-hosts --bind-interfaces --listen-address="$H" \
		--local=/site.test/ --local=/apps.test/ \
		--address=/web.site.test/"$H" --address=/v6.site.test/"$H6" \
		--address=/x.apps.test/"$H" \
		--log-queries --log-facility=- >>"$tmp/dnsmasq.log" 2>&1 &
	pids="$pids $!"
	for _ in $(seq 50); do
		nsrun c dig +short +time=1 +tries=1 "@$H" web.site.test \
			2>/dev/null | grep -qx "$H" && return 0
		sleep 0.1
	done
	return 1
}

# start_a: a's agent as nobody, without a TUN, with its proxies and
# forwards to the ip resource.
start_a() {
	mkdir -p "$tmp/a"
	chown nobody "$tmp/a"
	nsrun a setpriv --reuid=nobody --regid="$(id -g nobody)" \
		--clear-groups --inh-caps=-all \
		"$AGENT" up --controller "$URL" --insecure-http \
		--auth-key "$ka" --state-dir "$tmp/a" --socket "$tmp/a/sock" \
		--hostname a --no-tun --no-direct --dns off \
		--forward "127.0.0.1:18080=$H:8080" \
		--forward "127.0.0.1:18081=$H:8081" \
		--socks5 127.0.0.1:1080 --http-proxy 127.0.0.1:3128 \
		2>>"$tmp/a.log" &
	pids="$pids $!"
}

site() {
	make_site_ha b "$B_LAN" || { fail "site namespace"; return 1; }
	ip -n "$(lab ns "$L" c)" addr add "$C_LAN6/64" dev lan0 nodad &&
		ip -n "$hns" addr add "$H6/64" dev br0 nodad ||
		{ fail "site IPv6"; return 1; }
	for n in b c; do
		etc_ns="$etc_ns /etc/netns/$(lab ns "$L" $n)"
	done
	for d in $etc_ns; do
		mkdir -p "$d" &&
			printf 'nameserver %s\noptions timeout:1 attempts:2\n' \
				"$H" >"$d/resolv.conf" ||
			{ fail "resolv.conf in $d"; return 1; }
	done
	start_dns || { fail "dnsmasq did not start"; return 1; }
	mkdir -p "$tmp/www"
	echo "$PAGE" >"$tmp/www/index.html"
	serve "$H" 8080
	serve "$H" 8081
	serve "$H6" 8082
	for u in "http://$H:8080/" "http://$H:8081/" "http://[$H6]:8082/"; do
		for _ in $(seq 50); do
			nsrun c curl -fsS -o /dev/null "$u" 2>/dev/null && break
			sleep 0.1
		done
	done
}

resources() {
	api PUT /api/v1/policy '{"tagOwners":{"tag:a":[],"tag:c":[]}}' \
		>/dev/null || { fail "tagOwners"; return 1; }
	site_id=$(api POST /api/v1/resources "{\"name\":\"site\",
		\"address\":\"$H\",\"filters\":[{\"protocol\":\"tcp\",
		\"ports\":[\"8080\",\"8081\"]}],
		\"connectors\":{\"tags\":[\"tag:c\"]}}" | jq -r .id) &&
		api POST /api/v1/resources '{"name":"web",
			"address":"web.site.test",
			"connectors":{"tags":["tag:c"]}}' >/dev/null &&
		api POST /api/v1/resources '{"name":"web6",
			"address":"v6.site.test",
			"connectors":{"tags":["tag:c"]}}' >/dev/null &&
		api POST /api/v1/resources '{"name":"apps",
			"address":"*.apps.test",
			"connectors":{"tags":["tag:c"]}}' >/dev/null ||
		{ fail "resources"; return 1; }
	api PUT /api/v1/policy "$policy" >/dev/null || { fail "policy"; return 1; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kc=$(api POST /api/v1/auth-keys '{"tags":["tag:c"]}' | jq -r .key)
	kb=$(api POST /api/v1/auth-keys '{"tags":["tag:c"]}' | jq -r .key)
}

# pages: the site through every kind of target.
pages() {
	out=$(socks web.site.test 8080)
	[ "$out" = "$PAGE" ] ||
		fail "curl --socks5-hostname to web.site.test:8080: $out"
	out=$(nsrun a curl -sS -m 10 -p -x http://127.0.0.1:3128 \
		http://web.site.test:8080/ 2>&1)
	[ "$out" = "$PAGE" ] ||
		fail "HTTP CONNECT to web.site.test:8080: $out"
	out=$(socks v6.site.test 8082)
	[ "$out" = "$PAGE" ] ||
		fail "curl --socks5-hostname to v6.site.test:8082: $out"
	grep -q "$H6" "$tmp/http-8082.log" ||
		fail "the IPv6 server saw no request"
	out=$(socks X.apps.test 8080)
	[ "$out" = "$PAGE" ] ||
		fail "curl --socks5-hostname to x.apps.test:8080: $out"
	# An HTTP session (two requests on one connection) through the
	# forward to the ip resource.
	out=$(nsrun a curl -sS -m 10 http://127.0.0.1:18080/ \
		http://127.0.0.1:18080/index.html 2>&1)
	[ "$out" = "$PAGE
$PAGE" ] || fail "curl through the forward to $H:8080: $out"
	[ "$(streams c accepted_resource)" -ge 5 ] ||
		fail "c accepted $(streams c accepted_resource) streams to resources, want 5"
	# Names travel to c unresolved: a's own resolver was never asked.
	grep -q "query\[A\] web.site.test from $C_LAN" "$tmp/dnsmasq.log" ||
		fail "c did not resolve web.site.test itself"
}

unknown() {
	r0=$(streams a socks5_refused)
	out=$(socks nosuch.example 8080) &&
		fail "an unknown name got: $out"
	[ "$(streams a socks5_refused)" -gt "$r0" ] ||
		fail "a did not count the refused unknown name"
	out=$(socks nosuch.apps.test 8080) &&
		fail "nosuch.apps.test (NXDOMAIN at the site) got: $out"
	[ "$(streams c refused_resolve)" -ge 1 ] ||
		fail "c did not count the name it could not resolve"
	grep -q "event=stream_unresolved .*name=nosuch.apps.test" \
		"$tmp/c.log" || fail "c did not log the unresolved name"
	# Allowed, resolved, nothing listens there.
	out=$(socks web.site.test 9) && fail "web.site.test:9 got: $out"
	[ "$(streams c refused_service)" -ge 1 ] ||
		fail "c did not count the resource's closed port"
}

# denied: 8081 by a client whose map still allows it.
denied() {
	out=$(nsrun a curl -sS -m 10 http://127.0.0.1:18081/ 2>&1)
	[ "$out" = "$PAGE" ] || fail "8081 before the change: $out"
	before=$(grep -c GET "$tmp/http-8081.log")
	# a no longer hears from the controller: its map stays as it is.
	nsrun a nft -f - <<EOF || { fail "nft in a"; return; }
table inet cut {
	chain out { type filter hook output priority 0;
		ip daddr 203.0.113.1 tcp dport 8080 drop; }
	chain in { type filter hook input priority 0;
		ip saddr 203.0.113.1 tcp sport 8080 drop; }
}
EOF
	api PATCH "/api/v1/resources/$site_id" '{"filters":[{"protocol":"tcp",
		"ports":["8080"]}]}' >/dev/null || { fail "narrowing site"; return; }
	wait_ports c '["8080"]' 10 || return
	[ "$(site_ports a)" = '["8080-8081"]' ] ||
		fail "a's map changed although cut off: $(site_ports a)"
	p0=$(streams c refused_policy)
	d0=$(cli c status | jq .dataplane.denied)
	out=$(nsrun a curl -sS -m 10 http://127.0.0.1:18081/ 2>&1) &&
		fail "8081 (not allowed any more) got: $out"
	[ "$(streams c refused_policy)" -gt "$p0" ] ||
		fail "c did not count the denied stream"
	[ "$(cli c status | jq .dataplane.denied)" -gt "$d0" ] ||
		fail "c's filter did not count the denied stream"
	grep -q "event=stream_denied .*dst=$H dport=8081" "$tmp/c.log" ||
		fail "c did not log the denied stream"
	[ "$(grep -c GET "$tmp/http-8081.log")" = "$before" ] ||
		fail "the 8081 server saw the denied stream"
	nsrun a nft delete table inet cut || fail "nft delete in a"
	wait_ports a '["8080"]' 40 || return
	e0=$(streams a refused_early)
	out=$(socks "$H" 8081) && fail "8081 through SOCKS5 got: $out"
	# curl 7.88 prints the reply code: 2, not allowed by ruleset.
	echo "$out" | grep -q "(2)" ||
		fail "SOCKS5 to $H:8081 did not answer reply 2: $out"
	[ "$(streams a refused_early)" -gt "$e0" ] ||
		fail "a did not count its early reject"
}

run() {
	lab_start stream_connector --a inet --b inet --c inet || return
	site || return
	mesh_up || return
	resources || return
	chmod 711 "$tmp"
	start_agent c "$kc" --no-tun
	c_pid=$AGENT_PID
	start_a
	wait_running c 1 || return
	wait_running a 1 || return
	for _ in $(seq 50); do
		[ "$(cli a routes | jq '[.resources[] |
			select(.connector != null)] | length')" = 4 ] && break
		sleep 0.1
	done
	[ "$(cli a status | jq -r .tun)" = null ] || fail "a has a TUN"
	pages
	unknown
	denied
	cli a status | jq -c .streams
	cli c status | jq -c .streams
	[ "$(streams c bytes_tx)" -gt 0 ] && [ "$(streams c bytes_rx)" -gt 0 ] ||
		fail "c counted no bytes"
	for _ in $(seq 50); do
		[ "$(streams a active)" = 0 ] && [ "$(streams c active)" = 0 ] &&
			break
		sleep 0.1
	done
	[ "$(streams a active)" = 0 ] || fail "a still has $(streams a active) streams"
	[ "$(streams c active)" = 0 ] || fail "c still has $(streams c active) streams"
	failover
}

# via RESOURCE: the connector a uses for RESOURCE now.
via() {
	cli a routes | jq -r --arg r "$1" '.resources[] | select(.name == $r) | .via'
}

# page_within SECONDS: until the page comes through SOCKS5 from
# web.site.test (each try 2 s at most); prints the milliseconds taken.
page_within() {
	_t0=$(now_ms)
	_end=$((_t0 + $1 * 1000))
	while [ "$(now_ms)" -lt "$_end" ]; do
		[ "$(nsrun a curl -sS -m 2 --socks5-hostname 127.0.0.1:1080 \
			http://web.site.test:8080/ 2>/dev/null)" = "$PAGE" ] &&
			{ echo $(($(now_ms) - _t0)); return 0; }
		sleep 0.1
	done
	return 1
}

# failover: b joins as a second connector (a keeps c: the choice is
# sticky); c is killed (SIGKILL) and a's streams go to b, chosen the way
# the TUN path chooses (the stream's unanswered header makes c lost);
# c comes back with a TUN (its nftables table and forwarding in place)
# and takes the streams when b is killed in turn.
failover() {
	start_agent b "$kb" --no-tun
	b_pid=$AGENT_PID
	wait_running b 1 || return
	for _ in $(seq 100); do
		[ "$(cli a routes | jq '[.resources[] | select(.name == "web") |
			.connectors[]] | length' 2>/dev/null)" = 2 ] && break
		sleep 0.1
	done
	[ "$(via web)" = c ] || fail "a moved web to $(via web) when b joined"
	kill -KILL "$c_pid"
	took=$(page_within 20) || { fail "no page through b within 20 s of killing c"; return; }
	echo "c killed: a page through b after $took ms"
	[ "$(via web)" = b ] || fail "a uses $(via web) for web, not b"
	[ "$(streams b accepted_resource)" -ge 1 ] ||
		fail "b accepted no stream to a resource"
	grep -q "event=resource_connector resource=web .*connector=b .*why=lost" \
		"$tmp/a.log" || fail "a did not log the move of web to b"

	start_agent c "$kc"
	c_pid=$AGENT_PID
	wait_running c 1 || return
	[ "$(cli c status | jq -r .tun)" != null ] || fail "c has no TUN"
	stop_pid "$b_pid" KILL
	took=$(page_within 20) ||
		{ fail "no page through c (TUN) within 20 s of killing b"; return; }
	echo "b killed: a page through c (with a TUN) after $took ms"
	[ "$(streams c accepted_resource)" -ge 1 ] ||
		fail "c with a TUN accepted no stream to a resource"
}

need stream_connector_test jq curl python3 setpriv dnsmasq dig nft
id nobody >/dev/null 2>&1 || { echo "stream_connector_test: no user nobody" >&2; exit 1; }
start_test
trap 'cleanup; for d in $etc_ns; do rm -rf "$d"; done; rm -rf "$tmp"' EXIT
run
finish stream_connector
