#!/bin/sh
# Direct peer-to-peer paths (issue 7) through real NATs, end to end: each
# scenario builds its own netlab with the controller (SQLite) and a relay in
# "inet", weft-agents with real TUNs in hosts a and b (--punch-cooldown 3s)
# and a policy allowing a->b ICMP and TCP 5201. Connections start on the
# relay; the agents punch and migrate to a direct path where the NATs allow.
#
#   inet     a and b on inet, no NAT: a's peer b turns "direct" within 5 s
#            of the first ping (time printed, WARNING above 1 s); over 2 s
#            of ping -i 0.05 the relay forwards fewer than 20 frames.
#   eim      a behind nat1, b behind nat2, both endpoint-independent: the
#            same as inet.
#   eimsym   b's NAT symmetric: ping works; the path taken is printed.
#   symsym   both symmetric: ping works on the relay, the path stays relay
#            for 10 s, and the punching rounds respect the 3 s cooldown
#            (at most 4 new rounds in 10 s, at least one retry).
#   cut      both EIM, direct; a TCP stream a->b (~10 Mbit/s); nftables
#            in nat1 drops the UDP between the NATs: a's peer b is back on
#            the relay within 3 s (time printed), a fallback is counted,
#            and the stream moves again on the relay within 10 s of the
#            cut (TCP's retransmission back-off). The cut holds until a
#            punching round failed against it, after which the next try
#            waits more than the cooldown (it doubles). The cut lifted,
#            the path is direct again within cooldown + 10 s, the stream
#            and ping still go through, and the stream ends with every
#            byte delivered. A trace of both agents' path state every 100 ms is
#            printed when the test fails (the agents log no path changes).
#   portchange  both EIM, direct, ping -i 0.05 a->b: nat1 maps a to a new
#            public port (`masquerade to :40000-40100` and `conntrack -F`
#            in nat1, issue 12). The longest gap between answers is
#            printed and must stay below 3 s (target 1 s; it was 3-8 s);
#            the path is direct again on a port in 40000-40100 within
#            cooldown + 10 s, and both agents log the move to the relay
#            and back to direct.
#   nodrop   both NATs eim-nodrop (they accept unsolicited packets) with
#            a router between them (netlab --routed): the same as eim.
#            Without the agents' low-TTL openers (--punch-ttl 0) each
#            side's first probe reaches the other NAT before its host sent
#            anything, the conntrack entry it leaves takes that host's
#            port, and both stay on the relay (issue 12).
#   samelan  a and b on one LAN behind nat1: direct, and b's address in use
#            is its LAN address 10.1.0.12, not nat1's outside address.
#   newaddr  agents polling their interfaces only hourly (--endpoint-poll
#            1h): an address added to b's eth0 is among b's endpoints at the
#            controller within 3 s (the kernel's change event, rtnetlink).
#   ipv6     a and b on inet with IPv6 addresses too (2001:db8::21/22), UDP
#            over IPv4 between them dropped by nftables in a (the relay is
#            reached over IPv4 as before): the direct path is IPv6, on the
#            agents' one dual-stack socket. Skipped with a message where
#            the kernel has no IPv6.
#
#   paths_nat_test.sh [SCENARIO...]   run the named scenarios (default: all)
#
# The TCP stream is a small perl pair (perl-base is Essential in Debian),
# so the test needs nothing beyond scripts/deps.sh, jq and ping.
#
# Needs root; exits 77 (ctest: skipped) when namespaces are unavailable.
# Environment: NETLAB, WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN, WEFT_RELAY_BIN;
# PATHS_NAT_AGENT_FLAGS: more `weft-agent up` flags for every agent (e.g.
# --punch-ttl 0 to see nodrop fail without the openers);
# PATHS_NAT_DIRECT_MS: how long reach_direct waits (default 5000).
set -u

here=$(cd "$(dirname "$0")" && pwd)
NETLAB=${NETLAB:-$here/../harness/netlab.sh}
AGENT=${WEFT_AGENT_BIN:?set WEFT_AGENT_BIN}
CTL=${WEFT_CONTROLLER_BIN:?set WEFT_CONTROLLER_BIN}
RELAY=${WEFT_RELAY_BIN:?set WEFT_RELAY_BIN}
CTL_ADDR=203.0.113.1:8080
RELAY_ADDR=203.0.113.1:3478
RELAY_METRICS=203.0.113.1:9100
AGENT_METRICS=127.0.0.1:9101
URL=http://$CTL_ADDR
COOLDOWN=3

. "$here/lib.sh"
L=
lab_up=
pids=
case=
n=0
li=0

policy='{"tagOwners":{"tag:a":[],"tag:b":[]},"acls":[
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["tag:b:*"]},
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["tag:b:5201"]}]}'

# dump: each scenario's trace in full and the end of its logs (a
# directory each in $tmp).
dump() {
	for f in "$tmp"/*/trace.txt; do
		[ -f "$f" ] || continue
		echo "---- $f" >&2
		cat "$f" >&2
	done
	for f in "$tmp"/*/*.log; do
		[ -f "$f" ] || continue
		echo "---- $f" >&2
		tail -n 40 "$f" >&2
	done
}

# nsbg NODE cmd...: runs cmd in NODE's namespace in the background; BG is
# its pid (ip netns exec execs cmd, so signals reach cmd itself).
nsbg() {
	_ns=$(lab ns "$L" "$1")
	shift
	ip netns exec "$_ns" "$@" &
	BG=$!
	pids="$pids $BG"
}

# cli NODE CMD: weft-agent CMD --json against NODE's local API (a unix
# socket in the file system: no need to enter the namespace).
cli() {
	"$AGENT" "$2" --json --socket "$dir/$1/sock"
}

# metric NODE ADDR NAME: the value of NAME on http://ADDR/metrics in NODE
# ("" when it is not there).
metric() {
	nsrun "$1" curl -fsS --max-time 2 "http://$2/metrics" 2>/dev/null |
		awk -v m="$3" '$1 == m { print $2; exit }'
}

# start_agent NODE KEY: weft-agent up in NODE.
start_agent() {
	mkdir -p "$dir/$1"
	nsbg "$1" env WEFT_LOG_LEVEL=debug "$AGENT" up --controller "$URL" \
		--insecure-http --auth-key "$2" --state-dir "$dir/$1" \
		--socket "$dir/$1/sock" --hostname "$1" --tun weft0 --dns off \
		--metrics-listen "$AGENT_METRICS" $cooldown_flag \
		${extra_agent_flags:-} ${PATHS_NAT_AGENT_FLAGS:-} \
		2>>"$dir/$1.log"
}

# wait_running NODE: NODE's agent runs and has its one peer.
wait_running() {
	for _ in $(seq 100); do
		[ "$(cli "$1" status 2>/dev/null | jq -r .state)" = running ] &&
			[ "$(cli "$1" peers 2>/dev/null | jq '.peers|length')" = 1 ] &&
			return 0
		sleep 0.1
	done
	fail "agent $1 not running with its peer"
	return 1
}

# bg_ping NODE ADDR INTERVAL [COUNT]: ping in the background, summary in
# $dir/ping.N.txt; PING_PID and PING_OUT say which.
bg_ping() {
	n=$((n + 1))
	PING_OUT=$dir/ping.$n.txt
	# ping prints its summary on SIGINT.
	nsbg "$1" ping -q -i "$3" ${4:+-c "$4"} "$2" >"$PING_OUT" 2>&1
	PING_PID=$BG
}

# stop_ping: ends the background ping and prints its replies and sent
# count as "RECEIVED SENT".
stop_ping() {
	kill -INT "$PING_PID" 2>/dev/null
	wait "$PING_PID" 2>/dev/null
	sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\2 \1/p' \
		"$PING_OUT"
}

# wait_path NODE PEER PATH TIMEOUT_MS T0: polls every 20 ms until NODE's
# peer PEER is on PATH; WAITED is the time since T0 (ms), "" on timeout.
wait_path() {
	WAITED=
	_end=$(($(now_ms) + $4))
	while :; do
		_t=$(now_ms)
		if [ "$(peer "$1" "$2" path)" = "$3" ]; then
			WAITED=$((_t - $5))
			return 0
		fi
		[ "$_t" -lt "$_end" ] || return 1
		sleep 0.02
	done
}

# setup LABOPTS...: a lab (host c left out), the controller, a relay with
# metrics, the policy and agents a and b, both running with their peer.
setup() {
	n=0
	li=$((li + 1))
	dir=$tmp/$li.$case
	mkdir -p "$dir"
	L=pn$$x$li
	lab_start paths_nat_test --c none "$@" || return 1

	nsbg inet "$CTL" serve --listen "$CTL_ADDR" --data-dir "$dir/ctl" \
		>"$dir/ctl.out" 2>>"$dir/ctl.log"
	for _ in $(seq 100); do
		grep -q "listening on" "$dir/ctl.out" 2>/dev/null && break
		sleep 0.1
	done
	admin=$(grep -o 'weft_api_[^[:space:]]*' "$dir/ctl.out" | head -n1)
	[ -n "$admin" ] || { fail "controller did not start"; return 1; }
	"$CTL" relay-key --data-dir "$dir/ctl" >"$dir/ctl.pub" ||
		{ fail "relay-key"; return 1; }
	nsbg inet "$RELAY" --listen "$RELAY_ADDR" --key "$dir/relay.key" \
		--controller-key "$dir/ctl.pub" \
		--metrics-listen "$RELAY_METRICS" >"$dir/relay.out" \
		2>"$dir/relay.log"
	pin=
	for _ in $(seq 50); do
		pin=$(sed -n 's/^relay pin: //p' "$dir/relay.out" 2>/dev/null)
		[ -n "$pin" ] && break
		sleep 0.1
	done
	[ -n "$pin" ] || { fail "relay did not start"; return 1; }
	api POST /api/v1/relays "{\"name\":\"inet\",\"region\":\"lab\",
		\"address\":\"$RELAY_ADDR\",\"public_key_pin\":\"$pin\"}" \
		>/dev/null || { fail "relay registration"; return 1; }
	api PUT /api/v1/policy "$policy" >/dev/null ||
		{ fail "policy"; return 1; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kb=$(api POST /api/v1/auth-keys '{"tags":["tag:b"]}' | jq -r .key)
	[ -n "$ka" ] && [ "$ka" != null ] && [ -n "$kb" ] &&
		[ "$kb" != null ] || { fail "auth keys"; return 1; }

	if [ -n "${pre_agents:-}" ]; then
		"$pre_agents" || return 1
	fi
	start_agent a "$ka"
	start_agent b "$kb"
	wait_running a || return 1
	wait_running b || return 1
	b4=$(peer a b ipv4)
	[ -n "$b4" ] && [ "$b4" != null ] || { fail "a has no ipv4 for b"; return 1; }
	return 0
}

# reach_direct: from the first ping a->b (ping -i 0.05) until a's peer b
# is "direct"; fails after 5 s (PATHS_NAT_DIRECT_MS), warns above 1 s.
# Leaves the ping running (PING_PID) and sets TTD (ms, "" when not direct).
reach_direct() {
	t0=$(now_ms)
	bg_ping a "$b4" 0.05
	TTD=
	if wait_path a b direct "${PATHS_NAT_DIRECT_MS:-5000}" "$t0"; then
		TTD=$WAITED
		echo "$case: time to direct: $TTD ms (agent: $(peer a b \
			punch.time_to_direct_ms) ms, rounds $(peer a b punch.rounds))"
		[ "$TTD" -le 1000 ] &&
			echo "$case: direct within the 1 s target" ||
			echo "WARNING $case: time to direct $TTD ms is above the 1 s target"
		[ "$(peer a b punch.state)" = direct ] ||
			fail "path direct but punch.state is $(peer a b punch.state)"
		[ "$(peer a b path_changed)" != null ] ||
			fail "path direct but path_changed is null"
		[ "$(peer b a path)" = direct ] || sleep 0.5
		[ "$(peer b a path)" = direct ] ||
			fail "b's peer a is $(peer b a path) while a's peer b is direct"
	else
		fail "a's peer b not direct ${PATHS_NAT_DIRECT_MS:-5000} ms after the first ping (path $(peer a b path), punch $(cli a peers | jq -c '.peers[0].punch'))"
	fi
}

# relay_quiet: over 2 s of ping -i 0.05 a->b on the direct path the relay
# forwards fewer than 20 frames, and the pings are answered.
relay_quiet() {
	f0=$(metric inet "$RELAY_METRICS" weft_relay_frames_forwarded_total)
	[ -n "$f0" ] || { fail "relay has no weft_relay_frames_forwarded_total"; return; }
	bg_ping a "$b4" 0.05 40
	wait "$PING_PID"
	got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$PING_OUT")
	f1=$(metric inet "$RELAY_METRICS" weft_relay_frames_forwarded_total)
	echo "$case: 40 pings on the direct path: ${got:-0} answered, relay forwarded $((f1 - f0)) frames"
	[ "$((f1 - f0))" -lt 20 ] ||
		fail "relay forwarded $((f1 - f0)) frames during 2 s of direct pings"
	[ "${got:-0}" -ge 36 ] || fail "only ${got:-0} of 40 pings answered on the direct path"
	[ "$(peer a b path)" = direct ] || fail "path left direct: $(peer a b path)"
}

# agent_metric_ge NODE NAME MIN: NODE's agent metric NAME is at least MIN.
agent_metric_ge() {
	_v=$(metric "$1" "$AGENT_METRICS" "$2")
	[ -n "$_v" ] || { fail "$1's agent has no $2"; return; }
	[ "${_v%.*}" -ge "$3" ] || fail "$1's $2 is $_v, expected >= $3"
}

scen_direct() {
	reach_direct
	stop_ping >/dev/null
	[ -n "$TTD" ] || return
	addr=$(peer a b direct_addr)
	echo "$case: a uses b's direct address $addr"
	case "$addr" in
	"$1":*) ;;
	*) fail "a's direct_addr for b is $addr, expected $1:PORT" ;;
	esac
	agent_metric_ge a weft_agent_punch_successes_total 1
	relay_quiet
}

s_inet() {
	setup --a inet --b inet || return
	scen_direct 203.0.113.22
}

s_eim() {
	setup || return
	scen_direct 203.0.113.12
}

s_nodrop() {
	setup --routed --nat1 eim-nodrop --nat2 eim-nodrop || return
	scen_direct 203.0.113.12
}

s_eimsym() {
	setup --nat2 sym || return
	ping_ok a "$b4" || fail "ping a->b (relay) before punching"
	bg_ping a "$b4" 0.05
	t0=$(now_ms)
	wait_path a b direct 5000 "$t0"
	rs=$(stop_ping)
	path=$(peer a b path)
	echo "eim+sym: $path (pings over 5 s: ${rs% *} of ${rs#* } answered, punch $(cli a peers | jq -c '.peers[0].punch'))"
	case "$path" in
	direct | relay) ;;
	*) fail "a's path to b is '$path'" ;;
	esac
	ping_ok a "$b4" || fail "ping a->b on the $path path"
	[ "${rs% *}" -ge $((${rs#* } / 2)) ] ||
		fail "only ${rs% *} of ${rs#* } pings answered"
}

s_symsym() {
	setup --nat1 sym --nat2 sym || return
	ping_ok a "$b4" || fail "ping a->b on the relay"
	r0=$(peer a b punch.rounds)
	bg_ping a "$b4" 0.2
	t0=$(now_ms)
	last=$r0 seen='' bad=''
	while [ $(($(now_ms) - t0)) -lt 10000 ]; do
		p=$(peer a b path)
		[ "$p" = relay ] || bad="$bad $p@$(($(now_ms) - t0))ms"
		r=$(peer a b punch.rounds)
		if [ -n "$r" ] && [ "$r" != "$last" ]; then
			seen="$seen $r@$(($(now_ms) - t0))ms"
			last=$r
		fi
		sleep 0.1
	done
	rs=$(stop_ping)
	[ -n "$rs" ] || { fail "no ping summary: $(tail -3 "$PING_OUT")"; rs="0 0"; }
	r1=$(peer a b punch.rounds)
	echo "sym+sym: path relay for 10 s; rounds $r0 -> $r1 (changes:${seen:- none}); pings ${rs% *} of ${rs#* } answered; punch $(cli a peers | jq -c '.peers[0].punch')"
	[ -z "$bad" ] || fail "path not relay during 10 s:$bad"
	[ "$r0" != null ] && [ -n "$r0" ] && [ -n "$r1" ] ||
		{ fail "no punch.rounds"; return; }
	[ $((r1 - r0)) -le 4 ] ||
		fail "$((r1 - r0)) punching rounds in 10 s with a ${COOLDOWN} s cooldown"
	[ "$r1" -ge 2 ] || fail "no retry after the first round (rounds $r1)"
	[ "${rs% *}" -ge $((${rs#* } * 8 / 10)) ] ||
		fail "only ${rs% *} of ${rs#* } pings answered on the relay"
	agent_metric_ge a weft_agent_punch_rounds_total "$r1"
}

# The stream: tcpsink prints the bytes received so far (every 64 KiB and
# at the end, "total N"); tcpsource sends 32 KiB every 25 ms (~10 Mbit/s)
# until the file STOP exists (at most SECS seconds), waits for the sink to
# close and prints "sent N". An error or a stall (sink: 30 s without
# data, source: SECS + 15 s in all) exits non-zero.
write_stream_tools() {
	cat >"$tmp/tcpsink.pl" <<'EOF'
use strict;
use IO::Socket::INET;
my ($bind) = @ARGV;
$| = 1;
$SIG{ALRM} = sub { die "no connection\n" };
alarm(60);
my $l = IO::Socket::INET->new(LocalAddr => $bind, Listen => 1,
	ReuseAddr => 1, Proto => 'tcp') or die "listen $bind: $!\n";
print "listening\n";
my $c = $l->accept or die "accept: $!\n";
my ($total, $mark, $buf, $n) = (0, 0);
$SIG{ALRM} = sub { die "stalled at $total bytes\n" };
while (alarm(30), ($n = sysread($c, $buf, 65536))) {
	$total += $n;
	if ($total - $mark >= 65536) { print "$total\n"; $mark = $total; }
}
defined $n or die "read: $!\n";
print "total $total\n";
EOF
	cat >"$tmp/tcpsource.pl" <<'EOF'
use strict;
use IO::Socket::INET;
my ($dest, $secs, $stop) = @ARGV;
$SIG{ALRM} = sub { die "stalled\n" };
alarm($secs + 15);
my $s = IO::Socket::INET->new(PeerAddr => $dest, Proto => 'tcp',
	Timeout => 5) or die "connect $dest: $!\n";
my $chunk = "x" x 32768;
my $sent = 0;
my $end = time + $secs;
while (time < $end && !-e $stop) {
	my $n = syswrite($s, $chunk);
	defined $n or die "write: $!\n";
	$sent += $n;
	select(undef, undef, undef, 0.025);
}
shutdown($s, 1) or die "shutdown: $!\n";
my $b;
while (sysread($s, $b, 4096)) { }
print "sent $sent\n";
EOF
}

# trace_start T0: every 100 ms, a's and b's view of each other (path,
# direct_addr, punch) and the stream's bytes, to $dir/trace.txt, with the
# time since T0: the agents do not log path changes, so this is what a
# failure shows. trace_stop ends it.
trace_start() {
	(
		while :; do
			echo "+$(($(now_ms) - $1))ms sink=$(sink_bytes)" \
				"a:$(peer a b '|{path, direct_addr, punch}' | jq -c .)" \
				"b:$(peer b a '|{path, direct_addr, punch}' | jq -c .)"
			sleep 0.1
		done
	) >>"$dir/trace.txt" 2>&1 &
	TRACE=$!
	pids="$pids $TRACE"
}

trace_stop() {
	kill "$TRACE" 2>/dev/null
	wait "$TRACE" 2>/dev/null
}

# reap PID SECS: PID's exit status; killed (status 137) when it has not
# ended within SECS seconds.
reap() {
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# sink_bytes: the bytes b's sink received so far.
sink_bytes() {
	grep -E '^[0-9]+$' "$dir/sink.out" 2>/dev/null | tail -n 1 | grep . ||
		echo 0
}

s_cut() {
	setup || return
	reach_direct
	stop_ping >/dev/null
	[ -n "$TTD" ] || return
	nat2=$(lab addr "$L" nat2)

	nsbg b perl "$tmp/tcpsink.pl" "$b4:5201" >"$dir/sink.out" \
		2>"$dir/sink.log"
	sink=$BG
	for _ in $(seq 50); do
		grep -q listening "$dir/sink.out" && break
		sleep 0.1
	done
	nsbg a perl "$tmp/tcpsource.pl" "$b4:5201" 60 "$dir/stop" \
		>"$dir/source.out" 2>"$dir/source.log"
	src=$BG
	ts=$(now_ms)
	trace_start "$ts"
	sleep 3
	y0=$(sink_bytes)
	[ "$y0" -gt 100000 ] || fail "the stream moved only $y0 bytes in 3 s"
	f0=$(metric inet "$RELAY_METRICS" weft_relay_frames_forwarded_total)

	# The cut: nat1 forwards no UDP to or from nat2's outside address.
	printf '%s\n' "table inet wtcut {" \
		"  chain forward {" \
		"    type filter hook forward priority filter - 10; policy accept;" \
		"    ip daddr $nat2 meta l4proto udp drop" \
		"    ip saddr $nat2 meta l4proto udp drop" \
		"  }" "}" | nsrun nat1 nft -f - || { fail "nft cut"; return; }
	tc=$(now_ms)
	echo "+$((tc - ts))ms cut" >>"$dir/trace.txt"
	if wait_path a b relay 3000 "$tc"; then
		echo "cut: back on the relay after $WAITED ms"
	else
		fail "a's peer b not on the relay 3 s after the cut (a: $(peer a b '|{path, dropped, punch}' | jq -c .), b: $(peer b a '|{path, dropped, punch}' | jq -c .))"
	fi
	# The stream keeps running on the relay. Its TCP retransmits with
	# exponential back-off (0.2, 0.4, 0.8, 1.6, 3.2 s, ...), so it has
	# until 10 s after the cut to move 256 KiB more.
	y1=$(sink_bytes)
	resumed=
	while [ $(($(now_ms) - tc)) -lt 10000 ]; do
		if [ $(($(sink_bytes) - y1)) -ge 262144 ]; then
			resumed=$(($(now_ms) - tc))
			break
		fi
		sleep 0.1
	done
	if [ -n "$resumed" ]; then
		echo "cut: the stream moved again $resumed ms after the cut"
		y2=$(sink_bytes)
		# The cut holds until a punching round failed against it (the
		# first retry comes a cooldown after the fallback), at most 12
		# s; the next try then waits twice the cooldown.
		r=$(peer a b punch.rounds)
		while [ $(($(now_ms) - tc)) -lt 12000 ]; do
			[ "$(peer a b punch.rounds)" -gt "$r" ] &&
				[ "$(peer a b punch.state)" = relay ] && break
			sleep 0.1
		done
		if [ "$(peer a b punch.state)" = relay ]; then
			nt=$(peer a b punch.next_try_ms)
			echo "cut: a punching round failed $(($(now_ms) - tc)) ms after the cut; next try in $nt ms"
			[ "$nt" != null ] && [ "$nt" -gt $((COOLDOWN * 1000)) ] ||
				fail "next try in $nt ms after a failed round: the cooldown did not double"
		else
			fail "no punching round failed during the cut (punch $(peer a b punch | jq -c .))"
		fi
		ms=$(($(now_ms) - tc - resumed))
		moved=$(($(sink_bytes) - y2))
		echo "cut: then $moved bytes on the relay in $ms ms"
		[ $ms -lt 1000 ] || [ $((moved * 1000 / ms)) -ge 262144 ] ||
			fail "the stream crawls on the relay: $moved bytes in $ms ms"
	else
		fail "the stream stalled during the cut ($(($(sink_bytes) - y1)) bytes in 10 s; a: $(peer a b '|{path, dropped}' | jq -c .), a's tx_dropped $(cli a status | jq .dataplane.tx_dropped))"
	fi
	f1=$(metric inet "$RELAY_METRICS" weft_relay_frames_forwarded_total)
	echo "cut: the relay forwarded $((f1 - f0)) frames during the cut; punch a $(peer a b punch | jq -c .)"
	[ "$(peer a b path)" = relay ] ||
		fail "path is $(peer a b path) while the cut holds"
	[ $((f1 - f0)) -gt 100 ] ||
		fail "the relay forwarded only $((f1 - f0)) frames during the cut"
	# The QUIC client counts the fallback; the server only follows it.
	fa=$(metric a "$AGENT_METRICS" weft_agent_path_fallbacks_total)
	fb=$(metric b "$AGENT_METRICS" weft_agent_path_fallbacks_total)
	[ -n "$fa" ] && [ -n "$fb" ] ||
		fail "an agent has no weft_agent_path_fallbacks_total"
	[ $((${fa:-0} + ${fb:-0})) -ge 1 ] ||
		fail "weft_agent_path_fallbacks_total is ${fa:-?} on a and ${fb:-?} on b"

	nsrun nat1 nft delete table inet wtcut || fail "nft delete"
	tl=$(now_ms)
	echo "+$((tl - ts))ms cut lifted" >>"$dir/trace.txt"
	limit=$(((COOLDOWN + 10) * 1000))
	if wait_path a b direct "$limit" "$tl"; then
		echo "cut lifted: direct again after $WAITED ms"
	else
		fail "not direct $limit ms after the cut was lifted (path $(peer a b path), punch $(cli a peers | jq -c '.peers[0].punch'))"
	fi
	# Still moving on the direct path.
	y3=$(sink_bytes)
	for _ in $(seq 50); do
		[ $(($(sink_bytes) - y3)) -ge 262144 ] && break
		sleep 0.1
	done
	[ $(($(sink_bytes) - y3)) -ge 262144 ] ||
		fail "the stream does not move after the cut was lifted ($(($(sink_bytes) - y3)) bytes in 5 s; a: $(peer a b '|{path, dropped}' | jq -c .), a's tx_dropped $(cli a status | jq .dataplane.tx_dropped))"
	ping_ok a "$b4" 3 || fail "ping a->b fails after the cut was lifted"
	echo "cut: a's punch $(cli a peers | jq -c '.peers[0].punch')"
	echo "cut: b's punch $(cli b peers | jq -c '.peers[0].punch')"
	trace_stop
	: >"$dir/stop"

	reap "$src" 10
	src_rc=$?
	reap "$sink" 5
	sink_rc=$?
	sent=$(sed -n 's/^sent //p' "$dir/source.out")
	got=$(sed -n 's/^total //p' "$dir/sink.out")
	echo "cut: the stream sent ${sent:-?} bytes in $(($(now_ms) - ts)) ms, b received ${got:-?}"
	[ $src_rc -eq 0 ] ||
		fail "the stream's sender failed (status $src_rc): $(cat "$dir/source.log")"
	[ $sink_rc -eq 0 ] ||
		fail "the stream's receiver failed (status $sink_rc): $(cat "$dir/sink.log")"
	[ -n "$sent" ] && [ "$sent" = "$got" ] ||
		fail "sent ${sent:-?} bytes, received ${got:-?}"
}

# ping_gap FILE T0 T1: the longest time (ms) between two answers of a
# `ping -D` in FILE, counted from T0 to T1 (ms since the epoch).
ping_gap() {
	sed -n 's/^\[\([0-9]*\)\.\([0-9]\{3\}\)[0-9]*\] .* bytes from .*/\1\2/p' \
		"$1" | awk -v t0="$2" -v t1="$3" '
		BEGIN { last = t0; gap = 0 }
		$1 >= t0 && $1 <= t1 { if ($1 - last > gap) gap = $1 - last; last = $1 }
		END { if (t1 - last > gap) gap = t1 - last; print gap }'
}

s_portchange() {
	setup || return
	reach_direct
	stop_ping >/dev/null
	[ -n "$TTD" ] || return
	old=$(peer b a direct_addr)
	nsbg a sh -c "exec ping -D -n -i 0.05 $b4 >$dir/ping-port.txt 2>&1"
	PING_PID=$BG
	sleep 1
	t0=$(now_ms)
	nsrun nat1 nft flush chain ip netlab postrouting &&
		nsrun nat1 nft add rule ip netlab postrouting \
			oifname out meta l4proto udp masquerade to :40000-40100 &&
		nsrun nat1 nft add rule ip netlab postrouting \
			oifname out masquerade &&
		nsrun nat1 conntrack -F >/dev/null 2>&1 ||
		{ fail "could not change nat1's port mapping"; return; }
	new=
	redirect=
	while [ $(($(now_ms) - t0)) -lt $(((COOLDOWN + 10) * 1000)) ]; do
		new=$(peer b a direct_addr)
		case "$new" in
		203.0.113.11:400[0-9][0-9] | 203.0.113.11:40100)
			redirect=$(($(now_ms) - t0))
			break ;;
		esac
		sleep 0.05
	done
	[ -n "$redirect" ] && echo "$case: direct again on the new port after $redirect ms"
	sleep 2
	t1=$(now_ms)
	kill "$PING_PID" 2>/dev/null
	gap=$(ping_gap "$dir/ping-port.txt" "$t0" "$t1")
	echo "$case: nat1 remapped a ($old -> $new): longest gap between answers $gap ms"
	[ "$gap" -le 3000 ] ||
		fail "traffic stopped for $gap ms after the port change"
	[ "$(peer a b path)" = direct ] || fail "a's path is $(peer a b path)"
	[ -n "$redirect" ] || fail "b's direct address for a is still $new"
	# Both sides log the move to the relay and back to direct.
	for _n in a b; do
		grep -q 'event=peer_path.*path=relay' "$dir/$_n.log" ||
			fail "$_n logged no move to the relay"
		[ "$(grep -c 'event=peer_path.*path=direct' "$dir/$_n.log")" -ge 2 ] ||
			fail "$_n logged no move back to direct"
	done
}

s_samelan() {
	setup --same-lan || return
	reach_direct
	stop_ping >/dev/null
	[ -n "$TTD" ] || return
	addr=$(peer a b direct_addr)
	echo "same LAN: a uses b's direct address $addr"
	case "$addr" in
	10.1.0.12:*) ;;
	*) fail "a's direct_addr for b is $addr, not b's LAN address 10.1.0.12" ;;
	esac
}

# add_ipv6: IPv6 for a and b on the inet bridge, and no UDP over IPv4
# between them (run by setup before the agents start).
add_ipv6() {
	nsrun a ip -6 addr add 2001:db8::21/64 dev eth0 nodad &&
		nsrun b ip -6 addr add 2001:db8::22/64 dev eth0 nodad ||
		{ V6_SKIP=1; return 1; }
	printf '%s\n' 'table inet weft_v4cut {' \
		'  chain out { type filter hook output priority 0;' \
		'    ip daddr 203.0.113.22 meta l4proto udp drop; }' \
		'  chain in { type filter hook input priority 0;' \
		'    ip saddr 203.0.113.22 meta l4proto udp drop; }' \
		'}' | nsrun a nft -f - || { fail "nft in a"; return 1; }
	ping_ok a 2001:db8::22 || { fail "no IPv6 between a and b"; return 1; }
}

# node_endpoints NAME: NAME's endpoints at the controller, one per line.
node_endpoints() {
	api GET /api/v1/nodes 2>/dev/null |
		jq -r --arg n "$1" '.items[] | select(.name == $n) | .endpoints[]?'
}

s_newaddr() {
	extra_agent_flags="--endpoint-poll 1h"
	setup --a inet --b inet
	rc=$?
	extra_agent_flags=
	[ $rc -eq 0 ] || return
	node_endpoints b | grep -q '^203\.0\.113\.22:' ||
		{ fail "b's endpoints lack its address: $(node_endpoints b | tr '\n' ' ')"; return; }
	node_endpoints b | grep -q '^203\.0\.113\.99:' &&
		{ fail "b publishes 203.0.113.99 before it has it"; return; }
	nsrun b ip addr add 203.0.113.99/24 dev eth0 ||
		{ fail "ip addr add in b"; return; }
	t0=$(now_ms)
	while :; do
		node_endpoints b | grep -q '^203\.0\.113\.99:' && break
		if [ $(($(now_ms) - t0)) -gt 3000 ]; then
			fail "b's new address not published within 3 s: $(node_endpoints b | tr '\n' ' ')"
			return
		fi
		sleep 0.05
	done
	echo "newaddr: b's new address published after $(($(now_ms) - t0)) ms"
}

s_ipv6() {
	V6_SKIP=
	pre_agents=add_ipv6
	setup --a inet --b inet
	rc=$?
	pre_agents=
	if [ -n "$V6_SKIP" ]; then
		echo "ipv6: SKIPPED: this kernel cannot add IPv6 addresses"
		return
	fi
	[ $rc -eq 0 ] || return
	scen_direct "[2001:db8::22]"
}

need paths_nat_test jq curl ping perl
start_test
write_stream_tools

cooldown_flag="--punch-cooldown ${COOLDOWN}s"
if ! "$AGENT" up --help 2>&1 | grep -q -- --punch-cooldown; then
	fail "weft-agent up has no --punch-cooldown: running without it"
	cooldown_flag=
fi

[ $# -gt 0 ] || set -- inet eim nodrop eimsym symsym cut portchange samelan \
	newaddr ipv6
for case in "$@"; do
	t_s=$(date +%s)
	case "$case" in
	inet | eim | nodrop | eimsym | symsym | cut | portchange | samelan | \
		newaddr | ipv6) "s_$case" ;;
	*) echo "paths_nat_test: unknown scenario '$case'" >&2; exit 2 ;;
	esac
	cleanup
	echo "$case: $(($(date +%s) - t_s)) s"
done
case=
finish paths_nat
