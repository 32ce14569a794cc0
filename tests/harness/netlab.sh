#!/bin/sh
# A NAT lab in network namespaces for tests that need real NAT behaviour
# (QAD/STUN behind NAT, hole punching, relay fallback).
#
#   netlab.sh up NAME [options]     build lab NAME; exit 77 when namespaces
#                                   are not available (not root, no nft...)
#   netlab.sh exec NAME NODE cmd... run cmd inside NODE's namespace
#   netlab.sh addr NAME NODE        print NODE's address (see below)
#   netlab.sh where NAME HOST       print where HOST sits: inet, nat1, nat2
#   netlab.sh ns NAME NODE          print the namespace name of NODE
#   netlab.sh down NAME             remove everything of lab NAME; idempotent,
#                                   also finds what a crashed run left behind
#   netlab.sh gc                    remove the labs whose owner process died
#   netlab.sh list                  print the names of existing labs
#
# Options of `up`:
#   --a|--b|--c inet|nat1|nat2|none  where host a, b, c sits
#                                    (default: a nat1, b nat2, c inet)
#   --same-lan                       a and b on one LAN behind nat1
#   --nat1|--nat2 eim|sym|eim-nodrop NAT behaviour (default eim)
#   --routed                         a router hop between the NATs (below)
#   --owner PID                      the process the lab belongs to, for gc
#                                    (default: the caller, $PPID)
#
# Topology. Namespace names are wl-NAME-NODE. Every link is created inside
# the lab's namespaces (never in the caller's), so deleting the namespaces
# removes every veth and bridge, and two labs never collide on a name.
#
#   inet   "the internet": bridge pub, 203.0.113.1/24 (TEST-NET-3). Hosts the
#          controller and relays. Nothing routes out of the lab.
#   nat1   outside "out" 203.0.113.11 on pub; inside bridge "lan" 10.1.0.1/24
#   nat2   outside "out" 203.0.113.12 on pub; inside bridge "lan" 10.2.0.1/24
#   a,b,c  interface eth0; on inet: 203.0.113.21/.22/.23; behind natN:
#          10.N.0.11/.12/.13, default route via 10.N.0.1
#
# --routed: nat1 and nat2 are not on pub but each on a point-to-point link
# of its own to inet ("out" 203.0.113.1N/32 <-> inet's "nN"), and inet
# routes between those links and pub (ip_forward; proxy ARP on pub, so the
# hosts on pub still reach the NATs' addresses). Every address stays the
# same, but a packet between the NATs now crosses one router (inet): one
# sent with TTL 2 by a host behind nat1 is mapped by nat1 and expires in
# inet, so it never reaches nat2 (the low-TTL "opener" of hole punching,
# issue 12; on one bridge it would reach nat2 with TTL 1, which is enough
# for a packet addressed to the NAT itself). The controller and relays in
# inet are local to the router, so they are as near as before.
#
# NAT modes (nftables in the NAT's namespace):
#   eim         `masquerade` on out: endpoint-independent mapping (the
#               source port is kept when free) with port-restricted
#               filtering (conntrack), and new inbound packets on out are
#               dropped. The drop matters for hole punching: without it an
#               early packet from the peer creates a conntrack entry for the
#               mapped port, and the host's own first packet then gets a
#               different port.
#   sym         `masquerade random` + the drop: the mapped port depends on
#               the destination (a symmetric NAT); punching fails.
#   eim-nodrop  `masquerade` without the drop rule, to show the above.
#
# `addr NAME NODE`: inet -> 203.0.113.1, nat1/nat2 -> the outside address,
# nat1-lan/nat2-lan -> the inside address, a/b/c -> the host's address.
#
# State lives in $NETLAB_RUN (default /run/weft-netlab)/NAME: the owner pid
# and its start time (so a reused pid does not keep a dead lab alive) and
# the placement of the hosts.
set -eu

RUN=${NETLAB_RUN:-/run/weft-netlab}
PUB_NET=203.0.113
SKIP=77

die() {
	echo "netlab: $*" >&2
	exit 1
}

skip() {
	echo "netlab: skipped: $*" >&2
	exit $SKIP
}

check_name() {
	case "$1" in
	'' | *[!a-z0-9]*) die "bad lab name '$1' (use 1-12 of a-z0-9)" ;;
	esac
	[ ${#1} -le 12 ] || die "lab name '$1' is longer than 12 characters"
}

nsname() {
	echo "wl-$1-$2"
}

# Runs a command in the lab namespace of NODE: in NAME NODE cmd...
in_ns() {
	_ns=$(nsname "$1" "$2")
	shift 2
	ip netns exec "$_ns" "$@"
}

# Start time of a process (field 22 of /proc/PID/stat), empty when gone.
starttime() {
	[ -r "/proc/$1/stat" ] || return 0
	# The command name (field 2) may hold spaces: cut after the last ')'.
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $20 }'
}

host_index() {
	case "$1" in
	a) echo 1 ;;
	b) echo 2 ;;
	c) echo 3 ;;
	*) die "unknown host '$1'" ;;
	esac
}

# Prints lab NAME's namespaces, one a line, also those of a broken lab.
lab_namespaces() {
	ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^wl-$1-" || true
}

cmd_down() {
	check_name "$1"
	for ns in $(lab_namespaces "$1"); do
		# Processes still running inside would keep the namespace alive
		# after its name is gone: end them first.
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	# Links are only ever created inside the lab's namespaces, but check
	# the caller's namespace as well in case a run died mid-way.
	for l in $(ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' |
		sed 's/@.*//' | grep "^wl-$1-" || true); do
		ip link del "$l" 2>/dev/null || true
	done
	rm -rf "${RUN:?}/$1"
	left=$(lab_namespaces "$1")
	[ -z "$left" ] || die "could not remove: $left"
}

cmd_list() {
	{
		ip netns list 2>/dev/null | awk '{ print $1 }' |
			sed -n 's/^wl-\([a-z0-9]*\)-.*/\1/p'
		[ -d "$RUN" ] && ls "$RUN"
	} | sort -u
}

cmd_gc() {
	for name in $(cmd_list); do
		owner=
		[ -f "$RUN/$name/owner" ] && owner=$(cat "$RUN/$name/owner")
		pid=${owner% *}
		start=${owner#* }
		if [ -n "$owner" ] && [ "$(starttime "$pid")" = "$start" ]; then
			continue
		fi
		echo "netlab: removing stale lab $name" >&2
		cmd_down "$name"
	done
}

nft_rules() {
	mode=$1
	masq=masquerade
	drop=yes
	case "$mode" in
	eim) ;;
	sym) masq="masquerade random" ;;
	eim-nodrop) drop= ;;
	*) die "unknown NAT mode '$mode' (eim, sym, eim-nodrop)" ;;
	esac
	echo "table ip netlab {"
	echo "  chain postrouting {"
	echo "    type nat hook postrouting priority srcnat; policy accept;"
	echo "    oifname \"out\" $masq"
	echo "  }"
	if [ -n "$drop" ]; then
		for hook in input forward; do
			echo "  chain $hook {"
			echo "    type filter hook $hook priority filter; policy accept;"
			echo "    iifname \"out\" ct state { new, invalid, untracked } drop"
			echo "  }"
		done
	fi
	echo "}"
}

make_ns() {
	ip netns add "$(nsname "$1" "$2")"
	in_ns "$1" "$2" ip link set lo up
}

make_nat() {
	name=$1 n=$2 mode=$3 routed=$4
	make_ns "$name" "nat$n"
	ip -n "$(nsname "$name" inet)" link add "n$n" type veth \
		peer name out netns "$(nsname "$name" "nat$n")"
	if [ -n "$routed" ]; then
		# A link of its own, routed by inet (see --routed above).
		in_ns "$name" inet sh -e -c "
			ip link set n$n up
			ip route add $PUB_NET.1$n/32 dev n$n
		"
		outaddr="$PUB_NET.1$n peer $PUB_NET.1"
	else
		ip -n "$(nsname "$name" inet)" link set "n$n" master pub up
		outaddr=$PUB_NET.1$n/24
	fi
	in_ns "$name" "nat$n" sh -e -c "
		ip addr add $outaddr dev out
		ip link set out up
		ip route add default via $PUB_NET.1
		ip link add lan type bridge
		ip addr add 10.$n.0.1/24 dev lan
		ip link set lan up
		sysctl -qw net.ipv4.ip_forward=1
	"
	nft_rules "$mode" | in_ns "$name" "nat$n" nft -f -
}

make_host() {
	name=$1 h=$2 where=$3
	i=$(host_index "$h")
	make_ns "$name" "$h"
	case "$where" in
	inet)
		ip -n "$(nsname "$name" inet)" link add "h$h" type veth \
			peer name eth0 netns "$(nsname "$name" "$h")"
		ip -n "$(nsname "$name" inet)" link set "h$h" master pub up
		addr=$PUB_NET.2$i gw=$PUB_NET.1
		;;
	nat1 | nat2)
		n=${where#nat}
		ip -n "$(nsname "$name" "$where")" link add "h$h" type veth \
			peer name eth0 netns "$(nsname "$name" "$h")"
		ip -n "$(nsname "$name" "$where")" link set "h$h" master lan up
		addr=10.$n.0.1$i gw=10.$n.0.1
		;;
	esac
	in_ns "$name" "$h" sh -e -c "
		ip addr add $addr/24 dev eth0
		ip link set eth0 up
		ip route add default via $gw
	"
}

cmd_up() {
	name=$1
	shift
	check_name "$name"
	pa=nat1 pb=nat2 pc=inet m1=eim m2=eim owner=$PPID routed=
	while [ $# -gt 0 ]; do
		case "$1" in
		--same-lan | --routed) ;;
		*) [ $# -ge 2 ] || die "$1 needs a value" ;;
		esac
		case "$1" in
		--a) pa=$2; shift 2 ;;
		--b) pb=$2; shift 2 ;;
		--c) pc=$2; shift 2 ;;
		--same-lan) pa=nat1 pb=nat1; shift ;;
		--routed) routed=1; shift ;;
		--nat1) m1=$2; shift 2 ;;
		--nat2) m2=$2; shift 2 ;;
		--owner) owner=$2; shift 2 ;;
		*) die "unknown option '$1'" ;;
		esac
	done
	for p in "$pa" "$pb" "$pc"; do
		case "$p" in
		inet | nat1 | nat2 | none) ;;
		*) die "bad placement '$p' (inet, nat1, nat2, none)" ;;
		esac
	done
	nft_rules "$m1" >/dev/null
	nft_rules "$m2" >/dev/null

	[ "$(id -u)" = 0 ] || skip "network namespaces need root"
	for tool in ip nft sysctl; do
		command -v $tool >/dev/null 2>&1 || skip "$tool is not installed"
	done
	[ -z "$(lab_namespaces "$name")" ] && [ ! -d "$RUN/$name" ] ||
		die "lab $name exists; run 'netlab.sh down $name' first"
	start=$(starttime "$owner")
	[ -n "$start" ] || die "owner pid $owner is not running"

	# State first, so that gc and down can find a half-built lab.
	mkdir -p "$RUN/$name"
	echo "$owner $start" >"$RUN/$name/owner"
	printf 'a=%s\nb=%s\nc=%s\nnat1=%s\nnat2=%s\nrouted=%s\n' \
		"$pa" "$pb" "$pc" "$m1" "$m2" "${routed:-0}" >"$RUN/$name/hosts"

	if ! ip netns add "$(nsname "$name" inet)" 2>/dev/null; then
		rm -rf "${RUN:?}/$name"
		skip "'ip netns add' failed (no namespace support here?)"
	fi
	trap 'cmd_down "$name" >/dev/null 2>&1 || true' EXIT
	trap 'exit 1' HUP INT TERM
	in_ns "$name" inet ip link set lo up
	in_ns "$name" inet sh -e -c "
		ip link add pub type bridge
		ip addr add $PUB_NET.1/24 dev pub
		ip link set pub up
	"
	if ! nft_rules eim | in_ns "$name" inet nft -c -f - 2>/dev/null; then
		cmd_down "$name"
		trap - EXIT
		skip "nftables does not work in a network namespace here"
	fi
	if [ -n "$routed" ]; then
		in_ns "$name" inet sh -e -c "
			sysctl -qw net.ipv4.ip_forward=1
			sysctl -qw net.ipv4.conf.pub.proxy_arp=1
		"
	fi
	make_nat "$name" 1 "$m1" "$routed"
	make_nat "$name" 2 "$m2" "$routed"
	for h in a b c; do
		eval "p=\$p$h"
		[ "$p" = none ] || make_host "$name" "$h" "$p"
	done
	trap - EXIT HUP INT TERM
}

placement() {
	[ -f "$RUN/$1/hosts" ] || die "no lab $1"
	sed -n "s/^$2=//p" "$RUN/$1/hosts"
}

cmd_addr() {
	name=$1 node=$2
	case "$node" in
	inet) echo "$PUB_NET.1" ;;
	nat1 | nat2) echo "$PUB_NET.1${node#nat}" ;;
	nat1-lan | nat2-lan) n=${node%-lan}; echo "10.${n#nat}.0.1" ;;
	a | b | c)
		i=$(host_index "$node")
		case "$(placement "$name" "$node")" in
		inet) echo "$PUB_NET.2$i" ;;
		nat1) echo "10.1.0.1$i" ;;
		nat2) echo "10.2.0.1$i" ;;
		*) die "host $node is not in lab $name" ;;
		esac
		;;
	*) die "unknown node '$node'" ;;
	esac
}

[ $# -ge 1 ] || die "usage: netlab.sh up|exec|addr|where|ns|down|gc|list ..."
cmd=$1
shift
case "$cmd" in
up)
	[ $# -ge 1 ] || die "usage: netlab.sh up NAME [options]"
	cmd_up "$@"
	;;
exec)
	[ $# -ge 3 ] || die "usage: netlab.sh exec NAME NODE cmd..."
	check_name "$1"
	ns=$(nsname "$1" "$2")
	shift 2
	exec ip netns exec "$ns" "$@"
	;;
addr)
	[ $# -eq 2 ] || die "usage: netlab.sh addr NAME NODE"
	check_name "$1"
	cmd_addr "$1" "$2"
	;;
where)
	[ $# -eq 2 ] || die "usage: netlab.sh where NAME HOST"
	check_name "$1"
	host_index "$2" >/dev/null
	placement "$1" "$2"
	;;
ns)
	[ $# -eq 2 ] || die "usage: netlab.sh ns NAME NODE"
	check_name "$1"
	nsname "$1" "$2"
	;;
down)
	[ $# -eq 1 ] || die "usage: netlab.sh down NAME"
	cmd_down "$1"
	;;
gc)
	cmd_gc
	;;
list)
	cmd_list
	;;
*)
	die "unknown command '$cmd'"
	;;
esac
