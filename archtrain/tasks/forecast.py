"""Forecasting: mean squared error on standardized values; MAE and RMSE in the series' own units,
beside the persistence baseline (tomorrow equals today) on the same windows."""

import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError

from archtrain.tasks.base import Task


class Forecast(Task):
    monitor, mode = "val/mae", "min"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.errors = nn.ModuleDict({
            f"{stage}_{name}": metric()
            for stage in ("val", "test")
            for name, metric in (("mae", MeanAbsoluteError), ("persistence_mae", MeanAbsoluteError),
                                 ("rmse", lambda: MeanSquaredError(squared=False)))
        })

    def loss(self, batch):
        past, future = batch
        return F.mse_loss(self.net(past), future)

    def evaluate(self, batch, stage):
        past, future = batch
        prediction = self.net(past)
        self.log(f"{stage}/loss", F.mse_loss(prediction, future), prog_bar=stage == "val")
        mean, std = self.spec.scale
        truth = future * std + mean
        persistence = past[:, -1, :1].expand_as(future) * std + mean
        for name, guess in (("mae", prediction * std + mean), ("rmse", prediction * std + mean),
                            ("persistence_mae", persistence)):
            metric = self.errors[f"{stage}_{name}"]
            metric(guess, truth)
            self.log(f"{stage}/{name}", metric, prog_bar=stage == "val" and name == "mae")
