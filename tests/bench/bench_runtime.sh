#!/usr/bin/env bash
# bench_runtime.sh: the runtime benchmarks of DESIGN §5, side by side in one run.
#
# A benchmark, not a test: it prints figures and ratios and never asserts them (timings
# depend on the machine and on what else runs on it). It exits 0 unless it cannot run at
# all (no amlflow binary, no python3 with torch, no C compiler).
#
# Run it (about 5 to 8 minutes on a 2-core machine; best on an otherwise idle one):
#
#   cmake -S . -B build-bench-rt -G Ninja -DCMAKE_BUILD_TYPE=Release
#   ninja -C build-bench-rt -j2 amlflow amlflow-launch
#   AMLFLOW_BIN=build-bench-rt/amlflow bash tests/bench/bench_runtime.sh
#
# Settings (environment variables):
#   AMLFLOW_BIN          the amlflow binary (default: build/amlflow beside this repository);
#                        amlflow-launch must lie beside it
#   BENCH_REPS_LAUNCH    repetitions of each launch measurement (default 5)
#   BENCH_REPS           repetitions of the other measurements (default 3)
#   BENCH_RELAY_BYTES    bytes each of the 8 log-relay ranks writes in 64 KiB writes (default
#                        100000000); half as many in 8 KiB writes for the second shape
#   BENCH_KEEP=1         keep the scratch folder (printed) instead of deleting it
#   BENCH_ONLY           a space-separated subset of: launch crash exit relay memory
#   BENCH_TORCHRUN=0     leave torchrun out (its rows print n/a, as when it is missing)
# Every `amlflow run` here passes --force: the same file is run again and again, and
# would otherwise come from the cache after its first run (bench_cache.sh measures that).
# Everything it writes goes into one scratch folder under $TMPDIR (or /tmp), with
# AMLFLOW_HOME inside it; the user's store is never touched.
#
# What it measures (median and min of the repetitions; ratio = median / median):
#
# 1. Launch overhead, 2 and 8 ranks. runtime_ddp.py (init_process_group("gloo") from
#    env://, one all_reduce, destroy) run as a pytorch job through `amlflow run`, against
#    the same ranks started by hand from a shell script (RANK, LOCAL_RANK, WORLD_SIZE,
#    MASTER_ADDR, MASTER_PORT and OMP_NUM_THREADS=1 set, N python3 in the background,
#    `wait`), wall clock of the whole command. Output: amlflow's stdout and stderr to a
#    file, the hand-started ranks' to one file each (amlflow writes per-rank logs too).
#    torchrun (`torchrun` on the PATH, else `python3 -m torch.distributed.run`; torch 1.13
#    on Python 3.11 needs `--redirects 1 --tee 1`) is a reference row against the same
#    by-hand baseline. The order of the three rotates from one repetition to the next.
#    Each rank prints when its script began and ended ("BENCH-SPAN"): the per-repetition
#    lines show the time from the launcher's start to the first rank's script (spawn and
#    interpreter start-up; a row of its own) and from the last rank's script end to the
#    launcher's exit (mostly the ranks' own interpreter teardown with torch loaded: on 2
#    busy cores, seconds for 8 ranks). Whole-job times are noisy for a second reason:
#    with torch 1.13 a rank that reaches rank 0's TCPStore before it listens sleeps a
#    fixed 1 s before it tries again, so a run takes ~1 s longer at random (the "longest
#    init" of each run, init_process_group's time in its slowest rank, shows it). Rows
#    "runs without the 1 s store retry" take only the repetitions whose longest init was
#    under 0.5 s, amlflow's and by hand's alike (a row may then hold few values).
#    A first row, a 1-rank job of /bin/true against the same shell script, shows
#    amlflow's fixed cost per run (compile, store, snapshot, spawn, durable commits), also
#    with an environment listing pip = ["torch"], with and without --recheck-env (below).
#    The amlflow rows come three ways: the plain environment (only the interpreter is
#    looked up); an environment listing pip = ["torch"], whose check (starting the
#    interpreter, ~65 ms) the store remembers after the warm-up run, so that a run only
#    stats what the answer rests on (docs/runtime.md, "The environment, checked before
#    any rank starts"); and the same with --recheck-env, which starts the interpreter
#    every run, as every run did before the check was remembered.
#    Target: amlflow / by hand <= 1.03 (DESIGN: torchrun here is ~4.6x).
#
# 2. Rank crash to the restarted attempt's first line. runtime_crash.py on 2 ranks,
#    restarts = 1, backoff = 1ms (the smallest duration; zero is refused). On attempt 0
#    rank 1 prints "BENCH-CRASH <time.time()>" and exits 1; on attempt 1
#    (TORCHELASTIC_RESTART_COUNT) each rank prints "BENCH-START <time.time()>" first
#    thing. Figure: first BENCH-START minus BENCH-CRASH (the last rank's START is printed
#    too). Variants: "immediate" (rank 1 crashes before importing torch; rank 0 is busy
#    importing torch / waiting in init_process_group) and "gloo" (rank 1 crashes after
#    one all_reduce while rank 0 sits in a second one) and "handler" (rank 0 has a
#    Python SIGTERM handler, as training frameworks install, and waits inside
#    init_process_group's C++ code: the handler cannot run, so rank 0 outlives the
#    local backend's SIGTERM grace and dies of the SIGKILL). Baselines: torchrun
#    --max_restarts 1 at its default --monitor_interval (5 s) and at 0.1 s, immediate
#    mode. The "python start floor" row is what no launcher can beat: two attempt-1
#    ranks started at once by a Python helper, from just before the spawn to the first
#    line. After each amlflow run the store's rank records (ms, relative to the crash)
#    are printed: they show when the crashed rank's exit was seen (a Python rank that
#    imported torch takes a while to finish exiting after its last line), when the
#    surviving rank died of its SIGTERM and when the new ranks started; the row "from
#    the crashed rank's exit" is the part amlflow can act on. Target: <= 50 ms.
#
# 3. Job end to interpreter exit. A 1-rank job (runtime_exit.py) whose last action is to
#    print "BENCH-END <time.time()>" and os._exit(0); figure: the time at which the shell
#    that ran `amlflow run` sees it exit, minus that. Baseline: the same script run
#    directly by the shell (the floor: a process exit and a wait). `sync` runs before
#    each repetition (untimed): the store's durable commits fsync, and an fsync's cost
#    depends on what else is dirty on the file system. Target: <= 10 ms.
#
# 4. Log relay. 8 ranks of runtime_writer (C, compiled here with cc -O2) as a pytorch
#    job through `amlflow run` (amlflow writes each rank's log file, and shows the lines on
#    its stdout at its display rate), against the same 8 writers each writing straight to
#    its own file from a shell script. Two shapes: 100 MB each in 65,500-byte writes, and
#    50 MB each in 8,192-byte writes; amlflow's stdout to a file, to /dev/null, and to a
#    pty (`script`; that row's baseline starts the writers under `script` too), with the
#    display's default budget (1 MiB/s of rank output, then a
#    "not shown" line per rank and second); and, as reference rows, every line shown
#    (AMLFLOW_TERMINAL_RATE=0) to a file and to /dev/null, and the logs relayed through
#    amlflow in whole lines (AMLFLOW_LOG_LINES=1; how every log was written before the
#    ranks wrote their own). BENCH_RELAY_VARIANTS picks a subset (see the section). The log
#    files are checked for their byte count (a short one is reported). Files are deleted
#    and `sync`ed between repetitions, outside the timed part. Wall time and CPU seconds
#    (user + system of the whole process tree, /usr/bin/time) are both recorded.
#    Target: ratio <= 1.2.
#
# 5. Supervisor memory, 64 ranks. A `command = "sleep 2"` job with
#    `distribution = pytorch { processes_per_node = 64 }`: peak RSS (VmHWM from
#    /proc/PID/status, sampled every 5 ms until exit). Also shown: ru_maxrss through
#    /usr/bin/time -f %M (the kernel's exact figure; an upper bound, as it also covers
#    the largest child and starts from /usr/bin/time's own ~2 MB, the kernel counting
#    the forking process's peak into the child's) and the peak RssAnon (the private
#    part; the rest is shared library and executable pages). Baseline: bash starting 64 `sleep 2` into 64 files and waiting;
#    torchrun --no_python is a reference row. Target: <= 15 MB.
#
# At the end: a table measurement | amlflow | baseline | ratio | target, and the load
# average before and after (a loaded machine inflates every figure; compare runs only on
# the same machine).
set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
AMLFLOW=${AMLFLOW_BIN:-$REPO/build/amlflow}
case $AMLFLOW in /*) ;; *) AMLFLOW=$PWD/$AMLFLOW ;; esac
PY=/usr/bin/python3
HELPER="$PY $HERE/runtime_helper.py"
REPS_LAUNCH=${BENCH_REPS_LAUNCH:-5}
REPS=${BENCH_REPS:-3}
RELAY_BYTES=${BENCH_RELAY_BYTES:-100000000}
ONLY=${BENCH_ONLY:-launch crash exit relay memory}

die() { echo "bench_runtime: $*" >&2; exit 1; }
[[ -x $AMLFLOW ]] || die "no amlflow binary at $AMLFLOW (build it, or set AMLFLOW_BIN)"
[[ -x $(dirname "$AMLFLOW")/amlflow-launch ]] || die "no amlflow-launch beside $AMLFLOW"
$PY -c 'import torch.distributed' 2>/dev/null || die "$PY cannot import torch.distributed"
command -v cc >/dev/null || die "no C compiler (cc)"

if [[ ${BENCH_TORCHRUN:-1} == 0 ]]; then
    TORCHRUN=()
elif command -v torchrun >/dev/null; then
    TORCHRUN=(torchrun)
elif $PY -c 'import torch.distributed.run' 2>/dev/null; then
    TORCHRUN=("$PY" -m torch.distributed.run)
else
    TORCHRUN=()
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/amlflow-bench-rt.XXXXXX")
cleanup() {
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "scratch kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
export AMLFLOW_HOME=$WORK/home
RESULTS=$WORK/results.tsv
: >"$RESULTS"

wants() { [[ " $ONLY " == *" $1 "* ]]; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
join() { local IFS=,; printf '%s' "$*"; }
# record NAME "AMLFLOW VALUES" "BASELINE VALUES" UNIT TARGET
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$(join $2)" "$(join $3)" "$4" "$5" >>"$RESULTS"; }
show_fail() { echo "    FAILED ($1); last lines of $2:"; tail -n 15 "$2" | sed 's/^/      /'; }

# ---------------------------------------------------------------- scratch files
mkdir -p "$WORK/src" "$WORK/quiet" "$WORK/bin" "$WORK/out"
cp "$HERE/runtime_ddp.py" "$HERE/runtime_crash.py" "$HERE/runtime_exit.py" "$WORK/src/"
echo "the log-relay job's source folder" >"$WORK/quiet/README"
cc -O2 -o "$WORK/bin/runtime_writer" "$HERE/runtime_writer.c" || die "cannot compile runtime_writer.c"

job_file() {  # job_file NAME BODY [ENVIRONMENT FIELDS] -> $WORK/NAME.amlflow
    cat >"$WORK/$1.amlflow" <<EOF
// generated by tests/bench/bench_runtime.sh
environment py { python = "$PY"${3:+, $3} }
experiment bench {
  job $1 {
    environment = py
$2
  }
}
EOF
}
for n in 2 8; do
    job_file "ddp$n" "    source = \"src\"
    script = \"runtime_ddp.py\"
    distribution = pytorch { processes_per_node = $n }"
    job_file "ddp${n}_pip" "    source = \"src\"
    script = \"runtime_ddp.py\"
    distribution = pytorch { processes_per_node = $n }" 'pip = ["torch"]'
done
for mode in immediate gloo handler; do
    job_file "crash_$mode" "    source = \"src\"
    script = \"runtime_crash.py\"
    args = [\"$mode\"]
    distribution = pytorch { processes_per_node = 2 }
    restarts = 1
    backoff = 1ms"
done
job_file noop "    source = \"quiet\"
    command = [\"/bin/true\"]"
job_file noop_pip "    source = \"quiet\"
    command = [\"/bin/true\"]" 'pip = ["torch"]'
job_file exit "    source = \"src\"
    script = \"runtime_exit.py\""
job_file relay "    source = \"quiet\"
    command = [\"$WORK/bin/runtime_writer\", \"$RELAY_BYTES\"]
    distribution = pytorch { processes_per_node = 8 }"
job_file relay_small "    source = \"quiet\"
    command = [\"$WORK/bin/runtime_writer\", \"$((RELAY_BYTES / 2))\"]
    distribution = pytorch { processes_per_node = 8 }"
job_file memory "    source = \"quiet\"
    command = \"sleep 2\"
    distribution = pytorch { processes_per_node = 64 }"

# by_hand.sh N PORT OUTDIR PROGRAM [ARG...]: the shell-script launcher of the baselines.
cat >"$WORK/by_hand.sh" <<'EOF'
#!/bin/bash
n=$1 port=$2 out=$3
shift 3
export MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=$n OMP_NUM_THREADS=1
pids=()
for ((r = 0; r < n; r++)); do
    RANK=$r LOCAL_RANK=$r "$@" >"$out/rank-$r.log" 2>&1 &
    pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit $rc
EOF

for f in "$WORK"/*.amlflow; do
    "$AMLFLOW" check "$f" >"$WORK/check.txt" 2>&1 || { cat "$WORK/check.txt"; die "$f does not check"; }
done

# ---------------------------------------------------------------- header
echo "amlflow runtime benchmarks (DESIGN §5)  $(date -u +%FT%TZ)"
echo "  amlflow:  $AMLFLOW ($("$AMLFLOW" --version 2>&1 | head -1), built $(date -u -r "$AMLFLOW" +%FT%TZ); repository HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "  machine:  $(nproc) cores, $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  python:   $PY, torch $($PY -c 'import torch; print(torch.__version__)' 2>/dev/null)"
echo "  torchrun: ${TORCHRUN[*]:-n/a}"
echo "  scratch:  $WORK; repetitions: $REPS_LAUNCH (launch), $REPS (others)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 1. launch overhead
run_launch() {  # run_launch WHO N -> "<wall s> <ms outside the ranks> <before> <after> <longest init s>"
    local who=$1 n=$2 port t0 t1 rc out=$WORK/out/launch-$1.txt
    port=$($HELPER freeport)
    rm -rf "$WORK/hand" && mkdir -p "$WORK/hand"
    t0=$EPOCHREALTIME
    case $who in
        amlflow) "$AMLFLOW" run --force "$WORK/ddp$n.amlflow" >"$out" 2>&1 ;;
        amlflow-pip) "$AMLFLOW" run --force "$WORK/ddp${n}_pip.amlflow" >"$out" 2>&1 ;;
        amlflow-pip-recheck) "$AMLFLOW" run --force --recheck-env "$WORK/ddp${n}_pip.amlflow" >"$out" 2>&1 ;;
        hand) (cd "$WORK/src" && bash "$WORK/by_hand.sh" "$n" "$port" "$WORK/hand" "$PY" runtime_ddp.py) >"$out" 2>&1 ;;
        torchrun) (cd "$WORK/src" && "${TORCHRUN[@]}" --redirects 1 --tee 1 --log_dir "$WORK/torchrun-logs" \
                       --nproc_per_node "$n" --master_port "$port" runtime_ddp.py) >"$out" 2>&1 ;;
    esac
    rc=$?
    t1=$EPOCHREALTIME
    if ((rc != 0)); then
        [[ $who == hand ]] && cat "$WORK"/hand/*.log >>"$out"
        show_fail "$who exit $rc" "$out" >&2
        echo nan nan nan nan nan
        return
    fi
    echo "$(minus "$t0" "$t1") $($HELPER span "$t0" "$t1" "$out" "$WORK"/hand/rank-*.log)"
}

if wants launch; then
    echo
    echo "== 1. launch overhead: gloo DDP job (init, all_reduce, destroy), wall clock"
    run_launch amlflow 2 >/dev/null  # warm-up: page cache, the store's creation
    run_launch amlflow-pip 2 >/dev/null  # and the environment's one check, remembered
    run_launch hand 2 >/dev/null
    "$AMLFLOW" run --force "$WORK/noop_pip.amlflow" >"$WORK/out/noop.txt" 2>&1 || show_fail "amlflow" "$WORK/out/noop.txt"
    ours="" pip="" recheck="" base=""
    for ((i = 0; i < REPS_LAUNCH; i++)); do
        rm -rf "$WORK/hand" && mkdir -p "$WORK/hand"
        t0=$EPOCHREALTIME
        "$AMLFLOW" run --force "$WORK/noop.amlflow" >"$WORK/out/noop.txt" 2>&1 || show_fail "amlflow" "$WORK/out/noop.txt"
        t1=$EPOCHREALTIME
        bash "$WORK/by_hand.sh" 1 0 "$WORK/hand" /bin/true
        t2=$EPOCHREALTIME
        "$AMLFLOW" run --force "$WORK/noop_pip.amlflow" >"$WORK/out/noop.txt" 2>&1 || show_fail "amlflow" "$WORK/out/noop.txt"
        t3=$EPOCHREALTIME
        "$AMLFLOW" run --force --recheck-env "$WORK/noop_pip.amlflow" >"$WORK/out/noop.txt" 2>&1 ||
            show_fail "amlflow" "$WORK/out/noop.txt"
        t4=$EPOCHREALTIME
        ours+="$(minus "$t0" "$t1") " base+="$(minus "$t1" "$t2") " pip+="$(minus "$t2" "$t3") " recheck+="$(minus "$t3" "$t4") "
    done
    echo "  1 rank of /bin/true (fixed cost): amlflow $ours s; by hand $base s"
    echo "    with pip = [torch]: $pip s; --recheck-env: $recheck s"
    record "launch 1 rank /bin/true: amlflow / by hand" "$ours" "$base" s "-"
    record "  same, pip = [torch] (check remembered)" "$pip" "$base" s "-"
    record "  same, pip = [torch], --recheck-env" "$recheck" "$base" s "-"
    for n in 2 8; do
        who=(amlflow amlflow-pip amlflow-pip-recheck hand)
        ((${#TORCHRUN[@]})) && who+=(torchrun)
        declare -A got=() first=() clean=()
        for w in "${who[@]}" torchrun; do got[$w]="" first[$w]="" clean[$w]=""; done
        for ((i = 0; i < REPS_LAUNCH; i++)); do
            line="  $n ranks, rep $((i + 1)):"
            for ((k = 0; k < ${#who[@]}; k++)); do
                w=${who[$(((i + k) % ${#who[@]}))]}
                read -r s o before after init < <(run_launch "$w" "$n")
                got[$w]+="$s " first[$w]+="$before "
                awk -v t="$init" 'BEGIN { exit !(t < 0.5) }' && clean[$w]+="$s "
                line+=$'\n'"    $w $s s: $before ms to the first script, $after ms after the last; longest init $init s"
            done
            echo "$line"
        done
        record "launch $n ranks: amlflow / by hand" "${got[amlflow]}" "${got[hand]}" s "<= 1.03x"
        record "  launcher start -> first rank's script" "${first[amlflow]}" "${first[hand]}" ms "-"
        record "launch $n ranks, pip = [torch]: amlflow / by hand" "${got[amlflow-pip]}" "${got[hand]}" s "<= 1.03x"
        record "  launcher start -> first rank's script" "${first[amlflow-pip]}" "${first[hand]}" ms "-"
        record "  same, --recheck-env (checked every run)" "${got[amlflow-pip-recheck]}" "${got[hand]}" s "-"
        record "  launcher start -> first rank's script" "${first[amlflow-pip-recheck]}" "${first[hand]}" ms "-"
        record "  runs without the 1 s store retry: amlflow" "${clean[amlflow]}" "${clean[hand]}" s "<= 1.03x"
        record "  runs without the 1 s store retry: pip = [torch]" "${clean[amlflow-pip]}" "${clean[hand]}" s "<= 1.03x"
        record "launch $n ranks: torchrun / by hand (ref)" "${got[torchrun]}" "${got[hand]}" s "ref ~4.6x"
        record "  launcher start -> first rank's script" "${first[torchrun]}" "${first[hand]}" ms "-"
        unset got first clean
    done
fi

# ---------------------------------------------------------------- 2. crash to restart
if wants crash; then
    echo
    echo "== 2. rank crash -> restarted attempt's first line (ms; first rank / last rank)"
    for mode in immediate gloo handler; do
        vals="" exits=""
        for ((i = 0; i < REPS; i++)); do
            out=$WORK/out/crash-$mode.txt
            "$AMLFLOW" run --force "$WORK/crash_$mode.amlflow" >"$out" 2>&1
            rc=$?
            $HELPER crash-report "$out" "$AMLFLOW_HOME" >"$WORK/out/report.txt"
            read -r first last from_exit <"$WORK/out/report.txt"
            if ((rc != 0)) || [[ $first == nan ]]; then show_fail "amlflow exit $rc" "$out"; first=nan; fi
            vals+="$first " exits+="$from_exit "
            echo "  amlflow $mode, rep $((i + 1)): $first / $last ms from the crash line;" \
                 "$from_exit ms from the crashed rank's exit (store, ms resolution)"
            tail -n +2 "$WORK/out/report.txt" | sed 's/^/    /'
        done
        record "crash->first line, $mode: amlflow" "$vals" "" ms "<= 50 ms"
        record "  same, from the crashed rank's exit" "$exits" "" ms "-"
        [[ $mode == immediate ]] && AML_IMMEDIATE=$vals
    done

    floor=""
    for ((i = 0; i < REPS; i++)); do
        read -r first last < <($HELPER python-floor "$PY" "$WORK/src/runtime_crash.py" 2)
        floor+="$first "
        echo "  python start floor (2 ranks spawned at once), rep $((i + 1)): $first / $last ms"
    done
    record "  python start floor (no launcher)" "$floor" "" ms "-"

    for interval in default 0.1; do
        vals=""
        for ((i = 0; i < REPS; i++)); do
            if ((${#TORCHRUN[@]} == 0)); then vals=""; break; fi
            out=$WORK/out/crash-torchrun.txt
            extra=()
            [[ $interval != default ]] && extra=(--monitor_interval "$interval")
            port=$($HELPER freeport)
            (cd "$WORK/src" && "${TORCHRUN[@]}" --redirects 1 --tee 1 --log_dir "$WORK/torchrun-logs" \
                --nproc_per_node 2 --max_restarts 1 "${extra[@]}" --master_port "$port" \
                runtime_crash.py immediate) >"$out" 2>&1
            rc=$?
            read -r first last _ < <($HELPER crash-report "$out" -)
            if ((rc != 0)) || [[ $first == nan ]]; then show_fail "torchrun exit $rc" "$out"; first=nan; fi
            vals+="$first "
            echo "  torchrun monitor_interval $interval, immediate, rep $((i + 1)): $first / $last ms"
        done
        record "crash->first line: amlflow / torchrun ($interval monitor)" "$AML_IMMEDIATE" "$vals" ms "<= 50 ms"
    done
fi

# ---------------------------------------------------------------- 3. job end to exit
if wants exit; then
    echo
    echo "== 3. job end (last line's timestamp) -> interpreter exit seen by its parent (ms)"
    ours="" base=""
    "$AMLFLOW" run --force "$WORK/exit.amlflow" >/dev/null 2>&1  # warm-up
    for ((i = 0; i < REPS; i++)); do
        sync  # no earlier section's dirty pages for the store's fsyncs to wait for
        out=$WORK/out/exit.txt
        "$AMLFLOW" run --force "$WORK/exit.amlflow" >"$out" 2>&1
        t1=$EPOCHREALTIME
        a=$($HELPER end-latency "$out" "$t1")
        out2=$WORK/out/exit-direct.txt
        $PY "$WORK/src/runtime_exit.py" >"$out2" 2>&1
        t1=$EPOCHREALTIME
        b=$($HELPER end-latency "$out2" "$t1")
        ours+="$a " base+="$b "
        echo "  rep $((i + 1)): amlflow $a ms, direct $b ms"
    done
    record "job end -> exit: amlflow / direct" "$ours" "$base" ms "<= 10 ms"
fi

# ---------------------------------------------------------------- 4. log relay
check_sizes() {  # check_sizes DIR BYTES -> "ok" or what is wrong
    local f size bad="" count=0
    for f in "$1"/rank-*.log; do
        [[ -e $f ]] || continue
        count=$((count + 1))
        size=$(stat -c %s "$f")
        ((size == $2 / 100 * 100)) || bad+=" $(basename "$f")=$size"
    done
    if ((count != 8)); then echo "$count log files, not 8"; elif [[ -n $bad ]]; then echo "short:$bad"; else echo ok; fi
}

if wants relay; then
    echo
    echo "== 4. log relay: 8 ranks writing 100-byte lines, amlflow's stdout to a file, /dev/null and a pty (s)"
    # The variants of amlflow's side: NAME=OUT[:ENV]. OUT is file, null or pty; ENV is set for
    # amlflow. "all" shows every line (no display budget); "lines" relays the logs through
    # amlflow (AMLFLOW_LOG_LINES=1, the whole-line logs; how every log was written before).
    RELAY_VARIANTS=${BENCH_RELAY_VARIANTS:-"file=file null=null pty=pty file-all=file:AMLFLOW_TERMINAL_RATE=0 null-all=null:AMLFLOW_TERMINAL_RATE=0 file-lines=file:AMLFLOW_LOG_LINES=1"}
    # relay_amlflow JOB BYTES WRITE_BYTES OUT ENV -> "<s> <cpu s> <log check>"
    relay_amlflow() {
        local t0 t1 rc a cpu logs sizes cmd
        cmd="RUNTIME_WRITER_WRITE_BYTES=$3 $5 /usr/bin/time -f '%U %S' -o '$WORK/out/relay.cpu' '$AMLFLOW' run --force '$WORK/$1.amlflow'"
        sync
        t0=$EPOCHREALTIME
        case $4 in
            file) bash -c "$cmd" >"$WORK/out/relay.stdout" 2>"$WORK/out/relay.err" ;;
            null) bash -c "$cmd" >/dev/null 2>"$WORK/out/relay.err" ;;
            pty) script -qefc "$cmd 2>'$WORK/out/relay.err'" /dev/null >/dev/null ;;
        esac
        rc=$?
        t1=$EPOCHREALTIME
        a=$(minus "$t0" "$t1")
        cpu=$(awk '{ printf "%.3f", $1 + $2 }' "$WORK/out/relay.cpu" 2>/dev/null)
        logs=$(ls -d "$AMLFLOW_HOME"/runs/*/"$1"/attempt-* 2>/dev/null | tail -1)
        sizes=$(check_sizes "$logs" "$2")
        ((rc == 0)) || { show_fail "amlflow exit $rc" "$WORK/out/relay.err" >&2; a=nan; }
        [[ $sizes == ok ]] || a=nan
        rm -rf "$AMLFLOW_HOME"/runs/*/"$1" "$WORK/out/relay.stdout"
        echo "$a ${cpu:-nan} $sizes"
    }
    # The pty rows' baseline starts the writers under `script` too: `script` alone costs
    # ~20 ms more than `bash -c` here, which would otherwise count as amlflow's.
    relay_direct() {  # relay_direct BYTES WRITE_BYTES [pty] -> "<s> <cpu s> <check>"
        local t0 t1 b cpu sizes cmd
        sync
        rm -rf "$WORK/direct" && mkdir -p "$WORK/direct"
        cmd="RUNTIME_WRITER_WRITE_BYTES=$2 /usr/bin/time -f '%U %S' -o '$WORK/out/direct.cpu' bash '$WORK/by_hand.sh' 8 0 '$WORK/direct' '$WORK/bin/runtime_writer' '$1'"
        t0=$EPOCHREALTIME
        if [[ ${3:-} == pty ]]; then
            script -qefc "$cmd" /dev/null >/dev/null
        else
            bash -c "$cmd"
        fi
        t1=$EPOCHREALTIME
        b=$(minus "$t0" "$t1")
        cpu=$(awk '{ printf "%.3f", $1 + $2 }' "$WORK/out/direct.cpu" 2>/dev/null)
        sizes=$(check_sizes "$WORK/direct" "$1")
        [[ $sizes == ok ]] || b=nan
        rm -rf "$WORK/direct"
        echo "$b ${cpu:-nan} $sizes"
    }
    for shape in "relay $RELAY_BYTES 65500" "relay_small $((RELAY_BYTES / 2)) 8192"; do
        read -r job bytes write <<<"$shape"
        declare -A ours=() ours_cpu=()
        base="" base_cpu="" base_pty="" base_pty_cpu=""
        for ((i = 0; i < REPS; i++)); do
            line="  8 x $((bytes / 1000000)) MB in $write-byte writes, rep $((i + 1)):"
            for variant in $RELAY_VARIANTS; do
                name=${variant%%=*} spec=${variant#*=}
                out=${spec%%:*} env=""
                [[ $spec == *:* ]] && env=${spec#*:}
                read -r a cpu sizes < <(relay_amlflow "$job" "$bytes" "$write" "$out" "$env")
                ours[$name]+="$a " ours_cpu[$name]+="$cpu "
                line+=" $name $a s (cpu $cpu, $sizes);"
            done
            read -r b cpu sizes < <(relay_direct "$bytes" "$write")
            base+="$b " base_cpu+="$cpu "
            line+=" direct $b s (cpu $cpu, $sizes);"
            if [[ " $RELAY_VARIANTS" == *"=pty"* ]]; then
                read -r b cpu sizes < <(relay_direct "$bytes" "$write" pty)
                base_pty+="$b " base_pty_cpu+="$cpu "
                line+=" direct under script $b s (cpu $cpu, $sizes)"
            fi
            echo "$line"
        done
        for variant in $RELAY_VARIANTS; do
            name=${variant%%=*}
            spec=${variant#*=}
            if [[ ${spec%%:*} == pty ]]; then
                record "log relay 8x$((bytes / 1000000)) MB, $write-byte writes, stdout to $name: amlflow / direct (both under script)" \
                       "${ours[$name]}" "$base_pty" s "<= 1.2x"
            else
                record "log relay 8x$((bytes / 1000000)) MB, $write-byte writes, stdout to $name: amlflow / direct" \
                       "${ours[$name]}" "$base" s "<= 1.2x"
            fi
        done
        # CPU seconds of everything (amlflow and the 8 ranks; by hand: the shell and the 8
        # ranks): less at the mercy of what else the machine runs than wall time.
        for variant in $RELAY_VARIANTS; do
            name=${variant%%=*}
            spec=${variant#*=}
            if [[ ${spec%%:*} == pty ]]; then
                record "  cpu, stdout to $name: amlflow / direct (both under script)" "${ours_cpu[$name]}" "$base_pty_cpu" s "-"
            else
                record "  cpu, stdout to $name: amlflow / direct" "${ours_cpu[$name]}" "$base_cpu" s "-"
            fi
        done
        unset ours ours_cpu
    done
fi

# ---------------------------------------------------------------- 5. memory
if wants memory; then
    echo
    echo "== 5. supervisor peak RSS with 64 ranks of 'sleep 2' (MB)"
    mb() { [[ $1 =~ ^[0-9]+$ ]] && awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }' || printf nan; }
    ours="" upper="" anons="" base="" ref=""
    cat >"$WORK/hand64.sh" <<EOF
#!/bin/bash
for ((r = 0; r < 64; r++)); do sleep 2 >"$WORK/hand/rank-\$r.log" 2>&1 & done
wait
EOF
    for ((i = 0; i < REPS; i++)); do
        read -r hwm maxrss wall rc anon < <($HELPER rss "$WORK/out/mem.txt" -- "$AMLFLOW" run --force "$WORK/memory.amlflow")
        if ((rc == 0)); then
            ours+="$(mb "$hwm") " upper+="$(mb "$maxrss") " anons+="$(mb "$anon") "
        else
            show_fail "amlflow exit $rc" "$WORK/out/mem.txt"
        fi
        echo "  rep $((i + 1)): amlflow VmHWM $(mb "$hwm") MB (private RssAnon $(mb "$anon") MB;" \
             "/usr/bin/time maxrss $(mb "$maxrss") MB), wall $wall s"
        rm -rf "$WORK/hand" && mkdir -p "$WORK/hand"
        read -r hwm maxrss wall rc anon < <($HELPER rss "$WORK/out/mem-hand.txt" -- bash "$WORK/hand64.sh")
        base+="$(mb "$hwm") "
        echo "         bash by hand VmHWM $(mb "$hwm") MB, wall $wall s"
        if ((${#TORCHRUN[@]})); then
            read -r hwm maxrss wall rc anon < <(cd "$WORK/quiet" && $HELPER rss "$WORK/out/mem-torchrun.txt" -- \
                "${TORCHRUN[@]}" --redirects 1 --tee 1 --log_dir "$WORK/torchrun-logs" --no_python \
                --nproc_per_node 64 --master_port "$($HELPER freeport)" sleep 2)
            ((rc == 0)) && ref+="$(mb "$hwm") "
            echo "         torchrun agent VmHWM $(mb "$hwm") MB, wall $wall s, exit $rc"
        fi
    done
    record "peak RSS (VmHWM), 64 ranks: amlflow / bash" "$ours" "$base" MB "<= 15 MB"
    record "  amlflow ru_maxrss via /usr/bin/time (upper bound)" "$upper" "" MB "<= 15 MB"
    record "  amlflow private part (peak RssAnon)" "$anons" "" MB "-"
    record "peak RSS, 64 ranks: torchrun agent (ref)" "$ref" "$base" MB "-"
fi

# ---------------------------------------------------------------- table
echo
echo "== summary (load average before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg))"
$HELPER table "$RESULTS"
exit 0
