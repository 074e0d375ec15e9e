#!/usr/bin/python3
"""Small helpers of tests/bench/bench_runtime.sh (standard library only).

  freeport                      print a free TCP port on 127.0.0.1
  span T0 T1 FILE...            from the BENCH-SPAN lines of runtime_ddp.py in FILEs: print
                                "<ms outside the ranks> <ms from T0 to the first rank's
                                start> <ms from the last rank's end to T1> <longest
                                init_process_group, s>"
  crash-report FILE [HOME]      from BENCH-CRASH / BENCH-START lines (anywhere in a line)
                                and, given an AMLFLOW_HOME, the latest run's rank records:
                                "<ms to the first START> <ms to the last START> <ms from
                                the crashed rank's recorded exit to the first START>", then
                                the run's other events relative to the crash line
  end-latency FILE T_EXIT       print ms from the BENCH-END time in FILE to T_EXIT
  python-floor PYTHON SCRIPT N  start N copies of SCRIPT (as attempt 1 ranks) at once;
                                print ms from just before the first spawn to the first
                                and the last BENCH-START line
  rss OUT -- CMD...             run CMD (stdout and stderr to OUT) under /usr/bin/time,
                                sampling the VmHWM of CMD's own process every 5 ms; print
                                "<VmHWM kB> <ru_maxrss kB from /usr/bin/time> <wall s>
                                <exit code> <peak RssAnon kB>"
  table RESULTS                 print the final table from the rows the script collected
"""
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time

STAMP = re.compile(r"BENCH-(CRASH|START|END|BLOCKED|PEER-LOST|TERM) ([0-9]+\.[0-9]+)")
SPAN = re.compile(r"BENCH-SPAN ([0-9]+\.[0-9]+) ([0-9]+\.[0-9]+)(?: init=([0-9.]+))?")


def stamps(path):
    found = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = STAMP.search(line)
            if m:
                found.setdefault(m.group(1), []).append(float(m.group(2)))
    return found


def span(t0, t1, paths):
    """The launcher's time outside its ranks' scripts: from T0 (just before the launcher
    started) to the earliest BENCH-SPAN start, and from the latest end to T1 (its exit)."""
    starts, ends, inits = [], [], []
    for path in paths:
        if not os.path.exists(path):  # an unmatched glob
            continue
        with open(path, errors="replace") as f:
            for line in f:
                m = SPAN.search(line)
                if m:
                    starts.append(float(m.group(1)))
                    ends.append(float(m.group(2)))
                    if m.group(3):
                        inits.append(float(m.group(3)))
    if not starts:
        print("nan nan nan nan")
        return
    before = (min(starts) - float(t0)) * 1000
    after = (float(t1) - max(ends)) * 1000
    print(f"{before + after:.1f} {before:.1f} {after:.1f} {max(inits, default=float('nan')):.2f}")


def freeport():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def crash_report(path, home):
    """Line 1: "<ms to the first START> <ms to the last START> <ms from the crashed rank's
    exit, as the store recorded it, to the first START>" (nan where unknown); then the
    other events of the run relative to the crash line, and the store's rank records."""
    found = stamps(path)
    if not found.get("CRASH") or not found.get("START"):
        print("nan nan nan")
        return
    crash = min(found["CRASH"])
    first, last = min(found["START"]), max(found["START"])
    rows = store_ranks(home) if home and home != "-" else []
    exits = [finished for number, rank, started, finished, code, sig in rows
             if number == 0 and code not in (None, 0)]
    from_exit = f"{first * 1000 - min(exits):.1f}" if exits else "nan"
    print(f"{(first - crash) * 1000:.1f} {(last - crash) * 1000:.1f} {from_exit}")
    for what in ("BLOCKED", "PEER-LOST", "TERM"):
        for t in found.get(what, []):
            print(f"rank 0 {what.lower()} at {(t - crash) * 1000:+.0f} ms")
    for number, rank, started, finished, code, sig in rows:
        rel = lambda t: "-" if t is None else f"{t - crash * 1000:+.0f}"
        how = f"signal {sig}" if sig else f"exit {code}"
        print(f"store: attempt {number} rank {rank} started {rel(started)} ms, ended {rel(finished)} ms ({how})")


def store_ranks(home):
    """(attempt, rank, started_ms, finished_ms, exit_code, signal) of the latest run."""
    try:
        db = sqlite3.connect(f"file:{home}/store.db?mode=ro", uri=True)
        run = db.execute("SELECT id FROM run ORDER BY created_ms DESC LIMIT 1").fetchone()[0]
        return db.execute(
            "SELECT r.attempt, r.global_rank, r.started_ms, r.finished_ms, r.exit_code, r.signal "
            "FROM rank r JOIN step s ON s.id = r.step_id WHERE s.run_id = ? "
            "ORDER BY r.attempt, r.global_rank", (run,)).fetchall()
    except (sqlite3.Error, TypeError) as error:
        print(f"(store not readable: {error})", file=sys.stderr)
        return []


def end_latency(path, t_exit):
    found = stamps(path)
    if not found.get("END"):
        print("nan")
        return
    print(f"{(float(t_exit) - max(found['END'])) * 1000:.2f}")


def python_floor(python, script, n):
    env = dict(os.environ, TORCHELASTIC_RESTART_COUNT="1", PYTHONUNBUFFERED="1")
    t0 = time.time()
    procs = [subprocess.Popen([python, script], stdout=subprocess.PIPE, env=dict(env, RANK=str(r)))
             for r in range(int(n))]
    starts = []
    for p in procs:
        out = p.communicate()[0].decode()
        m = STAMP.search(out)
        if m:
            starts.append(float(m.group(2)))
    print(f"{(min(starts) - t0) * 1000:.1f} {(max(starts) - t0) * 1000:.1f}")


def rss(out, cmd):
    """Runs CMD under /usr/bin/time (when there is one) and samples CMD's own process.

    The kernel's exact peak (ru_maxrss) is read through /usr/bin/time -f %M rather than
    from our own wait4: a child's ru_maxrss starts from the RSS of the process that
    forked it (the kernel records the old address space's peak at exec), and this
    Python process weighs more than amlflow, while /usr/bin/time weighs ~2 MB. It is
    still an upper bound: it also covers CMD's largest child."""
    timer = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    report = out + ".maxrss"
    argv = [timer, "-f", "%M", "-o", report] + cmd if timer else cmd
    with open(out, "wb") as sink:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
        target = None if timer else proc.pid
        hwm = anon = 0
        while True:
            if target is None:
                try:
                    with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                        kids = f.read().split()
                    target = int(kids[0]) if kids else None
                except OSError:
                    pass
            if target is not None:
                try:
                    with open(f"/proc/{target}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                hwm = max(hwm, int(line.split()[1]))
                            elif line.startswith("RssAnon:"):
                                anon = max(anon, int(line.split()[1]))
                except OSError:
                    pass
            if proc.poll() is not None:
                break
            time.sleep(0.005 if target is not None else 0.0005)
        wall = time.monotonic() - t0
    maxrss = "nan"
    if timer:
        try:
            with open(report) as f:
                maxrss = f.read().split()[-1]
        except (OSError, IndexError):
            pass
    print(f"{hwm} {maxrss} {wall:.3f} {proc.returncode} {anon}")


def fmt(values, unit):
    if not values:
        return "n/a"
    med, low = statistics.median(values), min(values)
    if unit == "s":
        return f"{med:.3f} s (min {low:.3f})"
    if unit == "ms":
        return f"{med:.1f} ms (min {low:.1f})"
    if unit == "MB":
        return f"{med:.1f} MB (min {low:.1f})"
    return f"{med:g} (min {low:g})"


def table(path):
    rows = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            name, ours, base, unit, target = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
            parse = lambda s: [float(v) for v in s.split(",") if v and v != "nan"]
            a, b = parse(ours), parse(base)
            ratio = f"{statistics.median(a) / statistics.median(b):.3f}x" if a and b and statistics.median(b) > 0 \
                else "n/a"
            rows.append((name, fmt(a, unit), fmt(b, unit), ratio, target))
    head = ("measurement", "amlflow median (min)", "baseline median (min)", "ratio", "target")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    line = lambda r: "| " + " | ".join(r[i].ljust(widths[i]) for i in range(5)) + " |"
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def main(argv):
    if not argv:
        print(__doc__)
        return 64
    what, args = argv[0], argv[1:]
    if what == "freeport":
        freeport()
    elif what == "span":
        span(args[0], args[1], args[2:])
    elif what == "crash-report":
        crash_report(args[0], args[1] if len(args) > 1 else "-")
    elif what == "end-latency":
        end_latency(args[0], args[1])
    elif what == "python-floor":
        python_floor(args[0], args[1], args[2])
    elif what == "rss":
        rss(args[0], args[args.index("--") + 1:])
    elif what == "table":
        table(args[0])
    else:
        print(__doc__)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
