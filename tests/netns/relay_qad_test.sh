#!/bin/sh
# QAD and STUN behind NAT: weft-relay runs in the lab's "inet" namespace, a
# weft-relay-probe runs in host a behind nat1. The QAD address the relay
# sends over the QUIC control connection, and the STUN answer to a request
# from the same socket, must both be nat1's outside address and the mapped
# port; Debian's turnutils_stunclient (coturn) from a must see nat1's
# outside address too.
#
#   relay_qad_test.sh [CASE...]   run the named cases (default: all)
#
# Needs root; exits 77 (ctest: skipped) when namespaces are unavailable.
# Environment: NETLAB, WEFT_RELAY_BIN, WEFT_PROBE_BIN, WEFT_MKTOKEN.
set -u

here=$(cd "$(dirname "$0")" && pwd)
NETLAB=${NETLAB:-$here/../harness/netlab.sh}
RELAY=${WEFT_RELAY_BIN:?set WEFT_RELAY_BIN}
PROBE=${WEFT_PROBE_BIN:?set WEFT_PROBE_BIN}
MKTOKEN=${WEFT_MKTOKEN:?set WEFT_MKTOKEN}
RELAY_ADDR=203.0.113.1:3478

. "$here/lib.sh"
lab_up=
pids=
lab_prefix=q

# relay_start NAME: starts weft-relay in inet of lab NAME and sets $pin.
relay_start() {
	: >"$tmp/relay.out"
	ip netns exec "$(lab ns "$1" inet)" "$RELAY" --listen "$RELAY_ADDR" \
		--key "$tmp/relay.key" --controller-key "$tmp/ctl.pub" \
		>"$tmp/relay.out" 2>"$tmp/relay.err" &
	for _ in $(seq 50); do
		pin=$(sed -n 's/^relay pin: //p' "$tmp/relay.out" 2>/dev/null)
		[ -n "$pin" ] && grep -q "^relay listening" "$tmp/relay.out" &&
			return 0
		sleep 0.1
	done
	fail "relay did not start: $(cat "$tmp/relay.err")"
	return 1
}

# probe NAME HOST NODE [flags]: runs weft-relay-probe in HOST, JSON events
# to $tmp/probe.out.
probe() {
	_l=$1 _h=$2 _node=$3
	shift 3
	"$MKTOKEN" sign "$tmp/ctl.key" "$_node" >"$tmp/tok.$_node" ||
		fail "mktoken sign"
	nsx "$_l" "$_h" "$PROBE" --relay "$RELAY_ADDR" --pin "$pin" \
		--token-file "$tmp/tok.$_node" --timeout 10s "$@" \
		>"$tmp/probe.out" 2>"$tmp/probe.err" ||
		fail "probe failed: $(cat "$tmp/probe.out" "$tmp/probe.err")"
}

# event_addr EVENT: the "addr" of the first probe event named EVENT.
event_addr() {
	grep "\"event\": *\"$1\"" "$tmp/probe.out" | head -n1 |
		sed -n 's/.*"addr": *"\([^"]*\)".*/\1/p'
}

qad_and_stun_show_the_nat_outside_address_and_port() {
	newname L
	case_up "$L" || return
	relay_start "$L" || return
	probe "$L" a 7 --bind 0.0.0.0:42000 --stun
	qad=$(event_addr qad)
	stun=$(event_addr stun)
	local_addr=$(event_addr local)
	[ "$local_addr" = 0.0.0.0:42000 ] || fail "probe bound $local_addr"
	# nat1 is endpoint-independent and keeps a free source port.
	[ "$qad" = 203.0.113.11:42000 ] || fail "QAD said '$qad'"
	[ "$stun" = "$qad" ] || fail "STUN said '$stun', QAD '$qad'"

	out=$(nsx "$L" a turnutils_stunclient -p 3478 203.0.113.1 2>&1) ||
		fail "turnutils_stunclient failed: $out"
	refl=$(echo "$out" |
		sed -n 's/.*UDP reflexive addr: *\([0-9.]*\):[0-9]*.*/\1/p' | sort -u)
	[ "$refl" = 203.0.113.11 ] ||
		fail "turnutils_stunclient saw '$refl': $out"
}

qad_equals_stun_from_the_same_socket_behind_a_symmetric_nat() {
	newname L
	case_up "$L" --nat1 sym || return
	relay_start "$L" || return
	probe "$L" a 7 --bind 0.0.0.0:42000 --stun
	qad=$(event_addr qad)
	stun=$(event_addr stun)
	[ "${qad%:*}" = 203.0.113.11 ] || fail "QAD said '$qad'"
	# Same socket, same destination: one mapping, whatever the NAT.
	[ "$stun" = "$qad" ] || fail "STUN said '$stun', QAD '$qad'"
}

qad_shows_the_host_address_without_nat() {
	newname L
	case_up "$L" --c inet || return
	relay_start "$L" || return
	probe "$L" c 9 --bind 0.0.0.0:42000 --stun
	[ "$(event_addr qad)" = 203.0.113.23:42000 ] ||
		fail "QAD said '$(event_addr qad)'"
	[ "$(event_addr stun)" = 203.0.113.23:42000 ] ||
		fail "STUN said '$(event_addr stun)'"
}

all="qad_and_stun_show_the_nat_outside_address_and_port
qad_equals_stun_from_the_same_socket_behind_a_symmetric_nat
qad_shows_the_host_address_without_nat"

need relay_qad_test turnutils_stunclient
start_test
"$MKTOKEN" keygen "$tmp/ctl.key" "$tmp/ctl.pub" || exit 1
# shellcheck disable=SC2086 # the case names
run_cases relay_qad ${*:-$all}
