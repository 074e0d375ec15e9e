"""PyTorch DistributedDataParallel across hosts, one process per rank, gloo on CPU.

Reads its distributed setup as torchrun provides it (RANK, LOCAL_RANK, WORLD_SIZE,
NODE_RANK, MASTER_ADDR, MASTER_PORT), so it runs unchanged under torchrun, under amlflow on
one machine or on several, and alone (`python3 train.py`, WORLD_SIZE 1).

A synthetic regression (fixed seed), sharded across ranks with DistributedSampler; a
small MLP fits it. Each rank says where it runs. Rank 0 writes a checkpoint after every
epoch into AMLFLOW_CHECKPOINTS (kept across restarts; with shared_fs = false amlflow
brings it back and sends it to every host before a restart), and every rank resumes from
it, so a restarted group goes on where it stopped. Rank 0 saves outputs/model.pt.
"""
import argparse
import os
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

try:
    import amlflow  # amlflow's metrics helper, on PYTHONPATH when amlflow runs the script
except ImportError:
    import types
    amlflow = types.SimpleNamespace(log=lambda name, value, step=None: None)


def synthetic_dataset(n=2048, dim=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    w_true = torch.randn(dim, 1, generator=g)
    y = torch.tanh(x @ w_true) + 0.05 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--batch_size", type=int, default=64, help="per-rank batch size")
    args = parser.parse_args()

    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("gloo", timeout=timedelta(seconds=120))  # env:// rendezvous
    print(f"[rank {rank}/{world_size}] on {socket.gethostname()}: node {os.environ.get('NODE_RANK', '0')}, "
          f"local rank {os.environ.get('LOCAL_RANK', '0')}, master {os.environ.get('MASTER_ADDR', '-')}:"
          f"{os.environ.get('MASTER_PORT', '-')}, restart {os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}",
          flush=True)

    torch.manual_seed(0)
    dataset = synthetic_dataset()
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=0.9)

    checkpoints = os.environ.get("AMLFLOW_CHECKPOINTS", "checkpoints")
    checkpoint = os.path.join(checkpoints, "last.pt")
    start = 0
    if os.path.exists(checkpoint):  # every rank reads the same state
        state = torch.load(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"] + 1
        if rank == 0:
            print(f"resuming from epoch {start}", flush=True)
    if distributed:
        model = DDP(model)  # CPU: no device_ids; DDP also broadcasts rank 0's weights
    loss_fn = nn.MSELoss()

    first = last = None
    for epoch in range(start, args.epochs):
        sampler.set_epoch(epoch)
        total = torch.zeros(2)
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()  # DDP averages the gradients across hosts here
            optimizer.step()
            total += torch.tensor([loss.item() * len(x), len(x)])
        if distributed:
            dist.all_reduce(total)
        last = (total[0] / total[1]).item()
        first = last if first is None else first
        if rank == 0:
            print(f"epoch {epoch}: loss {last:.4f}", flush=True)
            amlflow.log("loss", last, step=epoch)
            os.makedirs(checkpoints, exist_ok=True)
            plain = model.module if distributed else model
            torch.save({"model": plain.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch},
                       checkpoint + ".tmp")
            os.replace(checkpoint + ".tmp", checkpoint)

    if rank == 0:
        if first is not None and last < first:
            print(f"OK: loss fell from {first:.4f} to {last:.4f}", flush=True)
        out_dir = os.environ.get("AMLFLOW_OUTPUTS", "outputs")
        os.makedirs(out_dir, exist_ok=True)
        plain = model.module if distributed else model
        torch.save(plain.state_dict(), os.path.join(out_dir, "model.pt"))
        print(f"saved {os.path.join(out_dir, 'model.pt')}", flush=True)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
