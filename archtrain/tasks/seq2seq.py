"""Sequence to sequence: teacher-forced cross-entropy; the model's own decoding (greedy, or beam search
where the model has it) scored by exact match up to and including </s>."""

import torch.nn.functional as F
from torchmetrics import MeanMetric

from archtrain.models.protocol import Head
from archtrain.tasks.base import Task


class Seq2Seq(Task):
    monitor, mode = "val/exact", "max"
    requires, cross_entropy = ("vocab_size", "max_len"), True

    @classmethod
    def head(cls, spec):
        return Head(spec.vocab_size, per_step=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad, self.bos = self.spec.special["pad"], self.spec.special["bos"]

    def _cross_entropy(self, logits, targets, label_smoothing: float = 0.0):
        return F.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=self.pad, label_smoothing=label_smoothing
        )

    def loss(self, batch):
        src, tgt_in, tgt_out = batch
        return self._cross_entropy(self.net(src, tgt_in), tgt_out, self.regularization.label_smoothing)

    def make_metrics(self):
        return {"loss": MeanMetric(), "exact": MeanMetric()}

    def evaluate(self, batch, metrics):
        src, tgt_in, tgt_out = batch
        real = tgt_out != self.pad  # the target tokens, </s> included
        metrics["loss"].update(self._cross_entropy(self.net(src, tgt_in), tgt_out), weight=real.sum())
        decoded = self.net.decode(src, self.bos, tgt_out.shape[1])
        metrics["exact"].update(((decoded == tgt_out) | ~real).all(dim=1).float())
