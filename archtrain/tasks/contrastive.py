"""Contrastive self-supervised learning: two views of an example are pulled together and pushed away
from other examples. SimCLR (Chen et al., 2020) contrasts the other examples of the batch (NT-Xent,
from pytorch-metric-learning); MoCo v2 (He et al., 2020; Chen et al., 2020) contrasts a queue of keys
from a momentum encoder, so negatives need not come from one large batch."""

import torch
import torch.nn.functional as F

from archtrain.tasks.self_supervised import Embedder, MomentumCopy, SelfSupervised, projection_head


class SimCLR(SelfSupervised):
    """NT-Xent over the 2n projections of two views of n examples: each view's partner is its positive,
    the other 2n - 2 its negatives, similarities divided by `temperature`."""

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        temperature: float = 0.2,
        hidden: int = 256,
        projection: int = 64,
        probe_every: int = 5,
        views: dict | None = None,
    ):
        super().__init__(net, spec, optim, scheduler, regularization, probe_every, views)
        from pytorch_metric_learning.losses import NTXentLoss

        self.projector = projection_head(net.num_features, hidden, projection)
        self.criterion = NTXentLoss(temperature=temperature)

    def heads(self):
        return [self.projector]

    def pretext(self, batch, generator=None):
        first, second = self.views.pair(batch[0], generator)
        embeddings = Embedder(self.net, self.projector)(torch.cat([first, second]))
        pairs = torch.arange(len(first), device=first.device).repeat(2)  # a view and its partner share a label
        return self.criterion(embeddings, pairs), embeddings


class MoCo(SelfSupervised):
    """InfoNCE of each query (one view through the net and an MLP head) against its key (the other view
    through the momentum encoder, an EMA of net and head with decay `target_momentum`) and against
    `queue_size` keys of earlier batches; each training batch's keys then replace the oldest in the queue."""

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        temperature: float = 0.2,
        queue_size: int = 1024,
        target_momentum: float = 0.99,
        momentum_schedule: str = "constant",
        hidden: int = 256,
        projection: int = 64,
        probe_every: int = 5,
        views: dict | None = None,
    ):
        super().__init__(net, spec, optim, scheduler, regularization, probe_every, views)
        self.temperature = temperature
        self.projector = projection_head(net.num_features, hidden, projection, batch_norm=False)
        self.key_encoder = MomentumCopy(Embedder(net, self.projector), target_momentum, momentum_schedule)
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, projection), dim=1))
        self.register_buffer("queue_start", torch.zeros((), dtype=torch.long))
        self.new_keys: torch.Tensor | None = None

    def heads(self):
        return [self.projector]

    def pretext(self, batch, generator=None):
        first, second = self.views.pair(batch[0], generator)
        queries = F.normalize(Embedder(self.net, self.projector)(first), dim=1)
        with torch.no_grad():
            keys = F.normalize(self.key_encoder(second), dim=1)
        logits = torch.cat([(queries * keys).sum(1, keepdim=True), queries @ self.queue.T], 1) / self.temperature
        if self.training:
            self.new_keys = keys
        return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device)), queries

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self.key_encoder.follow(Embedder(self.net, self.projector), self.training_progress())
        self.enqueue(self.new_keys)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write `keys` over the oldest entries of the queue (a ring buffer)."""
        size = len(self.queue)
        keys = keys[-size:]
        slots = (self.queue_start + torch.arange(len(keys), device=keys.device)) % size
        self.queue[slots] = keys.to(self.queue.dtype)
        self.queue_start.copy_((self.queue_start + len(keys)) % size)
