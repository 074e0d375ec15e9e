# The crash-to-restart rank of tests/bench/bench_hosts.sh (2 hosts x 2 ranks, one restart).
#
# Attempt 1 (TORCHELASTIC_RESTART_COUNT): every rank prints "BENCH-START <time.time()>"
# first thing and exits 0. Attempt 0: rank 3, the second rank on the second host, prints
# "BENCH-CRASH <time>" and exits 1 at once; the other ranks go on as real ranks would:
# import torch and wait in init_process_group for a rank 3 that never comes. The hosts
# share this machine's clock (network namespaces), so the times compare directly.
import os
import sys
import time

if int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) >= 1:
    print(f"BENCH-START {time.time():.6f} rank={os.environ.get('RANK')}", flush=True)
    sys.exit(0)

rank = int(os.environ["RANK"])
if rank == 3:
    print(f"BENCH-CRASH {time.time():.6f} rank={rank}", flush=True)
    sys.exit(1)

import torch.distributed as dist  # noqa: E402

dist.init_process_group("gloo", init_method="env://")
sys.exit(3)  # not reached: rank 3 never joins
