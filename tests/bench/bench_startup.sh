#!/usr/bin/env bash
# Whole-process timings of the compiler's command line (DESIGN §6, issue 11): printed, never
# asserted. Each figure is the median over BENCH_REPS runs (default 21; 5 for the large
# plans) of one process, wall clock from `date +%s%N`, side by side with its baseline in
# the same run:
#   amlflow --version                     against /bin/true (the cost of starting any process)
#   amlflow check birds.amlflow           against amlflow --version (what checking adds);
#                                          target: at most 10 ms in all
#   amlflow plan of 1,000 and 10,000      generated steps: the per-step growth from one to
#                                          the other (linear: about 1.0); target: 10,000
#                                          steps in at most 0.5 s
#   peak memory of `amlflow plan`         of the 10,000-step file (GNU time's maximum
#                                          resident size) against the file's size; target:
#                                          at most 10x
# The generated files come from bench_compiler --generate (build it first; see README.md).
#
#   AMLFLOW_BIN=build/amlflow BENCH_COMPILER=build/tests/bench/bench_compiler \
#     bash tests/bench/bench_startup.sh
set -euo pipefail

AMLFLOW_BIN=${AMLFLOW_BIN:-build/amlflow}
BENCH_COMPILER=${BENCH_COMPILER:-$(dirname "$AMLFLOW_BIN")/tests/bench/bench_compiler}
REPS=${BENCH_REPS:-21}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TYPICAL=${BENCH_TYPICAL:-$ROOT/examples/birds/birds.amlflow}
for tool in "$AMLFLOW_BIN" "$BENCH_COMPILER"; do
    [[ -x $tool ]] || { echo "bench_startup: no executable $tool" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "bench_startup: GNU time (/usr/bin/time) is needed" >&2; exit 1; }

WORK=$(mktemp -d /tmp/amlflow-bench-startup.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Median wall-clock milliseconds of `reps` runs of the command (output discarded).
median_ms() {
    local reps=$1; shift
    local samples=()
    for ((i = 0; i < reps; i++)); do
        local start end
        start=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        end=$(date +%s%N)
        samples+=("$(( (end - start) / 1000 ))")
    done
    printf '%s\n' "${samples[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] / 1000 }'
}

row() { printf '%-44s %10s ms   %-28s %10s ms\n' "$1" "$2" "$3" "$4"; }

echo "amlflow whole-process timings: median of $REPS runs (large plans: 5), wall clock"
printf '%-44s %13s   %-28s %13s\n' "figure" "time" "baseline" "time"

"$AMLFLOW_BIN" --version >/dev/null  # warm the page cache
true_ms=$(median_ms "$REPS" /bin/true)
version_ms=$(median_ms "$REPS" "$AMLFLOW_BIN" --version)
row "amlflow --version" "$version_ms" "/bin/true" "$true_ms"
check_ms=$(median_ms "$REPS" "$AMLFLOW_BIN" check "$TYPICAL")
row "amlflow check $(basename "$TYPICAL")" "$check_ms" "amlflow --version" "$version_ms"

"$BENCH_COMPILER" --generate 1000 "$WORK/g1000/pipeline.amlflow" >/dev/null
"$BENCH_COMPILER" --generate 10000 "$WORK/g10000/pipeline.amlflow" >/dev/null
"$AMLFLOW_BIN" plan "$WORK/g1000/pipeline.amlflow" >/dev/null || { echo "bench_startup: the 1,000-step plan failed" >&2; exit 1; }
plan1k_ms=$(median_ms 5 "$AMLFLOW_BIN" plan "$WORK/g1000/pipeline.amlflow")
plan10k_ms=$(median_ms 5 "$AMLFLOW_BIN" plan "$WORK/g10000/pipeline.amlflow")
row "amlflow plan, 10,000 generated steps" "$plan10k_ms" "1,000 steps" "$plan1k_ms"

peak_kb=$( { /usr/bin/time -f '%M' "$AMLFLOW_BIN" plan "$WORK/g10000/pipeline.amlflow" >/dev/null; } 2>&1 | tail -1)
idle_kb=$( { /usr/bin/time -f '%M' "$AMLFLOW_BIN" --version >/dev/null; } 2>&1 | tail -1)
file_bytes=$(stat -c %s "$WORK/g10000/pipeline.amlflow")

awk -v v="$version_ms" -v c="$check_ms" -v p1="$plan1k_ms" -v p10="$plan10k_ms" \
    -v peak="$peak_kb" -v idle="$idle_kb" -v bytes="$file_bytes" 'BEGIN {
    growth = (p10 / 10000) / (p1 / 1000)
    printf "growth: per-step time of the plan at 10,000 vs 1,000 steps: %.2f (linear is about 1.0)\n", growth
    printf "memory: amlflow plan of 10,000 steps: peak %.1f MiB (%.1f MiB above --version) for a %.1f MiB file: %.1fx (%.1fx above --version)\n",
        peak / 1024, (peak - idle) / 1024, bytes / 1048576, peak * 1024 / bytes, (peak - idle) * 1024 / bytes
    printf "target: --version <= 5 ms: %.2f ms -> %s\n", v, v <= 5 ? "met" : "NOT met"
    printf "target: check of a typical file <= 10 ms: %.2f ms -> %s\n", c, c <= 10 ? "met" : "NOT met"
    printf "target: plan of 10,000 steps <= 0.5 s: %.3f s -> %s\n", p10 / 1000, p10 <= 500 ? "met" : "NOT met"
    printf "target: memory <= 10x the file: %.1fx -> %s\n", peak * 1024 / bytes, peak * 1024 / bytes <= 10 ? "met" : "NOT met"
}'
