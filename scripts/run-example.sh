#!/usr/bin/env bash
# One command from a fresh Debian machine: install what is needed, build, then check,
# plan and run the flagship example end to end (examples/birds: a learning-rate sweep
# whose trials train on 2 gloo ranks on CPU → register the best model → export it to
# ONNX → download it), show what it recorded, and run it again: all cached.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
example=examples/birds/birds.amlflow
echo "== amlflow check $example"
./build/amlflow check "$example"
echo "== amlflow plan $example --format text"
./build/amlflow plan "$example" --format text
echo "== amlflow run $example"
./build/amlflow run "$example"
run=$(./build/amlflow runs list --file "$example" -n 1 | awk 'NR == 2 { print $1 }')
echo "== amlflow metrics $run"
./build/amlflow metrics "$run" --file "$example" --step tune
echo "== amlflow models show pytorch-birds"
./build/amlflow models show pytorch-birds --file "$example"
echo "== amlflow run $example (again: every step cached)"
./build/amlflow run "$example"
