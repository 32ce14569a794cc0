# Shell helpers shared by the tests in network namespaces (every
# tests/netns/*_test.sh) and the connector bench. Sourced, not run. The
# caller sets NETLAB (tests/harness/netlab.sh), L (its lab's name), lab_up
# (non-empty once the lab exists), pids (processes to stop), admin (the
# controller's bootstrap API key) and URL (the controller's base URL);
# lab_env sets most of them.

lab() { sh "$NETLAB" "$@"; }

# cleanup: stops every process in $pids (TERM, KILL after 5 s) and removes
# the lab (and those of run_cases); safe to call twice.
cleanup() {
	for p in $pids; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $pids; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	pids=
	[ -n "$lab_up" ] && lab down "$L" >/dev/null 2>&1
	lab_up=
	drop_labs
}

# nsrun NODE cmd...: runs cmd in NODE's namespace.
nsrun() {
	_n=$1
	shift
	ip netns exec "$(lab ns "$L" "$_n")" "$@"
}

# api METHOD PATH [BODY]: the controller's REST API with the bootstrap key.
api() {
	nsrun inet curl -fsS -X "$1" -H "Authorization: Bearer $admin" \
		-H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$URL$2"
}

# nspid NODE COMM: the pid of the process COMM in NODE's namespace.
nspid() {
	for _p in $(ip netns pids "$(lab ns "$L" "$1")" 2>/dev/null); do
		[ "$(cat "/proc/$_p/comm" 2>/dev/null)" = "$2" ] &&
			{ echo "$_p"; return 0; }
	done
	return 1
}

# stop_pid PID SIG: sends SIG and waits up to 5 s for PID to end (the
# caller's fail function reports otherwise).
stop_pid() {
	kill "-$2" "$1" 2>/dev/null || fail "kill -$2 $1"
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	fail "process $1 still runs 5 s after SIG$2"
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# ping_ok NODE ADDR [TRIES]: the kernel's ping from NODE answers.
ping_ok() {
	for _ in $(seq "${3:-10}"); do
		nsrun "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
	done
	return 1
}

# peer NODE NAME FIELD: FIELD (a jq path) of NODE's peer NAME, through the
# test's own cli function.
peer() {
	cli "$1" peers 2>/dev/null |
		jq -r --arg n "$2" ".peers[] | select(.name == \$n) | .$3"
}

# The common trailer of the tests. start_test sets failed=0 and tmp (the
# test's scratch directory). A caller's own fail or dump stays: one
# defined before sourcing this file is kept, one defined after replaces
# these.

# fail MESSAGE: reports a failed check (naming the case, in run_cases);
# the test goes on.
command -v fail >/dev/null 2>&1 || fail() {
	echo "FAIL${case:+ $case}: $*" >&2
	failed=1
}

# dump: the last lines of every log and output file in $tmp (debug lines
# left out: agents started with WEFT_LOG_LEVEL=debug write many).
command -v dump >/dev/null 2>&1 || dump() {
	for f in "$tmp"/*.log "$tmp"/*.txt "$tmp"/*.jsonl; do
		[ -f "$f" ] || continue
		echo "---- $f" >&2
		grep -v 'level=debug' "$f" | tail -n 40 >&2
	done
}

# skip NAME REASON: ends the test as skipped (ctest: exit 77).
skip() {
	echo "$1: skipped: $2" >&2
	exit 77
}

# need NAME TOOL...: skips the test unless it runs as root; fails it
# (exit 1) when a TOOL is missing: scripts/deps.sh installs them all, so a
# missing one is a broken setup, not a reason to skip.
need() {
	_t=$1
	shift
	[ "$(id -u)" = 0 ] || skip "$_t" "needs root for network namespaces"
	for _b in "$@"; do
		command -v "$_b" >/dev/null 2>&1 ||
			{ echo "$_t: $_b missing" >&2; exit 1; }
	done
}

# start_test: a scratch directory in tmp, removed (after cleanup) on any
# exit; t_start for finish.
start_test() {
	failed=0
	tmp=$(mktemp -d)
	trap 'cleanup; rm -rf "$tmp"' EXIT
	trap 'exit 1' INT TERM HUP
	t_start=$(date +%s)
}

# finish NAME: stops everything, fails on a sanitizer report in the logs
# (in $tmp and the directories in it), prints the time and ok/FAIL (with
# the dump), and exits with the result.
finish() {
	cleanup
	echo "$1: $(($(date +%s) - t_start)) s"
	if grep -l "Sanitizer\|runtime error:" "$tmp"/*.log "$tmp"/*/*.log \
		2>/dev/null; then
		fail "sanitizer report (files above)"
	fi
	if [ "$failed" = 0 ]; then
		echo "ok   $1"
	else
		dump
		echo "FAIL $1"
	fi
	exit "$failed"
}

# mesh_up [--no-relay]: the controller in inet (start_controller of
# connector_lab.sh), its bootstrap key in admin, and unless --no-relay a
# relay (start_relay) registered as "inet". Returns non-zero after a
# fail.
mesh_up() {
	start_controller || { fail "controller did not start"; return 1; }
	admin=$(grep -o 'weft_api_[^[:space:]]*' "$tmp/ctl.out" | head -n1)
	[ "${1:-}" = --no-relay ] && return 0
	"$CTL" relay-key --data-dir "$tmp/ctl" >"$tmp/ctl.pub" ||
		{ fail "relay-key"; return 1; }
	start_relay || { fail "relay did not start"; return 1; }
	api POST /api/v1/relays "{\"name\":\"inet\",\"region\":\"lab\",
		\"address\":\"$RELAY_ADDR\",\"public_key_pin\":\"$pin\"}" \
		>/dev/null || { fail "relay registration"; return 1; }
}

# lab_start NAME [LAB OPTIONS]: the netlab $L (exits 77 where namespaces
# are not available); returns non-zero after a fail.
lab_start() {
	_t=$1
	shift
	lab up "$L" "$@" --owner $$
	_rc=$?
	[ $_rc -eq 77 ] && skip "$_t" "no network namespaces"
	[ $_rc -eq 0 ] || { fail "netlab up failed"; return 1; }
	lab_up=1
}

# need_nft_nat NAME: skips the test unless the kernel has nftables NAT (a
# nat chain with masquerade, what a connector installs), tried in the
# lab's c; call it after lab_start. The connector and exit-node tests
# (connector_test.sh, connector_ha_test.sh, exit_node_test.sh) need it.
need_nft_nat() {
	printf '%s\n' 'table inet weftprobe {' \
		'chain p { type nat hook postrouting priority srcnat; masquerade; }' \
		'}' | nsrun c nft -f - 2>/dev/null ||
		skip "$1" "the kernel has no nftables NAT (nf_tables, masquerade)"
	nsrun c nft delete table inet weftprobe
}

# lab_env: the binaries and addresses of a lab with the controller and a
# relay in inet (WEFT_RELAY_BIN may be unset where no relay runs), from
# ctest's environment (tests/netns/CMakeLists.txt); `here` is the
# caller's directory.
lab_env() {
	NETLAB=${NETLAB:-$here/../harness/netlab.sh}
	AGENT=${WEFT_AGENT_BIN:?set WEFT_AGENT_BIN}
	CTL=${WEFT_CONTROLLER_BIN:?set WEFT_CONTROLLER_BIN}
	RELAY=${WEFT_RELAY_BIN:-/bin/false}
	CTL_ADDR=203.0.113.1:8080
	RELAY_ADDR=203.0.113.1:3478
	URL=http://$CTL_ADDR
	DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
	lab_up=
	pids=
}

# The tests made of cases (netlab_test.sh, relay_qad_test.sh): each case
# is a function that builds its own labs (newname, case_up); run_cases
# runs them one after the other and removes each one's labs after it.
# The caller sets lab_prefix (the first letters of its labs' names).
labs=
n_labs=0

# nsx LAB NODE cmd...: runs cmd in NODE of lab LAB.
nsx() {
	lab exec "$@"
}

# newname VAR: sets VAR to a lab name unique to this run.
newname() {
	n_labs=$((n_labs + 1))
	eval "$1=$lab_prefix$$x$n_labs"
}

# case_up NAME [LAB OPTIONS]: builds lab NAME, removed after the case;
# exits 77 where namespaces are not available, returns non-zero after a
# fail.
case_up() {
	labs="$labs $1"
	lab up "$@" --owner $$
	_rc=$?
	[ $_rc -eq 77 ] && exit 77
	[ $_rc -eq 0 ] || { fail "netlab up $* failed"; return 1; }
}

# drop_labs: removes the labs in $labs (lab down; safe to repeat).
drop_labs() {
	for _l in $labs; do
		lab down "$_l" >/dev/null 2>&1 || true
	done
	labs=
}

# run_cases NAME CASE...: runs each CASE (with its labs removed after it
# and ok/FAIL printed), then exits with the result. start_test first.
run_cases() {
	_t=$1
	shift
	for case in "$@"; do
		_before=$failed
		failed=0
		"$case"
		drop_labs
		if [ "$failed" -eq 0 ]; then
			echo "ok   $case"
		else
			echo "FAIL $case"
		fi
		[ "$_before" -eq 1 ] && failed=1
	done
	case=
	finish "$_t"
}
