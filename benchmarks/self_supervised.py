"""The figures and pictures of docs/SELF_SUPERVISED.md: self-supervised pretraining through archtrain,
judged by linear probes, kNN, fine-tuning with few labels, collapse and one-shot classification.

    python benchmarks/self_supervised.py [probes] [finetune] [collapse] [mae] [siamese] [digits] [shapes]

(digits, shapes: the data that `probes` covers, both by default; epochs=N: pretraining epochs, 8 by default,
96 for the shapes of `probes`.)

Prints markdown tables and writes PNGs to docs/img/ (runs go to a temporary folder). The sizes below are
those of the docs' figures, on a shared 2-core CPU.
"""

import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from common import per_epoch, train  # noqa: E402

from archtrain.tasks.siamese import EPISODES, one_shot_accuracy  # noqa: E402
from archtrain.verbs.evaluate import probe  # noqa: E402
from archtrain.verbs.runs import load_parts  # noqa: E402

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
ROOT = Path(tempfile.mkdtemp(prefix="ssl-"))
# Narrow: a random wide MLP is already a good digit featurizer (a linear probe on it scores 0.97).
ENCODER = ("model=mlp", "model.depth=1", "model.width=16")
# Each dataset with its encoder: the shapes sit anywhere in the image, a job for convolutions. LeNet-5 with
# ReLUs: the paper's tanh gains on the probe but not on kNN (docs/SELF_SUPERVISED.md).
DATA = {
    "digits": ("data=digits", *ENCODER),
    "shapes": ("data=shapes", "data.samples=1500", "data.image_size=16", "model=lenet5", "model.activation=relu"),
}
EPOCHS = next((int(a.split("=")[1]) for a in sys.argv[1:] if a.startswith("epochs=")), None)
PRETRAIN_EPOCHS = EPOCHS or 8
# The probe table's pretraining (epochs, kNN every N epochs): shapes, 17 steps an epoch, need ~1,600 steps.
PROBE_SCHEDULE = {"digits": (EPOCHS or 8, 1), "shapes": (EPOCHS or 96, 4)}
# Fine-tuning with few labels: the recipe of both sides of each comparison (the same net, labels, epochs and
# optimizer; only the starting weights differ). Cosine decay and weight decay: the few labels need many
# epochs, and the decay keeps the end of a long run from drifting. The optimizer comes with each row: AdamW
# (decoupled decay), or Adam, under which the 0.05 is an L2 penalty.
FEW_LABELS_EPOCHS = 100
FEW_LABELS = (
    "task=classify",
    "data.labelled_fraction=0.1",
    "scheduler=warmup_cosine",
    "scheduler.warmup_steps=30",
    "scheduler.min_lr_ratio=0",
    "regularizer=weight_decay",
    "regularizer.weight_decay.value=0.05",
)
# SimCLR's comparisons: LeNet-5 (tanh) on shapes, where its features beat a random net's by 16 probe points,
# and a one-layer MLP of 128 units on digits (8 times the width of the probe table's).
SIMCLR_SHAPES = ("data=shapes", "data.samples=1500", "data.image_size=16", "model=lenet5")
SIMCLR_DIGITS = ("data=digits", "model=mlp", "model.depth=1", "model.width=128")
# MAE's: a ViT on 28x28 shapes cut into 4x4 patches, 49 of them (12 visible under the 75% mask).
VIT = (
    "data=shapes",
    "data.samples=2000",
    "data.image_size=28",
    "model=vit",
    "model.patch_size=4",
    "model.d_model=64",
    "model.num_layers=4",
)
SEEDS = (0, 1, 2)


def run(name: str, *overrides: str) -> tuple[dict, Path]:
    """One archtrain run in this process; its summary and directory."""
    run_dir = ROOT / name
    return train(run_dir, *overrides), run_dir


def pretrain(
    name: str, data: str, task: str, *extra: str, seed: int = 0, epochs: int = PRETRAIN_EPOCHS
) -> tuple[dict, Path]:
    return run(name, *DATA[data], f"task={task}", f"trainer.max_epochs={epochs}", f"seed={seed}", *extra)


def probes() -> None:
    """Linear probe and kNN of SimCLR, MoCo and BYOL against the same encoder as the seed initialises it;
    the kNN curve during pretraining."""
    print("| data | method | probe acc | random-init probe | gain | kNN acc | random-init kNN | minutes |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for data in [name for name in sys.argv[1:] if name in DATA] or DATA:
        curves = {}
        for task in ("simclr", "moco", "byol"):
            start = time.time()
            epochs, every = PROBE_SCHEDULE[data]
            _, run_dir = pretrain(f"{data}-{task}", data, task, f"task.probe_every={every}", epochs=epochs)
            scores = probe(load_parts(str(run_dir)), "test")
            gain = 100 * (scores["probe_acc"] - scores["random_init_probe_acc"])
            print(
                f"| {data} | {task} | {scores['probe_acc']:.3f} | {scores['random_init_probe_acc']:.3f} | "
                f"{gain:+.1f} | {scores['knn_acc']:.3f} | {scores['random_init_knn_acc']:.3f} | "
                f"{(time.time() - start) / 60:.1f} |",
                flush=True,
            )
            curves[task] = per_epoch(run_dir)["val/knn_acc"].dropna()
        random_knn = probe(load_parts(str(run_dir)), "val")["random_init_knn_acc"]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.axhline(random_knn, color="grey", linestyle="--", label="random init")
        for task, curve in curves.items():
            ax.plot(curve.index + 1, curve.values, marker="o", markersize=3, label=task)
        ax.set(
            xlabel="pretraining epoch", ylabel="val kNN accuracy (k=20, cosine)", title=f"{data}: kNN while pretraining"
        )
        ax.legend()
        fig.tight_layout()
        fig.savefig(IMG / f"ssl_knn_{data}.png", dpi=100)


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def slug(*parts: str) -> str:
    """A run directory's name made of overrides: letters, digits, dots and underscores only."""
    return re.sub(r"[^A-Za-z0-9.]+", "_", "-".join(parts))


def few_labels(
    name: str, net: tuple[str, ...], pretraining: tuple[str, ...], *recipe: str, probe_first: tuple[str, ...] = ()
) -> Path:
    """Per seed: pretrain on every training image (no labels), fine-tune on 10% of the labels, and train the
    same net from scratch on them (FEW_LABELS, then `recipe`, for both); prints the row (mean ± std over
    seeds, and the gain paired by seed) and returns the first seed's pretraining run. The seed draws the
    shapes, the labelled share and the initialization. With `probe_first` (the probe's overrides, e.g. its
    lr), LP-FT: the head alone first learns on the frozen encoder, then the whole net from there; the
    scratch side gets both stages' epochs in one run."""
    accs = {"pretrained": [], "scratch": []}
    runs = []
    recipe = (*FEW_LABELS, *recipe)
    stage = f"trainer.max_epochs={FEW_LABELS_EPOCHS}"
    scratch = f"trainer.max_epochs={(2 if probe_first else 1) * FEW_LABELS_EPOCHS}"
    for seed in SEEDS:
        pretrained = ROOT / slug(*net, *pretraining, str(seed))  # shared by the rows that differ in recipe
        if not (pretrained / "summary.json").is_file():
            run(pretrained.name, *net, *pretraining, "task.probe_every=0", f"seed={seed}")
        runs.append(pretrained)
        start = pretrained
        if probe_first:
            frozen = ("transform=[weights,freeze]", f"transform.weights.path={pretrained}")
            _, start = run(slug(name, "probe", str(seed)), *net, *recipe, stage, *probe_first, f"seed={seed}", *frozen)
        for side, overrides in (
            ("pretrained", (stage, "transform=[weights]", f"transform.weights.path={start}")),
            ("scratch", (scratch,)),
        ):
            summary, _ = run(slug(name, side, str(seed)), *net, *recipe, f"seed={seed}", *overrides)
            accs[side].append(summary["test"]["test/acc"])
    gains = [100 * (a - b) for a, b in zip(accs["pretrained"], accs["scratch"], strict=True)]
    print(
        f"| {name} | {spread(accs['pretrained'])} | {spread(accs['scratch'])} | "
        f"{statistics.mean(gains):+.1f} ± {statistics.stdev(gains):.1f} |",
        flush=True,
    )
    return runs[0]


def table_head() -> None:
    print("| pretraining | fine-tuned from it | from scratch | gain (points, paired by seed) |\n|---|---:|---:|---:|")


def finetune() -> None:
    """SimCLR-pretrained nets fine-tuned with 10% of the labels, against the same nets from scratch (3 seeds)."""
    table_head()
    shapes = ("task=simclr", "trainer.max_epochs=24")
    # Batches of 16: 105 labelled images make 7 steps an epoch (at 64, two: LeNet-5 barely leaves chance).
    # The probe table's shapes setting: the ReLU LeNet-5 pretrained 96 epochs.
    relu = (*SIMCLR_SHAPES, "model.activation=relu")
    long = ("task=simclr", "trainer.max_epochs=96")
    few_labels("SimCLR, shapes, ReLU LeNet-5 (96 epochs), AdamW", relu, long, "optim=adamw", "data.batch_size=16")
    few_labels("SimCLR, shapes, LeNet-5, AdamW", SIMCLR_SHAPES, shapes, "optim=adamw", "data.batch_size=16")
    # Both sides augmented while they learn the 10% (shifts of a pixel, rotations up to 10 degrees), as the
    # SimCLR paper fine-tunes: the later regularizer choice replaces FEW_LABELS', its 0.05 decay stays.
    augmented = ("optim=adamw", "data.batch_size=16", "regularizer=[weight_decay,augment]")
    few_labels("SimCLR, shapes, LeNet-5, AdamW, augmented", SIMCLR_SHAPES, shapes, *augmented)
    few_labels("SimCLR, shapes, ReLU LeNet-5 (96 epochs), AdamW, augmented", relu, long, *augmented)
    few_labels("SimCLR, shapes, LeNet-5, Adam + L2", SIMCLR_SHAPES, shapes, "optim=adam", "data.batch_size=16")
    digits = ("task=simclr", "trainer.max_epochs=8")
    few_labels("SimCLR, digits, MLP 1x128, AdamW", SIMCLR_DIGITS, digits, "optim=adamw")
    # LP-FT: the head first learns on the frozen encoder at lr 3e-2 (at 1e-3 it stays under-trained on SimCLR's
    # small features), then the whole net at the row's rate; the scratch side trains both stages' epochs.
    probe = ("optim.lr=3e-2",)
    for lr in ("1e-3", "3e-4"):
        few_labels(
            f"SimCLR LP-FT (then lr {lr}), shapes, LeNet-5, AdamW",
            SIMCLR_SHAPES,
            shapes,
            "optim=adamw",
            "data.batch_size=16",
            f"optim.lr={lr}",
            probe_first=probe,
        )
        few_labels(
            f"SimCLR LP-FT (then lr {lr}), digits, MLP 1x128, AdamW",
            SIMCLR_DIGITS,
            digits,
            "optim=adamw",
            f"optim.lr={lr}",
            probe_first=probe,
        )


def collapse() -> None:
    """BYOL with and without its predictor: the spread of the normalised embeddings (1/sqrt(64) = 0.125 when
    they fill the sphere, 0 when collapsed) and the kNN accuracy."""
    print("| BYOL | test embedding std | kNN acc | probe acc |\n|---|---:|---:|---:|")
    for predictor in ("true", "false"):
        summary, _ = pretrain(f"byol-predictor-{predictor}", "digits", "byol", f"task.predictor={predictor}")
        test = summary["test"]
        print(
            f"| predictor={predictor} | {test['test/embedding_std']:.4f} | {test['test/knn_acc']:.3f} | "
            f"{test['test/probe_acc']:.3f} |",
            flush=True,
        )


def mae() -> None:
    """A ViT pretrained as a masked autoencoder, fine-tuned with 10% of the shapes' labels, against a ViT from
    scratch (3 seeds); the first seed's reconstructions picture."""
    table_head()
    run_dir = few_labels("MAE", VIT, ("task=mae", "task.norm_pix_loss=true", "trainer.max_epochs=80"), "optim=adamw")
    shutil.copy(run_dir / "reconstructions.png", IMG / "mae_reconstructions.png")


def siamese() -> None:
    """One-shot 5-way classification of the digits 5-9 by a Siamese encoder trained on 0-4 (chance 0.2)."""
    print("| loss | one-shot 5-way acc (held-out classes) | untrained |\n|---|---:|---:|")
    for criterion in ("contrastive", "triplet"):
        trained, run_dir = pretrain(f"siamese-{criterion}", "digits", "siamese", f"task.criterion={criterion}")
        untrained, _ = run(
            f"siamese-{criterion}-untrained",
            *ENCODER,
            "task=siamese",
            f"task.criterion={criterion}",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=1",
            "optim.lr=1e-9",
        )
        accs = [summary["test"]["test/oneshot_acc"] for summary in (trained, untrained)]
        print(f"| {criterion} | {accs[0]:.3f} | {accs[1]:.3f} |", flush=True)
    x, labels = load_parts(str(run_dir)).data.splits["test"]
    unseen = labels >= 5
    pixels = one_shot_accuracy(x[unseen].flatten(1), labels[unseen], 5, EPISODES, torch.Generator().manual_seed(0))
    print(f"| (raw pixels, no network) | {pixels:.3f} | |", flush=True)


if __name__ == "__main__":
    IMG.mkdir(parents=True, exist_ok=True)
    chosen = [part for part in sys.argv[1:] if part not in DATA and "=" not in part] or [
        "probes",
        "finetune",
        "collapse",
        "mae",
        "siamese",
    ]
    for part in chosen:
        print(f"\n## {part}\n", flush=True)
        globals()[part]()
    shutil.rmtree(ROOT, ignore_errors=True)
