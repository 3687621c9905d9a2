"""Restricted Boltzmann machine (Smolensky, 1986; Hinton, 2002): binary visible and hidden units, with
weights between the two layers only. The `contrastive_divergence` task trains it."""

import torch
import torch.nn.functional as F
from torch import nn


class RBM(nn.Module):
    """Energy E(v, h) = -v.b - h.c - h W v over `in_features` visible and `hidden` hidden binary units.
    Given one layer the other's units are independent, so block Gibbs sampling alternates the two."""

    def __init__(self, in_features: int, hidden: int = 64):
        super().__init__()
        self.weight = nn.Parameter(0.01 * torch.randn(hidden, in_features))
        self.visible_bias = nn.Parameter(torch.zeros(in_features))
        self.hidden_bias = nn.Parameter(torch.zeros(hidden))

    def hidden_probabilities(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(F.linear(v, self.weight, self.hidden_bias))

    def visible_probabilities(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(F.linear(h, self.weight.T, self.visible_bias))

    def gibbs(
        self, v: torch.Tensor, steps: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`steps` rounds of v -> h -> v; the last visible sample and its probabilities."""
        probabilities = v
        for _ in range(steps):
            h = torch.bernoulli(self.hidden_probabilities(v), generator=generator)
            probabilities = self.visible_probabilities(h)
            v = torch.bernoulli(probabilities, generator=generator)
        return v, probabilities

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -log sum_h exp(-E(v, h)), per example: p(v) is proportional to exp(-F(v))."""
        return -v @ self.visible_bias - F.softplus(F.linear(v, self.weight, self.hidden_bias)).sum(1)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """The mean-field reconstruction of `v`: visible probabilities given hidden probabilities."""
        return self.visible_probabilities(self.hidden_probabilities(v))

    def pseudo_log_likelihood(self, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Per example, the stochastic estimate N log p(v_i | v_-i) with one random unit i flipped
        (Besag, 1975), in nats: N log sigmoid(F(v with i flipped) - F(v))."""
        units = v.shape[1]
        flip = torch.randint(units, (len(v),), generator=generator, device=v.device)
        flipped = v.clone()
        rows = torch.arange(len(v), device=v.device)
        flipped[rows, flip] = 1 - flipped[rows, flip]
        return units * F.logsigmoid(self.free_energy(flipped) - self.free_energy(v))

    def sample(self, n: int, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Visible probabilities after `steps` Gibbs rounds from uniform random visible units."""
        device = self.weight.device
        start = torch.bernoulli(torch.full((n, self.weight.shape[1]), 0.5, device=device), generator=generator)
        return self.gibbs(start, steps, generator)[1]
