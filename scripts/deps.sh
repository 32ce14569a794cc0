#!/usr/bin/env bash
# Installs the Debian packages Weft needs, only those missing. Safe to run
# again: when everything is present it returns in well under a second.
#   scripts/deps.sh run    packages to build and run the product
#   scripts/deps.sh test   those plus what the test suite uses
set -euo pipefail

run_pkgs=(
  build-essential cmake pkg-config
  libmicrohttpd-dev libsqlite3-dev libpq-dev libjansson-dev
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev
  libjwt-dev libcurl4-openssl-dev zlib1g-dev
  ca-certificates curl sqlite3
)
test_pkgs=(
  clang libclang-rt-dev    # sanitizers and libFuzzer
  postgresql               # a real server the tests start themselves
  iproute2 nftables        # network-namespace tests
  jq iputils-ping iperf3   # ... which drive agents and move traffic
  prometheus               # promtool checks /metrics output
  coturn                   # turnutils_stunclient checks the relay's STUN
  stun-client              # `stun`, an RFC 3489 client, checks it too
)

case "${1:-run}" in
  run) want=("${run_pkgs[@]}") ;;
  test) want=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
