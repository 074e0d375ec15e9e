"""A DDP job whose rank 1 fails on its first attempt, then resumes from a checkpoint.

What it shows: whole-group restarts (amlflow `restarts = 2`, or torchrun --max_restarts)
and resuming from a checkpoint folder that survives the restart.

  restart 0 (amlflow's attempt 1): both ranks train; after epoch --fail_after_epoch rank 0
             writes a checkpoint, then rank 1 raises an error and exits with code 1. Rank
             0's next collective fails too (its peer is gone), and the launcher restarts
             the whole group.
  restart 1+ (attempt 2+): every rank loads the checkpoint, prints that it resumed, and
             finishes.

The restart count is AMLFLOW_ATTEMPT (set by amlflow: 0 in attempt 1), else
TORCHELASTIC_RESTART_COUNT (set by torchrun), else 0. The checkpoint folder is AMLFLOW_CHECKPOINTS, else
./checkpoints. Outputs go to AMLFLOW_OUTPUTS, else ./outputs.

Try it without amlflow:
  torchrun --nproc_per_node 2 --max_restarts 2 --redirects 1 --tee 1 train.py
"""
import argparse
import os
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

try:
    import amlflow  # amlflow's metrics helper, on PYTHONPATH when amlflow runs the script
except ImportError:  # run elsewhere: print metrics the way the helper does outside amlflow
    import types
    amlflow = types.SimpleNamespace(log=lambda name, value, step=None: print(
        f"[metric] {name}={float(value):.6g}" + ("" if step is None else f" step={step}"), flush=True))


class SimulatedNodeFailure(RuntimeError):
    pass


def current_attempt():
    for name in ("AMLFLOW_ATTEMPT", "TORCHELASTIC_RESTART_COUNT"):
        if os.environ.get(name):
            return int(os.environ[name]), name
    return 0, "default"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--fail_after_epoch", type=int, default=1, help="attempt 0 fails after this epoch")
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--output_dir", default="./outputs")
    args = parser.parse_args()

    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    if distributed:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29500")
        dist.init_process_group("gloo", timeout=timedelta(seconds=60))
    attempt, attempt_source = current_attempt()
    ckpt_dir = os.environ.get("AMLFLOW_CHECKPOINTS") or "./checkpoints"
    ckpt_path = os.path.join(ckpt_dir, "checkpoint.pt")
    print(f"[rank {rank}/{world_size}] restart {attempt} (from {attempt_source}), checkpoints in {ckpt_dir}",
          flush=True)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(1024, 8, generator=g)
    y = (x[:, :4].sum(dim=1, keepdim=True) > 0).float()
    x_shard, y_shard = x[rank::world_size], y[rank::world_size]

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=0.9)
    start_epoch = 0
    if attempt > 0 and os.path.exists(ckpt_path):
        state = torch.load(ckpt_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = state["epoch"] + 1
        print(f"[rank {rank}] RESUMED from {ckpt_path}: epoch {state['epoch']} done by restart "
              f"{state['attempt']} (loss {state['loss']:.4f}); continuing at epoch {start_epoch}", flush=True)
    elif attempt > 0:
        print(f"[rank {rank}] restart {attempt} but no checkpoint at {ckpt_path}: starting fresh", flush=True)
    else:
        print(f"[rank {rank}] restart 0: starting fresh", flush=True)
    ddp_model = DDP(model) if distributed else model
    loss_fn = nn.BCEWithLogitsLoss()

    for epoch in range(start_epoch, args.epochs):
        total = torch.zeros(2)
        for i in range(0, len(x_shard), 32):
            xb, yb = x_shard[i:i + 32], y_shard[i:i + 32]
            optimizer.zero_grad()
            loss = loss_fn(ddp_model(xb), yb)
            loss.backward()
            optimizer.step()
            total += torch.tensor([loss.item() * len(xb), len(xb)])
        if distributed:
            dist.all_reduce(total)
        epoch_loss = (total[0] / total[1]).item()
        if rank == 0:
            print(f"epoch {epoch}: loss {epoch_loss:.4f}", flush=True)
            amlflow.log("loss", epoch_loss, step=epoch)
            os.makedirs(ckpt_dir, exist_ok=True)
            tmp = ckpt_path + ".tmp"
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "epoch": epoch, "loss": epoch_loss, "attempt": attempt}, tmp)
            os.replace(tmp, ckpt_path)  # atomic: a crash never leaves half a checkpoint
            print(f"[rank 0] checkpoint written: epoch {epoch}", flush=True)
        if distributed:
            dist.barrier()  # the checkpoint is on disk before anyone can fail
        if attempt == 0 and epoch == args.fail_after_epoch and rank == 1:
            print(f"[rank 1] simulating a crash before any restart (exit code 1)", flush=True)
            raise SimulatedNodeFailure(
                f"rank 1 simulated failure before any restart, after epoch {epoch} "
                f"(expected: the launcher restarts the group and restart 1 resumes from the checkpoint)")

    if rank == 0:
        out_dir = os.environ.get("AMLFLOW_OUTPUTS") or args.output_dir
        os.makedirs(out_dir, exist_ok=True)
        torch.save(model.state_dict(), os.path.join(out_dir, "model.pt"))
        print(f"done on restart {attempt}: saved {os.path.join(out_dir, 'model.pt')}", flush=True)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()  # an uncaught exception prints its traceback and exits with code 1
