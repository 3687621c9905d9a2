"""The figures and pictures of docs/FRONTIER.md's architecture search and CLIP sections.

    python benchmarks/search_and_clip.py [darts] [clip]

darts: a DARTS search on digits, its derived cell trained from scratch (3 seeds) against 3 random cells
of the same shape; clip: CLIP on captioned shapes, zero-shot accuracy on seen and held-out combinations.
Prints markdown tables and writes PNGs to docs/img/ (runs go to a temporary folder).
"""

import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from common import train

from archtrain.assemble import load_run
from archtrain.models.darts import random_genotype

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
ROOT = Path(tempfile.mkdtemp(prefix="search-clip-"))
EPOCHS = 10


def run(name: str, *overrides: str) -> tuple[dict, Path]:
    """One archtrain run in this process; its summary and directory."""
    run_dir = ROOT / name
    return train(run_dir, *overrides), run_dir


def darts() -> None:
    search, search_dir = run("search", "model=darts_search", f"trainer.max_epochs={EPOCHS}")
    shutil.copy(search_dir / "cell.png", IMG / "darts_cell.png")
    print(f"search: {search['epochs']} epochs, {search['durations']['fit_s']:.0f} s fit, genotype {search['genotype']}")
    print(f"search net test/acc {search['test']['test/acc']:.3f}, {search['parameters']} parameters\n")
    rows = {"derived (DARTS)": [], "random": []}
    sizes = {"derived (DARTS)": [], "random": []}
    for seed in range(3):
        derived, _ = run(
            f"derived-{seed}",
            "model=darts_cell",
            f"model.genotype={search_dir}",
            f"seed={seed}",
            f"trainer.max_epochs={EPOCHS}",
        )
        rows["derived (DARTS)"].append(derived["test"]["test/acc"])
        sizes["derived (DARTS)"].append(derived["parameters"])
        random, random_dir = run(
            f"random-{seed}",
            "model=darts_cell",
            f"model.genotype_seed={seed}",
            f"seed={seed}",
            f"trainer.max_epochs={EPOCHS}",
        )
        rows["random"].append(random["test"]["test/acc"])
        sizes["random"].append(random["parameters"])
        print(f"random cell {seed}: {random_genotype(3, seed)}")
    print("| cell | test acc (mean of 3) | each | parameters |\n|---|---|---|---|")
    for name, accs in rows.items():
        each = ", ".join(f"{a:.3f}" for a in accs)
        print(f"| {name} | {statistics.mean(accs):.3f} | {each} | {', '.join(map(str, sizes[name]))} |")


CLIP_ENCODERS = {
    "resnet": [],  # the config's ResNet-18 of width 8
    "vit": [
        "model.image_encoder=vit",
        "~model.image_encoder_options",
        "+model.image_encoder_options.d_model=32",
        "+model.image_encoder_options.num_layers=2",
        "+model.image_encoder_options.patch_size=4",
    ],
}
CLIP_EPOCHS = 30


def colour_and_shape(run_dir: Path) -> dict[str, tuple[float, float]]:
    """On seen and held-out test pairs: how often the zero-shot pick has the right colour, and the right shape."""
    parts = load_run(str(run_dir))
    data, task = parts.data, parts.task
    images, _, labels = data.splits["test"]
    with torch.no_grad():
        picked = torch.cat([task.zero_shot(images[i : i + 256]).argmax(-1) for i in range(0, len(images), 256)])
    shapes, unseen = len(data.shapes), torch.isin(labels, torch.tensor(data.spec.held_out))
    return {
        name: (
            (picked[mask] // shapes == labels[mask] // shapes).float().mean().item(),
            (picked[mask] % shapes == labels[mask] % shapes).float().mean().item(),
        )
        for name, mask in (("seen", ~unseen), ("held out", unseen))
    }


def clip() -> None:
    print(
        "| image encoder | parameters | zero-shot acc, seen pairs | held-out pairs | colour right, seen / held out "
        "| shape right, seen / held out | fit s |\n|---|---|---|---|---|---|---|"
    )
    for name, overrides in CLIP_ENCODERS.items():
        summary, run_dir = run(f"clip-{name}", "model=clip", *overrides, f"trainer.max_epochs={CLIP_EPOCHS}")
        shot, parts = summary["zero_shot"], colour_and_shape(run_dir)
        (seen_colour, seen_shape), (held_colour, held_shape) = parts["seen"], parts["held out"]
        print(
            f"| {name} | {summary['parameters']:,} | {shot['seen_acc']:.3f} | {shot['held_out_acc']:.3f} "
            f"| {seen_colour:.3f} / {held_colour:.3f} | {seen_shape:.3f} / {held_shape:.3f} "
            f"| {summary['durations']['fit_s']:.0f} |"
        )
        shutil.copy(run_dir / "similarity.png", IMG / f"clip_similarity_{name}.png")
    print(f"held out: {shot['held_out_classes']}; chance 1/16 = 0.0625")


if __name__ == "__main__":
    parts = sys.argv[1:] or ["darts", "clip"]
    for part in parts:
        globals()[part]()
