# The crash-to-restart rank of tests/bench/bench_runtime.sh (2 ranks, one restart).
#
# Attempt 1 (TORCHELASTIC_RESTART_COUNT, which amlflow and torchrun both set): every rank
# prints "BENCH-START <time.time()>" first thing and exits 0.
# Attempt 0, by mode (argv[1]):
#   immediate  rank 1 prints "BENCH-CRASH <time>" and exits 1 at once; rank 0 goes on as
#              a real rank would: imports torch and waits in init_process_group for rank 1.
#   gloo       both ranks join a gloo group and all_reduce once; then rank 1 prints
#              BENCH-CRASH and exits 1 while rank 0 is inside a second all_reduce.
#   handler    rank 0 installs a Python SIGTERM handler (as training frameworks do), then
#              waits in init_process_group (C++, in the TCPStore) for a rank 1 that
#              never joins: rank 1 waits for rank 0's marker file in the working folder,
#              then crashes. A Python handler only runs between bytecodes, so rank 0
#              cannot act on SIGTERM until the C++ call returns.
# Rank 0 prints "BENCH-BLOCKED <time>" just before it blocks, so that the time it took
# to die can be read against the supervisor's records.
import os
import sys
import time

if int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) >= 1:
    print(f"BENCH-START {time.time():.6f} rank={os.environ.get('RANK')}", flush=True)
    sys.exit(0)

rank = int(os.environ["RANK"])
mode = sys.argv[1] if len(sys.argv) > 1 else "immediate"


def crash():
    print(f"BENCH-CRASH {time.time():.6f} rank={rank}", flush=True)
    sys.exit(1)


if mode == "immediate" and rank == 1:
    crash()

MARKER = "rank0-blocked"
if mode == "handler":
    if rank == 1:
        while not os.path.exists(MARKER):
            time.sleep(0.01)
        time.sleep(0.2)  # rank 0 is inside init_process_group by now
        crash()
    import signal

    def on_term(signum, frame):
        print(f"BENCH-TERM {time.time():.6f} rank={rank}", flush=True)
        sys.exit(143)

    signal.signal(signal.SIGTERM, on_term)

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

if mode in ("immediate", "handler"):
    print(f"BENCH-BLOCKED {time.time():.6f} rank={rank} in init_process_group", flush=True)
    open(MARKER, "w").close()
    dist.init_process_group("gloo", init_method="env://")
    sys.exit(3)  # not reached: rank 1 never joins

dist.init_process_group("gloo", init_method="env://")
t = torch.ones(1)
dist.all_reduce(t)
if rank == 1:
    crash()
print(f"BENCH-BLOCKED {time.time():.6f} rank={rank} in all_reduce", flush=True)
try:
    dist.all_reduce(t)
except Exception as error:  # gloo may notice the lost peer by itself
    print(f"BENCH-PEER-LOST {time.time():.6f} rank={rank} {type(error).__name__}: {error}", flush=True)
    sys.exit(4)
sys.exit(5)
