"""BYOL (Grill et al., 2020): the online network (net, projector, predictor) predicts the target
network's projection of another view of the same example; the target is an exponential moving
average of the online net and projector. No negatives: the predictor and the slow target keep the
representation from collapsing to a constant (with `predictor: false` it collapses; docs/SELF_SUPERVISED.md)."""

import torch
import torch.nn.functional as F
from torch import nn

from archtrain.tasks.self_supervised import Embedder, MomentumCopy, SelfSupervised, projection_head


def prediction_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """2 - 2 cos(prediction, target) per pair (the squared distance of the normalised vectors), averaged."""
    return (2 - 2 * F.cosine_similarity(predictions, targets.detach(), dim=1)).mean()


class BYOL(SelfSupervised):
    """The symmetric loss: each view's online prediction against the target's projection of the other view.
    The target follows the online weights with decay `target_momentum` after every training step."""

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        target_momentum: float = 0.99,
        momentum_schedule: str = "constant",
        predictor: bool = True,
        hidden: int = 256,
        projection: int = 64,
        probe_every: int = 5,
        views: dict | None = None,
    ):
        super().__init__(net, spec, optim, scheduler, regularization, probe_every, views)
        self.projector = projection_head(net.num_features, hidden, projection)
        self.predictor = projection_head(projection, hidden, projection) if predictor else nn.Identity()
        self.target = MomentumCopy(Embedder(net, self.projector), target_momentum, momentum_schedule)

    def heads(self):
        return [self.projector, self.predictor]

    def pretext(self, batch, generator=None):
        first, second = self.views.pair(batch[0], generator)
        both = torch.cat([first, second])
        projections = Embedder(self.net, self.projector)(both)
        predictions = self.predictor(projections)
        with torch.no_grad():
            targets = self.target(both).roll(len(first), dims=0)  # each view faces the other view's target
        return prediction_loss(predictions, targets), projections

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self.target.follow(Embedder(self.net, self.projector), self.training_progress())
