"""A classifier's test results by class: per_class.csv and the confusion matrix as a picture."""

import csv
import warnings
from pathlib import Path

import torch
from torchmetrics.classification import MulticlassConfusionMatrix

MEASURES = ("precision", "recall", "f1")
ANNOTATED = 20  # classes up to which each cell of the matrix shows its count


def write_per_class(report: dict, path: Path) -> Path:
    """One row per class: its name, precision, recall, F1 and support (test examples of the class)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("class", *MEASURES, "support"))
        for i, name in enumerate(report["classes"]):
            writer.writerow((name, *(f"{report[m][i]:.6g}" for m in MEASURES), report["support"][i]))
    return path


def plot_confusion(confusion: torch.Tensor, classes: list[str], path: Path, title: str) -> Path:
    """torchmetrics' confusion-matrix plot: rows are true classes, columns predicted ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = min(4 + 0.45 * len(classes), 16)
    figure, ax = plt.subplots(figsize=(size, size))
    with warnings.catch_warnings():  # torchmetrics hands matplotlib a tensor, which numpy 2 warns about
        warnings.filterwarnings(
            "ignore", message=r"__array__ implementation doesn't accept a copy keyword", category=DeprecationWarning
        )
        MulticlassConfusionMatrix(len(classes)).plot(
            confusion, ax=ax, labels=classes, add_text=len(classes) <= ANNOTATED
        )
    ax.set_title(title)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
