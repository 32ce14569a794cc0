#!/bin/sh
# tests/bench/dns/run.sh [SECONDS]: the agent's DNS stub (agent/dnsstub.c,
# run alone by stubd with an empty map) against dnsmasq on loopback.
#   1. queries/s for a cached name, 64 outstanding (dnsload), through the
#      stub vs the same load on dnsmasq answering from its config (the
#      reference, same run);
#   2. the latency a forwarded query adds: unique names (never cached),
#      one at a time, through the stub (which asks dnsmasq) vs dnsmasq
#      asked directly.
# Prints both and the ratios. Needs dnsmasq; runs as root (dnsmasq's user
# switch) or as any user with a dnsmasq that may stay.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
build=${BUILD:-$src/build-bench}
secs=${1:-5}
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
UP=127.0.0.1:5390
STUB=127.0.0.1:5391

sh "$here/../build.sh" "$build" dnsload stubd
tmp=$(mktemp -d)
pids=
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
printf '%s\n' "address=/cached.example/192.0.2.1" \
	"address=/up.example/192.0.2.2" "local-ttl=600" >"$tmp/dnsmasq.conf"
"$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts --port=5390 \
	--listen-address=127.0.0.1 --bind-interfaces --cache-size=10000 \
	--conf-file="$tmp/dnsmasq.conf" --pid-file="$tmp/pid" &
pids="$pids $!"
"$build/tests/bench/stubd" "$STUB" "$UP" >"$tmp/stubd.out" &
pids="$pids $!"
sleep 0.5
load() { "$build/tests/bench/dnsload" -t "$secs" "$@"; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

ref=$(load -s "$UP" -q cached.example -w 64)
stub=$(load -s "$STUB" -q cached.example -w 64)
echo "cached name, 64 outstanding: dnsmasq $ref"
echo "cached name, 64 outstanding: stub    $stub"
echo "qps ratio stub/dnsmasq: $(echo "$(field "$stub" qps) $(field "$ref" qps)" |
	awk '{printf "%.2f", $1 / $2}')"
dref=$(load -s "$UP" -q up.example -u -w 1)
dstub=$(load -s "$STUB" -q up.example -u -w 1)
echo "forwarded, 1 outstanding: dnsmasq direct   $dref"
echo "forwarded, 1 outstanding: stub -> dnsmasq  $dstub"
echo "added latency (p50): $(($(field "$dstub" p50_us) - $(field "$dref" p50_us))) us, ratio $(echo "$(field "$dstub" p50_us) $(field "$dref" p50_us)" |
	awk '{printf "%.2f", $1 / $2}')"
