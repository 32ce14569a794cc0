#!/bin/sh
# `weft-agent up --dns file` (issue 16): a real agent with a TUN in host a
# of a netlab, the real controller in inet. The agent runs in a private
# mount namespace (unshare -m) where a temporary file is bind-mounted over
# /etc/resolv.conf, so the host's own file is never touched:
#   - installed: ours names the stub 100.100.100.100 and the mesh suffix
#     as search domain, the original is in the state directory, the stub
#     address sits on weft0 (/32), status shows mode file;
#   - an outside rewrite is undone within a few seconds (inotify), and a
#     program that keeps rewriting wins after 5 rewrites (gave_up);
#   - SIGTERM puts the original back and removes the backup;
#   - after SIGKILL the file stays ours, the next start restores the
#     original and installs ours again;
#   - a read-only resolv.conf: the install fails, is tried again after a
#     back-off, and succeeds once the file is writable again;
#   - --resolv-conf naming a symlink (as /etc/resolv.conf is on systemd
#     hosts): the link is replaced by our file and comes back as the same
#     link on SIGTERM.
#
#   dns_file_test.sh
#
# Needs root; exits 77 (ctest: skipped) when namespaces are unavailable.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN.
set -u

here=$(cd "$(dirname "$0")" && pwd)
NETLAB=${NETLAB:-$here/../harness/netlab.sh}
AGENT=${WEFT_AGENT_BIN:?set WEFT_AGENT_BIN}
CTL=${WEFT_CONTROLLER_BIN:?set WEFT_CONTROLLER_BIN}
RELAY=/bin/false
CTL_ADDR=203.0.113.1:8080
RELAY_ADDR=203.0.113.1:3478
URL=http://$CTL_ADDR
ORIG='# the host'"'"'s own
nameserver 192.0.2.1
search example.com'

. "$here/lib.sh"
. "$here/connector_lab.sh"
L=dnsf$$
lab_up=
pids=



# up_file [FLAGS...]: weft-agent up --dns file in a, in a mount namespace
# of its own with $tmp/resolv.conf over /etc/resolv.conf (read-only when
# RO is set); APID.
up_file() {
	mkdir -p "$tmp/a"
	nsrun a unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf &&
		{ [ -z "$2" ] || mount -o remount,bind,ro /etc/resolv.conf; } &&
		shift 2 && exec "$@"' sh "$tmp/resolv.conf" "${RO:-}" \
		env WEFT_LOG_LEVEL=debug "$AGENT" up --controller "$URL" \
		--insecure-http ${key:+--auth-key "$key"} --state-dir "$tmp/a" \
		--socket "$tmp/a/sock" --hostname a --tun weft0 --no-direct \
		--dns file "$@" 2>>"$tmp/a.log" &
	pids="$pids $!"
	APID=
	for _ in $(seq 100); do
		APID=$(nspid a weft-agent) && break
		sleep 0.02
	done
	pids="$pids $APID"
}

# wait_ours FILE: until FILE is the agent's (its header).
wait_ours() {
	for _ in $(seq 100); do
		head -n 1 "$1" | grep -q "^# Written by weft-agent" && return 0
		sleep 0.05
	done
	fail "$1 is not the agent's: $(cat "$1")"
	return 1
}

is_orig() {
	[ "$(cat "$1")" = "$ORIG" ]
}

run() {
	need dns_file_test jq curl
	lab up "$L" --a inet --b none --c none --owner $$
	rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || { fail "netlab up failed"; return; }
	lab_up=1
	if ! nsrun a unshare -m true 2>/dev/null; then
		skip dns_file_test "no mount namespaces"
	fi
	start_controller || { fail "controller did not start"; return; }
	admin=$(grep -o 'weft_api_[^[:space:]]*' "$tmp/ctl.out" | head -n1)
	api PUT /api/v1/policy '{"tagOwners":{"tag:a":[]},"acls":[]}' \
		>/dev/null || { fail "policy"; return; }
	key=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	[ -n "$key" ] && [ "$key" != null ] || { fail "auth key"; return; }
	printf '%s\n' "$ORIG" >"$tmp/resolv.conf"
	chmod 711 "$tmp"

	# Installed.
	up_file
	wait_running a 0 || return
	key=
	wait_ours "$tmp/resolv.conf" || return
	echo "a's resolv.conf:"; sed 's/^/  /' "$tmp/resolv.conf"
	grep -qx "nameserver 100.100.100.100" "$tmp/resolv.conf" ||
		fail "no stub nameserver in ours"
	grep -qx "search weft.internal" "$tmp/resolv.conf" ||
		fail "no search domain in ours"
	grep -q "$tmp/a/resolv.conf.weft-backup" "$tmp/resolv.conf" ||
		fail "ours does not say where the backup is"
	[ "$(cat "$tmp/a/resolv.conf.weft-backup")" = "$ORIG" ] ||
		fail "the backup is not the original"
	nsrun a ip -4 addr show dev weft0 | grep -q "inet 100.100.100.100/32 scope host" ||
		fail "the stub address is not on weft0: $(nsrun a ip -4 addr show dev weft0)"
	st=$(cli a status)
	[ "$(echo "$st" | jq -r .dns.mode)" = file ] ||
		fail "status dns.mode is not file: $(echo "$st" | jq -c .dns)"
	[ "$(echo "$st" | jq -r .dns.installed)" = true ] ||
		fail "status dns.installed is not true: $(echo "$st" | jq -c .dns)"
	nsrun a "$AGENT" status --socket "$tmp/a/sock" | grep "^dns:" ||
		fail "text status has no dns line"

	# An outside rewrite is undone.
	t0=$(now_ms)
	echo "nameserver 198.51.100.53" >"$tmp/resolv.conf"
	wait_ours "$tmp/resolv.conf" &&
		echo "outside rewrite undone after $(($(now_ms) - t0)) ms"
	grep -q "event=dns_file_reapplied" "$tmp/a.log" ||
		fail "a did not log dns_file_reapplied"

	# SIGTERM: the original back, the backup gone.
	stop_pid "$APID" TERM
	is_orig "$tmp/resolv.conf" ||
		fail "after SIGTERM resolv.conf is: $(cat "$tmp/resolv.conf")"
	[ ! -e "$tmp/a/resolv.conf.weft-backup" ] ||
		fail "the backup is still there after SIGTERM"

	# SIGKILL: ours stays; the next start restores, then installs again.
	up_file
	wait_running a 0 || return
	wait_ours "$tmp/resolv.conf" || return
	stop_pid "$APID" KILL
	head -n 1 "$tmp/resolv.conf" | grep -q "^# Written by weft-agent" ||
		fail "after SIGKILL the file is not ours any more"
	[ -e "$tmp/a/resolv.conf.weft-backup" ] ||
		fail "no backup left after SIGKILL"
	up_file
	wait_running a 0 || return
	grep -q "event=dns_file_recovered" "$tmp/a.log" ||
		fail "a did not log dns_file_recovered"
	wait_ours "$tmp/resolv.conf" || return
	[ "$(cat "$tmp/a/resolv.conf.weft-backup")" = "$ORIG" ] ||
		fail "after the crash the backup is not the original: $(cat "$tmp/a/resolv.conf.weft-backup")"

	# A program that keeps rewriting it wins after 5 rewrites.
	for i in 1 2 3 4 5 6; do
		wait_ours "$tmp/resolv.conf" || break
		echo "nameserver 198.51.100.$i" >"$tmp/resolv.conf"
		[ "$(cli a status | jq -r .dns.resolv_conf.gave_up)" = true ] &&
			break
	done
	sleep 1.5
	[ "$(cli a status | jq -r .dns.resolv_conf.gave_up)" = true ] ||
		fail "a did not give up: $(cli a status | jq -c .dns)"
	grep -q "event=dns_file_gave_up" "$tmp/a.log" ||
		fail "a did not log dns_file_gave_up"
	grep -q "^nameserver 198.51.100." "$tmp/resolv.conf" ||
		fail "after giving up the file is not theirs: $(cat "$tmp/resolv.conf")"
	# Theirs stays on exit; the backup goes.
	stop_pid "$APID" TERM
	grep -q "^nameserver 198.51.100." "$tmp/resolv.conf" ||
		fail "exit overwrote the other program's file"
	[ ! -e "$tmp/a/resolv.conf.weft-backup" ] ||
		fail "the backup is still there"

	# A read-only resolv.conf (a read-only /etc early at boot): the
	# install fails and is tried again after a back-off; once it is
	# writable again (remounted from outside), ours is installed.
	printf '%s\n' "$ORIG" >"$tmp/resolv.conf"
	RO=1 up_file
	wait_running a 0 || return
	for _ in $(seq 50); do
		grep -q "event=dns_install_failed mode=file" "$tmp/a.log" && break
		sleep 0.1
	done
	grep -q "event=dns_install_failed mode=file.*retry_ms=" "$tmp/a.log" ||
		fail "a did not log dns_install_failed for a read-only file"
	is_orig "$tmp/resolv.conf" || fail "a read-only file changed"
	[ "$(cli a status | jq -r .dns.installed)" = false ] ||
		fail "installed with a read-only file: $(cli a status | jq -c .dns)"
	nsenter -t "$APID" -m mount -o remount,bind,rw /etc/resolv.conf ||
		fail "remount rw"
	t0=$(now_ms)
	for _ in $(seq 150); do
		[ "$(cli a status | jq -r .dns.installed)" = true ] && break
		sleep 0.1
	done
	wait_ours "$tmp/resolv.conf" &&
		echo "read-only file: installed $(($(now_ms) - t0)) ms after it became writable, retries $(cli a status | jq .dns.install_retries)"
	grep -q "event=dns_installed mode=file retries=" "$tmp/a.log" ||
		fail "a did not log dns_installed after its retries"
	stop_pid "$APID" TERM
	is_orig "$tmp/resolv.conf" ||
		fail "after SIGTERM resolv.conf is: $(cat "$tmp/resolv.conf")"

	# A symlink is replaced and comes back as the same link.
	mkdir -p "$tmp/etc" "$tmp/run"
	printf '%s\n' "$ORIG" >"$tmp/run/stub-resolv.conf"
	ln -s ../run/stub-resolv.conf "$tmp/etc/resolv.conf"
	up_file --resolv-conf "$tmp/etc/resolv.conf"
	wait_running a 0 || return
	wait_ours "$tmp/etc/resolv.conf" || return
	[ ! -L "$tmp/etc/resolv.conf" ] || fail "ours is still a symlink"
	is_orig "$tmp/run/stub-resolv.conf" ||
		fail "the link's target was written to"
	stop_pid "$APID" TERM
	[ "$(readlink "$tmp/etc/resolv.conf")" = ../run/stub-resolv.conf ] ||
		fail "the symlink did not come back: $(ls -l "$tmp/etc/resolv.conf")"
}

start_test
run
finish dns_file
