"""The shared machinery of self-supervised objectives (SimCLR, MoCo, BYOL, MAE) and of metric learning
(Siamese networks): any zoo net's `features` is the encoder; an MLP projection head; a momentum (EMA)
copy of encoder and head; random views of a batch; and the judges of a representation, a linear probe
and cosine kNN accuracy on the frozen features, logged every `probe_every` epochs."""

import math

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchmetrics import MeanMetric

from archtrain.models.protocol import Head
from archtrain.tasks.base import SeededScoring, Task
from archtrain.training.probes import embedding_spread, probe_scores
from archtrain.training.views import Views

KNN_NEIGHBOURS = 20


def projection_head(in_features: int, hidden: int, out_features: int, batch_norm: bool = True) -> nn.Sequential:
    """Linear, (batch norm,) ReLU, linear: SimCLR's and BYOL's projector and BYOL's predictor."""
    norm = [nn.BatchNorm1d(hidden)] if batch_norm else []
    return nn.Sequential(nn.Linear(in_features, hidden), *norm, nn.ReLU(), nn.Linear(hidden, out_features))


class Embedder(nn.Module):
    """A net's features through a projection head: what the contrastive losses compare."""

    def __init__(self, net: nn.Module, projector: nn.Module):
        super().__init__()
        self.net, self.projector = net, projector

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.net.features(x))


# The EMA targets' decay at a share `progress` of training, from the base decay `momentum`: constant, or
# BYOL's cosine rise to 1 at the end.
MOMENTUM_SCHEDULES = {
    "constant": lambda momentum, progress: momentum,
    "cosine": lambda momentum, progress: 1 - (1 - momentum) * (math.cos(math.pi * min(progress, 1.0)) + 1) / 2,
}


class MomentumCopy(AveragedModel):
    """A frozen copy of a module that `follow(module, progress)` moves towards it by an exponential moving
    average (MoCo's key encoder, BYOL's target); buffers are averaged too. Its decay is `momentum`
    throughout, or with `schedule="cosine"` rises from `momentum` to 1 over training (BYOL's schedule)."""

    def __init__(self, module: nn.Module, momentum: float, schedule: str = "constant"):
        super().__init__(module, multi_avg_fn=get_ema_multi_avg_fn(momentum), use_buffers=True)
        self.requires_grad_(False)
        self.momentum, self.schedule = momentum, schedule

    def decay(self, progress: float) -> float:
        """The decay at `progress` (0 to 1) of training."""
        return MOMENTUM_SCHEDULES[self.schedule](self.momentum, progress)

    def follow(self, module: nn.Module, progress: float) -> None:
        self.multi_avg_fn = get_ema_multi_avg_fn(self.decay(progress))
        self.update_parameters(module)


class SelfSupervised(SeededScoring, Task):
    """Trains `net` (and the task's own heads) on a pretext loss over views of its inputs; validation and
    test report that loss (on views drawn the same way every epoch), the spread of the normalised
    embeddings (`embedding_std`: near 0 means collapse) and, every `probe_every` epochs and at the test,
    `probe_acc` (a linear probe on the frozen features of the labelled training split) and `knn_acc`
    (cosine, k=20). The net keeps a classifier head sized to the classes, unused here, so that
    `transform=[weights]` starts a classifier from the run."""

    requires = ("num_classes",)  # the probes read labels
    unused_parameters = True  # the classifier head

    @classmethod
    def head(cls, spec):
        return Head(spec.num_classes)

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        probe_every: int = 5,
        views: dict | None = None,
    ):
        super().__init__(net, spec, optim, scheduler, regularization)
        self.probe_every = probe_every
        self.views = Views(**(views or {}), unit_pixels=not spec.standardization)

    def pretext(
        self, batch: tuple[torch.Tensor, ...], generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The pretext loss of a batch and the embeddings it compared (for their spread)."""
        raise NotImplementedError

    def training_progress(self) -> float:
        """The share of the training steps done (0 to 1; 0 throughout when training has no set end): what
        paces a momentum schedule."""
        total = self.trainer.estimated_stepping_batches
        return 0.0 if math.isinf(total) else self.global_step / max(1, total)

    def heads(self) -> list[nn.Module]:
        """The task's trained modules beside the net (projector, predictor, decoder)."""
        return []

    def trained_modules(self) -> nn.Module:
        return nn.ModuleList([self.net, *self.heads()])

    def loss(self, batch):
        return self.pretext(batch)[0]

    def make_metrics(self):
        return {"loss": MeanMetric(), "embedding_std": MeanMetric()}

    def evaluate(self, batch, metrics):
        loss, embeddings = self.pretext(batch, self.scoring_noise)
        metrics["loss"].update(loss, weight=len(batch[0]))
        metrics["embedding_std"].update(embedding_spread(embeddings), weight=len(batch[0]))

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        epoch, last = self.current_epoch, self.current_epoch == self.trainer.max_epochs - 1
        if not self.trainer.sanity_checking and self.probe_every and (epoch % self.probe_every == 0 or last):
            self.log_probes("val")

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self.log_probes("test")

    def log_probes(self, stage: str) -> None:
        """The probes of the frozen features on `stage`'s split, fit on the training split."""
        data = self.trainer.datamodule
        if data is None:  # `archtrain eval` tests on loaders alone; its task=linear_probe probes instead
            return
        for name, value in self.representation_scores(data.splits["train"], data.splits[stage]).items():
            self.log(f"{stage}/{name}", value)

    def representation_scores(self, train: tuple[torch.Tensor, ...], test: tuple[torch.Tensor, ...]) -> dict:
        """probe_acc and knn_acc of the net's features (subclasses add their own judges)."""
        return probe_scores(self.net.features, train, test, self.spec.num_classes, self.device, KNN_NEIGHBOURS)
