"""archtrain against a hand-written PyTorch loop at three step sizes, in one invocation.

    python benchmarks/overhead.py [--repeats 3] [--cases mlp resnet gpt] [--text tinyshakespeare.txt]

Cases: the digits MLP (64-256-256-10, batch 32, ~1.5 ms a step), a ResNet-18 (width 16) on digits,
and nanoGPT's Shakespeare model (4 layers, 128 wide, context 64, batch 12, ~45 ms a step on a
2-core CPU) for a shortened run. Both sides get the same parts: archtrain's `assemble` builds the
data module and the net from the same config, the hand loop builds the same optimizer (parameter
groups, schedule, gradient clipping), runs the same batches keeping the mean training loss,
validates on the same batches after each epoch (loss and accuracy), writes a metrics.csv row,
and saves the net and optimizer when the task's key metric (val/acc, val/loss) improves and at
every epoch end, with torch.save (archtrain's checkpoints are also signed and fsynced).
archtrain runs through its command line in this process (CSV metrics, checkpoints, its
callbacks; no progress bar); its time is `fit` from summary.json (Trainer.fit, validation
included). Repeats alternate the two sides; the table shows medians and their ratio, and the
ratio of each side's fastest run (on a shared machine, the run that other processes slowed least).
"""

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module

from archtrain.assemble import assemble
from archtrain.cli import main as archtrain
from archtrain.hardware import cpu_threads
from archtrain.schema import register
from archtrain.training.schedulers import ScheduleContext

TEXT = next(  # ../shared/data beside the checkout, or above a worktree's folder
    (
        path
        for parent in Path(__file__).resolve().parents[1:4]
        if (path := parent / "shared" / "data" / "tinyshakespeare.txt").is_file()
    ),
    Path("tinyshakespeare.txt"),
)
COMMON = ["progress_bar=false", "seed=0", "hardware.threads=1"]
CASES = {  # name -> (overrides, target ratio)
    "mlp": (
        [
            "model=mlp",
            "data=digits",
            "optim=adam",
            "optim.lr=0.001",
            "data.batch_size=32",
            "model.depth=2",
            "model.width=256",
            "scheduler=none",
            "trainer.max_epochs=20",
        ],
        1.25,
    ),
    "resnet": (["model=resnet", "model.depth=18", "data=digits", "data.batch_size=32", "trainer.max_epochs=2"], 1.03),
    "gpt": (
        [
            "experiment=nanogpt_shakespeare",
            "data.samples_per_epoch=1200",
            "trainer.max_steps=100",
            "trainer.limit_val_batches=20",
            "task.sample_length=0",
        ],
        1.03,
    ),
}


def config(overrides: list[str]):
    register()
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        return compose("config", overrides=overrides)


def hand_loop(overrides: list[str], out: Path) -> tuple[float, int]:
    """The same work as archtrain's run, written out by hand; returns (seconds, steps)."""
    cfg = config(overrides)
    torch.manual_seed(cfg.seed)
    parts = assemble(cfg)
    data, task, net = parts.data, parts.task, parts.net
    reg = task.regularization
    from archtrain.training.optim import build_optimizer

    optimizer = build_optimizer(task.make_optimizer, net, reg.weight_decay, reg.decay_norms_and_biases)
    epochs, max_steps = cfg.trainer.max_epochs, cfg.trainer.max_steps
    train, val = data.train_dataloader(), data.val_dataloader()
    total = min(epochs * len(train), max_steps if max_steps > 0 else 10**9)
    schedule = (
        task.make_scheduler(optimizer, ScheduleContext(total, task.monitor, task.mode))["scheduler"]
        if task.make_scheduler
        else None
    )
    clip = (cfg.regularizer or {}).get("grad_clip")
    val_batches = cfg.trainer.limit_val_batches or len(val)
    language = cfg.task.name == "language_model"

    def scored(x, y):
        logits = net(x)
        return (logits.flatten(0, -2), y.flatten()) if language else (logits, y)

    def validate() -> dict[str, float]:
        net.eval()
        total_loss, correct, count = 0.0, 0, 0
        with torch.no_grad():
            for _, (x, y) in zip(range(val_batches), val):
                logits, targets = scored(x, y)
                total_loss += F.cross_entropy(logits, targets, reduction="sum").item()
                correct += int((logits.argmax(-1) == targets).sum())
                count += len(targets)
        return {"val/loss": total_loss / count, "val/acc": correct / count}

    def save(epoch: int, improved: bool) -> None:
        state = {"net": net.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
        if improved:
            torch.save(state, out / "best.pt")
        torch.save(state, out / "last.pt")

    sign = 1 if task.mode == "max" else -1  # the task's key metric (val/acc, val/loss) picks the best checkpoint

    def fit() -> int:
        best, steps = -float("inf"), 0
        with open(out / "metrics.csv", "w", newline="") as handle:
            log = csv.writer(handle)
            log.writerow(["epoch", "step", "train/loss", "val/loss", "val/acc"])
            for epoch in range(epochs):
                net.train()
                train.sampler.set_epoch(epoch)
                running, batches = torch.zeros(()), 0
                for x, y in train:
                    loss = F.cross_entropy(*scored(x, y))
                    running += loss.detach()
                    batches += 1
                    optimizer.zero_grad()
                    loss.backward()
                    if clip:
                        torch.nn.utils.clip_grad_norm_(net.parameters(), clip.value)
                    optimizer.step()
                    if schedule:
                        schedule.step()
                    steps += 1
                    if steps == total:
                        break
                metrics = validate()
                log.writerow([epoch, steps, running.item() / batches, metrics["val/loss"], metrics["val/acc"]])
                handle.flush()
                improved = sign * metrics[task.monitor] > best
                best = max(best, sign * metrics[task.monitor])
                save(epoch, improved)
                if steps == total:
                    break
        return steps

    start = time.perf_counter()
    steps = fit()
    return time.perf_counter() - start, steps


def through_archtrain(overrides: list[str], out: Path) -> float:
    run = out / f"run-{len(list(out.iterdir()))}"
    argv = sys.argv
    try:
        archtrain([*overrides, f"hydra.run.dir={run}"])
    finally:
        sys.argv = argv
    return json.loads((run / "summary.json").read_text())["durations"]["fit_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--text", type=Path, default=TEXT, help="tinyshakespeare.txt for the gpt case")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases:
            overrides, target = CASES[name]
            overrides = [*COMMON, *overrides] + ([f"data.path={args.text}"] if name == "gpt" else [])
            through_archtrain(overrides, Path(tmp))  # warm-up: imports and first-call costs
            hand, ours = [], []
            for _ in range(args.repeats):
                with cpu_threads(1):  # as hardware.threads=1 gives archtrain
                    seconds, steps = hand_loop(overrides, Path(tmp))
                hand.append(seconds)
                ours.append(through_archtrain(overrides, Path(tmp)))
            rows.append((name, steps, statistics.median(hand), statistics.median(ours), min(ours) / min(hand), target))
    print(
        f"\nmedians of {args.repeats}, alternating; 1 torch thread; load average {__import__('os').getloadavg()[0]:.1f}"
    )
    print("| case | steps | hand loop | ms/step | archtrain | ms/step | ratio | ratio of the fastest runs | target |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, steps, hand, ours, fastest, target in rows:
        print(
            f"| {name} | {steps} | {hand:.2f} s | {1000 * hand / steps:.2f} | {ours:.2f} s | "
            f"{1000 * ours / steps:.2f} | {ours / hand:.3f} | {fastest:.3f} | {target} |"
        )


if __name__ == "__main__":
    main()
