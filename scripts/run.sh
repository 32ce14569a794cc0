#!/usr/bin/env bash
# Builds Weft (release, gcc) and runs the product on this machine: the
# controller on an embedded SQLite database in ./data and one relay
# registered with it. Installs missing Debian packages first. Prints how
# to reach the API and how another machine joins; Ctrl-C stops both.
#
# Environment:
#   WEFT_LISTEN        controller address (default 127.0.0.1:8080)
#   WEFT_DATA_DIR      data directory (default ./data)
#   WEFT_RELAY_LISTEN  relay UDP address (default 0.0.0.0:3478)
#   WEFT_RELAY_PUBLIC  address agents use for the relay (default: the
#                      relay address, with 127.0.0.1 for 0.0.0.0)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh run

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DWEFT_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null

bin=$PWD/build-release
data=${WEFT_DATA_DIR:-$PWD/data}
listen=${WEFT_LISTEN:-127.0.0.1:8080}
relay_listen=${WEFT_RELAY_LISTEN:-0.0.0.0:3478}
relay_public=${WEFT_RELAY_PUBLIC:-${relay_listen/#0.0.0.0/127.0.0.1}}
mkdir -p "$data"
chmod 700 "$data"
# The flags below say everything; keep stray WEFT_* settings meant for
# this script away from the programs, whose flags share those names.
unset WEFT_LISTEN WEFT_DATA_DIR WEFT_RELAY_LISTEN WEFT_RELAY_PUBLIC

ctl() { "$bin/controller/weft-controller" "$@" --data-dir "$data"; }

pids=()
stop() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 0' INT TERM

# The controller prints the first admin API key once, on a new database.
"$bin/controller/weft-controller" serve --data-dir "$data" --listen "$listen" &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS "http://$listen/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

ctl relay-key > "$data/controller.pub"
"$bin/relay/weft-relay" --listen "$relay_listen" --key "$data/relay.key" \
  --controller-key "$data/controller.pub" >"$data/relay.out" 2>"$data/relay.log" &
pids+=($!)
pin=
for _ in $(seq 100); do
  pin=$(sed -n 's/^relay pin: //p' "$data/relay.out" 2>/dev/null || true)
  [ -n "$pin" ] && break
  sleep 0.1
done
if [ -z "$pin" ]; then
  echo "run.sh: the relay did not start; see $data/relay.log" >&2
  exit 1
fi
ctl relays set local --region local --address "$relay_public" --pin "$pin" >/dev/null

cat <<EOF

Weft is running.
  controller  http://$listen   (API, /healthz, /metrics)
  web UI      http://$listen/   (docs/ui.md)
  relay       $relay_public udp   pin $pin
  data        $data

Join a machine (an auth key from 'weft-controller keys create --user NAME'):
  weft-agent up --controller http://$listen --auth-key weft_auth_...
Admin CLI on the same database:
  $bin/controller/weft-controller nodes list --data-dir $data
Log in (POST /api/v1/session, docs/ui.md): with the admin API key printed
above on a new database, or give an admin a password:
  $bin/controller/weft-controller users create admin --role admin --data-dir $data
  $bin/controller/weft-controller users set-password admin --data-dir $data

Ctrl-C stops the controller and the relay.
EOF
wait -n
