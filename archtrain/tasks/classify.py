"""Classification: cross-entropy over classes, accuracy as the key metric; after testing, precision,
recall and F1 by class and the confusion matrix."""

from pathlib import Path

import torch.nn.functional as F
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from archtrain.models.protocol import Head
from archtrain.report.classes import plot_confusion, write_per_class
from archtrain.tasks.base import Task

SUMMARY_CLASSES = 50  # summary.json lists the per-class figures up to this many classes (per_class.csv always)


class Classify(Task):
    monitor, mode = "val/acc", "max"
    requires, cross_entropy = ("num_classes",), True

    def __init__(self, net, spec, optim, scheduler=None, regularization=None):
        super().__init__(net, spec, optim, scheduler, regularization)
        classes = spec.num_classes
        self.by_class = MetricCollection(
            {
                "precision": MulticlassPrecision(classes, average=None),
                "recall": MulticlassRecall(classes, average=None),
                "f1": MulticlassF1Score(classes, average=None),
                "confusion": MulticlassConfusionMatrix(classes),
            }
        )
        self.class_results: dict | None = None  # the last test's, for write_extras and test_report

    @classmethod
    def head(cls, spec):
        return Head(spec.num_classes)

    @classmethod
    def augments(cls, modality):
        return modality == "image"

    def scored(self, batch):
        """The logits and the class labels of the examples a batch scores (graph tasks pick nodes or graphs)."""
        x, y = batch
        return self.net(x), y

    def loss(self, batch):
        reg = self.regularization
        if not (reg.augment or reg.mix):
            logits, y = self.scored(batch)
            return F.cross_entropy(logits, y, label_smoothing=reg.label_smoothing)
        x, y = batch
        if reg.augment:
            x = reg.augment(x)
        if reg.mix:
            x, y, partner, weight = reg.mix(x, y)
            logits = self.net(x)
            return weight * F.cross_entropy(logits, y, label_smoothing=reg.label_smoothing) + (
                1 - weight
            ) * F.cross_entropy(logits, partner, label_smoothing=reg.label_smoothing)
        return F.cross_entropy(self.net(x), y, label_smoothing=reg.label_smoothing)

    def make_metrics(self):
        return {"loss": MeanMetric(), "acc": MulticlassAccuracy(self.spec.num_classes, average="micro")}

    def evaluate(self, batch, metrics):
        logits, y = self.scored(batch)
        metrics["loss"].update(F.cross_entropy(logits, y), weight=len(y))
        metrics["acc"].update(logits, y)
        return logits, y

    def test_step(self, batch, batch_idx):
        self.by_class.update(*self.evaluate(batch, self.metrics["test"]))

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        results = {name: value.cpu() for name, value in self.by_class.compute().items()}
        self.by_class.reset()
        self.class_results = results

    def class_names(self) -> list[str]:
        """The data's class names where its vocabulary is one (image folders, digits), else the indices."""
        vocab, count = self.spec.vocab, self.spec.num_classes
        return (
            [str(name) for name in vocab]
            if len(vocab) == count and not self.spec.vocab_size
            else [str(i) for i in range(count)]
        )

    def per_class(self) -> dict | None:
        if self.class_results is None:
            return None
        results = self.class_results
        return {
            "classes": self.class_names(),
            "support": results["confusion"].sum(1).tolist(),
            **{name: [round(v, 4) for v in results[name].tolist()] for name in ("precision", "recall", "f1")},
        }

    def write_extras(self, run_dir: Path) -> list[Path]:
        report = self.per_class()
        if report is None:
            return []
        return [
            write_per_class(report, run_dir / "per_class.csv"),
            plot_confusion(
                self.class_results["confusion"],
                report["classes"],
                run_dir / "confusion_matrix.png",
                f"test confusion matrix ({sum(report['support'])} examples)",
            ),
        ]

    def test_report(self) -> dict:
        report = self.per_class()
        return {"per_class": report} if report and len(report["classes"]) <= SUMMARY_CLASSES else {}
