"""The shared part of every objective: optimizer, schedule, epoch-level metrics, and the checks of
combinations that a task cannot train."""

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from torch import nn
from torchmetrics import Metric

from archtrain.data.spec import DataSpec
from archtrain.models.protocol import Head
from archtrain.training.optim import build_optimizer
from archtrain.training.regularizers import Regularization
from archtrain.training.schedulers import ScheduleContext

STAGES = ("val", "test")
# What a DataSpec field says about the data, for the message when a task needs it.
MEANING = {
    "num_classes": "class labels",
    "out_features": "numeric targets",
    "vocab_size": "tokens",
    "autoregression": "a series cut into forecast windows",
    "max_len": "source-target pairs",
    "special": "special tokens ([MASK], [PAD], ...)",
    "prompts": "captions and class prompts",
}


def manual_optimization_problems(cfg: DictConfig) -> list[str]:
    """What a task that steps its own optimizers cannot honour: L-BFGS's closure, accumulation, schedules, L1."""
    name, found = cfg.task.name, []
    if cfg.optim._target_ == "torch.optim.LBFGS":
        found.append(f"optim=lbfgs re-evaluates one loss in a closure; task={name} steps its optimizers on two losses")
    if cfg.trainer.accumulate_grad_batches > 1:
        found.append(
            f"task={name} steps its optimizers itself and cannot accumulate gradients "
            f"(drop regularizer=accumulate or trainer.accumulate_grad_batches)"
        )
    if (cfg.get("scheduler") or {}).get("_target_"):
        found.append(
            f"task={name} steps its optimizers itself and takes no learning-rate schedule (use scheduler=none)"
        )
    if "l1" in (cfg.get("regularizer") or {}):
        found.append(f"regularizer=l1 adds to a single training loss; task={name} has two")
    return found


class RunningMean:
    """A sum and a count kept as plain state: cheap enough to update on every training step."""

    def __init__(self):
        self.total, self.count = None, 0

    def add(self, value: torch.Tensor) -> None:
        self.total = value.detach() if self.total is None else self.total + value.detach()
        self.count += 1

    def pop(self) -> torch.Tensor | None:
        mean = None if self.total is None else self.total / self.count
        self.total, self.count = None, 0
        return mean

    def state(self) -> dict:
        return {"total": self.total, "count": self.count}

    def restore(self, state: dict) -> None:
        self.total, self.count = state.get("total"), state.get("count", 0)


class SeededScoring:
    """A mixin for tasks whose validation and test draw random numbers (the noise a generator starts
    from, the bits a probe flips): `scoring_noise`, a torch RNG reseeded at the start of every
    validation and test, draws the same numbers each epoch, so that scores compare across epochs."""

    SCORING_SEED = 0
    scoring_noise: torch.Generator | None = None

    def on_validation_epoch_start(self) -> None:
        self.reset_scoring_noise()

    def on_test_epoch_start(self) -> None:
        self.reset_scoring_noise()

    def reset_scoring_noise(self) -> None:
        self.scoring_noise = torch.Generator(self.device).manual_seed(self.SCORING_SEED + self.global_rank)


class Task(pl.LightningModule):
    """A LightningModule that trains `net` for one objective.

    Subclasses define `head` (what the net must output), `loss` (training), `make_metrics` and
    `evaluate` (validation and test), and may add `problems` (combinations they cannot train).
    A task that owns several networks or optimizers overrides `training_step` and
    `configure_optimizers` too, with `automatic_optimization = False` where it steps them itself.
    Metrics are logged once per epoch: Lightning's per-step `self.log` costs more than a small
    model's whole training step. Modules of `net` with an `auxiliary_loss()` method (a mixture of
    experts' load balancing) add its value to the training loss; it is logged as train/aux_loss.
    Modules with a `statistics(training)` method (models/statistics.py) have their means logged
    at each epoch's end, and modules with `fit_to_data(x)` are fitted to the training inputs before
    training starts (an RBF network's k-means centres; on resume the checkpoint overwrites them).
    """

    monitor, mode = "val/loss", "min"  # the metric that picks the best checkpoint
    requires: tuple[str, ...] = ()  # the DataSpec fields this objective reads
    cross_entropy = False  # a cross-entropy objective (label smoothing applies)
    unused_parameters = False  # a backward pass leaves some parameters out (DDP must look for them)

    @classmethod
    def head(cls, spec: DataSpec) -> Head | None:
        """What the net must output for this objective on data described by `spec`."""
        return None

    @classmethod
    def problems(cls, cfg: DictConfig, spec: DataSpec) -> list[str]:
        """Why this task cannot train the run that `cfg` describes (empty when it can)."""
        name, data = cfg.task.name, cfg.data
        found = [
            f"task={name} needs data with {MEANING[field]}, and data={data.name} has none"
            for field in cls.requires
            if getattr(spec, field) in (None, (), {})
        ]
        regularizer = cfg.get("regularizer") or {}
        if "label_smoothing" in regularizer and not cls.cross_entropy:
            found.append(f"regularizer=label_smoothing applies to cross-entropy objectives, not {name}")
        found += [
            f"regularizer={key} applies to image classification, not to {name} on {data.modality} data"
            for key in ("mixup", "cutmix", "augment")
            if key in regularizer and not cls.augments(data.modality)
        ]
        return found

    @classmethod
    def augments(cls, modality: str) -> bool:
        """Whether batch augmentation (augment, mixup, cutmix) applies to this task on this modality."""
        return False

    def __init__(
        self,
        net: nn.Module,
        spec: DataSpec,
        optim: Any,
        scheduler: Any = None,
        regularization: Regularization | None = None,
    ):
        super().__init__()
        self.net, self.spec = net, spec
        self.make_optimizer, self.make_scheduler = optim, scheduler
        self.regularization = regularization or Regularization()
        self.train_loss, self.train_aux_loss = RunningMean(), RunningMean()
        self.auxiliary = [module for module in net.modules() if hasattr(module, "auxiliary_loss")]
        self.reporting = [module for module in net.modules() if hasattr(module, "statistics")]
        self.metrics = nn.ModuleDict({stage: nn.ModuleDict(self.make_metrics()) for stage in STAGES})

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets `_current_fx_name` around every hook, dozens of times per step;
        # nn.Module.__setattr__ is 5x slower than a plain set and has nothing to track for a string.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        raise NotImplementedError

    def make_metrics(self) -> dict[str, Metric]:
        """Fresh metric objects for one stage, by name (the logged name is `<stage>/<name>`)."""
        raise NotImplementedError

    def evaluate(self, batch: tuple[torch.Tensor, ...], metrics: nn.ModuleDict) -> None:
        """Update one stage's metrics with a batch."""
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        self.train_loss.add(loss)
        if self.auxiliary:
            auxiliary = sum(module.auxiliary_loss() for module in self.auxiliary)
            self.train_aux_loss.add(auxiliary)
            loss = loss + auxiliary
        if self.regularization.l1:
            loss = loss + self.regularization.l1 * sum(p.abs().sum() for p in self.net.parameters() if p.ndim >= 2)
        return loss

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["train_loss_so_far"] = self.train_loss.state()
        checkpoint["aux_loss_so_far"] = self.train_aux_loss.state()
        if self.spec.vocab:  # token ids (and class indices) mean nothing without it
            checkpoint["vocab"] = list(self.spec.vocab)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.train_loss.restore(checkpoint.get("train_loss_so_far") or {})
        self.train_aux_loss.restore(checkpoint.get("aux_loss_so_far") or {})

    def setup(self, stage: str) -> None:
        if stage == "fit":
            for module in self.net.modules():
                if hasattr(module, "fit_to_data"):
                    module.fit_to_data(self.trainer.datamodule.splits["train"][0].to(self.device))

    def on_train_epoch_end(self) -> None:
        mean, auxiliary = self.train_loss.pop(), self.train_aux_loss.pop()
        if mean is not None:
            self.log("train/loss", mean, prog_bar=True, sync_dist=True)
        if auxiliary is not None:
            self.log("train/aux_loss", auxiliary, sync_dist=True)
        rates = [group["lr"] for optimizer in self.trainer.optimizers for group in optimizer.param_groups]
        if rates:  # the rate the epoch's last step used (a Hopfield net has no optimizer)
            self.log("train/lr", rates[0])
        self._log_statistics("train")

    def _log_statistics(self, stage: str) -> None:
        """The means that the net's reporting modules kept during this stage's epoch."""
        for module in self.reporting:
            for name, value in module.statistics(training=stage == "train").items():
                self.log(f"{stage}/{name}", value, sync_dist=True)

    def validation_step(self, batch, batch_idx):
        self.evaluate(batch, self.metrics["val"])

    def test_step(self, batch, batch_idx):
        self.evaluate(batch, self.metrics["test"])

    def on_validation_epoch_end(self) -> None:
        self._log_stage("val")

    def on_test_epoch_end(self) -> None:
        self._log_stage("test")

    def _log_stage(self, stage: str) -> None:
        metrics = self.metrics[stage]
        self.log_dict(
            {f"{stage}/{name}": metric.compute() for name, metric in metrics.items()}, prog_bar=stage == "val"
        )
        self._log_statistics(stage)
        for metric in metrics.values():
            metric.reset()

    def trained_modules(self) -> nn.Module:
        """What the optimizer trains: the net (tasks with heads of their own add them)."""
        return self.net

    def configure_optimizers(self):
        reg = self.regularization
        optimizer = build_optimizer(
            self.make_optimizer, self.trained_modules(), reg.weight_decay, reg.decay_norms_and_biases
        )
        if self.make_scheduler is None:
            return optimizer
        context = ScheduleContext(int(self.trainer.estimated_stepping_batches), self.monitor, self.mode)
        return {"optimizer": optimizer, "lr_scheduler": self.make_scheduler(optimizer, context)}

    def write_extras(self, run_dir: Path) -> list[Path]:
        """Files beyond metrics and checkpoints that this objective writes after testing."""
        return []

    def test_report(self) -> dict:
        """Figures beyond the logged test metrics that this objective adds to summary.json after testing."""
        return {}
