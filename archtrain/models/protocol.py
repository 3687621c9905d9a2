"""The protocol every zoo model follows: a net computes features, and a head maps them to outputs.

A task asks for a `Head`; `build_net` sizes the model's head to it. Like timm's forward_features and
reset_classifier, this lets a task read the features, or swap the head, of any model the same way.
"""

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Head:
    """What a task needs on top of a net: `outputs` values per example, or at every position with per_step."""

    outputs: int
    per_step: bool = False


class Network(nn.Module):
    """A zoo model: `head(features(*inputs))`.

    `features` returns (batch, num_features) for a per-example model, (batch, time, num_features) for a
    per-step one. `per_step` is a class attribute where the readout is fixed; models that offer both
    take it as a constructor argument instead.
    """

    per_step: bool = False
    head: nn.Module

    def features(self, *inputs: torch.Tensor) -> torch.Tensor:
        """What the head reads; takes the same inputs as forward."""
        raise NotImplementedError

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(*inputs))

    @property
    def num_features(self) -> int:
        """The width of the features."""
        return self.head.in_features

    def reset_head(self, outputs: int) -> None:
        """Replace the head by a fresh one with `outputs` outputs."""
        self.head = nn.Linear(self.num_features, outputs)
