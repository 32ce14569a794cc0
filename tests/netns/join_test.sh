#!/bin/sh
# scripts/run.sh's join command works from another machine (issue 19; the
# README's "Join a second machine"): run.sh on host c (on the lab's
# "internet", 203.0.113.23) with WEFT_LISTEN=0.0.0.0:PORT prints a join
# command naming 203.0.113.23 (not 127.0.0.1) with --insecure-http and the
# relay at 203.0.113.23; host a, behind a NAT, runs that command as printed
# (plus --no-tun and its own state directory) with an auth key made as
# run.sh says, registers, reaches the controller and connects to the
# relay. Then the same without a wildcard: WEFT_LISTEN=127.0.0.1 says that
# only this machine can join.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
NETLAB=${NETLAB:-$here/../harness/netlab.sh}
L=join$$
lab_up=
pids=
admin=
URL=
src=$(cd "$here/../.." && pwd)
bin=$(cd "$(dirname "$WEFT_CONTROLLER_BIN")/.." && pwd)

# The steps build on each other: the first failure ends the test, with
# the logs.
fail() {
	echo "not ok - $*"
	failed=1
	dump
	exit 1
}

# run_sh LISTEN DATA: scripts/run.sh on c with WEFT_LISTEN=LISTEN and its
# data in DATA, output in $tmp/run.log; waits (up to 20 s) until it says
# how to stop it.
run_sh() {
	nsrun c env WEFT_BIN_DIR="$bin" WEFT_DATA_DIR="$2" \
		WEFT_LISTEN="$1" bash "$src/scripts/run.sh" >"$tmp/run.log" 2>&1 &
	pids="$pids $!"
	for _ in $(seq 200); do
		grep -q "^Ctrl-C stops" "$tmp/run.log" && return 0
		sleep 0.1
	done
	return 1
}

need join_test jq curl
start_test
lab_start join_test >/dev/null

# run.sh on c, listening on every address.
run_sh 0.0.0.0:8080 "$tmp/data" || fail "run.sh did not start"
join=$(sed -n 's/^ *\(sudo weft-agent up .*\)$/\1/p' "$tmp/run.log")
[ "$join" = "sudo weft-agent up --controller http://203.0.113.23:8080 --auth-key weft_auth_... --insecure-http" ] ||
	fail "join command: $join"
grep -q "relay  *203.0.113.23:3478 udp" "$tmp/run.log" || fail "relay address not 203.0.113.23:3478"
grep -q "Plain HTTP: a remote agent refuses http:// without --insecure-http" "$tmp/run.log" ||
	fail "run.sh does not say that plain HTTP needs --insecure-http"
echo "ok 1 - run.sh prints the host's address, the relay's and --insecure-http"

# The auth key, the way run.sh says to make one.
ctl() { nsrun c "$WEFT_CONTROLLER_BIN" "$@" --data-dir "$tmp/data"; }
ctl users create alice >/dev/null 2>&1 || fail "users create alice"
key=$(ctl keys create --user alice 2>&1 | grep -o 'weft_auth_[A-Za-z0-9_-]*' | head -1)
[ -n "$key" ] || fail "keys create"

# The command as printed, on a (behind nat1), no sudo (root already).
cmd=$(echo "$join" | sed "s/^sudo weft-agent //; s/weft_auth_\.\.\./$key/")
mkdir -m 700 "$tmp/a"
# shellcheck disable=SC2086 # the printed command's words
nsrun a "$WEFT_AGENT_BIN" $cmd --no-tun --state-dir "$tmp/a" \
	--socket "$tmp/a/agent.sock" >"$tmp/agent.log" 2>&1 &
pids="$pids $!"
st=
for _ in $(seq 150); do
	st=$(nsrun a "$WEFT_AGENT_BIN" status --json --socket "$tmp/a/agent.sock" 2>/dev/null |
		jq -r '"\(.state) \(.controller.reachable) \(.relay.connected) \(.relay.address)"')
	[ "$st" = "running true true 203.0.113.23:3478" ] && break
	sleep 0.2
done
[ "$st" = "running true true 203.0.113.23:3478" ] ||
	fail "the agent on a: state/reachable/relay connected/address = $st"
ctl nodes list 2>/dev/null | grep -q . || fail "no node at the controller"
echo "ok 2 - the printed command joins host a behind a NAT: registered, controller reachable, relay connected"
cleanup

# Loopback only: run.sh says so.
lab_start join_test >/dev/null
run_sh 127.0.0.1:8080 "$tmp/data2"
grep -q "Only this machine can join: the controller listens on 127.0.0.1:8080" "$tmp/run.log" ||
	fail "run.sh on 127.0.0.1 does not say only this machine can join"
echo "ok 3 - with WEFT_LISTEN on loopback run.sh says only this machine can join"
finish join
