#!/usr/bin/env bash
# Runs every test: installs missing Debian packages, builds with clang,
# AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer, and runs ctest.
# ctest prints the closing summary line ("100% tests passed, 0 tests failed
# out of N") and its exit status is this script's.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test

build=${WEFT_TEST_BUILD_DIR:-build-test}
# The PostgreSQL server the tests start is stopped by ctest's cleanup
# fixture; this trap also stops it when the run is interrupted.
trap 'tests/harness/pg.sh stop "$PWD/$build/pg" >/dev/null 2>&1 || true' EXIT

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
      -DWEFT_SANITIZE=ON -DWEFT_FUZZ=ON -DWEFT_TESTS=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure --timeout 600 -j"$(nproc)" </dev/null
