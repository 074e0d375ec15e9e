"""Bird / not-bird image classifier: amlflow's take on the Azure ML guide
"train-hyperparameter-tune-deploy-with-pytorch" (its pytorch_train.py).

The guide downloads a small photo set (fowl_data: chickens and turkeys) and fine-tunes a
pretrained ResNet-18. Nothing may be downloaded here, so this script
  * synthesizes the images instead: 3x32x32 pictures, deterministic from a seed. A "bird"
    is an ellipse body with a head and a wing; a "not bird" is a box or a signpost. The
    background gradient is random and the object's colour contrasts with it, the same way
    for both classes, so only the shape tells them apart;
  * trains a tiny CNN from scratch in place of the pretrained ResNet.
Everything else follows the guide: the same arguments (--num_epochs, --learning_rate,
--momentum, --output_dir), SGD with momentum and a StepLR schedule, the best epoch's
weights kept, the whole model saved with torch.save(model, ...).

Distributed: with RANK/WORLD_SIZE in the environment (torchrun, amlflow
`distribution = pytorch {...}`) it runs DDP over gloo on CPU, each rank training on its
DistributedSampler shard; without them it runs as one process.

Outputs (rank 0), in AMLFLOW_OUTPUTS when set, else --output_dir:
  model.pt        TorchScript (torch.jit.script): load with torch.jit.load, no class needed;
                  this is the file to export to ONNX (input shape [1, 3, 32, 32])
  model_state.pt  the state dict of the best epoch
  model_full.pt   the whole pickled module, torch.save(model, path), as the guide saves it;
                  it pickles the class as __main__.BirdNet, so load it from a script that
                  does `from pytorch_train import BirdNet` first
Metrics: `loss` (train) and `val_acc` each epoch, `best_val_acc` at the end.
"""
import argparse
import copy
import json
import os
import time
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

CLASS_NAMES = ["not_bird", "bird"]


def make_images(n, seed):
    """n synthetic 3x32x32 images with labels 0 (not bird) / 1 (bird), fixed by the seed."""
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.rand(*shape, generator=g)
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    labels = torch.randint(0, 2, (n,), generator=g)
    images = torch.empty(n, 3, 32, 32)
    for i in range(n):
        top, bottom = rand(3), rand(3)  # a vertical gradient: sky, grass, wall...
        img = top[:, None, None] * (1 - ys / 31) + bottom[:, None, None] * (ys / 31)
        cx, cy = 9 + 14 * rand(1).item(), 10 + 12 * rand(1).item()
        s = 3.5 + 2.5 * rand(1).item()
        flip = 1.0 if rand(1).item() < 0.5 else -1.0  # facing left or right
        if labels[i] == 1:
            body = ((xs - cx) / (1.6 * s)) ** 2 + ((ys - cy) / s) ** 2 <= 1
            hx, hy = cx + flip * 1.5 * s, cy - 0.9 * s
            head = (xs - hx) ** 2 + (ys - hy) ** 2 <= (0.6 * s) ** 2
            wing = (ys <= cy) & (ys >= cy - 1.8 * s) & ((xs - cx + flip * 0.3 * s).abs() <= (ys - (cy - 1.8 * s)) * 0.7)
            mask = body | head | wing
        elif rand(1).item() < 0.5:  # a box
            w, h = s * (0.9 + 0.8 * rand(1).item()), s * (0.9 + 0.8 * rand(1).item())
            mask = ((xs - cx).abs() <= w) & ((ys - cy).abs() <= h)
        else:  # a signpost
            pole = ((xs - cx).abs() <= 0.6) & (ys >= cy - s) & (ys <= cy + 2 * s)
            sign = ((xs - cx).abs() <= 1.2 * s) & ((ys - (cy - s)).abs() <= 0.6 * s)
            mask = pole | sign
        colour = (1 - (top + bottom) / 2 + 0.3 * (rand(3) - 0.5)).clamp(0, 1)  # stands out from the background
        img = torch.where(mask, colour[:, None, None], img)
        images[i] = (img + 0.06 * torch.randn(3, 32, 32, generator=g)).clamp(0, 1)
    images = (images - 0.5) / 0.25  # the guide's transforms.Normalize, roughly
    return images, labels


class BirdNet(nn.Module):
    """A tiny CNN standing in for the guide's pretrained ResNet-18."""

    def __init__(self, num_classes=2):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),   # 16x16
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 8x8
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveMaxPool2d(1),
        )
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def evaluate(model, loader, distributed):
    model.eval()
    correct = torch.zeros(2)  # [correct, seen] on this rank
    with torch.no_grad():
        for x, y in loader:
            correct += torch.tensor([(model(x).argmax(dim=1) == y).sum().item(), len(y)])
    if distributed:
        dist.all_reduce(correct)
    return (correct[0] / correct[1]).item()


def train_model(model, criterion, optimizer, scheduler, num_epochs, loaders, sampler, rank, distributed):
    since = time.time()
    best_acc, best_state = -1.0, None
    for epoch in range(num_epochs):
        sampler.set_epoch(epoch)
        model.train()
        total = torch.zeros(2)
        for x, y in loaders["train"]:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            total += torch.tensor([loss.item() * len(y), len(y)])
        scheduler.step()
        if distributed:
            dist.all_reduce(total)
        epoch_loss = (total[0] / total[1]).item()
        val_acc = evaluate(model, loaders["val"], distributed)
        if rank == 0:
            print(f"Epoch {epoch}/{num_epochs - 1}: loss {epoch_loss:.4f} val_acc {val_acc:.4f} "
                  f"lr {scheduler.get_last_lr()[0]:.5f}", flush=True)
            amlflow.log("loss", epoch_loss, step=epoch)
            amlflow.log("val_acc", val_acc, step=epoch)
        if val_acc > best_acc:
            best_acc = val_acc
            plain = model.module if distributed else model
            best_state = copy.deepcopy(plain.state_dict())
    if rank == 0:
        print(f"Training complete in {time.time() - since:.1f}s; best val_acc {best_acc:.4f}", flush=True)
        amlflow.log("best_val_acc", best_acc)
    return best_state


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_epochs", type=int, default=4, help="number of epochs to train")
    parser.add_argument("--learning_rate", type=float, default=0.005, help="learning rate")
    parser.add_argument("--momentum", type=float, default=0.9, help="momentum")
    parser.add_argument("--batch_size", type=int, default=16, help="per-rank batch size")
    parser.add_argument("--output_dir", type=str, default="./outputs", help="output directory")
    parser.add_argument("--num_images", type=int, default=640, help="synthetic training images")
    args = parser.parse_args()
    print("Torch version:", torch.__version__, flush=True)

    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ and world_size > 1
    if distributed:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29500")
        dist.init_process_group("gloo", timeout=timedelta(seconds=120))
        print(f"[rank {rank}/{world_size}] gloo at {os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}",
              flush=True)

    train_set = TensorDataset(*make_images(args.num_images, seed=0))
    val_set = TensorDataset(*make_images(256, seed=1))
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    val_sampler = DistributedSampler(val_set, num_replicas=world_size, rank=rank, shuffle=False)
    loaders = {"train": DataLoader(train_set, batch_size=args.batch_size, sampler=sampler),
               "val": DataLoader(val_set, batch_size=64, sampler=val_sampler)}

    torch.manual_seed(0)
    model = BirdNet(num_classes=len(CLASS_NAMES))
    net = DDP(model) if distributed else model
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=args.learning_rate, momentum=args.momentum)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)

    best_state = train_model(net, criterion, optimizer, scheduler, args.num_epochs, loaders, sampler,
                             rank, distributed)

    if rank == 0:
        model.load_state_dict(best_state)
        model.eval()
        out_dir = os.environ.get("AMLFLOW_OUTPUTS") or args.output_dir
        os.makedirs(out_dir, exist_ok=True)
        torch.save(model.state_dict(), os.path.join(out_dir, "model_state.pt"))
        torch.save(model, os.path.join(out_dir, "model_full.pt"))
        scripted = torch.jit.script(model)
        example = torch.zeros(1, 3, 32, 32)
        assert torch.allclose(scripted(example), model(example))
        scripted.save(os.path.join(out_dir, "model.pt"))
        with open(os.path.join(out_dir, "labels.json"), "w") as f:
            json.dump({"classes": CLASS_NAMES, "input_shape": [1, 3, 32, 32]}, f)
        print(f"saved model.pt (TorchScript), model_state.pt, model_full.pt to {out_dir}", flush=True)
    if distributed:
        dist.barrier()
        # DDP's reducer holds the process group: dropped first, the group is torn down
        # here, while the interpreter is whole. Left to interpreter exit, torch 1.13's gloo
        # teardown once hung there (a worker thread joined while it waited on a lock).
        del net, optimizer
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
