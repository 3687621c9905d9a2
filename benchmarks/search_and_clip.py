"""The figures and pictures of docs/FRONTIER.md's architecture search and CLIP sections.

    python benchmarks/search_and_clip.py [darts] [clip] [clip_factors]

darts: a DARTS search on digits, its derived cell trained from scratch (3 seeds) against 3 random cells
of the same shape; clip: CLIP on captioned shapes, zero-shot accuracy on seen and held-out combinations;
clip_factors: what held-out pairs depend on (captions, text encoder, combinations, the image encoder's shape probe).
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
SEVEN_BY_SIX = [  # every colour and shape the data has; one held-out pair per colour
    "data.colours=[red,green,blue,yellow,magenta,cyan,white]",
    "data.shapes=[circle,triangle,square,cross,star,ring]",
    "data.held_out=[red circle,green triangle,blue square,yellow cross,magenta star,cyan ring,white circle]",
]
CLIP_VARIANTS = {  # (overrides, epochs): caption variety, a bag-of-words text encoder, more combinations
    "4x4, full captions, transformer": ([], 30),
    "4x4, varied captions, transformer": (["data.captions=varied"], 30),
    "4x4, varied captions, words": (["data.captions=varied", "model.text_encoder=words"], 30),
    "4x4, full captions, words": (["model.text_encoder=words"], 30),
    "7x6, full captions, transformer": (SEVEN_BY_SIX, 20),
    "7x6, full captions, words": ([*SEVEN_BY_SIX, "model.text_encoder=words"], 20),
    "7x6, varied captions, words": ([*SEVEN_BY_SIX, "data.captions=varied", "model.text_encoder=words"], 20),
}


def shape_probe(run_dir: Path) -> tuple[float, float]:
    """A linear probe (logistic regression) on shape from the image encoder's features, fit on the train
    split (seen pairs): its accuracy on seen and on held-out test pairs."""
    from sklearn.linear_model import LogisticRegression

    parts = load_run(str(run_dir))
    net, splits, shapes = parts.task.net.eval(), parts.data.splits, len(parts.data.shapes)

    def features(images: torch.Tensor):
        with torch.no_grad():
            found = net.image.features(images)
        return (found.mean((2, 3)) if found.ndim == 4 else found).numpy()

    (train_images, _, train_labels), (images, _, labels) = splits["train"], splits["test"]
    probe = LogisticRegression(max_iter=2000).fit(features(train_images), (train_labels % shapes).numpy())
    right = torch.from_numpy(probe.predict(features(images))) == labels % shapes
    unseen = torch.isin(labels, torch.tensor(parts.data.spec.held_out))
    return right[~unseen].float().mean().item(), right[unseen].float().mean().item()


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


def clip_factors() -> None:
    """Held-out pairs against caption variety, the text encoder and the number of combinations, with
    the image side's shape probe (ResNet-18 of width 8)."""
    print(
        "| data, captions, text encoder | epochs | seen pairs | held-out pairs | held out: colour / shape right "
        "| shape probe on image features, seen / held out |\n|---|---|---|---|---|---|"
    )
    for name, (overrides, epochs) in CLIP_VARIANTS.items():
        slug = "clip-" + name.replace(", ", "-").replace(" ", "_")
        summary, run_dir = run(slug, "model=clip", *overrides, f"trainer.max_epochs={epochs}")
        shot, (_, (colour, shape)), probe = (
            summary["zero_shot"],
            colour_and_shape(run_dir).values(),
            shape_probe(run_dir),
        )
        print(
            f"| {name} | {epochs} | {shot['seen_acc']:.3f} | {shot['held_out_acc']:.3f} | {colour:.3f} / {shape:.3f} "
            f"| {probe[0]:.3f} / {probe[1]:.3f} |"
        )


if __name__ == "__main__":
    parts = sys.argv[1:] or ["darts", "clip"]
    for part in parts:
        globals()[part]()
