# The launch-overhead rank of tests/bench/bench_runtime.sh: join a gloo group from the
# torchrun variables (env://), one all_reduce, leave. Nothing else, so that the time
# around it is the launcher's. Its last line, "BENCH-SPAN <start> <end>", gives the
# time.time() when the script began (after the interpreter's start-up) and ended, so
# that the launcher's own time before the first rank and after the last can be told
# apart from the ranks' (torch import, rendezvous); init= is how long
# init_process_group took (about 1 s more when the rank met torch's connect retry).
import time

t_start = time.time()

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

t_init = time.time()
dist.init_process_group("gloo", init_method="env://")
t_init = time.time() - t_init
t = torch.ones(1)
dist.all_reduce(t)
assert t.item() == dist.get_world_size()
dist.destroy_process_group()
print(f"BENCH-SPAN {t_start:.6f} {time.time():.6f} init={t_init:.3f}", flush=True)
