"""Single-process training (the ScriptRunConfig shape): a small MLP on synthetic data.

Two Gaussian blobs in 8 dimensions, drawn from a fixed seed, make a binary
classification problem; the model is trained with full-batch SGD. Runs in well under a
second on one CPU core.

Args:
  --epochs         number of passes over the training set
  --learning_rate  SGD learning rate
  --output_dir     where model.pt goes; AMLFLOW_OUTPUTS overrides it when set

Metrics: `loss` once per epoch, `accuracy` (held-out) at the end. They go to amlflow's
metrics channel through its helper (`amlflow.log`); run elsewhere, they are printed.
"""
import argparse
import os

import torch
from torch import nn

try:
    import amlflow  # amlflow's metrics helper, on PYTHONPATH when amlflow runs the script
except ImportError:  # run elsewhere: print metrics the way the helper does outside amlflow
    import types
    amlflow = types.SimpleNamespace(log=lambda name, value, step=None: print(
        f"[metric] {name}={float(value):.6g}" + ("" if step is None else f" step={step}"), flush=True))


def make_data(n, seed):
    """Two Gaussian blobs, labels 0/1, fixed by the seed."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    centers = torch.tensor([[-1.0] * 4 + [0.5] * 4, [1.0] * 4 + [-0.5] * 4])
    x = centers[y] + 1.2 * torch.randn(n, 8, generator=g)
    return x, y


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--output_dir", default="./outputs")
    args = parser.parse_args()

    out_dir = os.environ.get("AMLFLOW_OUTPUTS") or args.output_dir
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)

    x_train, y_train = make_data(1024, seed=1)
    x_test, y_test = make_data(256, seed=2)

    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate)
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(x_train), y_train)
        loss.backward()
        optimizer.step()
        amlflow.log("loss", loss.item(), step=epoch)

    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
    amlflow.log("accuracy", accuracy)

    path = os.path.join(out_dir, "model.pt")
    torch.save(model.state_dict(), path)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
