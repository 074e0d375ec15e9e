#!/usr/bin/env bash
# One command from a fresh Debian machine: install what is needed, build, check and plan
# the flagship example (examples/birds: train, sweep, register, export ONNX, download),
# and run a real PyTorch DDP job (examples/ddp: 2 gloo ranks on CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
example=examples/birds/birds.amlflow
echo "== amlflow check $example"
./build/amlflow check "$example"
echo "== amlflow plan $example"
./build/amlflow plan "$example"
echo "== amlflow run examples/ddp/ddp.amlflow"
./build/amlflow run examples/ddp/ddp.amlflow
