"""archtrain against a hand-written PyTorch loop: the same MLP, data, batches and steps.

    python benchmarks/overhead.py [--epochs 20] [--repeats 3]

Both sides train a 64-256-256-10 MLP on digits (batch 32, Adam 1e-3), validate once per
epoch and save a checkpoint when validation improves and at every epoch end. archtrain runs
through its command line in this process, with its progress bar, CSV metrics and checkpoints;
its time is the `fit` duration from summary.json (Trainer.fit, validation included). The hand
loop is timed over the same work. Repeats alternate the two and report medians and the ratio.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from archtrain.cli import main as archtrain
from archtrain.data.images import Digits
from archtrain.models.feedforward import MLP

OVERRIDES = [
    "model=mlp",
    "data=digits",
    "optim=adam",
    "optim.lr=0.001",
    "data.batch_size=32",
    "model.depth=2",
    "model.width=256",
    "scheduler=none",
    "seed=0",
]


def hand_loop(epochs: int, out: Path) -> tuple[float, int]:
    data = Digits(batch_size=32, val_fraction=0.1, test_fraction=0.2, seed=0)
    spec = data.spec
    torch.manual_seed(0)
    net = MLP(spec.in_features, spec.num_classes, depth=2, width=256)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    train, val = data.train_dataloader(), data.val_dataloader()
    best = 0.0
    start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        train.sampler.set_epoch(epoch)
        for x, y in train:
            loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            correct = sum((net(x).argmax(1) == y).sum().item() for x, y in val)
        accuracy = correct / len(val.dataset)
        state = {"net": net.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
        if accuracy > best:
            best = accuracy
            torch.save(state, out / "best.pt")
        torch.save(state, out / "last.pt")
    return time.perf_counter() - start, epochs * len(train)


def through_archtrain(epochs: int, out: Path, extra: list[str] = ()) -> float:
    run = out / "run"
    argv = sys.argv
    try:
        archtrain([*OVERRIDES, *extra, f"trainer.max_epochs={epochs}", f"hydra.run.dir={run}"])
    finally:
        sys.argv = argv
    return json.loads((run / "summary.json").read_text())["durations"]["fit_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra archtrain overrides, e.g. progress_bar=false"
    )
    args = parser.parse_args()
    hand, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        through_archtrain(1, Path(tmp) / "warmup")  # imports and first-call costs
        for i in range(args.repeats):
            seconds, steps = hand_loop(args.epochs, Path(tmp))
            hand.append(seconds)
            ours.append(through_archtrain(args.epochs, Path(tmp) / f"r{i}", args.set))
    h, a = statistics.median(hand), statistics.median(ours)
    print(f"\n{args.epochs} epochs ({steps} steps), median of {args.repeats}, torch threads={torch.get_num_threads()}")
    print(
        f"hand-written loop : {h:6.3f} s  ({1000 * h / steps:.2f} ms/step)  runs: {', '.join(f'{t:.3f}' for t in hand)}"
    )
    print(
        f"archtrain         : {a:6.3f} s  ({1000 * a / steps:.2f} ms/step)  runs: {', '.join(f'{t:.3f}' for t in ours)}"
    )
    print(f"ratio archtrain / hand = {a / h:.3f}  (target <= 1.15)")


if __name__ == "__main__":
    main()
