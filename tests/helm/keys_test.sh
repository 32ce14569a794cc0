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
#  6. the controller, the relay and that agent exit 0 on SIGTERM, with no
#     sanitizer report in their logs.
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
	st=
	for _ in $(seq 100); do
		st=$("$agent" status --json --socket "$work/stream/agent.sock" 2>/dev/null)
		[ "$(echo "$st" | jq -r .state 2>/dev/null)" = running ] && break
		sleep 0.1
	done
	[ "$(echo "$st" | jq -r .state 2>/dev/null)" = running ] ||
		fail "the stream-mode agent does not run: $(tail -20 "$work/stream.log")"
	[ "$(echo "$st" | jq -r .tun)" = null ] || fail "the stream-mode agent has a TUN: $st"
	grep -q 'event=privileges_dropped .*cap_eff=0x0' "$work/stream.log" ||
		fail "the stream-mode agent holds capabilities: $(grep privileges "$work/stream.log")"
	want=$(openssl pkey -in "$work/node.key" -pubout -outform DER | tail -c 32 | base64)
	grep -q "event=node_key_loaded public_key=$want" "$work/stream.log" ||
		fail "the stream-mode agent did not use the chart's node key"
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

# 6. Clean exits.
for p in ctl relay ${stream_pid:+stream}; do
	eval "pid=\$${p}_pid"
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	[ $rc = 0 ] || fail "$p exited $rc on SIGTERM"
done
pids=
if grep -l "Sanitizer\|runtime error" "$work"/*.log; then
	fail "a sanitizer report (above)"
fi
echo "ok 6 - the controller, the relay and the stream-mode agent exit 0 on SIGTERM, no sanitizer report"
