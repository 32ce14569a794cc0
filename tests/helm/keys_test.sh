#!/bin/sh
# The keys helm/weft generates and its relay registration, run for real
# (ctest helm_keys, label deploy), without a cluster:
#  1. the admin API key and key-encryption key the chart renders start a
#     real controller (serve --bootstrap-key-file --kek-file), which adopts
#     the key: it lists relays with it;
#  2. the chart's relay-init.sh (its ConfigMap's script) saves the
#     controller key and registers the relay with the pin of the chart's
#     relay key, then updates the same entry on a second run;
#  3. weft-relay starts with that key and that controller key and prints
#     the same pin;
#  4. weft-agent loads the connector's node key the chart renders;
#  5. the stream-mode agent's command as the chart renders it, run as
#     nobody with no capabilities (as root: setpriv): it registers with the
#     chart's node key, runs, listens on its forward, its SOCKS5 proxy and
#     its DNS stub's unprivileged port, and the stub answers;
#  6. the stream-mode connector's command as the chart renders it, run as
#     nobody with no capabilities and its own chart-made node key: it
#     registers, runs without a TUN (no --connector, which needs one),
#     and serves the agent of 5: a page from an ip resource on this
#     host's address comes through that agent's SOCKS5 proxy;
#  7. the controller, the relay and those agents exit 0 on SIGTERM, with
#     no sanitizer report in their logs.
# Usage: keys_test.sh TOOLS_DIR CONTROLLER RELAY AGENT
set -u
here=$(cd "$(dirname "$0")" && pwd)
chart=$here/../../helm/weft
tools=$1 ctl=$2 relay=$3 agent=$4

fail() {
	echo "not ok - $*"
	[ -f "$work/ctl.log" ] && sed 's/^/  controller: /' "$work/ctl.log" | tail -20
	exit 1
}
for t in curl jq openssl dig ss; do
	command -v $t >/dev/null 2>&1 || fail "$t is missing (scripts/deps.sh test installs it)"
done
work=$(mktemp -d /tmp/weft-helm-keys.$$.XXXXXX) || exit 1
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# check_nobody DIR WHAT KEY: the agent whose socket is $work/DIR/agent.sock
# and log $work/DIR.log runs (its status in $st), without a TUN or any
# capability, with the node key KEY.
check_nobody() {
	st=
	for _ in $(seq 100); do
		st=$("$agent" status --json --socket "$work/$1/agent.sock" 2>/dev/null)
		[ "$(echo "$st" | jq -r .state 2>/dev/null)" = running ] && break
		sleep 0.1
	done
	[ "$(echo "$st" | jq -r .state 2>/dev/null)" = running ] ||
		fail "$2 does not run: $(tail -20 "$work/$1.log")"
	[ "$(echo "$st" | jq -r .tun)" = null ] || fail "$2 has a TUN: $st"
	grep -q 'event=privileges_dropped .*cap_eff=0x0' "$work/$1.log" ||
		fail "$2 holds capabilities: $(grep privileges "$work/$1.log")"
	want=$(openssl pkey -in "$3" -pubout -outform DER | tail -c 32 | base64)
	grep -q "event=node_key_loaded public_key=$want" "$work/$1.log" ||
		fail "$2 did not use the chart's node key"
}

helm=$(node "$here/tools.mjs" "$tools") || fail "no helm"
"$helm" template t "$chart" --set connector.enabled=true \
	--set connector.authKey.existingSecret=x \
	--show-only templates/secrets.yaml >"$work/secrets.yaml" || fail "helm template"
# Each Secret's data keys as files (api-key, kek, relay.key, node.key).
node -e '
const { parseAllDocuments } = require(process.argv[1]);
const fs = require("fs");
for (const d of parseAllDocuments(fs.readFileSync(process.argv[2], "utf8"))) {
  for (const [k, v] of Object.entries(d.toJS().data))
    fs.writeFileSync(process.argv[3] + "/" + k, Buffer.from(v, "base64"), { mode: 0o600 });
}' "$here/node_modules/yaml" "$work/secrets.yaml" "$work" || fail "reading the Secrets"
for f in api-key kek relay.key node.key; do
	[ -s "$work/$f" ] || fail "the chart rendered no $f"
done

# 1. The controller adopts the chart's admin key.
mkdir -m 700 "$work/data"
"$ctl" serve --data-dir "$work/data" --listen 127.0.0.1:0 \
	--bootstrap-key-file "$work/api-key" --kek-file "$work/kek" \
	>"$work/ctl.log" 2>&1 &
ctl_pid=$!
pids="$pids $ctl_pid"
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*event=listening .* port=\([0-9]*\) .*/\1/p' "$work/ctl.log")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || fail "the controller did not start"
url=http://127.0.0.1:$port
grep -q "the first admin API key is the one in" "$work/ctl.log" ||
	fail "the controller did not adopt the chart's admin key"
auth="Authorization: Bearer $(cat "$work/api-key")"
curl -fsS -H "$auth" "$url/api/v1/relays" >/dev/null || fail "the chart's admin key is refused"
echo "ok 1 - the controller adopts the chart's admin key and key-encryption key"

# 2. relay-init.sh registers, then updates.
init() {
	WEFT_URL=$url WEFT_API_KEY_FILE=$work/api-key RELAY_KEY=$work/relay.key \
	RELAY_NAME=t-weft RELAY_REGION=$1 RELAY_ADDRESS=$2 OUT=$work/controller.pub \
		sh "$chart/files/relay-init.sh" 2>>"$work/init.log" || {
		cat "$work/init.log"
		fail "relay-init.sh ($1 $2)"
	}
}
init default relay.example.com:3478
init eu 203.0.113.7:31478
list=$(curl -fsS -H "$auth" "$url/api/v1/relays")
[ "$(echo "$list" | jq '.items | length')" = 1 ] || fail "want one relay entry: $list"
[ "$(echo "$list" | jq -r '.items[0] | "\(.name) \(.region) \(.address)"')" = \
	"t-weft eu 203.0.113.7:31478" ] || fail "the entry was not updated: $list"
jq -e '.algorithm == "ES256"' "$work/controller.pub" >/dev/null ||
	fail "relay-init.sh saved no controller key"
echo "ok 2 - relay-init.sh registers the relay, then updates its entry"

# 3. The relay runs with the chart's key; its pin is the registered one.
"$relay" --listen 127.0.0.1:0 --key "$work/relay.key" \
	--controller-key "$work/controller.pub" >"$work/relay.out" 2>"$work/relay.log" &
relay_pid=$!
pids="$pids $relay_pid"
pin=
for _ in $(seq 100); do
	pin=$(sed -n 's/^relay pin: //p' "$work/relay.out")
	[ -n "$pin" ] && break
	sleep 0.1
done
[ -n "$pin" ] || fail "weft-relay did not start with the chart's key: $(cat "$work/relay.log")"
want=$(echo "$list" | jq -r '.items[0].public_key_pin')
[ "$pin" = "$want" ] || fail "relay pin $pin, registered $want"
echo "ok 3 - weft-relay runs with the chart's key, pin $pin as registered"

# 4. The agent loads the connector's node key.
mkdir -m 700 "$work/state"
install -m 600 "$work/node.key" "$work/state/node.key"
"$agent" up --controller "$url" --state-dir "$work/state" --no-tun \
	--socket "$work/state/agent.sock" >"$work/agent.log" 2>&1
got=$(sed -n 's/.*event=node_key_loaded public_key=\([^ ]*\).*/\1/p' "$work/agent.log")
want=$(openssl pkey -in "$work/node.key" -pubout -outform DER | tail -c 32 | base64)
[ -n "$got" ] && [ "$got" = "$want" ] ||
	fail "weft-agent did not load the chart's node key ($got, want $want): $(cat "$work/agent.log")"
echo "ok 4 - weft-agent loads the connector's node key"

# 5. Stream mode: the chart's command line, with the paths of this host.
stream_pid=
if [ "$(id -u)" != 0 ]; then
	echo "ok 5 # skip stream mode as nobody needs root (setpriv)"
else
	fport=$((20000 + $$ % 20000)) sport=$((20001 + $$ % 20000)) dport=$((20002 + $$ % 20000))
	"$helm" template t "$chart" --set agent.enabled=true \
		--set agent.authKey.existingSecret=x --set agent.streamMode.enabled=true \
		--set "agent.streamMode.forwards={0.0.0.0:$fport=nosuchnode:80}" \
		--set "agent.streamMode.socks5=0.0.0.0:$sport" \
		--show-only templates/agent-stream.yaml >"$work/stream.yaml" || fail "helm template (stream mode)"
	node -e '
const { parseAllDocuments } = require(process.argv[1]);
const fs = require("fs");
const d = parseAllDocuments(fs.readFileSync(process.argv[2], "utf8")).map((x) => x.toJS())
  .find((x) => x.kind === "Deployment");
const c = d.spec.template.spec.containers[0];
console.log(c.command.concat(c.args).join("\n"));' \
		"$here/node_modules/yaml" "$work/stream.yaml" >"$work/stream.args" || fail "reading the Deployment"
	grep -qx -- '--dns-listen=127.0.0.1:5353' "$work/stream.args" ||
		fail "the chart's DNS stub is not on 127.0.0.1:5353: $(cat "$work/stream.args")"
	# What the pod's volumes and Service give it, here: this controller,
	# directories nobody owns, a stub port no other test holds.
	mkdir "$work/stream"
	chown nobody "$work/stream"
	chmod 711 "$work"
	set --
	while IFS= read -r a; do
		case $a in
		weft-agent) a=$agent ;;
		--controller=*) a=--controller=$url ;;
		--state-dir=*) a=--state-dir=$work/stream/state ;;
		--socket=*) a=--socket=$work/stream/agent.sock ;;
		--dns-listen=*) a=--dns-listen=127.0.0.1:$dport ;;
		esac
		set -- "$@" "$a"
	done <"$work/stream.args"
	curl -fsS -H "$auth" -X PUT -d '{"tagOwners":{"tag:k8s":[]}}' "$url/api/v1/policy" >/dev/null ||
		fail "policy"
	authkey=$(curl -fsS -H "$auth" -d '{"tags":["tag:k8s"]}' "$url/api/v1/auth-keys" | jq -r .key)
	# The init container's copy, then the agent, each as nobody with no
	# capabilities at all.
	nobody="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups --inh-caps=-all --bounding-set=-all"
	# The Secret volume: mode 0440, group fsGroup.
	install -m 0440 -g "$(id -g nobody)" "$work/node.key" "$work/stream/node.key"
	$nobody install -D -m 0600 "$work/stream/node.key" "$work/stream/state/node.key" ||
		fail "install -D as nobody"
	env WEFT_AUTH_KEY="$authkey" $nobody "$@" >"$work/stream.log" 2>&1 &
	stream_pid=$!
	pids="$pids $stream_pid"
	check_nobody stream "the stream-mode agent" "$work/node.key"
	name=$(curl -fsS -H "$auth" "$url/api/v1/nodes" | jq -r '.items[].name')
	[ "$name" = t-weft-agent ] || fail "registered as \"$name\", want t-weft-agent"
	for p in $fport $sport $dport; do
		[ -n "$(ss -ltnH "sport = :$p")" ] || fail "nothing listens on TCP $p: $(tail -20 "$work/stream.log")"
	done
	ip4=$(echo "$st" | jq -r .node.ipv4)
	got=$(dig +short +time=2 +tries=2 @127.0.0.1 -p "$dport" t-weft-agent.weft.internal A)
	[ "$got" = "$ip4" ] || fail "the stub on 127.0.0.1:$dport answers \"$got\", want $ip4"
	if grep -q 'dns_stub_bind_failed\|level=error' "$work/stream.log"; then
		fail "errors in the stream-mode agent's log: $(grep 'level=error' "$work/stream.log")"
	fi
	echo "ok 5 - the chart's stream-mode agent runs as nobody without capabilities: forward, SOCKS5, DNS stub on $dport"
fi

# 6. The stream-mode connector, as nobody, serving the agent of 5.
conn_pid= http_pid=
hostip=$(ip -o -4 addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
if [ -z "$stream_pid" ]; then
	echo "ok 6 # skip the stream-mode connector as nobody needs root (setpriv)"
elif [ -z "$hostip" ]; then
	echo "ok 6 # skip the stream-mode connector: no global IPv4 address to serve"
else
	hport=$((20003 + $$ % 20000))
	mkdir "$work/conn" "$work/www"
	echo "hello from the resource" >"$work/www/index.html"
	# The interpreter itself, not a wrapper (pyenv's shim) that would
	# leave it running when killed.
	py=$(python3 -c 'import sys; print(sys.executable)') || fail "no python3"
	"$py" -m http.server "$hport" --bind "$hostip" --directory "$work/www" \
		>"$work/http.out" 2>&1 &
	http_pid=$!
	pids="$pids $http_pid"
	"$helm" template t "$chart" --set connector.enabled=true \
		--set connector.authKey.existingSecret=x --set connector.streamMode.enabled=true \
		--show-only templates/secrets.yaml --show-only templates/connector-deployment.yaml \
		>"$work/conn.yaml" || fail "helm template (stream-mode connector)"
	# A node key of its own (each render makes a new one): the Secret's
	# file as the pod's volume has it (0440, group fsGroup), then its
	# command line.
	node -e '
const { parseAllDocuments } = require(process.argv[1]);
const fs = require("fs");
const docs = parseAllDocuments(fs.readFileSync(process.argv[2], "utf8")).map((x) => x.toJS());
const key = docs.find((x) => x.kind === "Secret" && x.metadata.name === "t-weft-connector-key");
fs.writeFileSync(process.argv[3] + "/node.key", Buffer.from(key.data["node.key"], "base64"), { mode: 0o440 });
const c = docs.find((x) => x.kind === "Deployment").spec.template.spec.containers[0];
console.log(c.command.concat(c.args).join("\n"));' \
		"$here/node_modules/yaml" "$work/conn.yaml" "$work/conn" >"$work/conn.args" ||
		fail "reading the connector's Secret and Deployment"
	grep -qx -- --no-tun "$work/conn.args" || fail "the connector has no --no-tun: $(cat "$work/conn.args")"
	chown nobody "$work/conn"
	chgrp "$(id -g nobody)" "$work/conn/node.key"
	set --
	while IFS= read -r a; do
		case $a in
		weft-agent) a=$agent ;;
		--controller=*) a=--controller=$url ;;
		--state-dir=*) a=--state-dir=$work/conn/state ;;
		--socket=*) a=--socket=$work/conn/agent.sock ;;
		esac
		set -- "$@" "$a"
	done <"$work/conn.args"
	curl -fsS -H "$auth" -X PUT -d '{"tagOwners":{"tag:k8s":[],"tag:conn":[]}}' \
		"$url/api/v1/policy" >/dev/null || fail "tagOwners"
	curl -fsS -H "$auth" -d "{\"name\":\"site\",\"address\":\"$hostip\",
		\"connectors\":{\"tags\":[\"tag:conn\"]}}" "$url/api/v1/resources" >/dev/null ||
		fail "resource site"
	curl -fsS -H "$auth" -X PUT -d '{"tagOwners":{"tag:k8s":[],"tag:conn":[]},"acls":[
		{"action":"accept","proto":"tcp","src":["tag:k8s"],"dst":["resource:site:*"]}]}' \
		"$url/api/v1/policy" >/dev/null || fail "policy"
	ckey=$(curl -fsS -H "$auth" -d '{"tags":["tag:conn"]}' "$url/api/v1/auth-keys" | jq -r .key)
	# The tunnel between the two agents starts on the relay: the running
	# one of 3, not the address 2 registered.
	raddr=$(sed -n 's/.*event=relay_listening addr=\([^ ]*\).*/\1/p' "$work/relay.log")
	curl -fsS -H "$auth" -X PATCH -d "{\"address\":\"$raddr\"}" \
		"$url/api/v1/relays/$(echo "$list" | jq -r '.items[0].id')" >/dev/null ||
		fail "relay address $raddr"
	$nobody install -D -m 0600 "$work/conn/node.key" "$work/conn/state/node.key" ||
		fail "install -D as nobody (connector)"
	env WEFT_AUTH_KEY="$ckey" $nobody "$@" >"$work/conn.log" 2>&1 &
	conn_pid=$!
	pids="$pids $conn_pid"
	check_nobody conn "the stream-mode connector" "$work/conn/node.key"
	curl -fsS -H "$auth" "$url/api/v1/nodes" | jq -e '[.items[].name] | index("t-weft")' >/dev/null ||
		fail "no node t-weft"
	got=
	for _ in $(seq 50); do
		got=$(curl -sS -m 2 --socks5-hostname "127.0.0.1:$sport" "http://$hostip:$hport/" 2>&1)
		[ "$got" = "hello from the resource" ] && break
		sleep 0.2
	done
	[ "$got" = "hello from the resource" ] ||
		fail "no page from $hostip:$hport through the connector: $got; $(tail -5 "$work/conn.log")"
	n=$("$agent" status --json --socket "$work/conn/agent.sock" | jq .streams.accepted_resource)
	[ "$n" -ge 1 ] || fail "the connector counts $n streams to resources"
	if grep -q 'level=error' "$work/conn.log"; then
		fail "errors in the stream-mode connector's log: $(grep 'level=error' "$work/conn.log")"
	fi
	echo "ok 6 - the chart's stream-mode connector runs as nobody without capabilities and serves $hostip:$hport to the stream-mode agent"
fi

# 7. Clean exits.
for p in ctl relay ${stream_pid:+stream} ${conn_pid:+conn}; do
	eval "pid=\$${p}_pid"
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	[ $rc = 0 ] || fail "$p exited $rc on SIGTERM"
done
pids=$http_pid
if grep -l "Sanitizer\|runtime error" "$work"/*.log; then
	fail "a sanitizer report (above)"
fi
echo "ok 7 - the controller, the relay and the stream-mode agent and connector exit 0 on SIGTERM, no sanitizer report"
