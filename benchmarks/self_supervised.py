"""The figures and pictures of docs/SELF_SUPERVISED.md: self-supervised pretraining through archtrain,
judged by linear probes, kNN, fine-tuning with few labels, collapse and one-shot classification.

    python benchmarks/self_supervised.py [probes] [finetune] [collapse] [mae] [siamese] [digits] [shapes]

(digits, shapes: the data that `probes` covers, both by default; epochs=N: pretraining epochs, 8 by default,
96 for the shapes of `probes`.)

Prints markdown tables and writes PNGs to docs/img/ (runs go to a temporary folder). The sizes below are
those of the docs' figures, on a shared 2-core CPU.
"""

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
FINETUNE_EPOCHS = {0.01: 300, 0.1: 150}  # about 300 and 600 steps: the few labels need many epochs
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


def fine_tune(name: str, fraction: float, seed: int, *start: str) -> float:
    summary, _ = run(
        name,
        *ENCODER,
        "task=classify",
        f"data.labelled_fraction={fraction}",
        f"trainer.max_epochs={FINETUNE_EPOCHS[fraction]}",
        f"seed={seed}",
        *start,
    )
    return summary["test"]["test/acc"]


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def finetune() -> None:
    """SimCLR-pretrained (on every training image, no labels) then fine-tuned with 1% and 10% of the labels,
    against the same encoder trained from scratch on those labels: mean ± std over 3 seeds."""
    print("| labels | from SimCLR | from scratch |\n|---|---:|---:|")
    starts = {}
    for seed in SEEDS:
        _, run_dir = pretrain(f"ft-simclr-{seed}", "digits", "simclr", "task.probe_every=0", seed=seed)
        starts[seed] = ("transform=[weights]", f"transform.weights.path={run_dir}")
    for fraction in (0.01, 0.1):
        pretrained = [fine_tune(f"ft-{fraction}-pre-{seed}", fraction, seed, *starts[seed]) for seed in SEEDS]
        scratch = [fine_tune(f"ft-{fraction}-scratch-{seed}", fraction, seed) for seed in SEEDS]
        print(f"| {fraction:.0%} | {spread(pretrained)} | {spread(scratch)} |", flush=True)


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
    """A ViT pretrained as a masked autoencoder, fine-tuned with 10% of the labels, against a ViT from scratch."""
    vit = ("model=vit", "model.d_model=32", "model.num_layers=2")
    _, run_dir = run("mae", *vit, "task=mae", "task.decoder_dim=32", f"trainer.max_epochs={3 * PRETRAIN_EPOCHS}")
    shutil.copy(run_dir / "reconstructions.png", IMG / "mae_reconstructions.png")
    print("| ViT, 10% of digit labels | test acc (mean ± std, 3 seeds) |\n|---|---:|")
    for label, start in (("from MAE", ("transform=[weights]", f"transform.weights.path={run_dir}")), ("scratch", ())):
        accs = []
        for seed in SEEDS:
            summary, _ = run(
                f"mae-ft-{label}-{seed}",
                *vit,
                "task=classify",
                "data.labelled_fraction=0.1",
                f"trainer.max_epochs={FINETUNE_EPOCHS[0.1]}",
                f"seed={seed}",
                *start,
            )
            accs.append(summary["test"]["test/acc"])
        print(f"| {label} | {spread(accs)} |", flush=True)


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
