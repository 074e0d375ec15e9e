#!/usr/bin/env bash
# bench_hosts.sh: the multi-host benchmarks of DESIGN §6 (issue 17), side by side in one
# run, on a fake cluster of 2 hosts (scripts/fake-cluster.sh: network namespaces on a
# bridge, each with its own sshd).
#
# A benchmark, not a test: it prints figures and ratios and never asserts them. It needs
# root for the cluster; without root (or without fake-cluster.sh, torch, mpirun or cc) it
# says why and exits 0. It exits 1 only when it cannot run at all (no amlflow binary).
#
#   /work/ccache-build.sh . amlflow amlflow-rank amlflow-launch   # or a Release build
#   AMLFLOW_BIN=build/amlflow bash tests/bench/bench_hosts.sh      # about 3 minutes
#
# Settings (environment variables):
#   AMLFLOW_BIN        the amlflow binary (default: build/amlflow); amlflow-rank beside it
#   BENCH_REPS         repetitions of each measurement (default 5; the relay 3)
#   BENCH_RELAY_BYTES  bytes each writer writes (default 100000000)
#   BENCH_KEEP=1       keep the scratch folder (printed)
#   BENCH_ONLY         a subset of: noop launch relay crash
# The cluster is shared_fs (not --private): the hand-typed commands read the same scratch
# folder the amlflow runs do. Every `amlflow run` passes --force (no cache).
#
# What it measures (median and min; ratio = median / median):
#
# 0. The fixed cost: a 2 x 2 job of /bin/true through `amlflow run` (the hosts' check, one
#    ssh round trip each; mpirun; the shims' connections) against the same mpirun starting
#    /bin/true by hand. It is in every figure below, so it is shown on its own. amlflow's
#    ssh connections are shared (one per host, kept a minute: warm after the warm-up run);
#    a reference row gives the hand-typed mpirun the same sharing (its own ControlPath).
# 1. A 2 x 2 gloo job. runtime_ddp.py (init_process_group from env://, one all_reduce,
#    destroy) as a `pytorch { nodes = 2, processes_per_node = 2 }` job on a `hosts`
#    compute through `amlflow run`, against the same ranks started by the `mpirun`
#    command a person would type: the same host list, mapping, ssh options and subnet,
#    with a two-line sh wrapper turning OMPI_COMM_WORLD_* into torchrun's variables and
#    mpirun's own output relay to one file. Wall clock of the whole command, the order
#    alternating. Target: amlflow / by hand <= 1.05.
# 2. Log relay. 2 x 2 ranks of runtime_writer (C, compiled here) writing BENCH_RELAY_BYTES
#    each: through `amlflow run` (each rank writes its log on the shared folder itself, its
#    shim sends amlflow the display's share; amlflow's stdout is a file), against the same
#    writers started by the same mpirun, each writing straight to a file on its host. A
#    reference row: the same with AMLFLOW_LOG_LINES=1 (each shim sends every byte, amlflow
#    writes the per-rank logs: how it was before). Target: <= 1.2.
# 3. Crash on host 2 -> the restarted ranks' first line. hosts_crash.py: on attempt 0 rank 3
#    (host 2) prints BENCH-CRASH and exits 1; on attempt 1 each rank prints BENCH-START
#    first. Figures: first and last BENCH-START minus BENCH-CRASH (backoff = 1ms). What it
#    holds: mpirun's end on both hosts, the next mpirun's ssh to each host, the shims'
#    connections, python's start. No baseline (mpirun has no restart); seconds.
set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
AMLFLOW=${AMLFLOW_BIN:-$REPO/build/amlflow}
case $AMLFLOW in /*) ;; *) AMLFLOW=$PWD/$AMLFLOW ;; esac
PY=/usr/bin/python3
HELPER="$PY $HERE/runtime_helper.py"
REPS=${BENCH_REPS:-5}
RELAY_REPS=${BENCH_RELAY_REPS:-3}
RELAY_BYTES=${BENCH_RELAY_BYTES:-100000000}
ONLY=${BENCH_ONLY:-noop launch relay crash}
CLUSTER_SCRIPT=$REPO/scripts/fake-cluster.sh

die() { echo "bench_hosts: $*" >&2; exit 1; }
skip() { echo "bench_hosts: skipped: $*"; exit 0; }
[[ -x $AMLFLOW ]] || die "no amlflow binary at $AMLFLOW (build it, or set AMLFLOW_BIN)"
[[ -x $(dirname "$AMLFLOW")/amlflow-rank ]] || die "no amlflow-rank beside $AMLFLOW"
[[ $(id -u) == 0 ]] || skip "the fake cluster needs root (network namespaces, a bridge)"
[[ -f $CLUSTER_SCRIPT ]] || skip "no $CLUSTER_SCRIPT"
command -v mpirun >/dev/null || skip "no mpirun"
command -v cc >/dev/null || skip "no C compiler (cc)"
$PY -c 'import torch.distributed' 2>/dev/null || skip "$PY cannot import torch.distributed"

NAME=bh-$$
WORK=$(mktemp -d /tmp/amlflow-bench-hosts.XXXXXX)
cleanup() {
    if [[ -d $WORK/cm ]]; then  # the reference row's shared ssh connections
        for h in $FAKE_CLUSTER_HOSTS; do
            ssh -F "$FAKE_CLUSTER_SSH_CONFIG" -o "ControlPath=$WORK/cm/%C" -O exit "$h" >/dev/null 2>&1
        done
    fi
    bash "$CLUSTER_SCRIPT" down --name "$NAME" >/dev/null 2>&1
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "scratch kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
eval "$(bash "$CLUSTER_SCRIPT" up 2 --name "$NAME" 2>"$WORK/cluster.log")" ||
    { cat "$WORK/cluster.log"; skip "the fake cluster could not be made"; }
read -r H1 H2 <<<"$FAKE_CLUSTER_HOSTS"
read -r A1 _ <<<"$FAKE_CLUSTER_ADDRESSES"
export AMLFLOW_HOME=$WORK/home AMLFLOW_NO_BOARD=1 NO_COLOR=1
RESULTS=$WORK/results.tsv
: >"$RESULTS"

wants() { [[ " $ONLY " == *" $1 "* ]]; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
join() { local IFS=,; printf '%s' "$*"; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$(join $2)" "$(join $3)" "$4" "$5" >>"$RESULTS"; }
show_fail() { echo "    FAILED ($1); last lines of $2:"; tail -n 15 "$2" | sed 's/^/      /'; }

# ---------------------------------------------------------------- scratch files
mkdir -p "$WORK/src" "$WORK/quiet" "$WORK/bin" "$WORK/out" "$WORK/files"
cp "$HERE/runtime_ddp.py" "$HERE/hosts_crash.py" "$WORK/src/"
echo "the log-relay job's source folder" >"$WORK/quiet/README"
cc -O2 -o "$WORK/bin/runtime_writer" "$HERE/runtime_writer.c" || die "cannot compile runtime_writer.c"

job_file() {  # job_file NAME BODY -> $WORK/NAME.amlflow
    cat >"$WORK/$1.amlflow" <<EOF2
// generated by tests/bench/bench_hosts.sh
environment py { python = "$PY" }
compute farm : hosts {
  hosts      = ["$H1:2", "$H2:2"]
  ssh_config = "$FAKE_CLUSTER_SSH_CONFIG"
  interface  = "$FAKE_CLUSTER_SUBNET"
}
experiment bench {
  job $1 {
    environment  = py
    compute      = farm
    distribution = pytorch { nodes = 2, processes_per_node = 2 }
$2
  }
}
EOF2
}
job_file noop '    source = "quiet"
    command = ["/bin/true"]'
job_file ddp '    source = "src"
    script = "runtime_ddp.py"'
job_file relay "    source = \"quiet\"
    command = [\"$WORK/bin/runtime_writer\", \"$RELAY_BYTES\"]"
job_file crash '    source = "src"
    script = "hosts_crash.py"
    restarts = 1
    backoff = 1ms'
for f in "$WORK"/*.amlflow; do
    "$AMLFLOW" check "$f" >"$WORK/check.txt" 2>&1 || { cat "$WORK/check.txt"; die "$f does not check"; }
done

# The mpirun a person types for 2 x 2 ranks on this cluster, and the wrapper that turns
# Open MPI's numbering into torchrun's variables (or sends a writer's output to a file).
MPIRUN=(mpirun --allow-run-as-root --host "$H1:2,$H2:2" -np 4 --map-by ppr:2:node --bind-to none
    --mca plm_rsh_args "-F $FAKE_CLUSTER_SSH_CONFIG -o BatchMode=yes"
    --mca oob_tcp_if_include "$FAKE_CLUSTER_SUBNET" --mca btl_tcp_if_include "$FAKE_CLUSTER_SUBNET")
cat >"$WORK/rank.sh" <<'EOF2'
#!/bin/sh
export RANK=$OMPI_COMM_WORLD_RANK LOCAL_RANK=$OMPI_COMM_WORLD_LOCAL_RANK WORLD_SIZE=$OMPI_COMM_WORLD_SIZE
export GLOO_SOCKET_IFNAME=eth0 OMP_NUM_THREADS=1
exec "$@"
EOF2
cat >"$WORK/writer.sh" <<'EOF2'
#!/bin/sh
exec "$1" "$2" >"$3/rank-$OMPI_COMM_WORLD_RANK.out"
EOF2

timed() {  # timed OUT CMD... -> wall seconds, or nan when CMD fails
    local out=$1 t0 t1
    shift
    t0=$EPOCHREALTIME
    if ! "$@" >"$out" 2>&1; then show_fail "exit $?" "$out" >&2; echo nan; return; fi
    t1=$EPOCHREALTIME
    minus "$t0" "$t1"
}

echo "amlflow hosts benchmarks (DESIGN §6, issue 17)  $(date -u +%FT%TZ)"
echo "  amlflow:  $AMLFLOW (repository HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "  machine:  $(nproc) cores, $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  cluster:  $NAME ($H1, $H2 on $FAKE_CLUSTER_SUBNET); $(mpirun --version 2>&1 | head -1)"
echo "  scratch:  $WORK; repetitions: $REPS ($RELAY_REPS for the relay)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

if wants noop; then
    echo
    echo "== 0. fixed cost: 2 x 2 ranks of /bin/true, wall clock (s)"
    hand_noop() { "${MPIRUN[@]}" /bin/true; }
    # The reference: the same by hand with ssh connections shared as amlflow shares them
    # (a folder of its own; the warm-up opens them, they persist a minute).
    mkdir -m 700 "$WORK/cm"
    SHARED=(-o ControlMaster=auto -o "ControlPath=$WORK/cm/%C" -o ControlPersist=60)
    MPIRUN_SHARED=()
    for word in "${MPIRUN[@]}"; do
        [[ $word == "-F $FAKE_CLUSTER_SSH_CONFIG -o BatchMode=yes" ]] && word+=" ${SHARED[*]}"
        MPIRUN_SHARED+=("$word")
    done
    hand_noop_shared() { "${MPIRUN_SHARED[@]}" /bin/true; }
    timed "$WORK/out/noop.txt" "$AMLFLOW" run --force "$WORK/noop.amlflow" >/dev/null  # warm-up
    timed "$WORK/out/hand-noop-shared.txt" hand_noop_shared >/dev/null
    ours="" base="" shared=""
    for ((i = 0; i < REPS; i++)); do
        a=$(timed "$WORK/out/noop.txt" "$AMLFLOW" run --force "$WORK/noop.amlflow")
        b=$(timed "$WORK/out/hand-noop.txt" hand_noop)
        c=$(timed "$WORK/out/hand-noop-shared.txt" hand_noop_shared)
        echo "  rep $((i + 1)): amlflow $a s, mpirun by hand $b s, by hand with shared ssh connections $c s"
        ours+="$a " base+="$b " shared+="$c "
    done
    record "2 x 2 /bin/true: amlflow / mpirun by hand" "$ours" "$base" s "-"
    record "  the same / by hand, ssh connections shared" "$ours" "$shared" s "-"
fi

if wants launch; then
    echo
    echo "== 1. 2 x 2 gloo job (init, all_reduce, destroy), wall clock (s)"
    hand_ddp() {
        (cd "$WORK/src" && "${MPIRUN[@]}" -x MASTER_ADDR="$A1" -x MASTER_PORT="$($HELPER freeport)" \
            sh "$WORK/rank.sh" "$PY" runtime_ddp.py)
    }
    timed "$WORK/out/ddp.txt" "$AMLFLOW" run --force "$WORK/ddp.amlflow" >/dev/null  # warm-up
    timed "$WORK/out/hand.txt" hand_ddp >/dev/null
    ours="" base=""
    for ((i = 0; i < REPS; i++)); do
        if ((i % 2)); then
            b=$(timed "$WORK/out/hand.txt" hand_ddp) a=$(timed "$WORK/out/ddp.txt" "$AMLFLOW" run --force "$WORK/ddp.amlflow")
        else
            a=$(timed "$WORK/out/ddp.txt" "$AMLFLOW" run --force "$WORK/ddp.amlflow") b=$(timed "$WORK/out/hand.txt" hand_ddp)
        fi
        echo "  rep $((i + 1)): amlflow $a s, mpirun by hand $b s"
        ours+="$a " base+="$b "
    done
    record "2 x 2 gloo job: amlflow / mpirun by hand" "$ours" "$base" s "<= 1.05x"
fi

if wants relay; then
    echo
    echo "== 2. log relay: 2 x 2 ranks writing $RELAY_BYTES bytes each (s)"
    hand_relay() { "${MPIRUN[@]}" sh "$WORK/writer.sh" "$WORK/bin/runtime_writer" "$RELAY_BYTES" "$WORK/files"; }
    ours="" lines="" base=""
    for ((i = 0; i < RELAY_REPS; i++)); do
        rm -rf "$WORK/files"/* "$AMLFLOW_HOME/runs"/*/relay && sync
        a=$(timed "$WORK/out/relay.txt" "$AMLFLOW" run --force "$WORK/relay.amlflow")
        logs=$(find "$AMLFLOW_HOME/runs" -path '*relay/attempt-1/rank-*.log' -size +1k | wc -l)
        rm -rf "$AMLFLOW_HOME/runs"/*/relay && sync
        c=$(AMLFLOW_LOG_LINES=1 timed "$WORK/out/relay-lines.txt" "$AMLFLOW" run --force "$WORK/relay.amlflow")
        rm -rf "$AMLFLOW_HOME/runs"/*/relay && sync
        b=$(timed "$WORK/out/hand-relay.txt" hand_relay)
        bytes=$(cat "$WORK/files"/rank-*.out 2>/dev/null | wc -c)
        echo "  rep $((i + 1)): amlflow $a s ($logs rank logs), relayed in whole lines $c s, to files on the hosts $b s ($bytes bytes)"
        ours+="$a " lines+="$c " base+="$b "
    done
    record "2 x 2 ranks x $((RELAY_BYTES / 1000000)) MB: amlflow / files" "$ours" "$base" s "<= 1.2x"
    record "  the same relayed in whole lines (AMLFLOW_LOG_LINES=1)" "$lines" "$base" s "-"
fi

if wants crash; then
    echo
    echo "== 3. rank crash on host 2 -> restarted ranks' first line (ms; first / last rank)"
    vals="" lasts=""
    for ((i = 0; i < REPS; i++)); do
        out=$WORK/out/crash.txt
        "$AMLFLOW" run --force "$WORK/crash.amlflow" >"$out" 2>&1 || show_fail "amlflow exit $?" "$out"
        read -r first last _ < <($HELPER crash-report "$out")
        echo "  rep $((i + 1)): $first / $last ms"
        vals+="$first " lasts+="$last "
    done
    record "crash on host 2 -> first restarted line" "$vals" "" ms "-"
    record "  -> last restarted rank's first line" "$lasts" "" ms "-"
fi

echo
$HELPER table "$RESULTS"
echo "load average before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"
