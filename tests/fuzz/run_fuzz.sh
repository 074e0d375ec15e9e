#!/usr/bin/env bash
# Builds the libFuzzer target for the amlflow checker and plan builder and runs it.
#
#   tests/fuzz/run_fuzz.sh [SECONDS]        (default 60)
#
# Environment:
#   FUZZ_BUILD_DIR   build folder (default: build-fuzz at the repository root)
#   FUZZ_JOBS        parallel build jobs (default 2)
#   FUZZ_TIMEOUT     per-input timeout in seconds passed to -timeout (default 10)
#   FUZZ_KEEP_GOING  1: run in libFuzzer's fork mode (-fork=1 -ignore_crashes=1
#                    -ignore_timeouts=1 -ignore_ooms=1), so that one run collects every
#                    finding instead of stopping at the first (still exits non-zero)
#   AMLFLOW_FUZZ_UTF8_ONLY  1: the target rejects inputs that are not valid UTF-8
#                    (see fuzz_checker.cc); passed through as is
#   FUZZ_EXTRA_ARGS  more libFuzzer flags, e.g. "-seed=1"
#
# Seeds a scratch corpus (kept between runs, so coverage accumulates) with the examples,
# the stdlib, tests/golden/*.amlflow and tests/fuzz/seeds/*.amlflow, uses tests/fuzz/amlflow.dict, and runs the
# fuzzer from an empty scratch working directory, so that relative paths in generated
# inputs (file(), imports, source folders) find nothing. Exits non-zero when libFuzzer
# reports a crash, leak, timeout, out-of-memory or sanitizer error; the reproducer is
# left in $FUZZ_BUILD_DIR/fuzz-artifacts/ (copy it into tests/fuzz/crashes/).
set -euo pipefail

SECONDS_TO_RUN="${1:-60}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
JOBS="${FUZZ_JOBS:-2}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"

if [[ ! -f "$BUILD/build.ninja" ]]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
        -DAMLFLOW_FUZZ=ON -DAMLFLOW_TESTS=OFF >/dev/null
fi
ninja -C "$BUILD" -j "$JOBS" fuzz_checker
FUZZER="$BUILD/tests/fuzz/fuzz_checker"

CORPUS="$BUILD/fuzz-corpus"
SEEDS="$BUILD/fuzz-seeds"
ARTIFACTS="$BUILD/fuzz-artifacts"
WORK="$BUILD/fuzz-work"
LOG="$BUILD/fuzz.log"
mkdir -p "$CORPUS" "$ARTIFACTS"
rm -rf "$SEEDS" "$WORK"
mkdir -p "$SEEDS" "$WORK"

shopt -s nullglob
for seed in "$ROOT"/examples/*/*.amlflow "$ROOT"/stdlib/std/*.amlflow "$ROOT"/tests/golden/*.amlflow \
            "$ROOT"/tests/fuzz/seeds/*.amlflow; do
  # Flatten: examples/birds/birds.amlflow -> examples_birds_birds.amlflow
  rel="${seed#"$ROOT"/}"
  cp "$seed" "$SEEDS/${rel//\//_}"
done
shopt -u nullglob
echo "seeds: $(ls "$SEEDS" | wc -l) files; corpus: $CORPUS"

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:print_stacktrace=1:symbolize=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:symbolize=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

mode_args=()
if [[ "${FUZZ_KEEP_GOING:-0}" == 1 ]]; then
  mode_args=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi
artifacts_before="$(ls "$ARTIFACTS" | sort)"

set +e
# New inputs go to the first corpus folder; the seed folder is only read.
( cd "$WORK" && "$FUZZER" "$CORPUS" "$SEEDS" \
    -dict="$ROOT/tests/fuzz/amlflow.dict" \
    -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout="$TIMEOUT" -rss_limit_mb=2048 \
    -artifact_prefix="$ARTIFACTS/" -print_final_stats=1 "${mode_args[@]}" ${FUZZ_EXTRA_ARGS:-} ) 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e

# Plain mode prints final stats; fork mode prints "#RUNS: cov: ... corp: N" lines.
runs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$LOG" | grep -oE '[0-9]+$' | tail -1 || true)"
if [[ -z "$runs" ]]; then runs="$(grep -oE '^#[0-9]+: cov' "$LOG" | tail -1 | grep -oE '[0-9]+' || true)"; fi
corpus_files="$(ls "$CORPUS" | wc -l)"
new_artifacts="$(comm -13 <(echo "$artifacts_before") <(ls "$ARTIFACTS" | sort) | sed '/^$/d')"
finding=""
if [[ -n "$new_artifacts" ]]; then
  finding="$(echo "$new_artifacts" | wc -l) new reproducer(s)"
fi
report="$(grep -m1 -E '^==[0-9]+== ?ERROR: |runtime error:|ALARM: working on the last Unit|^fuzz_checker: |terminate called' "$LOG" || true)"
if [[ -n "$report" && -z "$finding" ]]; then finding="$report"; fi
if [[ $status -ne 0 && -z "$finding" ]]; then finding="fuzzer exited with status $status"; fi

detail="$finding"
if [[ -n "$report" && "$report" != "$finding" ]]; then detail="$detail; first report: $report"; fi
echo "fuzz summary: runs=${runs:-?} corpus=${corpus_files} files time=${SECONDS_TO_RUN}s status=$([[ -z "$finding" ]] && echo ok || echo FAILED)${detail:+ ($detail)}"
if [[ -n "$finding" ]]; then
  if [[ -n "$new_artifacts" ]]; then
    echo "new reproducers (replay one with: cd $WORK && $FUZZER $ARTIFACTS/NAME):"
    echo "$new_artifacts" | sed "s|^|  $ARTIFACTS/|"
  fi
  exit 1
fi
