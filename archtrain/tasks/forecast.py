"""Forecasting: mean squared error on standardized values; MAE and RMSE in the series' own units,
beside two baselines on the same windows: persistence (the next values equal the last one seen)
and a least-squares autoregression fitted on the training windows."""

import torch
import torch.nn.functional as F
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError

from archtrain.models.protocol import Head
from archtrain.tasks.base import Task


class Forecast(Task):
    monitor, mode = "val/mae", "min"
    requires = ("out_features", "autoregression")

    @classmethod
    def head(cls, spec):
        return Head(spec.out_features)

    def loss(self, batch):
        past, future = batch
        return F.mse_loss(self.net(past), future)

    def make_metrics(self):
        return {
            "loss": MeanMetric(),
            "mae": MeanAbsoluteError(),
            "rmse": MeanSquaredError(squared=False),
            "persistence_mae": MeanAbsoluteError(),
            "ar_mae": MeanAbsoluteError(),
        }

    def evaluate(self, batch, metrics):
        past, future = batch
        prediction = self.net(past)
        metrics["loss"].update(F.mse_loss(prediction, future), weight=len(future))
        mean, std = self.spec.scale
        truth, guess = future * std + mean, prediction * std + mean
        metrics["mae"].update(guess, truth)
        metrics["rmse"].update(guess, truth)
        metrics["persistence_mae"].update(past[:, -1, :1].expand_as(future) * std + mean, truth)
        metrics["ar_mae"].update(autoregressive(past, self.spec.autoregression, future.shape[1]) * std + mean, truth)


def autoregressive(past: torch.Tensor, coefficients: tuple[float, ...], horizon: int) -> torch.Tensor:
    """Forecast `horizon` steps with AR coefficients (one per past step, then the intercept),
    feeding each forecast back in for the next."""
    weights = torch.tensor(coefficients[:-1], dtype=past.dtype, device=past.device)
    history, steps = past[:, :, 0], []
    for _ in range(horizon):
        step = history @ weights + coefficients[-1]
        steps.append(step)
        history = torch.cat([history[:, 1:], step.unsqueeze(1)], dim=1)
    return torch.stack(steps, dim=1)
