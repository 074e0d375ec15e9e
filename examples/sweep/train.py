"""One trial of a hyperparameter sweep: train a small MLP with a given learning rate and
batch size, and report validation loss/accuracy every epoch.

The data (a noisy two-moons-like problem in 2-D lifted to 6 features) is synthesized from a
fixed seed, so trials differ only in their hyperparameters. Metrics `val_loss` and
`val_acc` go through amlflow's helper (`amlflow.log`) to $AMLFLOW_METRICS (the sweep reads them
for its objective and for early stopping); without amlflow they are only printed.

  python3 train.py --learning_rate 0.05 --batch_size 32
"""
import argparse
import json
import math
import os

import torch
from torch import nn

try:
    import amlflow  # amlflow's metrics helper, on PYTHONPATH when amlflow runs the script
except ImportError:  # run elsewhere: print metrics the way the helper does outside amlflow
    import types
    amlflow = types.SimpleNamespace(log=lambda name, value, step=None: print(
        f"[metric] {name}={float(value):.6g}" + ("" if step is None else f" step={step}"), flush=True))


def moons(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    t = torch.rand(n, generator=g) * math.pi
    x0 = torch.where(y == 0, torch.cos(t), 1 - torch.cos(t))
    x1 = torch.where(y == 0, torch.sin(t), 0.5 - torch.sin(t))
    pts = torch.stack([x0, x1], dim=1) + 0.15 * torch.randn(n, 2, generator=g)
    feats = torch.cat([pts, pts ** 2, pts[:, :1] * pts[:, 1:], torch.sin(3 * pts[:, :1])], dim=1)
    return feats, y


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--output_dir", default="./outputs")
    args = parser.parse_args()
    print(f"trial: learning_rate={args.learning_rate} batch_size={args.batch_size} epochs={args.epochs}",
          flush=True)

    torch.set_num_threads(1)
    torch.manual_seed(0)
    x_train, y_train = moons(1024, seed=1)
    x_val, y_val = moons(256, seed=2)

    model = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    best = {"val_loss": float("inf")}
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(epoch))
        for i in range(0, len(perm), args.batch_size):
            idx = perm[i:i + args.batch_size]
            optimizer.zero_grad()
            loss_fn(model(x_train[idx]), y_train[idx]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            val_loss = loss_fn(logits, y_val).item()
            val_acc = (logits.argmax(dim=1) == y_val).float().mean().item()
        if not math.isfinite(val_loss):
            val_loss = 1e9  # a diverged trial still reports a (terrible) number
        amlflow.log("val_loss", val_loss, step=epoch)
        amlflow.log("val_acc", val_acc, step=epoch)
        if val_loss < best["val_loss"]:
            best = {"val_loss": val_loss, "val_acc": val_acc, "epoch": epoch}

    out_dir = os.environ.get("AMLFLOW_OUTPUTS") or args.output_dir
    os.makedirs(out_dir, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(out_dir, "model.pt"))
    with open(os.path.join(out_dir, "result.json"), "w") as f:
        json.dump({"learning_rate": args.learning_rate, "batch_size": args.batch_size,
                   "final_val_loss": val_loss, "final_val_acc": val_acc, "best": best}, f, indent=2)
    print(f"final val_loss {val_loss:.4f} val_acc {val_acc:.3f}; saved to {out_dir}", flush=True)


if __name__ == "__main__":
    main()
