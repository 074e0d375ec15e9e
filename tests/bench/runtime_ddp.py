# The launch-overhead rank of tests/bench/bench_runtime.sh: join a gloo group from the
# torchrun variables (env://), one all_reduce, leave. Nothing else, so that the time
# around it is the launcher's.
import torch
import torch.distributed as dist

dist.init_process_group("gloo", init_method="env://")
t = torch.ones(1)
dist.all_reduce(t)
assert t.item() == dist.get_world_size()
dist.destroy_process_group()
