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
  libnftables-dev          # the agent's connector table (libnftables1 at run time)
  libsystemd-dev           # the agent's sd-bus calls to systemd-resolved (--dns)
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
  dbus                     # dbus-daemon: a private bus for dns_resolved_test.sh
  dnsmasq-base dnsutils    # upstream and site DNS servers and dig: the dns_* netns tests, tests/bench/dns
  chromium                 # the browser tests/browser drives (ui_browser)
  debootstrap              # deb_packages: a fresh Debian 12 root to install into
  unzip                    # helm_chart: helm and kubectl from the kubectl layer's zip
  buildah                  # image_build: the container image from scratch, no registry
)

case "${1:-run}" in
  run) want=("${run_pkgs[@]}") ;;
  test) want=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

# npm packages, each directory pinned by its package-lock.json: web/ (the
# UI's modules, which the controller build embeds) for run and test, and
# for the test suite tests/openapi (the OpenAPI validator) and
# tests/browser (playwright-core, which drives Debian's chromium and
# downloads no browser) and tests/helm (helm and kubectl in the kubectl
# Lambda layer's zip, the Kubernetes schemas of kubernetes-models). Node and npm
# come from Debian's nodejs and npm unless the machine already has them.
# A directory is installed again when its lock file is newer than what
# npm last installed from it.
npm_ci() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/$1"
  if [ -f "$dir/node_modules/.package-lock.json" ] &&
     [ ! "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    return 0
  fi
  echo "deps: npm ci in $1" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) </dev/null
}
npm_deps() {
  npm_ci web
  if [ "${1:-run}" = test ]; then
    npm_ci tests/openapi
    npm_ci tests/browser
    npm_ci tests/helm
  fi
}

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  npm_deps "${1:-run}"
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
npm_deps "${1:-run}"
exit 0
