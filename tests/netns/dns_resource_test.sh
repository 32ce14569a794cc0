#!/bin/sh
# DNS and wildcard resources, the client's side (issue 15): a netlab with
# the controller and a relay in "inet", client a behind nat1 and connector
# c on inet. A DNS resource "db" (db.corp.test) and a wildcard resource
# "wild" (*.wild.test), both served by tag:c, are created through the REST
# API and granted to a. Then `weft-agent resolve` on a:
#   - gives db.corp.test exactly the mapped /32 and /128 the controller
#     shows for "db" (any case, trailing dot allowed);
#   - gives each name under wild.test its own address inside the mapped
#     /24 (and the same host in the /120), the same one when asked again;
#   - refuses a name no granted resource covers (exit status 1 and a
#     message), and c, which is not granted anything, resolves nothing.
# The connector's translation (mapped -> real through its own resolver)
# is still to come; this test will grow with it (docs/connectors.md, "DNS
# resources").
#
# Needs root; exits 77 (ctest: skipped) without namespaces.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN, WEFT_RELAY_BIN.
set -u

here=$(cd "$(dirname "$0")" && pwd)
NETLAB=${NETLAB:-$here/../harness/netlab.sh}
AGENT=${WEFT_AGENT_BIN:?set WEFT_AGENT_BIN}
CTL=${WEFT_CONTROLLER_BIN:?set WEFT_CONTROLLER_BIN}
RELAY=${WEFT_RELAY_BIN:?set WEFT_RELAY_BIN}
CTL_ADDR=203.0.113.1:8080
RELAY_ADDR=203.0.113.1:3478
URL=http://$CTL_ADDR

. "$here/lib.sh"
. "$here/connector_lab.sh"
failed=0
L=dns$$
lab_up=
pids=

policy='{"tagOwners":{"tag:a":[],"tag:c":[]},"acls":[
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["resource:db:*","resource:wild:*"]}]}'

fail() {
	echo "FAIL: $*" >&2
	failed=1
}

dump() {
	for f in "$tmp"/*.log; do
		[ -f "$f" ] || continue
		echo "---- $f" >&2
		tail -n 40 "$f" >&2
	done
}

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

run() {
	lab up "$L" --a nat1 --b none --c inet --owner $$
	rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || { fail "netlab up failed"; return; }
	lab_up=1
	start_controller || { fail "controller did not start"; return; }
	admin=$(grep -o 'weft_api_[^[:space:]]*' "$tmp/ctl.out" | head -n1)
	"$CTL" relay-key --data-dir "$tmp/ctl" >"$tmp/ctl.pub" ||
		{ fail "relay-key"; return; }
	start_relay || { fail "relay did not start"; return; }
	api POST /api/v1/relays "{\"name\":\"inet\",\"region\":\"lab\",
		\"address\":\"$RELAY_ADDR\",\"public_key_pin\":\"$pin\"}" \
		>/dev/null || { fail "relay registration"; return; }
	api PUT /api/v1/policy '{"tagOwners":{"tag:a":[],"tag:c":[]}}' \
		>/dev/null || { fail "tagOwners"; return; }
	db=$(api POST /api/v1/resources '{"name":"db","address":"db.corp.test",
		"connectors":{"tags":["tag:c"]}}') || { fail "resource db"; return; }
	wild=$(api POST /api/v1/resources '{"name":"wild","address":"*.wild.test",
		"connectors":{"tags":["tag:c"]}}') ||
		{ fail "resource wild"; return; }
	api PUT /api/v1/policy "$policy" >/dev/null || { fail "policy"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kc=$(api POST /api/v1/auth-keys '{"tags":["tag:c"]}' | jq -r .key)
	db4=$(echo "$db" | jq -r .mapped.ipv4)
	db6=$(echo "$db" | jq -r .mapped.ipv6)
	w4=$(echo "$wild" | jq -r .mapped.ipv4)
	w6=$(echo "$wild" | jq -r .mapped.ipv6)
	echo "mapped: db $db4 $db6, wild $w4 $w6"

	chmod 711 "$tmp"
	start_agent a "$ka"
	start_agent c "$kc" --connector
	wait_running a 1 || return
	wait_running c 1 || return
	for _ in $(seq 50); do
		[ "$(cli a routes | jq '.resources|length')" = 2 ] && break
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
	return 0
}

if [ "$(id -u)" != 0 ]; then
	echo "dns_resource_test: skipped: needs root for network namespaces" >&2
	exit 77
fi
for t in jq curl; do
	command -v $t >/dev/null 2>&1 ||
		{ echo "dns_resource_test: $t missing" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

t_start=$(date +%s)
run
cleanup
echo "dns_resource: $(($(date +%s) - t_start)) s"
if grep -l "Sanitizer\|runtime error:" "$tmp"/*.log 2>/dev/null; then
	fail "sanitizer report (files above)"
fi
if [ $failed -eq 0 ]; then
	echo "ok   dns_resource"
else
	dump
	echo "FAIL dns_resource"
fi
exit $failed
