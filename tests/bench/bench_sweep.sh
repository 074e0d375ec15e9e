#!/usr/bin/env bash
# bench_sweep.sh: a sweep of 200 trivial trials on 2 slots (DESIGN §5: at most 5 ms of
# overhead per trial), side by side with the same 200 trial commands started by hand,
# two at a time, from a shell loop.
#
# A benchmark, not a test: it prints figures and never asserts them. Each trial is
# `/bin/sh -c` appending one metric line (the sweep's objective) to its AMLFLOW_METRICS
# file; by hand, the same shell command appends to a file of its own. Overhead per
# trial = (amlflow's wall time - the shell loop's) / 200; amlflow's share is what it
# does per trial: draw it, snapshot its source folder (one small file), record its
# step, attempt and rank, start it through amlflow-launch, read its metrics, and pick
# the best trial at the end.
#
#   AMLFLOW_BIN=build/amlflow bash tests/bench/bench_sweep.sh
#
# Settings: AMLFLOW_BIN (default build/amlflow), BENCH_TRIALS (default 200), BENCH_REPS
# (default 3), BENCH_KEEP=1 keeps the scratch folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${AMLFLOW_BIN:-$here/../../build/amlflow}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
trials="${BENCH_TRIALS:-200}"
reps="${BENCH_REPS:-3}"
[ -x "$bin" ] || { echo "bench_sweep: no amlflow binary at $bin (set AMLFLOW_BIN)" >&2; exit 1; }
scratch="$(mktemp -d "${TMPDIR:-/tmp}/amlflow-bench-sweep.XXXXXX")"
if [ "${BENCH_KEEP:-0}" != 1 ]; then trap 'rm -rf "$scratch"' EXIT; fi
mkdir -p "$scratch/pipeline/src" "$scratch/by-hand"
echo "# the trials' source folder" > "$scratch/pipeline/src/README"
cat > "$scratch/pipeline/sweep.amlflow" <<AMLFLOW
experiment bench {
  job trial(seed: int = 0) {
    source  = "src"
    command = ["/bin/sh", "-c", "echo '{\"name\": \"x\", \"value\": 1}' >> \"\$AMLFLOW_METRICS\"", "\${seed}"]
  }
  sweep many over trial {
    space     { seed = randint(1000000000) }
    objective = maximize("x")
    trials    = $trials
    parallel  = 2
  }
}
AMLFLOW
export AMLFLOW_HOME="$scratch/home" AMLFLOW_NO_BOARD=1 NO_COLOR=1 AMLFLOW_GPUS=none
now_ms() { date +%s%N | awk '{ printf "%.3f", $1 / 1e6 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
: > "$scratch/ours.txt"
: > "$scratch/base.txt"
for _ in $(seq "$reps"); do
  start=$(now_ms)
  "$bin" run --force "$scratch/pipeline/sweep.amlflow" > "$scratch/last.log" 2>&1 || { tail -20 "$scratch/last.log" >&2; exit 1; }
  end=$(now_ms)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f\n", b - a }' >> "$scratch/ours.txt"
  start=$(now_ms)
  for ((i = 0; i < trials; i += 2)); do
    /bin/sh -c "echo '{\"name\": \"x\", \"value\": 1}' >> \"$scratch/by-hand/$i.jsonl\"" &
    /bin/sh -c "echo '{\"name\": \"x\", \"value\": 1}' >> \"$scratch/by-hand/$((i + 1)).jsonl\"" &
    wait
  done
  end=$(now_ms)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f\n", b - a }' >> "$scratch/base.txt"
done
grep -q "best trial" "$scratch/last.log" || { echo "bench_sweep: the sweep picked no best trial" >&2; exit 1; }
ours=$(median < "$scratch/ours.txt")
base=$(median < "$scratch/base.txt")
echo "bench_sweep: $trials trivial trials, 2 at a time, $reps repetitions (medians)"
printf "  %-32s %10s ms\n" "amlflow sweep" "$ours" "by hand (shell loop)" "$base"
awk -v a="$ours" -v b="$base" -v n="$trials" 'BEGIN { printf "  overhead per trial: %.2f ms (target 5 ms); ratio %.2f\n", (a - b) / n, a / b }'
