"""Sequence to sequence: teacher-forced cross-entropy; greedy decoding scored by exact match."""

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

from archtrain.tasks.base import Task


class Seq2Seq(Task):
    monitor, mode = "val/exact", "max"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad, self.bos = self.spec.special["pad"], self.spec.special["bos"]
        self.exact = nn.ModuleDict({stage: MeanMetric() for stage in ("val", "test")})

    def _cross_entropy(self, logits, targets):
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=self.pad)

    def loss(self, batch):
        src, tgt_in, tgt_out = batch
        return self._cross_entropy(self.net(src, tgt_in), tgt_out)

    def evaluate(self, batch, stage):
        src, tgt_in, tgt_out = batch
        self.log(f"{stage}/loss", self._cross_entropy(self.net(src, tgt_in), tgt_out), prog_bar=stage == "val")
        decoded = self.net.generate(src, self.bos, tgt_out.shape[1])
        real = tgt_out != self.pad                  # the target tokens, </s> included
        exact = ((decoded == tgt_out) | ~real).all(dim=1).float()
        self.exact[stage](exact)
        self.log(f"{stage}/exact", self.exact[stage], prog_bar=stage == "val")
