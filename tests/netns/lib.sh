# Shell helpers shared by the agent tests in network namespaces
# (agent_e2e_test.sh, paths_nat_test.sh, stream_test.sh). Sourced, not
# run. The caller
# sets NETLAB (tests/harness/netlab.sh), L (its lab's name), lab_up
# (non-empty once the lab exists), pids (processes to stop), admin (the
# controller's bootstrap API key) and URL (the controller's base URL).

lab() { sh "$NETLAB" "$@"; }

# cleanup: stops every process in $pids (TERM, KILL after 5 s) and removes
# the lab; safe to call twice.
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

# fail MSG: reports a failure; the test goes on and ends with status 1.
fail() {
	echo "FAIL: $*" >&2
	failed=1
}

# dump: the end of every log in $tmp, for a failed run.
dump() {
	for f in "$tmp"/*.log; do
		echo "---- $f" >&2
		tail -n 40 "$f" >&2
	done
}

# finish NAME: the end of a test: stops everything, fails on a sanitizer
# report in the logs, dumps them after a failure and exits with $failed.
finish() {
	cleanup
	echo "$1: $(($(date +%s) - t_start)) s"
	if grep -l "Sanitizer\|runtime error:" "$tmp"/*.log 2>/dev/null; then
		fail "sanitizer report (files above)"
	fi
	if [ "$failed" -eq 0 ]; then
		echo "ok   $1"
	else
		dump
		echo "FAIL $1"
	fi
	exit "$failed"
}
