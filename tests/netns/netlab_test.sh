#!/bin/sh
# Proves that tests/harness/netlab.sh builds the NAT lab the namespace tests
# rely on: source NAT to the outside address, endpoint-independent mapping
# (eim) versus per-destination ports (sym), port-restricted filtering with
# unsolicited inbound packets dropped, hole punching between two eim NATs,
# a router between the NATs (--routed) that a TTL-2 packet does not pass,
# and that `down`/`gc` leave nothing behind.
#
#   netlab_test.sh [CASE...]   run the named cases (default: all)
#
# Needs root; exits 77 (ctest: skipped) when namespaces are unavailable.
# Environment: NETLAB (path of netlab.sh), WEFT_UDPTOOL (udptool binary).
set -u

here=$(cd "$(dirname "$0")" && pwd)
NETLAB=${NETLAB:-$here/../harness/netlab.sh}
UDPTOOL=${WEFT_UDPTOOL:?set WEFT_UDPTOOL to the udptool binary}
[ -x "$UDPTOOL" ] || { echo "no udptool at $UDPTOOL" >&2; exit 1; }

. "$here/lib.sh"
lab_up=
pids=
lab_prefix=t

# echo_server NAME NODE ADDR:PORT [-c N]: starts an echo server in NODE,
# detached (netlab's down ends it, or it exits after N answers).
echo_server() {
	_l=$1 _n=$2 _a=$3
	shift 3
	_ns=$(lab ns "$_l" "$_n")
	# A simple command, so that no shell waits for it and reports it
	# "Killed" when down ends it.
	ip netns exec "$_ns" "$UDPTOOL" echo -b "$_a" "$@" &
}

# Only the port of ADDR:PORT.
port_of() {
	echo "${1##*:}"
}


nat_rewrites_source_to_the_outside_address() {
	newname L
	case_up "$L" || return
	echo_server "$L" inet 203.0.113.1:7001
	seen=$(nsx "$L" a "$UDPTOOL" ask 203.0.113.1:7001) || fail "no echo"
	[ "${seen%:*}" = "$(lab addr "$L" nat1)" ] ||
		fail "inet saw a as '$seen', want nat1's outside address"
	# c sits on inet directly: no NAT in between.
	seen=$(nsx "$L" c "$UDPTOOL" ask 203.0.113.1:7001) || fail "no echo"
	[ "${seen%:*}" = 203.0.113.23 ] || fail "inet saw c as '$seen'"
}

eim_nat_keeps_one_mapping_for_every_destination() {
	newname L
	case_up "$L" || return
	echo_server "$L" inet 203.0.113.1:7001
	echo_server "$L" inet 203.0.113.1:7002
	echo_server "$L" c 203.0.113.23:7001
	out=$(nsx "$L" a "$UDPTOOL" ask -b 0.0.0.0:40000 203.0.113.1:7001 \
		203.0.113.1:7002 203.0.113.23:7001) || fail "no echo"
	uniq=$(echo "$out" | sort -u)
	[ "$(echo "$out" | wc -l)" -eq 3 ] && [ "$(echo "$uniq" | wc -l)" -eq 1 ] ||
		fail "three destinations saw different mappings: $out"
	[ "${uniq%:*}" = 203.0.113.11 ] || fail "mapping $uniq is not on nat1"
}

symmetric_nat_maps_each_destination_to_its_own_port() {
	newname L
	case_up "$L" --nat1 sym || return
	echo_server "$L" inet 203.0.113.1:7001
	echo_server "$L" inet 203.0.113.1:7002
	echo_server "$L" c 203.0.113.23:7001
	out=$(nsx "$L" a "$UDPTOOL" ask -b 0.0.0.0:40000 203.0.113.1:7001 \
		203.0.113.1:7002 203.0.113.23:7001) || fail "no echo"
	ports=$(echo "$out" | sed 's/.*://' | sort -u | wc -l)
	[ "$ports" -eq 3 ] || fail "want three different ports, saw: $out"
	[ "$(echo "$out" | sed 's/:.*//' | sort -u)" = 203.0.113.11 ] ||
		fail "mappings not on nat1: $out"
}

nat_drops_unsolicited_inbound_and_filters_by_port() {
	newname L
	case_up "$L" || return
	# One answer, then the echo server exits and frees its port.
	echo_server "$L" inet 203.0.113.1:7001 -c 1
	mapped=$(nsx "$L" a "$UDPTOOL" ask -b 0.0.0.0:40001 203.0.113.1:7001) ||
		fail "no echo"

	# A host a never talked to: dropped.
	nsx "$L" a "$UDPTOOL" listen -b 0.0.0.0:40001 -t 1500 >"$tmp/l1" &
	l=$!
	sleep 0.2
	nsx "$L" c "$UDPTOOL" send -c 5 "$mapped"
	wait "$l" && fail "c reached a unsolicited: $(cat "$tmp/l1")"

	# The address a talked to, but another port: dropped (port-restricted).
	nsx "$L" a "$UDPTOOL" listen -b 0.0.0.0:40001 -t 1500 >"$tmp/l2" &
	l=$!
	sleep 0.2
	nsx "$L" inet "$UDPTOOL" send -b 203.0.113.1:7009 -c 5 "$mapped"
	wait "$l" && fail "another port of inet reached a: $(cat "$tmp/l2")"

	# The very endpoint a talked to: let in.
	nsx "$L" a "$UDPTOOL" listen -b 0.0.0.0:40001 -t 3000 >"$tmp/l3" &
	l=$!
	sleep 0.2
	nsx "$L" inet "$UDPTOOL" send -b 203.0.113.1:7001 -c 5 "$mapped"
	wait "$l" || fail "the contacted endpoint did not reach a"
	grep -qx "from 203.0.113.1:7001" "$tmp/l3" ||
		fail "a saw: $(cat "$tmp/l3")"

	# The NAT answers nothing at all on its outside (no ICMP error)...
	r=$(nsx "$L" c "$UDPTOOL" refused -t 1000 203.0.113.11:45678)
	[ "$r" = silent ] || fail "nat1 answered an unsolicited packet: $r"
}

nat_without_drop_rule_answers_unsolicited_packets() {
	newname L
	case_up "$L" --nat1 eim-nodrop || return
	r=$(nsx "$L" c "$UDPTOOL" refused -t 1000 203.0.113.11:45678)
	[ "$r" = refused ] || fail "want an ICMP error from nat1, got: $r"
}

# Learns the mapped address of HOST's port 41000 from the echo server in
# inet of lab NAME.
mapped_of() {
	nsx "$1" "$2" "$UDPTOOL" ask -b 0.0.0.0:41000 203.0.113.1:7001
}

# punch NAME [TTL]: b starts punching towards a early (its first packets
# reach nat1 before a sends anything to b), then a joins. With TTL, a
# first sends b's mapping one packet with that IP TTL (an opener). Writes
# the outcome of each side to $tmp/pa and $tmp/pb.
punch() {
	echo_server "$1" inet 203.0.113.1:7001
	ma=$(mapped_of "$1" a) || fail "no echo for a"
	mb=$(mapped_of "$1" b) || fail "no echo for b"
	if [ -n "${2:-}" ]; then
		nsx "$1" a "$UDPTOOL" send -b 0.0.0.0:41000 -c 1 -T "$2" "$mb" ||
			fail "send with TTL $2"
	fi
	nsx "$1" b "$UDPTOOL" punch -b 0.0.0.0:41000 -t 4000 "$ma" >"$tmp/pb" &
	pb=$!
	sleep 0.7
	nsx "$1" a "$UDPTOOL" punch -b 0.0.0.0:41000 -t 3000 "$mb" >"$tmp/pa"
	wait "$pb"
}

hole_punching_works_between_two_eim_nats() {
	newname L
	case_up "$L" || return
	punch "$L"
	[ "$(cat "$tmp/pa")" = ok ] || fail "a did not hear b"
	[ "$(cat "$tmp/pb")" = ok ] || fail "b did not hear a"
}

hole_punching_fails_behind_a_symmetric_nat() {
	newname L
	case_up "$L" --nat1 sym || return
	punch "$L"
	[ "$(cat "$tmp/pa")" = timeout ] || fail "a heard b through sym NAT"
	[ "$(cat "$tmp/pb")" = timeout ] || fail "b heard a through sym NAT"
}

early_packet_breaks_punching_without_the_drop_rule() {
	newname L
	case_up "$L" --nat1 eim-nodrop || return
	punch "$L"
	[ "$(cat "$tmp/pb")" = timeout ] ||
		fail "b heard a although nat1 had to pick a new port"
}

# --routed puts a router (inet) between the NATs: a packet from a with TTL
# 2 is mapped by nat1 and expires in inet, so it opens nat1 for b without
# leaving nat2 a conntrack entry that would take b's port; with TTL 3 it
# reaches nat2 and breaks punching between the two eim-nodrop NATs.
routed_low_ttl_opener_saves_punching_through_nodrop_nats() {
	newname L
	case_up "$L" --routed --nat1 eim-nodrop --nat2 eim-nodrop || return
	punch "$L" 2
	[ "$(cat "$tmp/pa")" = ok ] || fail "TTL 2: a did not hear b"
	[ "$(cat "$tmp/pb")" = ok ] || fail "TTL 2: b did not hear a"
	lab down "$L"
	newname L
	case_up "$L" --routed --nat1 eim-nodrop --nat2 eim-nodrop || return
	punch "$L" 3
	[ "$(cat "$tmp/pb")" = timeout ] ||
		fail "TTL 3: b heard a although a's packet reached nat2"
}

same_lan_hosts_reach_each_other_without_nat() {
	newname L
	case_up "$L" --same-lan || return
	[ "$(lab where "$L" b)" = nat1 ] || fail "b is not behind nat1"
	echo_server "$L" b "$(lab addr "$L" b):7001"
	seen=$(nsx "$L" a "$UDPTOOL" ask "$(lab addr "$L" b):7001") ||
		fail "no echo"
	[ "${seen%:*}" = "$(lab addr "$L" a)" ] || fail "b saw a as $seen"
	echo_server "$L" inet 203.0.113.1:7001
	seen=$(nsx "$L" b "$UDPTOOL" ask 203.0.113.1:7001) || fail "no echo"
	[ "${seen%:*}" = 203.0.113.11 ] || fail "inet saw b as $seen"
}

down_removes_everything_and_is_idempotent() {
	newname L
	case_up "$L" || return
	echo_server "$L" inet 203.0.113.1:7001
	links_before=$(ip -o link show | wc -l)
	lab down "$L" || fail "down failed"
	lab down "$L" || fail "second down failed"
	ip netns list | grep -q "^wl-$L-" && fail "namespaces left: $(ip netns list)"
	ip -o link show | grep -q "wl-$L-" && fail "links left"
	[ "$(ip -o link show | wc -l)" -eq "$links_before" ] ||
		fail "the number of links in the caller's namespace changed"
	lab list | grep -qx "$L" && fail "lab still listed"
	nsx "$L" inet true 2>/dev/null && fail "exec into a removed lab worked"
	return 0
}

down_finds_leftovers_of_a_crashed_run() {
	newname L
	labs="$labs $L"
	# What a run killed half-way through `up` may leave: namespaces and no
	# state.
	ip netns add "wl-$L-inet" && ip netns add "wl-$L-a" || fail "ip netns add"
	lab down "$L" || fail "down failed"
	ip netns list | grep -q "^wl-$L-" && fail "leftovers remain"
	return 0
}

gc_removes_labs_of_dead_owners_only() {
	newname dead
	newname live
	labs="$labs $dead $live"
	sleep 30 &
	owner=$!
	lab up "$dead" --owner "$owner" || fail "up failed"
	lab up "$live" --owner $$ || fail "up failed"
	kill "$owner"
	wait "$owner" 2>/dev/null
	lab gc 2>/dev/null || fail "gc failed"
	ip netns list | grep -q "^wl-$dead-" && fail "gc left the dead lab"
	ip netns list | grep -q "^wl-$live-" || fail "gc removed a live lab"
	lab down "$live"
}

all="nat_rewrites_source_to_the_outside_address
eim_nat_keeps_one_mapping_for_every_destination
symmetric_nat_maps_each_destination_to_its_own_port
nat_drops_unsolicited_inbound_and_filters_by_port
nat_without_drop_rule_answers_unsolicited_packets
hole_punching_works_between_two_eim_nats
hole_punching_fails_behind_a_symmetric_nat
early_packet_breaks_punching_without_the_drop_rule
routed_low_ttl_opener_saves_punching_through_nodrop_nats
same_lan_hosts_reach_each_other_without_nat
down_removes_everything_and_is_idempotent
down_finds_leftovers_of_a_crashed_run
gc_removes_labs_of_dead_owners_only"

need netlab_test
start_test
# shellcheck disable=SC2086 # the case names
run_cases netlab ${*:-$all}
