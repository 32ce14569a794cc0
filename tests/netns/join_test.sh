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
L=join$$
lab_up=
pids=
admin=
URL=
. "$(dirname "$0")/lib.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$(dirname "$WEFT_CONTROLLER_BIN")/.." && pwd)
work=$(mktemp -d /tmp/weft-join.$$.XXXXXX) || exit 1

fail() {
	echo "not ok - $*"
	for f in run.out agent.log; do
		[ -f "$work/$f" ] && sed "s/^/  $f: /" "$work/$f" | tail -25
	done
	exit 1
}
finish() {
	cleanup
	rm -rf "$work"
}
trap finish EXIT INT TERM

lab up "$L" --owner $$ >/dev/null
rc=$?
[ $rc = 77 ] && exit 77
[ $rc = 0 ] || fail "netlab up"
lab_up=1

# run.sh on c, listening on every address.
nsrun c env WEFT_BIN_DIR="$bin" WEFT_DATA_DIR="$work/data" \
	WEFT_LISTEN=0.0.0.0:8080 bash "$src/scripts/run.sh" >"$work/run.out" 2>&1 &
pids="$pids $!"
for _ in $(seq 200); do
	grep -q "^Ctrl-C stops" "$work/run.out" && break
	sleep 0.1
done
grep -q "^Ctrl-C stops" "$work/run.out" || fail "run.sh did not start"
join=$(sed -n 's/^ *\(sudo weft-agent up .*\)$/\1/p' "$work/run.out")
[ "$join" = "sudo weft-agent up --controller http://203.0.113.23:8080 --auth-key weft_auth_... --insecure-http" ] ||
	fail "join command: $join"
grep -q "relay  *203.0.113.23:3478 udp" "$work/run.out" || fail "relay address not 203.0.113.23:3478"
grep -q "Plain HTTP: a remote agent refuses http:// without --insecure-http" "$work/run.out" ||
	fail "run.sh does not say that plain HTTP needs --insecure-http"
echo "ok 1 - run.sh prints the host's address, the relay's and --insecure-http"

# The auth key, the way run.sh says to make one.
ctl() { nsrun c "$WEFT_CONTROLLER_BIN" "$@" --data-dir "$work/data"; }
ctl users create alice >/dev/null 2>&1 || fail "users create alice"
key=$(ctl keys create --user alice 2>&1 | grep -o 'weft_auth_[A-Za-z0-9_-]*' | head -1)
[ -n "$key" ] || fail "keys create"

# The command as printed, on a (behind nat1), no sudo (root already).
cmd=$(echo "$join" | sed "s/^sudo weft-agent //; s/weft_auth_\.\.\./$key/")
mkdir -m 700 "$work/a"
# shellcheck disable=SC2086 # the printed command's words
nsrun a "$WEFT_AGENT_BIN" $cmd --no-tun --state-dir "$work/a" \
	--socket "$work/a/agent.sock" >"$work/agent.log" 2>&1 &
pids="$pids $!"
st=
for _ in $(seq 150); do
	st=$(nsrun a "$WEFT_AGENT_BIN" status --json --socket "$work/a/agent.sock" 2>/dev/null |
		jq -r '"\(.state) \(.controller.reachable) \(.relay.connected) \(.relay.address)"')
	[ "$st" = "running true true 203.0.113.23:3478" ] && break
	sleep 0.2
done
[ "$st" = "running true true 203.0.113.23:3478" ] ||
	fail "the agent on a: state/reachable/relay connected/address = $st"
ctl nodes list 2>/dev/null | grep -q . || fail "no node at the controller"
echo "ok 2 - the printed command joins host a behind a NAT: registered, controller reachable, relay connected"
cleanup
lab_up=

# Loopback only: run.sh says so.
lab up "$L" --owner $$ >/dev/null || fail "netlab up (2)"
lab_up=1
nsrun c env WEFT_BIN_DIR="$bin" WEFT_DATA_DIR="$work/data2" \
	WEFT_LISTEN=127.0.0.1:8080 bash "$src/scripts/run.sh" >"$work/run.out" 2>&1 &
pids="$pids $!"
for _ in $(seq 200); do
	grep -q "^Ctrl-C stops" "$work/run.out" && break
	sleep 0.1
done
grep -q "Only this machine can join: the controller listens on 127.0.0.1:8080" "$work/run.out" ||
	fail "run.sh on 127.0.0.1 does not say only this machine can join"
echo "ok 3 - with WEFT_LISTEN on loopback run.sh says only this machine can join"
