# The agent lab, shared by the tests in tests/netns that run agents (the
# connector tests with the site, the others without it) and
# tests/bench/connector/run.sh: the controller and relays in the netlab's
# "inet", agents with a TUN, and a "site" namespace h behind host c.
# Sourced after lib.sh, not run. The caller sets what lib.sh needs and
# tmp, AGENT, CTL, RELAY, CTL_ADDR, RELAY_ADDR, URL (lab_env sets these),
# H and C_LAN (for the site), and a fail function (wait_running calls
# it).

# cli NODE CMD [ARG]: weft-agent CMD --json in NODE.
cli() {
	_n=$1 _c=$2
	shift 2
	nsrun "$_n" "$AGENT" "$_c" --json --socket "$tmp/$_n/sock" "$@"
}

# start_agent NODE [KEY [FLAGS...]]: weft-agent up in NODE; AGENT_PID is
# the agent's own pid (found in the namespace). --no-direct (tunnels on
# the relay) unless LAB_NO_DIRECT is set, to "" for direct paths; the
# agent logs at AGENT_LOG_LEVEL (WEFT_LOG_LEVEL) when that is set.
start_agent() {
	_node=$1 _key=${2:-}
	shift
	[ $# -gt 0 ] && shift
	mkdir -p "$tmp/$_node"
	nsrun "$_node" env ${AGENT_LOG_LEVEL:+WEFT_LOG_LEVEL=$AGENT_LOG_LEVEL} \
		"$AGENT" up \
		--controller "$URL" --insecure-http ${_key:+--auth-key "$_key"} \
		--state-dir "$tmp/$_node" --socket "$tmp/$_node/sock" \
		--hostname "$_node" --tun weft0 ${LAB_NO_DIRECT---no-direct} \
		--dns off "$@" \
		2>>"$tmp/$_node.log" &
	pids="$pids $!"
	AGENT_PID=
	for _ in $(seq 50); do
		AGENT_PID=$(nspid "$_node" weft-agent) && break
		sleep 0.02
	done
	pids="$pids $AGENT_PID"
}

# wait_running NODE PEERS [SECONDS]: NODE's agent runs and has PEERS
# peers (fails after SECONDS, 10 by default).
wait_running() {
	for _ in $(seq $((${3:-10} * 10))); do
		[ "$(cli "$1" status 2>/dev/null | jq -r .state)" = running ] &&
			[ "$(cli "$1" peers 2>/dev/null | jq '.peers|length')" = "$2" ] &&
			return 0
		sleep 0.1
	done
	fail "agent $1 not running with $2 peers"
	return 1
}

# start_controller: weft-controller serve (SQLite in $tmp/ctl) with
# CTL_FLAGS; CTL_PID is its own pid, in pids too, so that cleanup stops
# it with SIGTERM.
start_controller() {
	: >"$tmp/ctl.out"
	nsrun inet "$CTL" serve --listen "$CTL_ADDR" --data-dir "$tmp/ctl" \
		${CTL_FLAGS:-} >"$tmp/ctl.out" 2>>"$tmp/ctl.log" &
	pids="$pids $!"
	for _ in $(seq 100); do
		if grep -q "listening on" "$tmp/ctl.out" 2>/dev/null; then
			CTL_PID=$(nspid inet weft-controller) &&
				pids="$pids $CTL_PID"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# start_relay [NAME ADDR]: weft-relay NAME ("relay") in inet on ADDR
# ($RELAY_ADDR), its key in $tmp/NAME.key (new, or kept from an earlier
# start); pin is its pin, RELAY_PID its own pid (in pids too).
start_relay() {
	_r=${1:-relay} _ra=${2:-$RELAY_ADDR}
	: >"$tmp/$_r.out"
	nsrun inet "$RELAY" --listen "$_ra" --key "$tmp/$_r.key" \
		--controller-key "$tmp/ctl.pub" >"$tmp/$_r.out" \
		2>>"$tmp/$_r.log" &
	pids="$pids $!"
	pin=
	for _ in $(seq 100); do
		grep -q "relay listening" "$tmp/$_r.out" 2>/dev/null &&
			pin=$(sed -n 's/^relay pin: //p' "$tmp/$_r.out") &&
			break
		sleep 0.05
	done
	RELAY_PID=$(relay_pid "${_ra##*:}") && pids="$pids $RELAY_PID"
	[ -n "$pin" ]
}

# relay_pid PORT: the pid of the weft-relay in inet listening on PORT.
relay_pid() {
	for _p in $(ip netns pids "$(lab ns "$L" inet)" 2>/dev/null); do
		[ "$(cat "/proc/$_p/comm" 2>/dev/null)" = weft-relay ] &&
			tr '\0' ' ' <"/proc/$_p/cmdline" | grep -q ":$1 " &&
			{ echo "$_p"; return 0; }
	done
	return 1
}

# grant_site POLICY: the resource "site" ($SITE, served by tag:c), then
# POLICY. tag:a and tag:c are declared first: a resource's connector tag
# must exist, and a policy grants only an existing resource. Returns
# non-zero after a fail.
grant_site() {
	api PUT /api/v1/policy '{"tagOwners":{"tag:a":[],"tag:c":[]}}' \
		>/dev/null || { fail "tagOwners"; return 1; }
	api POST /api/v1/resources "{\"name\":\"site\",\"address\":\"$SITE\",
		\"connectors\":{\"tags\":[\"tag:c\"]}}" >/dev/null ||
		{ fail "resource"; return 1; }
	api PUT /api/v1/policy "$1" >/dev/null || { fail "policy"; return 1; }
}

# make_site: the site, namespace h (named like the lab's, so `lab down`
# removes it) on a veth lan0 from c: c is $C_LAN/24, h is $H/24, and h
# has no route beyond that LAN.
make_site() {
	hns=wl-$L-h
	cns=$(lab ns "$L" c)
	ip netns add "$hns" || return 1
	ip -n "$hns" link set lo up
	ip -n "$cns" link add lan0 type veth peer name eth0 netns "$hns" ||
		return 1
	ip -n "$cns" addr add "$C_LAN/24" dev lan0
	ip -n "$cns" link set lan0 up
	ip -n "$hns" addr add "$H/24" dev eth0
	ip -n "$hns" link set eth0 up
}

# make_site_ha NODE2 ADDR2: like make_site, but the site is a bridge br0
# in h (h's $H on it) that c ($C_LAN) and NODE2 (ADDR2) both join with a
# veth lan0 each: two connectors on one LAN.
make_site_ha() {
	hns=wl-$L-h
	ip netns add "$hns" || return 1
	ip -n "$hns" link set lo up
	ip -n "$hns" link add br0 type bridge || return 1
	ip -n "$hns" link set br0 up
	ip -n "$hns" addr add "$H/24" dev br0
	_i=0
	for _pair in "c $C_LAN" "$1 $2"; do
		set -- $_pair "$@"
		_ns=$(lab ns "$L" "$1")
		ip -n "$_ns" link add lan0 type veth peer name "p$_i" \
			netns "$hns" || return 1
		ip -n "$hns" link set "p$_i" master br0
		ip -n "$hns" link set "p$_i" up
		ip -n "$_ns" addr add "$2/24" dev lan0
		ip -n "$_ns" link set lan0 up
		shift 2
		_i=$((_i + 1))
	done
}
