"""Regression: mean squared error (reported as loss) and mean absolute error."""

import torch.nn.functional as F
from torchmetrics import MeanAbsoluteError, MeanMetric

from archtrain.models.protocol import Head
from archtrain.tasks.base import Task


class Regress(Task):
    requires = ("out_features",)

    @classmethod
    def head(cls, spec):
        return Head(spec.out_features)

    def loss(self, batch):
        x, y = batch
        return F.mse_loss(self.net(x), y)

    def make_metrics(self):
        return {"loss": MeanMetric(), "mae": MeanAbsoluteError()}

    def evaluate(self, batch, metrics):
        x, y = batch
        prediction = self.net(x)
        metrics["loss"].update(F.mse_loss(prediction, y), weight=y.numel())
        metrics["mae"].update(prediction, y)
