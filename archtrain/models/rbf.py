"""Radial basis function network (Broomhead & Lowe, 1988; Moody & Darken, 1989)."""

import torch
from sklearn.cluster import KMeans
from torch import nn

from archtrain.models.protocol import Network


class RBFNetwork(Network):
    """Gaussian units exp(-|x - c|^2 / (2 s^2)) read by a linear head. Before training the centres c are
    set to k-means cluster centres of the training inputs and each width s to the distance from its
    centre to the nearest other one (Moody & Darken's heuristic); then centres and widths learn with
    the head. Inputs of any shape are flattened."""

    SEED = 0  # k-means' random state and the jitter's

    def __init__(self, in_features: int, num_classes: int, centres: int = 16, width: float = 1.0):
        super().__init__()
        self.centres = nn.Parameter(torch.randn(centres, in_features))
        self.log_widths = nn.Parameter(torch.full((centres,), float(width)).log())
        self.head = nn.Linear(centres, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # the squared distances summed by hand: ONNX has no conversion of torch.cdist
        squared = (x.flatten(1)[:, None] - self.centres).square().sum(-1)
        return torch.exp(-squared / (2 * self.log_widths.exp().square()))

    @torch.no_grad()
    def fit_to_data(self, x: torch.Tensor) -> None:
        """Centres by k-means on the inputs `x` (repeated with a little jitter where there are fewer
        distinct inputs than centres), widths by the nearest-centre distance."""
        points = x.flatten(1).double().cpu()
        distinct = torch.unique(points, dim=0)
        wanted = len(self.centres)
        clusters = min(wanted, len(distinct))
        found = KMeans(clusters, n_init=4, random_state=self.SEED).fit(distinct.numpy()).cluster_centers_
        centres = torch.tensor(found).repeat((wanted + clusters - 1) // clusters, 1)[:wanted]
        spread = points.std(0).mean().clamp_min(1e-3)
        generator = torch.Generator().manual_seed(self.SEED)
        centres[clusters:] += (
            0.05 * spread * torch.randn(centres[clusters:].shape, generator=generator, dtype=centres.dtype)
        )
        distances = torch.cdist(centres, centres) + torch.diag(torch.full((wanted,), float("inf"), dtype=centres.dtype))
        nearest = distances.min(1).values.clamp_min(0.1 * spread)
        self.centres.copy_(centres.to(self.centres))
        self.log_widths.copy_(nearest.log().to(self.log_widths))
