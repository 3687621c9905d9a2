"""The divergence guard's cost per step: a training step of a small MLP with and without the guard's
`on_train_batch_end`, on the CPU or a GPU, for this checkout and optionally an older one side by side.

    python benchmarks/guard.py [--device cuda] [--steps 2000] [--every 1 50] [--root OLD_CHECKOUT]

On a GPU a host read of the loss waits for the queued kernels, so reading every step stalls the
pipeline; on the CPU there is nothing to wait for and the figures show only the bookkeeping.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parents[1]


def step_times(device: str, steps: int, every: int | None) -> float:
    """Median over 5 rounds of the seconds per step; `every` None: no guard, 0: the old guard's signature."""
    import torch

    from archtrain.training.callbacks import DivergenceGuard

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3)
    x, y = torch.randn(32, 64, device=device), torch.randint(0, 10, (32,), device=device)
    guard = None if every is None else DivergenceGuard() if every == 0 else DivergenceGuard(read_every=every)
    trainer = SimpleNamespace(global_step=0, current_epoch=0, world_size=1, checkpoint_callbacks=[])
    rounds = []
    for _ in range(5):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for batch_idx in range(steps):
            loss = torch.nn.functional.cross_entropy(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            trainer.global_step += 1
            if guard:
                guard.on_train_batch_end(trainer, net, {"loss": loss}, None, batch_idx)
        if device == "cuda":
            torch.cuda.synchronize()
        rounds.append((time.perf_counter() - start) / steps)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--every", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--root", type=Path, help="an older checkout, whose guard reads every step")
    parser.add_argument("--child", type=json.loads, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        return print(json.dumps(step_times(arguments.device, arguments.steps, **arguments.child)))
    cases = [("no guard", HERE, None)] + [(f"guard, read every {n}", HERE, n) for n in arguments.every]
    if arguments.root:
        cases.append(("older guard (reads every step)", arguments.root.resolve(), 0))
    print(f"{arguments.steps} steps x 5 on {arguments.device}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'case':34s} {'ms/step':>8s} {'vs no guard':>12s}")
    base = None
    for name, root, every in cases:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
        command = [sys.executable, __file__, "--device", arguments.device, "--steps", str(arguments.steps)]
        done = subprocess.run(
            [*command, "--child", json.dumps({"every": every})], env=env, capture_output=True, text=True, check=True
        )
        seconds = float(done.stdout.strip().splitlines()[-1])
        base = base or seconds
        print(f"{name:34s} {1000 * seconds:8.3f} {seconds / base:11.3f}x")


if __name__ == "__main__":
    main()
