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
  libjwt-dev zlib1g-dev libargon2-dev
  ca-certificates curl sqlite3
)
test_pkgs=(
  clang libclang-rt-dev    # sanitizers and libFuzzer
  postgresql               # a real server the tests start themselves
  iproute2 nftables        # network-namespace tests
  conntrack                # ... NAT port change (paths_nat_test.sh portchange)
  jq iputils-ping iperf3   # ... which drive agents and move traffic
  prometheus               # promtool checks /metrics output
  coturn                   # turnutils_stunclient checks the relay's STUN
  stun-client              # `stun`, an RFC 3489 client, checks it too
  libcurl4-openssl-dev     # the integration harness's HTTP client
  gnutls-bin               # certtool: a CA and certificates for HTTPS tests
)

case "${1:-run}" in
  run) want=("${run_pkgs[@]}") ;;
  test) want=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

# npm packages of the test suite (tests/openapi: the OpenAPI validator),
# pinned by package-lock.json. Node and npm come from Debian's nodejs and
# npm unless the machine already has them.
npm_deps() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/openapi"
  [ -d "$dir/node_modules/@apidevtools/swagger-parser" ] && return 0
  echo "deps: npm ci in tests/openapi" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) </dev/null
}

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ "${1:-run}" = test ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  [ "${1:-run}" = test ] && npm_deps
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
[ "${1:-run}" = test ] && npm_deps
exit 0
