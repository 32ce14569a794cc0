#!/usr/bin/env bash
# Agent network-map and peer-lookup benchmark (issue 13 point 3): the
# agent's CPU time to apply a 1,000-peer and a 10,000-peer map (strict
# parse + diff + tunnels + route table + filter), against decoding the
# same JSON text in the same run, and the per-packet cost of the send,
# receive and key lookups with 1, 1,000 and 10,000 peers. See
# agentmap.c for what exactly is measured.
#
#   tests/bench/agentmap/run.sh [BUILD_DIR]
#
# BUILD_DIR (default build-bench in the source tree) is configured and the
# tool built by tests/bench/build.sh, the one configuration all benchmarks
# share. One process, pinned to one core (BENCH_CORE, default 1). No root,
# no network. Not a test: never registered with ctest.
set -euo pipefail

src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$src/build-bench}
core=${BENCH_CORE:-1}
bin=$build/tests/bench/agentmap_bench

"$src/tests/bench/build.sh" "$build" agentmap_bench
echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) cores, pinned to core $core"
taskset -c "$core" "$bin"
