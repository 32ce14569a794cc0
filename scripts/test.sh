#!/usr/bin/env bash
# Runs every test: installs missing Debian packages, compiles the gcc
# RelWithDebInfo build (compile only), builds with clang, AddressSanitizer +
# UndefinedBehaviorSanitizer and libFuzzer, and runs ctest. Warnings are
# errors in both builds (WEFT_WERROR=ON).
# ctest prints the closing summary line ("100% tests passed, 0 tests failed
# out of N") and its exit status is this script's.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test

build=${WEFT_TEST_BUILD_DIR:-build-test}
# The PostgreSQL server the tests start is stopped by ctest's cleanup
# fixture; this trap also stops it when the run is interrupted.
trap 'tests/harness/pg.sh stop "$PWD/$build/pg" >/dev/null 2>&1 || true' EXIT

# The product as packagers build it, compile only: gcc, optimized with
# debug info, so warnings that only gcc's optimizer finds (such as
# -Wformat-truncation) fail CI too. WEFT_TEST_SKIP_GCC=1 skips it.
if [ "${WEFT_TEST_SKIP_GCC:-0}" != 1 ]; then
	gcc_build=${WEFT_TEST_GCC_BUILD_DIR:-build-gcc}
	cmake -S . -B "$gcc_build" -DCMAKE_C_COMPILER=gcc \
	      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_WERROR=ON \
	      -DWEFT_TESTS=ON -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	cmake --build "$gcc_build" -j"$(nproc)" >/dev/null
	echo "gcc RelWithDebInfo build: ok"
	# deb_packages (tests/build/deb_test.sh) packages this build.
	export WEFT_PACKAGE_BUILD_DIR="$PWD/$gcc_build"
fi

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
      -DWEFT_SANITIZE=ON -DWEFT_FUZZ=ON -DWEFT_TESTS=ON -DWEFT_WERROR=ON \
      >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure --timeout 600 -j"$(nproc)" </dev/null
