"""image_folder against a plain PyTorch DataLoader over the same files: images per second for one
pass over the training split, and the peak memory of each, every side in a fresh process.

    python benchmarks/image_folder.py [--images 2000] [--size 64] [--workers 2] [--batch 32]

A folder of random JPEGs (10 classes) is written to a temporary folder. Sides: archtrain eager (every
image decoded at start, then batches from memory; the time includes the decoding), archtrain lazy
(each batch decoded when read, in `--workers` processes), and a hand-written Dataset (PIL open,
convert, resize, to a tensor) in a DataLoader with the same batch size, workers and shuffling.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIDES = ("archtrain eager", "archtrain lazy", "plain DataLoader")


def write_folder(root: Path, images: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(images):
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (size + i % 7, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.jpg", quality=90)


def archtrain_side(root: Path, size: int, workers: int, batch: int, lazy: bool) -> int:
    from archtrain.data.image_files import ImageFolder

    data = ImageFolder(str(root), size, 3, batch, 0.1, 0.1, lazy=lazy, workers=workers)
    return sum(len(y) for _, y in data.train_dataloader())


def plain_side(root: Path, size: int, workers: int, batch: int) -> int:
    import torch
    from torch.utils.data import DataLoader, Dataset

    class Files(Dataset):
        def __init__(self, files, labels):
            self.files, self.labels = files, labels

        def __len__(self):
            return len(self.files)

        def __getitem__(self, i):
            with Image.open(self.files[i]) as image:
                pixels = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
            return torch.from_numpy(pixels.transpose(2, 0, 1).copy()).float().div_(255), self.labels[i]

    classes = sorted(p.name for p in root.iterdir())
    files = [(path, label) for label, name in enumerate(classes) for path in sorted((root / name).iterdir())]
    train = files[: int(len(files) * 0.8)]
    loader = DataLoader(Files(*zip(*train)), batch_size=batch, shuffle=True, num_workers=workers)
    return sum(len(y) for _, y in loader)


def measure(side: str, root: Path, size: int, workers: int, batch: int) -> None:
    """Run in the child: one pass, then print images/s and the peak RSS of this process and its workers."""
    import resource

    import torch.utils.data  # noqa: F401  imports before the clock starts

    if side != "plain DataLoader":
        import archtrain.data.image_files  # noqa: F401
    start = time.perf_counter()
    if side == "plain DataLoader":
        images = plain_side(root, size, workers, batch)
    else:
        images = archtrain_side(root, size, workers, batch, lazy=side == "archtrain lazy")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"images": images, "seconds": seconds, "peak_mb": peak, "worker_peak_mb": children}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.side:
        return measure(arguments.side, arguments.root, arguments.size, arguments.workers, arguments.batch)
    with tempfile.TemporaryDirectory() as folder:
        write_folder(Path(folder), arguments.images, arguments.size)
        rows = {}
        for side in SIDES:
            command = [
                sys.executable,
                __file__,
                "--side",
                side,
                "--root",
                folder,
                "--size",
                str(arguments.size),
                "--workers",
                str(arguments.workers),
                "--batch",
                str(arguments.batch),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            rows[side] = json.loads(done.stdout.strip().splitlines()[-1])
    plain = rows["plain DataLoader"]["images"] / rows["plain DataLoader"]["seconds"]
    print(
        f"{arguments.images} JPEGs -> {arguments.size}x{arguments.size} RGB, batch {arguments.batch}, "
        f"{arguments.workers} workers; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'side':18s} {'images/s':>9s} {'vs plain':>9s} {'peak RSS':>9s} {'worker peak':>12s}")
    for side, row in rows.items():
        rate = row["images"] / row["seconds"]
        print(f"{side:18s} {rate:9.0f} {rate / plain:8.2f}x {row['peak_mb']:7.0f}MB {row['worker_peak_mb']:10.0f}MB")


if __name__ == "__main__":
    main()
