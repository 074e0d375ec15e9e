#!/usr/bin/env bash
# One command from a fresh Debian machine: install what is needed, build, and run the
# flagship example (examples/birds: train, sweep, register, export ONNX, download).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
example=examples/birds/birds.amlflow
echo "== amlflow check $example"
./build/amlflow check "$example"
echo "== amlflow plan $example"
./build/amlflow plan "$example"
