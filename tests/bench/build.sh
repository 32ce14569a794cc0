#!/bin/sh
# tests/bench/build.sh BUILD_DIR TARGET...
# Configures BUILD_DIR with the one configuration every benchmark uses and
# builds the given targets. The benchmarks share build-bench/, so each run
# sets every option that matters here: a benchmark never inherits what
# another one (or a hand-run cmake) left in the cache, such as
# WEFT_TESTS=OFF, which drops the bench tools (udpfwd, udpgen, mktoken).
#   gcc, Release, no sanitizers, no fuzzing, tests on (the bench tools are
#   declared with them; only the named targets are built), warnings are
#   not errors (a benchmark measures, it does not lint).
set -eu
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR TARGET..." >&2; exit 2; }
build=$1
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=gcc \
	-DCMAKE_BUILD_TYPE=Release -DWEFT_SANITIZE=OFF -DWEFT_FUZZ=OFF \
	-DWEFT_TESTS=ON -DWEFT_WERROR=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "$@" >/dev/null
