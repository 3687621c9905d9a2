"""Feedforward networks: the perceptron and the multilayer perceptron."""

import torch
from torch import nn

from archtrain.models.blocks import activation as make_activation
from archtrain.models.protocol import Network


class Perceptron(Network):
    """Perceptron (Rosenblatt, 1958): a single linear layer; inputs of any shape are flattened."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.head = nn.Linear(in_features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class MLP(Network):
    """Multilayer perceptron (Rumelhart, Hinton & Williams, 1986): `depth` hidden layers of `width`."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        depth: int = 2,
        width: int = 256,
        activation: str = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        layers, size = [], in_features
        for _ in range(depth):
            layers += [nn.Linear(size, width), make_activation(activation), nn.Dropout(dropout)]
            size = width
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(size, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.flatten(1))
