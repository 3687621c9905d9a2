"""Classification: cross-entropy over classes, accuracy as the key metric."""

import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from archtrain.tasks.base import Task


class Classify(Task):
    monitor, mode = "val/acc", "max"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.accuracy = nn.ModuleDict({stage: MulticlassAccuracy(self.spec.num_classes, average="micro")
                                       for stage in ("val", "test")})

    def loss(self, batch):
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def evaluate(self, batch, stage):
        x, y = batch
        logits = self.net(x)
        self.log(f"{stage}/loss", F.cross_entropy(logits, y), prog_bar=stage == "val")
        self.accuracy[stage](logits, y)
        self.log(f"{stage}/acc", self.accuracy[stage], prog_bar=stage == "val")
