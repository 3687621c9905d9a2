"""Classification: cross-entropy over classes, accuracy as the key metric."""

import torch.nn.functional as F
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from archtrain.models.protocol import Head
from archtrain.tasks.base import Task


class Classify(Task):
    monitor, mode = "val/acc", "max"
    requires, cross_entropy = ("num_classes",), True

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
            return (weight * F.cross_entropy(logits, y, label_smoothing=reg.label_smoothing)
                    + (1 - weight) * F.cross_entropy(logits, partner, label_smoothing=reg.label_smoothing))
        return F.cross_entropy(self.net(x), y, label_smoothing=reg.label_smoothing)

    def make_metrics(self):
        return {"loss": MeanMetric(), "acc": MulticlassAccuracy(self.spec.num_classes, average="micro")}

    def evaluate(self, batch, metrics):
        logits, y = self.scored(batch)
        metrics["loss"].update(F.cross_entropy(logits, y), weight=len(y))
        metrics["acc"].update(logits, y)
