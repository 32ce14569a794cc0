#!/usr/bin/env bash
# Builds Weft (release, gcc) and runs the controller on an embedded SQLite
# database in ./data. Installs missing Debian packages first.
# Environment: WEFT_LISTEN (default 127.0.0.1:8080), WEFT_DATA_DIR (./data).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh run

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DWEFT_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null

data=${WEFT_DATA_DIR:-$PWD/data}
mkdir -p "$data"
chmod 700 "$data"
exec build-release/controller/weft-controller serve \
  --data-dir "$data" --listen "${WEFT_LISTEN:-127.0.0.1:8080}"
