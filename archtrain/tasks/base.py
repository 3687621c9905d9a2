"""The shared part of every objective: optimizer, schedule and metric logging."""

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig
from torch import nn

from archtrain.data.spec import DataSpec
from archtrain.training.optim import build_optimizer


class Task(pl.LightningModule):
    """A LightningModule that trains `net` for one objective; subclasses define `loss` and `evaluate`."""

    monitor, mode = "val/loss", "min"       # the metric that picks the best checkpoint

    def __init__(self, net: nn.Module, spec: DataSpec, optim: Any, scheduler: Any = None,
                 weight_decay: float = 0.0):
        super().__init__()
        self.net, self.spec = net, spec
        self.make_optimizer, self.make_scheduler = optim, scheduler
        self.weight_decay = weight_decay

    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, batch: tuple[torch.Tensor, ...], stage: str) -> None:
        """Update and log the `stage` (val or test) metrics for one batch."""
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        self.evaluate(batch, "test")

    def configure_optimizers(self):
        optimizer = build_optimizer(self.make_optimizer, self.net, self.weight_decay)
        if self.make_scheduler is None:
            return optimizer
        scheduler = self.make_scheduler(optimizer, total_steps=int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def write_extras(self, run_dir: Path, cfg: DictConfig) -> list[Path]:
        """Files beyond metrics and checkpoints that this objective writes after testing."""
        return []
