"""A label for every position of a sequence: cross-entropy at each step, token accuracy, and the
share of sequences labelled without a single mistake."""

import torch.nn.functional as F
from torchmetrics import MeanMetric

from archtrain.models.protocol import Head
from archtrain.tasks.base import Task


class Tagging(Task):
    monitor, mode = "val/loss", "min"
    requires, cross_entropy = ("vocab_size",), True

    @classmethod
    def head(cls, spec):
        return Head(spec.vocab_size, per_step=True)

    def loss(self, batch, label_smoothing: float | None = None):
        ids, targets = batch
        smoothing = self.regularization.label_smoothing if label_smoothing is None else label_smoothing
        return F.cross_entropy(self.net(ids).flatten(0, 1), targets.flatten(), label_smoothing=smoothing)

    def make_metrics(self):
        return {"loss": MeanMetric(), "acc": MeanMetric(), "exact": MeanMetric()}

    def evaluate(self, batch, metrics):
        ids, targets = batch
        logits = self.net(ids)
        metrics["loss"].update(F.cross_entropy(logits.flatten(0, 1), targets.flatten()), weight=targets.numel())
        correct = logits.argmax(-1) == targets
        metrics["acc"].update(correct.float().mean(), weight=targets.numel())
        metrics["exact"].update(correct.all(dim=1).float())
