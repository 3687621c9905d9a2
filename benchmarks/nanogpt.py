"""nanoGPT's CPU recipe on tinyshakespeare: archtrain against nanoGPT itself, side by side.

    python benchmarks/nanogpt.py [--text tinyshakespeare.txt] [--nanogpt DIR] [--iters 2000]
                                 [--repeats 1] [--threads N] [--root DIR] [-- OVERRIDE ...]

archtrain runs `archtrain experiment=nanogpt_shakespeare data.path=...` as a user would, in a fresh
process; its figures are the final validation loss (over the whole validation split) and the wall
time of the whole command (start-up, data, training, validation). With `--nanogpt DIR` (a nanoGPT
checkout) the script prepares nanoGPT's shakespeare_char data from the same text
(data/shakespeare_char/prepare.py on a copy of it, no download) and runs nanoGPT's README command
for the CPU (`train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
--block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --dropout=0.0`), alternating the
two, and prints both validation losses (nanoGPT's is its estimate over 20 batches at the last step),
both wall times and their ratio. `--iters` shortens both runs alike (a mechanics check on a busy
machine); `--threads` sets OMP_NUM_THREADS for both (default: each picks its own). `--root` runs
another archtrain checkout too (e.g. an older commit from `git archive`), in turn with the others,
for a before/after; overrides after `--` go to archtrain (e.g. `hardware.compile=true`). Without
`--nanogpt` the reference is nanoGPT's recorded figure: val loss 1.886 in 97.4 s on a quiet
2-core machine (2 threads).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
RECORDED = {"val_loss": 1.886, "seconds": 97.4}
TEXT = next(  # ../shared/data beside the checkout, or above a worktree's folder
    (
        path
        for parent in Path(__file__).resolve().parents[1:4]
        if (path := parent / "shared" / "data" / "tinyshakespeare.txt").is_file()
    ),
    Path("tinyshakespeare.txt"),
)
NANOGPT_CPU = [
    "config/train_shakespeare_char.py",
    "--device=cpu",
    "--compile=False",
    "--eval_iters=20",
    "--log_interval=50",
    "--block_size=64",
    "--batch_size=12",
    "--n_layer=4",
    "--n_head=4",
    "--n_embd=128",
    "--dropout=0.0",
]


def run_archtrain(text: Path, iters: int, env: dict, root: Path | None = None, overrides: tuple = ()) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        shortened = [] if iters == 2000 else [f"trainer.max_steps={iters}", f"data.samples_per_epoch={12 * iters}"]
        command = [
            sys.executable,
            "-m",
            "archtrain",
            "experiment=nanogpt_shakespeare",
            f"data.path={text}",
            "progress_bar=false",
            *shortened,
            *overrides,
            f"hydra.run.dir={run}",
        ]
        root_path = os.pathsep.join([str(root or HERE), env.get("PYTHONPATH", "")])  # not the working folder's
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=tmp, env={**env, "PYTHONPATH": root_path})
        seconds = time.perf_counter() - start
        summary = json.loads((run / "summary.json").read_text())
    return {"val_loss": summary["final"]["val/loss"], "seconds": seconds, "threads": summary["hardware"]["cpu_threads"]}


def prepare_nanogpt(folder: Path, text: Path) -> None:
    """nanoGPT's character data from `text` (its prepare.py reads input.txt when it is there)."""
    data = folder / "data" / "shakespeare_char"
    if not (data / "train.bin").is_file():
        shutil.copy(text, data / "input.txt")
        subprocess.run([sys.executable, "prepare.py"], cwd=data, check=True, stdout=subprocess.DEVNULL)


def run_nanogpt(folder: Path, iters: int, env: dict) -> dict:
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable,
            "train.py",
            *NANOGPT_CPU,
            f"--max_iters={iters}",
            f"--lr_decay_iters={iters}",
            f"--eval_interval={min(250, iters)}",
            f"--out_dir={out}",
        ]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=folder, check=True, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
    losses = re.findall(r"val loss ([0-9.]+)", done.stdout)
    return {"val_loss": float(losses[-1]), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", type=Path, default=TEXT)
    parser.add_argument("--nanogpt", type=Path, help="a nanoGPT checkout to run side by side")
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for both sides")
    parser.add_argument("--root", type=Path, help="another archtrain checkout to run in turn (before/after)")
    parser.add_argument("overrides", nargs="*", help="archtrain overrides")
    args = parser.parse_args()
    if not args.text.is_file():
        raise SystemExit(f"no corpus at {args.text}: pass --text path/to/tinyshakespeare.txt")
    env = {**os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {})}
    if args.nanogpt:
        prepare_nanogpt(args.nanogpt, args.text)
    ours, theirs, other = [], [], []
    for _ in range(args.repeats):  # alternating, so that both see the same load
        if args.nanogpt:
            theirs.append(run_nanogpt(args.nanogpt, args.iters, env))
        ours.append(run_archtrain(args.text.resolve(), args.iters, env, overrides=tuple(args.overrides)))
        if args.root:
            other.append(
                run_archtrain(args.text.resolve(), args.iters, env, args.root.resolve(), tuple(args.overrides))
            )
    load = os.getloadavg()[0]
    print(
        f"\n{args.iters} iterations, {args.repeats} run(s) each (medians), OMP_NUM_THREADS="
        f"{args.threads or 'unset'}; {os.cpu_count()} CPUs, load average {load:.1f}"
    )
    print("| run | val loss | wall time |")
    print("|---|---:|---:|")
    reference = {key: statistics.median(r[key] for r in theirs) for key in ("val_loss", "seconds")} if theirs else None
    if reference:
        print(f"| nanoGPT ({args.nanogpt}) | {reference['val_loss']:.3f} | {reference['seconds']:.1f} s |")
    else:
        reference = RECORDED
        print(f"| nanoGPT (recorded, quiet machine) | {RECORDED['val_loss']:.3f} | {RECORDED['seconds']:.1f} s |")
    if other:
        old = {key: statistics.median(r[key] for r in other) for key in ("val_loss", "seconds")}
        label = f"archtrain at {args.root} ({other[0]['threads']} thread(s))"
        print(f"| {label} | {old['val_loss']:.3f} | {old['seconds']:.1f} s |")
    mine = {key: statistics.median(r[key] for r in ours) for key in ("val_loss", "seconds")}
    print(f"| archtrain ({ours[0]['threads']} thread(s)) | {mine['val_loss']:.3f} | {mine['seconds']:.1f} s |")
    print(
        f"\nwall-time ratio archtrain / nanoGPT = {mine['seconds'] / reference['seconds']:.3f} (target <= 0.9, "
        f"val loss at or below nanoGPT's: {'yes' if mine['val_loss'] <= reference['val_loss'] else 'no'})"
    )


if __name__ == "__main__":
    main()
