"""PyTorch DistributedDataParallel training, one process per rank, gloo on CPU, started
per node by torch.distributed.launch (or torchrun).

The launcher runs once per node and starts --nproc_per_node copies of this script, each
with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT in its environment; --use_env adds
LOCAL_RANK there too (without it the launcher passes --local_rank, which is accepted and
ignored). Without those variables the script runs as a single process.

The task is a synthetic regression (y = tanh(x @ w_true) + noise, fixed seed), sharded
across ranks with DistributedSampler; a small MLP fits it. Rank 0 prints the loss each
epoch, reports whether it fell, and saves outputs/model.pt.

  python3 -m torch.distributed.launch --use_env --redirects 1 --tee 1 --nproc_per_node 2 \
      --nnodes 1 --node_rank 0 --master_addr 127.0.0.1 --master_port 29500 train.py
"""
import argparse
import os
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

try:
    import amlflow  # amlflow's metrics helper, on PYTHONPATH when amlflow runs the script
except ImportError:  # run elsewhere: print metrics the way the helper does outside amlflow
    import types
    amlflow = types.SimpleNamespace(log=lambda name, value, step=None: print(
        f"[metric] {name}={float(value):.6g}" + ("" if step is None else f" step={step}"), flush=True))


def synthetic_dataset(n=2048, dim=16, seed=0):
    """The same data on every rank (same seed); the sampler gives each rank its shard."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    w_true = torch.randn(dim, 1, generator=g)
    y = torch.tanh(x @ w_true) + 0.05 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--batch_size", type=int, default=64, help="per-rank batch size")
    parser.add_argument("--output_dir", default="./outputs")
    # torch.distributed.launch without --use_env passes --local_rank; accept and ignore it
    # (LOCAL_RANK in the environment is what this script reads).
    parser.add_argument("--local_rank", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    torch.set_num_threads(1)  # several ranks share a few CPU cores
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    if distributed:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29500")
        dist.init_process_group("gloo", timeout=timedelta(seconds=120))  # env:// rendezvous
        print(f"[rank {rank}] local_rank={local_rank} world_size={world_size} "
              f"master={os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']} "
              f"restart={os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", flush=True)

    torch.manual_seed(0)  # identical initial weights on every rank (DDP also broadcasts them)
    dataset = synthetic_dataset()
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)

    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1))
    if distributed:
        model = DDP(model)  # CPU: no device_ids
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=0.9)
    loss_fn = nn.MSELoss()

    losses = []
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        total = torch.zeros(2)  # [sum of loss * n, n] on this rank
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()  # DDP all-reduces (averages) the gradients here
            optimizer.step()
            total += torch.tensor([loss.item() * len(x), len(x)])
        if distributed:
            dist.all_reduce(total)  # sum over ranks
        epoch_loss = (total[0] / total[1]).item()
        losses.append(epoch_loss)
        if rank == 0:
            print(f"epoch {epoch}: loss {epoch_loss:.4f}", flush=True)
            amlflow.log("loss", epoch_loss, step=epoch)

    if rank == 0:
        if len(losses) >= 2 and losses[-1] < losses[0]:
            print(f"OK: loss fell from {losses[0]:.4f} to {losses[-1]:.4f}", flush=True)
        else:
            print(f"WARNING: loss did not fall ({losses[0]:.4f} -> {losses[-1]:.4f})", flush=True)
        out_dir = os.environ.get("AMLFLOW_OUTPUTS") or args.output_dir
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "model.pt")
        state = model.module.state_dict() if distributed else model.state_dict()
        torch.save(state, path)
        print(f"saved {path}", flush=True)

    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
