#!/usr/bin/env bash
# Remote figures of DESIGN §6 against the Azure ML emulator (tests/azureml_emulator) and
# Azurite, printed side by side, never asserted (issue 18):
#   `amlflow run` to the job's PUT, upload cached: from the process's start (date +%s%N
#       just before exec) to the time the emulator logged the job PUT; median of BENCH_REPS
#       runs, against `amlflow --version` (the cost of starting the binary); target 300 ms
#   a rank's write to the line in amlflow's output: the script prints its own clock every
#       0.25 s, a reader stamps each line as amlflow writes it; median and worst of the
#       lines; target 2 s (the log poll runs every second on a loopback endpoint)
# Needs node_modules (scripts/install-node-deps.sh). Starts its own emulator and stops it.
#
#   AMLFLOW_BIN=build/amlflow bash tests/bench/bench_azureml.sh
set -euo pipefail

AMLFLOW_BIN=$(realpath "${AMLFLOW_BIN:-build/amlflow}")
REPS=${BENCH_REPS:-9}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[[ -x $AMLFLOW_BIN ]] || { echo "bench_azureml: no executable $AMLFLOW_BIN" >&2; exit 1; }
[[ -d $ROOT/tests/azureml_emulator/node_modules/azurite ]] || {
    echo "bench_azureml: no emulator: run scripts/install-node-deps.sh" >&2; exit 1; }

WORK=$(mktemp -d /tmp/amlflow-bench-azureml.XXXXXX)
export AMLFLOW_EMULATOR_STATE=$WORK/emulator
stop() { bash "$ROOT/scripts/azureml-emulator.sh" stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap stop EXIT
eval "$(bash "$ROOT/scripts/azureml-emulator.sh" start)"
export AMLFLOW_HOME=$WORK/store

mkdir -p "$WORK/p/src"
cat > "$WORK/p/src/clock.py" <<'PY'
import os, sys, time
for i in range(int(os.environ["LINES"])):
    print("at %d" % time.time_ns(), flush=True)
    time.sleep(0.25)
PY
workspace='workspace ws {
  subscription = env("AZURE_SUBSCRIPTION_ID")
  resource_group = env("AZURE_RESOURCE_GROUP")
  name = env("AZUREML_WORKSPACE")
}
compute cluster : amlcompute { vm_size = "STANDARD_D2_V2", max_nodes = 1 }'
printf '%s\nexperiment e {\n  job clock {\n    source = "src"\n    script = "clock.py"\n    compute = cluster\n    variables = { LINES = "%s" }\n  }\n}\n' \
    "$workspace" 1 > "$WORK/p/short.amlflow"
printf '%s\nexperiment e {\n  job clock {\n    source = "src"\n    script = "clock.py"\n    compute = cluster\n    variables = { LINES = "%s" }\n  }\n}\n' \
    "$workspace" 40 > "$WORK/p/long.amlflow"
cd "$WORK/p"
"$AMLFLOW_BIN" run short.amlflow >/dev/null 2>&1  # the cluster made, the source and helper uploaded

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] }'; }

# 1. Process start to the job's PUT, as the emulator's request log times it.
put_ms=()
version_ms=()
for ((i = 0; i < REPS; i++)); do
    curl -s -X DELETE "$AMLFLOW_EMULATOR_CONTROL/requests" >/dev/null
    start=$(date +%s%N)
    "$AMLFLOW_BIN" run short.amlflow --force >/dev/null 2>&1
    put=$(curl -s "$AMLFLOW_EMULATOR_CONTROL/requests" | /usr/bin/python3 -c '
import datetime, json, sys
log = json.load(sys.stdin)
log = log.get("requests", log) if isinstance(log, dict) else log
for r in log:
    if r["method"] == "PUT" and "/jobs/" in r["path"]:
        t = datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        print(int(t.timestamp() * 1e9)); break')
    put_ms+=("$(( (put - start) / 1000 ))")
    s=$(date +%s%N); "$AMLFLOW_BIN" --version >/dev/null; e=$(date +%s%N)
    version_ms+=("$(( (e - s) / 1000 ))")
done
put_median=$(printf '%s\n' "${put_ms[@]}" | median)
version_median=$(printf '%s\n' "${version_ms[@]}" | median)

# 2. A rank's line: its clock when written, ours when amlflow wrote it.
"$AMLFLOW_BIN" run long.amlflow --force 2>/dev/null | /usr/bin/python3 -c '
import sys, time
for line in sys.stdin:
    if " at " in line:
        sent = int(line.rsplit(" at ", 1)[1])
        print((time.time_ns() - sent) / 1e6)' > "$WORK/delays"
lines=$(wc -l < "$WORK/delays")
delay_median=$(median < "$WORK/delays")
delay_worst=$(sort -n "$WORK/delays" | tail -1 | awk '{ printf "%.1f", $1 }')

echo "amlflow against the Azure ML emulator: medians of $REPS runs (line delays: $lines lines), wall clock"
printf '%-48s %10s ms   %-22s %10s ms   ratio %s\n' "amlflow run -> job PUT (upload cached)" "$(awk "BEGIN{printf \"%.1f\", $put_median/1000}")" \
    "amlflow --version" "$(awk "BEGIN{printf \"%.1f\", $version_median/1000}")" "$(awk "BEGIN{printf \"%.1f\", $put_median/$version_median}")"
printf '%-48s %10s ms   %-22s %10s ms\n' "rank write -> line in amlflow's output (median)" "$delay_median" "worst" "$delay_worst"
echo "targets: job PUT <= 300 ms; a rank's line <= 2000 ms"
