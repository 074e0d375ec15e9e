"""Horovod-style data-parallel training under MPI (`mpirun -np 2 python3 train.py`).

Horovod itself is not installable here (it needs a compiler toolchain and a matching
torch build), so this script does by hand what `horovod.torch` does:
  hvd.init()                       -> rank/size from Open MPI's environment, gloo process group
  hvd.broadcast_parameters(...)    -> dist.broadcast of every parameter from rank 0
  hvd.DistributedOptimizer(...)    -> all_reduce (average) of every gradient before step()
  hvd.allreduce(metric)            -> all_reduce of the epoch loss
and scales the learning rate by the number of workers, as the Horovod guides do.

Rank and size come from Open MPI (OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE,
OMPI_COMM_WORLD_LOCAL_RANK), falling back to RANK/WORLD_SIZE/LOCAL_RANK, then to a single
process. torch.distributed is initialised with gloo at MASTER_ADDR (default 127.0.0.1)
and a port from MASTER_PORT, else --master_port, else (if mpi4py is importable) a free
port picked by rank 0 and broadcast over MPI, else 29500.
"""
import argparse
import os
import socket
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

try:
    import amlflow  # amlflow's metrics helper, on PYTHONPATH when amlflow runs the script
except ImportError:  # run elsewhere: print metrics the way the helper does outside amlflow
    import types
    amlflow = types.SimpleNamespace(log=lambda name, value, step=None: print(
        f"[metric] {name}={float(value):.6g}" + ("" if step is None else f" step={step}"), flush=True))


def env_int(*names, default):
    for name in names:
        if os.environ.get(name):
            return int(os.environ[name])
    return default


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def master_port(args, rank, size):
    if os.environ.get("MASTER_PORT"):
        return int(os.environ["MASTER_PORT"])
    if args.master_port:
        return args.master_port
    if size > 1 and "OMPI_COMM_WORLD_SIZE" in os.environ:
        try:
            from mpi4py import MPI  # optional (Debian: python3-mpi4py)
        except ImportError:
            MPI = None
        if MPI is not None:
            return MPI.COMM_WORLD.bcast(free_port() if rank == 0 else None, root=0)
    return 29500


def init(args):
    """The hvd.init() equivalent: returns (rank, size, local_rank)."""
    rank = env_int("OMPI_COMM_WORLD_RANK", "RANK", default=0)
    size = env_int("OMPI_COMM_WORLD_SIZE", "WORLD_SIZE", default=1)
    local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", "LOCAL_RANK", default=0)
    if size > 1:
        addr = os.environ.get("MASTER_ADDR", "127.0.0.1")
        port = master_port(args, rank, size)
        dist.init_process_group("gloo", init_method=f"tcp://{addr}:{port}", rank=rank,
                                world_size=size, timeout=timedelta(seconds=120))
        print(f"[rank {rank}/{size}] local_rank={local_rank} gloo at {addr}:{port}", flush=True)
    return rank, size, local_rank


def broadcast_parameters(model, size):
    if size > 1:
        for p in model.state_dict().values():
            dist.broadcast(p, src=0)


def allreduce_gradients(model, size):
    """What hvd.DistributedOptimizer does before step(): average every gradient."""
    if size > 1:
        for p in model.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad /= size


def make_data(n, seed):
    """Synthetic 3-class problem: class = which of three random directions x points along."""
    g = torch.Generator().manual_seed(seed)
    directions = torch.randn(3, 10, generator=torch.Generator().manual_seed(1234))
    x = torch.randn(n, 10, generator=g)
    y = (x @ directions.t()).argmax(dim=1)
    return x, y


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--learning_rate", type=float, default=0.02, help="per-worker rate; scaled by size")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--master_port", type=int, default=0)
    parser.add_argument("--output_dir", default="./outputs")
    args = parser.parse_args()

    torch.set_num_threads(1)
    rank, size, _ = init(args)

    torch.manual_seed(rank)  # deliberately different init per rank: the broadcast fixes it
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    broadcast_parameters(model, size)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate * size, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    x, y = make_data(2048, seed=0)
    x_shard, y_shard = x[rank::size], y[rank::size]  # each worker its own shard
    x_val, y_val = make_data(512, seed=1)

    for epoch in range(args.epochs):
        perm = torch.randperm(len(x_shard), generator=torch.Generator().manual_seed(epoch))
        total = torch.zeros(2)
        for i in range(0, len(perm), args.batch_size):
            idx = perm[i:i + args.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x_shard[idx]), y_shard[idx])
            loss.backward()
            allreduce_gradients(model, size)
            optimizer.step()
            total += torch.tensor([loss.item() * len(idx), len(idx)])
        if size > 1:
            dist.all_reduce(total)
        with torch.no_grad():
            val_acc = (model(x_val).argmax(dim=1) == y_val).float().mean().item()
        if rank == 0:
            print(f"epoch {epoch}: loss {total[0] / total[1]:.4f} val_acc {val_acc:.3f}", flush=True)
            amlflow.log("loss", total[0] / total[1], step=epoch)
            amlflow.log("val_acc", val_acc, step=epoch)

    # every rank holds the same weights: check it, the way one would debug Horovod
    if size > 1:
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        spread = flat.clone()
        dist.all_reduce(spread, op=dist.ReduceOp.MAX)
        assert torch.allclose(spread, flat), "ranks diverged"
    if rank == 0:
        out_dir = os.environ.get("AMLFLOW_OUTPUTS") or args.output_dir
        os.makedirs(out_dir, exist_ok=True)
        torch.save(model.state_dict(), os.path.join(out_dir, "model.pt"))
        print(f"saved {os.path.join(out_dir, 'model.pt')} (weights identical on all {size} ranks)", flush=True)
    if size > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
