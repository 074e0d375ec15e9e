#!/usr/bin/env bash
# One command from a fresh Debian machine: install what is needed, build, and run every
# test: the Boost.Test suites through CTest, then a bounded libFuzzer smoke run of the
# checker (AMLFLOW_FUZZ_SECONDS, default 60; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/install-node-deps.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)")
fuzz_seconds="${AMLFLOW_FUZZ_SECONDS:-60}"
if [ "$fuzz_seconds" != "0" ]; then
  bash tests/fuzz/run_fuzz.sh "$fuzz_seconds"
fi
