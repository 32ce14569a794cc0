#!/usr/bin/env bash
# Builds Weft (release, gcc) and runs the product on this machine: the
# controller on an embedded SQLite database in ./data and one relay
# registered with it. Installs missing Debian packages first. Prints how
# to reach the API and the command that joins another machine (README,
# "Join a second machine"); Ctrl-C stops both.
#
# Environment:
#   WEFT_LISTEN        controller address (default 127.0.0.1:8080: this
#                      machine only; 0.0.0.0:8080 lets others join)
#   WEFT_PUBLIC_HOST   the name or address other machines reach this one
#                      at (default: the address of the interface with the
#                      default route, when WEFT_LISTEN is 0.0.0.0 or [::])
#   WEFT_TLS_CERT, WEFT_TLS_KEY  serve HTTPS with this PEM certificate and
#                      key (default plain HTTP, which a remote agent only
#                      accepts with --insecure-http)
#   WEFT_DATA_DIR      data directory (default ./data)
#   WEFT_RELAY_LISTEN  relay UDP address (default 0.0.0.0:3478)
#   WEFT_RELAY_PUBLIC  address agents use for the relay (default: the
#                      relay's port at the public host, or 127.0.0.1)
#   WEFT_BIN_DIR       run the programs of this build directory instead of
#                      installing packages and building build-release
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${WEFT_BIN_DIR:-}" ]; then
  bin=$WEFT_BIN_DIR
else
  scripts/deps.sh run
  cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DWEFT_TESTS=OFF >/dev/null
  cmake --build build-release -j"$(nproc)" >/dev/null
  bin=$PWD/build-release
fi
data=${WEFT_DATA_DIR:-$PWD/data}
listen=${WEFT_LISTEN:-127.0.0.1:8080}
relay_listen=${WEFT_RELAY_LISTEN:-0.0.0.0:3478}
cert=${WEFT_TLS_CERT:-}
key=${WEFT_TLS_KEY:-}
port=${listen##*:}
listen_host=${listen%:*}
listen_host=${listen_host#[}
listen_host=${listen_host%]}
# The host other machines use: given, else for a wildcard listen address
# the source address of the default route (what the LAN sees) or, with no
# default route, the first global IPv4 address; else the listen address.
case $listen_host in
0.0.0.0 | :: | "")
  default_host=$(ip -4 route get 192.0.2.1 2>/dev/null |
                 sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1)
  [ -n "$default_host" ] || default_host=$(ip -4 -o addr show scope global 2>/dev/null |
                 awk '{sub("/.*", "", $4); print $4; exit}') ;;
*) default_host=$listen_host ;;
esac
public_host=${WEFT_PUBLIC_HOST:-${default_host:-127.0.0.1}}
case $public_host in
*:*) url_host="[$public_host]" ;;
*) url_host=$public_host ;;
esac
tls_flags=()
scheme=http
if [ -n "$cert" ] || [ -n "$key" ]; then
  [ -n "$cert" ] && [ -n "$key" ] || { echo "run.sh: set both WEFT_TLS_CERT and WEFT_TLS_KEY" >&2; exit 2; }
  tls_flags=(--tls-cert "$cert" --tls-key "$key")
  scheme=https
fi
public_url=$scheme://$url_host:$port
# Local checks use the listen address (loopback for a wildcard).
case $listen_host in
0.0.0.0 | "") local_url=$scheme://127.0.0.1:$port ;;
::) local_url=$scheme://[::1]:$port ;;
*) local_url=$scheme://$url_host:$port ;;
esac
relay_public=${WEFT_RELAY_PUBLIC:-$url_host:${relay_listen##*:}}
mkdir -p "$data"
chmod 700 "$data"
# The flags below say everything; keep stray WEFT_* settings meant for
# this script away from the programs, whose flags share those names.
unset WEFT_LISTEN WEFT_DATA_DIR WEFT_RELAY_LISTEN WEFT_RELAY_PUBLIC \
      WEFT_PUBLIC_HOST WEFT_TLS_CERT WEFT_TLS_KEY WEFT_BIN_DIR

ctl() { "$bin/controller/weft-controller" "$@" --data-dir "$data"; }

pids=()
stop() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 0' INT TERM

# The controller prints the first admin API key once, on a new database.
"$bin/controller/weft-controller" serve --data-dir "$data" --listen "$listen" \
  --public-url "$public_url" "${tls_flags[@]}" &
pids+=($!)
for _ in $(seq 100); do
  curl -fsSk "$local_url/healthz" >/dev/null 2>&1 && break
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

# The join command for another machine, and what it needs.
join="sudo weft-agent up --controller $public_url --auth-key weft_auth_..."
notes=()
case $public_host in
127.* | ::1 | localhost)
  notes+=("Only this machine can join: the controller listens on $listen."
          "For other machines: WEFT_LISTEN=0.0.0.0:$port scripts/run.sh") ;;
esac
if [ "$scheme" = http ]; then
  join="$join --insecure-http"
  notes+=("Plain HTTP: a remote agent refuses http:// without --insecure-http, and"
          "its credential crosses the network in clear. Better: serve HTTPS with"
          "WEFT_TLS_CERT=cert.pem WEFT_TLS_KEY=key.pem (a certificate for $public_host;"
          "agents verify it with the system CAs or --controller-ca FILE).")
fi

cat <<EOF

Weft is running.
  controller  $public_url   (API, /healthz, /metrics; listening on $listen)
  web UI      $public_url/   (docs/ui.md)
  relay       $relay_public udp   pin $pin   (agents must reach this UDP port)
  data        $data

Join another machine (README, "Join a second machine"):
  1. make an auth key here:
     $bin/controller/weft-controller users create alice --data-dir $data
     $bin/controller/weft-controller keys create --user alice --data-dir $data
  2. on the other machine (weft-agent from the weft-agent package or a build):
     $join
EOF
for n in "${notes[@]}"; do echo "  $n"; done
cat <<EOF

Admin CLI on the same database:
  $bin/controller/weft-controller nodes list --data-dir $data
Log in (POST /api/v1/session, docs/ui.md): with the admin API key printed
above on a new database, or give an admin a password:
  $bin/controller/weft-controller users create admin --role admin --data-dir $data
  $bin/controller/weft-controller users set-password admin --data-dir $data

Ctrl-C stops the controller and the relay.
EOF
wait -n
