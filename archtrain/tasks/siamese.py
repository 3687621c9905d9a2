"""Siamese networks for verification (Bromley et al., 1993; Koch et al., 2015): one encoder embeds both
sides of a pair (or the three of a triplet), a contrastive loss (Hadsell et al., 2006) or a triplet loss
(Schroff et al., 2015) from pytorch-metric-learning pulls same-class embeddings together and pushes
other classes apart. Training sees only the first `train_classes` classes; the rest are held out and
judged by one-shot N-way classification: one example of each of N unseen classes, and a query to match."""

import torch
import torch.nn.functional as F

from archtrain.tasks.self_supervised import Embedder, SelfSupervised, projection_head

CRITERIA = ("contrastive", "triplet")
EPISODES = 500  # one-shot episodes drawn for each evaluation


def one_shot_accuracy(
    embeddings: torch.Tensor, labels: torch.Tensor, ways: int, episodes: int, generator: torch.Generator
) -> float:
    """The share of episodes in which a query is nearest (cosine) to the one support example of its own
    class among `ways` classes; each episode draws its classes, supports and query from `labels`."""
    classes = labels.unique()
    members = [torch.nonzero(labels == c).flatten() for c in classes]
    members = [m for m in members if len(m) >= 2]
    if len(members) < ways:
        return float("nan")
    embeddings, right = F.normalize(embeddings, dim=1), 0
    for _ in range(episodes):
        chosen = torch.randperm(len(members), generator=generator)[:ways]
        picks = [members[c][torch.randperm(len(members[c]), generator=generator)[:2]] for c in chosen.tolist()]
        supports = embeddings[torch.stack([p[0] for p in picks])]
        answer = int(torch.randint(ways, (), generator=generator))
        right += int((supports @ embeddings[picks[answer][1]]).argmax()) == answer
    return right / episodes


class Siamese(SelfSupervised):
    """`criterion`: contrastive (same-class pairs pulled to distance 0, others pushed past `margin`) or
        triplet (an anchor nearer its positive than its negative by `margin`), over every pair or triplet
        of the batch's examples from the training classes, each a view of its example (`views`). Validation
        and test add oneshot_acc: `ways`-way one-shot accuracy on the held-out classes (chance: 1/ways), matched
    by cosine similarity of the net's features (which carry over to unseen classes better than the head's
    embeddings: docs/SELF_SUPERVISED.md)."""

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        criterion: str = "contrastive",
        margin: float = 0.5,
        train_classes: int = 5,
        ways: int = 5,
        embedding_size: int = 64,
        hidden: int = 256,
        probe_every: int = 5,
        views: dict | None = None,
    ):
        super().__init__(net, spec, optim, scheduler, regularization, probe_every, views)
        from pytorch_metric_learning.losses import ContrastiveLoss, TripletMarginLoss

        self.train_classes, self.ways = train_classes, ways
        self.projector = projection_head(net.num_features, hidden, embedding_size)
        self.criterion = (
            ContrastiveLoss(pos_margin=0.0, neg_margin=margin)
            if criterion == "contrastive"
            else TripletMarginLoss(margin=margin)
        )

    @classmethod
    def problems(cls, cfg, spec):
        found = super().problems(cfg, spec)
        task, classes = cfg.task, spec.num_classes or 0
        if task.criterion not in CRITERIA:
            found.append(f"task.criterion={task.criterion}: choose from {', '.join(CRITERIA)}")
        if not 2 <= task.train_classes < classes:
            found.append(
                f"task.train_classes={task.train_classes}: train on at least 2 of data={cfg.data.name}'s "
                f"{classes} classes and hold some out"
            )
        elif not 2 <= task.ways <= classes - task.train_classes:
            found.append(
                f"task.ways={task.ways}: one-shot episodes draw from the {classes - task.train_classes} "
                f"held-out classes; choose 2 to {classes - task.train_classes}"
            )
        return found

    def heads(self):
        return [self.projector]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return Embedder(self.net, self.projector)(x)

    def pretext(self, batch, generator=None):
        x, labels = batch[0], batch[1]
        seen = labels < self.train_classes
        embeddings = self.embed(self.views(x[seen], generator))
        return self.criterion(embeddings, labels[seen]), embeddings

    def representation_scores(self, train, test):
        scores = super().representation_scores(train, test)
        x, labels = test
        unseen = labels >= self.train_classes
        with torch.no_grad():  # the encoder's features: the embedding head specializes to the training classes
            embeddings = self.net.features(x[unseen].to(self.device))
        generator = torch.Generator().manual_seed(self.SCORING_SEED)
        return {
            **scores,
            "oneshot_acc": one_shot_accuracy(embeddings.cpu(), labels[unseen], self.ways, EPISODES, generator),
        }
