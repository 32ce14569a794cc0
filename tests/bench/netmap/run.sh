#!/bin/sh
# The network-map engine's part of a policy edit (netmap_bench.c), at
# 3,000 and 10,000 nodes in 100 groups. Release build in build-bench/.
#   tests/bench/netmap/run.sh [NODES...]
set -eu
cd "$(dirname "$0")/../../.."
sh tests/bench/build.sh build-bench netmap_bench
[ $# -gt 0 ] || set -- 3000 10000
for n in "$@"; do
	build-bench/tests/bench/netmap_bench "$n" 100
done
