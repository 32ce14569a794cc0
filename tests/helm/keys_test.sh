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
#  5. the controller and the relay exit 0 on SIGTERM, with no sanitizer
#     report in their logs.
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
for t in curl jq openssl; do
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

# 5. Clean exits.
for p in ctl relay; do
	eval "pid=\$${p}_pid"
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	[ $rc = 0 ] || fail "$p exited $rc on SIGTERM"
done
pids=
if grep -l "Sanitizer\|runtime error" "$work/ctl.log" "$work/relay.log" "$work/agent.log"; then
	fail "a sanitizer report (above)"
fi
echo "ok 5 - the controller and the relay exit 0 on SIGTERM, no sanitizer report"
