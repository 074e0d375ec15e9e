#!/usr/bin/env bash
# The GPU proof: on a machine with NVIDIA GPUs, show what amlflow's NVML discovery finds,
# run a 2-rank DDP job with NCCL under amlflow and the same script under torchrun side by
# side, and print the step time of each, their ratio, and which GPU each rank got.
# Without a GPU it says so and exits 0 (CI never has one).
#
#   bash scripts/gpu-check.sh                 # builds amlflow if build/amlflow is missing
#   GPU_CHECK_PYTHON=/opt/venv/bin/python3    # an interpreter whose torch has CUDA
#   GPU_CHECK_STEPS=200                       # training steps per run (default 200)
#   GPU_CHECK_CPU=1                           # the same flow on CPU with gloo: tests this
#                                             # script itself on a machine without a GPU
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python=${GPU_CHECK_PYTHON:-/usr/bin/python3}
steps=${GPU_CHECK_STEPS:-200}
cpu=${GPU_CHECK_CPU:-0}

[[ -x build/amlflow ]] || bash scripts/build.sh >/dev/null
amlflow=$root/build/amlflow

echo "== what amlflow's GPU discovery finds (amlflow gpus)"
"$amlflow" gpus
count=$("$amlflow" gpus --json | "$python" -c 'import json,sys; print(len(json.load(sys.stdin)["gpus"]))')
if [[ $cpu != 1 && $count -lt 1 ]]; then
    echo "no NVIDIA GPU on this machine: nothing to check (set GPU_CHECK_CPU=1 to run the flow on CPU)"
    exit 0
fi
if [[ $cpu != 1 ]] && ! "$python" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "$python has no CUDA-enabled torch: name one with GPU_CHECK_PYTHON"
    exit 1
fi
ranks=2
if [[ $cpu != 1 && $count -lt 2 ]]; then ranks=1; echo "one GPU: the job runs 1 rank"; fi
backend=nccl
[[ $cpu == 1 ]] && backend=gloo

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
cat > "$work/src/ddp_check.py" <<'PY'
"""A 2-rank DDP job that times its steps and says which GPU each rank drives."""
import os, statistics, sys, time
import torch
import torch.distributed as dist
from torch import nn

backend, steps = sys.argv[1], int(sys.argv[2])
local_rank = int(os.environ["LOCAL_RANK"])
dist.init_process_group(backend)
rank = dist.get_rank()
if backend == "nccl":
    torch.cuda.set_device(local_rank)
    device = torch.device("cuda", local_rank)
    name = torch.cuda.get_device_name(device)
else:
    device, name = torch.device("cpu"), "cpu"
print(f"mapping rank={rank} local_rank={local_rank} CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}"
      f" device={device} name={name}", flush=True)
width = 2048 if backend == "nccl" else 256
model = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10)).to(device)
ddp = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if backend == "nccl" else None)
optimizer = torch.optim.SGD(ddp.parameters(), lr=0.01)
x = torch.randn(256, width, device=device)
y = torch.randint(0, 10, (256,), device=device)
times = []
for step in range(steps):
    start = time.perf_counter()
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(ddp(x), y)
    loss.backward()
    optimizer.step()
    if backend == "nccl":
        torch.cuda.synchronize()
    times.append(time.perf_counter() - start)
if rank == 0:
    warm = times[len(times) // 5:]
    print(f"step_ms={1000 * statistics.median(warm):.3f} loss={loss.item():.4f}", flush=True)
dist.destroy_process_group()
PY
cat > "$work/ddp.amlflow" <<EOF
environment gpu_torch { python = "$python" }
compute here : local { gpus = all }
experiment gpu_check {
  job ddp {
    source       = "src"
    script       = "ddp_check.py"
    args         = ["$backend", $steps]
    environment  = gpu_torch
    compute      = here
    distribution = pytorch { processes_per_node = $ranks }
  }
}
EOF

step_ms() { sed -n 's/.*step_ms=\([0-9.]*\).*/\1/p' "$1" | head -1; }
now() { date +%s.%N; }
calc() { "$python" -c "print(f'{$1:.3f}')"; }

echo
echo "== under amlflow ($ranks ranks, $backend)"
extra_env=()
[[ $cpu == 1 ]] && extra_env=(AMLFLOW_GPUS=none)
start=$(now)
env "${extra_env[@]}" AMLFLOW_HOME="$work/store" AMLFLOW_NO_BOARD=1 "$amlflow" run "$work/ddp.amlflow" \
    > "$work/amlflow.out" 2> "$work/amlflow.err" || { cat "$work/amlflow.err"; exit 1; }
amlflow_wall=$(calc "$(now) - $start")
grep -E "mapping|step_ms" "$work/amlflow.out" | sort

echo
echo "== under torchrun ($ranks ranks, $backend)"
start=$(now)
(cd "$work/src" && "$python" -m torch.distributed.run --standalone --nproc_per_node "$ranks" --redirects 1 --tee 1 \
    ddp_check.py "$backend" "$steps" > "$work/torchrun.out" 2>&1)
torchrun_wall=$(calc "$(now) - $start")
grep -E "mapping|step_ms" "$work/torchrun.out" | sort

a=$(step_ms "$work/amlflow.out")
t=$(step_ms "$work/torchrun.out")
echo
echo "== side by side"
printf "%-10s %12s %12s\n" "" "step (ms)" "wall (s)"
printf "%-10s %12s %12s\n" amlflow "$a" "$amlflow_wall"
printf "%-10s %12s %12s\n" torchrun "$t" "$torchrun_wall"
echo "step time ratio amlflow / torchrun: $(calc "$a / $t")"
echo "wall time ratio amlflow / torchrun: $(calc "$amlflow_wall / $torchrun_wall")"
