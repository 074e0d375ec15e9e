#!/usr/bin/env bash
# bench_cache.sh: the re-run of an unchanged 20-step pipeline, all cached (DESIGN §5:
# target 50 ms), side by side with the same pipeline's first run.
#
# A benchmark, not a test: it prints figures and a ratio and never asserts them. The
# pipeline (generated into a scratch folder) is 20 jobs in 5 layers of 4, each layer
# reading a file from every step of the layer before it (so every step has inputs whose
# content enters its cache key); each job is /bin/sh writing one small file, so the
# first run measures amlflow's work plus 20 short processes, and the cached runs
# measure what amlflow does to prove that nothing needs to run: compile the file,
# hash the source snapshots, digest every referenced output, and record the run.
#
#   cmake -S . -B build-bench-rt -G Ninja -DCMAKE_BUILD_TYPE=Release
#   ninja -C build-bench-rt -j2 amlflow amlflow-launch
#   AMLFLOW_BIN=build-bench-rt/amlflow bash tests/bench/bench_cache.sh
#
# Settings: AMLFLOW_BIN (default build/amlflow), BENCH_REPS (cached re-runs, default 15),
# BENCH_KEEP=1 keeps the scratch folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${AMLFLOW_BIN:-$here/../../build/amlflow}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
reps="${BENCH_REPS:-15}"
[ -x "$bin" ] || { echo "bench_cache: no amlflow binary at $bin (set AMLFLOW_BIN)" >&2; exit 1; }

scratch="$(mktemp -d "${TMPDIR:-/tmp}/amlflow-bench-cache.XXXXXX")"
if [ "${BENCH_KEEP:-0}" != 1 ]; then trap 'rm -rf "$scratch"' EXIT; fi
mkdir -p "$scratch/pipeline/src"
echo "# the jobs' source folder" > "$scratch/pipeline/src/README"
{
  echo "experiment bench {"
  for layer in 0 1 2 3 4; do
    for i in 0 1 2 3; do
      name="s${layer}_${i}"
      if [ "$layer" = 0 ]; then
        echo "  job $name { source = \"src\", command = [\"/bin/sh\", \"-c\", \"echo $name > outputs/out.txt\"] }"
      else
        prev=$((layer - 1))
        echo "  job $name {"
        echo "    source  = \"src\""
        echo "    command = [\"/bin/sh\", \"-c\", \"cat \$AMLFLOW_INPUT_A \$AMLFLOW_INPUT_B \$AMLFLOW_INPUT_C \$AMLFLOW_INPUT_D > outputs/out.txt\"]"
        echo "    inputs  = { a = s${prev}_0.outputs / \"out.txt\", b = s${prev}_1.outputs / \"out.txt\", c = s${prev}_2.outputs / \"out.txt\", d = s${prev}_3.outputs / \"out.txt\" }"
        echo "  }"
      fi
    done
  done
  echo "}"
} > "$scratch/pipeline/bench.amlflow"

export AMLFLOW_HOME="$scratch/home" AMLFLOW_NO_BOARD=1 NO_COLOR=1
now_ms() { date +%s%N | awk '{ printf "%.2f", $1 / 1e6 }'; }
time_run() {  # prints the wall time of one `amlflow run` in ms
  local start end
  start=$(now_ms)
  "$bin" run "$scratch/pipeline/bench.amlflow" "$@" > "$scratch/last.log" 2>&1 || { cat "$scratch/last.log" >&2; exit 1; }
  end=$(now_ms)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f\n", b - a }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

first=$(time_run)
grep -q "succeeded" "$scratch/last.log"
: > "$scratch/cached.txt"
for _ in $(seq "$reps"); do time_run >> "$scratch/cached.txt"; done
cached_states=$(grep -c " cached " "$scratch/last.log" || true)
forced=$( (time_run --force) )

cached_median=$(median < "$scratch/cached.txt")
cached_min=$(sort -n "$scratch/cached.txt" | head -1)
echo "bench_cache: 20-step pipeline (5 layers of 4, inputs from the layer before), $reps cached re-runs"
printf "  %-34s %10s ms\n" "first run (20 processes)" "$first"
printf "  %-34s %10s ms\n" "re-run with --force (20 processes)" "$forced"
printf "  %-34s %10s ms  (min %s ms; target 50 ms)\n" "cached re-run, median" "$cached_median" "$cached_min"
printf "  %-34s %10s\n" "steps shown as cached" "$cached_states/20"
awk -v c="$cached_median" -v f="$first" 'BEGIN { printf "  ratio cached / first run: %.3f\n", c / f }'
