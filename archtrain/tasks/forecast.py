"""Forecasting: mean squared error on standardized values; MAE and RMSE in the series' own units,
beside the persistence baseline (the next values equal the last one seen) on the same windows."""

import torch.nn.functional as F
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError

from archtrain.tasks.base import Task


class Forecast(Task):
    monitor, mode = "val/mae", "min"

    def loss(self, batch):
        past, future = batch
        return F.mse_loss(self.net(past), future)

    def make_metrics(self):
        return {"loss": MeanMetric(), "mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False),
                "persistence_mae": MeanAbsoluteError()}

    def evaluate(self, batch, metrics):
        past, future = batch
        prediction = self.net(past)
        metrics["loss"].update(F.mse_loss(prediction, future), weight=len(future))
        mean, std = self.spec.scale
        truth, guess = future * std + mean, prediction * std + mean
        metrics["mae"].update(guess, truth)
        metrics["rmse"].update(guess, truth)
        metrics["persistence_mae"].update(past[:, -1, :1].expand_as(future) * std + mean, truth)
