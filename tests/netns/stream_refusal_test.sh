#!/bin/sh
# Stream mode's open reply (issue 18): the proxies answer their client
# only once the receiving agent has connected, and a refusal reaches the
# client as the matching SOCKS5 reply code or HTTP status. A netlab with
# the controller and a relay in "inet" and three --no-tun agents, each
# started as user nobody: a (the opener, --socks5 and --http-proxy,
# default limits), b (--max-streams-per-peer 3) and c (--max-streams 3).
# The policy allows a->b/c TCP 8000, 8003 and 8006, not 8001; b serves an
# HTTP page on 8000 and a server that holds connections open on 8006
# (and nothing on 8003), c the holding server on 8006.
#   - curl --socks5-hostname to b:8000 gets the page; to b:8001 (denied
#     by the policy) fails with SOCKS5 reply 2 ("not allowed by
#     ruleset"), counted by b as refused_policy; to b:8003 (nothing
#     listens) reply 5 ("connection refused"), counted as
#     refused_service;
#   - curl -p -x (HTTP CONNECT) to b:8001 gets 403, to b:8003 502;
#   - receiver-side limits: 5 SOCKS5 CONNECTs at once to b:8006 (the
#     connections held): 3 succeed (reply 0), 2 get reply 1 (general
#     failure: the limit), b counts 2 as refused_peer_limit and a none;
#     with b's 3 held, an HTTP CONNECT to b:8000 gets 503; the same 5 to
#     c:8006: 3 succeed, 2 get reply 1, c counts 2 as
#     refused_total_limit;
#   - b's agent stopped: a CONNECT to b gets 504 (HTTP) and reply 4
#     (SOCKS5, host unreachable) once STREAMS_CONNECT_MS (5 s) passed.
#
#   stream_refusal_test.sh
#
# Needs root (for the namespaces; the agents run as nobody); exits 77
# (ctest: skipped) when namespaces are unavailable. Environment: NETLAB,
# WEFT_AGENT_BIN, WEFT_CONTROLLER_BIN, WEFT_RELAY_BIN.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/connector_lab.sh"
lab_env
L=sr$$

policy='{"tagOwners":{"tag:a":[],"tag:b":[]},"acls":[
 {"action":"accept","proto":"tcp","src":["tag:a"],
  "dst":["tag:b:8000","tag:b:8003","tag:b:8006"]}]}'

# streams NODE FIELD: a counter of NODE's status "streams" object.
streams() {
	cli "$1" status | jq ".streams.$2"
}

# start_nt NODE KEY FLAGS...: NODE's agent as nobody, without a TUN.
start_nt() {
	_node=$1 _key=$2
	shift 2
	mkdir -p "$tmp/$_node"
	chown nobody "$tmp/$_node"
	nsrun "$_node" setpriv --reuid=nobody --regid="$nogroup" \
		--clear-groups --inh-caps=-all \
		"$AGENT" up --controller "$URL" --insecure-http \
		--auth-key "$_key" --state-dir "$tmp/$_node" \
		--socket "$tmp/$_node/sock" --hostname "$_node" --no-tun \
		--no-direct --dns off "$@" 2>>"$tmp/$_node.log" &
	pids="$pids $!"
}

# hold NODE PORT: a server on NODE's 127.0.0.1:PORT that keeps every
# connection open until the client closes it.
hold() {
	nsrun "$1" python3 - "$2" >>"$tmp/hold-$1.log" 2>&1 <<'PY' &
import asyncio, sys

async def keep(r, w):
    try:
        await r.read()
    except OSError:
        pass
    w.close()

async def main():
    srv = await asyncio.start_server(keep, "127.0.0.1", int(sys.argv[1]))
    await srv.serve_forever()

asyncio.run(main())
PY
	pids="$pids $!"
}

# socks_codes HOST PORT N [HOLD]: N SOCKS5 CONNECTs at once through a's
# proxy, all held open until the last reply (and HOLD seconds more);
# prints the reply codes, sorted.
socks_codes() {
	nsrun a python3 - "$1" "$2" "$3" "${4:-0}" <<'PY'
import socket, struct, sys, time
host, port, n = sys.argv[1].encode(), int(sys.argv[2]), int(sys.argv[3])
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", 1080), timeout=15)
    s.sendall(b"\x05\x01\x00" + b"\x05\x01\x00\x03" + bytes([len(host)]) +
              host + struct.pack(">H", port))
    conns.append(s)
codes = []
for s in conns:
    d = b""
    try:
        while len(d) < 12:
            r = s.recv(12 - len(d))
            if not r:
                break
            d += r
    except OSError:
        pass
    codes.append(str(d[3]) if len(d) >= 4 and d[:2] == b"\x05\x00"
                 else "none")
print(" ".join(sorted(codes)), flush=True)
time.sleep(float(sys.argv[4]))
for s in conns:
    s.close()
PY
}

# socks_err HOST:PORT: curl's error through a's SOCKS5 proxy (its exit
# code, then its message).
socks_err() {
	nsrun a curl -sS -m 15 --socks5-hostname 127.0.0.1:1080 \
		"http://$1/" 2>&1
	echo "exit $?"
}

# connect_code HOST:PORT: the status of a's HTTP proxy's CONNECT answer.
connect_code() {
	nsrun a curl -s -m 15 -o /dev/null -w '%{http_connect}' -p \
		-x http://127.0.0.1:3128 "http://$1/"
}

# quiet NODE: waits up to 5 s for NODE's streams to end.
quiet() {
	for _ in $(seq 50); do
		[ "$(streams "$1" active)" = 0 ] && return 0
		sleep 0.1
	done
	fail "$1 still has $(streams "$1" active) streams"
}

# over_limit NODE FIELD: of 5 SOCKS5 CONNECTs at once to NODE:8006 (its
# limit 3, a's the default) 3 succeed and 2 get reply 1, counted by NODE
# under FIELD and not by a.
over_limit() {
	quiet "$1"
	out=$(socks_codes "$1" 8006 5)
	echo "5 SOCKS5 CONNECTs to $1:8006 ($1's limit 3): replies $out"
	[ "$out" = "0 0 0 1 1" ] ||
		fail "$1's limit: replies $out, want 0 0 0 1 1"
	[ "$(streams "$1" "$2")" = 2 ] ||
		fail "$1 counted $(streams "$1" "$2") $2, want 2"
	[ "$(streams a "$2")" = 0 ] || fail "a refused $(streams a "$2") itself"
}

run() {
	lab_start stream_refusal --a inet --b inet --c inet || return
	mesh_up || return
	api PUT /api/v1/policy "$policy" >/dev/null ||
		{ fail "policy"; return; }
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kb=$(api POST /api/v1/auth-keys '{"tags":["tag:b"]}' | jq -r .key)
	kc=$(api POST /api/v1/auth-keys '{"tags":["tag:b"]}' | jq -r .key)

	mkdir -p "$tmp/www"
	echo "hello through a stream" >"$tmp/www/index.html"
	nsrun b python3 -m http.server 8000 --bind 127.0.0.1 \
		--directory "$tmp/www" >>"$tmp/http.log" 2>&1 &
	pids="$pids $!"
	hold b 8006
	hold c 8006
	chmod 711 "$tmp"
	start_nt b "$kb" --max-streams-per-peer 3
	start_nt c "$kc" --max-streams 3
	start_nt a "$ka" --socks5 127.0.0.1:1080 --http-proxy 127.0.0.1:3128
	wait_running a 2 || return
	wait_running b 1 || return
	wait_running c 1 || return

	out=$(nsrun a curl -sS -m 10 --socks5-hostname 127.0.0.1:1080 \
		http://b:8000/ 2>&1)
	[ "$out" = "hello through a stream" ] ||
		fail "curl --socks5-hostname to b:8000: $out"

	# Denied by the policy: SOCKS5 reply 2, counted by b.
	out=$(socks_err b:8001)
	echo "SOCKS5 to b:8001 (denied): $out"
	case $out in *"Can't complete SOCKS5 connection to b. (2)"*"exit 97") ;;
	*) fail "SOCKS5 to b:8001: $out, want reply 2 (not allowed)" ;; esac
	[ "$(streams b refused_policy)" = 1 ] ||
		fail "b counted $(streams b refused_policy) refused_policy, want 1"
	# Nothing listens: reply 5.
	out=$(socks_err b:8003)
	echo "SOCKS5 to b:8003 (closed): $out"
	case $out in *"Can't complete SOCKS5 connection to b. (5)"*"exit 97") ;;
	*) fail "SOCKS5 to b:8003: $out, want reply 5 (refused)" ;; esac
	[ "$(streams b refused_service)" = 1 ] ||
		fail "b counted $(streams b refused_service) refused_service, want 1"

	# The same through HTTP CONNECT.
	out=$(connect_code b:8001)
	[ "$out" = 403 ] || fail "HTTP CONNECT to b:8001: $out, want 403"
	out=$(connect_code b:8003)
	[ "$out" = 502 ] || fail "HTTP CONNECT to b:8003: $out, want 502"
	[ "$(streams b refused_policy)" = 2 ] ||
		fail "b counted $(streams b refused_policy) refused_policy, want 2"

	# b's per-peer limit of 3: 2 of 5 refused by b, not by a.
	over_limit b refused_peer_limit
	# With 3 held, an HTTP CONNECT gets 503.
	quiet b
	socks_codes b 8006 3 4 >"$tmp/held.txt" 2>&1 &
	held=$!
	for _ in $(seq 50); do
		[ -s "$tmp/held.txt" ] && break
		sleep 0.1
	done
	[ "$(cat "$tmp/held.txt")" = "0 0 0" ] ||
		fail "3 held connections to b:8006: $(cat "$tmp/held.txt")"
	out=$(connect_code b:8000)
	[ "$out" = 503 ] || fail "HTTP CONNECT over b's limit: $out, want 503"
	[ "$(streams b refused_peer_limit)" = 3 ] ||
		fail "b counted $(streams b refused_peer_limit) refused_peer_limit, want 3"
	wait "$held"

	# c's total limit of 3.
	over_limit c refused_total_limit

	# b gone: no reply within STREAMS_CONNECT_MS.
	stop_pid "$(nspid b weft-agent)" TERM
	t0=$(now_ms)
	out=$(connect_code b:8000)
	echo "HTTP CONNECT to b with b's agent stopped: $out after $(($(now_ms) - t0)) ms"
	[ "$out" = 504 ] || fail "HTTP CONNECT to a stopped b: $out, want 504"
	out=$(socks_err b:8000)
	case $out in *"Can't complete SOCKS5 connection to b. (4)"*"exit 97") ;;
	*) fail "SOCKS5 to a stopped b: $out, want reply 4 (unreachable)" ;; esac
	cli a status | jq -c .streams
	[ "$(streams a failed)" -ge 6 ] ||
		fail "a counted $(streams a failed) failed streams, want 6 or more"
	quiet a
}

need stream_refusal jq curl python3 setpriv
nobody=$(id -u nobody 2>/dev/null) ||
	{ echo "stream_refusal: no user nobody" >&2; exit 1; }
nogroup=$(id -g nobody)
start_test
run
finish stream_refusal
