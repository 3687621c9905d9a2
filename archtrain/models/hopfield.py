"""Associative memories: the Hopfield network (Hopfield, 1982) and the modern continuous Hopfield
network (Ramsauer et al., 2020), whose one-step update is attention. The `hopfield` task stores
patterns in either and recalls them from corrupted probes; states are +-1 vectors."""

import torch
import torch.nn.functional as F
from torch import nn


class AssociativeMemory(nn.Module):
    """Stores +-1 patterns (`store`) and completes probes towards them (`recall`); no gradients."""

    def store(self, patterns: torch.Tensor, index: torch.Tensor) -> None:
        """Add `patterns` (batch, neurons); `index` numbers each among all patterns to store."""
        raise NotImplementedError

    def recall(self, probes: torch.Tensor, sweeps: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The +-1 states that `probes` settle into after `sweeps` rounds of updates."""
        raise NotImplementedError

    def energy(self, states: torch.Tensor) -> torch.Tensor:
        """The energy of each state, which recall lowers; stored patterns sit in its minima."""
        raise NotImplementedError

    def forward(self, probes: torch.Tensor) -> torch.Tensor:
        return self.recall(probes, sweeps=1)


class HopfieldNetwork(AssociativeMemory):
    """Binary units fully connected by symmetric weights W = (1/N) sum_p xi_p xi_p^T with a zero diagonal
    (Hebb's rule, one pass); recall updates one unit at a time, s_i = sign(W_i s), in a random order
    each sweep (asynchronous dynamics, which never raise the energy -s W s / 2). About 0.14 N random
    patterns can be stored before recall collapses (Amit, Gutfreund & Sompolinsky, 1985)."""

    def __init__(self, in_features: int):
        super().__init__()
        self.register_buffer("weight", torch.zeros(in_features, in_features))

    def store(self, patterns, index):
        self.weight += patterns.T @ patterns / self.weight.shape[0]
        self.weight.fill_diagonal_(0)

    def energy(self, states: torch.Tensor) -> torch.Tensor:
        return -0.5 * ((states @ self.weight) * states).sum(1)

    def recall(self, probes, sweeps, generator=None):
        states = probes.clone()
        for _ in range(sweeps):
            for unit in torch.randperm(len(self.weight), generator=generator).tolist():
                field = states @ self.weight[unit]
                states[:, unit] = torch.where(field >= 0, 1.0, -1.0)
        return states


class ModernHopfield(AssociativeMemory):
    """Continuous states updated by xi <- X^T softmax(beta X xi), with the stored patterns X as rows
    (Ramsauer et al., 2020): scaled dot-product attention whose query is the state and whose keys and
    values are the stored patterns, at scale `inverse_temperature`. It stores exponentially many
    patterns in the dimension; `num_classes` is the number of patterns (one memory slot each)."""

    def __init__(self, in_features: int, num_classes: int, inverse_temperature: float = 1.0):
        super().__init__()
        self.inverse_temperature = inverse_temperature
        self.register_buffer("memories", torch.zeros(num_classes, in_features))

    def store(self, patterns, index):
        self.memories[index] = patterns

    def energy(self, states):
        """-logsumexp(beta X xi) / beta + xi.xi / 2 (Ramsauer et al.'s energy, without its constants)."""
        beta = self.inverse_temperature
        return -torch.logsumexp(beta * states @ self.memories.T, dim=1) / beta + 0.5 * states.square().sum(1)

    def update(self, states: torch.Tensor) -> torch.Tensor:
        """One update of the continuous states: softmax attention over the stored patterns."""
        keys = self.memories.unsqueeze(0)
        return F.scaled_dot_product_attention(states.unsqueeze(1), keys, keys, scale=self.inverse_temperature).squeeze(
            1
        )

    def recall(self, probes, sweeps, generator=None):
        states = probes
        for _ in range(sweeps):
            states = self.update(states)
        return torch.where(states >= 0, 1.0, -1.0)
